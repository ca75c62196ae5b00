//! cgroup v1 specifics: preparing a new cpuset cgroup, and the v1 freezer.
use std::path::Path;
use std::time::{Duration, Instant};

use super::files::{read, write};
use crate::{Error, Result};

/// A new cpuset cgroup starts with empty `cpuset.cpus` and `cpuset.mems`, and no process can
/// join it until they are set: copy them down from the nearest ancestor that has them.
pub(super) fn init_cpuset(dir: &Path) -> Result<()> {
    let mut chain = Vec::new();
    let mut d = dir;
    loop {
        let empty = ["cpuset.cpus", "cpuset.mems"]
            .iter()
            .map(|f| read(d, f).map(|v| v.is_empty()))
            .collect::<Result<Vec<bool>>>()?;
        if !empty.contains(&true) {
            break;
        }
        chain.push(d);
        d = match d.parent() {
            Some(p) => p,
            None => break,
        };
    }
    for child in chain.iter().rev() {
        let parent = child.parent().unwrap_or(child);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if read(child, f)?.is_empty() {
                write(child, f, read(parent, f)?)?;
            }
        }
    }
    Ok(())
}

/// `freezer.state`: `THAWED`, `FREEZING` or `FROZEN`.
pub(super) fn freezer_state(dir: &Path) -> Result<String> {
    read(dir, "freezer.state")
}

/// Freezes the cgroup and waits until every task is frozen. Tasks in uninterruptible sleep can
/// keep a cgroup `FREEZING`; the request is repeated, and after `timeout` the cgroup is thawed
/// again and the failure reported.
pub(super) fn freeze(dir: &Path, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    let mut sleep = Duration::from_micros(100);
    let mut last_write = Instant::now();
    write(dir, "freezer.state", "FROZEN")?;
    loop {
        if freezer_state(dir)? == "FROZEN" {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            let _ = write(dir, "freezer.state", "THAWED");
            return Err(Error::Cgroup {
                path: dir.join("freezer.state"),
                reason: format!("still FREEZING after {timeout:?}; thawed again"),
            });
        }
        if last_write.elapsed() >= Duration::from_millis(50) {
            write(dir, "freezer.state", "FROZEN")?;
            last_write = Instant::now();
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(10));
    }
}

/// Thaws the cgroup (returns once the kernel reports it `THAWED`, which is immediate).
pub(super) fn thaw(dir: &Path) -> Result<()> {
    write(dir, "freezer.state", "THAWED")
}
