//! A lab's state (`.lab/<chapter>/state.json`), which any program in the working folder can
//! write: parsed as the state of ch14's folder, refused when it names another chapter, and a
//! state that is accepted survives being written back (as `lab stop` and `lab start` do).

#![no_main]

use std::path::Path;

use courselab::backend::BackendError;
use courselab::backend::state::LabState;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new(".lab/ch14/state.json");
    match LabState::parse(path, text, "ch14") {
        Ok(state) => {
            assert_eq!(state.chapter, "ch14");
            let saved = serde_json::to_string_pretty(&state).expect("a state serializes");
            let back = LabState::parse(path, &saved, "ch14").expect("a saved state reads back");
            assert_eq!(
                serde_json::to_value(&state).unwrap(),
                serde_json::to_value(&back).unwrap()
            );
        }
        Err(error) => {
            let message = error.to_string();
            assert!(
                !message.contains('\u{1b}'),
                "an escape reached the terminal: {message:?}"
            );
            if let BackendError::ForeignState(_) = error {
                assert!(message.contains("run `lab start ch14`"), "{message}");
            }
        }
    }
});
