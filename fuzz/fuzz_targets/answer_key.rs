//! A quiz answer key, validated against its quiz.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    courselab_fuzz::validate_in_course("quizzes/mini.key.yaml", data, &["quizzes/mini.yaml"]);
});
