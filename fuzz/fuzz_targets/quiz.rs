//! A quiz, validated against the lab that names it and its answer key.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    courselab_fuzz::validate_in_course("quizzes/mini.yaml", data, &["quizzes/mini.key.yaml"]);
});
