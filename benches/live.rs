//! Timings of the live lab on the loopback cluster (the real kube-apiserver and Kyverno v1.19,
//! `.ci/peers/cluster`): a first `lab start --context`, a resumed one, and `lab check --all`
//! with its default `--wait` (30 s) on the settled lab once every step is done and recorded:
//! passing, and failing (an evidence file gone). Nothing settles there, so neither waits; the
//! target is under 2 s each.
//!
//! Run with `cargo bench --bench live` after `.ci/peers/build` (PEERS_BIN or
//! COURSELAB_PEERS_DIR names the peers; target/peers/bin otherwise). A missing peer fails the
//! bench and says how to build it. Under `cargo test --bench '*'` (CI) it runs short: one resumed
//! start and one check instead of seven; the lab is still solved and checked in full.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Mode, median};

/// The peers the cluster and the lab run: the cluster's control plane and Kyverno, and the
/// cosign that makes the learner's key pair.
const PEERS: [&str; 7] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kubectl",
    "kyverno",
    "reports-controller",
    "cosign",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn peers_bin() -> PathBuf {
    std::env::var_os("PEERS_BIN")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("COURSELAB_PEERS_DIR").map(|d| PathBuf::from(d).join("bin")))
        .unwrap_or_else(|| repo().join("target/peers/bin"))
}

/// A peer's binary; a missing one fails the bench with how to build it.
fn peer(name: &str) -> PathBuf {
    let path = peers_bin().join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `.ci/peers/build` (it prints PEERS_BIN=...; export that) or `.ci/test`, which build the peers from the Go module proxy",
        path.display()
    );
    path
}

struct Lab {
    dir: tempfile::TempDir,
    kubeconfig: String,
    registry: String,
}

impl Lab {
    fn run(&self, args: &[&str]) -> Duration {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_lab"))
            .arg("--course")
            .arg(repo())
            .args(args)
            .current_dir(self.dir.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    peers_bin().display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("COSIGN_PASSWORD", "")
            .output()
            .expect("lab runs");
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "lab {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        took
    }

    fn start(&self) -> Duration {
        let layout = repo().join("labs/ch14/tests/images/demo");
        let image = format!("image_registry={}/bench", self.registry);
        let push = format!("push_registry={}/bench", self.registry);
        self.run(&[
            "start",
            "ch14",
            "--context",
            "courselab-peers",
            "--kyverno",
            "existing",
            "--set",
            &image,
            "--set",
            &push,
            "--base-image-layout",
            layout.to_str().unwrap(),
        ])
    }
}

fn cluster(dir: &Path, action: &str) -> String {
    let mut cmd = Command::new(repo().join(".ci/peers/cluster"));
    cmd.arg(action)
        .env("COURSELAB_CLUSTER_DIR", dir)
        .env("PEERS_BIN", peers_bin());
    if action == "up" {
        cmd.args(["--owner", &std::process::id().to_string()]);
    }
    let out = cmd.output().expect("the cluster script runs");
    assert!(
        out.status.success(),
        "cluster {action}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn main() {
    let mode = Mode::from_env();
    let runs = mode.pick(7, 1);
    for name in PEERS {
        peer(name);
    }
    // The cluster script makes its own folder (and refuses one it did not make). Beside the
    // tests' clusters, so CI's check that no peer outlives its owner covers this one too.
    let state = repo()
        .join("target/peers-cluster-tests")
        .join(format!("bench-{}", std::process::id()));
    let up = cluster(&state, "up");
    let setting = |name: &str| {
        up.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    let lab = Lab {
        dir: tempfile::tempdir().unwrap(),
        kubeconfig: setting("KUBECONFIG"),
        registry: setting("REGISTRY"),
    };
    let keygen = Command::new(peer("cosign"))
        .arg("generate-key-pair")
        .env("COSIGN_PASSWORD", "")
        .current_dir(lab.dir.path())
        .output()
        .unwrap();
    assert!(
        keygen.status.success(),
        "cosign generate-key-pair: {keygen:?}"
    );

    let first = lab.start();
    let resumed = median((0..runs).map(|_| lab.start()).collect());
    // Each step solved and recorded as passed, as the learner's `lab next` records it: so
    // policies-in-audit keeps its result from its step once the pack enforces.
    for step in [
        "incident-hook",
        "pin-digest",
        "sbom-sign-attest",
        "verify-locally",
        "audit-rollout",
        "enforce",
        "remediate",
    ] {
        lab.run(&["solve", "--step", step, "--run"]);
        lab.run(&["next"]);
    }
    let answers = lab.dir.path().join("answers.yaml");
    std::fs::write(&answers, quiz_answers()).unwrap();
    lab.run(&["quiz", "--answers", answers.to_str().unwrap()]);
    lab.run(&["next"]);
    let settled = |expect_passed: usize, expect_code: i32| {
        median(
            (0..runs)
                .map(|_| {
                    let started = Instant::now();
                    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
                        .arg("--course")
                        .arg(repo())
                        .args(["check", "--all", "--json"])
                        .current_dir(lab.dir.path())
                        .env("KUBECONFIG", &lab.kubeconfig)
                        .output()
                        .unwrap();
                    let took = started.elapsed();
                    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
                        .unwrap_or_else(|e| {
                            panic!("lab check --json printed no JSON ({e}): {out:?}")
                        });
                    assert_eq!(doc["passed"], expect_passed, "{doc:#}");
                    assert_eq!(out.status.code(), Some(expect_code), "{doc:#}");
                    // Nothing settles on a settled lab: nothing is waited for. (Like the other
                    // benches, this one asserts results, not times; the target is 2 s.)
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    assert!(!stderr.contains("waiting"), "{stderr}");
                    took
                })
                .collect(),
        )
    };
    let passing = settled(15, 0);
    let note = lab.dir.path().join("evidence/remediation.md");
    let kept = lab.dir.path().join("remediation.md.kept");
    std::fs::rename(&note, &kept).unwrap();
    let failing = settled(14, 1);
    std::fs::rename(&kept, &note).unwrap();
    lab.run(&["stop", "--delete"]);
    cluster(&state, "down");
    println!(
        "lab start --context, first (seeds 3 images, applies the pack, waits for Ready and the probe): {:.2} s",
        first.as_secs_f64()
    );
    println!(
        "lab start --context, resumed (median of {runs}): {:.2} s",
        resumed.as_secs_f64()
    );
    println!(
        "lab check --all on the settled lab, 15 checks passing, default --wait (median of {runs}): {:.2} s",
        passing.as_secs_f64()
    );
    println!(
        "lab check --all on the settled lab, an evidence file gone, default --wait (median of {runs}): {:.2} s",
        failing.as_secs_f64()
    );
}

/// An answer to every question of the chapter quiz (the first option): graded, so only
/// recorded, which is what the quiz check sees.
fn quiz_answers() -> String {
    let quiz = std::fs::read_to_string(repo().join("quizzes/ch14.yaml")).unwrap();
    let answers: String = quiz
        .lines()
        .filter_map(|l| l.strip_prefix("  - id: "))
        .map(|id| format!("{}: a\n", id.trim()))
        .collect();
    assert!(!answers.is_empty(), "no question in quizzes/ch14.yaml");
    answers
}
