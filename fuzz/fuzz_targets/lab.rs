//! A lab file (`labs/<ch>/lab.yaml`), validated in the context of the course it belongs to.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    courselab_fuzz::validate_in_course("labs/mini/lab.yaml", data, courselab_fuzz::EVERY_FILE);
});
