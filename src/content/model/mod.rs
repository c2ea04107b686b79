//! The typed course model: labs, quizzes, answer keys and kind cluster configs.

mod kind_config;
mod lab;
mod quiz;
mod spanned;

pub use crate::policy::model::FailureMode;
pub use crate::spanned::Spanned;
pub use kind_config::*;
pub use lab::*;
pub use quiz::*;
pub use spanned::{LabId, RelPath};
