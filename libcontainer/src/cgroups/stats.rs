//! Resource usage of a container's cgroup, in the JSON shape of runc's `events --stats` data
//! (runc's `types.Stats`): cpu, memory, pids, blkio, hugetlb; no network statistics.
//! On v2, swap is reported as memory plus swap, as v1 does and runc reports it.
use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::files::{self, read_opt};
use super::{Dir, Manager};
use crate::Result;

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// Not collected by berth; present (empty) for the shape of runc's output.
    pub intel_rdt: serde_json::Map<String, serde_json::Value>,
    pub network_interfaces: Option<()>,
}

#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// Nanoseconds.
#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioQueueRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_queued_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Serialize)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

/// A number from a cgroup file; "max" (no limit) is `u64::MAX`; a missing file is 0.
fn num(dir: &Path, file: &str) -> Result<u64> {
    Ok(read_opt(dir, file)?.map_or(0, |s| parse(&s)))
}

fn parse(s: &str) -> u64 {
    if s == "max" {
        u64::MAX
    } else {
        s.parse().unwrap_or(0)
    }
}

/// `key value` lines (cpu.stat, memory.stat, memory.events, ...).
pub(super) fn flat_keyed(dir: &Path, file: &str) -> Result<BTreeMap<String, u64>> {
    let text = read_opt(dir, file)?.unwrap_or_default();
    Ok(text
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), parse(v.trim())))
        })
        .collect())
}

/// How many clock ticks (`USER_HZ`) per second cpuacct.stat counts in.
const USER_HZ: u64 = 100;

pub(super) fn cpu(cpu: Option<Dir>, cpuacct: Option<&Path>) -> Result<Cpu> {
    let mut out = Cpu::default();
    match cpu {
        Some(Dir::V2(d)) => {
            let s = flat_keyed(d, "cpu.stat")?;
            let us = |k: &str| s.get(k).copied().unwrap_or(0) * 1000;
            out.usage.total = us("usage_usec");
            out.usage.user = us("user_usec");
            out.usage.kernel = us("system_usec");
            out.throttling.throttled_time = us("throttled_usec");
            out.throttling.periods = s.get("nr_periods").copied().unwrap_or(0);
            out.throttling.throttled_periods = s.get("nr_throttled").copied().unwrap_or(0);
        }
        Some(Dir::V1(d)) => {
            let s = flat_keyed(d, "cpu.stat")?;
            out.throttling.periods = s.get("nr_periods").copied().unwrap_or(0);
            out.throttling.throttled_periods = s.get("nr_throttled").copied().unwrap_or(0);
            out.throttling.throttled_time = s.get("throttled_time").copied().unwrap_or(0);
        }
        None => {}
    }
    if let Some(d) = cpuacct {
        out.usage.total = num(d, "cpuacct.usage")?;
        let list = |f: &str| -> Result<Vec<u64>> {
            Ok(read_opt(d, f)?
                .unwrap_or_default()
                .split_whitespace()
                .map(parse)
                .collect())
        };
        out.usage.percpu = list("cpuacct.usage_percpu")?;
        out.usage.percpu_kernel = list("cpuacct.usage_percpu_sys")?;
        out.usage.percpu_user = list("cpuacct.usage_percpu_user")?;
        let s = flat_keyed(d, "cpuacct.stat")?;
        let ns = |k: &str| s.get(k).copied().unwrap_or(0) * (1_000_000_000 / USER_HZ);
        out.usage.user = ns("user");
        out.usage.kernel = ns("system");
    }
    Ok(out)
}

fn entry_v1(dir: &Path, prefix: &str) -> Result<MemoryEntry> {
    let f = |s: &str| num(dir, &format!("{prefix}{s}"));
    Ok(MemoryEntry {
        limit: f("limit_in_bytes")?,
        usage: f("usage_in_bytes")?,
        max: f("max_usage_in_bytes")?,
        failcnt: f("failcnt")?,
    })
}

pub(super) fn memory(dir: Dir) -> Result<Memory> {
    let mut out = Memory::default();
    match dir {
        Dir::V1(d) => {
            out.usage = entry_v1(d, "memory.")?;
            out.swap = entry_v1(d, "memory.memsw.")?;
            out.kernel = entry_v1(d, "memory.kmem.")?;
            out.kernel_tcp = entry_v1(d, "memory.kmem.tcp.")?;
            out.raw = flat_keyed(d, "memory.stat")?;
            out.cache = out.raw.get("cache").copied().unwrap_or(0);
        }
        Dir::V2(d) => {
            let events = flat_keyed(d, "memory.events")?;
            out.usage = MemoryEntry {
                limit: num(d, "memory.max")?,
                usage: num(d, "memory.current")?,
                max: num(d, "memory.peak")?,
                failcnt: events.get("max").copied().unwrap_or(0),
            };
            let swap_events = flat_keyed(d, "memory.swap.events")?;
            let swap_max = num(d, "memory.swap.max")?;
            out.swap = MemoryEntry {
                limit: if swap_max == u64::MAX || out.usage.limit == u64::MAX {
                    u64::MAX
                } else {
                    swap_max + out.usage.limit
                },
                usage: num(d, "memory.swap.current")? + out.usage.usage,
                max: 0,
                failcnt: swap_events.get("max").copied().unwrap_or(0),
            };
            out.raw = flat_keyed(d, "memory.stat")?;
            out.cache = out.raw.get("file").copied().unwrap_or(0);
        }
    }
    Ok(out)
}

pub(super) fn pids(dir: &Path) -> Result<Pids> {
    let limit = num(dir, "pids.max")?;
    Ok(Pids {
        current: num(dir, "pids.current")?,
        limit: if limit == u64::MAX { 0 } else { limit },
    })
}

/// v1 `maj:min Op value` lines (the `Total` line is left out).
fn blkio_v1_file(dir: &Path, file: &str) -> Result<Vec<BlkioEntry>> {
    let text = read_opt(dir, file)?.unwrap_or_default();
    Ok(text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (major, minor) = f.first()?.split_once(':')?;
            let (op, value) = match f.len() {
                3 => (f[1].to_string(), f[2]),
                2 => (String::new(), f[1]),
                _ => return None,
            };
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op,
                value: value.parse().ok()?,
            })
        })
        .collect())
}

/// The first of `files` that exists, parsed.
fn blkio_first(dir: &Path, files: &[&str]) -> Result<Vec<BlkioEntry>> {
    match files.iter().find(|f| dir.join(f).exists()) {
        Some(f) => blkio_v1_file(dir, f),
        None => Ok(Vec::new()),
    }
}

/// v2 `io.stat`: `maj:min rbytes=.. wbytes=.. rios=.. wios=.. ...`.
pub(super) fn parse_io_stat(text: &str) -> Blkio {
    let mut out = Blkio::default();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some((major, minor)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let (list, op) = match k {
                "rbytes" => (&mut out.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut out.io_service_bytes_recursive, "Write"),
                "rios" => (&mut out.io_serviced_recursive, "Read"),
                "wios" => (&mut out.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value: v.parse().unwrap_or(0),
            });
        }
    }
    out
}

pub(super) fn blkio(dir: Dir) -> Result<Blkio> {
    match dir {
        Dir::V2(d) => Ok(parse_io_stat(&read_opt(d, "io.stat")?.unwrap_or_default())),
        Dir::V1(d) => Ok(Blkio {
            io_service_bytes_recursive: blkio_first(
                d,
                &[
                    "blkio.io_service_bytes_recursive",
                    "blkio.bfq.io_service_bytes_recursive",
                    "blkio.throttle.io_service_bytes_recursive",
                ],
            )?,
            io_serviced_recursive: blkio_first(
                d,
                &[
                    "blkio.io_serviced_recursive",
                    "blkio.bfq.io_serviced_recursive",
                    "blkio.throttle.io_serviced_recursive",
                ],
            )?,
            io_queued_recursive: blkio_first(d, &["blkio.io_queued_recursive"])?,
            io_service_time_recursive: blkio_first(d, &["blkio.io_service_time_recursive"])?,
            io_wait_time_recursive: blkio_first(d, &["blkio.io_wait_time_recursive"])?,
            io_merged_recursive: blkio_first(d, &["blkio.io_merged_recursive"])?,
            io_time_recursive: blkio_first(d, &["blkio.time_recursive"])?,
            sectors_recursive: blkio_first(d, &["blkio.sectors_recursive"])?,
        }),
    }
}

pub(super) fn hugetlb(dir: Dir) -> Result<BTreeMap<String, Hugetlb>> {
    let d = dir.path();
    let (suffix, v2) = match dir {
        Dir::V1(_) => (".limit_in_bytes", false),
        Dir::V2(_) => (".max", true),
    };
    let mut out = BTreeMap::new();
    let entries = std::fs::read_dir(d).map_err(|e| crate::Error::io("read directory", d, e))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(size) = name
            .strip_prefix("hugetlb.")
            .and_then(|n| n.strip_suffix(suffix))
            .filter(|s| !s.contains('.'))
        else {
            continue;
        };
        let p = |f: &str| format!("hugetlb.{size}.{f}");
        let h = if v2 {
            Hugetlb {
                usage: num(d, &p("current"))?,
                max: 0,
                failcnt: flat_keyed(d, &p("events"))?
                    .get("max")
                    .copied()
                    .unwrap_or(0),
            }
        } else {
            Hugetlb {
                usage: num(d, &p("usage_in_bytes"))?,
                max: num(d, &p("max_usage_in_bytes"))?,
                failcnt: num(d, &p("failcnt"))?,
            }
        };
        out.insert(size.to_string(), h);
    }
    Ok(out)
}

impl Manager {
    /// Resource usage, in the shape of runc's `events --stats`.
    #[allow(dead_code)] // for `berth update`/`events`/launch, wired outside cgroups/
    pub(crate) fn stats(&self) -> Result<Stats> {
        // A controller's v1 hierarchy, else the cgroup2 directory if the controller is enabled
        // there (cpu.stat has the basic cpu numbers even without the cpu controller).
        let enabled = self
            .v2
            .as_ref()
            .and_then(|cg| {
                files::read_opt(&cg.path, "cgroup.controllers")
                    .ok()
                    .flatten()
            })
            .unwrap_or_default();
        let find = |v1: &str, v2: &str| -> Option<Dir<'_>> {
            self.v1_dir(v1).map(Dir::V1).or_else(|| {
                self.v2
                    .as_ref()
                    .filter(|_| v2 == "cpu" || enabled.split_whitespace().any(|c| c == v2))
                    .map(|cg| Dir::V2(&cg.path))
            })
        };
        let mut s = Stats {
            cpu: cpu(find("cpu", "cpu"), self.v1_dir("cpuacct"))?,
            ..Default::default()
        };
        if let Some(d) = find("memory", "memory") {
            s.memory = memory(d)?;
        }
        if let Some(d) = find("pids", "pids") {
            s.pids = pids(d.path())?;
        }
        if let Some(d) = find("blkio", "io") {
            s.blkio = blkio(d)?;
        }
        if let Some(d) = find("hugetlb", "hugetlb") {
            s.hugetlb = hugetlb(d)?;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_stat() {
        let b = parse_io_stat("8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
        assert_eq!(b.io_service_bytes_recursive.len(), 2);
        assert_eq!(b.io_service_bytes_recursive[0].value, 4096);
        assert_eq!(b.io_serviced_recursive[0].op, "Read");
    }

    #[test]
    fn shape_is_runcs() {
        let v = serde_json::to_value(Stats::default()).unwrap();
        for key in ["cpu", "memory", "pids", "blkio", "hugetlb", "intel_rdt"] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert!(v["memory"].get("kernelTCP").is_some());
        assert_eq!(v["cpu"]["usage"]["kernel"], 0);
        assert!(v["cpu"]["throttling"].as_object().unwrap().is_empty());
    }
}
