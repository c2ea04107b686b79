//! No cluster and no registry: the backends of a lab that is not started here. Checks that
//! read only the working folder still decide; the others say that they could not look.

use serde_json::Value;

use super::observe::{Cluster, DryRun, ObserveError, PodView, Registry, RolloutView, Verification};
use crate::supply::Digest;

/// The absent cluster and registry.
pub struct Offline;

fn absent<T>(what: &str) -> Result<T, ObserveError> {
    Err(ObserveError::Unreachable {
        what: what.to_owned(),
        reason: "the lab is not started in this folder".into(),
    })
}

impl Cluster for Offline {
    async fn workload_images(
        &self,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<Option<Vec<(String, String)>>, ObserveError> {
        absent("the cluster")
    }
    async fn pods(&self, _: &str, _: &str) -> Result<Vec<PodView>, ObserveError> {
        absent("the cluster")
    }
    async fn rollouts(&self, _: &str, _: &str) -> Result<Vec<RolloutView>, ObserveError> {
        absent("the cluster")
    }
    async fn cluster_policy(&self, _: &str) -> Result<Option<Value>, ObserveError> {
        absent("the cluster")
    }
    async fn policy_reports(&self, _: &str) -> Result<Vec<Value>, ObserveError> {
        absent("the cluster")
    }
    async fn policy_exceptions(&self) -> Result<Vec<Value>, ObserveError> {
        absent("the cluster")
    }
    async fn webhook_configurations(&self) -> Result<Vec<String>, ObserveError> {
        absent("the cluster")
    }
    async fn dry_run_create(&self, _: &Value) -> Result<DryRun, ObserveError> {
        absent("the cluster")
    }
}

impl Registry for Offline {
    async fn resolve(&self, _: &str) -> Result<Option<Digest>, ObserveError> {
        absent("the lab registry")
    }
    async fn verify(&self, _: &str, _: Option<&str>) -> Result<Verification, ObserveError> {
        absent("the lab registry")
    }
}
