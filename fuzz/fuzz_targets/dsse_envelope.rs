//! A DSSE envelope as an attestation layer stores it, verified as `lab verify
//! --attestation-type spdxjson` verifies one (envelope, payload type, signatures, subject,
//! SPDX predicate); and the same input as the in-toto statement of an envelope the chapter's
//! test key signed, so that statement and SPDX checks are reached past the signature.

#![no_main]

use courselab::supply::Digest;
use courselab::supply::attestation::{fetch_attestations, verify_attestations};
use courselab::supply::cosign::{AttestationLayer, CosignArtifacts};
use courselab::supply::fixture::{SPDX_PREDICATE_TYPE, envelope};
use courselab_fuzz::{IMAGE, IMAGE_DIGEST, KEY_VERIFIER, SIGNER};
use libfuzzer_sys::fuzz_target;

fn artifacts(envelope: Vec<u8>) -> CosignArtifacts {
    CosignArtifacts {
        image: IMAGE.clone(),
        digest: Digest::parse(IMAGE_DIGEST).expect("the digest parses"),
        signatures: Vec::new(),
        attestations: vec![AttestationLayer {
            envelope,
            predicate_type: Some(SPDX_PREDICATE_TYPE.to_owned()),
            certificate: None,
            chain: None,
            bundle: None,
        }],
    }
}

fuzz_target!(|data: &[u8]| {
    let stored = artifacts(data.to_vec());
    let _ = fetch_attestations(&stored, &KEY_VERIFIER);
    let _ = verify_attestations(&stored, &KEY_VERIFIER, "spdxjson");
    let signed = artifacts(envelope(data, &SIGNER).expect("the test key signs"));
    let _ = verify_attestations(&signed, &KEY_VERIFIER, "spdxjson");
    let _ = verify_attestations(
        &signed,
        &KEY_VERIFIER,
        "https://example.com/other-predicate",
    );
});
