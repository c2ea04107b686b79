//! The real backends: the cluster through kube-rs, the lab registry through `supply`, and the
//! learner's working folder; and the lab's own objects applied, switched and removed.

pub mod apply;
pub mod cluster;
pub mod doctor;
pub mod error;
pub mod host;
pub mod kind;
pub mod kubeconfig;
pub mod registry;
pub mod seed;
pub mod shell;
pub mod state;
pub mod watch;
pub mod workdir;

pub use cluster::KubeCluster;
pub use error::BackendError;
pub use registry::LabRegistry;
pub use workdir::FileWorkdir;
