//! Verifying cosign attestations, which sigstore-rs 0.15 does not read: each `.att` layer is a
//! DSSE envelope whose signature covers the PAE encoding of its payload; the payload is an
//! in-toto statement whose subject must name this image's digest. That much is cosign's library
//! (`VerifyImageAttestation`, what Kyverno's `FetchAttestations` calls), which keeps every
//! predicate type; [`verify_attestations`] then does what `cosign verify-attestation --type`
//! adds: keeps the type asked for (cosign's shorthands understood) and, for `lab verify`, checks
//! that SPDX predicates are sane SPDX 2.x documents.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cosign::{AttestationLayer, CosignArtifacts};
use super::error::NotVerified;
use super::keyless::SignedLayer;
use super::signature::{Verifier, verify_with};
use sigstore::crypto::Signature;

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

/// An in-toto statement (v0.1 or v1). Like cosign's `attestation.Statement`, a missing field
/// reads as empty and `_type` is not checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Statement {
    /// `https://in-toto.io/Statement/v0.1` or `/v1`.
    #[serde(rename = "_type", default)]
    pub statement_type: String,
    /// What the statement is about.
    #[serde(default)]
    pub subject: Vec<Subject>,
    /// The predicate's type URI.
    #[serde(rename = "predicateType", default)]
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

/// The image's attestations as cosign's library verifies them (`VerifyImageAttestation`,
/// `pkg/cosign/verify.go` v3.1.2), which is what Kyverno's `FetchAttestations` gets: every
/// envelope that verifies and names this digest, of whatever predicate type, with no SBOM check.
/// When none does, the error joins every layer's reason with `"\n "`; an image without
/// attestations gives `no matching attestations: ` with nothing after it.
pub fn fetch_attestations(
    artifacts: &CosignArtifacts,
    verifier: &Verifier,
) -> Result<Vec<VerifiedAttestation>, NotVerified> {
    let mut verified = Vec::new();
    let mut failures = Vec::new();
    for layer in &artifacts.attestations {
        match verify_layer(layer, verifier, artifacts.digest.hex()) {
            Ok(statement) => verified.push(VerifiedAttestation {
                predicate_type: statement.predicate_type.clone(),
                sbom: None,
                statement,
            }),
            Err(why) => failures.push(why),
        }
    }
    if verified.is_empty() {
        return Err(NotVerified::NoMatchingAttestations(failures.join("\n ")));
    }
    Ok(verified)
}

/// `cosign verify-attestation --type T` (`cmd/cosign/cli/verify/verify_attestation.go`): the
/// verified attestations whose predicate type is `type_or_alias` (a URI, or a cosign shorthand
/// such as `spdxjson`), or cosign's `none of the attestations matched the predicate type` error.
/// SPDX predicates must then also be sane SPDX 2.x documents (this tool's check, not cosign's).
pub fn verify_attestations(
    artifacts: &CosignArtifacts,
    verifier: &Verifier,
    type_or_alias: &str,
) -> Result<Vec<VerifiedAttestation>, NotVerified> {
    let wanted = predicate_type(type_or_alias);
    let verified = fetch_attestations(artifacts, verifier)?;
    let found: Vec<&str> = verified.iter().map(|a| a.predicate_type.as_str()).collect();
    let found = found.join(",");
    let matching: Vec<VerifiedAttestation> = verified
        .into_iter()
        .filter(|a| a.predicate_type == wanted)
        .collect();
    if matching.is_empty() {
        return Err(NotVerified::NoMatchingPredicateType {
            wanted: type_or_alias.to_owned(),
            found,
        });
    }
    if wanted != SPDX_PREDICATE {
        return Ok(matching);
    }
    let mut sane = Vec::new();
    let mut failures = Vec::new();
    for mut attestation in matching {
        match check_spdx(&attestation.statement.predicate) {
            Ok(summary) => {
                attestation.sbom = Some(summary);
                sane.push(attestation);
            }
            Err(why) => failures.push(why),
        }
    }
    if sane.is_empty() {
        return Err(NotVerified::NoMatchingAttestations(failures.join("\n ")));
    }
    Ok(sane)
}

/// go-securesystemslib's `b64Decode` (`dsse/envelope.go` v0.11.0): standard, then URL-safe.
fn dsse_base64(text: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .map_err(|_| "unable to base64 decode payload (is payload in the right format?)".to_owned())
}

/// One `.att` layer: its envelope with the certificate, chain and log bundle stored beside it.
fn verify_layer(
    layer: &AttestationLayer,
    verifier: &Verifier,
    digest_hex: &str,
) -> Result<Statement, String> {
    verify_envelope(
        &layer.envelope,
        &KeyMaterial {
            certificate: layer.certificate.as_deref(),
            chain: layer.chain.as_deref(),
            bundle: layer.bundle.as_deref(),
        },
        verifier,
        digest_hex,
    )
}

/// What vouches for an envelope's signing key besides the verifier's own trust: a keyless
/// certificate, its chain, and the Rekor bundle, each as cosign stores them (PEM, PEM, JSON).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyMaterial<'a> {
    /// The signer's certificate (keyless), PEM.
    pub certificate: Option<&'a str>,
    /// The certificate chain, PEM.
    pub chain: Option<&'a str>,
    /// The Rekor bundle, JSON.
    pub bundle: Option<&'a str>,
}

/// A DSSE envelope (`envelope`, its JSON), verified as cosign verifies an attestation, wherever
/// it was read from: an OCI layer or a file of a submission. In cosign's order (`verifyInternal`
/// with `verifyOCIAttestation`, then `IntotoSubjectClaimVerifier`): the log entry (and a keyless
/// certificate), the payload type, the DSSE signatures (go-securesystemslib `dsse/verify.go`:
/// one must verify, its key id is not compared), then the subject, which must name the image
/// digest `digest_hex`.
pub fn verify_envelope(
    envelope: &[u8],
    material: &KeyMaterial<'_>,
    verifier: &Verifier,
    digest_hex: &str,
) -> Result<Statement, String> {
    let envelope: Envelope =
        serde_json::from_slice(envelope).map_err(|e| format!("not a DSSE envelope: {e}"))?;
    let payload = dsse_base64(&envelope.payload);
    let message = payload
        .as_ref()
        .map(|p| pae(&envelope.payload_type, p))
        .unwrap_or_default();
    let first = envelope
        .signatures
        .first()
        .and_then(|s| dsse_base64(&s.sig).ok())
        .unwrap_or_default();
    let key = verifier.signing_key(&SignedLayer {
        message: &message,
        signature: &first,
        signature_is_base64: false,
        certificate: material.certificate,
        chain: material.chain,
        bundle: material.bundle,
    })?;
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(format!(
            "invalid payloadType {} on envelope. Expected {IN_TOTO_PAYLOAD_TYPE}",
            envelope.payload_type
        ));
    }
    if envelope.signatures.is_empty() {
        return Err("no signature found".into());
    }
    let payload = payload?;
    // Every signature is decoded, even after one is accepted, as `VerifyAndDecode` does.
    let signatures = envelope
        .signatures
        .iter()
        .map(|s| dsse_base64(&s.sig))
        .collect::<Result<Vec<_>, _>>()?;
    if !signatures
        .iter()
        .any(|raw| verify_with(&key, Signature::Raw(raw), &message).is_ok())
    {
        return Err("accepted signatures do not match threshold, Found: 0, Expected 1".into());
    }
    let statement: Statement = serde_json::from_slice(&payload)
        .map_err(|e| format!("the payload is not an in-toto statement: {e}"))?;
    if !statement
        .subject
        .iter()
        .any(|s| s.digest.get("sha256").is_some_and(|d| d == digest_hex))
    {
        return Err("no matching subject digest found".into());
    }
    Ok(statement)
}

/// Checks that a predicate is a sane SPDX 2.x JSON document and summarizes it.
pub fn check_spdx(doc: &Value) -> Result<SpdxSummary, String> {
    let text = |value: &Value, key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    // Every problem is collected, so that a document written by hand is fixed in one round.
    let mut problems: Vec<String> = Vec::new();
    let version = text(doc, "spdxVersion");
    match &version {
        None => problems.push("`spdxVersion` is missing".into()),
        Some(v) if !v.starts_with("SPDX-2.") => {
            problems.push(format!("`spdxVersion` is `{v}`, expected SPDX-2.x"));
        }
        Some(_) => {}
    }
    if text(doc, "SPDXID").as_deref() != Some("SPDXRef-DOCUMENT") {
        problems.push("`SPDXID` must be `SPDXRef-DOCUMENT`".into());
    }
    if text(doc, "dataLicense").as_deref() != Some("CC0-1.0") {
        problems.push("`dataLicense` must be `CC0-1.0`".into());
    }
    let name = text(doc, "name");
    if name.is_none() {
        problems.push("the document has no `name`".into());
    }
    let info = doc.get("creationInfo");
    let created = info.and_then(|i| text(i, "created"));
    let creators: Vec<String> = info
        .and_then(|i| i.get("creators"))
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if info.is_none() {
        problems.push("`creationInfo` is missing (with `created` and `creators`)".into());
    } else {
        if created.is_none() {
            problems.push("`creationInfo.created` is missing".into());
        }
        if creators.is_empty() {
            problems.push("`creationInfo.creators` is empty".into());
        }
    }
    let packages = doc.get("packages").and_then(Value::as_array);
    match packages {
        None => problems.push("`packages` is missing".into()),
        Some(packages) => {
            for (i, package) in packages.iter().enumerate() {
                if package.get("SPDXID").and_then(Value::as_str).is_none()
                    || package.get("name").and_then(Value::as_str).is_none()
                {
                    problems.push(format!("package {i} lacks `SPDXID` or `name`"));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "the SBOM is not a valid SPDX document: {}",
            problems.join("; ")
        ));
    }
    Ok(SpdxSummary {
        spdx_version: version.unwrap_or_default(),
        name: name.unwrap_or_default(),
        created: created.unwrap_or_default(),
        creators,
        packages: packages.map_or(0, Vec::len),
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

    fn signer() -> sigstore::crypto::SigStoreSigner {
        sigstore::crypto::SigningScheme::ECDSA_P256_SHA256_ASN1
            .create_signer()
            .unwrap()
    }

    /// The image `demo`, with one attestation layer per envelope (JSON).
    fn attested(envelopes: Vec<Value>) -> CosignArtifacts {
        let image = super::super::ImageRef::parse("kind-registry:5000/courselab/demo:1.0").unwrap();
        CosignArtifacts {
            image,
            digest: super::super::Digest::sha256_of(b"demo"),
            signatures: Vec::new(),
            attestations: envelopes
                .into_iter()
                .map(|e| AttestationLayer {
                    envelope: serde_json::to_vec(&e).unwrap(),
                    predicate_type: None,
                    certificate: None,
                    chain: None,
                    bundle: None,
                })
                .collect(),
        }
    }

    /// A DSSE envelope of a statement about `demo` of `predicate_type`, signed by `key`.
    fn envelope(
        key: &sigstore::crypto::SigStoreSigner,
        predicate_type: &str,
        predicate: Value,
    ) -> Value {
        let statement = serde_json::to_vec(&json!({
            "_type": "https://in-toto.io/Statement/v1", "predicateType": predicate_type,
            "subject": [{"name": "demo", "digest": {"sha256": super::super::Digest::sha256_of(b"demo").hex()}}],
            "predicate": predicate
        }))
        .unwrap();
        let sig = key.sign(&pae(IN_TOTO_PAYLOAD_TYPE, &statement)).unwrap();
        json!({"payloadType": IN_TOTO_PAYLOAD_TYPE, "payload": STANDARD.encode(&statement),
               "signatures": [{"keyid": "", "sig": STANDARD.encode(sig)}]})
    }

    fn verifier(key: &sigstore::crypto::SigStoreSigner) -> Verifier {
        let pem = key
            .to_sigstore_keypair()
            .unwrap()
            .public_key_to_pem()
            .unwrap();
        Verifier::from_public_key_pem(pem.as_bytes()).unwrap()
    }

    // cosign verify.go VerifyImageAttestation keeps every verified attestation, whatever its
    // predicate type; cmd/cosign/cli/verify/verify_attestation.go then filters by `--type`, and
    // names the type as given and every type it found when none matches.
    #[test]
    fn the_library_keeps_every_type_and_the_cli_filters_by_the_one_asked_for() {
        let key = signer();
        let artifacts = attested(vec![
            envelope(
                &key,
                "https://slsa.dev/provenance/v0.2",
                json!({"builder": {}}),
            ),
            envelope(&key, "https://openvex.dev/ns", json!({})),
        ]);
        let all = fetch_attestations(&artifacts, &verifier(&key)).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            verify_attestations(&artifacts, &verifier(&key), "spdxjson").unwrap_err(),
            NotVerified::NoMatchingPredicateType {
                wanted: "spdxjson".into(),
                found: "https://slsa.dev/provenance/v0.2,https://openvex.dev/ns".into(),
            }
        );
        let vex = verify_attestations(&artifacts, &verifier(&key), "openvex").unwrap();
        assert_eq!(vex.len(), 1);
    }

    // verify.go verifyOCIAttestation and go-securesystemslib dsse/verify.go + envelope.go: the
    // payload type first, then "no signature found", then base64 (standard or URL-safe), then
    // the threshold; every layer's reason joined with "\n ".
    #[test]
    fn envelope_failures_are_worded_as_cosign_and_dsse_word_them() {
        let key = signer();
        let good = envelope(&key, "https://example.com/x", json!({}));
        let mut wrong_type = good.clone();
        wrong_type["payloadType"] = json!("text/plain");
        let mut unsigned = good.clone();
        unsigned["signatures"] = json!([]);
        let mut not_base64 = good.clone();
        not_base64["signatures"] = json!([{"keyid": "", "sig": "%%%"}]);
        let by_stranger = envelope(&signer(), "https://example.com/x", json!({}));
        let artifacts = attested(vec![wrong_type, unsigned, not_base64, by_stranger]);
        assert_eq!(
            fetch_attestations(&artifacts, &verifier(&key))
                .unwrap_err()
                .to_string(),
            "no matching attestations: invalid payloadType text/plain on envelope. Expected application/vnd.in-toto+json\n no signature found\n unable to base64 decode payload (is payload in the right format?)\n accepted signatures do not match threshold, Found: 0, Expected 1"
        );
        // A signature whose standard base64 has `+` or `/`, so that its URL-safe form differs.
        let mut url_safe =
            std::iter::repeat_with(|| envelope(&key, "https://example.com/x", json!({})))
                .find(|e| {
                    e["signatures"][0]["sig"]
                        .as_str()
                        .unwrap()
                        .contains(['+', '/'])
                })
                .unwrap();
        let raw = STANDARD
            .decode(url_safe["signatures"][0]["sig"].as_str().unwrap())
            .unwrap();
        url_safe["signatures"][0]["sig"] = json!(URL_SAFE.encode(raw));
        assert!(fetch_attestations(&attested(vec![url_safe]), &verifier(&key)).is_ok());
    }

    // The grader verifies a submission's DSSE file, not an OCI layer: the same code decides.
    #[test]
    fn an_envelope_outside_a_layer_verifies_as_the_layer_would() {
        let key = signer();
        let good = serde_json::to_vec(&envelope(&key, "https://example.com/x", json!({}))).unwrap();
        let digest = super::super::Digest::sha256_of(b"demo");
        let none = KeyMaterial::default();
        let statement = verify_envelope(&good, &none, &verifier(&key), digest.hex()).unwrap();
        assert_eq!(statement.predicate_type, "https://example.com/x");
        let other = super::super::Digest::sha256_of(b"other");
        assert_eq!(
            verify_envelope(&good, &none, &verifier(&key), other.hex()).unwrap_err(),
            "no matching subject digest found"
        );
        assert_eq!(
            verify_envelope(&good, &none, &verifier(&signer()), digest.hex()).unwrap_err(),
            "accepted signatures do not match threshold, Found: 0, Expected 1"
        );
        assert!(
            verify_envelope(b"[]", &none, &verifier(&key), digest.hex())
                .unwrap_err()
                .starts_with("not a DSSE envelope")
        );
    }

    // A learner writing the SPDX document by hand needed six attest-and-check rounds: the
    // check said one missing field at a time.
    #[test]
    fn every_missing_spdx_field_is_named_at_once() {
        let err = check_spdx(&json!({"spdxVersion": "SPDX-2.3"})).unwrap_err();
        for field in [
            "SPDXID",
            "dataLicense",
            "`name`",
            "creationInfo",
            "packages",
        ] {
            assert!(err.contains(field), "{field} in {err}");
        }
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
