//! Linux security modules: `process.apparmorProfile`, `process.selinuxLabel` and
//! `linux.mountLabel`.
//!
//! - Validation (runtime side, before anything exists): a profile or label is an error naming
//!   its field when the host's kernel does not have that LSM enabled, never silently ignored.
//! - Process labels ([`apply_exec_labels`]): init or an exec'd process writes the AppArmor
//!   profile (`exec <profile>`) or the SELinux label to its own `attr/exec` file, which the
//!   kernel applies at the next `execve` — the container's. The file is opened through the
//!   verified host procfs handle ([`ProcFs`]), so nothing the container mounted or linked can
//!   take the write elsewhere. It runs before the capabilities are dropped and before
//!   no_new_privs (which limits profile transitions).
//! - The mount label ([`label_mount_data`]): `context="<label>"` is added to the data of the
//!   new filesystem instances the container gets (tmpfs, devpts, mqueue, ...), as the kernel's
//!   SELinux mount options expect.
mod apparmor;
mod selinux;

use std::sync::OnceLock;

use oci_spec::runtime::{Process, Spec};

use crate::procfs::ProcFs;
use crate::{Error, Result};

pub(crate) use apparmor::enabled as apparmor_enabled;
pub(crate) use selinux::enabled as selinux_enabled;

/// The LSM state of the host (a parameter of the checks, so that tests can pretend).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Host {
    pub apparmor: bool,
    pub selinux: bool,
}

impl Host {
    /// Probed on first use (the first configured profile or label), once per process: whether
    /// an LSM is enabled cannot change while the host runs.
    pub(crate) fn probe() -> Host {
        static HOST: OnceLock<Host> = OnceLock::new();
        *HOST.get_or_init(|| Host {
            apparmor: apparmor_enabled(),
            selinux: selinux_enabled(),
        })
    }
}

/// The non-empty value of an optional string field.
fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// Checks `process.apparmorProfile` and `process.selinuxLabel` (of the container's process, or
/// of an exec'd one) against the host.
pub(crate) fn validate_process(process: &Process) -> Result<()> {
    if set(process.apparmor_profile()).is_none() && set(process.selinux_label()).is_none() {
        return Ok(());
    }
    validate_process_on(process, Host::probe())
}

fn validate_process_on(process: &Process, host: Host) -> Result<()> {
    if let Some(profile) = set(process.apparmor_profile()) {
        if !host.apparmor {
            return Err(Error::invalid(
                "process.apparmorProfile",
                format!("cannot apply profile {profile:?}: AppArmor is not enabled on this host"),
            ));
        }
        apparmor::validate_profile(profile)?;
    }
    if let Some(label) = set(process.selinux_label()) {
        if !host.selinux {
            return Err(Error::invalid(
                "process.selinuxLabel",
                format!("cannot apply label {label:?}: SELinux is not enabled on this host"),
            ));
        }
        selinux::validate_label("process.selinuxLabel", label)?;
    }
    Ok(())
}

/// Checks `linux.mountLabel` against the host.
pub(crate) fn validate_mount_label(spec: &Spec) -> Result<()> {
    if mount_label(spec).is_none() {
        return Ok(());
    }
    validate_mount_label_on(spec, Host::probe())
}

fn validate_mount_label_on(spec: &Spec, host: Host) -> Result<()> {
    let Some(label) = mount_label(spec) else {
        return Ok(());
    };
    if !host.selinux {
        return Err(Error::invalid(
            "linux.mountLabel",
            format!("cannot apply label {label:?}: SELinux is not enabled on this host"),
        ));
    }
    selinux::validate_label("linux.mountLabel", label)
}

/// `linux.mountLabel`, if set.
pub(crate) fn mount_label(spec: &Spec) -> Option<&str> {
    spec.linux().as_ref().and_then(|l| set(l.mount_label()))
}

/// In init or an exec'd process, before capabilities are dropped and no_new_privs is set:
/// asks the kernel to apply the process's AppArmor profile and SELinux label at `execve`.
/// Validation has already checked that the host has the LSM for each.
pub(crate) fn apply_exec_labels(process: &Process, proc: &ProcFs) -> Result<()> {
    if let Some(profile) = set(process.apparmor_profile()) {
        apparmor::set_exec_profile(proc, profile)?;
    }
    if let Some(label) = set(process.selinux_label()) {
        selinux::set_exec_label(proc, label)?;
    }
    Ok(())
}

/// The data string for a new `fstype` mount with `linux.mountLabel` `label`: `context="…"`
/// is added for every filesystem that takes it. procfs, sysfs and cgroup file systems carry
/// the kernel's own labels (and refuse a context), and binds keep their source's labels.
pub(crate) fn label_mount_data(data: String, fstype: &str, label: Option<&str>) -> String {
    let Some(label) = label else { return data };
    if matches!(
        fstype,
        "" | "bind" | "proc" | "sysfs" | "cgroup" | "cgroup2" | "securityfs" | "selinuxfs"
    ) {
        return data;
    }
    let context = format!("context=\"{label}\"");
    if data.is_empty() {
        context
    } else {
        format!("{data},{context}")
    }
}

#[cfg(test)]
mod tests;
