//! A venue bundle as `lab bundle verify` reads one from whoever handed it over: a plain tar
//! streamed within limits, its first entry parsed as the manifest, every other file hashed
//! against it.

#![no_main]

use std::path::Path;

use courselab::bundle::verify::verify_reader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = verify_reader(data, Path::new("fuzz.tar"));
});
