//! The explain JSON input on arbitrary text: parsed and traced, or refused; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(problem) = neuralnet::explain::Problem::from_json(text)
    {
        let _ = problem.trace();
    }
});
