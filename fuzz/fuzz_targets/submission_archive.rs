//! A submission archive as `lab grade` reads one from a learner: streamed within limits (small
//! ones here, so that the fuzzer reaches every limit quickly), and, when it holds a sealed
//! statement, the seal opened with the chapter's test key, the statement read and the files
//! checked against its subjects.

#![no_main]

use courselab::submission::archive::{Limits, read};
use courselab::submission::sealed::open;
use courselab::submission::statement::{SEAL_FILE, Statement};
use courselab_fuzz::TRUSTED;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        compressed_bytes: 1 << 20,
        inflated_bytes: 4 << 20,
        entry_bytes: 1 << 20,
        entries: 64,
        ratio: 200,
    };
    let Ok(files) = read(data, limits) else {
        return;
    };
    let Some(seal) = files.get(SEAL_FILE) else {
        return;
    };
    if let Ok(payload) = open(seal, &TRUSTED)
        && let Ok(statement) = Statement::parse(&payload)
    {
        let _ = statement.check_files(&files);
    }
});
