//! The model loader on arbitrary bytes: a clear error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = neuralnet::model_file::from_bytes(data, Path::new("fuzz-input")) {
        // Whatever loads must also run.
        let x = vec![0.5f32; model.network.inputs()];
        let _ = model.network.predict(&x, 1);
    }
});
