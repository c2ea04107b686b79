//! Bounded reads of the files `lab` is told to read: a manifest given with `-f`, a key given
//! with `--key` or `--set NAME=@FILE`, a course file. Each is checked to be a regular file of a
//! sane size before it is read, and is read through a limit even then, so that `/dev/zero`, a
//! FIFO or a multi-gigabyte file is a clear error and never an out-of-memory abort or a hang.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Limits for the kinds of file `lab` reads.
pub mod limit {
    /// A manifest, policy or other YAML document given on the command line (`-f`, `--policy`).
    pub const MANIFEST: u64 = 4 * 1024 * 1024;
    /// A key, certificate or other PEM file.
    pub const KEY: u64 = 1024 * 1024;
    /// A course file (lab, quiz, policy, manifest, Markdown).
    pub const COURSE_FILE: u64 = 4 * 1024 * 1024;
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Opening or reading failed.
    #[error("cannot read {}: {source}; check that it exists and that you may read it", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The path is a directory, a device, a FIFO or a socket.
    #[error("{} is {what}, not a regular file; give the path of a file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead ("a directory", "a FIFO", ...).
        what: &'static str,
    },
    /// The file is larger than `lab` reads for this purpose.
    #[error("{} is {} bytes, more than the {} bytes `lab` reads for {purpose}; is it the right file?", path.display(), size, limit)]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// Its size, or the limit plus one when it grew while being read.
        size: u64,
        /// The limit.
        limit: u64,
        /// What the file was read for ("a manifest").
        purpose: &'static str,
    },
    /// The file is not UTF-8 text.
    #[error("{} is not UTF-8 text; save it as UTF-8", path.display())]
    NotUtf8 {
        /// The path.
        path: PathBuf,
    },
}

/// What a non-regular file is, in words.
pub fn file_type_noun(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// Reads the regular file at `path` (following symbolic links, as a user-named path may be
/// one), refusing anything else or anything over `limit` bytes.
pub fn read_bytes(path: &Path, limit: u64, purpose: &'static str) -> Result<Vec<u8>, InputError> {
    let unreadable = |source| InputError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let meta = regular_file(path)?;
    if meta.len() > limit {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
            size: meta.len(),
            limit,
            purpose,
        });
    }
    // The file may have been replaced between the check and the open; the limit still holds.
    let file = std::fs::File::open(path).map_err(unreadable)?;
    // Sized as the file was (one read fills it; it still grows if the file did).
    let capacity = usize::try_from(meta.len().min(limit)).unwrap_or(0);
    read_limited(file, limit, purpose, path, capacity)
}

/// The metadata of `path`, which must be a regular file: a directory, a device or a FIFO
/// (whose open would wait for a writer) is refused before it is opened.
fn regular_file(path: &Path) -> Result<std::fs::Metadata, InputError> {
    let meta = std::fs::metadata(path).map_err(|source| InputError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    if !meta.is_file() {
        return Err(InputError::NotAFile {
            path: path.to_owned(),
            what: file_type_noun(meta.file_type()),
        });
    }
    Ok(meta)
}

/// Opens the regular file at `path` to be streamed (a file too large to read whole, such as a
/// venue bundle), with [`read_bytes`]'s checks but no size limit: the reader sets its own.
pub fn open_file(path: &Path) -> Result<std::fs::File, InputError> {
    regular_file(path)?;
    std::fs::File::open(path).map_err(|source| InputError::Unreadable {
        path: path.to_owned(),
        source,
    })
}

/// Reads the regular file at `path` as UTF-8 text, as [`read_bytes`] does.
pub fn read_text(path: &Path, limit: u64, purpose: &'static str) -> Result<String, InputError> {
    let bytes = read_bytes(path, limit, purpose)?;
    String::from_utf8(bytes).map_err(|_| InputError::NotUtf8 {
        path: path.to_owned(),
    })
}

/// Reads standard input as UTF-8 text, up to `limit` bytes.
pub fn read_stdin_text(limit: u64, purpose: &'static str) -> Result<String, InputError> {
    let path = Path::new("standard input");
    let bytes = read_limited(std::io::stdin().lock(), limit, purpose, path, 0)?;
    String::from_utf8(bytes).map_err(|_| InputError::NotUtf8 {
        path: path.to_owned(),
    })
}

fn read_limited(
    reader: impl Read,
    limit: u64,
    purpose: &'static str,
    path: &Path,
    capacity: usize,
) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::with_capacity(capacity.saturating_add(1));
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
            size: limit + 1,
            limit,
            purpose,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_refused_before_it_is_read() {
        // /dev/zero as `-f` once read until memory ran out.
        let err = read_bytes(Path::new("/dev/zero"), limit::MANIFEST, "a manifest").unwrap_err();
        assert!(
            matches!(
                err,
                InputError::NotAFile {
                    what: "a device",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_directory_is_not_a_file() {
        let dir = std::env::temp_dir();
        let err = read_bytes(&dir, 10, "a key").unwrap_err();
        assert!(matches!(
            err,
            InputError::NotAFile {
                what: "a directory",
                ..
            }
        ));
        assert!(
            err.to_string().ends_with("give the path of a file"),
            "{err}"
        );
    }

    #[test]
    fn a_file_over_the_limit_names_its_size_and_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        std::fs::write(&path, vec![b'a'; 11]).unwrap();
        let err = read_bytes(&path, 10, "a manifest").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is 11 bytes, more than the 10 bytes `lab` reads for a manifest; is it the right file?",
                path.display()
            )
        );
        assert_eq!(read_bytes(&path, 11, "a manifest").unwrap().len(), 11);
    }

    #[test]
    fn a_reader_that_never_ends_stops_at_the_limit() {
        let err =
            read_limited(std::io::repeat(b'x'), 1000, "a manifest", Path::new("x"), 0).unwrap_err();
        assert!(matches!(err, InputError::TooLarge { size: 1001, .. }));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_opening_it() {
        // Opening a FIFO with no writer blocks forever; the type check comes first.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe");
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        let err = read_text(&path, 10, "a key").unwrap_err();
        assert!(
            matches!(err, InputError::NotAFile { what: "a FIFO", .. }),
            "{err}"
        );
    }
}
