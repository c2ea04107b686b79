//! A Kyverno policy file: validated in a lab's context as `lab validate` does, rendered into
//! each rollout mode as `lab test` does, then, as `lab admit --policy` does once the policy
//! passes validation, evaluated against the chapter's resources.

#![no_main]

use courselab::content::model::FailureMode;
use courselab::policy::model::KyvernoPolicy;
use courselab::policy::render::{apply_mode, substitute};
use libfuzzer_sys::fuzz_target;

const REL: &str = "labs/mini/policies/verify-images.yaml";

fuzz_target!(|data: &[u8]| {
    let Some(errors) = courselab_fuzz::validate_in_course(REL, data, &[]) else {
        return;
    };
    let text = std::str::from_utf8(data).expect("validate_in_course took it as UTF-8");
    for mode in [FailureMode::Audit, FailureMode::Enforce] {
        if let Ok(rendered) = apply_mode(REL, text, mode) {
            let _ = serde_saphyr::from_multiple::<KyvernoPolicy>(&rendered);
        }
    }
    if errors > 0 {
        return;
    }
    let Ok(text) = substitute(REL, text, &courselab_fuzz::VALUES) else {
        return;
    };
    if let Ok(policies) = serde_saphyr::from_multiple::<KyvernoPolicy>(&text) {
        courselab_fuzz::admit(&courselab_fuzz::RESOURCES, &policies);
    }
});
