//! Verifying cosign attestations, which sigstore-rs 0.15 does not read: each `.att` layer is a
//! DSSE envelope whose signature covers the PAE encoding of its payload; the payload is an
//! in-toto statement whose subject must name this image's digest and whose predicate type must
//! be the one asked for. SPDX predicates are then checked to be sane SPDX 2.x documents.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cosign::{AttestationLayer, CosignArtifacts};
use super::error::NotVerified;
use super::keyless::SignedLayer;
use super::signature::Verifier;

/// The in-toto payload type DSSE envelopes carry.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The SPDX predicate type.
pub const SPDX_PREDICATE: &str = "https://spdx.dev/Document";

/// cosign's `--type` shorthands and the predicate types they stand for
/// (cosign `pkg/cosign/attestation` and `cmd/cosign/cli/options/predicate.go`).
const ALIASES: [(&str, &str); 10] = [
    ("spdx", SPDX_PREDICATE),
    ("spdxjson", SPDX_PREDICATE),
    ("cyclonedx", "https://cyclonedx.org/bom"),
    ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance02", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
    ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
    ("custom", "https://cosign.sigstore.dev/attestation/v1"),
    ("link", "https://in-toto.io/Link/v1"),
    ("openvex", "https://openvex.dev/ns"),
];

/// The predicate type a `--type` value means: a shorthand's URI, or the value itself.
pub fn predicate_type(type_or_alias: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == type_or_alias)
        .map_or(type_or_alias, |(_, uri)| uri)
}

/// PAE, the DSSE pre-authentication encoding that the signature covers.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Deserialize)]
struct EnvelopeSignature {
    sig: String,
}

/// An in-toto statement (v0.1 or v1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Statement {
    /// `https://in-toto.io/Statement/v0.1` or `/v1`.
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// What the statement is about.
    pub subject: Vec<Subject>,
    /// The predicate's type URI.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate.
    #[serde(default)]
    pub predicate: Value,
}

/// A statement subject.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subject {
    /// Usually the image repository.
    #[serde(default)]
    pub name: String,
    /// Algorithm to hex digest.
    pub digest: std::collections::BTreeMap<String, String>,
}

/// An attestation that verified.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedAttestation {
    /// The predicate type.
    pub predicate_type: String,
    /// What the SBOM says, when the predicate is SPDX.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbom: Option<SpdxSummary>,
    /// The whole statement.
    #[serde(skip)]
    pub statement: Statement,
}

/// The facts of an SPDX document that a person checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpdxSummary {
    /// `spdxVersion`, e.g. `SPDX-2.3`.
    pub spdx_version: String,
    /// The document name.
    pub name: String,
    /// When it was created.
    pub created: String,
    /// Who created it (tools, organisations).
    pub creators: Vec<String>,
    /// How many packages it lists.
    pub packages: usize,
}

/// Verifies the image's attestations of `wanted` type (a URI or a cosign shorthand).
pub fn verify_attestations(
    artifacts: &CosignArtifacts,
    verifier: &Verifier,
    wanted: &str,
) -> Result<Vec<VerifiedAttestation>, NotVerified> {
    let wanted = predicate_type(wanted);
    if artifacts.attestations.is_empty() {
        return Err(NotVerified::NoMatchingAttestations(
            "no attestations found".to_owned(),
        ));
    }
    let mut verified = Vec::new();
    let mut failures = Vec::new();
    for layer in &artifacts.attestations {
        match verify_one(layer, verifier, artifacts.digest.hex(), wanted) {
            Ok(attestation) => verified.push(attestation),
            Err(why) => failures.push(why),
        }
    }
    if verified.is_empty() {
        failures.dedup();
        return Err(NotVerified::NoMatchingAttestations(failures.join("; ")));
    }
    Ok(verified)
}

fn verify_one(
    layer: &AttestationLayer,
    verifier: &Verifier,
    digest_hex: &str,
    wanted: &str,
) -> Result<VerifiedAttestation, String> {
    let envelope: Envelope =
        serde_json::from_slice(&layer.envelope).map_err(|e| format!("not a DSSE envelope: {e}"))?;
    let payload = STANDARD
        .decode(&envelope.payload)
        .map_err(|e| format!("the DSSE payload is not base64: {e}"))?;
    let message = pae(&envelope.payload_type, &payload);
    let mut last_failure = "the envelope has no signatures".to_owned();
    let signed = envelope.signatures.iter().any(|s| {
        let Ok(raw) = STANDARD.decode(&s.sig) else {
            return false;
        };
        let candidate = SignedLayer {
            message: &message,
            signature: &raw,
            signature_is_base64: false,
            certificate: layer.certificate.as_deref(),
            chain: layer.chain.as_deref(),
            bundle: layer.bundle.as_deref(),
        };
        verifier
            .check(&candidate)
            .map_err(|why| last_failure = why)
            .is_ok()
    });
    if !signed {
        return Err(last_failure);
    }
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(format!(
            "payload type `{}` is not `{IN_TOTO_PAYLOAD_TYPE}`",
            envelope.payload_type
        ));
    }
    let statement: Statement = serde_json::from_slice(&payload)
        .map_err(|e| format!("the payload is not an in-toto statement: {e}"))?;
    if !statement
        .statement_type
        .starts_with("https://in-toto.io/Statement/")
    {
        return Err(format!(
            "`{}` is not an in-toto statement type",
            statement.statement_type
        ));
    }
    if !statement
        .subject
        .iter()
        .any(|s| s.digest.get("sha256").is_some_and(|d| d == digest_hex))
    {
        return Err(format!(
            "the attestation's subject is not sha256:{digest_hex}"
        ));
    }
    if statement.predicate_type != wanted {
        return Err(format!(
            "attestations not found for predicate type {wanted} (found {})",
            statement.predicate_type
        ));
    }
    let sbom = if wanted == SPDX_PREDICATE {
        Some(check_spdx(&statement.predicate)?)
    } else {
        None
    };
    Ok(VerifiedAttestation {
        predicate_type: statement.predicate_type.clone(),
        sbom,
        statement,
    })
}

/// Checks that a predicate is a sane SPDX 2.x JSON document and summarizes it.
pub fn check_spdx(doc: &Value) -> Result<SpdxSummary, String> {
    let text = |key: &str| {
        doc.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let invalid = |why: String| format!("the SBOM is not a valid SPDX document: {why}");
    let version = text("spdxVersion").ok_or_else(|| invalid("`spdxVersion` is missing".into()))?;
    if !version.starts_with("SPDX-2.") {
        return Err(invalid(format!(
            "`spdxVersion` is `{version}`, expected SPDX-2.x"
        )));
    }
    if text("SPDXID") != Some("SPDXRef-DOCUMENT") {
        return Err(invalid("`SPDXID` must be `SPDXRef-DOCUMENT`".into()));
    }
    if text("dataLicense") != Some("CC0-1.0") {
        return Err(invalid("`dataLicense` must be `CC0-1.0`".into()));
    }
    let name = text("name").ok_or_else(|| invalid("the document has no `name`".into()))?;
    let info = doc
        .get("creationInfo")
        .ok_or_else(|| invalid("`creationInfo` is missing".into()))?;
    let created = info
        .get("created")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("`creationInfo.created` is missing".into()))?;
    let creators: Vec<String> = info
        .get("creators")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if creators.is_empty() {
        return Err(invalid("`creationInfo.creators` is empty".into()));
    }
    let packages = doc
        .get("packages")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("`packages` is missing".into()))?;
    for (i, package) in packages.iter().enumerate() {
        if package.get("SPDXID").and_then(Value::as_str).is_none()
            || package.get("name").and_then(Value::as_str).is_none()
        {
            return Err(invalid(format!("package {i} lacks `SPDXID` or `name`")));
        }
    }
    Ok(SpdxSummary {
        spdx_version: version.to_owned(),
        name: name.to_owned(),
        created: created.to_owned(),
        creators,
        packages: packages.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pae_follows_the_dsse_spec() {
        // The example from the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn cosign_aliases_map_to_uris() {
        assert_eq!(predicate_type("spdxjson"), SPDX_PREDICATE);
        assert_eq!(predicate_type("openvex"), "https://openvex.dev/ns");
        assert_eq!(
            predicate_type("https://example.com/x"),
            "https://example.com/x"
        );
    }

    fn spdx() -> Value {
        json!({
            "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
            "name": "demo", "documentNamespace": "https://example.com/demo",
            "creationInfo": {"created": "2026-11-22T00:00:00Z", "creators": ["Tool: syft-1.0.0"]},
            "packages": [{"SPDXID": "SPDXRef-Package-a", "name": "a", "downloadLocation": "NOASSERTION"}]
        })
    }

    #[test]
    fn a_sane_spdx_document_is_summarized() {
        let summary = check_spdx(&spdx()).unwrap();
        assert_eq!(
            (summary.spdx_version.as_str(), summary.packages),
            ("SPDX-2.3", 1)
        );
    }

    #[test]
    fn malformed_spdx_documents_are_rejected() {
        let cases: [(&str, Value); 4] = [
            ("spdxVersion", json!("CycloneDX")),
            ("creationInfo", json!({"created": "x", "creators": []})),
            ("packages", json!([{"name": "no-id"}])),
            ("SPDXID", json!("SPDXRef-Other")),
        ];
        for (key, value) in cases {
            let mut doc = spdx();
            doc[key] = value;
            assert!(check_spdx(&doc).is_err(), "{key}");
        }
    }
}
