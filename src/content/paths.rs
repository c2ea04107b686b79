//! The one rule for paths that course files name (`tests.images`, `signed_by`, policy,
//! manifest, quiz, runbook and kind-config paths, `from_file` test variables): relative to the
//! file that names them, never absolute, never above the course root, and, on disk, never
//! through a symbolic link that leaves the course. The validator and every command resolve
//! such paths here, so that what `lab validate` accepts is exactly what `lab test` reads.

use std::path::{Component, Path, PathBuf};

/// Why a path named in a course file is refused. The message says what is wrong;
/// [`PathProblem::help`] says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    /// The path is empty.
    #[error("the path is empty")]
    Empty,
    /// The path is absolute (`/etc/passwd`).
    #[error("`{0}` is an absolute path")]
    Absolute(String),
    /// The path climbs above the course root (`../../../somewhere`).
    #[error("`{0}` points outside the course")]
    OutsideCourse(String),
    /// On disk, the path goes through a symbolic link that leaves the course.
    #[error("`{path}` goes through a symbolic link that leaves the course (to {})", target.display())]
    SymlinkLeaves {
        /// The course-relative path.
        path: String,
        /// Where the link leads.
        target: PathBuf,
    },
    /// The course is the copy built into `lab`, which has no files on disk.
    #[error("`{0}` is in the built-in course, which has no files on disk")]
    BuiltIn(String),
}

impl PathProblem {
    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            PathProblem::Empty | PathProblem::Absolute(_) | PathProblem::OutsideCourse(_) => {
                "course files may only name files inside the course, relative to the file that names them"
            }
            PathProblem::SymlinkLeaves { .. } => {
                "lab does not follow links out of the course; copy the file into the course instead"
            }
            PathProblem::BuiltIn(_) => "use a course checkout with --course DIR",
        }
    }

    /// The problem and what to do, as one message.
    pub fn explained(&self) -> String {
        format!("{self}; {}", self.help())
    }
}

/// Resolves `reference`, written in the course file `from` (course-relative, with `/`), to a
/// course-relative key.
pub fn resolve(from: &str, reference: &str) -> Result<String, PathProblem> {
    if reference.is_empty() {
        return Err(PathProblem::Empty);
    }
    if reference.starts_with('/') || reference.starts_with('\\') || Path::new(reference).has_root()
    {
        return Err(PathProblem::Absolute(reference.to_owned()));
    }
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for part in reference.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(PathProblem::OutsideCourse(reference.to_owned()));
                }
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return Err(PathProblem::OutsideCourse(reference.to_owned()));
    }
    Ok(parts.join("/"))
}

/// Resolves a path that the lab file names relative to the learner's working directory (the
/// default of a `from_file` variable such as `cosign.pub`): the same lexical rule, with the
/// working directory as the root.
pub fn resolve_in_workdir(reference: &str) -> Result<PathBuf, PathProblem> {
    let key = resolve("lab.yaml", reference)?;
    Ok(PathBuf::from(key))
}

/// A course folder on disk, for finding course-relative keys in it safely.
#[derive(Debug, Clone)]
pub struct CourseDir {
    /// The root as the user gave it (for messages and joins).
    root: PathBuf,
    /// The root with every link resolved (for the containment check).
    canonical: PathBuf,
}

impl CourseDir {
    /// The course folder at `root`.
    pub fn new(root: &Path) -> std::io::Result<Self> {
        Ok(CourseDir {
            root: root.to_owned(),
            canonical: root.canonicalize()?,
        })
    }

    /// The root as given.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The root with links resolved.
    pub fn canonical(&self) -> &Path {
        &self.canonical
    }

    /// Where the course-relative `key` is on disk. The part of the path that exists must stay
    /// inside the course once its links are resolved; the rest (a file about to be created)
    /// is lexically inside it, since `key` came from [`resolve`].
    pub fn locate(&self, key: &str) -> Result<PathBuf, PathProblem> {
        if key.is_empty() {
            return Err(PathProblem::Empty);
        }
        let relative = Path::new(key);
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(PathProblem::OutsideCourse(key.to_owned()));
        }
        let path = self.root.join(relative);
        // The deepest prefix that exists (as a link or not) decides where the path really goes.
        let existing = path
            .ancestors()
            .find(|p| p.symlink_metadata().is_ok())
            .unwrap_or(&self.root);
        let real = existing
            .canonicalize()
            .unwrap_or_else(|_| existing.to_owned());
        if !real.starts_with(&self.canonical) {
            return Err(PathProblem::SymlinkLeaves {
                path: key.to_owned(),
                target: real,
            });
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_relative_to_the_naming_file() {
        assert_eq!(
            resolve("labs/ch14/lab.yaml", "../../quizzes/ch14.yaml").as_deref(),
            Ok("quizzes/ch14.yaml")
        );
        assert_eq!(
            resolve("labs/ch14/lab.yaml", "policies/./a.yaml").as_deref(),
            Ok("labs/ch14/policies/a.yaml")
        );
    }

    #[test]
    fn an_absolute_path_is_not_read_as_a_course_path() {
        // The validator once took `/etc/passwd` as labs/ch14/etc/passwd while lab test read it.
        assert_eq!(
            resolve("labs/ch14/lab.yaml", "/etc/passwd"),
            Err(PathProblem::Absolute("/etc/passwd".into()))
        );
    }

    #[test]
    fn climbing_above_the_root_is_refused() {
        assert_eq!(
            resolve("labs/ch14/lab.yaml", "../../../somewhere"),
            Err(PathProblem::OutsideCourse("../../../somewhere".into()))
        );
        // `labs/..` is the course root itself, not a file in it.
        assert!(resolve("labs/ch14/lab.yaml", "../..").is_err());
        assert_eq!(resolve("labs/ch14/lab.yaml", ""), Err(PathProblem::Empty));
    }

    #[test]
    fn a_path_back_into_the_course_is_the_path_it_names() {
        // `tests.images: ../../kind-config/..` names the course root's children, not a fixture
        // folder of the lab; the key says so and the fixture writer checks what it replaces.
        assert_eq!(
            resolve("labs/ch14/lab.yaml", "../../kind-config/../runbooks").as_deref(),
            Ok("runbooks")
        );
    }

    #[test]
    fn the_working_directory_rule_is_the_same() {
        assert_eq!(
            resolve_in_workdir("cosign.pub"),
            Ok(PathBuf::from("cosign.pub"))
        );
        assert!(resolve_in_workdir("../cosign.pub").is_err());
        assert!(resolve_in_workdir("/etc/passwd").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_link_that_leaves_the_course_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        let course = tempfile::tempdir().unwrap();
        std::fs::create_dir(course.path().join("labs")).unwrap();
        std::os::unix::fs::symlink(outside.path(), course.path().join("labs/out")).unwrap();
        std::os::unix::fs::symlink("../labs", course.path().join("labs/inside")).unwrap();
        let dir = CourseDir::new(course.path()).unwrap();
        assert!(matches!(
            dir.locate("labs/out/secret"),
            Err(PathProblem::SymlinkLeaves { .. })
        ));
        assert!(matches!(
            dir.locate("labs/out"),
            Err(PathProblem::SymlinkLeaves { .. })
        ));
        assert_eq!(
            dir.locate("labs/inside/new-file").unwrap(),
            course.path().join("labs/inside/new-file")
        );
        assert_eq!(
            dir.locate("labs/not-yet/created").unwrap(),
            course.path().join("labs/not-yet/created")
        );
    }
}
