//! Embeds the course content (labs, quizzes, runbooks, kind configs) into the `lab` binary, as
//! rustlings embeds its exercises, so that `lab list` and `lab start` work from any directory.
//! Quiz answer keys (`*.key.yaml`) are left out on purpose: learners must not receive them;
//! so are the chapters' `tests/` folders, which only course CI needs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

const CONTENT_DIRS: [&str; 4] = ["labs", "quizzes", "runbooks", "kind-config"];

fn main() {
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in CONTENT_DIRS {
        let path = root.join(dir);
        println!("cargo:rerun-if-changed={}", path.display());
        collect(&root, &path, &mut files);
    }
    files.sort();
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
    let dest =
        PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded_course.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            // A chapter's tests (cases, fixture images, TEST keys) are for course CI only.
            if path.file_name().is_some_and(|n| n == "tests") && path.parent() != Some(root) {
                continue;
            }
            println!("cargo:rerun-if-changed={}", path.display());
            collect(root, &path, files);
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let wanted = [".yaml", ".yml", ".md"]
            .iter()
            .any(|ext| name.ends_with(ext));
        if wanted && !name.ends_with(".key.yaml") {
            let rel = path.strip_prefix(root).expect("walked from root");
            let rel: Vec<_> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            files.push(rel.join("/"));
        }
    }
}
