//! Embeds the course content (labs, quizzes, runbooks, kind configs) into the `lab` binary, as
//! rustlings embeds its exercises, so that `lab list` and `lab start` work from any directory.
//! Quiz answer keys (`*.key.yaml`) are left out on purpose: learners must not receive them;
//! so are private keys (`*.key`, even the chapters' TEST keys). The chapters' `tests/` folders
//! are embedded (cases, resources, fixture image layouts, TEST public keys), so that `lab test
//! ch14` runs from any directory too; their binary files go into a second table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

const CONTENT_DIRS: [&str; 4] = ["labs", "quizzes", "runbooks", "kind-config"];

fn main() {
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut blobs = Vec::new();
    for dir in CONTENT_DIRS {
        let path = root.join(dir);
        println!("cargo:rerun-if-changed={}", path.display());
        collect(&root, &path, false, &mut files, &mut blobs);
    }
    files.sort();
    blobs.sort();
    let mut out = String::from(
        "/// Course files embedded at build time: (path relative to the course root, content).\n",
    );
    out.push_str("pub static EMBEDDED_FILES: &[(&str, &str)] = &[\n");
    for rel in &files {
        let abs = root.join(rel);
        writeln!(
            out,
            "    ({rel:?}, include_str!({:?})),",
            abs.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    out.push_str(
        "/// Binary course files embedded at build time (fixture layouts, TEST public keys).\n",
    );
    out.push_str("pub static EMBEDDED_BLOBS: &[(&str, &[u8])] = &[\n");
    for rel in &blobs {
        let abs = root.join(rel);
        writeln!(
            out,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded_course.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}

fn collect(
    root: &Path,
    dir: &Path,
    in_tests: bool,
    files: &mut Vec<String>,
    blobs: &mut Vec<String>,
) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // Links are not followed: the embedded course holds the course's own files only.
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            let tests = in_tests || path.file_name().is_some_and(|n| n == "tests");
            println!("cargo:rerun-if-changed={}", path.display());
            collect(root, &path, tests, files, blobs);
            continue;
        }
        if !file_type.is_file() {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let rel = path.strip_prefix(root).expect("walked from root");
        let rel: Vec<_> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let rel = rel.join("/");
        let text = [".yaml", ".yml", ".md"]
            .iter()
            .any(|ext| name.ends_with(ext));
        if name.ends_with(".key.yaml") || name.ends_with(".key") {
            continue;
        }
        if text {
            files.push(rel);
        } else if in_tests {
            blobs.push(rel);
        }
    }
}
