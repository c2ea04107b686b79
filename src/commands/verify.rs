//! `lab verify IMAGE --key PUB [--attestation-type T]`: verifies an image's cosign signatures
//! (and optionally its attestations) and prints the verified claims as cosign does.

use std::io::Write;
use std::path::{Path, PathBuf};

use regex::Regex;

use super::emit;
use crate::error::LabError;
use crate::exit_code;
use crate::report;
use crate::supply::attestation::verify_attestations;
use crate::supply::cosign::fetch_artifacts;
use crate::supply::keyless::{KeylessPolicy, RekorKey, roots_from_pem};
use crate::supply::layout::LayoutStore;
use crate::supply::registry::{RegistryStore, Retry};
use crate::supply::signature::{Verifier, verify_signatures};
use crate::supply::{ImageRef, SupplyError};

/// What `lab verify` was asked to do.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    /// The image reference.
    pub image: String,
    /// Who must have signed.
    pub signer: SignerArgs,
    /// An attestation type to verify as well (URI or cosign shorthand).
    pub attestation_type: Option<String>,
    /// Allow plain HTTP to this registry.
    pub insecure: bool,
    /// Read from this OCI layout instead of the registry.
    pub layout: Option<PathBuf>,
    /// Print JSON.
    pub json: bool,
}

/// The signer options, as given.
#[derive(Debug, Clone)]
pub enum SignerArgs {
    /// `--key FILE`.
    Key(PathBuf),
    /// The keyless options.
    Keyless {
        /// `--certificate-identity`.
        identity: Option<String>,
        /// `--certificate-identity-regexp`.
        identity_regexp: Option<String>,
        /// `--certificate-oidc-issuer`.
        issuer: Option<String>,
        /// `--certificate-oidc-issuer-regexp`.
        issuer_regexp: Option<String>,
        /// `--ca-roots`.
        ca_roots: Option<PathBuf>,
        /// `--rekor-public-key`.
        rekor_public_key: Option<PathBuf>,
        /// `--insecure-ignore-tlog`.
        insecure_ignore_tlog: bool,
    },
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, LabError> {
    crate::input::read_bytes(path, crate::input::limit::KEY, "a key or certificate file")
        .map_err(|e| LabError::Usage(format!("the {what}: {e}")))
}

fn regex(pattern: Option<&String>, flag: &str) -> Result<Option<Regex>, LabError> {
    pattern
        .map(|p| {
            Regex::new(p)
                .map_err(|e| LabError::Usage(format!("--{flag} is not a regular expression: {e}")))
        })
        .transpose()
}

impl SignerArgs {
    /// Builds the verifier, checking that the options make sense together.
    fn verifier(&self) -> Result<Verifier, LabError> {
        let SignerArgs::Keyless {
            identity,
            identity_regexp,
            issuer,
            issuer_regexp,
            ca_roots,
            rekor_public_key,
            insecure_ignore_tlog,
        } = self
        else {
            let SignerArgs::Key(path) = self else {
                unreachable!("two variants")
            };
            return Ok(Verifier::from_public_key_pem(&read(path, "key")?)?);
        };
        let usage = |m: &str| Err(LabError::Usage(m.to_owned()));
        if identity.is_none() && identity_regexp.is_none() {
            return usage(
                "keyless verification needs --certificate-identity or --certificate-identity-regexp",
            );
        }
        if issuer.is_none() && issuer_regexp.is_none() {
            return usage(
                "keyless verification needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp",
            );
        }
        let Some(roots_file) = ca_roots else {
            return usage(
                "keyless verification offline needs --ca-roots FILE (the PEM roots the signing certificate chains to)",
            );
        };
        let roots = roots_from_pem(&read(roots_file, "CA roots")?);
        if roots.is_empty() {
            return Err(LabError::Usage(format!(
                "{} holds no PEM certificate",
                roots_file.display()
            )));
        }
        let rekor = match (rekor_public_key, insecure_ignore_tlog) {
            (Some(path), _) => Some(
                RekorKey::from_pem(&read(path, "Rekor public key")?).map_err(LabError::Usage)?,
            ),
            (None, true) => None,
            (None, false) => {
                return usage(
                    "pass --rekor-public-key FILE to verify the transparency-log bundle offline, or --insecure-ignore-tlog to skip it",
                );
            }
        };
        Ok(Verifier::Keyless(Box::new(KeylessPolicy {
            roots,
            subject: identity.clone(),
            subject_regexp: regex(identity_regexp.as_ref(), "certificate-identity-regexp")?,
            issuer: issuer.clone(),
            issuer_regexp: regex(issuer_regexp.as_ref(), "certificate-oidc-issuer-regexp")?,
            rekor,
        })))
    }
}

/// Runs the verification; exit 0 when verified.
pub fn run(request: &VerifyRequest, out: &mut impl Write) -> Result<u8, LabError> {
    let image = ImageRef::parse(&request.image).map_err(|e| {
        LabError::Usage(format!(
            "{e}; write it as registry/repository:tag or @sha256:<digest>"
        ))
    })?;
    let verifier = request.signer.verifier()?;
    let artifacts = match &request.layout {
        Some(dir) => {
            let store = LayoutStore::open(dir)?;
            crate::runtime::block_on(fetch_artifacts(&store, &image))??
        }
        None => crate::runtime::block_on(fetch_artifacts(
            &RegistryStore::new(&image, request.insecure, Retry::default()),
            &image,
        ))??,
    };
    let not_verified = |reason| SupplyError::NotVerified {
        image: artifacts.pinned(),
        reason,
    };
    let signatures = verify_signatures(&artifacts, &verifier).map_err(not_verified)?;
    let attestations = match &request.attestation_type {
        Some(wanted) => {
            Some(verify_attestations(&artifacts, &verifier, wanted).map_err(not_verified)?)
        }
        None => None,
    };
    let verification = report::verify::Verification {
        image: &request.image,
        artifacts: &artifacts,
        verifier: &verifier,
        signatures: &signatures,
        attestations: attestations.as_deref(),
        attestation_type: request.attestation_type.as_deref(),
    };
    let text = if request.json {
        report::verify::json(&verification)
    } else {
        report::verify::human(&verification)
    };
    emit(out, &text)?;
    Ok(exit_code::SUCCESS)
}
