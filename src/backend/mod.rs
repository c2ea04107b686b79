//! The real backends: the cluster through kube-rs, the lab registry through `supply`, and the
//! learner's working folder; and the lab's own objects applied, switched and removed. The
//! files these read before any of that (the kubeconfig, the lab's state) are parsed by the
//! modules here that build without the `live` feature, so that they can be fuzzed.

#[cfg(feature = "live")]
pub mod apply;
#[cfg(feature = "live")]
pub mod cluster;
#[cfg(feature = "live")]
pub mod doctor;
pub mod error;
#[cfg(feature = "live")]
pub mod host;
#[cfg(feature = "live")]
pub mod kind;
pub mod kubeconfig;
#[cfg(feature = "live")]
pub mod registry;
#[cfg(feature = "live")]
pub mod seed;
#[cfg(feature = "live")]
pub mod shell;
pub mod state;
#[cfg(feature = "live")]
pub mod watch;
#[cfg(feature = "live")]
pub mod workdir;

#[cfg(feature = "live")]
pub use cluster::KubeCluster;
pub use error::BackendError;
#[cfg(feature = "live")]
pub use registry::LabRegistry;
#[cfg(feature = "live")]
pub use workdir::FileWorkdir;
