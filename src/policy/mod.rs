//! Kyverno policies: the model of `ClusterPolicy`/`Policy`, Kyverno's pattern matching,
//! auto-generated controller rules, and which rules apply to a request.

pub mod autogen;
pub mod matching;
pub mod model;
pub mod render;
pub mod wildcard;
