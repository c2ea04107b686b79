//! A cosign simple-signing payload: signed with the chapter's test key and verified as `lab
//! verify` verifies a signature layer (signature, then the payload's claims), and read as the
//! output of `cosign verify` that `lab` takes as evidence.

#![no_main]

use courselab::supply::Digest;
use courselab::supply::cosign::{CosignArtifacts, SignatureLayer};
use courselab::supply::evidence::parse_cosign_verify;
use courselab::supply::signature::verify_signatures;
use courselab_fuzz::{IMAGE, IMAGE_DIGEST, KEY_VERIFIER, SIGNER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let signature = SIGNER.sign(data).expect("the test key signs");
    let artifacts = CosignArtifacts {
        image: IMAGE.clone(),
        digest: Digest::parse(IMAGE_DIGEST).expect("the digest parses"),
        signatures: vec![SignatureLayer {
            payload: data.to_vec(),
            signature,
            certificate: None,
            chain: None,
            bundle: None,
        }],
        attestations: Vec::new(),
    };
    let _ = verify_signatures(&artifacts, &KEY_VERIFIER);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_cosign_verify(text);
    }
});
