//! The command line: clap's types (`args`) and their one conversion into the validated command
//! (`into`). Nothing below this module imports clap.

mod args;
mod into;

pub use args::*;
