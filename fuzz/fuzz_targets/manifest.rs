//! A Kubernetes manifest: validated in a lab's context as `lab validate` does, then read as
//! `lab admit -f` reads it and admitted against the chapter's policies in both modes.

#![no_main]

use std::sync::LazyLock;

use courselab::content::model::FailureMode;
use courselab::policy::matching::default_namespace;
use courselab::policy::model::KyvernoPolicy;
use courselab::policy::render::{apply_mode, substitute};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The chapter's keyed policies with their placeholders filled: once in Audit, once in Enforce.
static POLICIES: LazyLock<[Vec<KyvernoPolicy>; 2]> = LazyLock::new(|| {
    let dir = courselab_fuzz::repo().join("labs/ch14/policies/keyed");
    [FailureMode::Audit, FailureMode::Enforce].map(|mode| {
        let mut policies = Vec::new();
        for file in ["verify-images.yaml", "verify-attestations.yaml"] {
            let text = std::fs::read_to_string(dir.join(file)).expect("the chapter's policy reads");
            let text = substitute(file, &text, &courselab_fuzz::VALUES)
                .expect("the chapter's placeholders are given");
            let rendered = apply_mode(file, &text, mode).expect("the chapter's policy renders");
            policies.extend(
                serde_saphyr::from_multiple::<KyvernoPolicy>(&rendered)
                    .expect("the chapter's policy parses"),
            );
        }
        policies
    })
});

fuzz_target!(|data: &[u8]| {
    if courselab_fuzz::validate_in_course("labs/mini/manifests/app.yaml", data, &[]).is_none() {
        return;
    }
    let text = std::str::from_utf8(data).expect("validate_in_course took it as UTF-8");
    let Ok(text) = substitute("manifest.yaml", text, &courselab_fuzz::VALUES) else {
        return;
    };
    let Ok(documents) = serde_saphyr::from_multiple::<Value>(&text) else {
        return;
    };
    let objects: Vec<Value> = documents
        .into_iter()
        .filter(|v| !v.is_null())
        .map(|mut v| {
            default_namespace(&mut v);
            v
        })
        .filter(|v| v["kind"].is_string())
        .collect();
    for policies in POLICIES.iter() {
        courselab_fuzz::admit(&objects, policies);
    }
});
