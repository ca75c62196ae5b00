//! Tests that change process-wide state (uids, capabilities, mounts, the cwd, stdio) run in a
//! fresh process of the test binary, never in a thread of the test harness: `in_child` runs
//! the named test again with an environment variable set, and that run executes the body.
use std::process::{Command, Output};

const VAR: &str = "BERTH_TEST_CHILD";

/// Whether this process is the child run of `test`.
pub(crate) fn is_child(test: &str) -> bool {
    std::env::var(VAR).as_deref() == Ok(test)
}

/// A command that runs the test named `test` (its full path, e.g. `process::tests::x`) in a
/// new process, which sees [`is_child`] true for that name.
pub(crate) fn child_command(test: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(VAR, test);
    cmd
}

fn spawn_child(test: &str) -> Output {
    child_command(test).output().expect("run the test binary")
}

/// Runs `body` in a new process (see the module docs); in the parent, asserts that the child
/// succeeded and returns its stdout. Returns None in the child, after `body`.
pub(crate) fn in_child(test: &str, body: impl FnOnce()) -> Option<String> {
    if is_child(test) {
        body();
        return None;
    }
    let out = spawn_child(test);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child run of {test} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Some(stdout)
}

/// The value of `field` in /proc/thread-self/status (capabilities are per thread).
pub(crate) fn status_field(field: &str) -> String {
    let status = std::fs::read_to_string("/proc/thread-self/status").expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in status"))
        .trim()
        .to_string()
}
