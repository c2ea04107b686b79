//! Provisioning a kind cluster and the lab registry beside it, through the [`Host`] seam:
//! kind's local-registry pattern (a `registry:3` container on 127.0.0.1:5001, joined to the
//! `kind` network; containerd `hosts.toml` on every node for both the host's name and the
//! cluster's) and Kyverno from its official Helm chart. Every phase first looks at what is
//! there, so a second run, or one after an interruption, converges instead of failing; what
//! the lab creates carries the label `dev.courselab.lab=<chapter>`, and what does not carry
//! it is never changed or removed.

use std::time::Duration;

use serde_json::Value;

use super::error::BackendError;
use super::host::{Host, Ran};

/// The label on the containers the lab creates.
pub const CONTAINER_LABEL: &str = "dev.courselab.lab";

/// The registry image kind's local-registry script runs.
pub const REGISTRY_IMAGE: &str = "registry:3";

/// Kyverno's Helm repository.
pub const KYVERNO_CHART_REPO: &str = "https://kyverno.github.io/kyverno/";

const QUICK: Duration = Duration::from_secs(60);
const SLOW: Duration = Duration::from_secs(600);

/// What the lab provisions, from its lab file and kind config.
#[derive(Debug, Clone)]
pub struct KindPlan {
    /// The chapter, the value of the label.
    pub chapter: String,
    /// The kind cluster's name.
    pub cluster: String,
    /// The kind config, passed on stdin.
    pub config: String,
    /// The registry container's name, e.g. `kind-registry`.
    pub registry: String,
    /// The port it listens on inside its container.
    pub registry_port: u16,
    /// The port published on 127.0.0.1.
    pub host_port: u16,
    /// Hosts the nodes must pull from as the registry (`kind-registry:5000`), besides
    /// `localhost:<host_port>`.
    pub mirrors: Vec<String>,
    /// The image the registry container runs ([`REGISTRY_IMAGE`], or the one loaded from a
    /// bundle).
    pub registry_image: String,
    /// The node image every node boots from instead of the kind config's (`kind create
    /// cluster --image`): the one loaded from a bundle, the same digest under the lab's tag.
    pub node_image: Option<String>,
}

impl KindPlan {
    /// The kubeconfig context kind writes.
    pub fn context(&self) -> String {
        format!("kind-{}", self.cluster)
    }

    fn registry_url(&self) -> String {
        format!("http://{}:{}", self.registry, self.registry_port)
    }

    /// The containerd `hosts.toml` every node gets for each of the registry's names.
    pub fn hosts_toml(&self) -> String {
        let url = self.registry_url();
        format!(
            "server = \"{url}\"\n\n[host.\"{url}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
        )
    }
}

fn run(
    host: &impl Host,
    program: &str,
    args: &[&str],
    stdin: Option<&str>,
    timeout: Duration,
) -> Result<Ran, BackendError> {
    host.run(program, args, stdin, timeout)
        .map_err(|e| BackendError::Host {
            what: format!("{program} {}", args.first().unwrap_or(&"")),
            detail: e.to_string(),
        })
}

fn must(
    host: &impl Host,
    program: &str,
    args: &[&str],
    stdin: Option<&str>,
    timeout: Duration,
) -> Result<Ran, BackendError> {
    let ran = run(host, program, args, stdin, timeout)?;
    if ran.ok() {
        return Ok(ran);
    }
    let detail = ran.stderr.trim();
    let tail: Vec<&str> = detail.lines().rev().take(6).collect();
    Err(BackendError::Host {
        what: format!("`{program} {}`", args.join(" ")),
        detail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    })
}

/// A container as `docker inspect` describes it.
struct Container {
    running: bool,
    label: Option<String>,
    networks: Vec<String>,
}

fn inspect(host: &impl Host, name: &str) -> Result<Option<Container>, BackendError> {
    let ran = run(
        host,
        "docker",
        &["inspect", "--type", "container", name],
        None,
        QUICK,
    )?;
    if !ran.ok() {
        if ran.stderr.contains("No such") || ran.stdout.trim() == "[]" {
            return Ok(None);
        }
        return Err(BackendError::Host {
            what: format!("`docker inspect {name}`"),
            detail: ran.stderr.trim().to_owned(),
        });
    }
    let doc: Value = serde_json::from_str(&ran.stdout).map_err(|e| BackendError::Host {
        what: format!("`docker inspect {name}`"),
        detail: format!("unreadable answer: {e}"),
    })?;
    let c = doc.get(0).cloned().unwrap_or(Value::Null);
    Ok(Some(Container {
        running: c
            .pointer("/State/Running")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        label: c
            .pointer("/Config/Labels")
            .and_then(|l| l.get(CONTAINER_LABEL))
            .and_then(Value::as_str)
            .map(str::to_owned),
        networks: c
            .pointer("/NetworkSettings/Networks")
            .and_then(Value::as_object)
            .map(|n| n.keys().cloned().collect())
            .unwrap_or_default(),
    }))
}

/// What a phase did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// Created it.
    Created,
    /// Found it running and the lab's.
    Reused,
    /// Found it stopped, started it.
    Restarted,
}

/// The registry container: created, restarted or reused; one of that name that is not the
/// lab's is refused.
pub fn ensure_registry(host: &impl Host, plan: &KindPlan) -> Result<Done, BackendError> {
    match inspect(host, &plan.registry)? {
        Some(c) if c.label.as_deref() != Some(plan.chapter.as_str()) => Err(BackendError::Host {
            what: format!("the registry container `{}`", plan.registry),
            detail: format!(
                "a container of that name exists and is not the lab's (no label {CONTAINER_LABEL}={}); remove or rename it (`docker rm -f {}`) if it is yours to remove, then run `lab start` again",
                plan.chapter, plan.registry
            ),
        }),
        Some(c) if c.running => Ok(Done::Reused),
        Some(_) => {
            must(host, "docker", &["start", &plan.registry], None, QUICK)?;
            Ok(Done::Restarted)
        }
        None => {
            let publish = format!("127.0.0.1:{}:{}", plan.host_port, plan.registry_port);
            let label = format!("{CONTAINER_LABEL}={}", plan.chapter);
            must(
                host,
                "docker",
                &[
                    "run",
                    "-d",
                    "--restart=always",
                    "-p",
                    &publish,
                    "--network",
                    "bridge",
                    "--name",
                    &plan.registry,
                    "--label",
                    &label,
                    &plan.registry_image,
                ],
                None,
                SLOW,
            )?;
            Ok(Done::Created)
        }
    }
}

/// The node containers of the cluster, by `kind get nodes`.
fn nodes(host: &impl Host, plan: &KindPlan) -> Result<Vec<String>, BackendError> {
    let ran = must(
        host,
        "kind",
        &["get", "nodes", "--name", &plan.cluster],
        None,
        QUICK,
    )?;
    Ok(ran
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("No kind nodes"))
        .map(str::to_owned)
        .collect())
}

/// Whether `kind get clusters` lists the lab's cluster.
fn cluster_exists(host: &impl Host, plan: &KindPlan) -> Result<bool, BackendError> {
    let clusters = must(host, "kind", &["get", "clusters"], None, QUICK)?;
    Ok(clusters.stdout.lines().any(|l| l.trim() == plan.cluster))
}

/// The kind cluster: created from the lab's config, restarted (its stopped nodes) or reused.
pub fn ensure_cluster(host: &impl Host, plan: &KindPlan) -> Result<Done, BackendError> {
    if !cluster_exists(host, plan)? {
        let mut args = vec![
            "create",
            "cluster",
            "--name",
            &plan.cluster,
            "--config",
            "-",
            "--wait",
            "120s",
        ];
        if let Some(image) = &plan.node_image {
            args.extend(["--image", image]);
        }
        must(host, "kind", &args, Some(&plan.config), SLOW)?;
        return Ok(Done::Created);
    }
    let mut restarted = false;
    for node in nodes(host, plan)? {
        if inspect(host, &node)?.is_some_and(|c| !c.running) {
            must(host, "docker", &["start", &node], None, QUICK)?;
            restarted = true;
        }
    }
    Ok(if restarted {
        Done::Restarted
    } else {
        Done::Reused
    })
}

/// Writes the registry's `hosts.toml` on every node, for `localhost:<host_port>` and each
/// mirror host (containerd reads them without a restart). Returns the nodes.
pub fn configure_nodes(host: &impl Host, plan: &KindPlan) -> Result<Vec<String>, BackendError> {
    let nodes = nodes(host, plan)?;
    let mut names = vec![format!("localhost:{}", plan.host_port)];
    names.extend(plan.mirrors.iter().cloned());
    let toml = plan.hosts_toml();
    for node in &nodes {
        for name in &names {
            let dir = format!("/etc/containerd/certs.d/{name}");
            let script = format!("mkdir -p '{dir}' && cat > '{dir}/hosts.toml'");
            must(
                host,
                "docker",
                &["exec", "-i", node, "sh", "-c", &script],
                Some(&toml),
                QUICK,
            )?;
        }
    }
    Ok(nodes)
}

/// Joins the registry to the `kind` network (kind creates it with the first cluster).
pub fn connect_network(host: &impl Host, plan: &KindPlan) -> Result<bool, BackendError> {
    let on_kind =
        inspect(host, &plan.registry)?.is_some_and(|c| c.networks.iter().any(|n| n == "kind"));
    if on_kind {
        return Ok(false);
    }
    must(
        host,
        "docker",
        &["network", "connect", "kind", &plan.registry],
        None,
        QUICK,
    )?;
    Ok(true)
}

/// The platform of Docker's engine (`linux/amd64`), as image indexes name platforms.
pub fn docker_platform(host: &impl Host) -> Result<String, BackendError> {
    let ran = must(
        host,
        "docker",
        &["version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"],
        None,
        QUICK,
    )?;
    let platform = ran.stdout.trim();
    if platform.split('/').count() != 2 || platform.contains(char::is_whitespace) {
        return Err(BackendError::Host {
            what: "`docker version`".into(),
            detail: format!(
                "its engine's platform reads `{}`, not OS/ARCH",
                crate::text::printable(platform)
            ),
        });
    }
    Ok(platform.to_owned())
}

/// The ID of the image Docker has under `tag`, if it has one.
pub fn image_id(host: &impl Host, tag: &str) -> Result<Option<String>, BackendError> {
    let ran = run(
        host,
        "docker",
        &["image", "inspect", "--format", "{{.Id}}", tag],
        None,
        QUICK,
    )?;
    if ran.ok() {
        return Ok(Some(ran.stdout.trim().to_owned()));
    }
    if ran.stderr.contains("No such image") || ran.stderr.contains("not found") {
        return Ok(None);
    }
    Err(BackendError::Host {
        what: format!("`docker image inspect {tag}`"),
        detail: ran.stderr.trim().to_owned(),
    })
}

/// What [`load_image`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// Docker had it already (a resumed start).
    Present,
    /// Loaded now.
    Loaded,
}

/// Makes Docker hold the image `tag` with one of `ids` (its config's digest or its manifest's:
/// Docker's two image stores name an image by one or the other): if it does not already,
/// `write` makes the archive and `docker load` reads it. An image of that tag with another ID
/// is replaced (the tag is the lab's own); one that still differs after loading is refused.
pub fn load_image(
    host: &impl Host,
    tag: &str,
    ids: &[String],
    write: impl FnOnce() -> Result<std::path::PathBuf, BackendError>,
) -> Result<Loaded, BackendError> {
    if image_id(host, tag)?.is_some_and(|id| ids.contains(&id)) {
        return Ok(Loaded::Present);
    }
    let archive = write()?;
    let path = archive.display().to_string();
    must(host, "docker", &["load", "--input", &path], None, SLOW)?;
    match image_id(host, tag)? {
        Some(id) if ids.contains(&id) => Ok(Loaded::Loaded),
        found => Err(BackendError::Host {
            what: format!("`docker load` of {tag}"),
            detail: format!(
                "Docker holds {} under that tag, not the bundle's image ({}); remove it (`docker rmi {tag}`) and run `lab start` again",
                found.as_deref().unwrap_or("nothing"),
                ids.join(" or ")
            ),
        }),
    }
}

/// Removes the images the lab loaded (`tags`, recorded by `lab start`), once nothing runs
/// them: only tags in the lab's own namespace (`courselab.invalid/`) are ever removed, and one
/// Docker will not remove is left, said so. One line each.
pub fn remove_images(host: &impl Host, tags: &[String]) -> Result<Vec<String>, BackendError> {
    let mut lines = Vec::new();
    for tag in tags {
        if !tag.starts_with("courselab.invalid/") {
            lines.push(format!("image {tag}: left alone (not a tag of the lab's)"));
            continue;
        }
        if image_id(host, tag)?.is_none() {
            continue;
        }
        let ran = run(host, "docker", &["rmi", tag], None, QUICK)?;
        lines.push(if ran.ok() {
            format!("image {tag}: removed")
        } else {
            format!(
                "image {tag}: left ({}); `docker rmi {tag}` removes it",
                ran.stderr.trim().lines().last().unwrap_or("docker refused")
            )
        });
    }
    Ok(lines)
}

/// Where Kyverno's chart comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart<'a> {
    /// Kyverno's Helm repository.
    Repository,
    /// An archive on disk (from a bundle).
    File(&'a str),
}

/// Installs (or upgrades to) Kyverno's chart `chart_version` with the lab's `--set` values,
/// unless that release is already deployed with them. Returns whether helm ran.
pub fn install_kyverno(
    host: &impl Host,
    context: &str,
    chart: Chart<'_>,
    chart_version: &str,
    sets: &[String],
) -> Result<bool, BackendError> {
    let status = run(
        host,
        "helm",
        &[
            "status",
            "kyverno",
            "--namespace",
            "kyverno",
            "--kube-context",
            context,
            "-o",
            "json",
        ],
        None,
        QUICK,
    )?;
    if status.code == 127 {
        return Err(BackendError::Host {
            what: "helm".into(),
            detail: "helm is not installed; it installs Kyverno's official chart: https://helm.sh/docs/intro/install/".into(),
        });
    }
    if status.ok()
        && let Ok(doc) = serde_json::from_str::<Value>(&status.stdout)
    {
        let deployed = doc.pointer("/info/status").and_then(Value::as_str) == Some("deployed");
        let version = doc
            .pointer("/chart/metadata/version")
            .and_then(Value::as_str);
        let wanted = version == Some(chart_version)
            || status
                .stdout
                .contains(&format!("\"version\":\"{chart_version}\""));
        if deployed && wanted {
            return Ok(false);
        }
    }
    let from: Vec<&str> = match chart {
        Chart::Repository => vec![
            "kyverno",
            "--repo",
            KYVERNO_CHART_REPO,
            "--version",
            chart_version,
        ],
        Chart::File(path) => vec![path],
    };
    let mut args: Vec<String> = ["upgrade", "--install", "kyverno"]
        .into_iter()
        .chain(from)
        .chain([
            "--namespace",
            "kyverno",
            "--create-namespace",
            "--kube-context",
            context,
        ])
        .map(str::to_owned)
        .collect();
    for set in sets {
        args.push("--set".into());
        args.push(set.clone());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    must(host, "helm", &args, None, SLOW)?;
    Ok(true)
}

/// Why the cluster of `plan` is not the lab's to stop or delete, if it is not: `lab start`
/// records the name of a cluster it created (`created`), and one of another name (the kind
/// config renamed it since, or the state was edited) may be anyone's.
fn not_created_by_lab(plan: &KindPlan, created: &str) -> Option<String> {
    (created != plan.cluster).then(|| {
        format!(
            "kind cluster {}: left alone (the lab's state records creating the cluster `{created}`, not this one; `kind delete cluster --name {}` deletes it if it is yours to delete)",
            plan.cluster, plan.cluster
        )
    })
}

/// Stops the cluster's nodes, if `lab start` created the cluster (`created` names the one it
/// recorded), and the lab's registry container (`lab start` restarts them). One line each.
pub fn stop(host: &impl Host, plan: &KindPlan, created: &str) -> Result<Vec<String>, BackendError> {
    let mut stopped = Vec::new();
    if let Some(refused) = not_created_by_lab(plan, created) {
        stopped.push(refused);
    } else if cluster_exists(host, plan)? {
        for node in nodes(host, plan)? {
            must(host, "docker", &["stop", &node], None, QUICK)?;
            stopped.push(format!("container {node}: stopped"));
        }
    }
    if inspect(host, &plan.registry)?
        .is_some_and(|c| c.label.as_deref() == Some(plan.chapter.as_str()))
    {
        must(host, "docker", &["stop", &plan.registry], None, QUICK)?;
        stopped.push(format!("container {}: stopped", plan.registry));
    }
    Ok(stopped)
}

/// Deletes the cluster, if `lab start` created it (`created` names the one it recorded), and
/// the lab's registry container (with its volume). One line each.
pub fn delete(
    host: &impl Host,
    plan: &KindPlan,
    created: &str,
) -> Result<Vec<String>, BackendError> {
    let mut deleted = Vec::new();
    if let Some(refused) = not_created_by_lab(plan, created) {
        deleted.push(refused);
    } else if cluster_exists(host, plan)? {
        must(
            host,
            "kind",
            &["delete", "cluster", "--name", &plan.cluster],
            None,
            SLOW,
        )?;
        deleted.push(format!("kind cluster {}: deleted", plan.cluster));
    }
    match inspect(host, &plan.registry)? {
        Some(c) if c.label.as_deref() == Some(plan.chapter.as_str()) => {
            must(
                host,
                "docker",
                &["rm", "-f", "-v", &plan.registry],
                None,
                QUICK,
            )?;
            deleted.push(format!("registry container {}: deleted", plan.registry));
        }
        _ => {}
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::host::Recorded;

    fn plan() -> KindPlan {
        KindPlan {
            chapter: "ch14".into(),
            cluster: "courselab-ch14".into(),
            config: "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n".into(),
            registry: "kind-registry".into(),
            registry_port: 5000,
            host_port: 5001,
            mirrors: vec!["kind-registry:5000".into()],
            registry_image: REGISTRY_IMAGE.into(),
            node_image: None,
        }
    }

    /// `docker inspect` of a container, in docker's own shape (trimmed to what lab reads).
    fn container(running: bool, label: Option<&str>, networks: &[&str]) -> String {
        let labels = label.map_or(
            serde_json::json!({}),
            |l| serde_json::json!({CONTAINER_LABEL: l}),
        );
        let nets: serde_json::Map<String, Value> = networks
            .iter()
            .map(|n| {
                (
                    (*n).to_owned(),
                    serde_json::json!({"IPAddress": "172.18.0.2"}),
                )
            })
            .collect();
        serde_json::json!([{
            "Id": "4f1c0e", "Name": "/kind-registry",
            "State": {"Status": if running { "running" } else { "exited" }, "Running": running},
            "Config": {"Image": "registry:3", "Labels": labels},
            "NetworkSettings": {"Networks": nets}
        }])
        .to_string()
    }

    const NO_SUCH: &str = "Error response from daemon: No such container: kind-registry\n";

    fn provision(host: &Recorded) -> Result<(Done, Done, Vec<String>, bool), BackendError> {
        let p = plan();
        Ok((
            ensure_registry(host, &p)?,
            ensure_cluster(host, &p)?,
            configure_nodes(host, &p)?,
            connect_network(host, &p)?,
        ))
    }

    #[test]
    fn a_fresh_machine_gets_the_registry_the_cluster_the_hosts_files_and_the_network_in_that_order()
    {
        let host = Recorded::default();
        host.fail(
            "docker inspect --type container kind-registry",
            1,
            "[]\n",
            NO_SUCH,
        )
        .answer("docker run", "4f1c0e\n")
        .fail("kind get clusters", 0, "", "No kind clusters found.\n")
        .answer("kind create cluster", "")
        .answer("kind get nodes", "courselab-ch14-control-plane\n")
        .answer("docker exec", "")
        .answer("docker exec", "")
        .answer(
            "docker inspect --type container kind-registry",
            &container(true, Some("ch14"), &["bridge"]),
        )
        .answer("docker network connect", "");
        let (registry, cluster, nodes, joined) = provision(&host).unwrap();
        assert_eq!(
            (registry, cluster, joined),
            (Done::Created, Done::Created, true)
        );
        assert_eq!(nodes, ["courselab-ch14-control-plane"]);
        insta::assert_snapshot!(host.transcript(), @r#"
        docker inspect --type container kind-registry
        docker run -d --restart=always -p 127.0.0.1:5001:5000 --network bridge --name kind-registry --label dev.courselab.lab=ch14 registry:3
        kind get clusters
        kind create cluster --name courselab-ch14 --config - --wait 120s <<< kind: Cluster
        kind get nodes --name courselab-ch14
        docker exec -i courselab-ch14-control-plane sh -c mkdir -p '/etc/containerd/certs.d/localhost:5001' && cat > '/etc/containerd/certs.d/localhost:5001/hosts.toml' <<< server = "http://kind-registry:5000"
        docker exec -i courselab-ch14-control-plane sh -c mkdir -p '/etc/containerd/certs.d/kind-registry:5000' && cat > '/etc/containerd/certs.d/kind-registry:5000/hosts.toml' <<< server = "http://kind-registry:5000"
        docker inspect --type container kind-registry
        docker network connect kind kind-registry
        "#);
    }

    #[test]
    fn a_second_run_creates_nothing_and_restarts_what_was_stopped() {
        let host = Recorded::default();
        host.answer(
            "docker inspect --type container kind-registry",
            &container(false, Some("ch14"), &["bridge", "kind"]),
        )
        .answer("docker start kind-registry", "kind-registry\n")
        .answer("kind get clusters", "courselab-ch14\n")
        .answer("kind get nodes", "courselab-ch14-control-plane\n")
        .answer(
            "docker inspect --type container courselab-ch14-control-plane",
            &container(true, None, &["kind"]),
        )
        .answer("kind get nodes", "courselab-ch14-control-plane\n")
        .answer("docker exec", "")
        .answer("docker exec", "")
        .answer(
            "docker inspect --type container kind-registry",
            &container(true, Some("ch14"), &["bridge", "kind"]),
        );
        let (registry, cluster, _, joined) = provision(&host).unwrap();
        assert_eq!(
            (registry, cluster, joined),
            (Done::Restarted, Done::Reused, false)
        );
        let calls = host.transcript();
        assert!(
            !calls.contains("docker run")
                && !calls.contains("kind create")
                && !calls.contains("network connect"),
            "{calls}"
        );
    }

    #[test]
    fn a_registry_that_is_not_the_labs_is_refused_before_anything_is_created() {
        let host = Recorded::default();
        host.answer(
            "docker inspect --type container kind-registry",
            &container(true, None, &["bridge"]),
        );
        let err = provision(&host).unwrap_err().to_string();
        assert!(err.contains("exists and is not the lab's"), "{err}");
        assert_eq!(host.calls.borrow().len(), 1);
    }

    #[test]
    fn a_failed_cluster_creation_is_reported_and_the_next_run_resumes_from_it() {
        let host = Recorded::default();
        host.fail("docker inspect --type container kind-registry", 1, "[]\n", NO_SUCH)
            .answer("docker run", "4f1c0e\n")
            .fail("kind get clusters", 0, "", "No kind clusters found.\n")
            .fail("kind create cluster", 1, "", "Creating cluster \"courselab-ch14\" ...\nERROR: failed to create cluster: could not find a log line that matches \"Reached target .*Multi-User System.*|detected cgroup v1\"\n");
        let err = provision(&host).unwrap_err().to_string();
        assert!(err.contains("could not find a log line"), "{err}");
        // The registry is there now; the next run reuses it and creates the cluster.
        let host = Recorded::default();
        host.answer(
            "docker inspect --type container kind-registry",
            &container(true, Some("ch14"), &["bridge"]),
        )
        .fail("kind get clusters", 0, "", "No kind clusters found.\n")
        .answer("kind create cluster", "")
        .answer("kind get nodes", "courselab-ch14-control-plane\n")
        .answer("docker exec", "")
        .answer("docker exec", "")
        .answer(
            "docker inspect --type container kind-registry",
            &container(true, Some("ch14"), &["bridge"]),
        )
        .answer("docker network connect", "");
        let (registry, cluster, _, _) = provision(&host).unwrap();
        assert_eq!((registry, cluster), (Done::Reused, Done::Created));
    }

    #[test]
    fn kyverno_is_installed_once_with_the_labs_values() {
        let host = Recorded::default();
        host.fail("helm status", 1, "", "Error: release: not found\n")
            .answer("helm upgrade", "");
        assert!(
            install_kyverno(
                &host,
                "kind-courselab-ch14",
                Chart::Repository,
                "3.9.0",
                &["features.registryClient.allowInsecure=true".into()]
            )
            .unwrap()
        );
        insta::assert_snapshot!(host.transcript(), @r"
        helm status kyverno --namespace kyverno --kube-context kind-courselab-ch14 -o json
        helm upgrade --install kyverno kyverno --repo https://kyverno.github.io/kyverno/ --version 3.9.0 --namespace kyverno --create-namespace --kube-context kind-courselab-ch14 --set features.registryClient.allowInsecure=true
        ");
        let host = Recorded::default();
        host.answer("helm status", r#"{"name":"kyverno","info":{"status":"deployed"},"chart":{"metadata":{"name":"kyverno","version":"3.9.0"}}}"#);
        assert!(
            !install_kyverno(
                &host,
                "kind-courselab-ch14",
                Chart::Repository,
                "3.9.0",
                &[]
            )
            .unwrap()
        );
        let host = Recorded::default();
        host.fail("helm status", 127, "", "helm: not found");
        let err = install_kyverno(
            &host,
            "kind-courselab-ch14",
            Chart::Repository,
            "3.9.0",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("https://helm.sh/docs/intro/install/"), "{err}");
    }

    const NO_IMAGE: &str =
        "Error response from daemon: No such image: courselab.invalid/kindest/node:v1.35.8\n";

    #[test]
    fn a_bundles_image_is_loaded_once_and_checked_by_its_id() {
        let tag = "courselab.invalid/kindest/node:v1.35.8";
        let ids = ["sha256:c0f1".to_owned(), "sha256:3a4b".to_owned()];
        // Not there: the archive is written, loaded, and Docker's ID checked.
        let host = Recorded::default();
        host.fail("docker image inspect", 1, "\n", NO_IMAGE)
            .answer(
                "docker load",
                "Loaded image: courselab.invalid/kindest/node:v1.35.8\n",
            )
            .answer("docker image inspect", "sha256:c0f1\n");
        let mut written = 0;
        let loaded = load_image(&host, tag, &ids, || {
            written += 1;
            Ok("/tmp/node.tar".into())
        })
        .unwrap();
        assert_eq!((loaded, written), (Loaded::Loaded, 1));
        insta::assert_snapshot!(host.transcript(), @r"
        docker image inspect --format {{.Id}} courselab.invalid/kindest/node:v1.35.8
        docker load --input /tmp/node.tar
        docker image inspect --format {{.Id}} courselab.invalid/kindest/node:v1.35.8
        ");
        // The containerd image store names it by its manifest: there already, nothing written.
        let host = Recorded::default();
        host.answer("docker image inspect", "sha256:3a4b\n");
        let loaded = load_image(&host, tag, &ids, || panic!("nothing to write")).unwrap();
        assert_eq!(loaded, Loaded::Present);
        // Another image under the tag after loading: refused, with the way out.
        let host = Recorded::default();
        host.answer("docker image inspect", "sha256:9999\n")
            .answer("docker load", "")
            .answer("docker image inspect", "sha256:9999\n");
        let err = load_image(&host, tag, &ids, || Ok("/tmp/node.tar".into()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("holds sha256:9999 under that tag")
                && err.contains("docker rmi courselab.invalid/kindest/node:v1.35.8"),
            "{err}"
        );
        // Docker down: said so, not taken for "not loaded".
        let host = Recorded::default();
        host.fail("docker image inspect", 1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n");
        let err = load_image(&host, tag, &ids, || panic!("nothing to write"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("Cannot connect to the Docker daemon"), "{err}");
    }

    #[test]
    fn a_bundles_node_and_registry_images_and_chart_file_are_what_kind_docker_and_helm_use() {
        let mut p = plan();
        p.registry_image = "courselab.invalid/library/registry:3".into();
        p.node_image = Some("courselab.invalid/kindest/node:v1.35.8".into());
        let host = Recorded::default();
        host.fail(
            "docker inspect --type container kind-registry",
            1,
            "[]\n",
            NO_SUCH,
        )
        .answer("docker run", "4f1c0e\n")
        .fail("kind get clusters", 0, "", "No kind clusters found.\n")
        .answer("kind create cluster", "")
        .fail("helm status", 1, "", "Error: release: not found\n")
        .answer("helm upgrade", "");
        ensure_registry(&host, &p).unwrap();
        ensure_cluster(&host, &p).unwrap();
        install_kyverno(
            &host,
            &p.context(),
            Chart::File("/work/.lab/ch14/kyverno-3.9.0.tgz"),
            "3.9.0",
            &["admissionController.container.image.registry=kind-registry:5000".into()],
        )
        .unwrap();
        insta::assert_snapshot!(host.transcript(), @r"
        docker inspect --type container kind-registry
        docker run -d --restart=always -p 127.0.0.1:5001:5000 --network bridge --name kind-registry --label dev.courselab.lab=ch14 courselab.invalid/library/registry:3
        kind get clusters
        kind create cluster --name courselab-ch14 --config - --wait 120s --image courselab.invalid/kindest/node:v1.35.8 <<< kind: Cluster
        helm status kyverno --namespace kyverno --kube-context kind-courselab-ch14 -o json
        helm upgrade --install kyverno /work/.lab/ch14/kyverno-3.9.0.tgz --namespace kyverno --create-namespace --kube-context kind-courselab-ch14 --set admissionController.container.image.registry=kind-registry:5000
        ");
    }

    #[test]
    fn delete_removes_only_the_images_the_lab_loaded_under_its_own_tags() {
        let host = Recorded::default();
        host.answer("docker image inspect", "sha256:c0f1\n")
            .answer(
                "docker rmi courselab.invalid/kindest/node:v1.35.8",
                "Untagged: courselab.invalid/kindest/node:v1.35.8\n",
            )
            .fail(
                "docker image inspect",
                1,
                "",
                "Error response from daemon: No such image: courselab.invalid/library/registry:3\n",
            );
        let lines = remove_images(
            &host,
            &[
                "courselab.invalid/kindest/node:v1.35.8".into(),
                "courselab.invalid/library/registry:3".into(),
                "kindest/node:v1.35.8".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            lines,
            [
                "image courselab.invalid/kindest/node:v1.35.8: removed",
                "image kindest/node:v1.35.8: left alone (not a tag of the lab's)"
            ]
        );
        assert!(!host.transcript().contains("docker rmi kindest"));
    }

    #[test]
    fn the_engines_platform_is_read_from_docker() {
        let host = Recorded::default();
        host.answer("docker version", "linux/arm64\n");
        assert_eq!(docker_platform(&host).unwrap(), "linux/arm64");
        let host = Recorded::default();
        host.answer("docker version", "<no value>\n");
        let err = docker_platform(&host).unwrap_err().to_string();
        assert!(err.contains("not OS/ARCH"), "{err}");
    }

    #[test]
    fn delete_removes_the_cluster_and_only_a_registry_that_is_the_labs() {
        let host = Recorded::default();
        host.answer("kind get clusters", "courselab-ch14\nother\n")
            .answer("kind delete cluster", "")
            .answer(
                "docker inspect --type container kind-registry",
                &container(true, Some("ch15"), &["kind"]),
            );
        let deleted = delete(&host, &plan(), "courselab-ch14").unwrap();
        assert_eq!(deleted, ["kind cluster courselab-ch14: deleted"]);
        assert!(!host.transcript().contains("docker rm"));
    }

    // Delete trusted that the state recorded *a* created cluster and deleted the cluster the
    // kind config names now, which may be another one.
    #[test]
    fn delete_and_stop_leave_a_cluster_the_lab_did_not_record_creating() {
        type Run = fn(&Recorded, &KindPlan, &str) -> Result<Vec<String>, BackendError>;
        for run in [delete as Run, stop as Run] {
            let host = Recorded::default();
            host.answer("kind get clusters", "courselab-ch14\n").answer(
                "docker inspect --type container kind-registry",
                &container(true, Some("ch15"), &["kind"]),
            );
            let lines = run(&host, &plan(), "courselab-ch14-old").unwrap();
            assert_eq!(
                lines,
                [
                    "kind cluster courselab-ch14: left alone (the lab's state records creating the cluster `courselab-ch14-old`, not this one; `kind delete cluster --name courselab-ch14` deletes it if it is yours to delete)"
                ]
            );
            let calls = host.transcript();
            assert!(
                !calls.contains("kind delete") && !calls.contains("docker stop"),
                "{calls}"
            );
        }
    }
}
