//! Where things are: the workspace, its target directory, the runtime under test, the scratch
//! directory, and how long to wait before declaring a hang.
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The workspace root (the parent of this crate).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("integration/ has a parent")
        .to_path_buf()
}

/// The workspace's target directory (`CARGO_TARGET_DIR` if set, relative to the workspace).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace().join(dir),
        None => workspace().join("target"),
    }
}

/// The runtime binary under test: `$BERTH_BIN`, or the workspace's debug build of berth.
/// Setting `BERTH_BIN=/usr/sbin/runc` runs the suite against runc.
pub fn runtime_bin() -> PathBuf {
    match std::env::var_os("BERTH_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => target_dir().join("debug").join("berth"),
    }
}

/// Whether the runtime under test is runc (a few tests mark where berth deliberately differs).
pub fn testing_runc() -> bool {
    runtime_bin()
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("runc"))
}

/// The parent of every test's scratch directory: `$BERTH_TEST_TMPDIR`, or `<tmp>/berth-it`.
pub fn scratch_base() -> PathBuf {
    match std::env::var_os("BERTH_TEST_TMPDIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join("berth-it"),
    }
}

/// The safety limit for any one runtime command or wait (`$BERTH_TEST_TIMEOUT` seconds,
/// default 60). It only turns a hang into a failure; no test asserts on time.
pub fn hang_limit() -> Duration {
    let secs = std::env::var("BERTH_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}
