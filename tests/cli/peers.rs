//! The real peers of `.ci/peers`: the binaries `.ci/peers/build` makes (cosign, crane, the
//! Kyverno CLI, kubectl, ...), and the loopback cluster of `.ci/peers/cluster` (etcd,
//! kube-apiserver, kube-controller-manager, Kyverno's admission and reports controllers, a
//! registry and the kubelet stand-in), started once per test binary and brought down when the
//! binary exits, however it exits (the cluster's watchdog follows this process). Set
//! `COURSELAB_TEST_CLUSTER=DIR` to use a cluster already up in DIR instead (it is left running).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::repo;

/// The folder of the built peers: `PEERS_BIN`, else `COURSELAB_PEERS_DIR/bin`, else
/// `target/peers/bin` (where `.ci/peers/build` puts them by default).
pub fn peers_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("PEERS_BIN") {
        return PathBuf::from(dir);
    }
    match std::env::var_os("COURSELAB_PEERS_DIR") {
        Some(dir) => PathBuf::from(dir).join("bin"),
        None => repo().join("target/peers/bin"),
    }
}

/// A peer's binary; a missing one fails the test with how to build it.
pub fn peer(name: &str) -> PathBuf {
    let path = peers_bin().join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `.ci/test` (or `.ci/peers/build`), which builds the peers from the Go module proxy",
        path.display()
    );
    path
}

/// A command running a peer binary.
pub fn peer_command(name: &str) -> Command {
    Command::new(peer(name))
}

/// The loopback cluster the tests share.
pub struct Cluster {
    /// The admin kubeconfig (kube-rs, kubectl and Kyverno all use it).
    pub kubeconfig: PathBuf,
    /// The cluster's registry, `127.0.0.1:PORT`; Kyverno and the kubelet stand-in read it.
    pub registry: String,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static LAB_CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static LAB_LOCK: Mutex<()> = Mutex::new(());
static NAMESPACES: AtomicUsize = AtomicUsize::new(0);

/// The shared cluster: started on first use, or the one `COURSELAB_TEST_CLUSTER` names.
pub fn cluster() -> &'static Cluster {
    match CLUSTER.get_or_init(|| start_or_reuse("COURSELAB_TEST_CLUSTER", "")) {
        Ok(cluster) => cluster,
        // Every test that needs the cluster fails with the one reason it could not start.
        Err(why) => panic!("the loopback cluster is not available:\n{why}"),
    }
}

/// A second cluster for the tests of `lab start` and what follows it, which apply a chapter's
/// cluster-wide policies and its fixed namespace; they take turns through the returned guard,
/// and never meet the differential suite's policies. `COURSELAB_TEST_LAB_CLUSTER=DIR` reuses one.
pub fn lab_cluster() -> (MutexGuard<'static, ()>, &'static Cluster) {
    let guard = LAB_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match LAB_CLUSTER.get_or_init(|| start_or_reuse("COURSELAB_TEST_LAB_CLUSTER", "-lab")) {
        Ok(cluster) => (guard, cluster),
        Err(why) => panic!("the loopback lab cluster is not available:\n{why}"),
    }
}

fn start_or_reuse(reuse: &str, suffix: &str) -> Result<Cluster, String> {
    let script = repo().join(".ci/peers/cluster");
    let (dir, args) = match std::env::var_os(reuse) {
        Some(dir) => (PathBuf::from(dir), vec!["env".to_owned()]),
        None => {
            let dir = repo()
                .join("target/peers-cluster-tests")
                .join(format!("{}{suffix}", std::process::id()));
            let owner = std::process::id().to_string();
            (dir, vec!["up".into(), "--owner".into(), owner])
        }
    };
    let started = Instant::now();
    let run = |args: &[String]| {
        Command::new(&script)
            .args(args)
            .env("COURSELAB_CLUSTER_DIR", &dir)
            .env("PEERS_BIN", peers_bin())
            .output()
            .map_err(|e| format!("{}: {e}", script.display()))
    };
    let mut output = run(&args)?;
    // Ports are picked free, then bound by the peers a moment later; a test starting its own
    // registry in between can take one. One more start, from a clean state, rules that out.
    if !output.status.success() && args[0] == "up" {
        eprintln!(
            "loopback cluster: the first start failed, trying once more:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        run(&["down".to_owned()])?;
        output = run(&args)?;
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "`{} {}` failed ({}):\n{stderr}",
            script.display(),
            args.join(" "),
            output.status
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let setting = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
            .ok_or_else(|| format!("`cluster {}` printed no {name}=:\n{stdout}", args[0]))
    };
    eprintln!(
        "loopback cluster in {} ({} s)",
        dir.display(),
        started.elapsed().as_secs()
    );
    Ok(Cluster {
        kubeconfig: PathBuf::from(setting("KUBECONFIG")?),
        registry: setting("REGISTRY")?,
    })
}

impl Cluster {
    /// Sends `object` to the API server as a create (`dryRun=All` when `dry_run`), with the
    /// admin certificate, and returns the API server's answer as it is: the created object, or
    /// the `Status` of a refusal (whose `message` kubectl would reprint with its own newline).
    pub fn create(
        &self,
        object: &serde_json::Value,
        dry_run: bool,
    ) -> Result<serde_json::Value, serde_json::Value> {
        let kubeconfig = std::fs::read_to_string(&self.kubeconfig).unwrap();
        let field = |name: &str| {
            kubeconfig
                .split(&format!("{name}: \""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_else(|| panic!("no {name} in {}", self.kubeconfig.display()))
                .to_owned()
        };
        let kind = object["kind"].as_str().unwrap();
        let api_version = object["apiVersion"].as_str().unwrap();
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default");
        let group = if api_version.contains('/') {
            format!("/apis/{api_version}")
        } else {
            format!("/api/{api_version}")
        };
        let path = format!("{group}/namespaces/{namespace}/{}s", kind.to_lowercase());
        let dry = if dry_run { "?dryRun=All" } else { "" };
        let out = Command::new(super::registry::installed(
            "curl",
            "`sudo apt-get install curl`",
        ))
        .args([
            "-sS",
            "--max-time",
            "60",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
        ])
        .arg("--cacert")
        .arg(field("certificate-authority"))
        .arg("--cert")
        .arg(field("client-certificate"))
        .arg("--key")
        .arg(field("client-key"))
        .arg("--data-binary")
        .arg(object.to_string())
        .arg(format!("{}{path}{dry}", field("server")))
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if answer["kind"] == "Status" {
            Err(answer)
        } else {
            Ok(answer)
        }
    }

    /// `kubectl` against this cluster.
    pub fn kubectl(&self) -> Command {
        let mut cmd = peer_command("kubectl");
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--request-timeout=30s");
        cmd
    }

    /// Runs kubectl with `args`; its stdout, or a panic with what it said.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let output = self.kubectl().args(args).output().unwrap();
        assert!(
            output.status.success(),
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// A namespace of this test's own (`<prefix>-<n>`), with `labels`, ready for Pods (its
    /// `default` ServiceAccount exists); deleted when dropped.
    pub fn namespace(&'static self, prefix: &str, labels: &[(&str, &str)]) -> TestNamespace {
        let n = NAMESPACES.fetch_add(1, Ordering::SeqCst);
        let name = format!("{prefix}-{}-{n}", std::process::id());
        self.kubectl_ok(&["create", "namespace", &name]);
        if !labels.is_empty() {
            let mut args = vec!["label".to_owned(), "namespace".into(), name.clone()];
            args.extend(labels.iter().map(|(k, v)| format!("{k}={v}")));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            self.kubectl_ok(&args);
        }
        self.wait_for_default_service_account(&name);
        TestNamespace {
            cluster: self,
            name,
        }
    }
}

impl Cluster {
    /// Waits until the namespace has its `default` ServiceAccount (made by the
    /// kube-controller-manager), without which the API server refuses Pods in it.
    pub fn wait_for_default_service_account(&self, namespace: &str) {
        wait_until(
            Duration::from_secs(30),
            "the namespace's default ServiceAccount",
            || {
                self.kubectl()
                    .args(["-n", namespace, "get", "serviceaccount", "default"])
                    .output()
                    .is_ok_and(|o| o.status.success())
            },
        );
    }
}

/// A namespace a test owns; deleted (without waiting) when dropped.
pub struct TestNamespace {
    cluster: &'static Cluster,
    pub name: String,
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let _ = self
            .cluster
            .kubectl()
            .args(["delete", "namespace", &self.name, "--wait=false"])
            .output();
    }
}

/// Polls `ready` every 200 ms until it holds; panics after `limit`, naming what it waited for.
pub fn wait_until(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "gave up after {} s waiting for {what}",
            limit.as_secs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}
