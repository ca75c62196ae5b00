//! `kill` signal argument: accepted values are real signal numbers.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(sig) = berth::signal::parse(s) {
            assert!(sig >= 1 && sig <= 64);
        }
    }
});
