//! The one way `lab admit` and `lab test` fetch the cosign artifacts the evaluator needs:
//! from OCI layouts on disk (one per repository name) or from a registry (each image's own,
//! or a mirror that serves every image under its own path, as containerd's `hosts.toml` makes
//! one). A missing image is a result, as Kyverno reports it; an unreachable registry is
//! recorded once per registry, so that its wait is paid once, and the verdicts are still given.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::evaluate::Artifacts;
use super::verify_entry::FetchFailure;
use crate::supply::cosign::{fetch_artifacts, fetch_artifacts_in};
use crate::supply::layout::LayoutStore;
use crate::supply::registry::{RegistryStore, Retry};
use crate::supply::{ImageRef, SupplyError};

/// Where the images' cosign artifacts come from.
#[derive(Debug, Clone)]
pub enum ImageSource {
    /// OCI layouts: `<dir>/<repository name>`, tags named as in the image.
    Layouts(PathBuf),
    /// A registry: each image's own, or `mirror` for all of them.
    Registry {
        /// `host:port` serving every image under its own path, if not the image's own.
        mirror: Option<String>,
        /// Allow plain HTTP.
        insecure: bool,
    },
}

impl ImageSource {
    /// Where images are read from, for messages.
    pub fn describe(&self) -> String {
        match self {
            ImageSource::Layouts(dir) => format!("the OCI layouts in {}", dir.display()),
            ImageSource::Registry {
                mirror: Some(host), ..
            } => format!("the registry {host}"),
            ImageSource::Registry { mirror: None, .. } => "each image's registry".to_owned(),
        }
    }
}

/// The layout folder of `image` under `dir`: its repository's last path segment.
pub fn layout_dir(dir: &Path, image: &ImageRef) -> PathBuf {
    dir.join(image.path.rsplit('/').next().unwrap_or(&image.path))
}

/// What was fetched: every image's artifacts or why they are missing, and the registries
/// that could not be reached (host and reason), in the order met.
#[derive(Debug, Default)]
pub struct Fetched {
    /// By image reference as written.
    pub artifacts: Artifacts,
    /// Registries that did not answer, with the last error.
    pub unreachable: Vec<(String, String)>,
}

/// The key under which [`fetch`] keeps the artifacts of `image` whose signatures and
/// attestations are kept in `repository` (an entry's `repository`).
pub fn artifacts_key(image: &str, repository: &str) -> String {
    format!("{image} (signatures in {repository})")
}

/// Fetches the artifacts of `images` from `source`, and of each image of `elsewhere` from the
/// repository named with it. Only input problems (a layout that is not one, a corrupt blob)
/// stop the fetch; they are errors of their own exit code.
pub async fn fetch(images: &[ImageRef], source: &ImageSource) -> Result<Fetched, SupplyError> {
    fetch_with(images, &[], source).await
}

/// [`fetch`], with the images whose signatures are kept in another repository.
pub async fn fetch_with(
    images: &[ImageRef],
    elsewhere: &[(ImageRef, ImageRef)],
    source: &ImageSource,
) -> Result<Fetched, SupplyError> {
    let mut fetched = Fetched::default();
    let mut down: BTreeMap<String, String> = BTreeMap::new();
    let targets = images
        .iter()
        .map(|i| (i, None))
        .chain(elsewhere.iter().map(|(i, r)| (i, Some(r))));
    for (image, repository) in targets {
        let result = match source {
            ImageSource::Layouts(dir) => from_layout(dir, image, repository).await,
            ImageSource::Registry { mirror, insecure } => {
                let mirrored = |r: &ImageRef| {
                    let mut target = r.clone();
                    if let Some(host) = mirror {
                        target.registry = host.clone();
                    }
                    target
                };
                let target = mirrored(image);
                let signatures = repository.map(mirrored);
                let hosts = [Some(&target), signatures.as_ref()];
                match hosts
                    .iter()
                    .flatten()
                    .find_map(|t| down.get(&t.registry).map(|r| (t, r)))
                {
                    Some((t, reason)) => Err(SupplyError::Unreachable {
                        target: t.registry.clone(),
                        reason: reason.clone(),
                    }),
                    None => {
                        let store = RegistryStore::new(&target, *insecure, Retry::default());
                        let found = match &signatures {
                            None => fetch_artifacts(&store, &target).await,
                            Some(at) if at.registry == target.registry => {
                                fetch_artifacts_in(&store, &target, &store, at).await
                            }
                            Some(at) => {
                                let other = RegistryStore::new(at, *insecure, Retry::default());
                                fetch_artifacts_in(&store, &target, &other, at).await
                            }
                        };
                        found.map(|mut a| {
                            a.image = image.clone();
                            a
                        })
                    }
                }
            }
        };
        let entry = match result {
            Ok(a) => Ok(a),
            Err(SupplyError::NotFound { image: what }) => Err(FetchFailure {
                network: false,
                message: format!("{what}: not found"),
            }),
            Err(SupplyError::Unreachable { target, reason }) => {
                if let std::collections::btree_map::Entry::Vacant(slot) = down.entry(target) {
                    fetched
                        .unreachable
                        .push((slot.key().clone(), reason.clone()));
                    slot.insert(reason.clone());
                }
                Err(FetchFailure {
                    network: true,
                    message: reason,
                })
            }
            Err(e) => return Err(e),
        };
        let key = match repository {
            None => image.to_string(),
            Some(r) => artifacts_key(&image.to_string(), &r.repository()),
        };
        fetched.artifacts.insert(key, entry);
    }
    Ok(fetched)
}

async fn from_layout(
    dir: &Path,
    image: &ImageRef,
    repository: Option<&ImageRef>,
) -> Result<crate::supply::cosign::CosignArtifacts, SupplyError> {
    let open = |of: &ImageRef| {
        let layout = layout_dir(dir, of);
        if layout.join("index.json").is_file() {
            Ok(layout)
        } else {
            Err(SupplyError::NotFound {
                image: format!(
                    "{of} (no OCI layout {}; a chapter's fixture layouts are built by `lab test --write-fixtures`)",
                    layout.display()
                ),
            })
        }
    };
    let store = LayoutStore::open(&open(image)?)?;
    match repository {
        None => fetch_artifacts(&store, image).await,
        Some(at) => {
            let signatures = LayoutStore::open(&open(at)?)?;
            fetch_artifacts_in(&store, image, &signatures, at).await
        }
    }
}
