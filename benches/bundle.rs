//! `lab bundle verify` throughput: a bundle of 1 GiB of image-like blobs (random bytes, which
//! neither side can compress), verified by the real binary, next to `sha256sum` over the same
//! file in the same run (the machine's bound for hashing those bytes from the page cache).
//! Each side runs three times, in turn; the best round of each is reported. Run with
//! `cargo bench --bench bundle` (`BENCH_BUNDLE_MIB` sets the size). Under `cargo test
//! --bench '*'` (CI) it runs short: 8 MiB, the verdicts still checked.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Mode;

/// Writes `mib` MiB of random blobs (64 MiB each at most) as an OCI layout's blobs under
/// `folder/oci/blobs/sha256/`, named by their digests.
fn blobs(folder: &Path, mib: usize) {
    let dir = folder.join("oci/blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        folder.join("oci/oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let mut left = mib << 20;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    while left > 0 {
        let size = left.min(64 << 20);
        let mut data = vec![0u8; size];
        for chunk in data.chunks_mut(8) {
            // xorshift: fast, and incompressible enough for a hash's throughput.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            chunk.copy_from_slice(&seed.to_le_bytes()[..chunk.len()]);
        }
        let hex = courselab::supply::Digest::sha256_of(&data).hex().to_owned();
        std::fs::write(dir.join(hex), &data).unwrap();
        left -= size;
    }
}

fn timed(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let out = cmd.output().expect("the command runs");
    let took = start.elapsed();
    assert!(out.status.success(), "{cmd:?}: {out:?}");
    took
}

fn main() {
    let mode = Mode::from_env();
    let mib: usize = std::env::var("BENCH_BUNDLE_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(mode.pick(1024, 8));
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("venue");
    blobs(&folder, mib);
    let bundle = tmp.path().join("venue.tar");
    let manifest = courselab::bundle::pack::pack(
        &folder,
        "bench",
        std::io::BufWriter::new(std::fs::File::create(&bundle).unwrap()),
        &bundle,
    )
    .unwrap();
    let size = std::fs::metadata(&bundle).unwrap().len();
    assert!(manifest.total_size() >= (mib as u64) << 20);
    let (mut lab_best, mut sum_best) = (Duration::MAX, Duration::MAX);
    for _ in 0..mode.pick(3, 1) {
        lab_best = lab_best.min(timed(
            Command::new(env!("CARGO_BIN_EXE_lab"))
                .args(["--color=never", "bundle", "verify"])
                .arg(&bundle),
        ));
        sum_best = sum_best.min(timed(Command::new("sha256sum").arg(&bundle)));
    }
    let rate = |d: Duration| size as f64 / d.as_secs_f64() / 1e6;
    println!(
        "bundle of {} ({} files)",
        courselab::supply::store::human_size(size),
        manifest.files.len()
    );
    println!(
        "sha256sum over the same bytes:   {:>8.0} MB/s",
        rate(sum_best)
    );
    println!(
        "lab bundle verify:               {:>8.0} MB/s  ({:.0}% of sha256sum)",
        rate(lab_best),
        100.0 * sum_best.as_secs_f64() / lab_best.as_secs_f64()
    );
    // A tampered copy is refused: the bench measures a verifier that verifies.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let last = bytes.len() - 1024 - 512 - 1;
    bytes[last] ^= 1;
    std::fs::write(&bundle, &bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["--color=never", "bundle", "verify"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{out:?}");
}
