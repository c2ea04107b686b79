//! Whether a bundle holds everything a lab needs (`lab doctor CHAPTER --bundle FILE`): each
//! thing the lab's files name, found in the bundle's manifest at the digest the lab pins, or
//! said missing. Only the manifest is read here; the caller has verified the files against it.

use super::create::{Needs, REGISTRY_IMAGE, canonical_name};
use super::kyverno;
use super::manifest::{Manifest, Role};
use crate::supply::ImageRef;

/// One thing the lab needs, and how the bundle stands on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// What is needed (`kind node image docker.io/kindest/node:v1.35.8`).
    pub what: String,
    /// What the bundle has, or why it does not do.
    pub found: Result<String, String>,
}

/// Each thing `needs` names for lab `lab`, against `manifest`.
pub fn holds(manifest: &Manifest, needs: &Needs, lab: &str) -> Vec<Holding> {
    let mut out = Vec::new();
    if manifest.lab != lab {
        out.push(Holding {
            what: "lab".into(),
            found: Err(format!(
                "the bundle was made for {}, not {lab}",
                crate::text::printable(&manifest.lab)
            )),
        });
    }
    let image = |role: Role, reference: &str| -> Holding {
        let what = format!("{} {reference}", role.describe());
        let Ok(parsed) = ImageRef::parse(reference) else {
            return Holding {
                what,
                found: Err("the lab names it with a reference that does not parse".into()),
            };
        };
        let name = canonical_name(&parsed);
        let found = match manifest.image(&name) {
            None => Err("not in the bundle".to_owned()),
            Some(held) if held.role != role => Err(format!(
                "in the bundle as a {}, not as a {}",
                held.role.describe(),
                role.describe()
            )),
            Some(held) => match &parsed.digest {
                Some(pinned) if *pinned != held.digest => Err(format!(
                    "the bundle has {}, the lab pins {pinned}",
                    held.digest
                )),
                _ if role == Role::Kyverno && held.verified.is_none() => {
                    Err("in the bundle, but its signature was never verified".into())
                }
                _ => Ok(held.digest.clone()),
            },
        };
        Holding { what, found }
    };
    for node in &needs.node_images {
        out.push(image(Role::KindNode, node));
    }
    out.push(image(Role::Registry, REGISTRY_IMAGE));
    if let Some(base) = &needs.base_image {
        out.push(image(Role::BaseImage, base));
    }
    let chart_reference = format!("{}:{}", kyverno::CHART_REPOSITORY, needs.chart_version);
    match manifest
        .charts
        .iter()
        .find(|c| c.name == "kyverno" && c.version == needs.chart_version)
    {
        None => out.push(Holding {
            what: format!("chart {chart_reference}"),
            found: Err(match manifest.charts.iter().find(|c| c.name == "kyverno") {
                Some(other) => format!(
                    "the bundle has Kyverno's chart {}, the lab installs {}",
                    crate::text::printable(&other.version),
                    needs.chart_version
                ),
                None => "not in the bundle".into(),
            }),
        }),
        Some(chart) => {
            out.push(Holding {
                what: format!("chart {chart_reference}"),
                found: if chart.verified.is_some() {
                    Ok(chart.digest.clone())
                } else {
                    Err("in the bundle, but its signature was never verified".into())
                },
            });
            let mut images: Vec<&String> = chart.images.values().collect();
            images.sort();
            images.dedup();
            for reference in images {
                out.push(image(Role::Kyverno, reference));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::bundle::manifest::{BundledChart, BundledImage, Verification};

    const NODE: &str = "sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0";
    const OTHER: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn verification() -> Option<Verification> {
        Some(Verification {
            by: "cosign v3.1.2".into(),
            identity: "x".into(),
            issuer: "y".into(),
            trusted_root: "z".into(),
            skipped: Vec::new(),
        })
    }

    fn image(role: Role, reference: &str, digest: &str) -> BundledImage {
        BundledImage {
            role,
            reference: reference.into(),
            digest: digest.into(),
            cosign: Vec::new(),
            verified: (role == Role::Kyverno).then(verification).flatten(),
        }
    }

    fn needs() -> Needs {
        Needs {
            node_images: vec![format!("kindest/node:v1.35.8@{NODE}")],
            base_image: None,
            chart_version: "3.9.0".into(),
        }
    }

    fn manifest() -> Manifest {
        Manifest {
            schema_version: 1,
            lab: "ch14".into(),
            images: vec![
                image(Role::KindNode, "docker.io/kindest/node:v1.35.8", NODE),
                image(Role::Registry, "docker.io/library/registry:3", OTHER),
                image(
                    Role::Kyverno,
                    "reg.kyverno.io/kyverno/kyverno:v1.19.0",
                    OTHER,
                ),
            ],
            charts: vec![BundledChart {
                name: "kyverno".into(),
                version: "3.9.0".into(),
                reference: "ghcr.io/kyverno/charts/kyverno:3.9.0".into(),
                digest: OTHER.into(),
                file: "charts/kyverno-3.9.0.tgz".into(),
                images: BTreeMap::from([(
                    "admissionController.container.image".into(),
                    "reg.kyverno.io/kyverno/kyverno:v1.19.0".into(),
                )]),
                cosign: Vec::new(),
                verified: verification(),
            }],
            files: BTreeMap::new(),
        }
    }

    #[test]
    fn a_complete_bundle_holds_each_need_at_its_pinned_digest() {
        let found = holds(&manifest(), &needs(), "ch14");
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(found.iter().all(|h| h.found.is_ok()), "{found:#?}");
    }

    #[test]
    fn what_is_missing_or_other_is_named() {
        let mut other = manifest();
        other.lab = "ch15".into();
        other.images[0].digest = OTHER.into();
        other.images.remove(2);
        other.charts[0].verified = None;
        let mut needs = needs();
        needs.base_image = Some(format!("ghcr.io/stefanprodan/podinfo:6.9.1@{NODE}"));
        let found = holds(&other, &needs, "ch14");
        let problems: Vec<String> = found
            .iter()
            .filter_map(|h| h.found.as_ref().err().map(|e| format!("{}: {e}", h.what)))
            .collect();
        assert_eq!(
            problems,
            [
                "lab: the bundle was made for ch15, not ch14".to_owned(),
                format!(
                    "kind node image kindest/node:v1.35.8@{NODE}: the bundle has {OTHER}, the lab pins {NODE}"
                ),
                format!("base image ghcr.io/stefanprodan/podinfo:6.9.1@{NODE}: not in the bundle"),
                "chart ghcr.io/kyverno/charts/kyverno:3.9.0: in the bundle, but its signature was never verified".to_owned(),
                "Kyverno image reg.kyverno.io/kyverno/kyverno:v1.19.0: not in the bundle".to_owned(),
            ]
        );
        let mut older = manifest();
        older.charts[0].version = "3.8.2".into();
        let found = holds(&older, &self::needs(), "ch14");
        assert_eq!(
            found.last().unwrap().found,
            Err("the bundle has Kyverno's chart 3.8.2, the lab installs 3.9.0".into())
        );
    }
}
