//! `linux.seccomp`: syscall filtering with libseccomp.
//!
//! The runtime validates the spec ([`validate`], from `spec::validate`) and, when a rule uses
//! `SCMP_ACT_NOTIFY`, connects to the agent's socket ([`connect_listener`]) before clone.
//! Init compiles the filter ([`Seccomp::prepare`], libseccomp → BPF) while the runtime is busy
//! with id maps and cgroups, and installs it ([`Seccomp::install`]) itself with seccomp(2):
//! - `noNewPrivileges: false`: installing needs CAP_SYS_ADMIN, so before init switches user and
//!   drops capabilities ([`Seccomp::before_capabilities`]);
//! - `noNewPrivileges: true`: last, after no_new_privs is set, just before init reports Ready
//!   (the notify fd must reach the agent while the container is still "creating").
//!
//! Installing the exported program directly (rather than through libseccomp's loader) lets
//! berth use every kernel filter flag, even ones the installed libseccomp predates, and keeps
//! libseccomp's global state out of init.
mod cache;
mod compile;
mod notify;
mod profile;
#[cfg(test)]
mod tests;

use std::os::fd::OwnedFd;
use std::path::Path;

use libseccomp::{ScmpAction, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction as Action};
use serde_json::{json, Value};

use crate::error::SysContext;
use crate::sys::seccomp as sys;
use crate::{Error, Result};

pub use cache::compile_cached;
pub use compile::{compile, validate, Filter};
pub use notify::{connect_listener, process_state, send_notify_fd};
pub use profile::{default_profile, host_arch, DEFAULT_CAPABILITIES};

/// Installs `filter` on the calling thread. Returns the notification fd when a rule uses
/// `SCMP_ACT_NOTIFY`. The thread must have no_new_privs set or hold CAP_SYS_ADMIN.
pub fn load(filter: &Filter) -> Result<Option<OwnedFd>> {
    sys::install(&filter.program, filter.flags).sys(
        "seccomp",
        format!(
            "SECCOMP_SET_MODE_FILTER ({} instructions)",
            filter.program.len()
        ),
    )
}

/// A container's filter, compiled and waiting to be installed by init.
pub struct Seccomp {
    filter: Filter,
    no_new_privs: bool,
    metadata: Option<String>,
}

impl Seccomp {
    /// Compiles `linux.seccomp` for a process with the given `noNewPrivileges`; `None` when
    /// there is no filter. With `cache_dir`, the program comes from (or goes to) the on-disk
    /// cache ([`compile_cached`]).
    pub fn prepare(
        seccomp: Option<&LinuxSeccomp>,
        no_new_privs: bool,
        cache_dir: Option<&Path>,
    ) -> Result<Option<Seccomp>> {
        let Some(seccomp) = seccomp else {
            return Ok(None);
        };
        Ok(Some(Seccomp {
            filter: match cache_dir {
                Some(dir) => compile_cached(seccomp, dir)?,
                None => compile(seccomp)?,
            },
            no_new_privs,
            metadata: seccomp.listener_metadata().clone(),
        }))
    }

    /// True when the filter must be installed while init still holds CAP_SYS_ADMIN (that is,
    /// before `process::apply` switches user and drops capabilities): without no_new_privs
    /// the kernel only lets privileged processes install filters.
    pub fn before_capabilities(&self) -> bool {
        !self.no_new_privs
    }

    /// Sets no_new_privs if the process asks for it, installs the filter, and, when a rule
    /// notifies, sends the container process state and the notify fd on `listener` (from
    /// [`connect_listener`]). `pid` is init's pid as the runtime sees it; `container_state` is
    /// the runtime-spec state JSON (status "creating").
    pub fn install(
        &self,
        listener: Option<OwnedFd>,
        pid: i32,
        container_state: &[u8],
    ) -> Result<()> {
        if self.no_new_privs {
            nix::sys::prctl::set_no_new_privs().sys("prctl", "PR_SET_NO_NEW_PRIVS")?;
        }
        let Some(notify_fd) = load(&self.filter)? else {
            return Ok(());
        };
        let listener = listener.ok_or_else(|| {
            Error::invalid(
                "linux.seccomp.listenerPath",
                "no connection to the listener",
            )
        })?;
        let message = process_state(pid, self.metadata.as_deref(), container_state);
        send_notify_fd(listener, &message, notify_fd)
    }
}

/// Every action of the spec, with its kernel return value (`SECCOMP_RET_*`).
const ACTIONS: &[Action] = &[
    Action::ScmpActKill,
    Action::ScmpActKillProcess,
    Action::ScmpActKillThread,
    Action::ScmpActTrap,
    Action::ScmpActErrno,
    Action::ScmpActTrace,
    Action::ScmpActAllow,
    Action::ScmpActLog,
    Action::ScmpActNotify,
];

const ARCHES: &[Arch] = &[
    Arch::ScmpArchX86,
    Arch::ScmpArchX86_64,
    Arch::ScmpArchX32,
    Arch::ScmpArchArm,
    Arch::ScmpArchAarch64,
    Arch::ScmpArchMips,
    Arch::ScmpArchMips64,
    Arch::ScmpArchMips64n32,
    Arch::ScmpArchMipsel,
    Arch::ScmpArchMipsel64,
    Arch::ScmpArchMipsel64n32,
    Arch::ScmpArchPpc,
    Arch::ScmpArchPpc64,
    Arch::ScmpArchPpc64le,
    Arch::ScmpArchS390,
    Arch::ScmpArchS390x,
    Arch::ScmpArchParisc,
    Arch::ScmpArchParisc64,
    Arch::ScmpArchRiscv64,
    Arch::ScmpArchLoongarch64,
    Arch::ScmpArchM68k,
    Arch::ScmpArchSh,
    Arch::ScmpArchSheb,
];

const FLAGS: &[oci_spec::runtime::LinuxSeccompFilterFlag] = {
    use oci_spec::runtime::LinuxSeccompFilterFlag as F;
    &[
        F::SeccompFilterFlagTsync,
        F::SeccompFilterFlagLog,
        F::SeccompFilterFlagSpecAllow,
        F::SeccompFilterFlagWaitKillableRecv,
    ]
};

/// Whether both the kernel and the installed libseccomp support `action`.
fn action_supported(action: Action) -> bool {
    const RET_ACTION_FULL: u32 = 0xffff_0000;
    let Ok(act) = compile::scmp_action(action) else {
        return false;
    };
    let default = if act == ScmpAction::Allow {
        ScmpAction::Errno(libc::EPERM)
    } else {
        ScmpAction::Allow
    };
    let accepted = ScmpFilterContext::new(default)
        .and_then(|mut ctx| {
            ctx.add_rule(act, ScmpSyscall::from_name("getpid")?)?;
            Ok(())
        })
        .is_ok();
    accepted && sys::action_available(action.as_u32(Some(0)) & RET_ACTION_FULL)
}

/// The `linux.seccomp` section of `berth features`, probed on this host: the actions both
/// libseccomp and the kernel support, the architectures a filter on this host can cover (known
/// to libseccomp, native byte order), and the filter flags
/// the kernel accepts (berth passes them to seccomp(2) itself, so libseccomp's own list of
/// flags does not limit them).
pub fn features() -> Value {
    let actions: Vec<String> = ACTIONS
        .iter()
        .filter(|a| action_supported(**a))
        .map(|a| a.to_string())
        .collect();
    let operators = [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ];
    let archs: Vec<String> = ARCHES
        .iter()
        .filter(|a| compile::scmp_arch(**a).is_some_and(|a| compile::arch_usable(a).is_ok()))
        .map(|a| a.to_string())
        .collect();
    let known: Vec<String> = FLAGS.iter().map(|f| f.to_string()).collect();
    let supported: Vec<String> = FLAGS
        .iter()
        .filter(|f| {
            let mut bits = compile::flag_bits(**f);
            if bits == sys::FLAG_WAIT_KILLABLE_RECV {
                bits |= sys::FLAG_NEW_LISTENER;
            }
            sys::flags_supported(bits)
        })
        .map(|f| f.to_string())
        .collect();
    json!({
        "enabled": true,
        "actions": actions,
        "operators": operators,
        "archs": archs,
        "knownFlags": known,
        "supportedFlags": supported,
    })
}
