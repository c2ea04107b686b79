//! A submission's sealed statement as `lab grade` opens it: the input as a Sigstore bundle
//! opened with the chapter's test key; and the input as a statement sealed with that key, so
//! that the statement's parser is reached past the signature, and every statement that parses
//! checked against an empty archive.

#![no_main]

use courselab::submission::archive::Files;
use courselab::submission::sealed::{open, seal};
use courselab::submission::statement::Statement;
use courselab_fuzz::{SUBMISSION_SIGNER, TRUSTED};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = open(data, &TRUSTED) {
        let _ = Statement::parse(&payload);
    }
    let sealed = seal(data, &SUBMISSION_SIGNER).expect("the test key seals");
    let payload = open(&sealed, &TRUSTED).expect("what the test key sealed opens with it");
    assert_eq!(payload, data);
    if let Ok(statement) = Statement::parse(&payload) {
        let _ = statement.check_files(&Files::new());
        assert_eq!(
            Statement::parse(&statement.to_json()).as_ref(),
            Ok(&statement),
            "a statement that parses must read back as itself"
        );
    }
});
