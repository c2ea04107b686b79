//! Kyverno policies: the model of `ClusterPolicy`/`Policy`, Kyverno's pattern matching,
//! auto-generated controller rules, which rules apply to a request, rendering of a lab's
//! policy pack, and the offline admission evaluator.

pub mod autogen;
pub mod conditions;
pub mod crd;
pub mod denial;
pub mod evaluate;
pub mod fetch;
mod go_values;
pub mod image_metadata;
pub mod jmespath;
pub mod kyverno_config;
pub mod matching;
pub mod model;
pub mod mutate_images;
pub mod render;
pub mod validate_images;
pub mod verify_entry;
