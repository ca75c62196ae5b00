//! Container ids: an accepted id is always one safe path component.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = std::str::from_utf8(data) {
        if berth::id::validate(id).is_ok() {
            assert!(!id.contains('/') && id != "." && id != ".." && !id.is_empty());
            assert!(id.len() <= berth::id::MAX_ID_LEN);
        }
    }
});
