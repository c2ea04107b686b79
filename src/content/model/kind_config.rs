//! A kind cluster configuration (`kind.x-k8s.io/v1alpha4` `Cluster`), as far as a lab uses it.
//! Field names follow kind's own (`sigs.k8s.io/kind/pkg/apis/config/v1alpha4/types.go`).

use schemars::JsonSchema;
use serde::Deserialize;

use super::Spanned;

/// The root of a kind config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KindCluster {
    /// Must be `kind.x-k8s.io/v1alpha4`.
    pub api_version: Spanned<String>,
    /// Must be `Cluster`.
    pub kind: Spanned<String>,
    /// Default cluster name (`kind create cluster --name` overrides it).
    #[serde(default)]
    pub name: Option<String>,
    /// The nodes; one control-plane node when absent.
    #[serde(default)]
    pub nodes: Vec<KindNode>,
    /// Cluster networking settings.
    #[serde(default)]
    pub networking: Option<serde_json::Value>,
    /// Kubernetes feature gates.
    #[serde(default)]
    pub feature_gates: Option<serde_json::Value>,
    /// API server runtime config.
    #[serde(default)]
    pub runtime_config: Option<serde_json::Value>,
    /// TOML snippets merged into every node's containerd config.
    #[serde(default)]
    pub containerd_config_patches: Vec<Spanned<String>>,
    /// kubeadm config patches applied to every node.
    #[serde(default)]
    pub kubeadm_config_patches: Vec<String>,
}

/// One node of the cluster.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KindNode {
    /// `control-plane` or `worker`.
    pub role: String,
    /// The node image, e.g. `kindest/node:v1.35.1`.
    #[serde(default)]
    pub image: Option<String>,
    /// Labels put on the node.
    #[serde(default)]
    pub labels: Option<serde_json::Value>,
    /// Host paths mounted into the node.
    #[serde(default)]
    pub extra_mounts: Vec<serde_json::Value>,
    /// Ports published from the node to the host.
    #[serde(default)]
    pub extra_port_mappings: Vec<serde_json::Value>,
    /// kubeadm config patches for this node.
    #[serde(default)]
    pub kubeadm_config_patches: Vec<String>,
}
