//! SELinux: whether the host has it enabled, label checks, and the exec-time label.
use crate::procfs::ProcFs;
use crate::{Error, Result};

/// Where selinuxfs is mounted when SELinux is enabled.
const SELINUXFS: &str = "/sys/fs/selinux";

pub(crate) fn enabled() -> bool {
    nix::sys::statfs::statfs(SELINUXFS)
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::SELINUX_MAGIC)
}

/// A security context is `user:role:type[:level]`, one line.
pub(super) fn validate_label(field: &str, label: &str) -> Result<()> {
    let parts = label.splitn(4, ':').collect::<Vec<_>>();
    if parts.len() < 3 || parts[..3].iter().any(|p| p.is_empty()) || label.contains(['\n', '\0']) {
        return Err(Error::invalid(
            field,
            format!("{label:?} is not an SELinux context (user:role:type[:level])"),
        ));
    }
    Ok(())
}

/// Writes `label` to this thread's exec attribute: the kernel applies it at the next `execve`.
pub(super) fn set_exec_label(proc: &ProcFs, label: &str) -> Result<()> {
    proc.write("thread-self/attr/exec", label)
        .map_err(|e| Error::invalid("process.selinuxLabel", format!("{label:?}: {e}")))
}
