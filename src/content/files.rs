//! An in-memory snapshot of a course's files, read from a working copy on disk or from the copy
//! embedded in the binary, so that validation is pure and reads each file once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ContentError;

include!(concat!(env!("OUT_DIR"), "/embedded_course.rs"));

/// The folders, under a course root, that hold course content.
pub const CONTENT_DIRS: [&str; 4] = ["labs", "quizzes", "runbooks", "kind-config"];

/// A course's files: path relative to the course root (with `/`) to content.
#[derive(Debug, Clone)]
pub struct CourseFiles {
    /// How the root is shown in messages: empty for the current directory, else `dir/`.
    pub display_root: String,
    /// Text files (YAML, Markdown), by relative path.
    texts: BTreeMap<String, String>,
    /// Other files that exist (scripts, images), by relative path; their content is not read.
    others: BTreeMap<String, ()>,
}

impl CourseFiles {
    /// The course compiled into this binary (answer keys excluded).
    pub fn embedded() -> Self {
        CourseFiles {
            display_root: "<built-in course>/".to_owned(),
            texts: EMBEDDED_FILES
                .iter()
                .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
                .collect(),
            others: BTreeMap::new(),
        }
    }

    /// Reads the course rooted at `root` (the folder holding `labs/`).
    pub fn from_disk(root: &Path) -> Result<Self, ContentError> {
        if !root.join("labs").is_dir() {
            return Err(ContentError::NotACourse {
                path: root.to_owned(),
            });
        }
        let mut files = CourseFiles {
            display_root: display_root(root),
            texts: BTreeMap::new(),
            others: BTreeMap::new(),
        };
        for dir in CONTENT_DIRS {
            files.read_tree(root, &root.join(dir))?;
        }
        Ok(files)
    }

    /// A "course" of one file that lives outside any course, keyed by its file name.
    pub fn single_file(path: &Path) -> Result<(Self, String), ContentError> {
        let text = read_text(path)?;
        let name = path
            .file_name()
            .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
        let parent = path.parent().unwrap_or(Path::new(""));
        let mut texts = BTreeMap::new();
        texts.insert(name.clone(), text);
        let files = CourseFiles {
            display_root: display_root(parent),
            texts,
            others: BTreeMap::new(),
        };
        Ok((files, name))
    }

    fn read_tree(&mut self, root: &Path, dir: &Path) -> Result<(), ContentError> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                self.read_tree(root, &path)?;
                continue;
            }
            let rel = relative_key(root, &path);
            if is_text(&rel) {
                self.texts.insert(rel, read_text(&path)?);
            } else {
                self.others.insert(rel, ());
            }
        }
        Ok(())
    }

    /// The text of a YAML or Markdown file.
    pub fn text(&self, rel: &str) -> Option<&str> {
        self.texts.get(rel).map(String::as_str)
    }

    /// Whether a file exists (text or not).
    pub fn exists(&self, rel: &str) -> bool {
        self.texts.contains_key(rel) || self.others.contains_key(rel)
    }

    /// Every text file, in path order.
    pub fn texts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.texts.iter().map(|(p, t)| (p.as_str(), t.as_str()))
    }

    /// Number of files in the snapshot.
    pub fn len(&self) -> usize {
        self.texts.len() + self.others.len()
    }

    /// Whether the snapshot is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds or replaces a text file (used by tests and generated courses).
    pub fn insert_text(&mut self, rel: &str, text: String) {
        self.texts.insert(rel.to_owned(), text);
    }

    /// An empty snapshot, for building courses in memory.
    pub fn empty(display_root: &str) -> Self {
        CourseFiles {
            display_root: display_root.to_owned(),
            texts: BTreeMap::new(),
            others: BTreeMap::new(),
        }
    }
}

fn is_text(rel: &str) -> bool {
    [".yaml", ".yml", ".md"]
        .iter()
        .any(|ext| rel.ends_with(ext))
}

fn read_text(path: &Path) -> Result<String, ContentError> {
    let bytes = std::fs::read(path).map_err(|source| ContentError::Read {
        path: path.to_owned(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| ContentError::NotUtf8 {
        path: path.to_owned(),
    })
}

fn relative_key(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn display_root(root: &Path) -> String {
    let shown = root.strip_prefix(".").unwrap_or(root);
    if shown.as_os_str().is_empty() {
        String::new()
    } else {
        format!("{}/", shown.display())
    }
}

/// Resolves `reference`, written in the file `from`, to a course-relative key. Returns `None`
/// when the reference climbs above the course root.
pub fn resolve(from: &str, reference: &str) -> Option<String> {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for part in reference.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// Where `lab validate PATH` should look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The whole course.
    All,
    /// One chapter: the lab file `labs/<ch>/lab.yaml` and everything it names.
    Lab(String),
    /// One file, validated in the context of the lab that uses it.
    File(String),
}

/// The course root as the user will recognise it: relative to the current directory when
/// it is inside or above it, absolute otherwise.
fn shown_root(root_abs: &Path) -> PathBuf {
    let Ok(cwd) = std::env::current_dir() else {
        return root_abs.to_path_buf();
    };
    if let Ok(below) = root_abs.strip_prefix(&cwd) {
        return if below.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            below.to_path_buf()
        };
    }
    match cwd.strip_prefix(root_abs) {
        Ok(inside) => inside.components().map(|_| "..").collect(),
        Err(_) => root_abs.to_path_buf(),
    }
}

/// Finds the course root for `path` and what of it to validate.
pub fn locate(path: &Path) -> Result<(PathBuf, Selection), ContentError> {
    let meta = std::fs::metadata(path).map_err(|source| ContentError::Read {
        path: path.to_owned(),
        source,
    })?;
    let absolute = std::path::absolute(path).map_err(|source| ContentError::Read {
        path: path.to_owned(),
        source,
    })?;
    // The nearest folder with `labs/` whose content folders hold `path` (or that is `path`).
    let holds = |dir: &Path| {
        dir.join("labs").is_dir()
            && (dir == absolute
                || CONTENT_DIRS
                    .iter()
                    .any(|d| absolute.starts_with(dir.join(d))))
    };
    let Some(root_abs) = absolute.ancestors().find(|dir| holds(dir)) else {
        return Err(ContentError::NotACourse {
            path: path.to_owned(),
        });
    };
    let root = shown_root(root_abs);
    let rel = relative_key(root_abs, &absolute);
    let selection = if rel.is_empty() {
        Selection::All
    } else if meta.is_dir() {
        let lab_file = format!("{rel}/lab.yaml");
        if root_abs.join(&lab_file).is_file() {
            Selection::Lab(lab_file)
        } else {
            Selection::All
        }
    } else {
        Selection::File(rel)
    };
    Ok((root, selection))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_relative_to_the_naming_file() {
        assert_eq!(
            resolve("labs/ch14/lab.yaml", "../../quizzes/ch14.yaml").as_deref(),
            Some("quizzes/ch14.yaml")
        );
        assert_eq!(
            resolve("labs/ch14/lab.yaml", "policies/./a.yaml").as_deref(),
            Some("labs/ch14/policies/a.yaml")
        );
        assert_eq!(resolve("labs/ch14/lab.yaml", "../../../etc/passwd"), None);
    }

    #[test]
    fn the_embedded_course_has_no_answer_keys() {
        let files = CourseFiles::embedded();
        assert!(
            files.text("labs/ch14/lab.yaml").is_some(),
            "ch14 is embedded"
        );
        assert!(files.texts().all(|(p, _)| !p.ends_with(".key.yaml")));
    }
}
