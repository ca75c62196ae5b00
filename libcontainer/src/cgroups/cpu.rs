//! `linux.resources.cpu`: the cpu controller (shares, CFS quota and period, burst, realtime,
//! idle) and the cpuset controller (cpus, mems).
//!
//! 0 means "unset" for shares, quota, period and the realtime values (as Docker sends them);
//! a negative quota means unlimited. On v2, shares become `cpu.weight` by crun's documented
//! linear mapping of [2, 262144] onto [1, 10000], and quota and period are written together
//! to `cpu.max` (keeping the current value of the one not given).
use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use super::files::{read, write, write_raw};
use super::{field_err, Dir};
use crate::{Error, Result};

fn field(name: &str) -> String {
    format!("linux.resources.cpu.{name}")
}

/// Host-independent checks.
pub(super) fn validate(c: &LinuxCpu) -> Result<()> {
    if c.idle().is_some_and(|i| i != 0 && i != 1) {
        return Err(Error::invalid(field("idle"), "must be 0 or 1"));
    }
    for (name, list) in [("cpus", c.cpus()), ("mems", c.mems())] {
        if let Some(l) = list {
            if !l
                .chars()
                .all(|ch| ch.is_ascii_digit() || ch == ',' || ch == '-')
            {
                return Err(Error::invalid(
                    field(name),
                    format!("{l:?} is not a list like \"0-3,6\""),
                ));
            }
        }
    }
    Ok(())
}

/// `cpu.weight` for `cpu.shares` (crun's formula); shares outside what v1 accepts cannot be
/// converted.
pub(super) fn shares_to_weight(shares: u64) -> Result<u64> {
    if !(2..=262_144).contains(&shares) {
        return Err(Error::invalid(
            field("shares"),
            format!("{shares} is outside [2, 262144], which cpu.weight can represent"),
        ));
    }
    Ok(1 + ((shares - 2) * 9999) / 262_142)
}

fn nonzero<T: PartialEq + Default>(v: Option<T>) -> Option<T> {
    v.filter(|v| *v != T::default())
}

/// The cpu part; `cpuset` gets the cpus and mems (on v1 another hierarchy).
pub(super) fn set(cpu: Option<Dir>, cpuset: Option<Dir>, c: &LinuxCpu) -> Result<()> {
    if let Some(dir) = cpuset {
        let d = dir.path();
        for (name, file, value) in [
            ("cpus", "cpuset.cpus", c.cpus()),
            ("mems", "cpuset.mems", c.mems()),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                write(d, file, v).map_err(field_err(field(name)))?;
            }
        }
    }
    match cpu {
        Some(Dir::V1(d)) => set_v1(d, c),
        Some(Dir::V2(d)) => set_v2(d, c),
        None => Ok(()),
    }
}

/// Whether `c` sets anything of the cpu controller (as opposed to cpuset).
pub(super) fn uses_cpu(c: &LinuxCpu) -> bool {
    nonzero(c.shares()).is_some()
        || nonzero(c.quota()).is_some()
        || nonzero(c.period()).is_some()
        || c.burst().is_some()
        || nonzero(c.realtime_runtime()).is_some()
        || nonzero(c.realtime_period()).is_some()
        || c.idle().is_some()
}

/// Whether `c` sets cpus or mems.
pub(super) fn uses_cpuset(c: &LinuxCpu) -> bool {
    [c.cpus(), c.mems()]
        .iter()
        .any(|v| v.as_deref().is_some_and(|v| !v.is_empty()))
}

fn set_v1(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(shares) = nonzero(c.shares()) {
        write(dir, "cpu.shares", shares).map_err(field_err(field("shares")))?;
        let got = read(dir, "cpu.shares")?;
        if got != shares.to_string() {
            return Err(Error::invalid(
                field("shares"),
                format!("the kernel set {got} instead of {shares}"),
            ));
        }
    }
    // Period first; if the kernel refuses it against the current quota, quota first.
    let period = nonzero(c.period());
    let quota = nonzero(c.quota()).map(|q| if q < 0 { -1 } else { q });
    let write_quota = |q: i64| write(dir, "cpu.cfs_quota_us", q).map_err(field_err(field("quota")));
    if let Some(p) = period {
        if write_raw(&dir.join("cpu.cfs_period_us"), &p.to_string()).is_err() {
            if let Some(q) = quota {
                write_quota(q)?;
            }
            write(dir, "cpu.cfs_period_us", p).map_err(field_err(field("period")))?;
        }
    }
    if let Some(q) = quota {
        write_quota(q)?;
    }
    if let Some(b) = c.burst() {
        write(dir, "cpu.cfs_burst_us", b).map_err(field_err(field("burst")))?;
    }
    if let Some(p) = nonzero(c.realtime_period()) {
        write(dir, "cpu.rt_period_us", p).map_err(field_err(field("realtimePeriod")))?;
    }
    if let Some(r) = nonzero(c.realtime_runtime()) {
        write(dir, "cpu.rt_runtime_us", r).map_err(field_err(field("realtimeRuntime")))?;
    }
    if let Some(i) = c.idle() {
        write(dir, "cpu.idle", i).map_err(field_err(field("idle")))?;
    }
    Ok(())
}

/// The new `cpu.max` from the current one and the quota/period given (either may be absent).
pub(super) fn cpu_max(current: &str, quota: Option<i64>, period: Option<u64>) -> String {
    let mut cur = current.split_whitespace();
    let cur_quota = cur.next().unwrap_or("max").to_string();
    let cur_period = cur.next().unwrap_or("100000").to_string();
    let quota = match quota {
        Some(q) if q < 0 => "max".to_string(),
        Some(q) => q.to_string(),
        None => cur_quota,
    };
    let period = period.map_or(cur_period, |p| p.to_string());
    format!("{quota} {period}")
}

fn set_v2(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if nonzero(c.realtime_runtime()).is_some() || nonzero(c.realtime_period()).is_some() {
        let name = if nonzero(c.realtime_runtime()).is_some() {
            "realtimeRuntime"
        } else {
            "realtimePeriod"
        };
        return Err(Error::invalid(field(name), "not supported on cgroup v2"));
    }
    if let Some(shares) = nonzero(c.shares()) {
        write(dir, "cpu.weight", shares_to_weight(shares)?).map_err(field_err(field("shares")))?;
    }
    let (quota, period) = (nonzero(c.quota()), nonzero(c.period()));
    if quota.is_some() || period.is_some() {
        let value = cpu_max(&read(dir, "cpu.max")?, quota, period);
        let name = if quota.is_some() { "quota" } else { "period" };
        write(dir, "cpu.max", value).map_err(field_err(field(name)))?;
    }
    if let Some(b) = c.burst() {
        write(dir, "cpu.max.burst", b).map_err(field_err(field("burst")))?;
    }
    if let Some(i) = c.idle() {
        write(dir, "cpu.idle", i).map_err(field_err(field("idle")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights() {
        assert_eq!(shares_to_weight(2).unwrap(), 1);
        assert_eq!(shares_to_weight(1024).unwrap(), 39);
        assert_eq!(shares_to_weight(262_144).unwrap(), 10_000);
        assert!(shares_to_weight(1).is_err());
        assert!(shares_to_weight(262_145).is_err());
    }

    #[test]
    fn cpu_max_keeps_what_is_not_given() {
        assert_eq!(cpu_max("max 100000", Some(50_000), None), "50000 100000");
        assert_eq!(cpu_max("50000 100000", None, Some(200_000)), "50000 200000");
        assert_eq!(cpu_max("50000 100000", Some(-1), None), "max 100000");
        assert_eq!(
            cpu_max("max 100000", Some(1000), Some(10_000)),
            "1000 10000"
        );
    }

    #[test]
    fn validation() {
        let mut c = LinuxCpu::default();
        c.set_cpus(Some("0-2,4".into()));
        assert!(validate(&c).is_ok());
        c.set_mems(Some("0;1".into()));
        assert!(validate(&c).unwrap_err().to_string().contains("cpu.mems"));
        let mut c = LinuxCpu::default();
        c.set_idle(Some(2));
        assert!(validate(&c).unwrap_err().to_string().contains("cpu.idle"));
    }
}
