//! `lab render CHAPTER FILE`: prints one of the lab's files with the lab's values filled in
//! (the state's `--set` values, then the command line's), e.g. to `kubectl apply -f -` it.

use std::io::Write;

use super::Config;
use super::emit;
use super::session::Session;
use crate::error::LabError;
use crate::exit_code;

/// Runs `lab render`.
pub fn run(
    config: &Config,
    chapter: &str,
    file: &str,
    set: &[(String, String)],
    out: &mut impl Write,
) -> Result<u8, LabError> {
    let session = Session::open(config, Some(chapter), set)?;
    let rel = session.chapter.resolve(file)?;
    let text = session.chapter.text(&rel)?;
    let filled = session.chapter.fill_file(&rel, text, &session.values)?;
    emit(out, &filled)?;
    Ok(exit_code::SUCCESS)
}
