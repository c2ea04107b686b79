//! `lab bundle verify` throughput: a bundle of 1 GiB of image-like blobs (random bytes, which
//! neither side can compress), verified by the real binary, next to `sha256sum` over the same
//! file in the same run (the machine's bound for hashing those bytes from the page cache).
//! Each side runs three times, in turn; the best round of each is reported. Run with
//! `cargo bench --bench bundle` (`BENCH_BUNDLE_MIB` sets the size). Under `cargo test
//! --bench '*'` (CI) it runs short: 8 MiB, the verdicts still checked.
//!
//! Then `lab bundle serve`: the real binary serves a bundle holding one 8 MiB image (two
//! layers) on loopback, and N clients pull it at once (its manifest, then every blob, each
//! hashed against its digest), for N up to 1024 (`BENCH_SERVE_MAX` sets the most); reported
//! for each N: pulls that failed, the wall time and the bytes served per second.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
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

    serve_bench(mode, tmp.path());
    docker_archive_bench(mode, tmp.path());
}

/// `lab start --bundle`'s own cost on a laptop: the archive `docker load` reads, written from
/// an image in the bundle (one image of two layers), next to `cp` of the bundle file (the same
/// bytes and more, file to file) in the same run; best of three each.
fn docker_archive_bench(mode: Mode, dir: &Path) {
    let layer_mib = mode.pick(256, 1);
    let bundle = image_bundle(dir, layer_mib);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let opened = Instant::now();
    let source = courselab::bundle::source::Source::bundle(&bundle).unwrap();
    let opened = opened.elapsed();
    let out = dir.join("for-docker.tar");
    let (mut write_best, mut cp_best) = (Duration::MAX, Duration::MAX);
    let mut bytes = 0;
    for _ in 0..mode.pick(3, 1) {
        let start = Instant::now();
        let prepared = runtime
            .block_on(courselab::bundle::load::for_docker(
                &source,
                "docker.io/bench/venue",
                "1",
                "linux/amd64",
            ))
            .unwrap();
        let file = std::io::BufWriter::new(std::fs::File::create(&out).unwrap());
        runtime
            .block_on(prepared.write(&source, "courselab.invalid/bench/venue:1", file))
            .unwrap();
        write_best = write_best.min(start.elapsed());
        bytes = prepared.bytes;
        cp_best = cp_best.min(timed(
            Command::new("cp").arg(&bundle).arg(dir.join("copy.tar")),
        ));
    }
    // What was written is an archive with Docker's manifest and every layer.
    let mut names = Vec::new();
    let mut archive = tar::Archive::new(std::fs::File::open(&out).unwrap());
    for entry in archive.entries().unwrap() {
        names.push(
            entry
                .unwrap()
                .path()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        );
    }
    assert!(
        names.contains(&"manifest.json".to_owned()) && names.len() == 7,
        "{names:?}"
    );
    let size = std::fs::metadata(&bundle).unwrap().len();
    let rate = |b: u64, d: Duration| b as f64 / d.as_secs_f64() / 1e6;
    println!(
        "lab start --bundle, an image of {} for docker load (the bundle verified first in {:.2} s):",
        courselab::supply::store::human_size(bytes),
        opened.as_secs_f64()
    );
    println!(
        "  cp of the bundle file:          {:>8.0} MB/s",
        rate(size, cp_best)
    );
    println!(
        "  the archive written:            {:>8.0} MB/s  ({:.0}% of cp)",
        rate(bytes, write_best),
        100.0 * rate(bytes, write_best) / rate(size, cp_best)
    );
}

/// A bundle of one image, `docker.io/bench/venue:1`: a config and two layers of `layer_mib`
/// MiB each. Returns the bundle's path.
fn image_bundle(dir: &Path, layer_mib: usize) -> std::path::PathBuf {
    let folder = dir.join("image");
    let blobs = folder.join("oci/blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let digest = courselab::supply::Digest::sha256_of(bytes);
        std::fs::write(blobs.join(digest.hex()), bytes).unwrap();
        serde_json::json!({"digest": digest.as_str(), "size": bytes.len()})
    };
    let mut layers = Vec::new();
    for n in 0..2u8 {
        let layer: Vec<u8> = (0..layer_mib << 20)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(n))
            .collect();
        let mut descriptor = put(&layer);
        descriptor["mediaType"] = "application/vnd.oci.image.layer.v1.tar".into();
        layers.push(descriptor);
    }
    let mut config =
        put(br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#);
    config["mediaType"] = "application/vnd.oci.image.config.v1+json".into();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": layers,
    }))
    .unwrap();
    let mut top = put(&manifest);
    top["mediaType"] = "application/vnd.oci.image.manifest.v1+json".into();
    top["annotations"] =
        serde_json::json!({"org.opencontainers.image.ref.name": "docker.io/bench/venue:1"});
    std::fs::write(
        folder.join("oci/index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [top]})).unwrap(),
    )
    .unwrap();
    std::fs::write(
        folder.join("oci/oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let bundle = dir.join("image.tar");
    courselab::bundle::pack::pack(
        &folder,
        "bench",
        std::fs::File::create(&bundle).unwrap(),
        &bundle,
    )
    .unwrap();
    bundle
}

/// One pull: the manifest by tag, then each blob, every body hashed against its digest.
/// Returns the bytes received.
async fn pull(client: &reqwest::Client, addr: &str) -> Result<u64, String> {
    use sha2::Digest as _;
    let base = format!("http://{addr}/v2/docker.io/bench/venue");
    let manifest = client
        .get(format!("{base}/manifests/1"))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !manifest.status().is_success() {
        return Err(format!("manifest: {}", manifest.status()));
    }
    let manifest: serde_json::Value = manifest.json().await.map_err(|e| e.to_string())?;
    let mut received = 0u64;
    let blobs = std::iter::once(&manifest["config"]).chain(manifest["layers"].as_array().unwrap());
    for blob in blobs {
        let digest = blob["digest"].as_str().unwrap();
        let mut response = client
            .get(format!("{base}/blobs/{digest}"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("blob: {}", response.status()));
        }
        let mut hasher = sha2::Sha256::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            received += chunk.len() as u64;
            hasher.update(&chunk);
        }
        if format!("sha256:{}", hex::encode(hasher.finalize())) != digest {
            return Err(format!("blob {digest}: other bytes"));
        }
    }
    Ok(received)
}

fn serve_bench(mode: Mode, dir: &Path) {
    use std::io::BufRead;
    let bundle = image_bundle(dir, mode.pick(4, 1));
    let mut server = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["--color=never", "bundle", "serve"])
        .arg(&bundle)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(server.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim_end()
        .rsplit_once("http://")
        .unwrap()
        .1
        .to_owned();
    let most: usize = std::env::var("BENCH_SERVE_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(mode.pick(1024, 16));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "lab bundle serve on loopback, one image of {} (default --max-connections 1024):",
        courselab::supply::store::human_size(std::fs::metadata(&bundle).unwrap().len())
    );
    let mut clients = 1;
    let mut held = 0;
    while clients <= most {
        let (failed, took, bytes) = runtime.block_on(async {
            let start = Instant::now();
            let tasks: Vec<_> = (0..clients)
                .map(|_| {
                    let addr = addr.clone();
                    tokio::spawn(async move {
                        // A client of its own for each puller: its own connection, as laptops have.
                        let client = reqwest::Client::builder()
                            .timeout(Duration::from_secs(300))
                            .build()
                            .unwrap();
                        pull(&client, &addr).await
                    })
                })
                .collect();
            let (mut failed, mut bytes) = (Vec::new(), 0u64);
            for task in tasks {
                match task.await.unwrap() {
                    Ok(n) => bytes += n,
                    Err(e) => failed.push(e),
                }
            }
            (failed, start.elapsed(), bytes)
        });
        println!(
            "  {clients:>5} pulls at once: {:>4} failed, {:>7.2} s, {:>6.0} MB/s served",
            failed.len(),
            took.as_secs_f64(),
            bytes as f64 / took.as_secs_f64() / 1e6
        );
        if let Some(first) = failed.first() {
            println!("    first failure: {first}");
            break;
        }
        held = clients;
        clients *= 4;
    }
    println!("simultaneous pulls held without an error: {held}");
    // SAFETY: kill(2) on our own child's pid, with a valid signal number.
    unsafe { libc::kill(server.id() as i32, libc::SIGINT) };
    let status = server.wait().unwrap();
    assert!(
        status.success(),
        "the server stops cleanly on Ctrl-C: {status:?}"
    );
    assert!(
        held >= mode.pick(1024, 16),
        "the server held only {held} simultaneous pulls"
    );
}
