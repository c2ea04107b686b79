//! Kyverno policies: the model of `ClusterPolicy`/`Policy` and Kyverno's pattern matching.

pub mod model;
pub mod wildcard;
