//! cgroup v2 specifics: enabling controllers down to a new cgroup, freezing, `cgroup.kill`.
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::files::{poll, read, read_opt, write, write_raw};
use crate::{Error, Result};

/// The ancestors of `dir` from the hierarchy's root down to its parent. The root cgroup is the
/// one without a `cgroup.type` file.
fn ancestors(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut d = dir.parent();
    while let Some(p) = d {
        out.push(p.to_path_buf());
        if !p.join("cgroup.type").exists() {
            break;
        }
        d = p.parent();
    }
    out.reverse();
    out
}

/// Checks that `dir` can hold processes with domain controllers.
pub(super) fn check_type(dir: &Path) -> Result<()> {
    if read_opt(dir, "cgroup.type")?.as_deref() == Some("domain invalid") {
        return Err(Error::Cgroup {
            path: dir.to_path_buf(),
            reason: "cgroup is \"domain invalid\" (a parent has processes of its own)".into(),
        });
    }
    Ok(())
}

/// Enables in every ancestor of `dir` (from the root down) every controller the ancestor has,
/// so that `dir` gets all of them. Failures are left for `set` to report: a resource that needs
/// a controller that is missing is an error there, naming the controller.
pub(super) fn enable_all_controllers(dir: &Path) -> Result<()> {
    for a in ancestors(dir) {
        let available = read(&a, "cgroup.controllers")?;
        let enabled = read(&a, "cgroup.subtree_control")?;
        let missing: Vec<&str> = available
            .split_whitespace()
            .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let all = missing.iter().map(|c| format!("+{c}")).collect::<Vec<_>>();
        if write_raw(&a.join("cgroup.subtree_control"), &all.join(" ")).is_err() {
            for c in all {
                let _ = write_raw(&a.join("cgroup.subtree_control"), &c);
            }
        }
    }
    Ok(())
}

/// Enables `controller` in every ancestor of `dir`, failing with an error that names it.
pub(super) fn enable_controller(dir: &Path, controller: &str) -> Result<()> {
    for a in ancestors(dir) {
        let enabled = read(&a, "cgroup.subtree_control")?;
        if enabled.split_whitespace().any(|e| e == controller) {
            continue;
        }
        if !read(&a, "cgroup.controllers")?
            .split_whitespace()
            .any(|c| c == controller)
        {
            return Err(Error::Cgroup {
                path: a,
                reason: format!("controller {controller:?} is not available"),
            });
        }
        write(&a, "cgroup.subtree_control", format!("+{controller}"))?;
    }
    Ok(())
}

/// Whether `cgroup.events` says the cgroup is frozen (by itself or an ancestor).
pub(super) fn is_frozen(dir: &Path) -> Result<bool> {
    Ok(frozen(&read(dir, "cgroup.events")?))
}

/// Whether a `cgroup.events` text says frozen.
pub(super) fn frozen(events: &str) -> bool {
    events.lines().any(|l| l.trim() == "frozen 1")
}

/// Freezes the cgroup and waits until the kernel reports it frozen; after `timeout` it is
/// thawed again and the failure reported.
pub(super) fn freeze(dir: &Path, timeout: Duration) -> Result<()> {
    write(dir, "cgroup.freeze", "1")?;
    if poll(timeout, || Ok(is_frozen(dir)?.then_some(())))?.is_none() {
        let _ = write(dir, "cgroup.freeze", "0");
        return Err(Error::Cgroup {
            path: dir.join("cgroup.events"),
            reason: format!("not frozen after {timeout:?}; thawed again"),
        });
    }
    Ok(())
}

/// Thaws the cgroup (unless an ancestor keeps it frozen).
pub(super) fn thaw(dir: &Path) -> Result<()> {
    write(dir, "cgroup.freeze", "0")
}

/// SIGKILLs every process in the cgroup and its descendants through `cgroup.kill` (Linux 5.14+).
/// `Ok(false)` when the kernel has no `cgroup.kill`.
pub(super) fn kill_all(dir: &Path) -> Result<bool> {
    let path = dir.join("cgroup.kill");
    match write_raw(&path, "1") {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::Cgroup {
            path,
            reason: format!("write \"1\": {e}"),
        }),
    }
}
