//! Grading: pure functions from a lab, a learner's record and check results to points, with
//! no terminal and no cluster. The done-when scorer, quiz judging and the rehearsal's verdicts
//! live here, so that the walkthrough, `lab status` and the grader score the same way; the
//! reporters in `crate::report` write the results down.

pub mod anonymize;
pub mod class;
pub mod done_when;
mod error;
pub mod quiz;
pub mod rehearsal;
pub mod roster;
pub mod summary;

pub use error::GradeError;
