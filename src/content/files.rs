//! An in-memory snapshot of a course's files, read from a working copy on disk or from the copy
//! embedded in the binary, so that validation is pure and reads each file once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::ContentError;
use super::diagnostic::Diagnostic;
use super::paths::{CourseDir, PathProblem};
use crate::input::{self, InputError};

include!(concat!(env!("OUT_DIR"), "/embedded_course.rs"));

/// The folders, under a course root, that hold course content.
pub const CONTENT_DIRS: [&str; 4] = ["labs", "quizzes", "runbooks", "kind-config"];

/// The most files a course walk reads; a tree larger than this is not a course.
pub const MAX_FILES: usize = 20_000;

/// A course's files: path relative to the course root (with `/`) to content.
#[derive(Debug, Clone)]
pub struct CourseFiles {
    /// How the root is shown in messages: empty for the current directory, else `dir/`.
    pub display_root: String,
    /// The course folder on disk; `None` for the built-in course and courses built in memory.
    dir: Option<CourseDir>,
    /// Text files (YAML, Markdown), by relative path.
    texts: BTreeMap<String, String>,
    /// Other files that exist (scripts, images), by relative path; their content is not read.
    others: BTreeMap<String, ()>,
    /// Symbolic links inside the course: the link's key to its target's key. Each file is read
    /// once, under its real path; lookups through a link find it there.
    links: BTreeMap<String, String>,
    /// Files that are in the course folders but could not be taken into the snapshot.
    problems: BTreeMap<String, FileProblem>,
}

/// Why a file in the course folders is not in the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    /// Not UTF-8 text.
    NotUtf8,
    /// Larger than [`input::limit::COURSE_FILE`].
    TooLarge(u64),
    /// A FIFO, device or socket.
    NotAFile(&'static str),
    /// A symbolic link that leads out of the course.
    LinkLeaves(PathBuf),
    /// A symbolic link whose target does not exist.
    DanglingLink,
    /// The walk stopped after [`MAX_FILES`] files.
    TooManyFiles,
    /// Reading failed.
    Unreadable(String),
}

impl FileProblem {
    /// The problem as a diagnostic on the file `rel`.
    pub fn diagnostic(&self, rel: &str) -> Diagnostic {
        let (code, message, help) = match self {
            FileProblem::NotUtf8 => (
                "content/not-utf8",
                "this file is not UTF-8 text".to_owned(),
                "save it as UTF-8 (course files are YAML or Markdown)".to_owned(),
            ),
            FileProblem::TooLarge(size) => (
                "content/too-large",
                format!(
                    "this file is {size} bytes; lab reads course files of at most {} bytes",
                    input::limit::COURSE_FILE
                ),
                "split it, or move data that is not course content out of the course folders"
                    .to_owned(),
            ),
            FileProblem::NotAFile(what) => (
                "content/not-a-file",
                format!("this is {what}, not a regular file"),
                "remove it from the course folders; lab reads only regular files".to_owned(),
            ),
            FileProblem::LinkLeaves(target) => (
                "content/link-leaves-course",
                format!(
                    "this symbolic link leads out of the course (to {})",
                    target.display()
                ),
                "copy the file into the course instead; lab does not follow links out of it"
                    .to_owned(),
            ),
            FileProblem::DanglingLink => (
                "content/dangling-link",
                "this symbolic link points to nothing".to_owned(),
                "remove the link or create its target".to_owned(),
            ),
            FileProblem::TooManyFiles => (
                "content/too-many-files",
                format!("the course folders hold more than {MAX_FILES} files; lab stopped reading here"),
                "keep only course content under labs/, quizzes/, runbooks/ and kind-config/"
                    .to_owned(),
            ),
            FileProblem::Unreadable(reason) => (
                "content/unreadable",
                format!("cannot read this file: {reason}"),
                "if it is a symbolic link, point it at a file in the course; otherwise check that you may read it"
                    .to_owned(),
            ),
        };
        Diagnostic::error(code, rel, (0, 0), message).help(help)
    }
}

impl CourseFiles {
    /// The course compiled into this binary (answer keys and private test keys excluded).
    pub fn embedded() -> Self {
        let mut files = CourseFiles::empty("<built-in course>/");
        files.texts = EMBEDDED_FILES
            .iter()
            .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
            .collect();
        files.others = EMBEDDED_BLOBS
            .iter()
            .map(|(p, _)| ((*p).to_owned(), ()))
            .collect();
        files
    }

    /// The built-in course's files, text and binary, for writing it out as a checkout.
    pub fn embedded_contents() -> impl Iterator<Item = (&'static str, &'static [u8])> {
        EMBEDDED_FILES
            .iter()
            .map(|(p, t)| (*p, t.as_bytes()))
            .chain(EMBEDDED_BLOBS.iter().copied())
    }

    /// Reads the course rooted at `root` (the folder holding `labs/`). Files that cannot be
    /// taken in (not UTF-8, too large, not regular files, links out of the course) are
    /// recorded as [`CourseFiles::problems`], so that one bad file does not hide the others.
    pub fn from_disk(root: &Path) -> Result<Self, ContentError> {
        if !root.join("labs").is_dir() {
            return Err(ContentError::NotACourse {
                path: root.to_owned(),
            });
        }
        let dir = CourseDir::new(root).map_err(|source| ContentError::Read {
            path: root.to_owned(),
            source,
        })?;
        let mut files = CourseFiles::empty(&display_root(root));
        let mut walk = Walk::default();
        for sub in CONTENT_DIRS {
            let path = root.join(sub);
            if path.symlink_metadata().is_ok() {
                walk.queue.push(sub.to_owned());
            }
        }
        while let Some(rel) = walk.queue.pop() {
            files.take(&dir, &rel, &mut walk)?;
        }
        files.dir = Some(dir);
        Ok(files)
    }

    /// A "course" of one file that lives outside any course, keyed by its file name.
    pub fn single_file(path: &Path) -> Result<(Self, String), ContentError> {
        let text = read_text(path)?;
        let name = path
            .file_name()
            .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
        let parent = path.parent().unwrap_or(Path::new(""));
        let mut files = CourseFiles::empty(&display_root(parent));
        files.texts.insert(name.clone(), text);
        Ok((files, name))
    }

    /// Takes the entry `rel` (course-relative) into the snapshot: a folder is queued entry by
    /// entry, a link is recorded (and its target taken in once if it is outside the content
    /// folders), a file is read.
    fn take(&mut self, dir: &CourseDir, rel: &str, walk: &mut Walk) -> Result<(), ContentError> {
        let path = dir.root().join(rel);
        let meta = path
            .symlink_metadata()
            .map_err(|source| ContentError::Read {
                path: path.clone(),
                source,
            })?;
        let file_type = meta.file_type();
        if file_type.is_symlink() {
            return self.take_link(dir, rel, &path, walk);
        }
        if file_type.is_dir() {
            let real = path.canonicalize().unwrap_or_else(|_| path.clone());
            if !walk.dirs.insert(real) {
                return Ok(());
            }
            let entries = std::fs::read_dir(&path).map_err(|source| ContentError::Read {
                path: path.clone(),
                source,
            })?;
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            // Popped from the end: reverse order keeps the walk in path order.
            names.sort_unstable_by(|a, b| b.cmp(a));
            walk.queue
                .extend(names.into_iter().map(|n| format!("{rel}/{n}")));
            return Ok(());
        }
        walk.files += 1;
        if walk.files > MAX_FILES {
            self.problems
                .insert(rel.to_owned(), FileProblem::TooManyFiles);
            walk.queue.clear();
            return Ok(());
        }
        if !file_type.is_file() {
            self.problems.insert(
                rel.to_owned(),
                FileProblem::NotAFile(input::file_type_noun(file_type)),
            );
        } else if !is_text(rel) {
            self.others.insert(rel.to_owned(), ());
        } else {
            match input::read_text(&path, input::limit::COURSE_FILE, "a course file") {
                Ok(text) => drop(self.texts.insert(rel.to_owned(), text)),
                Err(e) => drop(self.problems.insert(rel.to_owned(), FileProblem::from(e))),
            }
        }
        Ok(())
    }

    fn take_link(
        &mut self,
        dir: &CourseDir,
        rel: &str,
        path: &Path,
        walk: &mut Walk,
    ) -> Result<(), ContentError> {
        let real = match path.canonicalize() {
            Ok(real) => real,
            Err(e) => {
                let problem = if e.kind() == std::io::ErrorKind::NotFound {
                    FileProblem::DanglingLink
                } else {
                    // A link to itself, or a chain of links too long to follow.
                    FileProblem::Unreadable(e.to_string())
                };
                self.problems.insert(rel.to_owned(), problem);
                return Ok(());
            }
        };
        let Ok(inside) = real.strip_prefix(dir.canonical()) else {
            self.problems
                .insert(rel.to_owned(), FileProblem::LinkLeaves(real));
            return Ok(());
        };
        let target = relative_key(Path::new(""), inside);
        if target.is_empty() {
            // A link to the course root itself: everything it holds is walked already.
            return Ok(());
        }
        self.links.insert(rel.to_owned(), target.clone());
        let in_content_dirs = CONTENT_DIRS
            .iter()
            .any(|d| target == *d || target.starts_with(&format!("{d}/")));
        if !in_content_dirs && walk.targets.insert(target.clone()) {
            walk.queue.push(target);
        }
        Ok(())
    }

    /// The key under which the file `rel` was read, following the course's own links.
    pub fn real_key(&self, rel: &str) -> String {
        let mut key = rel.to_owned();
        // Each step replaces a link prefix by its target; a course has fewer links than this.
        for _ in 0..64 {
            let hop = self.links.iter().find_map(|(link, target)| {
                if key == *link {
                    Some(target.clone())
                } else {
                    key.strip_prefix(link.as_str())
                        .and_then(|rest| rest.strip_prefix('/'))
                        .map(|rest| format!("{target}/{rest}"))
                }
            });
            match hop {
                Some(next) if next != key => key = next,
                _ => break,
            }
        }
        key
    }

    /// The text of a YAML or Markdown file.
    pub fn text(&self, rel: &str) -> Option<&str> {
        self.texts
            .get(rel)
            .or_else(|| self.texts.get(&self.real_key(rel)))
            .map(String::as_str)
    }

    /// Whether a file exists (text or not).
    pub fn exists(&self, rel: &str) -> bool {
        let real = self.real_key(rel);
        [rel, real.as_str()]
            .iter()
            .any(|k| self.texts.contains_key(*k) || self.others.contains_key(*k))
    }

    /// Every text file, in path order.
    pub fn texts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.texts.iter().map(|(p, t)| (p.as_str(), t.as_str()))
    }

    /// Files of the course folders that are not in the snapshot, and why.
    pub fn problems(&self) -> impl Iterator<Item = (&str, &FileProblem)> {
        self.problems.iter().map(|(p, e)| (p.as_str(), e))
    }

    /// Why the file `rel` is not in the snapshot, if it was found and refused.
    pub fn problem(&self, rel: &str) -> Option<&FileProblem> {
        self.problems.get(rel)
    }

    /// Where the course-relative `key` is on disk, under the one containment rule of
    /// [`super::paths`]; an error for the built-in course.
    pub fn disk_path(&self, key: &str) -> Result<PathBuf, PathProblem> {
        match &self.dir {
            Some(dir) => dir.locate(key),
            None => Err(PathProblem::BuiltIn(key.to_owned())),
        }
    }

    /// The course folder on disk, if the course is on disk.
    pub fn dir(&self) -> Option<&CourseDir> {
        self.dir.as_ref()
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

    /// Shows this snapshot under another root name (the built-in course written out to a
    /// temporary folder is still the built-in course to the reader).
    pub fn set_display_root(&mut self, shown: &str) {
        shown.clone_into(&mut self.display_root);
    }

    /// An empty snapshot, for building courses in memory.
    pub fn empty(display_root: &str) -> Self {
        CourseFiles {
            display_root: display_root.to_owned(),
            dir: None,
            texts: BTreeMap::new(),
            others: BTreeMap::new(),
            links: BTreeMap::new(),
            problems: BTreeMap::new(),
        }
    }
}

/// The state of a course walk: what is left to take, and what was seen.
#[derive(Default)]
struct Walk {
    /// Course-relative entries still to take.
    queue: Vec<String>,
    /// Folders walked, by their real path: a folder reached twice is walked once.
    dirs: BTreeSet<PathBuf>,
    /// Link targets outside the content folders already queued.
    targets: BTreeSet<String>,
    /// Files met so far.
    files: usize,
}

impl From<InputError> for FileProblem {
    fn from(e: InputError) -> Self {
        match e {
            InputError::NotUtf8 { .. } => FileProblem::NotUtf8,
            InputError::TooLarge { size, .. } => FileProblem::TooLarge(size),
            InputError::NotAFile { what, .. } => FileProblem::NotAFile(what),
            InputError::Unreadable { source, .. } => FileProblem::Unreadable(source.to_string()),
        }
    }
}

fn is_text(rel: &str) -> bool {
    [".yaml", ".yml", ".md"]
        .iter()
        .any(|ext| rel.ends_with(ext))
}

fn read_text(path: &Path) -> Result<String, ContentError> {
    input::read_text(path, input::limit::COURSE_FILE, "a course file").map_err(ContentError::from)
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
    fn the_embedded_course_has_no_answer_keys() {
        let files = CourseFiles::embedded();
        assert!(
            files.text("labs/ch14/lab.yaml").is_some(),
            "ch14 is embedded"
        );
        assert!(files.texts().all(|(p, _)| !p.ends_with(".key.yaml")));
    }
}
