//! `linux.resources.memory`.
//!
//! Values of 0 mean "unset" (as Docker sends them), -1 means unlimited. `swap` is the limit of
//! memory plus swap, as on v1; on v2 `memory.swap.max` is `swap - limit` (crun's and runc's
//! conversion), so a swap limit needs a memory limit there. Unlimited memory with no swap value
//! means unlimited swap too, where the host accounts swap.
use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use super::files::{read, read_opt, write};
use super::{field_err, Dir};
use crate::{Error, Result};

const F: &str = "linux.resources.memory";

fn field(name: &str) -> String {
    format!("{F}.{name}")
}

fn set_value(v: Option<i64>) -> Option<i64> {
    v.filter(|&v| v != 0)
}

/// Host-independent checks.
#[allow(deprecated)] // `kernel` is deprecated in the spec, but still a field to honour
pub(super) fn validate(m: &LinuxMemory) -> Result<()> {
    for (name, v) in [
        ("limit", m.limit()),
        ("reservation", m.reservation()),
        ("swap", m.swap()),
        ("kernel", m.kernel()),
        ("kernelTCP", m.kernel_tcp()),
    ] {
        if v.is_some_and(|v| v < -1) {
            return Err(Error::invalid(
                field(name),
                "must be -1 (unlimited), 0 (unset) or a number of bytes",
            ));
        }
    }
    if m.swappiness().is_some_and(|s| s > 100) {
        return Err(Error::invalid(field("swappiness"), "must be 0..=100"));
    }
    if let (Some(l), Some(s)) = (set_value(m.limit()), set_value(m.swap())) {
        if l > 0 && s > 0 && s < l {
            return Err(Error::invalid(
                field("swap"),
                format!("memory+swap limit {s} is below the memory limit {l}"),
            ));
        }
    }
    Ok(())
}

/// With `checkBeforeUpdate`, refuses a new limit below the current usage.
fn check_usage(dir: &Path, usage_file: &str, limit: Option<i64>) -> Result<()> {
    let Some(limit) = limit.filter(|&l| l > 0) else {
        return Ok(());
    };
    let usage: i64 = read(dir, usage_file)?.parse().unwrap_or(0);
    if limit < usage {
        return Err(Error::invalid(
            field("limit"),
            format!("{limit} is below the current usage {usage} (checkBeforeUpdate)"),
        ));
    }
    Ok(())
}

pub(super) fn set(dir: Dir, m: &LinuxMemory, update: bool) -> Result<()> {
    match dir {
        Dir::V1(d) => set_v1(d, m, update),
        Dir::V2(d) => set_v2(d, m, update),
    }
}

#[allow(deprecated)]
fn set_v1(dir: &Path, m: &LinuxMemory, update: bool) -> Result<()> {
    let limit = set_value(m.limit());
    if update && m.check_before_update() == Some(true) {
        check_usage(dir, "memory.usage_in_bytes", limit)?;
    }
    let has_memsw = dir.join("memory.memsw.limit_in_bytes").exists();
    let swap = match set_value(m.swap()) {
        Some(_) if !has_memsw => {
            return Err(Error::invalid(
                field("swap"),
                "swap accounting is not enabled on this host",
            ))
        }
        None if limit == Some(-1) && has_memsw => Some(-1),
        s => s,
    };
    let write_limit =
        |v: i64| write(dir, "memory.limit_in_bytes", v).map_err(field_err(field("limit")));
    let write_swap =
        |v: i64| write(dir, "memory.memsw.limit_in_bytes", v).map_err(field_err(field("swap")));
    match (limit, swap) {
        (Some(l), Some(s)) => {
            // The kernel keeps limit <= memsw at every step: raise memsw first when the new
            // memsw is at least the current limit, else lower the limit first.
            let current: i64 = read(dir, "memory.limit_in_bytes")?
                .parse()
                .unwrap_or(i64::MAX);
            if s == -1 || s >= current {
                write_swap(s)?;
                write_limit(l)?;
            } else {
                write_limit(l)?;
                write_swap(s)?;
            }
        }
        (Some(l), None) => write_limit(l)?,
        (None, Some(s)) => write_swap(s)?,
        (None, None) => {}
    }
    let optional = [
        (
            "reservation",
            "memory.soft_limit_in_bytes",
            set_value(m.reservation()),
        ),
        (
            "kernel",
            "memory.kmem.limit_in_bytes",
            set_value(m.kernel()),
        ),
        (
            "kernelTCP",
            "memory.kmem.tcp.limit_in_bytes",
            set_value(m.kernel_tcp()),
        ),
        (
            "swappiness",
            "memory.swappiness",
            m.swappiness().map(|s| s as i64),
        ),
        (
            "disableOOMKiller",
            "memory.oom_control",
            m.disable_oom_killer().map(i64::from),
        ),
        (
            "useHierarchy",
            "memory.use_hierarchy",
            m.use_hierarchy().map(i64::from),
        ),
    ];
    for (name, file, value) in optional {
        if let Some(v) = value {
            write(dir, file, v).map_err(field_err(field(name)))?;
        }
    }
    Ok(())
}

/// `memory.swap.max` for an OCI swap (memory+swap) and memory limit; `None`: leave it.
pub(super) fn swap_v2(swap: Option<i64>, limit: Option<i64>) -> Result<Option<i64>> {
    match (set_value(swap), set_value(limit)) {
        (None, Some(-1)) => Ok(Some(-1)),
        (None, _) => Ok(None),
        (Some(-1), _) => Ok(Some(-1)),
        (Some(s), Some(l)) if l > 0 => {
            if s < l {
                Err(Error::invalid(
                    field("swap"),
                    format!("memory+swap limit {s} is below the memory limit {l}"),
                ))
            } else {
                Ok(Some(s - l))
            }
        }
        (Some(_), _) => Err(Error::invalid(
            field("swap"),
            "on cgroup v2 a swap limit needs a memory limit (memory.swap.max = swap - limit)",
        )),
    }
}

fn max(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

#[allow(deprecated)]
fn set_v2(dir: &Path, m: &LinuxMemory, update: bool) -> Result<()> {
    let v1_only = [
        ("swappiness", m.swappiness().is_some()),
        ("disableOOMKiller", m.disable_oom_killer() == Some(true)),
        ("kernel", set_value(m.kernel()).is_some()),
        ("kernelTCP", set_value(m.kernel_tcp()).is_some()),
        ("useHierarchy", m.use_hierarchy() == Some(false)),
    ];
    if let Some((name, _)) = v1_only.iter().find(|(_, set)| *set) {
        return Err(Error::invalid(field(name), "not supported on cgroup v2"));
    }
    let limit = set_value(m.limit());
    if update && m.check_before_update() == Some(true) {
        check_usage(dir, "memory.current", limit)?;
    }
    let implied = set_value(m.swap()).is_none();
    if let Some(s) = swap_v2(m.swap(), m.limit())? {
        if read_opt(dir, "memory.swap.max")?.is_some() {
            write(dir, "memory.swap.max", max(s)).map_err(field_err(field("swap")))?;
        } else if !implied {
            return Err(Error::invalid(
                field("swap"),
                "swap accounting is not enabled on this host",
            ));
        }
    }
    if let Some(l) = limit {
        write(dir, "memory.max", max(l)).map_err(field_err(field("limit")))?;
    }
    if let Some(r) = set_value(m.reservation()) {
        write(dir, "memory.low", max(r)).map_err(field_err(field("reservation")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_conversion() {
        assert_eq!(swap_v2(None, None).unwrap(), None);
        assert_eq!(swap_v2(Some(0), Some(100)).unwrap(), None);
        assert_eq!(swap_v2(None, Some(-1)).unwrap(), Some(-1));
        assert_eq!(swap_v2(Some(-1), Some(100)).unwrap(), Some(-1));
        assert_eq!(swap_v2(Some(300), Some(100)).unwrap(), Some(200));
        assert_eq!(swap_v2(Some(100), Some(100)).unwrap(), Some(0));
        assert!(swap_v2(Some(50), Some(100)).is_err());
        assert!(swap_v2(Some(50), None).is_err());
        assert!(swap_v2(Some(50), Some(-1)).is_err());
    }

    #[test]
    fn validation() {
        let mut m = LinuxMemory::default();
        m.set_swappiness(Some(101));
        let e = validate(&m).unwrap_err().to_string();
        assert!(e.contains("memory.swappiness"), "{e}");
        let mut m = LinuxMemory::default();
        m.set_limit(Some(200));
        m.set_swap(Some(100));
        assert!(validate(&m)
            .unwrap_err()
            .to_string()
            .contains("memory.swap"));
        m.set_swap(Some(0)); // unset
        assert!(validate(&m).is_ok());
        m.set_limit(Some(-2));
        assert!(validate(&m)
            .unwrap_err()
            .to_string()
            .contains("memory.limit"));
    }
}
