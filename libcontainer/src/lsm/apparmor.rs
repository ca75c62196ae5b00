//! AppArmor: whether the host's kernel has it enabled, and the exec-time profile change.
use nix::errno::Errno;
use nix::fcntl::OFlag;
use std::io::Write;

use crate::error::IoContext;
use crate::procfs::ProcFs;
use crate::{Error, Result};

/// The kernel's switch: present only when the AppArmor module is built in, `Y` when it is
/// enabled (not disabled on the command line or by another major LSM).
const ENABLED: &str = "/sys/module/apparmor/parameters/enabled";

/// AppArmor's own attribute directory (Linux 5.1+), then the shared one older kernels use.
const EXEC_ATTRS: [&str; 2] = ["thread-self/attr/apparmor/exec", "thread-self/attr/exec"];

pub(crate) fn enabled() -> bool {
    std::fs::read_to_string(ENABLED).is_ok_and(|v| v.starts_with('Y'))
}

/// A profile name is one line of text; the kernel looks it up at the write.
pub(super) fn validate_profile(profile: &str) -> Result<()> {
    if profile.contains(['\n', '\0']) {
        return Err(Error::invalid(
            "process.apparmorProfile",
            format!("{profile:?} is not a profile name"),
        ));
    }
    Ok(())
}

/// Writes `exec <profile>` to this thread's AppArmor exec attribute: the profile applies from
/// the next `execve`. A profile that is not loaded is an error here (ENOENT from the write).
pub(super) fn set_exec_profile(proc: &ProcFs, profile: &str) -> Result<()> {
    let (path, mut file) = match proc.open(EXEC_ATTRS[0], OFlag::O_WRONLY) {
        Ok(f) => (EXEC_ATTRS[0], f),
        Err(Error::Sys {
            errno: Errno::ENOENT,
            ..
        }) => (EXEC_ATTRS[1], proc.open(EXEC_ATTRS[1], OFlag::O_WRONLY)?),
        Err(e) => return Err(e),
    };
    file.write_all(format!("exec {profile}").as_bytes()).ctx(
        "write",
        format!("/proc/{path} (process.apparmorProfile {profile:?})"),
    )
}
