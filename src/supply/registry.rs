//! A registry [`Store`] over the OCI distribution API (oci-client): plain HTTP for loopback
//! registries and for those the user marks insecure, credentials from the user's docker config
//! for the rest, and retries with backoff on transient failures.

use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::digest::Digest;
use super::error::SupplyError;
use super::reference::ImageRef;
use super::store::{MANIFEST_MEDIA_TYPES, Manifest, Store};

/// How often and how patiently to retry transient failures.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// The first pause; each later pause is three times longer.
    pub first_pause: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 4,
            first_pause: Duration::from_millis(200),
        }
    }
}

/// A registry, reached over HTTPS, or over HTTP when it is loopback or marked insecure.
pub struct RegistryStore {
    client: Client,
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
        let protocol = if insecure || is_loopback(&registry) {
            ClientProtocol::HttpsExcept(vec![registry.clone()])
        } else {
            ClientProtocol::Https
        };
        let auth = docker_config_auth(&registry).unwrap_or(RegistryAuth::Anonymous);
        RegistryStore {
            client: Client::new(ClientConfig {
                protocol,
                ..Default::default()
            }),
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

    /// Runs `op`, retrying transient failures with backoff.
    async fn with_retry<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, SupplyError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        let mut pause = self.retry.first_pause;
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(value) => return Ok(value),
                Err(e) if is_transient(&e) && attempt < self.retry.attempts.max(1) => {
                    tokio::time::sleep(pause).await;
                    pause *= 3;
                    attempt += 1;
                }
                Err(e) => return Err(classify(&self.registry, what, &e)),
            }
        }
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
        self.with_retry(&reference.whole(), || {
            self.client
                .auth(&reference, &self.auth, oci_client::RegistryOperation::Push)
        })
        .await?;
        for blob in blobs {
            let digest = Digest::sha256_of(blob);
            self.with_retry(&format!("{}@{digest}", image.repository()), || {
                self.client
                    .push_blob(&reference, blob.clone(), digest.as_str())
            })
            .await?;
        }
        let media_type: http::HeaderValue = media_type.parse().map_err(|_| {
            SupplyError::BadInput(format!("`{media_type}` is not a valid media type"))
        })?;
        self.with_retry(&reference.whole(), || {
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
        let result = self
            .with_retry(&reference.whole(), || {
                self.client
                    .pull_manifest_raw(&reference, &self.auth, &MANIFEST_MEDIA_TYPES)
            })
            .await;
        match result {
            Ok((bytes, _)) => {
                let digest = Digest::sha256_of(&bytes);
                if tag_or_digest.contains(':') && digest.as_str() != tag_or_digest {
                    return Err(SupplyError::BadInput(format!(
                        "the registry returned a manifest for {} whose digest is {digest}",
                        reference.whole()
                    )));
                }
                Ok(Some(Manifest {
                    bytes: bytes.to_vec(),
                    digest,
                }))
            }
            Err(SupplyError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn blob(&self, image: &ImageRef, digest: &Digest) -> Result<Vec<u8>, SupplyError> {
        let reference = Self::reference(image, digest.as_str());
        let bytes = self
            .with_retry(&format!("{}@{digest}", image.repository()), || async {
                let mut out = Vec::new();
                self.client
                    .pull_blob(&reference, digest.as_str(), &mut out)
                    .await
                    .map(|()| out)
            })
            .await?;
        if !digest.matches(&bytes) {
            return Err(SupplyError::BadInput(format!(
                "blob {digest} of {} does not hash to its digest",
                image.repository()
            )));
        }
        Ok(bytes)
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
    fn docker_hub_short_names_gain_library() {
        let image = ImageRef::parse("nginx:1.27").unwrap();
        assert_eq!(
            RegistryStore::reference(&image, "1.27").repository(),
            "library/nginx"
        );
    }
}
