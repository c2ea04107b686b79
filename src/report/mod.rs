//! Results become text here: every reporter of `lab`, one model each, so that what a person
//! reads and what a machine parses (JSON with its `schema_version`, JUnit, GitHub annotations)
//! are written in one place, below the commands that gather the results.

pub mod admit;
pub mod canvas;
pub mod checks;
#[cfg(test)]
mod class_fixture;
pub mod class_report;
#[cfg(feature = "live")]
pub mod doctor;
mod format;
pub mod grade;
pub mod grade_junit;
pub mod gradebook;
pub mod gradescope;
pub mod html;
mod json;
pub mod junit;
pub mod list;
pub mod quiz;
pub mod rehearsal;
pub mod suite;
pub mod validation;
pub mod verify;

pub use format::{Format, Unsupported};
