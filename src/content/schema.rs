//! JSON Schemas of the course files, generated from the model so that they cannot drift from
//! what `lab` accepts. They are committed under `schemas/`; a test fails when they are stale.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};

use super::model::{AnswerKey, KindCluster, Lab, Quiz};

/// The schemas, as (file name under `schemas/`, pretty JSON with a trailing newline).
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        (
            "lab.schema.json",
            render::<Lab>("courselab lab file (labs/<chapter>/lab.yaml)"),
        ),
        (
            "quiz.schema.json",
            render::<Quiz>("courselab quiz (quizzes/<chapter>.yaml)"),
        ),
        (
            "answer-key.schema.json",
            render::<AnswerKey>("courselab quiz answer key (quizzes/<chapter>.key.yaml)"),
        ),
        (
            "kind-config.schema.json",
            render::<KindCluster>("kind Cluster config as courselab reads it"),
        ),
    ]
}

/// The JSON Schema of `T` titled `title`: pretty JSON with a trailing newline, as committed.
pub fn render<T: JsonSchema>(title: &str) -> String {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let mut schema: Schema = generator.into_root_schema_for::<T>();
    schema.insert("title".into(), title.into());
    serde_json::to_string_pretty(&schema).expect("schemas serialize") + "\n"
}
