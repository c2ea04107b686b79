//! Hostile input to the live-lab commands, as a user meets it: a kubeconfig that does not
//! parse, a token written as a block scalar, a failing credential plugin, a FIFO or a device
//! as `KUBECONFIG`, and a lab state that names another chapter. No cluster is needed: each is
//! refused before anything is sent, and the refusal names the file and line and quotes none of
//! it. Each test is named after what broke.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{lab, output, repo};

/// A JWT-shaped token and a key, whose every piece must stay out of what `lab` prints.
const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJsZWFybmVyIiwibm90IjoicmVhbCJ9.c2lnbmF0dXJlLW5vdC1yZWFs";
const KEY_DATA: &str =
    "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2Z0lCQURBTkJna3Foa2lHOXcwQkFRRUZBQVND";
const SECRETS: [&str; 4] = ["eyJhbGci", "c2lnbmF0dXJl", "LS0tLS1CRUdJTi", "s3cr3t"];

/// A learner's folder with the chapter's public key, and a port nothing listens on.
fn folder() -> (tempfile::TempDir, u16) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("labs/ch14/tests/keys/test-only-signer.pub"),
        dir.path().join("cosign.pub"),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    (dir, port)
}

/// A kubeconfig with one context `lab` on `port`, its user given by `user` (indented lines).
fn kubeconfig(port: u16, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster: {{server: \"https://127.0.0.1:{port}\", insecure-skip-tls-verify: true}}\nusers:\n- name: learner\n  user:\n{user}contexts:\n- name: lab\n  context: {{cluster: lab, user: learner}}\ncurrent-context: lab\n"
    )
}

/// A state as `lab start` leaves it on an existing cluster (nothing created yet).
fn state(chapter: &str) -> String {
    format!(
        r#"{{"schema_version": 1, "chapter": "{chapter}", "context": "lab", "set": [], "objects": [], "seeded": [], "mode": "Audit", "done": []}}"#
    )
}

fn write_state(dir: &Path, folder: &str, chapter: &str) -> PathBuf {
    let path = dir.join(".lab").join(folder).join("state.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, state(chapter)).unwrap();
    path
}

/// `lab ARGS` in `dir` with the real course and `KUBECONFIG`, at most 30 s.
fn run(dir: &Path, kubeconfig: &Path, args: &[&str]) -> (i32, String, String) {
    output(
        lab(dir)
            .args(["--course"])
            .arg(repo())
            .env("KUBECONFIG", kubeconfig)
            .args(args)
            .timeout(Duration::from_secs(30)),
    )
}

fn assert_quotes_nothing(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "`{secret}` was printed: {text}");
    }
}

#[test]
fn a_kubeconfig_that_does_not_parse_is_named_by_line_and_never_quoted() {
    // The parse error once echoed the lines around it: the token, the key's first bytes.
    let (dir, port) = folder();
    let config = dir.path().join("kubeconfig");
    let user = format!(
        "    token: {TOKEN}\n    client-key-data: {KEY_DATA}\n   client-certificate-data: [\n"
    );
    std::fs::write(&config, kubeconfig(port, &user)).unwrap();
    write_state(dir.path(), "ch14", "ch14");
    let commands: [&[&str]; 5] = [
        &["status", "ch14"],
        &["stop", "ch14"],
        &["next", "ch14"],
        &["walkthrough", "ch14", "--yes"],
        &["solve", "ch14", "--step", "incident-hook", "--run"],
    ];
    let place = format!("{}:", config.display());
    for args in commands {
        let (code, stdout, stderr) = run(dir.path(), &config, args);
        let all = format!("{stdout}{stderr}");
        assert_ne!(code, 0, "{args:?}: {all}");
        assert_ne!(code, 101, "{args:?} panicked: {all}");
        assert!(
            all.contains(&place),
            "{args:?} does not name the file: {all}"
        );
        assert_quotes_nothing(&all);
    }
    let (code, _, stderr) = run(dir.path(), &config, &["stop", "ch14"]);
    assert_eq!(code, 2, "{stderr}");
    let stderr = stderr.replace(&config.display().to_string(), "[KUBECONFIG]");
    insta::assert_snapshot!(stderr, @"error: [KUBECONFIG]:11:4: this is not valid YAML; fix the file there (kubectl cannot read it either), or set KUBECONFIG to another kubeconfig");
}

/// A credential plugin that prints `stdout` and `stderr` (both holding the credential), then
/// exits with `status`.
fn plugin(dir: &Path, stdout: &str, status: i32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("get-token");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nprintf '%s' '{stdout}'\necho 'token s3cr3t refused' >&2\nexit {status}\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_failing_credential_plugin_is_named_never_echoed() {
    // kube-rs's error printed the plugin's stdout and stderr, credential included, as Debug.
    let (dir, port) = folder();
    let credential = r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"s3cr3t"}}"#;
    let broken = credential.replace("s3cr3t", "s3cr3t\\n");
    let config = dir.path().join("kubeconfig");
    for (status, stdout, expected) in [
        (
            1,
            credential,
            "failed (exit status: 1); run it yourself to see why, then try again",
        ),
        (
            0,
            "s3cr3t, not JSON",
            "printed no credential `lab` can read; run it yourself to see what it prints",
        ),
        // A token with a line break in it once made tower-http panic (exit 101).
        (
            0,
            broken.as_str(),
            "gave a token that no HTTP header can carry (a line break in it?); run it yourself \
             to see what it prints",
        ),
    ] {
        let program = plugin(dir.path(), stdout, status);
        let user = format!(
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
            program.display()
        );
        std::fs::write(&config, kubeconfig(port, &user)).unwrap();
        let (code, stdout, stderr) =
            run(dir.path(), &config, &["check", "ch14", "--context", "lab"]);
        assert_eq!(code, 2, "{stdout}{stderr}");
        assert_quotes_nothing(&format!("{stdout}{stderr}"));
        assert_eq!(
            stderr,
            format!(
                "error: context `lab`: the credential plugin `get-token` ({}:10) {expected}\n",
                config.display()
            )
        );
    }
}

#[test]
fn a_block_scalar_token_is_refused_not_a_panic() {
    // `token: |` keeps a final line break; every command that connected panicked (exit 101).
    let (dir, port) = folder();
    let config = dir.path().join("kubeconfig");
    std::fs::write(
        &config,
        kubeconfig(port, &format!("    token: |\n      {TOKEN}\n")),
    )
    .unwrap();
    let (code, stdout, stderr) = run(dir.path(), &config, &["check", "ch14", "--context", "lab"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_quotes_nothing(&stderr);
    let stderr = stderr.replace(&config.display().to_string(), "[KUBECONFIG]");
    insta::assert_snapshot!(stderr, @"error: [KUBECONFIG]:10: the user's `token` ends in a line break, which an HTTP header cannot carry (a `|` block scalar keeps it; kubectl refuses it too); write the token on the `token:` line itself, or use `|-` to drop the line break");
    // `|-` drops the line break: the same token reaches for the (closed) port.
    std::fs::write(
        &config,
        kubeconfig(port, &format!("    token: |-\n      {TOKEN}\n")),
    )
    .unwrap();
    let (code, stdout, stderr) = run(dir.path(), &config, &["check", "ch14", "--context", "lab"]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(
        stderr.starts_with("error: cannot reach the cluster"),
        "{stderr}"
    );
}

#[test]
fn a_fifo_or_a_device_as_kubeconfig_is_refused_at_once() {
    // A FIFO as KUBECONFIG hung every command; /dev/zero was read until memory ran out.
    let (dir, _) = folder();
    let fifo = dir.path().join("kubeconfig");
    super::mkfifo(&fifo);
    for (path, noun) in [
        (fifo.as_path(), "a FIFO"),
        (Path::new("/dev/zero"), "a device"),
    ] {
        let started = Instant::now();
        let (code, stdout, stderr) = run(dir.path(), path, &["check", "ch14", "--context", "lab"]);
        assert_eq!(code, 2, "{stdout}{stderr}");
        assert_eq!(
            stderr,
            format!(
                "error: {} is {noun}, not a regular file; give the path of a file\n",
                path.display()
            )
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}

#[test]
fn kubeconfig_lists_are_read_like_kubectl_reads_them() {
    // KUBECONFIG=a:b: a missing file is skipped, the first to name a context wins.
    let (dir, port) = folder();
    let real = dir.path().join("real");
    std::fs::write(&real, kubeconfig(port, "    token: not-a-secret\n")).unwrap();
    let unused = dir.path().join("unused");
    std::fs::write(&unused, kubeconfig(1, "    token: |\n      broken\n")).unwrap();
    let list = std::env::join_paths([dir.path().join("missing"), real, unused]).unwrap();
    let (code, stdout, stderr) = run(
        dir.path(),
        Path::new(&list),
        &["check", "ch14", "--context", "lab"],
    );
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(
        stderr.starts_with("error: cannot reach the cluster (the API server of context lab)"),
        "{stderr}"
    );
    let none = std::env::join_paths([dir.path().join("missing"), dir.path().join("gone")]).unwrap();
    let (code, _, stderr) = run(
        dir.path(),
        Path::new(&none),
        &["check", "ch14", "--context", "lab"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with("error: no kubeconfig: none of KUBECONFIG's files exists"),
        "{stderr}"
    );
}

#[test]
fn stop_refuses_a_state_that_names_another_chapter() {
    // `.lab/ch14/state.json` saying `other` made `lab stop ch14` delete `.lab/other/state.json`.
    let (dir, port) = folder();
    let config = dir.path().join("kubeconfig");
    std::fs::write(&config, kubeconfig(port, "    token: not-a-secret\n")).unwrap();
    let misnamed = write_state(dir.path(), "ch14", "other");
    let other = write_state(dir.path(), "other", "other");
    for args in [
        &["stop", "ch14", "--delete"][..],
        &["stop", "ch14"],
        &["status", "ch14"],
    ] {
        let (code, stdout, stderr) = run(dir.path(), &config, args);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert_eq!(std::fs::read_to_string(&misnamed).unwrap(), state("other"));
        assert_eq!(
            std::fs::read_to_string(&other).unwrap(),
            state("other"),
            "{args:?}"
        );
    }
    let (_, _, stderr) = run(dir.path(), &config, &["stop", "ch14"]);
    let stderr = stderr.replace(&dir.path().display().to_string(), "[DIR]");
    insta::assert_snapshot!(stderr, @"error: [DIR]/.lab/ch14/state.json says it is the state of lab other, but it is in the folder of lab ch14, so `lab` will neither change nor remove it; if it is that lab's, move it to its own .lab/<chapter>/state.json, otherwise move it away and run `lab start ch14`");
}
