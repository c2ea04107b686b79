//! The user's kubeconfig: read like every other input (bounded, regular files only), checked
//! with messages that name the file and line and never quote it, then handed to kube-rs.

pub mod files;
#[cfg(feature = "live")]
pub mod kube;

pub use files::{Kubeconfig, KubeconfigFile, LIMIT};
#[cfg(feature = "live")]
pub use kube::{auth_failure, pinned, to_kube, unusable_token};
