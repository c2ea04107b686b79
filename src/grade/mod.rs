//! Grading: pure functions from a lab, a learner's record and check results to points, with
//! no terminal and no cluster. The done-when scorer and quiz judging live here, so that the
//! walkthrough, `lab status` and the grader score the same way. (The reporters in `checks`
//! and `rehearsal` render results.)

pub mod checks;
pub mod done_when;
mod error;
pub mod quiz;
pub mod rehearsal;

pub use error::GradeError;
