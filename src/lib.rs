//! courselab: the `lab` command that runs and grades the labs of a Kubernetes
//! supply-chain-security course. `main.rs` only calls [`run`].

pub mod atomic;
pub mod backend;
pub mod bundle;
pub mod cli;
pub mod commands;
pub mod content;
pub mod engine;
pub mod error;
pub mod exit_code;
pub mod grade;
pub mod input;
pub mod policy;
pub mod record;
pub mod report;
pub mod runtime;
pub mod spanned;
pub mod submission;
pub mod suite;
pub mod supply;
pub mod terminal;
pub mod text;
pub mod walkthrough;
pub mod wildcard;

use std::io::Write;

use cli::Cli;
pub use commands::{Command, Config};
pub use error::LabError;

/// Runs one command and returns the process exit code; errors are printed to stderr.
pub fn run(cli: Cli) -> u8 {
    let (config, command) = cli.into_command();
    let mut stdout = std::io::stdout().lock();
    match commands::run(&config, command, &mut stdout) {
        Ok(code) => code,
        Err(error) => {
            let code = error.exit_code();
            if code != exit_code::SUCCESS {
                let _ = writeln!(std::io::stderr(), "error: {error}");
            }
            code
        }
    }
}
