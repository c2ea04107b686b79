//! The submission archive: a gzip-compressed tar of plain files, written deterministically by
//! `lab submit` and read by `lab grade`. A submission comes from a learner, so reading treats it
//! as hostile: it is streamed, never unpacked to disk, and every limit is counted on what the
//! decoder *produces* (a cap on what it reads bounds nothing: a few kilobytes of gzip inflate to
//! gigabytes). Only regular files with plain relative names are accepted; links, devices, FIFOs,
//! directories, duplicates, `..`, absolute and non-UTF-8 names are each refused with the reason.
//! The tar crate is pinned at 0.4.45 or later, where PAX sizes are read as other tars read them
//! (RUSTSEC-2026-0068).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use tar::EntryType;

use crate::text::printable as sanitize;

/// `bytes` as text, each byte that is not part of UTF-8 written `\xNN`, so that a name that is
/// not UTF-8 is shown as it is and not as replacement characters.
fn escape_bytes(bytes: &[u8]) -> String {
    let mut text = String::new();
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            text.push_str(&format!("\\x{byte:02x}"));
        }
    }
    text
}

/// What one archive may hold. A limit is exceeded by one byte or entry more, never silently
/// truncated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Compressed bytes read from the file.
    pub compressed_bytes: u64,
    /// Bytes the decoder produces in all (the tar stream: headers, padding and contents).
    pub inflated_bytes: u64,
    /// Bytes of one file.
    pub entry_bytes: u64,
    /// Entries of any kind.
    pub entries: usize,
    /// Inflated bytes per compressed byte, judged once more than [`RATIO_GRACE`] bytes were
    /// inflated (a small archive of one short file compresses badly either way).
    pub ratio: u64,
}

/// Inflated bytes below which the compression ratio is not judged.
pub const RATIO_GRACE: u64 = 1 << 20;

impl Default for Limits {
    /// Generous for a chapter's evidence (ch14's bundle is well under a megabyte; a syft SBOM of
    /// a large image a few), tight enough that a bomb stops within a second.
    fn default() -> Self {
        Limits {
            compressed_bytes: 64 << 20,
            inflated_bytes: 256 << 20,
            entry_bytes: 64 << 20,
            entries: 4096,
            ratio: 200,
        }
    }
}

/// Why an archive was refused. Names in messages are sanitized: they come from the learner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveError {
    /// The file does not start as gzip does.
    NotGzip,
    /// The gzip or tar stream ends early or is corrupt.
    Corrupt(String),
    /// The compressed file is larger than allowed.
    TooLarge { limit: u64 },
    /// The archive inflates to more than allowed.
    InflatesTooMuch { limit: u64 },
    /// The archive inflates more than `ratio` times its compressed size.
    Ratio { ratio: u64 },
    /// More entries than allowed.
    TooManyEntries { limit: usize },
    /// One file larger than allowed.
    EntryTooLarge { path: String, size: u64, limit: u64 },
    /// An entry that is not a regular file, in an archive called `noun`.
    NotAFile {
        path: String,
        kind: String,
        noun: &'static str,
    },
    /// A name that is not a plain relative path.
    BadName { path: String, reason: &'static str },
    /// The same name twice.
    Duplicate { path: String },
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveError::NotGzip => write!(
                f,
                "it is not a gzip file (a submission is the .tar.gz `lab submit` writes)"
            ),
            ArchiveError::Corrupt(why) => {
                write!(f, "it is truncated or corrupt: {}", sanitize(why))
            }
            ArchiveError::TooLarge { limit } => {
                write!(f, "it is larger than {} MiB", limit >> 20)
            }
            ArchiveError::InflatesTooMuch { limit } => write!(
                f,
                "it inflates to more than {} MiB (a decompression bomb, or not a submission)",
                limit >> 20
            ),
            ArchiveError::Ratio { ratio } => write!(
                f,
                "it inflates more than {ratio} times its size (a decompression bomb, or not a submission)"
            ),
            ArchiveError::TooManyEntries { limit } => {
                write!(f, "it holds more than {limit} entries")
            }
            ArchiveError::EntryTooLarge { path, size, limit } => write!(
                f,
                "`{}` is {size} bytes, more than the {} MiB one file may be",
                sanitize(path),
                limit >> 20
            ),
            ArchiveError::NotAFile { path, kind, noun } => write!(
                f,
                "`{}` is {kind}; a {noun} holds only regular files",
                sanitize(path)
            ),
            ArchiveError::BadName { path, reason } => {
                write!(f, "the entry named `{}` {reason}", sanitize(path))
            }
            ArchiveError::Duplicate { path } => {
                write!(f, "`{}` appears twice", sanitize(path))
            }
        }
    }
}

impl std::error::Error for ArchiveError {}

/// The files of an archive, by name, in name order.
pub type Files = BTreeMap<String, Vec<u8>>;

/// The longest name accepted, in bytes.
const NAME_LIMIT: usize = 200;
/// The deepest name accepted, in components.
const DEPTH_LIMIT: usize = 8;

/// Why `name` is not a plain relative file name, if it is not: components of ASCII letters,
/// digits, `.`, `_`, `-` and `+`, none empty or starting with a dot, at most
/// [`DEPTH_LIMIT`] deep. Both the writer and the reader hold names to it, so `lab submit` never
/// writes what `lab grade` refuses.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.len() > NAME_LIMIT {
        return Err("is longer than 200 bytes");
    }
    if name.starts_with('/') {
        return Err("is an absolute path");
    }
    let parts: Vec<&str> = name.split('/').collect();
    if parts.len() > DEPTH_LIMIT {
        return Err("is nested more than 8 folders deep");
    }
    for part in parts {
        if part.is_empty() {
            return Err("has an empty path component (`//` or a trailing `/`)");
        }
        if part == ".." {
            return Err("climbs out of the archive with `..`");
        }
        if part.starts_with('.') {
            return Err("has a component starting with a dot");
        }
        if !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
        {
            return Err("has a character other than letters, digits, `.`, `_`, `-` and `+`");
        }
    }
    Ok(())
}

/// Writes `files` as a gzip-compressed tar: in name order, each a regular file of mode 0644
/// owned by 0:0 with mtime 0, and a gzip header without a name or time, so that the same files
/// always give the same bytes.
pub fn write(files: &Files, out: impl Write) -> io::Result<()> {
    for name in files.keys() {
        check_name(name).map_err(|reason| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a submission cannot hold a file named `{}`: it {reason}",
                    sanitize(name)
                ),
            )
        })?;
    }
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(out, Compression::default());
    let mut builder = tar::Builder::new(gz);
    builder.mode(tar::HeaderMode::Deterministic);
    for (name, data) in files {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(EntryType::Regular);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        builder.append_data(&mut header, name, data.as_slice())?;
    }
    builder.into_inner()?.finish()?.flush()
}

/// What kind of archive is read: how it is stored, and what messages call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A learner's submission: gzip-compressed.
    Submission,
    /// A venue bundle: a plain tar (its images' layers are compressed already).
    Bundle,
}

impl Format {
    /// What the archive is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Format::Submission => "submission",
            Format::Bundle => "bundle",
        }
    }
}

/// Reads a submission archive from `input` within `limits`, every file into memory.
pub fn read(input: impl Read, limits: Limits) -> Result<Files, ArchiveError> {
    let mut files = Files::new();
    walk(input, limits, Format::Submission, |path, size, entry| {
        let mut data = Vec::with_capacity(size.min(1 << 20) as usize);
        entry.read_to_end(&mut data).map_err(|e| explain(&e))?;
        files.insert(path.to_owned(), data);
        Ok::<(), ArchiveError>(())
    })?;
    Ok(files)
}

/// Streams an archive from `input` within `limits`: `each` is handed every file's name, size
/// and contents in archive order, and reads them or not (what it leaves is skipped). Every
/// entry is held to the same rules as [`read`]'s; `each`'s own errors stop the walk. An error
/// reading the contents is told by [`explain`].
pub fn walk<E: From<ArchiveError>>(
    input: impl Read,
    limits: Limits,
    format: Format,
    mut each: impl FnMut(&str, u64, &mut dyn Read) -> Result<(), E>,
) -> Result<(), E> {
    let mut compressed = Counted {
        inner: input,
        read: 0,
        limit: limits.compressed_bytes,
    };
    match format {
        Format::Submission => {
            let mut magic = [0u8; 2];
            if compressed.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
                return Err(ArchiveError::NotGzip.into());
            }
            let decoder = GzDecoder::new(io::Cursor::new(magic).chain(compressed));
            let inflated = Inflated {
                inner: decoder,
                produced: 0,
                limits,
            };
            entries(inflated, limits, format, &mut each)
        }
        Format::Bundle => entries(compressed, limits, format, &mut each),
    }
}

/// What [`walk`] hands each file to: its name, size and contents.
type EachEntry<'a, E> = dyn FnMut(&str, u64, &mut dyn Read) -> Result<(), E> + 'a;

/// The tar entries of `stream`, each checked, then handed to `each`.
fn entries<E: From<ArchiveError>>(
    stream: impl Read,
    limits: Limits,
    format: Format,
    each: &mut EachEntry<'_, E>,
) -> Result<(), E> {
    let mut archive = tar::Archive::new(stream);
    let mut count = 0usize;
    let mut seen = std::collections::HashSet::new();
    let entries = archive.entries().map_err(|e| explain(&e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| explain(&e))?;
        count += 1;
        if count > limits.entries {
            return Err(ArchiveError::TooManyEntries {
                limit: limits.entries,
            }
            .into());
        }
        let raw = entry.path_bytes().into_owned();
        let path = String::from_utf8(raw).map_err(|e| ArchiveError::BadName {
            path: escape_bytes(e.as_bytes()),
            reason: "is not UTF-8",
        })?;
        let kind = entry.header().entry_type();
        if kind != EntryType::Regular {
            return Err(ArchiveError::NotAFile {
                path,
                kind: describe(kind).to_owned(),
                noun: format.noun(),
            }
            .into());
        }
        check_name(&path).map_err(|reason| ArchiveError::BadName {
            path: path.clone(),
            reason,
        })?;
        let size = entry.size();
        if size > limits.entry_bytes {
            return Err(ArchiveError::EntryTooLarge {
                path,
                size,
                limit: limits.entry_bytes,
            }
            .into());
        }
        if !seen.insert(path.clone()) {
            return Err(ArchiveError::Duplicate { path }.into());
        }
        each(&path, size, &mut entry)?;
    }
    // The rest of the stream (the tar's zero padding and the gzip trailer) is read too, within
    // the same limits, so that a truncated file or a wrong checksum is not taken for a whole one.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| explain(&e))?;
    Ok(())
}

fn describe(kind: EntryType) -> &'static str {
    match kind {
        EntryType::Directory => "a directory",
        EntryType::Symlink => "a symbolic link",
        EntryType::Link => "a hard link",
        EntryType::Char => "a character device",
        EntryType::Block => "a block device",
        EntryType::Fifo => "a FIFO",
        EntryType::Continuous => "a contiguous file",
        EntryType::GNUSparse => "a sparse file",
        _ => "an entry of an unknown kind",
    }
}

/// The error a reader raises when a limit is exceeded, carried through the decoders inside an
/// `io::Error` and turned back into an [`ArchiveError`] by [`explain`].
#[derive(Debug)]
struct Exceeded(ArchiveError);

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Exceeded {}

/// What an error reading an archive's stream means: a limit it passed, or a truncated or
/// corrupt archive.
pub fn explain(error: &io::Error) -> ArchiveError {
    if let Some(exceeded) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Exceeded>())
    {
        return exceeded.0.clone();
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof => ArchiveError::Corrupt("it ends early".to_owned()),
        _ => ArchiveError::Corrupt(error.to_string()),
    }
}

/// Counts what is read from the file and fails past its limit.
struct Counted<R> {
    inner: R,
    read: u64,
    limit: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(io::Error::other(Exceeded(ArchiveError::TooLarge {
                limit: self.limit,
            })));
        }
        Ok(n)
    }
}

/// The decoder's output, counted: fails once it produced more than the limit, or more than the
/// ratio allows for what was read so far.
struct Inflated<R> {
    inner: GzDecoder<io::Chain<io::Cursor<[u8; 2]>, Counted<R>>>,
    produced: u64,
    limits: Limits,
}

impl<R: Read> Read for Inflated<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        if self.produced > self.limits.inflated_bytes {
            return Err(io::Error::other(Exceeded(ArchiveError::InflatesTooMuch {
                limit: self.limits.inflated_bytes,
            })));
        }
        let read = self.inner.get_ref().get_ref().1.read.max(1);
        if self.produced > RATIO_GRACE && self.produced / read > self.limits.ratio {
            return Err(io::Error::other(Exceeded(ArchiveError::Ratio {
                ratio: self.limits.ratio,
            })));
        }
        Ok(n)
    }
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
