//! The `lab` binary: parse the command line, run, exit with the documented code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = courselab::cli::Cli::parse();
    ExitCode::from(courselab::run(cli))
}
