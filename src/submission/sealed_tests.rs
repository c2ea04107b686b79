use serde_json::{Value, json};
use sigstore::crypto::signing_key::ecdsa::{ECDSAKeys, EllipticCurve};

use super::*;

const STATEMENT: &[u8] = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://courselab.dev/submission/v1","predicate":{}}"#;

struct Pair {
    private_pem: String,
    public_pem: String,
}

fn pair() -> Pair {
    let keys = SigStoreKeyPair::ECDSA(ECDSAKeys::new(EllipticCurve::P256).unwrap());
    Pair {
        private_pem: keys.private_key_to_pem().unwrap().to_string(),
        public_pem: keys.public_key_to_pem().unwrap(),
    }
}

fn sealed(statement: &[u8], pair: &Pair) -> Value {
    let key = SigningKey::read(pair.private_pem.as_bytes(), b"").unwrap();
    serde_json::from_slice(&seal(statement, &key).unwrap()).unwrap()
}

fn opened(bundle: &Value, pair: &Pair) -> Result<Vec<u8>, SealError> {
    let trusted = TrustedKey::from_pem(pair.public_pem.as_bytes()).unwrap();
    open(&serde_json::to_vec(bundle).unwrap(), &trusted)
}

#[test]
fn a_sealed_statement_opens_with_the_signers_public_key() {
    let pair = pair();
    let bundle = sealed(STATEMENT, &pair);
    assert_eq!(bundle["mediaType"], BUNDLE_MEDIA_TYPE);
    assert_eq!(
        bundle["dsseEnvelope"]["payloadType"],
        "application/vnd.in-toto+json"
    );
    assert_eq!(opened(&bundle, &pair).unwrap(), STATEMENT);
}

#[test]
fn the_hint_is_cosigns_sha256_of_the_public_keys_der() {
    let pair = pair();
    let bundle = sealed(STATEMENT, &pair);
    let trusted = TrustedKey::from_pem(pair.public_pem.as_bytes()).unwrap();
    assert_eq!(
        bundle["verificationMaterial"]["publicKey"]["hint"],
        trusted.hint()
    );
    assert_eq!(trusted.hint().len(), 44, "base64 of 32 bytes");
}

#[test]
fn one_changed_byte_of_the_statement_breaks_the_seal() {
    let pair = pair();
    let mut bundle = sealed(STATEMENT, &pair);
    let mut changed = STATEMENT.to_vec();
    let at = changed.len() - 3;
    changed[at] = b' ';
    bundle["dsseEnvelope"]["payload"] = json!(STANDARD.encode(&changed));
    assert_eq!(
        opened(&bundle, &pair),
        Err(SealError::BadSignature { other_key: false })
    );
}

#[test]
fn a_statement_sealed_by_another_key_is_refused_and_the_hint_explains_why() {
    let (learner, other) = (pair(), pair());
    let bundle = sealed(STATEMENT, &other);
    assert_eq!(
        opened(&bundle, &learner),
        Err(SealError::BadSignature { other_key: true })
    );
    let mut forged_hint = bundle.clone();
    let trusted = TrustedKey::from_pem(learner.public_pem.as_bytes()).unwrap();
    forged_hint["verificationMaterial"]["publicKey"]["hint"] = json!(trusted.hint());
    assert_eq!(
        opened(&forged_hint, &learner),
        Err(SealError::BadSignature { other_key: false }),
        "a hint naming the learner's key must not make another key's signature verify"
    );
}

#[test]
fn an_envelope_with_no_or_two_signatures_is_refused() {
    let pair = pair();
    let bundle = sealed(STATEMENT, &pair);
    let one = bundle["dsseEnvelope"]["signatures"][0].clone();
    for (signatures, n) in [(json!([]), 0), (json!([one.clone(), one]), 2)] {
        let mut changed = bundle.clone();
        changed["dsseEnvelope"]["signatures"] = signatures;
        assert_eq!(opened(&changed, &pair), Err(SealError::Signatures(n)));
    }
}

#[test]
fn another_payload_type_is_refused() {
    let pair = pair();
    let mut bundle = sealed(STATEMENT, &pair);
    bundle["dsseEnvelope"]["payloadType"] = json!("text/plain");
    assert_eq!(
        opened(&bundle, &pair),
        Err(SealError::PayloadType(
            "application/vnd.in-toto+json".into()
        ))
    );
}

#[test]
fn what_is_not_a_bundle_is_named_without_quoting_it() {
    let pair = pair();
    let trusted = TrustedKey::from_pem(pair.public_pem.as_bytes()).unwrap();
    let secretish = br#"{"mediaType": "token: s3cr3t-value""#;
    let error = open(secretish, &trusted).unwrap_err();
    assert!(matches!(error, SealError::NotABundle(_)), "{error:?}");
    assert!(!error.to_string().contains("s3cr3t"), "{error}");

    let mut bundle = sealed(STATEMENT, &pair);
    bundle["mediaType"] = json!("application/json");
    assert_eq!(opened(&bundle, &pair), Err(SealError::MediaType));
    bundle["mediaType"] = json!(BUNDLE_MEDIA_TYPE);
    bundle.as_object_mut().unwrap().remove("dsseEnvelope");
    assert_eq!(opened(&bundle, &pair), Err(SealError::NoEnvelope));
}

#[test]
fn a_bundle_nested_ten_thousand_deep_is_refused_not_a_stack_overflow() {
    let pair = pair();
    let trusted = TrustedKey::from_pem(pair.public_pem.as_bytes()).unwrap();
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let error = open(deep.as_bytes(), &trusted).unwrap_err();
    assert!(matches!(error, SealError::NotABundle(_)), "{error:?}");
    assert!(error.to_string().contains("more than 64 deep"), "{error}");
}

#[test]
fn url_safe_base64_is_accepted_as_dsse_requires() {
    let pair = pair();
    let mut bundle = sealed(STATEMENT, &pair);
    let sig = STANDARD
        .decode(
            bundle["dsseEnvelope"]["signatures"][0]["sig"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = json!(URL_SAFE.encode(sig));
    bundle["dsseEnvelope"]["payload"] = json!(URL_SAFE.encode(STATEMENT));
    assert_eq!(opened(&bundle, &pair).unwrap(), STATEMENT);
}

#[test]
fn an_encrypted_cosign_key_is_read_with_its_password_and_refused_without_it() {
    let keys = SigStoreKeyPair::ECDSA(ECDSAKeys::new(EllipticCurve::P256).unwrap());
    let encrypted = keys.private_key_to_encrypted_pem(b"correct horse").unwrap();
    let key = SigningKey::read(encrypted.as_bytes(), b"correct horse").unwrap();
    assert_eq!(key.public_pem(), keys.public_key_to_pem().unwrap());
    let error = SigningKey::read(encrypted.as_bytes(), b"wrong").unwrap_err();
    assert!(error.to_string().contains("COSIGN_PASSWORD"), "{error}");
    assert!(
        !format!("{error} {error:?}").contains("PRIVATE KEY"),
        "{error:?}"
    );
}

#[test]
fn a_public_key_given_as_the_signing_key_and_a_private_key_given_as_trusted_are_refused() {
    let pair = pair();
    assert!(matches!(
        SigningKey::read(pair.public_pem.as_bytes(), b""),
        Err(SealError::Key(_))
    ));
    let error = TrustedKey::from_pem(pair.private_pem.as_bytes())
        .err()
        .expect("a private key was trusted as a public key");
    assert!(error.to_string().contains("PRIVATE key"), "{error}");
    assert!(!error.to_string().contains("BEGIN"), "{error}");
}
