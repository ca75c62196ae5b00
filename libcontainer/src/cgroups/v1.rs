//! cgroup v1 specifics: preparing a new cpuset cgroup, and the v1 freezer.
use std::path::Path;
use std::time::{Duration, Instant};

use super::files::{read, write};
use crate::{Error, Result};

/// A new cpuset cgroup starts with empty `cpuset.cpus` and `cpuset.mems`, and no process can
/// join it until they are set: copy them down from the nearest ancestor that has them. Each
/// file is read once: a level's value after the copy is the one written to it, so the level
/// below gets that without reading it back.
///
/// The lowest `made` levels (from `dir` up) were made just now and are not read: a new cpuset
/// holds either nothing or, with `cgroup.clone_children`, a copy of its parent's values, so
/// writing the parent's values gives the same result either way (the kernel does nothing for
/// a write that changes nothing).
pub(super) fn init_cpuset(dir: &Path, made: u8) -> Result<()> {
    const FILES: [&str; 2] = ["cpuset.cpus", "cpuset.mems"];
    // From `dir` up to the first level that has both values, each with its values.
    let mut levels = Vec::new();
    let mut d = Some(dir);
    while let Some(level) = d {
        let values = if levels.len() < usize::from(made) {
            [String::new(), String::new()]
        } else {
            [read(level, FILES[0])?, read(level, FILES[1])?]
        };
        let complete = values.iter().all(|v| !v.is_empty());
        levels.push((level, values));
        if complete {
            break;
        }
        d = level.parent();
    }
    let mut above = [String::new(), String::new()];
    for (level, values) in levels.into_iter().rev() {
        for (i, value) in values.into_iter().enumerate() {
            if value.is_empty() {
                write(level, FILES[i], &above[i])?;
            } else {
                above[i] = value;
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
