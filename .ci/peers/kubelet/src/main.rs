//! A kubelet stand-in for `.ci/peers/cluster`, whose control plane has no nodes: it watches every
//! Pod and reports it as a kubelet would once its containers run, with
//! `containerStatuses[].imageID` set to `<image repository>@<digest>`, the digest the registry
//! serves for the image's tag (or the digest the image names). An image the registry does not
//! have leaves its Pod Pending with `ErrImagePull`, as a failed pull would. It is test
//! infrastructure, not part of `lab`.
//!
//! Usage: `courselab-kubelet --kubeconfig FILE --registry 127.0.0.1:PORT [--mirror HOST=ADDR]...`
//! Images whose host is the registry's address are pulled from it; `--mirror kind-registry:5000=
//! 127.0.0.1:PORT` also answers for the name a kind cluster uses. Other hosts cannot be pulled.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{Container, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Where each image host is pulled from (host as written in the image -> registry address).
struct Registries {
    hosts: BTreeMap<String, String>,
    http: reqwest::Client,
}

/// An image as a container names it, split the way a registry is asked for it.
#[derive(Debug, PartialEq)]
struct ImageName {
    host: String,
    repository: String,
    /// The tag, or the digest when the image names one (a digest wins over a tag, as in containerd).
    reference: String,
}

impl ImageName {
    fn parse(image: &str) -> ImageName {
        let (name, digest) = match image.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (image, None),
        };
        let (name, tag) = match name.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, t),
            _ => (name, "latest"),
        };
        let (host, repository) = match name.split_once('/') {
            Some((h, r)) if h.contains('.') || h.contains(':') || h == "localhost" => {
                (h.to_owned(), r.to_owned())
            }
            Some(_) => ("docker.io".to_owned(), name.to_owned()),
            None => ("docker.io".to_owned(), format!("library/{name}")),
        };
        ImageName {
            host,
            repository,
            reference: digest.unwrap_or(tag).to_owned(),
        }
    }
}

impl Registries {
    /// The digest the registry serves for the image, as a pull would resolve it.
    async fn resolve(&self, image: &ImageName) -> Result<String, String> {
        let Some(addr) = self.hosts.get(&image.host) else {
            return Err(format!(
                "no registry is reachable for {} on this cluster",
                image.host
            ));
        };
        let url = format!(
            "http://{addr}/v2/{}/manifests/{}",
            image.repository, image.reference
        );
        let accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
        let response = self
            .http
            .head(&url)
            .header("Accept", accept)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: {}", response.status()));
        }
        response
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|d| d.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| format!("{url}: no Docker-Content-Digest header"))
    }
}

/// What a container's status says after its pull: running with its image ID, or waiting.
async fn container_status(registries: &Registries, container: &Container, now: &str) -> Value {
    let image = container.image.clone().unwrap_or_default();
    let name = ImageName::parse(&image);
    match registries.resolve(&name).await {
        Ok(digest) => json!({
            "name": container.name,
            "image": image,
            "imageID": format!("{}/{}@{digest}", name.host, name.repository),
            "ready": true,
            "started": true,
            "restartCount": 0,
            "state": {"running": {"startedAt": now}},
        }),
        Err(reason) => json!({
            "name": container.name,
            "image": image,
            "imageID": "",
            "ready": false,
            "started": false,
            "restartCount": 0,
            "state": {"waiting": {"reason": "ErrImagePull", "message": reason}},
        }),
    }
}

/// The Pod already shows what this stand-in would report for its current spec.
fn up_to_date(pod: &Pod) -> bool {
    let Some(spec) = &pod.spec else { return true };
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref());
    let Some(statuses) = statuses else {
        return false;
    };
    spec.containers.len() == statuses.len()
        && spec
            .containers
            .iter()
            .zip(statuses)
            .all(|(c, s)| c.image.as_deref() == Some(s.image.as_str()))
}

/// A container of the Pod is waiting on a pull that failed (to be tried again, as a kubelet
/// backs off and retries).
fn pull_failed(pod: &Pod) -> bool {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .any(|c| {
            c.state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .is_some_and(|w| w.reason.as_deref() == Some("ErrImagePull"))
        })
}

/// Reports the Pod's status unless it already shows its current spec; `retry` pulls again the
/// images of a Pod whose pull failed.
async fn report(
    pods: &Api<Pod>,
    registries: &Registries,
    pod: &Pod,
    retry: bool,
) -> Result<(), Error> {
    let current = up_to_date(pod) && !(retry && pull_failed(pod));
    if pod.metadata.deletion_timestamp.is_some() || current {
        return Ok(());
    }
    let Some(spec) = &pod.spec else { return Ok(()) };
    let now = jiff::Timestamp::now()
        .round(jiff::Unit::Second)?
        .to_string();
    let mut containers = Vec::new();
    for container in &spec.containers {
        containers.push(container_status(registries, container, &now).await);
    }
    let mut init = Vec::new();
    for container in spec.init_containers.iter().flatten() {
        let mut status = container_status(registries, container, &now).await;
        if status["ready"] == json!(true) {
            status["state"] = json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}});
        }
        init.push(status);
    }
    let pulled = containers
        .iter()
        .chain(&init)
        .all(|s| s["ready"] == json!(true) || s["state"].get("terminated").is_some());
    if retry && !pulled {
        // Still failing: nothing new to report.
        return Ok(());
    }
    let ready = if pulled { "True" } else { "False" };
    let condition = |kind: &str, status: &str| json!({"type": kind, "status": status, "lastTransitionTime": now});
    let patch = json!({"status": {
        "phase": if pulled { "Running" } else { "Pending" },
        "startTime": now,
        "conditions": [
            condition("PodScheduled", "True"),
            condition("Initialized", ready),
            condition("ContainersReady", ready),
            condition("Ready", ready),
        ],
        "containerStatuses": containers,
        "initContainerStatuses": init,
    }});
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    Api::<Pod>::namespaced(pods.clone().into_client(), namespace)
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    println!(
        "{namespace}/{name}: {}",
        if pulled {
            "Running"
        } else {
            "Pending (ErrImagePull)"
        }
    );
    Ok(())
}

struct Args {
    kubeconfig: String,
    hosts: BTreeMap<String, String>,
}

fn args() -> Result<Args, Error> {
    let mut kubeconfig = None;
    let mut hosts = BTreeMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--kubeconfig" => kubeconfig = Some(value()?),
            "--registry" => {
                let addr = value()?;
                hosts.insert(addr.clone(), addr);
            }
            "--mirror" => {
                let pair = value()?;
                let (host, addr) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("--mirror takes HOST=ADDR, not {pair}"))?;
                hosts.insert(host.to_owned(), addr.to_owned());
            }
            other => return Err(format!("unknown argument {other}; see the module docs").into()),
        }
    }
    Ok(Args {
        kubeconfig: kubeconfig.ok_or("--kubeconfig FILE is required")?,
        hosts,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args = args()?;
    let kubeconfig = Kubeconfig::read_from(&args.kubeconfig)?;
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    let client = kube::Client::try_from(config)?;
    let registries = Registries {
        hosts: args.hosts,
        http: reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()?,
    };
    let pods: Api<Pod> = Api::all(client);
    println!("watching pods");
    let events = watcher(pods.clone(), watcher::Config::default())
        .default_backoff()
        .applied_objects();
    let mut events = std::pin::pin!(events);
    // Failed pulls are tried again every 2 s: an image pushed after its Pod was created runs.
    let mut retry = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            event = events.try_next() => {
                let Some(pod) = event? else { return Ok(()) };
                log_error(&pod, report(&pods, &registries, &pod, false).await);
            }
            _ = retry.tick() => {
                let listed = match pods.list(&ListParams::default()).await {
                    Ok(list) => list.items,
                    Err(e) => {
                        eprintln!("listing pods: {e}");
                        continue;
                    }
                };
                for pod in listed.iter().filter(|p| pull_failed(p)) {
                    log_error(pod, report(&pods, &registries, pod, true).await);
                }
            }
        }
    }
}

fn log_error(pod: &Pod, result: Result<(), Error>) {
    if let Err(e) = result {
        eprintln!(
            "{}/{}: {e}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::ImageName;

    fn parsed(image: &str) -> (String, String, String) {
        let n = ImageName::parse(image);
        (n.host, n.repository, n.reference)
    }

    #[test]
    fn image_names_split_as_a_registry_is_asked() {
        let s = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
        assert_eq!(parsed("nginx"), s("docker.io", "library/nginx", "latest"));
        assert_eq!(parsed("acme/app:1"), s("docker.io", "acme/app", "1"));
        assert_eq!(
            parsed("127.0.0.1:5000/courselab/demo:1.4.2"),
            s("127.0.0.1:5000", "courselab/demo", "1.4.2")
        );
        assert_eq!(
            parsed("127.0.0.1:5000/demo"),
            s("127.0.0.1:5000", "demo", "latest")
        );
        assert_eq!(
            parsed("kind-registry:5000/demo:1@sha256:abc"),
            s("kind-registry:5000", "demo", "sha256:abc")
        );
    }
}
