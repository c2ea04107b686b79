//! The real backends: the cluster through kube-rs, the lab registry through `supply`, and the
//! learner's working folder; and the lab's own objects applied, switched and removed. What
//! needs no cluster builds without the `live` feature: the working folder, the lab registry
//! (or an OCI layout standing in for it), the check runner, a submission as backends (for the
//! grader), and the files read before any of that (the kubeconfig, the lab's state), so that
//! they can be fuzzed.

#[cfg(feature = "live")]
pub mod apply;
#[cfg(feature = "live")]
pub mod cluster;
#[cfg(feature = "live")]
pub mod doctor;
pub mod error;
pub mod host;
#[cfg(feature = "live")]
pub mod kind;
pub mod kubeconfig;
pub mod registry;
pub mod runner;
#[cfg(feature = "live")]
pub mod seed;
#[cfg(feature = "live")]
pub mod shell;
pub mod state;
pub mod submission;
#[cfg(feature = "live")]
pub mod views;
#[cfg(feature = "live")]
pub mod watch;
pub mod workdir;

#[cfg(feature = "live")]
pub use cluster::KubeCluster;
pub use error::BackendError;
pub use registry::LabRegistry;
pub use workdir::FileWorkdir;

/// The config label that carries a learner token's nonce in the images `lab start --token`
/// seeds, so that each learner's images (and the digest they promote) are their own; the
/// grader reads it back from a submission's layout.
pub const NONCE_LABEL: &str = "dev.courselab.nonce";
