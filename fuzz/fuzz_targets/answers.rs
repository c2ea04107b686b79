//! A quiz answers file (`lab quiz --answers FILE`), read against the fixture course's quiz and
//! judged by its feedback digests.

#![no_main]

use courselab::content::model::Quiz;
use courselab::grade::quiz::{judge, parse_answers};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let quiz_text = std::fs::read_to_string(
        courselab_fuzz::repo().join("tests/fixtures/course-walk/quizzes/walk.yaml"),
    )
    .expect("the fixture quiz reads");
    let quiz: Quiz = serde_saphyr::from_str(&quiz_text).expect("the fixture quiz parses");
    if let Ok(answers) = parse_answers("answers.yaml", text, &quiz) {
        let attempt = judge(&quiz, &answers).expect("the fixture quiz is a practice quiz");
        assert!(attempt.correct <= attempt.questions);
    }
});
