//! The live-lab commands where no cluster is needed to see them right: a solution shown with
//! the lab's values, a step that does not exist, an unreachable cluster, a lab never started,
//! and a missing key before anything is created.

use super::{lab, output, repo};

#[test]
fn a_solution_is_shown_with_the_labs_values() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = output(lab(dir.path()).args(["--course"]).arg(repo()).args([
        "solve",
        "ch14",
        "--step",
        "pin-digest",
        "--set",
        "push_registry=localhost:5001/team-a",
    ]));
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!(stdout, @r"
    # lab ch14, step pin-digest: a solution
    kubectl set image -n develop deployment/demo app=kind-registry:5000/courselab/demo@${promoted_digest}
    kubectl rollout status -n develop deployment/demo --timeout=120s
    ");
    let (code, stdout, stderr) = output(lab(dir.path()).args(["--course"]).arg(repo()).args([
        "solve",
        "ch14",
        "--step",
        "sbom-sign-attest",
        "--set",
        "push_registry=localhost:5001/team-a",
        "--set",
        &format!("promoted_digest=sha256:{}", "ab".repeat(32)),
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!(
            "cosign sign --yes --key cosign.key $SIGN localhost:5001/team-a/demo@sha256:{}\n",
            "ab".repeat(32)
        )),
        "{stdout}"
    );
}

// A lab started before `lab start` recorded digests has no `promoted_digest`: showing the
// solution keeps the placeholder, and running it says how to get the value, not `--set`.
#[test]
fn a_solution_whose_digest_lab_start_has_not_recorded_says_to_start_the_lab() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".lab/ch14/state.json");
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::fs::write(
        &state,
        r#"{"schema_version": 1, "chapter": "ch14", "context": "nowhere", "digests": {"demo:1.4.2-ci": "not a digest"}}"#,
    )
    .unwrap();
    let (code, stdout, stderr) = output(lab(dir.path()).args(["--course"]).arg(repo()).args([
        "solve",
        "--step",
        "pin-digest",
        "--run",
    ]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.contains("demo@${promoted_digest}"), "{stdout}");
    assert_eq!(
        stderr,
        "error: `${promoted_digest}` has no value yet: it is the digest `lab start ch14` finds in the lab registry; run `lab start ch14` here first\n"
    );
}

#[test]
fn an_unknown_step_is_named_with_the_nearest_one() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = output(lab(dir.path()).args(["--course"]).arg(repo()).args([
        "solve",
        "ch14",
        "--step",
        "pin-digests",
    ]));
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: lab ch14 has no step `pin-digests`; did you mean `pin-digest`? the steps are: incident-hook, pin-digest, sbom-sign-attest, verify-locally, audit-rollout, enforce, remediate, quiz\n"
    );
}

#[test]
fn check_on_a_lab_never_started_says_how_to_start_it() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = output(
        lab(dir.path())
            .args(["--course"])
            .arg(repo())
            .args(["check", "ch14"]),
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("lab ch14 is not started in"), "{stderr}");
    assert!(
        stderr.contains("run `lab start ch14` here first"),
        "{stderr}"
    );
}

#[test]
fn check_against_a_cluster_that_does_not_answer_exits_3_once() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::copy(
        repo().join("labs/ch14/tests/keys/test-only-signer.pub"),
        dir.path().join("cosign.pub"),
    )
    .unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster: {{server: \"https://127.0.0.1:{port}\", insecure-skip-tls-verify: true}}\nusers:\n- name: u\n  user: {{token: not-a-secret}}\ncontexts:\n- name: gone\n  context: {{cluster: gone, user: u}}\ncurrent-context: gone\n"
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = output(
        lab(dir.path())
            .args(["--course"])
            .arg(repo())
            .env("KUBECONFIG", &kubeconfig)
            .args(["check", "ch14", "--context", "gone"]),
    );
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with("error: cannot reach the cluster (the API server of context gone):"),
        "{stderr}"
    );
    assert!(stderr.contains("check that it is running"), "{stderr}");
    assert!(
        !stderr.contains("not-a-secret"),
        "the token was printed: {stderr}"
    );
    // Three quick refusals and their pauses, not one round per check.
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn start_without_a_key_creates_nothing_and_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = output(lab(dir.path()).args(["--course"]).arg(repo()).args([
        "start",
        "ch14",
        "--context",
        "anything",
        "--kyverno",
        "existing",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no cosign public key in"), "{stderr}");
    assert!(stderr.contains("`cosign generate-key-pair`"), "{stderr}");
    assert!(stderr.contains("nothing was created"), "{stderr}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A folder on the PATH holding only bash (when `with_bash`), for a machine without the
/// tools a command runs.
fn bare_path(root: &std::path::Path, with_bash: bool) -> std::path::PathBuf {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    if with_bash {
        let bash = ["/bin/bash", "/usr/bin/bash"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("bash is installed");
        std::os::unix::fs::symlink(bash, bin.join("bash")).unwrap();
    }
    bin
}

// A working folder removed under the shell exited 2, "bad usage": the command line was fine,
// the machine was not; it is 3, as a missing docker is.
#[test]
fn a_working_folder_that_is_gone_exits_3_not_2() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone");
    for args in [&["status", "ch14"][..], &["start", "ch14", "--yes"]] {
        std::fs::create_dir(&gone).unwrap();
        let (code, _, stderr) = output(
            assert_cmd::Command::new("sh")
                .current_dir(dir.path())
                .env_remove("LAB_COURSE")
                .env("NO_COLOR", "1")
                .arg("-c")
                .arg(r#"cd "$1" && rmdir "$1" && shift && exec "$@""#)
                .arg("sh")
                .arg(&gone)
                .arg(env!("CARGO_BIN_EXE_lab"))
                .args(["--color=never", "--course"])
                .arg(repo())
                .args(args),
        );
        assert_eq!(code, 3, "{args:?}: {stderr}");
        assert_eq!(
            stderr,
            "error: cannot read the working folder: No such file or directory (os error 2); `cd` into a folder that exists, then run the command again\n",
            "{args:?}"
        );
    }
}

// Without cosign the rehearsal cannot make its key pair; that exited 2, "bad content or
// usage", where a missing docker exits 3.
#[test]
fn rehearse_without_cosign_exits_3_not_2() {
    let dir = tempfile::tempdir().unwrap();
    let bin = bare_path(dir.path(), true);
    let (code, _, stderr) = output(
        lab(dir.path())
            .env("PATH", &bin)
            .args(["--course"])
            .arg(repo())
            .args(["rehearse", "ch14"]),
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.starts_with(
            "error: `cosign generate-key-pair` failed; the rehearsal signs with cosign, install it"
        ),
        "{stderr}"
    );
}

// Without bash the rehearsal cannot run anything; that exited 2 as well.
#[test]
fn rehearse_without_bash_exits_3_not_2() {
    let dir = tempfile::tempdir().unwrap();
    let bin = bare_path(dir.path(), false);
    let (code, _, stderr) = output(
        lab(dir.path())
            .env("PATH", &bin)
            .args(["--course"])
            .arg(repo())
            .args(["rehearse", "ch14"]),
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.starts_with("error: cannot run bash: "), "{stderr}");
    assert!(
        stderr.ends_with("; the rehearsal runs the solutions with bash, install it\n"),
        "{stderr}"
    );
}

// `lab doctor` exited 3 ("blocks `lab start`") for a missing learner's tool that does not
// block it, and its rerun hint dropped the --context and --kyverno flags the learner gave.
#[test]
fn doctor_fails_only_on_what_stops_start_and_reruns_with_the_flags_given() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("labs/ch14/tests/keys/test-only-signer.pub"),
        dir.path().join("cosign.pub"),
    )
    .unwrap();
    let empty = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = lab(dir.path());
        cmd.arg("--course")
            .arg(repo())
            .args(args)
            .env("PATH", empty.path());
        output(&mut cmd)
    };
    // No cosign, crane or syft on this PATH: only the steps that use them need them.
    let (code, out, err) = run(&[
        "doctor",
        "ch14",
        "--context",
        "mine",
        "--kyverno",
        "existing",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ready for `lab start ch14`"), "{out}");
    assert!(out.contains("do not stop `lab start`"), "{out}");
    // Without --kyverno existing, helm is needed to install Kyverno: that one stops start.
    let (code, out, _) = run(&["doctor", "ch14", "--context", "mine"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("fix them, then run `lab doctor ch14 --context mine` again"),
        "{out}"
    );
}
