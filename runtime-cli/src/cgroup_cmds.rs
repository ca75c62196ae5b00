//! The commands built on the container's cgroup: pause, resume, update, events, ps.
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use berth::{Container, Error, Result, Status};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Map, Value};

use crate::cli::{EventsArgs, PsArgs, UpdateArgs};

pub fn pause(root: &Path, id: &str) -> Result<i32> {
    Container::load(root, id)?.pause()?;
    Ok(0)
}

pub fn resume(root: &Path, id: &str) -> Result<i32> {
    Container::load(root, id)?.resume()?;
    Ok(0)
}

pub fn update(root: &Path, a: &UpdateArgs) -> Result<i32> {
    if a.l3_cache_schema.is_some() {
        return Err(Error::unsupported("update --l3-cache-schema (Intel RDT)"));
    }
    if a.mem_bw_schema.is_some() {
        return Err(Error::unsupported("update --mem-bw-schema (Intel RDT)"));
    }
    let container = Container::load(root, &a.id)?;
    let resources = resources(a)?;
    container.update(&resources)?;
    Ok(0)
}

/// The resources to write: from `--resources` (a file or stdin) alone — runc then ignores the
/// other flags — or from the flags.
fn resources(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut r: Value = match &a.resources {
        Some(path) => {
            let mut data = Vec::new();
            if path == Path::new("-") {
                std::io::stdin()
                    .read_to_end(&mut data)
                    .map_err(|e| Error::io("read", "stdin", e))?;
            } else {
                data = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
            }
            return serde_json::from_slice(&data).map_err(|e| Error::Config {
                path: path.clone(),
                reason: e.to_string(),
            });
        }
        None => json!({}),
    };
    let mut set = |section: &str, key: &str, value: Value| {
        let obj = r.as_object_mut().expect("resources is an object");
        let sec = obj
            .entry(section)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(sec) = sec.as_object_mut() {
            sec.insert(key.to_string(), value);
        }
    };
    if let Some(w) = a.blkio_weight {
        set("blockIO", "weight", json!(w));
    }
    for (key, v) in [
        ("period", a.cpu_period.map(|v| json!(v))),
        ("quota", a.cpu_quota.map(|v| json!(v))),
        ("burst", a.cpu_burst.map(|v| json!(v))),
        ("shares", a.cpu_shares.map(|v| json!(v))),
        ("realtimePeriod", a.cpu_rt_period.map(|v| json!(v))),
        ("realtimeRuntime", a.cpu_rt_runtime.map(|v| json!(v))),
        ("idle", a.cpu_idle.map(|v| json!(v))),
        ("cpus", a.cpuset_cpus.as_ref().map(|v| json!(v))),
        ("mems", a.cpuset_mems.as_ref().map(|v| json!(v))),
    ] {
        if let Some(v) = v {
            set("cpu", key, v);
        }
    }
    for (flag, key, v) in [
        ("--memory", "limit", &a.memory),
        ("--memory-reservation", "reservation", &a.memory_reservation),
        ("--memory-swap", "swap", &a.memory_swap),
        ("--kernel-memory", "kernel", &a.kernel_memory),
        ("--kernel-memory-tcp", "kernelTCP", &a.kernel_memory_tcp),
    ] {
        if let Some(v) = v {
            set("memory", key, json!(ram_in_bytes(flag, v)?));
        }
    }
    if let Some(limit) = a.pids_limit {
        set("pids", "limit", json!(limit));
    }
    serde_json::from_value(r).map_err(|e| Error::Usage(format!("update: resources: {e}")))
}

/// A memory size as runc (Docker's units.RAMInBytes) reads it: a number with an optional
/// binary unit (k, m, g, t, p, optionally followed by b or ib); -1 means unlimited.
fn ram_in_bytes(flag: &str, s: &str) -> Result<i64> {
    let bad = || Error::Usage(format!("update {flag}: invalid size {s:?}"));
    if s == "-1" {
        return Ok(-1);
    }
    let lower = s.trim().to_ascii_lowercase();
    let trimmed = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (num, mult) = match trimmed.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c {
                'k' => 10,
                'm' => 20,
                'g' => 30,
                't' => 40,
                'p' => 50,
                _ => return Err(bad()),
            };
            (trimmed[..i].trim(), 1u64 << shift)
        }
        _ => (trimmed, 1),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if n.is_nan() || n < 0.0 {
        return Err(bad());
    }
    Ok((n * mult as f64) as i64)
}

pub fn events(root: &Path, a: &EventsArgs) -> Result<i32> {
    let container = Container::load(root, &a.id)?;
    let stats_event = |c: &Container| -> Result<String> {
        let data = serde_json::to_value(c.stats()?).expect("stats serialise");
        Ok(json!({"type": "stats", "id": a.id, "data": data}).to_string())
    };
    if a.stats {
        outln!("{}", stats_event(&container)?);
        return Ok(0);
    }
    let interval = parse_duration(&a.interval).ok_or_else(|| {
        Error::Usage(format!(
            "events --interval {:?}: invalid duration",
            a.interval
        ))
    })?;
    // OOM kills are checked more often than statistics are printed.
    let tick = interval.min(Duration::from_millis(200));
    let mut ooms = container.oom_kills().unwrap_or(0);
    let mut next_stats = Instant::now();
    while container.status() != Status::Stopped {
        let now_ooms = container.oom_kills().unwrap_or(ooms);
        if now_ooms > ooms {
            outln!("{}", json!({"type": "oom", "id": a.id}));
            ooms = now_ooms;
        }
        if Instant::now() >= next_stats {
            outln!("{}", stats_event(&container)?);
            next_stats += interval;
        }
        std::thread::sleep(tick);
    }
    Ok(0)
}

/// A Go duration such as `5s`, `500ms`, `1m30s`, `1h`.
fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * secs;
        rest = &rest[unit_len..];
    }
    (total > 0.0).then(|| Duration::from_secs_f64(total))
}

pub fn ps(root: &Path, a: &PsArgs) -> Result<i32> {
    let container = Container::load(root, &a.id)?;
    let pids = container.processes()?;
    if a.format == "json" {
        if !a.ps_args.is_empty() {
            return Err(Error::Usage(
                "ps --format json takes no ps(1) options".into(),
            ));
        }
        outln!("{}", serde_json::to_string(&pids).expect("pids serialise"));
        return Ok(0);
    }
    let args: Vec<String> = if a.ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        a.ps_args.clone()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Error::io("run", "ps", e))?;
    if !out.status.success() {
        return Err(Error::Usage(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    out!(
        "{}",
        filter_ps(&String::from_utf8_lossy(&out.stdout), &pids)?
    );
    Ok(0)
}

/// ps(1) output reduced to its header and the lines of `pids`.
fn filter_ps(text: &str, pids: &[i32]) -> Result<String> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|f| f == "PID")
        .ok_or_else(|| Error::Usage("couldn't find PID field in ps output".into()))?;
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse().ok());
        if pid.is_some_and(|p: i32| pids.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_runc() {
        assert_eq!(ram_in_bytes("--memory", "1024").unwrap(), 1024);
        assert_eq!(ram_in_bytes("--memory", "512m").unwrap(), 512 << 20);
        assert_eq!(ram_in_bytes("--memory", "1g").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("--memory", "1GiB").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("--memory", "2kb").unwrap(), 2048);
        assert_eq!(ram_in_bytes("--memory", "-1").unwrap(), -1);
        for bad in ["", "x", "1x", "-5", "m"] {
            assert!(ram_in_bytes("--memory", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("0s"), None);
    }

    #[test]
    fn ps_filter_keeps_header_and_own_pids() {
        let text = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 43 1 other\n";
        assert_eq!(
            filter_ps(text, &[42]).unwrap(),
            "UID PID PPID CMD\nroot 42 1 sleep\n"
        );
        assert!(filter_ps("UID CMD\n", &[1]).is_err());
    }

    #[test]
    fn update_flags_build_resources() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "berth",
            "update",
            "--memory",
            "1m",
            "--cpu-quota",
            "-1",
            "--pids-limit",
            "7",
            "c1",
        ])
        .unwrap();
        let crate::cli::Command::Update(a) = cli.command else {
            panic!()
        };
        let r = resources(&a).unwrap();
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(1 << 20));
        assert_eq!(r.cpu().as_ref().unwrap().quota(), Some(-1));
        assert_eq!(r.pids().as_ref().unwrap().limit(), 7);
    }
}
