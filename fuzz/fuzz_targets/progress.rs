//! A learner's progress record (`.lab/<chapter>/progress.json`): the learner writes it, and an
//! instructor's `lab` reads it. Parsed, its chain verified, its current step and quiz read.

#![no_main]

use courselab::record::Progress;
use libfuzzer_sys::fuzz_target;

const STEPS: [&str; 3] = ["write-notes", "pin-app", "quiz"];

fuzz_target!(|data: &[u8]| {
    if let Ok(progress) = serde_json::from_slice::<Progress>(data) {
        let _ = progress.verify(&STEPS);
        let _ = progress.current(&STEPS);
        let _ = progress.passed(&STEPS);
        let _ = progress.hints_shown("pin-app");
        let _ = progress.first_quiz();
    }
});
