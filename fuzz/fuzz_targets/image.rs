//! The photo reader and MNIST-style preprocessor on arbitrary bytes: a clear error or a 28×28
//! image, never a panic, a hang or an out-of-memory (the header's size is checked before decoding).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The reader takes a path (it sniffs the format from the content), so go through a file.
    let path = std::env::temp_dir().join(format!("neuralnet-fuzz-image-{}", std::process::id()));
    if std::fs::write(&path, data).is_ok()
        && let Ok(p) = neuralnet::data::photo::load_and_preprocess(&path)
    {
        assert_eq!(p.pixels.len(), 28 * 28);
    }
});
