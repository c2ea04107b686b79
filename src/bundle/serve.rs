//! `lab bundle serve`: one machine in the room serves a bundle as a read-only OCI registry
//! (the distribution API's pull side), straight from the bundle file: every file was hashed
//! against the manifest when the server started, and each blob is read from where it lies in
//! the archive, never unpacked or copied.
//!
//! Names: an image is served under its full reference (`/v2/docker.io/kindest/node/...`), and
//! also as containerd asks a mirror for it (`/v2/kindest/node/...?ns=docker.io`), so the
//! server can stand for every publisher at once. Only `GET` and `HEAD` are answered; anything
//! else is refused with 405.
//!
//! Bounds: at most [`Limits::connections`] connections at a time (more wait in the listen
//! queue, [`BACKLOG`] deep), a request's head within 16 KiB and [`Limits::header_timeout`]
//! (which is also how long an idle keep-alive connection is kept), and a client that takes
//! nothing for [`Limits::stall_timeout`] is dropped, so a stuck laptop holds no slot.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::fs::File;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;

use super::error::BundleError;
use super::verify::{Positions, Verified, verify_indexed};

/// How the server is bounded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub connections: usize,
    /// How long a request's head may take to arrive (and an idle connection may wait).
    pub header_timeout: Duration,
    /// How long a client may take none of a blob before it is dropped.
    pub stall_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections: 1024,
            // Also how long an idle keep-alive connection is kept: a client's spare
            // connection must not hold a slot another laptop is waiting for.
            header_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(60),
        }
    }
}

/// How many connections may wait to be accepted (the kernel caps it at `somaxconn`).
pub const BACKLOG: u32 = 4096;

/// Listens on `address` (`HOST:PORT`) with a backlog of [`BACKLOG`], so that a room's burst
/// of connections waits to be served instead of being dropped.
pub async fn listen(address: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for candidate in tokio::net::lookup_host(address).await? {
        let socket = if candidate.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(candidate).and_then(|()| socket.listen(BACKLOG)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            "no address to listen on",
        )
    }))
}

/// The most bytes of a request head (its line and headers).
const MAX_HEAD: usize = 16 << 10;
/// The size of the reads a blob is sent in.
const CHUNK: u64 = 256 << 10;
/// The largest manifest read when the server starts.
const MAX_MANIFEST: u64 = 4 << 20;

/// What a bundle serves.
pub struct Registry {
    file: File,
    blobs: HashMap<String, (u64, u64)>,
    manifests: HashMap<String, String>,
    tags: BTreeMap<String, BTreeMap<String, String>>,
    /// The manifest, for the banner.
    pub verified: Verified,
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// The children of a manifest, when it is an index.
#[derive(Deserialize)]
struct Children {
    #[serde(default)]
    manifests: Vec<Child>,
}

#[derive(Deserialize)]
struct Child {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
}

impl Registry {
    /// Verifies the bundle at `path` and indexes what it serves. A bundle with any problem is
    /// not served: the room would pull what its maker never packed.
    pub fn open(path: &Path) -> Result<Registry, BundleError> {
        let file = crate::input::open_file(path)?;
        let (verified, positions) = verify_indexed(&file, path)?;
        if let Some(problem) = verified.problems.first() {
            return Err(BundleError::Manifest {
                path: path.to_owned(),
                reason: format!(
                    "it is not what its manifest says ({problem}, and {} more); `lab bundle verify` lists them",
                    verified.problems.len() - 1
                ),
            });
        }
        let mut registry = Registry {
            file,
            blobs: blobs(&positions),
            manifests: HashMap::new(),
            tags: BTreeMap::new(),
            verified,
        };
        let index_bytes = registry
            .read_small(positions.get("oci/index.json").copied(), "oci/index.json")
            .map_err(|reason| BundleError::Manifest {
                path: path.to_owned(),
                reason,
            })?;
        let index: Index =
            serde_json::from_slice(&index_bytes).map_err(|e| BundleError::Manifest {
                path: path.to_owned(),
                reason: format!("its oci/index.json does not parse ({e})"),
            })?;
        let mut pending: Vec<(String, String)> = Vec::new();
        for entry in &index.manifests {
            pending.push((entry.digest.clone(), entry.media_type.clone()));
            let Some(name) = entry
                .annotations
                .get(crate::supply::layout::REF_NAME_ANNOTATION)
            else {
                continue;
            };
            let (repository, tag) = split_name(name);
            let tags = registry.tags.entry(repository.to_owned()).or_default();
            if let Some(tag) = tag {
                tags.insert(tag.to_owned(), entry.digest.clone());
            }
        }
        // Every manifest reachable from the index, with its media type, so that a pull by
        // digest is answered with the right Content-Type.
        while let Some((digest, media_type)) = pending.pop() {
            if registry.manifests.contains_key(&digest) {
                continue;
            }
            let bytes = registry
                .blob_bytes(&digest)
                .map_err(|reason| BundleError::Manifest {
                    path: path.to_owned(),
                    reason,
                })?;
            if let Ok(children) = serde_json::from_slice::<Children>(&bytes) {
                for m in children.manifests {
                    pending.push((m.digest, m.media_type));
                }
            }
            registry.manifests.insert(digest, media_type);
        }
        Ok(registry)
    }

    /// The repositories served, each with its tags.
    pub fn tags(&self) -> &BTreeMap<String, BTreeMap<String, String>> {
        &self.tags
    }

    /// A small file of the bundle at `at` (`what` names it in errors), at most [`MAX_MANIFEST`].
    fn read_small(&self, at: Option<(u64, u64)>, what: &str) -> Result<Vec<u8>, String> {
        let (offset, size) = at.ok_or_else(|| format!("it has no {what}"))?;
        if size > MAX_MANIFEST {
            return Err(format!("its {what} is larger than 4 MiB"));
        }
        self.read_at(offset, size)
            .map_err(|e| format!("its {what} cannot be read ({e})"))
    }

    fn blob_bytes(&self, digest: &str) -> Result<Vec<u8>, String> {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.read_small(self.blobs.get(hex).copied(), &format!("manifest {digest}"))
    }

    fn read_at(&self, offset: u64, size: u64) -> std::io::Result<Vec<u8>> {
        let mut bytes = vec![0u8; size as usize];
        read_exact_at(&self.file, &mut bytes, offset)?;
        Ok(bytes)
    }

    /// The answer to one request (its method, path and query), before any body is read.
    pub fn route(&self, method: &Method, path: &str, query: Option<&str>) -> Route {
        if method != Method::GET && method != Method::HEAD {
            return Route::Error(
                StatusCode::METHOD_NOT_ALLOWED,
                "UNSUPPORTED",
                "this registry is read-only: it serves a venue bundle".into(),
            );
        }
        let head = method == Method::HEAD;
        let Some(rest) = path.strip_prefix("/v2") else {
            return not_found("NOT_FOUND", "not a registry API path");
        };
        if rest.is_empty() || rest == "/" {
            return Route::Json(StatusCode::OK, "{}".into());
        }
        let rest = rest.trim_start_matches('/');
        let namespace = query.and_then(|q| {
            q.split('&')
                .find_map(|pair| pair.strip_prefix("ns="))
                .filter(|ns| !ns.is_empty() && !ns.contains('/'))
        });
        let full = |name: &str| match namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_owned(),
        };
        if let Some(name) = rest.strip_suffix("/tags/list") {
            let repository = full(name);
            return match self.tags.get(&repository) {
                Some(tags) => Route::Json(
                    StatusCode::OK,
                    serde_json::json!({"name": name, "tags": tags.keys().collect::<Vec<_>>()})
                        .to_string(),
                ),
                None => name_unknown(&repository),
            };
        }
        let (name, kind, reference) =
            match (rest.rsplit_once("/manifests/"), rest.rsplit_once("/blobs/")) {
                (Some((name, reference)), _) => (name, "manifests", reference),
                (None, Some((name, reference))) => (name, "blobs", reference),
                _ => return not_found("NOT_FOUND", "not a registry API path"),
            };
        let repository = full(name);
        if !self.tags.contains_key(&repository) {
            return name_unknown(&repository);
        }
        if kind == "blobs" {
            let Some(hex) = reference.strip_prefix("sha256:") else {
                return not_found("BLOB_UNKNOWN", "only sha256 blobs are served");
            };
            return match self.blobs.get(hex) {
                Some(&(offset, size)) => Route::Blob {
                    media_type: "application/octet-stream".into(),
                    digest: reference.to_owned(),
                    offset,
                    size,
                    head,
                },
                None => not_found("BLOB_UNKNOWN", "blob unknown to registry"),
            };
        }
        match self.locate(&repository, reference) {
            Some(Located {
                digest,
                media_type,
                offset,
                size,
            }) => Route::Blob {
                media_type,
                digest,
                offset,
                size,
                head,
            },
            None => not_found("MANIFEST_UNKNOWN", "manifest unknown"),
        }
    }

    /// Where the manifest `reference` (a tag or a digest) of `repository` (a full name,
    /// `docker.io/kindest/node`) lies in the bundle, if the bundle serves it.
    pub fn locate(&self, repository: &str, reference: &str) -> Option<Located> {
        let tags = self.tags.get(repository)?;
        let digest = if reference.starts_with("sha256:") {
            reference.to_owned()
        } else {
            tags.get(reference)?.clone()
        };
        let hex = digest.trim_start_matches("sha256:");
        let media_type = self.manifests.get(&digest)?.clone();
        let &(offset, size) = self.blobs.get(hex)?;
        Some(Located {
            digest,
            media_type,
            offset,
            size,
        })
    }

    /// Where the blob `digest` (`sha256:<hex>`) lies in the bundle: its offset and size.
    pub fn blob_at(&self, digest: &str) -> Option<(u64, u64)> {
        self.blobs.get(digest.strip_prefix("sha256:")?).copied()
    }

    /// The bundle file, read through `&File` at the offsets [`Self::locate`] and
    /// [`Self::blob_at`] give.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// `size` bytes of the bundle at `offset` (at most 4 MiB: a manifest).
    pub fn read_manifest(&self, offset: u64, size: u64) -> Result<Vec<u8>, String> {
        self.read_small(Some((offset, size)), "manifest")
    }
}

/// A manifest in the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Its digest.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Where its bytes begin in the bundle.
    pub offset: u64,
    /// How many there are.
    pub size: u64,
}

/// What a request is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A JSON document.
    Json(StatusCode, String),
    /// A distribution API error: status, code, message.
    Error(StatusCode, &'static str, String),
    /// A blob or manifest from the bundle.
    Blob {
        /// Its Content-Type.
        media_type: String,
        /// Its digest (`Docker-Content-Digest`).
        digest: String,
        /// Where it lies in the bundle.
        offset: u64,
        /// Its bytes.
        size: u64,
        /// Headers only.
        head: bool,
    },
}

fn not_found(code: &'static str, message: &str) -> Route {
    Route::Error(StatusCode::NOT_FOUND, code, message.to_owned())
}

fn name_unknown(repository: &str) -> Route {
    not_found(
        "NAME_UNKNOWN",
        &format!(
            "repository name not known to registry: {}",
            crate::text::printable(repository)
        ),
    )
}

/// `docker.io/kindest/node:v1.35.8` -> (`docker.io/kindest/node`, `v1.35.8`); a name pinned
/// by digest has no tag.
fn split_name(name: &str) -> (&str, Option<&str>) {
    if let Some((repository, _)) = name.split_once('@') {
        return (repository, None);
    }
    match name.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag)),
        _ => (name, None),
    }
}

fn blobs(positions: &Positions) -> HashMap<String, (u64, u64)> {
    positions
        .iter()
        .filter_map(|(name, &at)| super::manifest::blob_hex(name).map(|hex| (hex.to_owned(), at)))
        .collect()
}

#[cfg(unix)]
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
pub(crate) fn read_exact_at(
    file: &File,
    mut buf: &mut [u8],
    mut offset: u64,
) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

type Reply = Response<BoxBody<Bytes, std::io::Error>>;

/// A blob's bytes, read from the bundle as the client takes them.
struct Streamed {
    chunks: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    left: u64,
}

impl Body for Streamed {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.chunks.poll_recv(cx).map(|chunk| {
            chunk.map(|result| {
                result.map(|bytes| {
                    self.left = self.left.saturating_sub(bytes.len() as u64);
                    Frame::data(bytes)
                })
            })
        })
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

fn full(text: String) -> BoxBody<Bytes, std::io::Error> {
    Full::new(Bytes::from(text))
        .map_err(|never: Infallible| match never {})
        .boxed()
}

fn empty() -> BoxBody<Bytes, std::io::Error> {
    full(String::new())
}

/// Answers one request.
fn answer(registry: &Arc<Registry>, request: &Request<Incoming>, limits: Limits) -> Reply {
    let route = registry.route(
        request.method(),
        request.uri().path(),
        request.uri().query(),
    );
    let mut response = match route {
        Route::Json(status, text) => {
            let mut r = Response::new(full(text));
            *r.status_mut() = status;
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
        Route::Error(status, code, message) => {
            let text =
                serde_json::json!({"errors": [{"code": code, "message": message}]}).to_string();
            let mut r = Response::new(full(text));
            *r.status_mut() = status;
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
        Route::Blob {
            media_type,
            digest,
            offset,
            size,
            head,
        } => {
            let body = if head {
                empty()
            } else {
                stream(Arc::clone(registry), offset, size, limits.stall_timeout).boxed()
            };
            let mut r = Response::new(body);
            let headers = r.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&media_type) {
                headers.insert(CONTENT_TYPE, v);
            }
            if let Ok(v) = HeaderValue::from_str(&digest) {
                headers.insert("docker-content-digest", v);
            }
            headers.insert(CONTENT_LENGTH, HeaderValue::from(size));
            r
        }
    };
    response.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    response
}

/// Reads `size` bytes at `offset` in chunks off the async thread, each handed on only as
/// fast as the client takes them; a client that takes nothing for `stall` is dropped.
fn stream(registry: Arc<Registry>, offset: u64, size: u64, stall: Duration) -> Streamed {
    let (sender, chunks) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let mut at = 0u64;
        while at < size {
            let len = CHUNK.min(size - at);
            let registry = Arc::clone(&registry);
            let read = tokio::task::spawn_blocking(move || registry.read_at(offset + at, len))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            let failed = read.is_err();
            let chunk = read.map(Bytes::from);
            if sender.send_timeout(chunk, stall).await.is_err() || failed {
                return;
            }
            at += len;
        }
    });
    Streamed { chunks, left: size }
}

/// Serves `registry` on `listener` until `stop` completes.
pub async fn serve(
    registry: Arc<Registry>,
    listener: tokio::net::TcpListener,
    limits: Limits,
    stop: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.connections.max(1)));
    let accept = async {
        loop {
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors, or a connection reset before it was taken: the
                // next one may fare better.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let registry = Arc::clone(&registry);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let reply = answer(&registry, &request, limits);
                    async move { Ok::<_, Infallible>(reply) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(limits.header_timeout)
                    .max_buf_size(MAX_HEAD.max(8192))
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
                drop(slot);
            });
        }
    };
    tokio::select! {
        () = accept => {}
        () = stop => {}
    }
}

/// The repositories and tags a bundle serves, for the banner.
pub fn names(registry: &Registry) -> BTreeSet<String> {
    registry
        .tags
        .iter()
        .flat_map(|(repository, tags)| tags.keys().map(move |t| format!("{repository}:{t}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supply::Digest;

    /// A bundle of one image, `docker.io/library/x:1` (a manifest and its config), and the
    /// digests of both.
    fn bundle(dir: &Path) -> (std::path::PathBuf, String, String) {
        let folder = dir.join("venue");
        let blobs = folder.join("oci/blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let config = br#"{"os":"linux"}"#;
        let config_digest = Digest::sha256_of(config);
        std::fs::write(blobs.join(config_digest.hex()), config).unwrap();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.as_str(), "size": config.len()},
            "layers": []
        })
        .to_string();
        let manifest_digest = Digest::sha256_of(manifest.as_bytes());
        std::fs::write(blobs.join(manifest_digest.hex()), &manifest).unwrap();
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest.as_str(), "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "docker.io/library/x:1"}
        }]});
        std::fs::write(folder.join("oci/index.json"), index.to_string()).unwrap();
        let path = dir.join("venue.tar");
        crate::bundle::pack::pack(
            &folder,
            "ch14",
            std::fs::File::create(&path).unwrap(),
            &path,
        )
        .unwrap();
        (
            path,
            manifest_digest.as_str().to_owned(),
            config_digest.as_str().to_owned(),
        )
    }

    #[test]
    fn requests_are_routed_as_the_distribution_api_and_containerd_mirrors_ask() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, manifest, config) = bundle(tmp.path());
        let registry = Registry::open(&path).unwrap();
        let get = |path: &str, query: Option<&str>| registry.route(&Method::GET, path, query);
        assert_eq!(get("/v2/", None), Route::Json(StatusCode::OK, "{}".into()));
        let Route::Blob {
            media_type,
            digest,
            offset,
            size,
            head,
        } = get("/v2/docker.io/library/x/manifests/1", None)
        else {
            panic!("a manifest by tag");
        };
        assert_eq!(media_type, "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(digest, manifest);
        assert!(!head);
        // Where the route points is the manifest's bytes.
        let bytes = registry.read_at(offset, size).unwrap();
        assert_eq!(Digest::sha256_of(&bytes).as_str(), manifest);
        // The same, as a containerd mirror asks; by digest; headers only.
        assert!(matches!(
            get("/v2/library/x/manifests/1", Some("ns=docker.io")),
            Route::Blob { ref digest, .. } if *digest == manifest
        ));
        assert!(matches!(
            get(
                &format!("/v2/docker.io/library/x/manifests/{manifest}"),
                None
            ),
            Route::Blob { .. }
        ));
        assert!(matches!(
            registry.route(&Method::HEAD, "/v2/docker.io/library/x/manifests/1", None),
            Route::Blob { head: true, .. }
        ));
        assert!(matches!(
            get(&format!("/v2/docker.io/library/x/blobs/{config}"), None),
            Route::Blob { ref media_type, .. } if media_type == "application/octet-stream"
        ));
        // A blob is not a manifest.
        assert!(matches!(
            get(&format!("/v2/docker.io/library/x/manifests/{config}"), None),
            Route::Error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", _)
        ));
        let tags = get("/v2/docker.io/library/x/tags/list", None);
        assert_eq!(
            tags,
            Route::Json(
                StatusCode::OK,
                r#"{"name":"docker.io/library/x","tags":["1"]}"#.into()
            )
        );
    }

    #[test]
    fn writes_unknown_names_and_odd_paths_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, ..) = bundle(tmp.path());
        let registry = Registry::open(&path).unwrap();
        for method in [Method::PUT, Method::POST, Method::DELETE, Method::PATCH] {
            assert!(matches!(
                registry.route(&method, "/v2/docker.io/library/x/manifests/1", None),
                Route::Error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED", _)
            ));
        }
        for (path, query, code) in [
            ("/v2/docker.io/library/y/manifests/1", None, "NAME_UNKNOWN"),
            ("/v2/library/x/manifests/1", None, "NAME_UNKNOWN"),
            ("/v2/library/x/manifests/1", Some("ns=a/b"), "NAME_UNKNOWN"),
            (
                "/v2/docker.io/library/x/manifests/2",
                None,
                "MANIFEST_UNKNOWN",
            ),
            (
                "/v2/docker.io/library/x/blobs/sha512:00",
                None,
                "BLOB_UNKNOWN",
            ),
            (
                "/v2/docker.io/library/x/blobs/sha256:00",
                None,
                "BLOB_UNKNOWN",
            ),
            ("/v2/docker.io/library/x", None, "NOT_FOUND"),
            ("/v2/../../etc/passwd/blobs/x", None, "NAME_UNKNOWN"),
            ("/etc/passwd", None, "NOT_FOUND"),
            ("/v2/docker.io/library/x/tags/list/extra", None, "NOT_FOUND"),
        ] {
            assert!(
                matches!(
                    registry.route(&Method::GET, path, query),
                    Route::Error(StatusCode::NOT_FOUND, c, _) if c == code
                ),
                "{path} {query:?}: {:?}",
                registry.route(&Method::GET, path, query)
            );
        }
    }

    #[test]
    fn names_split_into_repository_and_tag() {
        assert_eq!(
            split_name("docker.io/kindest/node:v1.35.8"),
            ("docker.io/kindest/node", Some("v1.35.8"))
        );
        assert_eq!(
            split_name("127.0.0.1:5000/x:1"),
            ("127.0.0.1:5000/x", Some("1"))
        );
        assert_eq!(split_name("127.0.0.1:5000/x"), ("127.0.0.1:5000/x", None));
        assert_eq!(split_name("r/x@sha256:ab"), ("r/x", None));
    }
}
