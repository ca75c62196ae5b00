//! The state JSON that `berth state` prints must parse back (engines and hooks read it).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(state) = serde_json::from_slice::<berth::State>(data) {
        let text = serde_json::to_string(&state).unwrap();
        let back: berth::State = serde_json::from_str(&text).unwrap();
        assert_eq!(back, state);
    }
});
