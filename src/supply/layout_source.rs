//! Where an OCI image layout's files come from: a folder on disk, or a map of files in memory
//! (a submission archive's, which the grader never unpacks). [`super::layout::LayoutStore`]
//! reads both through [`Opened::read`], so a layout in memory is held to exactly the limits of
//! one on disk; the folder adds the checks only a file system needs (links out, FIFOs, devices).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::SupplyError;
use super::store::Limit;

/// Files in memory by relative name (`layout/index.json`), as a submission archive holds them
/// (`submission::archive::Files` is the same map).
pub type LayoutFiles = BTreeMap<String, Vec<u8>>;

/// Where a layout is read from.
#[derive(Clone)]
pub enum LayoutSource {
    /// A folder holding `oci-layout`, `index.json` and `blobs/`.
    Dir(PathBuf),
    /// The files named `<prefix>/oci-layout`, `<prefix>/index.json` and
    /// `<prefix>/blobs/<algorithm>/<hex>` of a map (with an empty prefix, the names themselves).
    Files {
        /// The files, shared: a grader opens the same archive's layout once per check.
        files: Arc<LayoutFiles>,
        /// The folder of the layout inside the map, without a trailing `/`.
        prefix: String,
    },
}

impl std::fmt::Debug for LayoutSource {
    /// The folder, or the prefix and how many files there are: not their bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayoutSource::Dir(dir) => f.debug_tuple("Dir").field(dir).finish(),
            LayoutSource::Files { files, prefix } => f
                .debug_struct("Files")
                .field("prefix", prefix)
                .field("files", &files.len())
                .finish(),
        }
    }
}

impl From<PathBuf> for LayoutSource {
    fn from(dir: PathBuf) -> Self {
        LayoutSource::Dir(dir)
    }
}

/// `name` under `prefix` (`prefix/name`, or `name` when the prefix is empty).
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

/// A source ready to read from.
pub(super) enum Opened {
    Dir {
        /// The folder as given, for messages.
        dir: PathBuf,
        /// The folder with every symbolic link resolved: no file outside it is read.
        root: PathBuf,
    },
    Files {
        files: Arc<LayoutFiles>,
        prefix: String,
    },
}

impl Opened {
    /// Opens `source` (a folder must exist; files in memory always open).
    pub(super) fn open(source: &LayoutSource) -> Result<Self, SupplyError> {
        match source {
            LayoutSource::Dir(dir) => {
                let root = dir.canonicalize().map_err(|e| {
                    SupplyError::BadInput(not_a_folder_layout(
                        dir,
                        &format!("cannot open the folder: {e}"),
                    ))
                })?;
                Ok(Opened::Dir {
                    dir: dir.clone(),
                    root,
                })
            }
            LayoutSource::Files { files, prefix } => Ok(Opened::Files {
                files: Arc::clone(files),
                prefix: prefix.trim_end_matches('/').to_owned(),
            }),
        }
    }

    /// The layout in messages (`layout ./evidence/image`, ``layout `layout/` of the archive``).
    pub(super) fn describe(&self) -> String {
        match self {
            Opened::Dir { dir, .. } => format!("layout {}", dir.display()),
            Opened::Files { prefix, .. } if prefix.is_empty() => "the archive's layout".to_owned(),
            Opened::Files { prefix, .. } => format!("layout `{prefix}/` of the archive"),
        }
    }

    /// `Err(what)` to say the source is not a layout, with what to do next.
    pub(super) fn not_a_layout(&self, what: &str) -> SupplyError {
        SupplyError::BadInput(match self {
            Opened::Dir { dir, .. } => not_a_folder_layout(dir, what),
            Opened::Files { prefix, .. } => format!(
                "{} is not an OCI image layout ({what}); the submission is incomplete: pack it again with `lab submit`",
                if prefix.is_empty() {
                    "the archive".to_owned()
                } else {
                    format!("`{prefix}/` of the archive")
                }
            ),
        })
    }

    /// The file `name` (`index.json`, `blobs/sha256/<hex>`) as messages name it.
    pub(super) fn shown(&self, name: &str) -> String {
        match self {
            Opened::Dir { dir, .. } => dir.join(name).display().to_string(),
            Opened::Files { prefix, .. } => join(prefix, name),
        }
    }

    /// The file `name`, or `None` if there is none, of a size within `limit`.
    pub(super) fn read(&self, name: &str, limit: Limit) -> Result<Option<Vec<u8>>, SupplyError> {
        match self {
            Opened::Dir { dir, root } => read_file(root, &dir.join(name), limit),
            Opened::Files { files, prefix } => {
                let key = join(prefix, name);
                let Some(bytes) = files.get(&key) else {
                    return Ok(None);
                };
                check_len(&key, bytes.len() as u64, limit)?;
                Ok(Some(bytes.clone()))
            }
        }
    }
}

fn not_a_folder_layout(dir: &Path, what: &str) -> String {
    format!(
        "{} is not an OCI image layout ({what}); pass the folder `cosign save --dir` or `skopeo copy ... oci:DIR` wrote",
        dir.display()
    )
}

/// Refuses `len` bytes outside `limit`, naming the file `shown`.
fn check_len(shown: &str, len: u64, limit: Limit) -> Result<(), SupplyError> {
    let corrupt = |reason: String| SupplyError::Corrupt {
        what: shown.to_owned(),
        reason,
    };
    match limit {
        Limit::Exactly(n) if len != n => Err(corrupt(format!(
            "it holds {len} bytes, not {}",
            limit.describe()
        ))),
        Limit::AtMost(n) if len > n => Err(corrupt(format!(
            "it holds {len} bytes, more than {}",
            limit.describe()
        ))),
        _ => Ok(()),
    }
}

/// The file at `path`, or `None` if there is none, refusing what a layout never holds: a path
/// that leads out of `root` (through a symbolic link), anything but a regular file (a FIFO
/// would block the read, a device never end it), or a size outside `limit`. No more than the
/// limit is read, even from a file that grows meanwhile.
fn read_file(root: &Path, path: &Path, limit: Limit) -> Result<Option<Vec<u8>>, SupplyError> {
    let shown = path.display();
    let cannot = |e: std::io::Error| SupplyError::BadInput(format!("cannot read {shown}: {e}"));
    let again = "save the image again with `cosign save --dir` or `skopeo copy ... oci:DIR`";
    let real = match path.canonicalize() {
        Ok(real) => real,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e)),
    };
    if !real.starts_with(root) {
        return Err(SupplyError::BadInput(format!(
            "{shown} leads to {}, outside the layout, which is not read; {again}",
            real.display()
        )));
    }
    let metadata = std::fs::metadata(&real).map_err(cannot)?;
    if !metadata.is_file() {
        return Err(SupplyError::BadInput(format!(
            "{shown} is {}, not a regular file; {again}",
            file_kind(metadata.file_type())
        )));
    }
    let len = metadata.len();
    check_len(&shown.to_string(), len, limit)?;
    let mut bytes = Vec::new();
    std::fs::File::open(&real)
        .map_err(cannot)?
        .take(limit.max() + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 != len {
        return Err(SupplyError::Corrupt {
            what: shown.to_string(),
            reason: "it changed while it was read".to_owned(),
        });
    }
    Ok(Some(bytes))
}

/// What a file that is not a regular file is, for messages.
fn file_kind(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
    }
    if file_type.is_dir() {
        "a folder"
    } else {
        "something other than a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supply::layout::LayoutStore;
    use crate::supply::store::MAX_MANIFEST_SIZE;

    fn files(entries: &[(&str, Vec<u8>)]) -> Arc<LayoutFiles> {
        Arc::new(
            entries
                .iter()
                .map(|(name, bytes)| ((*name).to_owned(), bytes.clone()))
                .collect(),
        )
    }

    fn open(files: Arc<LayoutFiles>, prefix: &str) -> Result<LayoutStore, SupplyError> {
        LayoutStore::in_memory(files, prefix)
    }

    #[test]
    fn files_that_are_not_a_layout_are_named_with_what_to_do() {
        let err = open(files(&[("layout/index.json", b"{}".to_vec())]), "layout")
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "`layout/` of the archive is not an OCI image layout (no oci-layout file); the submission is incomplete: pack it again with `lab submit`"
        );
        let err = open(files(&[("oci-layout", b"{}".to_vec())]), "")
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .starts_with("the archive is not an OCI image layout (no index.json)"),
            "{err}"
        );
        let err = open(
            files(&[
                ("l/oci-layout", b"{}".to_vec()),
                ("l/index.json", b"[".to_vec()),
            ]),
            "l/",
        )
        .err()
        .unwrap();
        assert!(
            err.to_string().contains("index.json does not parse"),
            "{err}"
        );
    }

    // A prefix names a folder: `layout` does not reach into `layout-old/`.
    #[test]
    fn only_the_files_under_the_prefix_are_the_layout() {
        let map = files(&[
            ("layout-old/oci-layout", b"{}".to_vec()),
            ("layout-old/index.json", b"{}".to_vec()),
            ("layoutoci-layout", b"{}".to_vec()),
        ]);
        assert!(open(Arc::clone(&map), "layout").is_err());
        assert!(open(map, "layout-old").is_ok());
    }

    #[test]
    fn files_in_memory_are_held_to_the_limits_of_files_on_disk() {
        let huge = vec![b' '; MAX_MANIFEST_SIZE as usize + 1];
        let err = open(
            files(&[("l/oci-layout", b"{}".to_vec()), ("l/index.json", huge)]),
            "l",
        )
        .err()
        .unwrap();
        assert_eq!(err.exit_code(), crate::exit_code::VERIFICATION_FAILED);
        assert!(
            err.to_string().starts_with(
                "l/index.json: it holds 4194305 bytes, more than the 4 MiB a manifest may have"
            ),
            "{err}"
        );
        let given = LayoutSource::Files {
            files: files(&[("l/blob", b"four".to_vec())]),
            prefix: "l/".into(),
        };
        assert_eq!(
            format!("{given:?}"),
            r#"Files { prefix: "l/", files: 1 }"#,
            "a debug print names the files, never dumps them"
        );
        let source = Opened::open(&given).unwrap();
        assert_eq!(
            source.read("blob", Limit::Exactly(4)).unwrap().unwrap(),
            b"four"
        );
        let err = source.read("blob", Limit::Exactly(5)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("l/blob: it holds 4 bytes, not the 5 bytes its descriptor gives"),
            "{err}"
        );
        assert_eq!(source.read("other", Limit::Exactly(4)).unwrap(), None);
    }
}
