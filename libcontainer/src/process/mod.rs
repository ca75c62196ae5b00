//! The container process's own settings, applied by init after the rootfs is in place: rlimits,
//! oomScoreAdj, scheduler, ioPriority, user (uid, gid, additionalGids, umask), capabilities,
//! noNewPrivileges, personality, cwd, and finally `execve` of `args` with `env`.
use oci_spec::runtime::Process;

use crate::{Error, Result};

/// Checks `process` before anything is created (duplicate rlimits, unknown values, ...).
pub(crate) fn validate(_process: &Process) -> Result<()> {
    Ok(())
}

/// Applied in init before `pivot_root`, through the host's `/proc` (so the container's mounts
/// cannot redirect the writes): `oomScoreAdj` (untouched when absent).
pub(crate) fn apply_procfs(_process: &Process) -> Result<()> {
    Ok(())
}

/// Everything up to, not including, `execve`: rlimits, scheduler, ioPriority, switch to the
/// user (groups, gid, uid, umask) keeping the configured capabilities, cwd. Returns the prepared
/// exec (the resolved executable and its argv/env), so a missing executable is a create error.
pub(crate) fn apply(_process: &Process) -> Result<Exec> {
    Err(Error::unsupported("process"))
}

/// A fully prepared `execve`.
pub(crate) struct Exec {}

impl Exec {
    /// Sets `noNewPrivileges` and the personality, then replaces the process image. Returns
    /// only on failure.
    pub(crate) fn exec(self) -> Error {
        Error::unsupported("process.args")
    }
}

/// The capability names berth knows, as `features` lists them.
pub(crate) fn known_capabilities() -> Vec<String> {
    Vec::new()
}
