//! Benchmarks of the supply-chain layer, against a real local registry:
//! - signature verifications per second from an OCI layout (read, parse, ECDSA P-256 verify),
//!   next to `openssl speed ecdsap256` on the same machine;
//! - digest resolution of a tag against the registry, next to `skopeo inspect`, as a ratio.
//!
//! Run with `cargo bench --bench verify` (needs docker-registry, skopeo and openssl, which
//! `.ci/test` installs). Under `cargo test --bench '*'` (CI) it runs short: a few of each.

mod common;

#[path = "../tests/cli/registry.rs"]
#[allow(dead_code)]
mod registry;

use std::time::Instant;

use common::{Mode, each, per_second};
use courselab::supply::ImageRef;
use courselab::supply::cosign::fetch_artifacts;
use courselab::supply::layout::LayoutStore;
use courselab::supply::registry::{RegistryStore, Retry};
use courselab::supply::signature::{Verifier, verify_signatures};
use courselab::supply::store::Store;

/// `openssl speed`'s ECDSA P-256 verifications per second on one core, over `seconds`.
fn openssl_verifies_per_second(seconds: u32) -> f64 {
    let out = registry::debian_tool("openssl")
        .args(["speed", "-seconds", &seconds.to_string(), "ecdsap256"])
        .output()
        .expect("openssl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    // The result line: " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  40000.0   8250.0"
    text.lines()
        .find(|l| l.contains("ecdsa (nistp256)"))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or_else(|| {
            panic!("no ecdsa (nistp256) figure in `openssl speed`'s output: {out:?}")
        })
}

fn main() {
    let mode = Mode::from_env();
    let registry = registry::TestRegistry::start();
    let rt = registry::runtime();
    let digest = rt.block_on(registry::push_image(
        &registry.addr,
        "bench/demo",
        "1.0",
        "bench",
    ));
    let (signer, public) = registry::key_pair();
    let signed = registry::payload("bench/demo", &digest);
    rt.block_on(registry::push_signature_layers(
        &registry.addr,
        "bench/demo",
        &digest,
        vec![(signed.clone(), registry::sign(&signer, &signed))],
    ));
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let hex = digest.trim_start_matches("sha256:");
    for tag in ["1.0".to_owned(), format!("sha256-{hex}.sig")] {
        let ok = registry::debian_tool("skopeo")
            .args([
                "copy",
                "--quiet",
                "--preserve-digests",
                "--src-tls-verify=false",
            ])
            .arg(format!("docker://{}/bench/demo:{tag}", registry.addr))
            .arg(format!("oci:{}:{tag}", layout.display()))
            .status()
            .unwrap()
            .success();
        assert!(ok, "skopeo copy {tag}");
    }
    let image = ImageRef::parse(&format!("{}/bench/demo:1.0", registry.addr)).unwrap();
    let verifier = Verifier::from_public_key_pem(public.as_bytes()).unwrap();

    // Verification from the layout: open, resolve, read, verify; as `lab verify --layout` does.
    let runs = mode.pick(2000, 5);
    let start = Instant::now();
    for _ in 0..runs {
        let store = LayoutStore::open(&layout).unwrap();
        let artifacts = rt.block_on(fetch_artifacts(&store, &image)).unwrap();
        assert_eq!(verify_signatures(&artifacts, &verifier).unwrap().len(), 1);
    }
    let from_layout = per_second(runs, start.elapsed());
    // The crypto and claim checks alone, artifacts already in memory.
    let artifacts = rt
        .block_on(fetch_artifacts(
            &LayoutStore::open(&layout).unwrap(),
            &image,
        ))
        .unwrap();
    let start = Instant::now();
    for _ in 0..runs {
        let verified = verify_signatures(&artifacts, &verifier).unwrap();
        assert_eq!(std::hint::black_box(verified).len(), 1);
    }
    let in_memory = per_second(runs, start.elapsed());
    println!(
        "signature verification from an OCI layout (open + read + verify): {from_layout:>8.0} /s"
    );
    println!(
        "signature verification, artifacts in memory (verify + claims):    {in_memory:>8.0} /s"
    );
    let openssl = openssl_verifies_per_second(mode.pick(2, 1));
    println!(
        "openssl speed ecdsap256 verify, one core:                        {openssl:>8.0} /s  (layout path at {:.0}%, in-memory at {:.0}%)",
        100.0 * from_layout / openssl,
        100.0 * in_memory / openssl
    );

    // Digest resolution against the registry, next to skopeo.
    let store = RegistryStore::new(&image, false, Retry::default());
    let runs = mode.pick(200, 3);
    let start = Instant::now();
    for _ in 0..runs {
        assert_eq!(rt.block_on(store.resolve(&image)).unwrap().as_str(), digest);
    }
    let ours = each(runs, start.elapsed());
    let skopeo_runs = mode.pick(20, 2);
    let start = Instant::now();
    for _ in 0..skopeo_runs {
        let out = registry::debian_tool("skopeo")
            .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
            .arg(format!("docker://{}/bench/demo:1.0", registry.addr))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            digest,
            "{out:?}"
        );
    }
    let skopeo = each(skopeo_runs, start.elapsed());
    println!(
        "digest resolution, lab (in process, warm client): {:>8.2} ms",
        ours.as_secs_f64() * 1e3
    );
    println!(
        "digest resolution, skopeo inspect (whole process): {:>8.2} ms",
        skopeo.as_secs_f64() * 1e3
    );
    println!(
        "ratio skopeo / lab: {:.1}x",
        skopeo.as_secs_f64() / ours.as_secs_f64()
    );
}
