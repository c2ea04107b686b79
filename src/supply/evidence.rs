//! Evidence a learner saves by hand: the JSON that `cosign verify` prints, and the container
//! `imageID`s that `kubectl get pods -o jsonpath='{..imageID}'` prints. Both are parsed into
//! digests so that they can be cross-checked: every running digest must be a signed one.

use super::digest::Digest;
use super::signature::{SIGNATURE_TYPE, SimpleSigning};

/// Why an evidence file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The file is empty.
    #[error("the file is empty; save the command's output into it")]
    Empty,
    /// Not the output of `cosign verify`.
    #[error(
        "this is not `cosign verify` output: {0}; save its stdout (not stderr) with `> evidence/cosign-verify.json`"
    )]
    NotCosignOutput(String),
    /// An image ID without a digest; the word's position, never the word (the file may be
    /// anything, a credential included).
    #[error(
        "word {0} of the file is not an image ID with a digest (`@sha256:` and 64 hex digits); use the `imageID` field of the container statuses, not `image`"
    )]
    NotAnImageId(usize),
}

/// One claim printed by `cosign verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignClaim {
    /// `critical.identity.docker-reference`.
    pub docker_reference: String,
    /// `critical.image.docker-manifest-digest`.
    pub digest: Digest,
}

/// Parses `cosign verify` stdout: a JSON array of simple-signing payloads (cosign may also
/// print one array per line when several images are verified).
pub fn parse_cosign_verify(text: &str) -> Result<Vec<CosignClaim>, EvidenceError> {
    if text.trim().is_empty() {
        return Err(EvidenceError::Empty);
    }
    let mut claims = Vec::new();
    let stream = serde_json::Deserializer::from_str(text).into_iter::<Vec<SimpleSigning>>();
    for batch in stream {
        // serde_json's message may quote a value of the file: say where, not what.
        let batch = batch.map_err(|e| {
            EvidenceError::NotCosignOutput(format!(
                "not a JSON array of signature payloads (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        for payload in batch {
            if payload.critical.kind != SIGNATURE_TYPE {
                return Err(EvidenceError::NotCosignOutput(format!(
                    "a payload's `critical.type` is not `{SIGNATURE_TYPE}`"
                )));
            }
            let digest =
                Digest::parse(&payload.critical.image.docker_manifest_digest).map_err(|_| {
                    EvidenceError::NotCosignOutput(
                        "a payload's `docker-manifest-digest` is not a sha256 digest".to_owned(),
                    )
                })?;
            claims.push(CosignClaim {
                docker_reference: payload.critical.identity.docker_reference,
                digest,
            });
        }
    }
    if claims.is_empty() {
        return Err(EvidenceError::NotCosignOutput(
            "it holds no signature payloads".to_owned(),
        ));
    }
    Ok(claims)
}

/// A running container's image, as its `imageID` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningImage {
    /// The repository, when the runtime reports one (`registry/path`); containerd may report
    /// only the digest.
    pub repository: Option<String>,
    /// The digest.
    pub digest: Digest,
}

/// Parses the whitespace-separated `imageID`s that kubectl prints.
pub fn parse_pod_image_ids(text: &str) -> Result<Vec<RunningImage>, EvidenceError> {
    let ids: Vec<&str> = text.split_whitespace().collect();
    if ids.is_empty() {
        return Err(EvidenceError::Empty);
    }
    ids.into_iter()
        .enumerate()
        .map(|(i, id)| parse_image_id(id).ok_or(EvidenceError::NotAnImageId(i + 1)))
        .collect()
}

fn parse_image_id(id: &str) -> Option<RunningImage> {
    let trimmed = id.trim_matches(|c| c == '\'' || c == '"');
    let bare = ["docker-pullable://", "docker://", "containerd://"]
        .iter()
        .fold(trimmed, |s, p| s.strip_prefix(p).unwrap_or(s));
    let (repository, digest) = match bare.rsplit_once('@') {
        Some((repo, digest)) => (Some(repo.to_owned()), digest),
        None => (None, bare),
    };
    let digest = Digest::parse(digest).ok()?;
    Some(RunningImage { repository, digest })
}

/// Running digests that no verified signature covers (empty when the evidence agrees).
pub fn unsigned_running<'a>(
    running: &'a [RunningImage],
    signed: &[CosignClaim],
) -> Vec<&'a RunningImage> {
    running
        .iter()
        .filter(|r| !signed.iter().any(|c| c.digest == r.digest))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const B: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn cosign_output(digest: &str) -> String {
        format!(
            r#"[{{"critical":{{"identity":{{"docker-reference":"kind-registry:5000/courselab/demo"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":{{"Bundle":null}}}}]"#
        )
    }

    #[test]
    fn reads_cosign_verify_output() {
        let claims = parse_cosign_verify(&format!("{}\n", cosign_output(A))).unwrap();
        assert_eq!(
            claims,
            [CosignClaim {
                docker_reference: "kind-registry:5000/courselab/demo".into(),
                digest: Digest::parse(A).unwrap()
            }]
        );
        let two =
            parse_cosign_verify(&format!("{}\n{}\n", cosign_output(A), cosign_output(B))).unwrap();
        assert_eq!(two.len(), 2);
    }

    #[test]
    fn rejects_what_is_not_cosign_output() {
        assert_eq!(parse_cosign_verify("  \n"), Err(EvidenceError::Empty));
        assert!(matches!(
            parse_cosign_verify("Verification for x --"),
            Err(EvidenceError::NotCosignOutput(_))
        ));
        assert!(matches!(
            parse_cosign_verify("[]"),
            Err(EvidenceError::NotCosignOutput(_))
        ));
        let wrong_type = cosign_output(A).replace("cosign container image signature", "other");
        assert!(matches!(
            parse_cosign_verify(&wrong_type),
            Err(EvidenceError::NotCosignOutput(_))
        ));
    }

    #[test]
    fn reads_image_ids_from_every_runtime_form() {
        let text =
            format!("kind-registry:5000/courselab/demo@{A} docker-pullable://nginx@{B}\n'{A}'");
        let running = parse_pod_image_ids(&text).unwrap();
        assert_eq!(
            running[0].repository.as_deref(),
            Some("kind-registry:5000/courselab/demo")
        );
        assert_eq!(running[1].repository.as_deref(), Some("nginx"));
        assert_eq!(
            (running[2].repository.as_ref(), running[2].digest.as_str()),
            (None, A)
        );
        assert!(matches!(
            parse_pod_image_ids("demo:1.4.2"),
            Err(EvidenceError::NotAnImageId(_))
        ));
        assert_eq!(parse_pod_image_ids(""), Err(EvidenceError::Empty));
    }

    // A link to ~/.git-credentials as the evidence file printed the credential in the message.
    #[test]
    fn a_word_that_is_not_an_image_id_is_named_by_position_never_quoted() {
        let text = format!("r/demo@{A} https://learner:ghp_secret@github.com");
        let err = parse_pod_image_ids(&text).unwrap_err();
        assert_eq!(err, EvidenceError::NotAnImageId(2));
        assert!(!err.to_string().contains("ghp_secret"), "{err}");
        let err = parse_cosign_verify("[\"ghp_secret\"]")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("ghp_secret"), "{err}");
    }

    #[test]
    fn cross_check_finds_running_digests_nobody_signed() {
        let running = parse_pod_image_ids(&format!("r/demo@{A} r/demo@{B}")).unwrap();
        let signed = parse_cosign_verify(&cosign_output(A)).unwrap();
        let unsigned = unsigned_running(&running, &signed);
        assert_eq!(unsigned.len(), 1);
        assert_eq!(unsigned[0].digest.as_str(), B);
    }
}
