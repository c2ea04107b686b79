//! A venue bundle as `lab bundle verify` reads one from whoever handed it over: a plain tar
//! streamed within limits, its first entry parsed as the manifest, every other file hashed
//! against it. The same bytes as a publisher's chart archive, which `lab bundle create` reads
//! (gzip, tar, two YAML files) for the images it deploys.

#![no_main]

use std::path::Path;

use courselab::bundle::kyverno::read_chart;
use courselab::bundle::verify::verify_reader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = verify_reader(data, Path::new("fuzz.tar"));
    if let Ok(chart) = read_chart(data, "kyverno") {
        // What it read holds together: every image the values name was computed.
        assert_eq!(
            chart.images.len(),
            courselab::bundle::kyverno::IMAGE_VALUES.len()
        );
    }
});
