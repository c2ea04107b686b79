//! Writing a file so that a crash at any moment leaves either the old content or the new one:
//! a temporary file in the same folder, written, flushed to disk, then renamed over the target
//! (rename is atomic within a file system), and the folder synced so the rename survives too.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically, creating its folder if needed.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with(path, |file| file.write_all(bytes))
}

/// As [`write`], with the content produced by `fill`; if `fill` fails the target is untouched
/// and the temporary file removed.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut file = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    fill(file.as_file_mut())?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    // The rename itself is durable only once the folder is synced.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_that_fails_half_way_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("progress.json");
        write(&path, b"old and complete").unwrap();
        let failed = write_with(&path, |file| {
            file.write_all(b"new but hal")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old and complete");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("progress.json")]);
    }

    #[test]
    fn a_write_replaces_the_whole_file_and_creates_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lab/ch14/progress.json");
        write(&path, b"a much longer first version").unwrap();
        write(&path, b"short").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"short");
    }
}
