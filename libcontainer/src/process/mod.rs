//! The container process's own settings, applied by init after the rootfs is in place: rlimits,
//! oomScoreAdj, scheduler, ioPriority, user (uid, gid, additionalGids, umask), capabilities,
//! noNewPrivileges, personality, cwd, and finally `execve` of `args` with `env`.
mod caps;
mod exec;
mod rlimits;
mod sched;
mod user;

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use nix::errno::Errno;
use oci_spec::runtime::{LinuxPersonality, Process};

use crate::error::IoContext;
use crate::{Error, Result};

pub(crate) use caps::check_names as check_capability_names;
pub(crate) use exec::{validate_personality, Exec};

/// Checks `process` before anything is created (duplicate rlimits, unknown values, ...).
pub(crate) fn validate(process: &Process) -> Result<()> {
    rlimits::validate(process.rlimits().as_deref().unwrap_or_default())?;
    if let Some(s) = process.scheduler() {
        sched::validate_scheduler(s)?;
    }
    if let Some(p) = process.io_priority() {
        sched::validate_io_priority(p)?;
    }
    user::validate(process.user())?;
    caps::validate(process.capabilities().as_ref())?;
    exec::validate_env(process.env().as_deref().unwrap_or_default())?;
    exec::validate_args(process.args().as_deref().unwrap_or_default())?;
    let cwd = process.cwd();
    if !cwd.is_absolute() {
        return Err(Error::invalid(
            "process.cwd",
            format!("{} is not an absolute path", cwd.display()),
        ));
    }
    if let Some(adj) = process.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return Err(Error::invalid(
                "process.oomScoreAdj",
                format!("{adj} is outside -1000..1000"),
            ));
        }
    }
    if let Some(size) = process.console_size() {
        if size.height() > u64::from(u16::MAX) || size.width() > u64::from(u16::MAX) {
            return Err(Error::invalid(
                "process.consoleSize",
                format!("{}x{} is too large", size.width(), size.height()),
            ));
        }
    }
    Ok(())
}

/// Applied in init before `pivot_root`, through the host's `/proc` (so the container's mounts
/// cannot redirect the writes): `oomScoreAdj` (untouched when absent).
pub(crate) fn apply_procfs(process: &Process) -> Result<()> {
    let Some(adj) = process.oom_score_adj() else {
        return Ok(());
    };
    write_proc("/proc/self/oom_score_adj", &adj.to_string())
}

/// Writes `value` to a procfs file, refusing symlinks and anything not on procfs.
fn write_proc(path: &str, value: &str) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .ctx("open", path)?;
    let fs = nix::sys::statfs::fstatfs(&file).map_err(|e| Error::sys("fstatfs", path, e))?;
    if fs.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(Error::sys(
            "open",
            format!("{path} (not on procfs)"),
            Errno::EXDEV,
        ));
    }
    file.write_all(value.as_bytes()).ctx("write", path)
}

/// Everything up to, not including, `execve`: rlimits, scheduler, ioPriority, switch to the
/// user (groups, gid, uid, umask) keeping the configured capabilities, cwd. Returns the prepared
/// exec (the resolved executable and its argv/env), so a missing executable is a create error.
/// `personality` is the spec's `linux.personality`, set by [`Exec::exec`].
pub(crate) fn apply(process: &Process, personality: Option<&LinuxPersonality>) -> Result<Exec> {
    rlimits::apply(process.rlimits().as_deref().unwrap_or_default())?;
    if let Some(s) = process.scheduler() {
        sched::apply_scheduler(s)?;
    }
    if let Some(p) = process.io_priority() {
        sched::apply_io_priority(p)?;
    }
    let cwd = process.cwd();
    // As runc does: create a missing cwd, and enter it as root first (the user may not be
    // able to reach it); only if root is refused, try again as the user.
    let chdir_as_user = chdir_as_root(cwd)?;
    let user = process.user();
    let env = exec::environment(process.env().as_deref().unwrap_or_default(), || {
        user::home_dir(user.uid())
    });
    let plan = caps::plan(process.capabilities().as_ref());
    caps::drop_bounding(&plan)?;
    user::switch(user)?;
    if chdir_as_user {
        chdir(cwd)?;
    }
    caps::apply(&plan)?;
    let args = process.args().as_deref().unwrap_or_default();
    let program = args.first().map(String::as_str).unwrap_or_default();
    let path = exec::resolve(program, &env)?;
    Exec::new(
        path,
        args,
        &env,
        process.no_new_privileges().unwrap_or(false),
        personality,
    )
}

fn chdir(cwd: &Path) -> Result<()> {
    nix::unistd::chdir(cwd)
        .map_err(|e| Error::sys("chdir", format!("process.cwd {}", cwd.display()), e))
}

/// Creates `cwd` if it is missing and enters it; returns whether it must be entered again
/// after the user switch because root was refused (EACCES/EPERM, e.g. on a root-squashed
/// network file system).
fn chdir_as_root(cwd: &Path) -> Result<bool> {
    if !cwd.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(cwd)
            .ctx("mkdir process.cwd", cwd)?;
    }
    match nix::unistd::chdir(cwd) {
        Ok(()) => Ok(false),
        Err(Errno::EACCES | Errno::EPERM) => Ok(true),
        Err(e) => Err(Error::sys(
            "chdir",
            format!("process.cwd {}", cwd.display()),
            e,
        )),
    }
}

/// The capability names berth knows, as `features` lists them.
pub(crate) fn known_capabilities() -> Vec<String> {
    caps::known()
}
