//! A registry [`Store`] over the OCI distribution API: plain HTTP for loopback registries and
//! for those the user marks insecure, credentials from the user's docker config for the rest.
//! Every request is bounded: each attempt has a deadline ([`Retry::attempt_timeout`]),
//! transient failures (including a deadline passed) are retried with backoff, and what is read
//! is limited (see [`super::pull`]). Pulls are read by [`Puller`]; pushes go through oci-client.

use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::digest::Digest;
use super::error::SupplyError;
use super::pull::{CONNECT_TIMEOUT, Failure, Puller, READ_TIMEOUT};
use super::reference::ImageRef;
use super::store::{
    Limit, MANIFEST_MEDIA_TYPES, MAX_MANIFEST_SIZE, Manifest, Store, check_blob_size,
    not_a_manifest,
};

/// How often and how patiently to retry transient failures.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// The first pause; each later pause is three times longer.
    pub first_pause: Duration,
    /// How long one attempt may take, start to finish; one that takes longer is transient.
    pub attempt_timeout: Duration,
}

impl Default for Retry {
    /// 4 attempts of at most 10 s, with pauses of 0.2, 0.6 and 1.8 s: at most 42.6 s for one
    /// request, and 22.6 s when the registry sends nothing at all ([`READ_TIMEOUT`] ends each
    /// attempt then). `lab verify --help` states both.
    fn default() -> Self {
        Retry {
            attempts: 4,
            first_pause: Duration::from_millis(200),
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

impl Retry {
    /// The longest one request can take before it is given up on: every attempt running into
    /// its deadline, and the pauses between them.
    pub fn worst_case(&self) -> Duration {
        self.total(self.attempt_timeout)
    }

    /// How long one request takes when every attempt fails after `per_attempt`.
    pub fn total(&self, per_attempt: Duration) -> Duration {
        let attempts = self.attempts.max(1);
        let mut total = per_attempt * attempts;
        let mut pause = self.first_pause;
        for _ in 1..attempts {
            total += pause;
            pause *= 3;
        }
        total
    }
}

/// A registry, reached over HTTPS, or over HTTP when it is loopback or marked insecure.
pub struct RegistryStore {
    client: Client,
    puller: Puller,
    registry: String,
    auth: RegistryAuth,
    retry: Retry,
}

/// Whether a registry host is on this machine (`localhost`, `127.x`, `[::1]`, with any port).
pub fn is_loopback(registry: &str) -> bool {
    let host = if registry.starts_with('[') {
        registry
            .split(']')
            .next()
            .unwrap_or(registry)
            .trim_start_matches('[')
    } else {
        registry.split(':').next().unwrap_or(registry)
    };
    host == "localhost" || host.starts_with("127.") || host == "::1"
}

impl RegistryStore {
    /// A client for the registry of `image`.
    pub fn new(image: &ImageRef, insecure: bool, retry: Retry) -> Self {
        let registry = image.registry.clone();
        let plain_http = insecure || is_loopback(&registry);
        let protocol = if plain_http {
            ClientProtocol::HttpsExcept(vec![registry.clone()])
        } else {
            ClientProtocol::Https
        };
        let auth = docker_config_auth(&registry).unwrap_or(RegistryAuth::Anonymous);
        RegistryStore {
            client: Client::new(ClientConfig {
                protocol,
                connect_timeout: Some(CONNECT_TIMEOUT),
                read_timeout: Some(READ_TIMEOUT),
                ..Default::default()
            }),
            puller: Puller::new(&registry, plain_http, auth.clone()),
            registry,
            auth,
            retry,
        }
    }

    fn reference(image: &ImageRef, tag_or_digest: &str) -> Reference {
        // Kyverno matches `docker.io/nginx`, but Docker Hub serves it as `library/nginx`.
        let repository = if image.registry == "docker.io" && !image.path.contains('/') {
            format!("library/{}", image.path)
        } else {
            image.path.clone()
        };
        if tag_or_digest.contains(':') {
            Reference::with_digest(image.registry.clone(), repository, tag_or_digest.to_owned())
        } else {
            Reference::with_tag(image.registry.clone(), repository, tag_or_digest.to_owned())
        }
    }

    /// Runs `op` with a deadline per attempt, retrying transient failures with backoff.
    async fn with_retry<T, F, Fut>(&self, op: F) -> Result<T, SupplyError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        self.with_retry_within(self.retry.attempt_timeout, op).await
    }

    /// [`Self::with_retry`] with `attempt_timeout` for each attempt instead of the retry's own.
    async fn with_retry_within<T, F, Fut>(
        &self,
        attempt_timeout: Duration,
        mut op: F,
    ) -> Result<T, SupplyError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let attempts = self.retry.attempts.max(1);
        let mut pause = self.retry.first_pause;
        let mut attempt = 1;
        let start = tokio::time::Instant::now();
        loop {
            let reason = match tokio::time::timeout(attempt_timeout, op()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(Failure::Final(e))) => return Err(e),
                Ok(Err(Failure::Transient(reason))) => reason,
                Err(_) => format!("no complete answer within {}", seconds(attempt_timeout)),
            };
            if attempt == attempts {
                let reason = match attempts {
                    1 => reason,
                    n => format!("{reason} ({n} attempts in {})", seconds(start.elapsed())),
                };
                return Err(SupplyError::Unreachable {
                    target: self.registry.clone(),
                    reason,
                });
            }
            tokio::time::sleep(pause).await;
            pause *= 3;
            attempt += 1;
        }
    }

    /// Runs an oci-client operation under [`Self::with_retry`].
    async fn oci<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, SupplyError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        self.with_retry(|| {
            let attempt = op();
            async move {
                attempt.await.map_err(|e| {
                    if is_transient(&e) {
                        Failure::Transient(first_line(&e.to_string()))
                    } else {
                        Failure::Final(classify(&self.registry, what, &e))
                    }
                })
            }
        })
        .await
    }
}

/// `10 s`, `42.6 s`, `250 ms`.
fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", (d.as_secs_f64() * 10.0).round() / 10.0)
    }
}

impl RegistryStore {
    /// Pushes a manifest and its blobs (config and layers) to `image`'s repository under `tag`.
    pub async fn push(
        &self,
        image: &ImageRef,
        tag: &str,
        manifest: &[u8],
        media_type: &str,
        blobs: &[Vec<u8>],
    ) -> Result<(), SupplyError> {
        let reference = Self::reference(image, tag);
        self.oci(&reference.whole(), || {
            self.client
                .auth(&reference, &self.auth, oci_client::RegistryOperation::Push)
        })
        .await?;
        for blob in blobs {
            let digest = Digest::sha256_of(blob);
            self.oci(&format!("{}@{digest}", image.repository()), || {
                self.client
                    .push_blob(&reference, blob.clone(), digest.as_str())
            })
            .await?;
        }
        let media_type: http::HeaderValue = media_type.parse().map_err(|_| {
            SupplyError::BadInput(format!("`{media_type}` is not a valid media type"))
        })?;
        self.oci(&reference.whole(), || {
            self.client
                .push_manifest_raw(&reference, manifest.to_vec(), media_type.clone())
        })
        .await?;
        Ok(())
    }
}

impl Store for RegistryStore {
    fn describe(&self) -> String {
        format!("registry {}", self.registry)
    }

    async fn resolve(&self, image: &ImageRef) -> Result<Digest, SupplyError> {
        if let Some(digest) = &image.digest {
            return Digest::parse(digest).map_err(|e| SupplyError::BadInput(e.to_string()));
        }
        let tag = image.tag.as_deref().unwrap_or("latest");
        let reference = Self::reference(image, tag);
        match self.manifest(image, tag).await? {
            Some(manifest) => Ok(manifest.digest),
            None => Err(SupplyError::NotFound {
                image: reference.whole(),
            }),
        }
    }

    async fn manifest(
        &self,
        image: &ImageRef,
        tag_or_digest: &str,
    ) -> Result<Option<Manifest>, SupplyError> {
        let reference = Self::reference(image, tag_or_digest);
        let what = reference.whole();
        let path = format!("manifests/{tag_or_digest}");
        let limit = Limit::AtMost(MAX_MANIFEST_SIZE);
        let result = self
            .with_retry(|| {
                self.puller
                    .get(&what, &reference, &path, &MANIFEST_MEDIA_TYPES, limit)
            })
            .await;
        let bytes = match result {
            Ok(bytes) => bytes,
            Err(SupplyError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let corrupt = |reason| SupplyError::Corrupt {
            what: what.clone(),
            reason,
        };
        let digest = Digest::sha256_of(&bytes);
        if tag_or_digest.contains(':') && digest.as_str() != tag_or_digest {
            return Err(corrupt(format!(
                "the registry's answer hashes to {digest} instead"
            )));
        }
        if let Some(why) = not_a_manifest(&bytes) {
            return Err(corrupt(format!("the registry's answer is {why}")));
        }
        Ok(Some(Manifest { bytes, digest }))
    }

    async fn blob(
        &self,
        image: &ImageRef,
        digest: &Digest,
        size: u64,
    ) -> Result<Vec<u8>, SupplyError> {
        let what = format!("blob {digest} of {}", image.repository());
        check_blob_size(&what, size)?;
        let reference = Self::reference(image, digest.as_str());
        let path = format!("blobs/{digest}");
        let bytes = self
            .with_retry(|| {
                self.puller
                    .get(&what, &reference, &path, &[], Limit::Exactly(size))
            })
            .await?;
        if !digest.matches(&bytes) {
            return Err(SupplyError::Corrupt {
                what,
                reason: "the registry sent bytes that do not hash to it".to_owned(),
            });
        }
        Ok(bytes)
    }
}

/// The slowest transfer a blob copy waits for, on top of the retry's own attempt time: an
/// attempt that falls below it is cut and tried again (each read has its own timeout too).
const SLOWEST_TRANSFER: u64 = 256 << 10;

impl RegistryStore {
    /// A blob of any size (a node image's layers run to hundreds of MiB) streamed into `sink`,
    /// checked on the way: exactly `size` bytes that hash to `digest`. Each attempt may take
    /// the retry's attempt time plus the time `size` takes at 256 KiB/s.
    pub async fn blob_into(
        &self,
        image: &ImageRef,
        digest: &Digest,
        size: u64,
        sink: &std::fs::File,
    ) -> Result<(), SupplyError> {
        let what = format!("blob {digest} of {}", image.repository());
        let reference = Self::reference(image, digest.as_str());
        let within = self.retry.attempt_timeout + Duration::from_secs(size / SLOWEST_TRANSFER);
        self.with_retry_within(within, || {
            self.puller.get_into(&what, &reference, digest, size, sink)
        })
        .await
    }
}

/// The size of the pieces a blob is pushed in.
#[cfg(feature = "live")]
const PUSH_CHUNK: usize = 4 << 20;

#[cfg(feature = "live")]
impl RegistryStore {
    /// Whether the repository of `image` holds the blob `digest`.
    pub async fn has_blob(&self, image: &ImageRef, digest: &Digest) -> Result<bool, SupplyError> {
        let reference = Self::reference(image, digest.as_str());
        self.oci(&format!("blob {digest} of {}", image.repository()), || {
            self.client.blob_exists(&reference, digest.as_str())
        })
        .await
    }

    /// Pushes the blob `digest` of `size` bytes, read from what `open` gives (called again for
    /// each attempt), to the repository of `image`; the registry checks the digest. Each
    /// attempt may take the retry's attempt time plus the time `size` takes at 256 KiB/s.
    pub async fn push_blob_from<R, F>(
        &self,
        image: &ImageRef,
        digest: &Digest,
        size: u64,
        open: F,
    ) -> Result<(), SupplyError>
    where
        R: std::io::Read + Send + Unpin + 'static,
        F: Fn() -> std::io::Result<R>,
    {
        let what = format!("blob {digest} of {}", image.repository());
        let reference = Self::reference(image, digest.as_str());
        self.oci(&reference.whole(), || {
            self.client
                .auth(&reference, &self.auth, oci_client::RegistryOperation::Push)
        })
        .await?;
        let within = self.retry.attempt_timeout + Duration::from_secs(size / SLOWEST_TRANSFER);
        self.with_retry_within(within, || {
            let reader = open();
            let reference = reference.clone();
            let what = what.clone();
            async move {
                let reader = reader.map_err(|e| {
                    Failure::Final(SupplyError::BadInput(format!(
                        "{what}: cannot be read ({e})"
                    )))
                })?;
                let chunks = futures_util::stream::unfold(reader, |mut reader| async move {
                    let mut buf = vec![0u8; PUSH_CHUNK];
                    let mut filled = 0;
                    while filled < buf.len() {
                        match std::io::Read::read(&mut reader, &mut buf[filled..]) {
                            Ok(0) => break,
                            Ok(n) => filled += n,
                            Err(e) => {
                                return Some((Err(OciDistributionError::IoError(e)), reader));
                            }
                        }
                    }
                    if filled == 0 {
                        return None;
                    }
                    buf.truncate(filled);
                    Some((Ok(bytes::Bytes::from(buf)), reader))
                });
                self.client
                    .push_blob_stream(&reference, chunks, digest.as_str(), Some(size))
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        if is_transient(&e) {
                            Failure::Transient(first_line(&e.to_string()))
                        } else {
                            Failure::Final(classify(&self.registry, &what, &e))
                        }
                    })
            }
        })
        .await
    }

    /// Pushes `manifest` (of `media_type`) to the repository of `image` under `reference`, a
    /// tag or its digest.
    pub async fn push_manifest(
        &self,
        image: &ImageRef,
        reference: &str,
        manifest: &[u8],
        media_type: &str,
    ) -> Result<(), SupplyError> {
        let target = Self::reference(image, reference);
        let media_type: http::HeaderValue = media_type.parse().map_err(|_| {
            SupplyError::BadInput(format!("`{media_type}` is not a valid media type"))
        })?;
        self.oci(&target.whole(), || {
            self.client
                .auth(&target, &self.auth, oci_client::RegistryOperation::Push)
        })
        .await?;
        self.oci(&target.whole(), || {
            self.client
                .push_manifest_raw(&target, manifest.to_vec(), media_type.clone())
        })
        .await?;
        Ok(())
    }
}

fn is_transient(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RequestError(r) => r.is_connect() || r.is_timeout() || r.is_request(),
        OciDistributionError::ServerError { code, .. } => *code >= 500 || *code == 429,
        _ => false,
    }
}

fn classify(registry: &str, what: &str, e: &OciDistributionError) -> SupplyError {
    let not_found = match e {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|err| {
            matches!(
                err.code,
                OciErrorCode::ManifestUnknown
                    | OciErrorCode::NameUnknown
                    | OciErrorCode::BlobUnknown
                    | OciErrorCode::NotFound
            )
        }),
        _ => false,
    };
    if not_found {
        return SupplyError::NotFound {
            image: what.to_owned(),
        };
    }
    match e {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => SupplyError::Unreachable {
            target: registry.to_owned(),
            reason: "the registry refused our credentials; run `docker login` for it".to_owned(),
        },
        other => SupplyError::Unreachable {
            target: registry.to_owned(),
            reason: first_line(&other.to_string()),
        },
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_owned()
}

/// Basic credentials for `registry` from `$DOCKER_CONFIG/config.json` (or `~/.docker`).
/// Credential helpers are not run; their registries are accessed anonymously.
fn docker_config_auth(registry: &str) -> Option<RegistryAuth> {
    use base64::Engine as _;
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".docker")))?;
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    let auths = config.get("auths")?.as_object()?;
    let keys = [
        registry.to_owned(),
        format!("https://{registry}"),
        if registry == "docker.io" {
            "https://index.docker.io/v1/".into()
        } else {
            String::new()
        },
    ];
    let entry = keys.iter().find_map(|k| auths.get(k))?;
    let encoded = entry.get("auth")?.as_str()?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let (user, pass) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some(RegistryAuth::Basic(user.to_owned(), pass.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in [
            "localhost",
            "localhost:5001",
            "127.0.0.1:5000",
            "[::1]:5000",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["kind-registry:5000", "ghcr.io", "127example.com"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn a_registry_that_never_answers_is_given_up_on_within_43_seconds() {
        // `lab verify --help` states these figures; they must stay the real ones.
        let retry = Retry::default();
        assert_eq!(retry.worst_case(), Duration::from_millis(42_600));
        assert_eq!(seconds(retry.worst_case()), "42.6 s");
        assert_eq!(retry.total(READ_TIMEOUT), Duration::from_millis(22_600));
    }

    fn quick_store(attempts: u32) -> RegistryStore {
        let retry = Retry {
            attempts,
            first_pause: Duration::from_millis(10),
            attempt_timeout: Duration::from_millis(50),
        };
        RegistryStore::new(
            &ImageRef::parse("127.0.0.1:9/demo:1").unwrap(),
            false,
            retry,
        )
    }

    #[tokio::test]
    async fn an_attempt_past_its_deadline_is_retried_then_unreachable() {
        let store = quick_store(3);
        let tries = std::cell::Cell::new(0);
        let result: Result<(), _> = store
            .with_retry(|| {
                tries.set(tries.get() + 1);
                std::future::pending()
            })
            .await;
        assert_eq!(tries.get(), 3);
        let err = result.unwrap_err();
        assert_eq!(err.exit_code(), crate::exit_code::UNREACHABLE);
        assert!(
            err.to_string()
                .contains("no complete answer within 50 ms (3 attempts in "),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_final_failure_is_not_retried() {
        let store = quick_store(4);
        let tries = std::cell::Cell::new(0);
        let result: Result<(), _> = store
            .with_retry(|| {
                tries.set(tries.get() + 1);
                std::future::ready(Err(Failure::Final(SupplyError::Corrupt {
                    what: "blob".into(),
                    reason: "too long".into(),
                })))
            })
            .await;
        assert_eq!(tries.get(), 1);
        assert!(matches!(result, Err(SupplyError::Corrupt { .. })));
    }

    #[test]
    fn docker_hub_short_names_gain_library() {
        let image = ImageRef::parse("nginx:1.27").unwrap();
        assert_eq!(
            RegistryStore::reference(&image, "1.27").repository(),
            "library/nginx"
        );
    }
}
