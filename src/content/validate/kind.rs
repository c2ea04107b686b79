//! Rules for kind cluster configs and for how the lab's registry is wired into the cluster.
//!
//! kind's local-registry pattern (kind docs "Local Registry", `kind-with-registry.sh`): the
//! nodes' containerd reads per-registry `hosts.toml` files from `/etc/containerd/certs.d`, which
//! a containerd config patch enables (kind node images from v0.27 enable it already); the older
//! `registry.mirrors` patch is deprecated in containerd but still read by kind's 1.x nodes.
//! Inside the cluster `localhost` is the node or the pod itself, so images that Kyverno must
//! fetch signatures for are named by a host both nodes and pods resolve, e.g. `kind-registry:5000`.

use crate::content::diagnostic::Diagnostic;
use crate::content::load::at;
use crate::content::model::{KindCluster, Lab};
use crate::supply::ImageRef;

const KIND_REGISTRY_DOC: &str = "kind docs site/content/docs/user/local-registry.md";
const CERTS_D: &str = "/etc/containerd/certs.d";

pub(super) fn check_config(file: &str, config: &KindCluster, out: &mut Vec<Diagnostic>) {
    if config.api_version.as_str() != "kind.x-k8s.io/v1alpha4" {
        out.push(
            Diagnostic::error(
                "kind/api-version",
                file,
                at(&config.api_version),
                format!("kind does not read `{}`", config.api_version.value),
            )
            .help("use `apiVersion: kind.x-k8s.io/v1alpha4`"),
        );
    }
    if config.kind.as_str() != "Cluster" {
        out.push(
            Diagnostic::error(
                "kind/api-version",
                file,
                at(&config.kind),
                format!("kind `{}` is not a kind config", config.kind.value),
            )
            .help("use `kind: Cluster`"),
        );
    }
    for patch in &config.containerd_config_patches {
        if let Err(e) = patch.parse::<toml::Table>() {
            out.push(
                Diagnostic::error(
                    "kind/bad-containerd-patch",
                    file,
                    at(patch),
                    format!("this containerd patch is not valid TOML: {}", e.message()),
                )
                .help("fix the TOML; kind merges it into every node's /etc/containerd/config.toml"),
            );
        }
    }
}

/// What the containerd patches say about registries.
#[derive(Default)]
struct RegistryWiring {
    config_path: Option<String>,
    mirrors: Vec<String>,
}

fn wiring(config: &KindCluster) -> RegistryWiring {
    let mut wiring = RegistryWiring::default();
    for patch in &config.containerd_config_patches {
        let Ok(table) = patch.parse::<toml::Table>() else {
            continue;
        };
        let registry = table
            .get("plugins")
            .and_then(|p| {
                p.get("io.containerd.grpc.v1.cri")
                    .or_else(|| p.get("io.containerd.cri.v1.images"))
            })
            .and_then(|cri| cri.get("registry"));
        let Some(registry) = registry else { continue };
        if let Some(path) = registry.get("config_path").and_then(toml::Value::as_str) {
            wiring.config_path = Some(path.to_owned());
        }
        if let Some(mirrors) = registry.get("mirrors").and_then(toml::Value::as_table) {
            wiring.mirrors.extend(mirrors.keys().cloned());
        }
    }
    wiring
}

/// The lab's images must come from a registry the nodes can pull from and Kyverno can reach.
pub(super) fn check_registry(
    lab_file: &str,
    lab: &Lab,
    kind_file: &str,
    config: &KindCluster,
    out: &mut Vec<Diagnostic>,
) {
    let registry = &lab.cluster.registry;
    for mirror in &registry.mirrors {
        let host = mirror.split(':').next().unwrap_or_default();
        if host == "localhost" || host.starts_with("127.") {
            out.push(
                Diagnostic::error("kind/localhost-registry", lab_file, at(mirror), format!("`{}` inside the cluster is the node or pod itself, not the lab registry", mirror.value))
                    .help(format!("name the registry by its container on the kind network, e.g. `{}:{}`; push to `localhost:{}` from your machine", registry.name, registry.port, registry.host_port))
                    .reference(KIND_REGISTRY_DOC),
            );
        }
    }
    let Some(var) = lab
        .variables
        .iter()
        .find(|v| v.name.as_str() == "image_registry")
    else {
        out.push(
            Diagnostic::error("kind/registry-mirror", lab_file, (0, 0), "the lab has no `image_registry` variable, so its images' registry is unknown")
                .help("define `image_registry` with the registry host the cluster pulls from as its default"),
        );
        return;
    };
    let Some(default) = &var.default else { return };
    let Ok(image) = ImageRef::parse(&format!("{default}/probe")) else {
        out.push(
            Diagnostic::error(
                "kind/registry-mirror",
                lab_file,
                at(&var.name),
                format!(
                    "the default of `image_registry`, `{default}`, is not a registry host and path"
                ),
            )
            .help("write it as `host:port/path`, e.g. `kind-registry:5000/courselab`"),
        );
        return;
    };
    let wiring = wiring(config);
    let mirrored_by_lab = registry
        .mirrors
        .iter()
        .any(|m| m.as_str() == image.registry);
    if !mirrored_by_lab {
        let listed: Vec<&str> = registry.mirrors.iter().map(|m| m.as_str()).collect();
        out.push(
            Diagnostic::error("kind/registry-mirror", lab_file, at(&var.name), format!("images are pulled from `{}`, but the cluster's registry mirrors are {listed:?}", image.registry))
                .help(format!("add `{}` to `cluster.registry.mirrors`, or change the default of `image_registry` to a mirrored host", image.registry))
                .reference(KIND_REGISTRY_DOC),
        );
    }
    if wiring.config_path.as_deref() == Some(CERTS_D) {
        return;
    }
    if !wiring.mirrors.is_empty() {
        if !wiring.mirrors.contains(&image.registry) {
            out.push(
                Diagnostic::error("kind/registry-mirror", kind_file, (0, 0), format!("the containerd mirror patch covers {:?}, not the lab registry `{}`", wiring.mirrors, image.registry))
                    .help(format!("mirror `{}` instead, or better enable `config_path = \"{CERTS_D}\"` and let the lab write hosts.toml", image.registry))
                    .reference(KIND_REGISTRY_DOC),
            );
        }
        return;
    }
    out.push(
        Diagnostic::error("kind/no-registry-config", kind_file, (0, 0), "the nodes' containerd is not told where the lab registry is")
            .help(format!("add a containerdConfigPatches entry setting `config_path = \"{CERTS_D}\"` under `[plugins.\"io.containerd.grpc.v1.cri\".registry]`"))
            .reference(KIND_REGISTRY_DOC),
    );
}
