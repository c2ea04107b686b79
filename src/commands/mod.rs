//! One module per subcommand: each gathers inputs, calls the engine, and hands the result to a
//! reporter. They return an exit code or a [`crate::LabError`].

pub mod admit;
pub mod list;
pub mod test;
pub mod validate;
pub mod verify;

use std::io::Write;

use crate::LabError;

/// Writes `text` to `out`, mapping failure to [`LabError::Output`].
pub(crate) fn emit(out: &mut impl Write, text: &str) -> Result<(), LabError> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| LabError::Output {
            what: "the report".into(),
            source,
        })
}
