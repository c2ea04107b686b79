//! The `lab` binary: parse the command line, run, exit with the documented code.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: grading a class makes and frees many small values on several threads, where it
/// is markedly faster than the system allocator (`benches/grade.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = courselab::cli::Cli::parse();
    ExitCode::from(courselab::run(cli))
}
