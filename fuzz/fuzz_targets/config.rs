//! config.json: parsing and validation must never panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = berth::spec::parse(data) {
        let _ = berth::spec::validate(&spec);
    }
});
