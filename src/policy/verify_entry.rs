//! One `verifyImages` entry against one image: attestor sets, attestations and their
//! conditions, worded as Kyverno v1.19 words the outcome (`pkg/engine/internal/imageverifier.go`).
//! The image's cosign artifacts are given; fetching them is the caller's (async) business.

use std::collections::BTreeMap;

use rustls_pki_types::CertificateDer;
use serde_json::Value;

use super::model::{
    Attestation, Attestor, AttestorSet, CertificatesAttestor, CtLog, Rekor, VerifyImage,
};
use crate::spanned::Spanned;
use crate::supply::attestation::{Statement, fetch_attestations};
use crate::supply::cosign::CosignArtifacts;
use crate::supply::keyless::{KeylessPolicy, RekorKey, pem_block, roots_from_pem};
use crate::supply::signature::{CertificateKey, PublicKey, Verifier, verify_signatures};

/// The outcome for one image, as Kyverno reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageOutcome {
    /// Verified; the message is Kyverno's pass message.
    Pass(String),
    /// Verification failed (admission blocked only under Enforce).
    Fail(String),
    /// Verification could not run (blocked under failurePolicy Fail, even in Audit).
    Error(String),
    /// The offline evaluator cannot tell what Kyverno would answer: why, in lab's words
    /// (never Kyverno's).
    Undecided(String),
}

/// Why the artifacts of an image could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchFailure {
    /// True for network errors (Kyverno reports them as `error`), false otherwise (`fail`).
    pub network: bool,
    /// The error text.
    pub message: String,
}

/// Verifies `image` (normalized, for messages) against `entry`: every attestor set, the
/// annotations each attestor entry requires, then every attestation.
pub fn verify_image(
    image: &str,
    entry: &VerifyImage,
    artifacts: Result<&CosignArtifacts, &FetchFailure>,
) -> ImageOutcome {
    verify_image_in(image, entry, artifacts, None)
}

/// A rule's `validate` blocks as `verifyAttestations` (imageverifier.go) checks them: when an
/// entry of the rule has one (`HasValidateImageVerification`), then once an entry's
/// attestations verify, every entry's `validate.deny.conditions` are evaluated in order over
/// Kyverno's context: the admission request and, under each attestation's `name`, the
/// predicate of the first statement its last attestor entry fetched (`getRawResp`,
/// `AddContextEntry`). The first that holds fails the image.
pub struct RuleValidation<'a> {
    /// The rule's name, which the pass message carries.
    pub rule: &'a str,
    /// Each entry's `validate`, in order.
    pub blocks: Vec<&'a Value>,
    /// How many entries of the rule have attestations: context entries accumulate over a
    /// rule's entries, which is modelled for one.
    pub attesting_entries: usize,
    /// How many entries the rule has.
    pub entries: usize,
    /// `{"request": ...}`, the JSON of [`super::conditions::RequestContext`].
    pub request: &'a Value,
    /// The parts of Kyverno's context `request` models.
    pub known: &'a [&'a [&'a str]],
}

/// [`verify_image`] for an entry of a rule whose `validate` blocks are known.
pub fn verify_image_in(
    image: &str,
    entry: &VerifyImage,
    artifacts: Result<&CosignArtifacts, &FetchFailure>,
    validation: Option<&RuleValidation<'_>>,
) -> ImageOutcome {
    if let Some(why) = unsupported(entry) {
        return ImageOutcome::Undecided(format!("{image}: {why}"));
    }
    if entry.validate.is_some() && validation.is_none() {
        return ImageOutcome::Undecided(format!(
            "{image}: `validate` (deny conditions over the attestations) is not evaluated here"
        ));
    }
    let artifacts = match artifacts {
        Ok(a) => a,
        Err(f) if f.network => {
            return ImageOutcome::Error(format!("failed to verify image {image}: {}", f.message));
        }
        Err(f) => {
            return ImageOutcome::Fail(format!("failed to verify image {image}: {}", f.message));
        }
    };
    for (i, set) in entry.attestors.iter().enumerate() {
        let expanded = expand_static_keys(set);
        let checked = check_set(
            &expanded,
            &format!(".attestors[{i}]"),
            &mut |attestor, verifier| {
                let payloads = verify_signatures(artifacts, verifier).map_err(|e| e.to_string())?;
                annotations_match(
                    payloads.iter().map(|p| p.optional.as_ref()),
                    &attestor.annotations,
                )
            },
        );
        match checked {
            Ok(()) => {}
            Err(SetFailed::Unusable(why)) => {
                return ImageOutcome::Undecided(format!("{image}: {why}"));
            }
            Err(SetFailed::TooFew(why)) => {
                return ImageOutcome::Fail(format!("failed to verify image {image}: {why}"));
            }
        }
    }
    // The attestation checks name the image by its digest only when a signature check ran
    // first: `verifyImage` (pkg/engine/internal/imageverifier.go) copies the digest the
    // signatures named into the image it hands to `verifyAttestations`. The digest an
    // attestation fetch returns (`decodeStatement`, pkg/image/verifiers/cpol/cosign/cosign.go)
    // is read from a simple-signing `critical.image` the DSSE envelope does not have, so it is
    // always empty and an entry with attestations alone keeps the image as written. Measured
    // against the real admission controller (tests/cli/differential/).
    let pinned = crate::supply::ImageRef::parse(image).map_or_else(
        |_| image.to_owned(),
        |i| match i.digest {
            Some(_) => i.to_string(),
            None if entry.attestors.is_empty() => i.to_string(),
            None => i.with_digest(artifacts.digest.as_str()).to_string(),
        },
    );
    let mut named: Vec<(Option<&str>, Value)> = Vec::new();
    for (index, attestation) in entry.attestations.iter().enumerate() {
        match check_attestation(&pinned, index, attestation, artifacts) {
            Err(outcome) => return outcome,
            Ok(raw) => named.extend(raw.map(|r| (attestation.name.as_deref(), r))),
        }
    }
    if !entry.attestations.is_empty() {
        if let Some(validation) = validation.filter(|v| !v.blocks.is_empty()) {
            return validate_rule(&pinned, validation, &named);
        }
        return ImageOutcome::Pass(format!("verified image attestations for {pinned}"));
    }
    ImageOutcome::Pass(format!("verified image signatures for {image}"))
}

/// What Kyverno would do with this entry but the offline evaluator does not, so that such an
/// entry is an error rather than a verdict nobody checked.
fn unsupported(entry: &VerifyImage) -> Option<String> {
    if let Some(kind) = entry.verifier_type.as_deref().filter(|t| *t != "Cosign") {
        return Some(format!(
            "offline evaluation verifies cosign signatures only, not `type: {kind}`"
        ));
    }
    if entry.key.is_some() {
        return Some("the deprecated `key` becomes a key attestor that looks the signature up in the public Rekor (Kyverno's `Convert`), which offline evaluation cannot do; write an `attestors` entry with `keys.publicKeys`, `rekor.ignoreTlog: true` and `ctlog.ignoreSCT: true`".into());
    }
    if entry.all_attestor_entries().any(|a| a.repository.is_some()) {
        return Some("an attestor's own `repository` is not read offline; only the entry's `repository` and `<repo>:sha256-<digest>.sig` and `.att` beside the image are".into());
    }
    if entry.cosign_oci11 == Some(true) {
        return Some("signatures kept as OCI 1.1 referrers (`cosignOCI11`) are not read offline; only `<repo>:sha256-<digest>.sig` and `.att`, beside the image or in the entry's `repository`, are".into());
    }
    None
}

/// The deny conditions of a rule's `validate` blocks (`validate`, `validateDeny`,
/// `getDenyMessage` in imageverifier.go), once `image`'s attestations verified.
fn validate_rule(
    image: &str,
    validation: &RuleValidation<'_>,
    named: &[(Option<&str>, Value)],
) -> ImageOutcome {
    use super::conditions::{deny_holds, substitute_message};
    if validation.attesting_entries > 1 {
        return ImageOutcome::Undecided(format!(
            "{image}: `validate` in a rule of several entries with attestations reads a context the entries fill in turn, which is not modelled"
        ));
    }
    // mutate_image.go substituteVariables sets aside every entry's `validate.deny` once one
    // entry has a `validate`, through a pointer an entry without `deny` does not have.
    if validation.blocks.len() != validation.entries
        || validation
            .blocks
            .iter()
            .any(|b| b.get("deny").is_none_or(Value::is_null))
    {
        return ImageOutcome::Undecided(format!(
            "{image}: a rule where one entry has `validate` and an entry has no `validate.deny` makes Kyverno v1.19 dereference a missing `deny` (mutate_image.go substituteVariables), which is not modelled; give every entry of the rule a `validate.deny`"
        ));
    }
    // The message is substituted with the rule, before the attestations are in the context.
    if validation.blocks.iter().any(|b| {
        b.get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| m.contains("{{"))
    }) {
        return ImageOutcome::Undecided(format!(
            "{image}: variables in a `validate.message` are substituted with the rule, before the attestations are in Kyverno's context, which is not modelled"
        ));
    }
    let mut context = validation.request.clone();
    for (name, predicate) in named {
        match name.filter(|n| !n.is_empty()) {
            Some(name) => context[name] = predicate.clone(),
            None => {
                return ImageOutcome::Undecided(format!(
                    "{image}: an attestation without a `name` is added to Kyverno's context under an empty name, which `validate` reads in a way not modelled; name the attestation"
                ));
            }
        }
    }
    let data = super::jmespath::data(&context);
    let failed =
        |why: String| ImageOutcome::Fail(format!("validation in verifyImages failed: {why}"));
    for block in &validation.blocks {
        // Every block has a `deny` (checked above).
        let conditions = block["deny"].get("conditions").unwrap_or(&Value::Null);
        let (denied, message) = match deny_holds(conditions, &data, validation.known) {
            Ok(verdict) => verdict,
            Err(ConditionError::Kyverno(why)) => {
                return failed(format!("failed to check deny conditions: {why}"));
            }
            Err(ConditionError::Unsupported(why)) => {
                return ImageOutcome::Undecided(format!("{image}: validate.deny: {why}"));
            }
        };
        if !denied {
            continue;
        }
        let own = block.get("message").and_then(Value::as_str).unwrap_or("");
        if own.is_empty() && message.is_empty() {
            // Kyverno formats the empty message into its sentence: two spaces.
            return failed("validation error: imageVerify  failed".into());
        }
        let joined: Vec<&str> = [own, message.as_str()]
            .into_iter()
            .filter(|m| !m.is_empty())
            .collect();
        let text = joined.join("; ");
        return match substitute_message(&text, &data, validation.known) {
            Ok(Value::String(resolved)) => failed(resolved),
            Ok(_) => failed(
                "the produced message didn't resolve to a string, check your policy definition."
                    .into(),
            ),
            Err(ConditionError::Kyverno(_)) => failed(message),
            Err(ConditionError::Unsupported(why)) => {
                ImageOutcome::Undecided(format!("{image}: validate.message: {why}"))
            }
        };
    }
    ImageOutcome::Pass(format!(
        "verifyImages validation is passed in {} rule",
        validation.rule
    ))
}

/// `ExpandStaticKeys` (`pkg/engine/internal/utils.go`): a `keys` entry whose `publicKeys`
/// holds several PEM keys stands for one entry per key, so without `count` every key must
/// have signed.
fn expand_static_keys(set: &AttestorSet) -> AttestorSet {
    let mut entries = Vec::new();
    for entry in &set.entries {
        let keys: Vec<String> = entry
            .keys
            .as_ref()
            .and_then(|k| k.public_keys.as_deref())
            .map(|pem| {
                // Go's SplitAfter, then its last piece (what follows the last key) dropped.
                const END: &str = "-----END PUBLIC KEY-----";
                pem.split_inclusive(END)
                    .filter(|piece| piece.ends_with(END))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if keys.len() > 1 {
            for key in keys {
                let mut one = entry.clone();
                if let Some(k) = one.value.keys.as_mut() {
                    k.public_keys = Some(key);
                }
                entries.push(one);
            }
        } else {
            entries.push(entry.clone());
        }
    }
    AttestorSet {
        count: set.count.clone(),
        entries,
    }
}

/// `AttestorSet.RequiredCount`: `count`, or every entry when it is absent or 0.
fn required_count(set: &AttestorSet) -> usize {
    match set.count.as_ref().map(|c| c.value as usize) {
        Some(n) if n > 0 => n,
        _ => set.entries.len(),
    }
}

/// Why an attestor set did not verify.
enum SetFailed {
    /// An entry cannot be evaluated offline (or is malformed): path and reason.
    Unusable(String),
    /// Too few entries verified: every failing entry's `path: reason`, joined with `; ` as
    /// `multierr.Combine` joins them.
    TooFew(String),
}

/// AND across sets, `count` (or all) within a set (`verifyAttestorSet` in imageverifier.go).
/// An entry that is itself an attestor set (`attestor`) counts once when that set verifies;
/// its failures keep their own paths (`...entries[0].attestor.entries[1].keys: ...`).
fn check_set(
    set: &AttestorSet,
    path: &str,
    check: &mut dyn FnMut(&Attestor, &Verifier) -> Result<(), String>,
) -> Result<(), SetFailed> {
    let required = required_count(set);
    let mut verified = 0;
    let mut failures = Vec::new();
    let mut undecided = None;
    for (j, entry) in set.entries.iter().enumerate() {
        let at = format!("{path}.entries[{j}]{}", kind_suffix(entry));
        if let Some(nested) = &entry.attestor {
            match nested_set(nested) {
                Err(why) => failures.push(format!(
                    "failed to unmarshal nested attestor {path}.entries[{j}]: {why}"
                )),
                Ok(nested) => match check_set(
                    &expand_static_keys(&nested),
                    &format!("{path}.entries[{j}].attestor"),
                    check,
                ) {
                    Ok(()) => verified += 1,
                    Err(SetFailed::Unusable(why)) => {
                        undecided.get_or_insert(why);
                    }
                    Err(SetFailed::TooFew(why)) => failures.push(why),
                },
            }
            if verified >= required {
                return Ok(());
            }
            continue;
        }
        let checked = match verifier_for(entry) {
            Err(Unusable::Offline(why)) => {
                // Kyverno would try this entry; offline it cannot, which only matters if the
                // other entries do not reach the count.
                undecided.get_or_insert(format!("{at}: {why}"));
                continue;
            }
            Err(Unusable::Rejected(why)) => Err(why),
            Ok(verifier) => check(entry, &verifier),
        };
        match checked {
            Ok(()) => verified += 1,
            Err(why) => failures.push(format!("{at}: {why}")),
        }
        if verified >= required {
            return Ok(());
        }
    }
    if let Some(why) = undecided {
        return Err(SetFailed::Unusable(why));
    }
    if failures.is_empty() {
        failures.push(format!("{path}: no attestor entries"));
    }
    Err(SetFailed::TooFew(failures.join("; ")))
}

/// A nested attestor set (`AttestorSetUnmarshal`), read from the JSON its entry holds.
fn nested_set(nested: &Value) -> Result<AttestorSet, String> {
    let text = serde_json::to_string(nested).map_err(|e| e.to_string())?;
    serde_saphyr::from_str(&text).map_err(|e| e.to_string())
}

/// Kyverno's `checkAnnotations` (`pkg/image/verifiers/cpol/cosign/cosign.go`): when the
/// attestor entry names `annotations`, at least one verified payload must carry each of them
/// in its `optional` map with exactly that (string) value.
fn annotations_match<'a>(
    optionals: impl IntoIterator<Item = Option<&'a Value>>,
    wanted: &BTreeMap<String, String>,
) -> Result<(), String> {
    if wanted.is_empty() {
        return Ok(());
    }
    let carries_all = |optional: Option<&Value>| {
        wanted.iter().all(|(key, value)| {
            optional.and_then(|o| o.get(key)).and_then(Value::as_str) == Some(value.as_str())
        })
    };
    if optionals.into_iter().any(carries_all) {
        Ok(())
    } else {
        Err("no signature matched the required annotations".into())
    }
}

fn kind_suffix(entry: &Spanned<Attestor>) -> &'static str {
    if entry.keys.is_some() {
        ".keys"
    } else if entry.keyless.is_some() {
        ".keyless"
    } else if entry.certificates.is_some() {
        ".certificates"
    } else {
        ".attestor"
    }
}

/// Why an attestor entry gives no verifier.
enum Unusable {
    /// Kyverno would use it, but only with the network (Secrets, KMS, TUF, Rekor, CT logs):
    /// offline evaluation cannot decide, and the image outcome is an error.
    Offline(String),
    /// Kyverno fails the entry before looking at any signature: a malformed key, certificate,
    /// regexp or log key (errors of `buildCosignOptions`, which `handleRegistryErrors` in
    /// imageverifier.go reports as a failure), or a certificate that does not chain.
    Rejected(String),
}

impl From<&str> for Unusable {
    fn from(why: &str) -> Self {
        Unusable::Offline(why.to_owned())
    }
}

/// The verifier an attestor entry describes, as `buildCosignVerifier` (imageverifier.go) and
/// `buildCosignOptions` (`pkg/image/verifiers/cpol/cosign/cosign.go`) build it: the key,
/// certificate or roots first, then the transparency log, then the CT log. Offline, keyless
/// needs `roots`, a key needs `publicKeys` inline, a certificate `cert` or `certChain` inline;
/// each kind also needs `rekor.ignoreTlog` or `rekor.pubkey`, and `ctlog.ignoreSCT` (or, for
/// keys and certificates, `ctlog.pubkey`).
fn verifier_for(entry: &Attestor) -> Result<Verifier, Unusable> {
    if let Some(keys) = &entry.keys {
        let pem = keys.public_keys.as_deref().ok_or("offline evaluation needs the key inline in `publicKeys` (secrets and KMS cannot be read)")?;
        let mut key =
            PublicKey::from_pem(pem.as_bytes()).map_err(|e| Unusable::Rejected(e.to_string()))?;
        key.rekor = offline_rekor(keys.rekor.as_ref())?;
        offline_ctlog(keys.ctlog.as_ref(), false)?;
        return Ok(Verifier::Key(Box::new(key)));
    }
    if let Some(certificates) = &entry.certificates {
        return certificates_verifier(certificates);
    }
    if let Some(keyless) = &entry.keyless {
        let roots = keyless
            .roots
            .as_deref()
            .map(|r| roots_from_pem(r.as_bytes()))
            .unwrap_or_default();
        if roots.is_empty() {
            return Err("offline evaluation needs the Fulcio roots in `roots`".into());
        }
        let policy = KeylessPolicy {
            roots,
            subject: keyless.subject.as_ref().map(|s| s.value.clone()),
            subject_regexp: regex(keyless.subject_regexp.as_ref()).map_err(Unusable::Rejected)?,
            issuer: keyless.issuer.as_ref().map(|s| s.value.clone()),
            issuer_regexp: regex(keyless.issuer_regexp.as_ref()).map_err(Unusable::Rejected)?,
            rekor: offline_rekor(keyless.rekor.as_ref())?,
        };
        offline_ctlog(keyless.ctlog.as_ref(), true)?;
        return Ok(Verifier::Keyless(Box::new(policy)));
    }
    Err("this attestor kind is not supported by the offline evaluator".into())
}

/// Kyverno's default transparency log is Sigstore's public Rekor, with keys from TUF
/// (imageverifier.go sets `RekorURL` to https://rekor.sigstore.dev and `IgnoreTlog` false when
/// `rekor` is absent); offline, the log is either skipped or checked with the given key against
/// the signature's bundle.
fn offline_rekor(rekor: Option<&Spanned<Rekor>>) -> Result<Option<RekorKey>, Unusable> {
    match rekor {
        Some(r) if r.ignore_tlog == Some(true) => Ok(None),
        Some(r) if r.pubkey.is_some() => Ok(Some(
            RekorKey::from_pem(r.pubkey.as_deref().unwrap_or_default().as_bytes())
                .map_err(Unusable::Rejected)?,
        )),
        _ => Err("offline evaluation needs `rekor.pubkey` or `rekor.ignoreTlog: true`".into()),
    }
}

/// Unless `ctlog.ignoreSCT` is true, `buildCosignOptions` loads the CT log keys: `ctlog.pubkey`,
/// or else Sigstore's TUF root (`getCTLogPubs`), which offline evaluation cannot fetch. For a
/// key or a certificate that is all (cosign reads an SCT only on a certificate checked against a
/// chain, see [`check_sct`]); a keyless (Fulcio) certificate's SCT is verified with those keys,
/// which this evaluator does not implement (`keyless`).
fn offline_ctlog(ctlog: Option<&Spanned<CtLog>>, keyless: bool) -> Result<(), Unusable> {
    let ctlog = ctlog.map(|c| &c.value);
    if ctlog.is_some_and(|c| c.ignore_sct == Some(true)) {
        return Ok(());
    }
    match ctlog.and_then(|c| c.pubkey.as_deref()) {
        None => Err("Kyverno fetches the CT log keys from Sigstore's TUF root unless `ctlog.ignoreSCT` is true, which offline evaluation cannot do; set `ctlog.ignoreSCT: true` (or give the key in `ctlog.pubkey`)".into()),
        Some(_) if keyless => Err("offline evaluation cannot verify the Fulcio certificate's SCT with `ctlog.pubkey`; set `ctlog.ignoreSCT: true`, or check this attestor in a cluster".into()),
        Some(pem_text) => pem_block(pem_text.as_bytes())
            .and_then(|der| {
                sigstore::crypto::CosignVerificationKey::try_from_der(&der)
                    .map_err(|e| e.to_string())
            })
            .map(|_| ())
            .map_err(|e| {
                Unusable::Rejected(format!("failed to load CTLogs public keys: `ctlog.pubkey` is not a PEM public key ({e})"))
            }),
    }
}

/// At most this many certificates in `certChain` (Kyverno's `maxIntermediateCerts` + 1).
const MAX_CHAIN: usize = 11;

/// A `certificates` attestor, as Kyverno's `buildCosignOptions`
/// (`pkg/image/verifiers/cpol/cosign/cosign.go`) reads it: with `cert`, the signature must be
/// made by the certificate's key, and with `certChain` as well, `cert` must first chain to it
/// (cosign `ValidateAndUnpackCertWithChain`); with `certChain` alone, the chain's certificates
/// are the roots the signature's own certificate must chain to.
fn certificates_verifier(attestor: &CertificatesAttestor) -> Result<Verifier, Unusable> {
    let given = |field: &Option<String>| field.clone().filter(|v| !v.trim().is_empty());
    let chain = given(&attestor.cert_chain)
        .map(|pem_text| chain_of(&pem_text))
        .transpose()
        .map_err(Unusable::Rejected)?;
    let Some(cert) = given(&attestor.cert) else {
        let roots = chain.ok_or(
            "offline evaluation needs `cert` or `certChain` inline (the Fulcio roots cannot be fetched from TUF)",
        )?;
        let policy = KeylessPolicy {
            roots,
            subject: None,
            subject_regexp: None,
            issuer: None,
            issuer_regexp: None,
            rekor: offline_rekor(attestor.rekor.as_ref())?,
        };
        // The signature's own certificate is then checked as a keyless one, SCT included.
        offline_ctlog(attestor.ctlog.as_ref(), true)?;
        return Ok(Verifier::Keyless(Box::new(policy)));
    };
    let mut key = CertificateKey::from_pem(&cert).map_err(|e| {
        Unusable::Rejected(format!(
            "failed to load certificate from `cert`: {e}; paste the signer's PEM certificate"
        ))
    })?;
    if let Some(chain) = &chain {
        key.check_chain(chain).map_err(|e| {
            Unusable::Rejected(format!(
                "failed to load validate certificate chain: cert verification failed: {}. Check your TUF root (see cosign initialize) or set a custom root with env var SIGSTORE_ROOT_FILE",
                e.x509_wording()
            ))
        })?;
        check_sct(&key)?;
    }
    key.rekor = offline_rekor(attestor.rekor.as_ref())?;
    offline_ctlog(attestor.ctlog.as_ref(), false)?;
    Ok(Verifier::Certificate(Box::new(key)))
}

/// The certificates of `certChain`, within Kyverno's limit (`loadCertChain` and the
/// CVE-2026-32280 guard in cosign.go).
fn chain_of(pem_text: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let count = pem_text.matches("-----BEGIN CERTIFICATE-----").count();
    if count > MAX_CHAIN {
        return Err(format!(
            "certificate chain too long ({count}), maximum allowed is {MAX_CHAIN}"
        ));
    }
    let chain = roots_from_pem(pem_text.as_bytes());
    if chain.is_empty() {
        return Err(
            "failed to load certificate chain: `certChain` holds no PEM certificate; paste the issuing CA certificates, root last".into(),
        );
    }
    Ok(chain)
}

/// cosign's SCT requirement for a certificate verified against a chain
/// (`ValidateAndUnpackCertWithIntermediates`). Kyverno v1.19 copies `ctlog.ignoreSCT` into
/// cosign's options only after validating the chain (`pkg/image/verifiers/cpol/cosign/
/// cosign.go` `buildCosignOptions`: `IgnoreSCT` is set below the `ValidateAndUnpackCertWithChain`
/// call), so the SCT is demanded even with `ignoreSCT: true`; this evaluator does the same, so
/// that an author learns it here and not from a cluster that denies.
fn check_sct(key: &CertificateKey) -> Result<(), Unusable> {
    if key.has_embedded_sct() {
        return Err(Unusable::Offline(
            "offline evaluation cannot verify the certificate's embedded SCT against the CT log (Kyverno checks it even with `ctlog.ignoreSCT`); check this attestor in a cluster, or trust the certificate's public key with a `keys` attestor".into(),
        ));
    }
    Err(Unusable::Rejected(
        "failed to load validate certificate chain: certificate does not include required embedded SCT and no detached SCT was set"
            .into(),
    ))
}

fn regex(pattern: Option<&Spanned<String>>) -> Result<Option<regex::Regex>, String> {
    pattern
        .map(|p| regex::Regex::new(p).map_err(|e| e.to_string()))
        .transpose()
}

/// One attestation, as `verifyAttestations` in imageverifier.go checks it: per attestor set,
/// each entry fetches and verifies the image's attestations (of every type), then checks the
/// conditions on each statement of the attestation's type; an entry whose statements are
/// missing or fail the conditions does not count. Too few verified entries fail the image with
/// Kyverno's count message, which carries every error collected for this attestation so far
/// (Kyverno keeps one list per attestation, across its sets). Kyverno writes the entry path with
/// the attestation's index where the entry's belongs (`entries[%d]` of `i`); so does this.
fn check_attestation(
    pinned: &str,
    index: usize,
    attestation: &Spanned<Attestation>,
    artifacts: &CosignArtifacts,
) -> Result<Option<Value>, ImageOutcome> {
    let path = format!(".attestations[{index}]");
    let Some(wanted) = attestation
        .attestation_type
        .as_deref()
        .or(attestation.predicate_type.as_deref())
        .filter(|t| !t.is_empty())
    else {
        return Err(ImageOutcome::Fail(format!("{path}: missing type")));
    };
    if attestation.attestors.is_empty() {
        return Err(ImageOutcome::Undecided(format!(
            "{pinned}: {path}: with no attestors Kyverno verifies the attestation keylessly against the public Sigstore instance, which offline evaluation cannot reach; add attestors"
        )));
    }
    let mut errors: Vec<String> = Vec::new();
    // The predicate `AddContextEntry` last put under the attestation's name.
    let mut raw = None;
    for (j, set) in attestation.attestors.iter().enumerate() {
        let required = required_count(set);
        let mut verified = 0;
        let mut undecided = None;
        for entry in &set.entries {
            let at = format!(
                "{path}.attestors[{j}].entries[{index}]{}",
                kind_suffix(entry)
            );
            let verifier = match verifier_for(entry) {
                Ok(v) => v,
                Err(Unusable::Offline(why)) => {
                    undecided.get_or_insert(format!("{pinned}: {at}: {why}"));
                    continue;
                }
                Err(Unusable::Rejected(why)) => {
                    errors.push(why);
                    continue;
                }
            };
            let checked = fetch_for_entry(artifacts, entry, &verifier).and_then(|statements| {
                // getRawResp: the first statement's predicate that is an object.
                raw = statements
                    .iter()
                    .find(|s| s.predicate.is_object())
                    .map(|s| s.predicate.clone());
                statements_hold(pinned, wanted, attestation, &statements).map_err(|e| e.at(&at))
            });
            match checked {
                Ok(()) => {
                    verified += 1;
                    if verified >= required {
                        break;
                    }
                }
                Err(EntryFailed::Unsupported(why)) => {
                    undecided.get_or_insert(format!("{pinned}: {why}"));
                }
                Err(EntryFailed::Failed(why)) => errors.push(why),
            }
        }
        if let (true, Some(why)) = (verified < required, undecided.take()) {
            return Err(ImageOutcome::Undecided(why));
        }
        if verified < required {
            let error = if errors.is_empty() {
                "attestations verification failed".to_owned()
            } else {
                errors.join("; ")
            };
            return Err(ImageOutcome::Fail(format!(
                "image attestations verification failed, verifiedCount: {verified}, requiredCount: {required}, error: {error}"
            )));
        }
    }
    Ok(raw)
}

/// Why an attestation entry did not count.
enum EntryFailed {
    /// Kyverno's error, which makes the entry fail.
    Failed(String),
    /// The offline evaluator cannot decide (the image outcome is an error).
    Unsupported(String),
}

impl EntryFailed {
    /// `verifyAttestations` prefixes the errors of `verifyAttestation` with the entry's path.
    fn at(self, path: &str) -> Self {
        match self {
            EntryFailed::Failed(why) => EntryFailed::Failed(format!("{path}: {why}")),
            EntryFailed::Unsupported(why) => EntryFailed::Unsupported(format!("{path}: {why}")),
        }
    }
}

/// Kyverno's `FetchAttestations` (`pkg/image/verifiers/cpol/cosign/verifier.go`) for one entry,
/// then `getRawResp` (utils.go): the statements of every attestation cosign verifies. Its
/// errors carry no entry path.
fn fetch_for_entry(
    artifacts: &CosignArtifacts,
    entry: &Attestor,
    verifier: &Verifier,
) -> Result<Vec<Statement>, EntryFailed> {
    let found =
        fetch_attestations(artifacts, verifier).map_err(|e| EntryFailed::Failed(e.to_string()))?;
    // checkAnnotations reads each layer as a simple-signing payload; a DSSE envelope has no
    // `optional`, so required annotations never match.
    annotations_match(found.iter().map(|_| None), &entry.annotations)
        .map_err(EntryFailed::Failed)?;
    if !found.iter().any(|a| a.statement.predicate.is_object()) {
        return Err(EntryFailed::Failed(
            "predicate not found in any statement".into(),
        ));
    }
    Ok(found.into_iter().map(|a| a.statement).collect())
}

/// `verifyAttestation` (imageverifier.go): the statements whose `predicateType` is literally the
/// attestation's type (no cosign shorthands: `statementsByPredicate[attestation.Type]`), each
/// of which must satisfy the conditions.
fn statements_hold(
    pinned: &str,
    wanted: &str,
    attestation: &Attestation,
    statements: &[Statement],
) -> Result<(), EntryFailed> {
    let mut of_type = statements
        .iter()
        .filter(|s| s.predicate_type == wanted)
        .peekable();
    if of_type.peek().is_none() {
        return Err(EntryFailed::Failed(format!(
            "attestions not found for predicate type {wanted}"
        )));
    }
    for statement in of_type {
        match conditions_hold(&attestation.conditions, &statement.predicate) {
            Ok(None) => {}
            Ok(Some(message)) => {
                return Err(EntryFailed::Failed(format!(
                    "attestation checks failed for {pinned} and predicate {wanted}: {message}"
                )));
            }
            Err(ConditionError::Kyverno(why)) => {
                return Err(EntryFailed::Failed(format!(
                    "failed to check attestations: {why}"
                )));
            }
            Err(ConditionError::Unsupported(why)) => {
                return Err(EntryFailed::Unsupported(why));
            }
        }
    }
    Ok(())
}

pub use super::conditions::{ConditionError, conditions_hold};

#[cfg(test)]
#[path = "verify_entry_tests.rs"]
mod tests;

/// What the pack's attestors say of one image's signature (or, with a predicate type, its
/// attestation), for the live checks: the learner's image is judged by the attestors the
/// cluster's Kyverno uses, key or keyless alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackVerdict {
    /// Every attestor set of the matching entry verified; the count of verified signatures
    /// (or statements) of the last set.
    Verified(usize),
    /// Too few attestor entries verified: Kyverno's wording of each failure.
    NotVerified(String),
    /// An entry cannot be checked from here (keyless against the public Sigstore, a KMS key).
    Unusable(String),
    /// No `verifyImages` entry of the pack names the image (or checks that predicate type).
    NoEntry,
}

/// Judges `image` (as the cluster names it) by the first `verifyImages` entry of `policies`
/// whose `imageReferences` match it and, for an attestation, that checks `attestation`.
pub fn verify_by_pack(
    policies: &[super::model::KyvernoPolicy],
    image: &str,
    artifacts: &CosignArtifacts,
    attestation: Option<&str>,
) -> PackVerdict {
    let entries = policies
        .iter()
        .flat_map(|p| p.spec.rules.iter())
        .flat_map(|r| r.verify_images.iter())
        .map(|e| &e.value);
    verify_by_entries(entries, image, artifacts, attestation)
}

/// [`verify_by_pack`] over the `verifyImages` entries themselves.
pub fn verify_by_entries<'a>(
    entries: impl IntoIterator<Item = &'a VerifyImage>,
    image: &str,
    artifacts: &CosignArtifacts,
    attestation: Option<&str>,
) -> PackVerdict {
    use crate::supply::attestation::{predicate_type, verify_attestations};
    let normalized =
        crate::supply::ImageRef::parse(image).map_or_else(|_| image.to_owned(), |r| r.to_string());
    let entries = entries
        .into_iter()
        .filter(|e| super::mutate_images::references(e, &normalized));
    for entry in entries {
        let sets: Vec<(String, &AttestorSet)> = match attestation {
            None => entry
                .attestors
                .iter()
                .enumerate()
                .map(|(i, s)| (format!(".attestors[{i}]"), s))
                .collect(),
            Some(wanted) => {
                let wanted = predicate_type(wanted);
                entry
                    .attestations
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| {
                        a.attestation_type
                            .as_deref()
                            .or(a.predicate_type.as_deref())
                            == Some(wanted)
                    })
                    .flat_map(|(i, a)| {
                        a.attestors
                            .iter()
                            .enumerate()
                            .map(move |(j, s)| (format!(".attestations[{i}].attestors[{j}]"), s))
                    })
                    .collect()
            }
        };
        if sets.is_empty() {
            continue;
        }
        let mut count = 0;
        for (path, set) in sets {
            let checked = check_set(&expand_static_keys(set), &path, &mut |_, verifier| {
                count = match attestation {
                    None => verify_signatures(artifacts, verifier).map(|s| s.len()),
                    Some(t) => verify_attestations(artifacts, verifier, t).map(|a| a.len()),
                }
                .map_err(|e| e.to_string())?;
                Ok(())
            });
            match checked {
                Ok(()) => {}
                Err(SetFailed::Unusable(why)) => return PackVerdict::Unusable(why),
                Err(SetFailed::TooFew(why)) => return PackVerdict::NotVerified(why),
            }
        }
        return PackVerdict::Verified(count);
    }
    PackVerdict::NoEntry
}
