//! Results become reports: check results rendered for people and for machines. (Scoring and
//! evidence bundles join this layer with grading.)

pub mod checks;
pub mod rehearsal;
