//! Image references, parsed and normalized the way Kyverno matches them
//! (`pkg/utils/image/infos.go` in kyverno/kyverno v1.19.0):
//! a first path component without `.` or `:` that is not `localhost` gets `docker.io/` (and no
//! `library/`), a missing tag becomes `latest`, and a reference with a digest is written
//! `registry/path@sha256:...` with the tag dropped.

use std::fmt;

/// Registry assumed when a reference names none (Kyverno's `defaultRegistry`).
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host, with port if any, e.g. `kind-registry:5000`.
    pub registry: String,
    /// Repository path, e.g. `courselab/demo`.
    pub path: String,
    /// Tag, if one was written.
    pub tag: Option<String>,
    /// Digest, if one was written, e.g. `sha256:...`.
    pub digest: Option<String>,
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Empty string.
    #[error("the image reference is empty")]
    Empty,
    /// Characters or structure the reference grammar forbids.
    #[error("`{reference}` is not an image reference: {why}")]
    Malformed {
        /// The input.
        reference: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A digest with an unknown algorithm or wrong length.
    #[error("`{digest}` is not a valid digest: expected sha256:<64 hex> or sha512:<128 hex>")]
    BadDigest {
        /// The digest part.
        digest: String,
    },
}

impl ImageRef {
    /// Parses a reference such as `nginx`, `localhost:5001/app:v1` or `ghcr.io/o/a@sha256:...`.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let malformed = |why| ReferenceError::Malformed {
            reference: input.to_owned(),
            why,
        };
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(malformed("it contains whitespace"));
        }
        let (name_tag, digest) = match input.split_once('@') {
            Some((n, d)) => (n, Some(validate_digest(d)?)),
            None => (input, None),
        };
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(&name_tag[last_slash + i + 1..]),
            ),
            None => (name_tag, None),
        };
        if let Some(tag) = tag
            && !valid_tag(tag)
        {
            return Err(malformed(
                "the tag must be 1-128 of [A-Za-z0-9_.-], not starting with . or -",
            ));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first, rest)
            }
            _ => (DEFAULT_REGISTRY, name),
        };
        if path.is_empty() || path.split('/').any(|c| !valid_path_component(c)) {
            return Err(malformed(
                "repository path components must be lowercase [a-z0-9] joined by . _ __ or -",
            ));
        }
        Ok(ImageRef {
            registry: registry.to_owned(),
            path: path.to_owned(),
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// `registry/path`, without tag or digest.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.registry, self.path)
    }

    /// The same image pinned to `digest` (the tag is kept, as Kyverno's digest patch keeps it).
    #[must_use]
    pub fn with_digest(&self, digest: &str) -> Self {
        ImageRef {
            digest: Some(digest.to_owned()),
            ..self.clone()
        }
    }
}

/// Kyverno's normalized form: what `imageReferences` patterns are matched against.
impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.digest {
            Some(d) => write!(f, "{}/{}@{d}", self.registry, self.path),
            None => write!(
                f,
                "{}/{}:{}",
                self.registry,
                self.path,
                self.tag.as_deref().unwrap_or("latest")
            ),
        }
    }
}

fn validate_digest(digest: &str) -> Result<String, ReferenceError> {
    let bad = || ReferenceError::BadDigest {
        digest: digest.to_owned(),
    };
    let (algorithm, hex) = digest.split_once(':').ok_or_else(bad)?;
    let expected_len = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        _ => return Err(bad()),
    };
    if hex.len() != expected_len
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad());
    }
    Ok(digest.to_owned())
}

fn valid_tag(tag: &str) -> bool {
    (1..=128).contains(&tag.len())
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

fn valid_path_component(c: &str) -> bool {
    !c.is_empty()
        && c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
        && c.ends_with(|ch: char| ch.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:476b0d2d7ad8ab48ab8f4bd3f4aba8bab0f0e7e2ce6cf39b8a1bb7e6f22fc0db";

    // Cases from Kyverno's pkg/utils/image/infos_test.go behaviour: no `library/`, default tag
    // `latest`, localhost kept as a registry, digest form drops the tag.
    #[test]
    fn normalizes_as_kyverno_does() {
        let n = |s: &str| ImageRef::parse(s).unwrap().to_string();
        assert_eq!(n("nginx"), "docker.io/nginx:latest");
        assert_eq!(n("test/nginx"), "docker.io/test/nginx:latest");
        assert_eq!(n("localhost:4443/x"), "localhost:4443/x:latest");
        assert_eq!(n("localhost/x:v1"), "localhost/x:v1");
        assert_eq!(
            n("kind-registry:5000/courselab/demo:1.0"),
            "kind-registry:5000/courselab/demo:1.0"
        );
        assert_eq!(
            n(&format!("ghcr.io/kyverno/zulu:v0.0.14@{D}")),
            format!("ghcr.io/kyverno/zulu@{D}")
        );
    }

    #[test]
    fn rejects_malformed_references_and_digests() {
        assert_eq!(ImageRef::parse(""), Err(ReferenceError::Empty));
        assert!(matches!(
            ImageRef::parse("Nginx"),
            Err(ReferenceError::Malformed { .. })
        ));
        assert!(matches!(
            ImageRef::parse("a b"),
            Err(ReferenceError::Malformed { .. })
        ));
        assert!(matches!(
            ImageRef::parse("x:-bad"),
            Err(ReferenceError::Malformed { .. })
        ));
        assert!(matches!(
            ImageRef::parse("x@sha256:abc"),
            Err(ReferenceError::BadDigest { .. })
        ));
        assert!(matches!(
            ImageRef::parse("x@md5:abc"),
            Err(ReferenceError::BadDigest { .. })
        ));
        let upper = format!("x@sha256:{}", "A".repeat(64));
        assert!(matches!(
            ImageRef::parse(&upper),
            Err(ReferenceError::BadDigest { .. })
        ));
    }

    #[test]
    fn pinning_keeps_the_tag_for_patches_but_not_for_matching() {
        let pinned = ImageRef::parse("reg.io/app:v1").unwrap().with_digest(D);
        assert_eq!(pinned.tag.as_deref(), Some("v1"));
        assert_eq!(pinned.to_string(), format!("reg.io/app@{D}"));
    }
}
