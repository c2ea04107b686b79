use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::signing_key::ecdsa::{ECDSAKeys, EllipticCurve};
use time::macros::datetime;

use super::*;

struct Instructor {
    key: SigningKey,
    trusted: TrustedKey,
}

fn instructor() -> Instructor {
    let pair = SigStoreKeyPair::ECDSA(ECDSAKeys::new(EllipticCurve::P256).unwrap());
    Instructor {
        key: SigningKey::read(pair.private_key_to_pem().unwrap().as_bytes(), b"").unwrap(),
        trusted: TrustedKey::from_pem(pair.public_key_to_pem().unwrap().as_bytes()).unwrap(),
    }
}

const NOW: OffsetDateTime = datetime!(2026-12-06 08:00 UTC);

#[test]
fn an_issued_token_verifies_with_the_instructors_key_and_reads_without_it() {
    let instructor = instructor();
    let bundle = issue(
        "ada",
        Some("ch14"),
        Some("2026-12-20"),
        NOW,
        &instructor.key,
    )
    .unwrap();
    let token = verify(&bundle, &instructor.trusted).unwrap();
    assert_eq!(token.learner, "ada");
    assert_eq!(token.chapter.as_deref(), Some("ch14"));
    assert_eq!(token.due.as_deref(), Some("2026-12-20T23:59:59Z"));
    assert_eq!(token.issued, "2026-12-06T08:00:00Z");
    assert_eq!(token.nonce.len(), 32);
    assert_eq!(read_unverified(&bundle).unwrap(), token);
}

#[test]
fn two_tokens_for_the_same_learner_carry_different_nonces() {
    let instructor = instructor();
    let a = read_unverified(&issue("ada", None, None, NOW, &instructor.key).unwrap()).unwrap();
    let b = read_unverified(&issue("ada", None, None, NOW, &instructor.key).unwrap()).unwrap();
    assert_ne!(a.nonce, b.nonce);
}

#[test]
fn a_token_issued_by_another_key_does_not_verify() {
    let (real, forger) = (instructor(), instructor());
    let forged = issue("ada", None, None, NOW, &forger.key).unwrap();
    assert!(
        read_unverified(&forged).is_ok(),
        "a learner can still start with it"
    );
    assert!(matches!(
        verify(&forged, &real.trusted),
        Err(TokenError::Seal(SealError::BadSignature { .. }))
    ));
}

#[test]
fn a_submission_statement_is_not_a_token_nor_a_token_a_statement() {
    let instructor = instructor();
    let token = issue("ada", None, None, NOW, &instructor.key).unwrap();
    assert_eq!(
        super::super::sealed::open(&token, &instructor.trusted),
        Err(SealError::PayloadType(
            "application/vnd.in-toto+json".into()
        ))
    );
    let statement = super::super::sealed::seal(b"{}", &instructor.key).unwrap();
    assert_eq!(
        verify(&statement, &instructor.trusted),
        Err(TokenError::Seal(SealError::PayloadType(
            TOKEN_PAYLOAD_TYPE.into()
        )))
    );
}

#[test]
fn a_learner_id_that_cannot_name_a_file_or_a_row_is_refused() {
    let instructor = instructor();
    for id in [
        "",
        "../ada",
        "ada lovelace",
        "-rf",
        ".ada",
        &"a".repeat(65),
        "ada\u{202e}",
    ] {
        assert!(
            matches!(
                issue(id, None, None, NOW, &instructor.key),
                Err(TokenError::LearnerId(_))
            ),
            "{id:?}"
        );
    }
    for id in ["ada", "ada.lovelace@example.org", "s1234567", "a_b-c+d"] {
        assert_eq!(check_learner_id(id), Ok(()), "{id}");
    }
}

#[test]
fn due_dates_read_as_a_day_or_a_time_and_anything_else_is_refused() {
    assert_eq!(
        parse_due("2026-12-20").unwrap(),
        datetime!(2026-12-20 23:59:59 UTC)
    );
    assert_eq!(
        parse_due("2026-12-20T12:00:00+02:00").unwrap(),
        datetime!(2026-12-20 10:00 UTC)
    );
    for bad in ["20/12/2026", "2026-13-01", "tomorrow", ""] {
        let error = parse_due(bad).unwrap_err();
        assert!(error.to_string().contains("YYYY-MM-DD"), "{bad}: {error}");
    }
}
