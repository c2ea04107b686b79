//! A publisher's signature checked before its image goes into a bundle, by the real cosign
//! (`cosign verify`, through the command seam of `backend::host`). Kyverno signs its releases
//! keyless with whatever cosign its workflow installs, whose signatures may be Sigstore
//! bundles kept as OCI referrers and logged in Rekor v2 with a signed timestamp; cosign reads
//! every form Sigstore publishes and fetches Sigstore's trust root through its TUF client,
//! which is what this check must follow as Sigstore's formats move on.
//!
//! What is asked: the certificate identity (a regular expression) and OIDC issuer, the
//! signatures repository (`COSIGN_REPOSITORY`), and optionally another trust root
//! (`--trusted-root`, a private Sigstore) with the transparency log or SCT checks skipped on
//! request; whatever is skipped is recorded in the manifest. cosign's answer must also name
//! the digest asked about, so a misread answer never passes.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::error::BundleError;
use super::manifest::Verification;
use crate::backend::host::Host;
use crate::supply::registry::is_loopback;

/// How long one `cosign verify` may take (it fetches the trust root on first use).
const VERIFY_TIMEOUT: Duration = Duration::from_secs(180);
/// The oldest cosign that reads Sigstore bundles (v0.3) and trust roots.
const MIN_COSIGN: (u64, u64) = (3, 0);

/// How signatures are checked for this bundle.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// A Sigstore trust root file (`trusted_root.json`) instead of the public-good instance.
    pub trusted_root: Option<std::path::PathBuf>,
    /// Skip the transparency log (a private Sigstore without Rekor).
    pub ignore_tlog: bool,
    /// Skip the certificate transparency SCT (a private CA without a CT log).
    pub ignore_sct: bool,
}

/// Whose signature an artifact must carry.
#[derive(Debug, Clone)]
pub struct Signer<'a> {
    /// The publisher, in words (`Kyverno`).
    pub name: &'a str,
    /// The certificate identity, a regular expression.
    pub identity: &'a str,
    /// The OIDC issuer.
    pub issuer: &'a str,
    /// The repository holding the signatures (`COSIGN_REPOSITORY`), as reached.
    pub signatures: &'a str,
}

/// The cosign a bundle's checks run with.
pub struct Cosign<'h, H: Host> {
    host: &'h H,
    version: String,
    trust: Trust,
    trusted_root: String,
}

#[derive(Deserialize)]
struct Version {
    #[serde(rename = "gitVersion")]
    git_version: String,
}

impl<'h, H: Host> Cosign<'h, H> {
    /// Finds cosign on the host and checks its version.
    pub fn find(host: &'h H, trust: Trust) -> Result<Self, BundleError> {
        let install = "install cosign 3.0 or later (https://docs.sigstore.dev/cosign/system_config/installation/): lab bundle create checks Kyverno's signatures with it";
        let ran = host
            .run(
                "cosign",
                &["version", "--json"],
                None,
                Duration::from_secs(30),
            )
            .map_err(|e| BundleError::Tool(format!("cosign could not be run ({e}); {install}")))?;
        if ran.code == 127 {
            return Err(BundleError::Tool(format!(
                "cosign is not installed; {install}"
            )));
        }
        let version = serde_json::from_str::<Version>(&ran.stdout)
            .ok()
            .map(|v| v.git_version)
            .filter(|_| ran.ok())
            .ok_or_else(|| {
                BundleError::Tool(format!(
                    "`cosign version --json` gave no version (exit {}); {install}",
                    ran.code
                ))
            })?;
        if version_below(&version, MIN_COSIGN) {
            return Err(BundleError::Tool(format!(
                "cosign {version} is too old to read Sigstore bundles; {install}"
            )));
        }
        let trusted_root = match &trust.trusted_root {
            None => "Sigstore public-good instance (cosign's TUF trust root)".to_owned(),
            Some(path) => describe_file(path)?,
        };
        Ok(Cosign {
            host,
            version,
            trust,
            trusted_root,
        })
    }

    /// Verifies `image` (`repository@sha256:...`, as reached) against `signer`; `what` names it
    /// in errors. Returns what the manifest records.
    pub fn verify(
        &self,
        what: &str,
        image: &str,
        digest: &str,
        signer: &Signer<'_>,
    ) -> Result<Verification, BundleError> {
        let repository = format!("COSIGN_REPOSITORY={}", signer.signatures);
        let mut args = vec![
            repository.as_str(),
            "cosign",
            "verify",
            "--output",
            "json",
            "--certificate-identity-regexp",
            signer.identity,
            "--certificate-oidc-issuer",
            signer.issuer,
        ];
        let root = self
            .trust
            .trusted_root
            .as_ref()
            .map(|p| p.display().to_string());
        if let Some(root) = &root {
            args.extend(["--trusted-root", root.as_str()]);
        }
        let mut skipped = Vec::new();
        if self.trust.ignore_tlog {
            args.push("--insecure-ignore-tlog");
            skipped.push("transparency log".to_owned());
        }
        if self.trust.ignore_sct {
            args.push("--insecure-ignore-sct");
            skipped.push("SCT".to_owned());
        }
        let registry = image.split('/').next().unwrap_or_default();
        if is_loopback(registry) {
            args.push("--allow-http-registry");
        }
        args.push(image);
        let ran = self
            .host
            .run("env", &args, None, VERIFY_TIMEOUT)
            .map_err(|e| BundleError::Tool(format!("cosign could not be run ({e})")))?;
        let not_verified = |reason: String| BundleError::NotVerified {
            what: what.to_owned(),
            signer: signer.name.to_owned(),
            reason,
        };
        if ran.code == -1 {
            // Killed at its deadline, or by a signal: no verdict either way.
            return Err(BundleError::Tool(format!(
                "cosign gave no verdict on {what} within {} s; check the network to the registry and to Sigstore, then run again",
                VERIFY_TIMEOUT.as_secs()
            )));
        }
        if !ran.ok() {
            return Err(not_verified(cosign_error(&ran.stderr, ran.code)));
        }
        if !names_digest(&ran.stdout, digest) {
            return Err(not_verified(format!(
                "cosign verified signatures, but none names {digest}"
            )));
        }
        Ok(Verification {
            by: format!("cosign {}", self.version),
            identity: signer.identity.to_owned(),
            issuer: signer.issuer.to_owned(),
            trusted_root: self.trusted_root.clone(),
            skipped,
        })
    }
}

/// Whether cosign's JSON answer holds a payload for `digest`.
fn names_digest(stdout: &str, digest: &str) -> bool {
    let Ok(serde_json::Value::Array(payloads)) = serde_json::from_str(stdout) else {
        return false;
    };
    payloads.iter().any(|p| {
        p.pointer("/critical/image/docker-manifest-digest")
            .and_then(|d| d.as_str())
            == Some(digest)
    })
}

/// cosign's reason, from its last `Error:` line (or its last line), kept short and printable.
fn cosign_error(stderr: &str, code: i32) -> String {
    let line = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("Error: "))
        .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("no message");
    let mut reason = crate::text::printable(line.trim()).into_owned();
    if reason.len() > 400 {
        let cut = (0..=400)
            .rev()
            .find(|&i| reason.is_char_boundary(i))
            .unwrap_or(0);
        reason.truncate(cut);
        reason.push('…');
    }
    format!("cosign exited {code}: {reason}")
}

/// `v3.1.2` below `(3, 0)`? Unparsable versions count as too old.
fn version_below(version: &str, min: (u64, u64)) -> bool {
    let mut parts = version
        .trim_start_matches('v')
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u64>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) < min,
        _ => true,
    }
}

/// `trusted_root.json (sha256:…)`: a file's name and digest, for the manifest.
fn describe_file(path: &Path) -> Result<String, BundleError> {
    let file = crate::input::open_file(path)?;
    let (digest, _) = super::pack::digest_of(file).map_err(|e| BundleError::Unreadable {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(format!("{} ({digest})", crate::text::printable(&name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::host::Recorded;

    const DIGEST: &str = "sha256:eafab7bdd487d706bedfa28a901337d0771ef5e724f74c2ccb316b70e807336d";

    fn signer() -> Signer<'static> {
        Signer {
            name: "Kyverno",
            identity: r"^https://github\.com/kyverno/",
            issuer: "https://token.actions.githubusercontent.com",
            signatures: "ghcr.io/kyverno/signatures",
        }
    }

    fn payload(digest: &str) -> String {
        format!(
            r#"[{{"critical":{{"identity":{{"docker-reference":"x"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"https://sigstore.dev/cosign/sign/v1"}},"optional":{{}}}}]"#
        )
    }

    #[test]
    fn a_verified_answer_is_recorded_with_what_was_asked() {
        let host = Recorded::default();
        host.answer("cosign version", r#"{"gitVersion":"v3.1.2"}"#)
            .answer("env COSIGN_REPOSITORY", &payload(DIGEST));
        let cosign = Cosign::find(&host, Trust::default()).unwrap();
        let image = format!("reg.kyverno.io/kyverno/kyverno@{DIGEST}");
        let verified = cosign
            .verify("the image", &image, DIGEST, &signer())
            .unwrap();
        assert_eq!(verified.by, "cosign v3.1.2");
        assert!(verified.skipped.is_empty());
        assert!(verified.trusted_root.starts_with("Sigstore public-good"));
        insta::assert_snapshot!(host.transcript(), @r"
        cosign version --json
        env COSIGN_REPOSITORY=ghcr.io/kyverno/signatures cosign verify --output json --certificate-identity-regexp ^https://github\.com/kyverno/ --certificate-oidc-issuer https://token.actions.githubusercontent.com reg.kyverno.io/kyverno/kyverno@sha256:eafab7bdd487d706bedfa28a901337d0771ef5e724f74c2ccb316b70e807336d
        ");
    }

    #[test]
    fn a_refusal_or_an_answer_for_another_digest_stops_the_bundle() {
        let host = Recorded::default();
        host.answer("cosign version", r#"{"gitVersion":"v3.1.2"}"#).fail(
            "env COSIGN_REPOSITORY",
            1,
            "",
            "Error: no matching signatures: expected identity\nerror during command execution: x\n",
        );
        let cosign = Cosign::find(&host, Trust::default()).unwrap();
        let err = cosign
            .verify("the image x", "r/x@sha256:1", DIGEST, &signer())
            .unwrap_err();
        assert_eq!(err.exit_code(), crate::exit_code::VERIFICATION_FAILED);
        assert_eq!(
            err.to_string(),
            "the image x did not verify against Kyverno's signing identity, so no bundle was made: cosign exited 1: no matching signatures: expected identity"
        );
        let other = Recorded::default();
        other
            .answer("cosign version", r#"{"gitVersion":"v3.1.2"}"#)
            .answer("env COSIGN_REPOSITORY", &payload("sha256:other"));
        let cosign = Cosign::find(&other, Trust::default()).unwrap();
        let err = cosign.verify("x", "r/x", DIGEST, &signer()).unwrap_err();
        assert!(err.to_string().contains("none names sha256:eafab"), "{err}");
    }

    #[test]
    fn a_cosign_that_gives_no_verdict_is_not_taken_for_a_refusal() {
        let host = Recorded::default();
        host.answer("cosign version", r#"{"gitVersion":"v3.1.2"}"#)
            .fail("env COSIGN_REPOSITORY", -1, "", "\n(stopped after 180 s)");
        let cosign = Cosign::find(&host, Trust::default()).unwrap();
        let err = cosign
            .verify("the image x", "r/x", DIGEST, &signer())
            .unwrap_err();
        assert_eq!(err.exit_code(), crate::exit_code::BAD_CONTENT_OR_USAGE);
        assert!(
            err.to_string()
                .starts_with("cosign gave no verdict on the image x within 180 s"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_or_old_cosign_says_what_to_install() {
        let missing = Recorded::default();
        missing.fail("cosign version", 127, "", "cosign: not found");
        let err = Cosign::find(&missing, Trust::default()).err().unwrap();
        assert!(
            err.to_string()
                .starts_with("cosign is not installed; install cosign 3.0"),
            "{err}"
        );
        let old = Recorded::default();
        old.answer("cosign version", r#"{"gitVersion":"v2.4.1"}"#);
        let err = Cosign::find(&old, Trust::default()).err().unwrap();
        assert!(
            err.to_string().starts_with("cosign v2.4.1 is too old"),
            "{err}"
        );
        assert!(!version_below("v3.1.2", MIN_COSIGN));
        assert!(version_below("devel", MIN_COSIGN));
    }

    #[test]
    fn skipped_checks_are_asked_and_recorded() {
        let host = Recorded::default();
        host.answer("cosign version", r#"{"gitVersion":"v3.0.5"}"#)
            .answer("env COSIGN_REPOSITORY", &payload(DIGEST));
        let trust = Trust {
            trusted_root: None,
            ignore_tlog: true,
            ignore_sct: true,
        };
        let cosign = Cosign::find(&host, trust).unwrap();
        let verified = cosign
            .verify(
                "x",
                &format!("127.0.0.1:5000/k@{DIGEST}"),
                DIGEST,
                &signer(),
            )
            .unwrap();
        assert_eq!(verified.skipped, ["transparency log", "SCT"]);
        let transcript = host.transcript();
        assert!(
            transcript.contains("--insecure-ignore-tlog --insecure-ignore-sct --allow-http-registry 127.0.0.1:5000/k@"),
            "{transcript}"
        );
    }
}
