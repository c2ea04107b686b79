//! An OCI layout's `index.json`: opened as `lab verify --layout` and `lab test` open the
//! fixture layouts, the image resolved by tag and by digest, its cosign signatures and
//! attestations read and verified with the chapter's test key, and every tag exported as `lab
//! test --push` copies fixtures. The blobs are the chapter's real fixture blobs.

#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use courselab::supply::attestation::{fetch_attestations, verify_attestations};
use courselab::supply::cosign::fetch_artifacts;
use courselab::supply::layout::LayoutStore;
use courselab::supply::signature::verify_signatures;
use courselab::supply::store::Store;
use courselab_fuzz::{IMAGE, KEY_VERIFIER, block_on};
use libfuzzer_sys::fuzz_target;

/// A layout folder with the fixture blobs; each input becomes its `index.json`.
static LAYOUT: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = courselab_fuzz::scratch_dir("oci-index");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout is written");
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("the blobs folder is created");
    for (name, bytes) in courselab_fuzz::demo_blobs() {
        std::fs::write(blobs.join(name), bytes).expect("a blob is written");
    }
    dir
});

/// At most this many tags are exported per input, to keep an execution short.
const MAX_EXPORTS: usize = 8;

fuzz_target!(|data: &[u8]| {
    std::fs::write(LAYOUT.join("index.json"), data).expect("index.json is written");
    let Ok(store) = LayoutStore::open(&LAYOUT) else {
        return;
    };
    if let Ok(artifacts) = block_on(fetch_artifacts(&store, &IMAGE)) {
        let _ = verify_signatures(&artifacts, &KEY_VERIFIER);
        let _ = fetch_attestations(&artifacts, &KEY_VERIFIER);
        let _ = verify_attestations(&artifacts, &KEY_VERIFIER, "spdxjson");
        let pinned = IMAGE.with_digest(artifacts.digest.as_str());
        let _ = block_on(store.resolve(&pinned));
    }
    for tag in store.tags().iter().take(MAX_EXPORTS) {
        let _ = store.export(tag);
    }
});
