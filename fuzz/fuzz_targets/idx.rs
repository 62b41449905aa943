//! The IDX reader on arbitrary bytes (raw or gzip): errors, never panics or huge allocations.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz-input");
    let _ = neuralnet::data::idx::parse_images(data, p);
    let _ = neuralnet::data::idx::parse_labels(data, p);
});
