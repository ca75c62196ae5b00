//! The results page: a header saying where and how it was measured, then the table.
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::stats::Series;
use crate::table::{Cell, Row, Table};
use crate::workloads::{Bench, Metric, FLOOR};

/// What the page says besides the measurements.
pub struct Setup {
    pub rounds: usize,
    pub list_count: usize,
    pub running: usize,
    pub phase_samples: usize,
    pub unified_unmounted: bool,
    pub load_before: String,
    pub elapsed_s: f64,
}

pub fn render(setup: &Setup, benches: &[Bench], floor: &Series, scratch: &Path) -> String {
    let mut out = String::from("# berth benchmark\n\n");
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    out += &format!(
        "- date: {}\n- kernel: {kernel}, {cpus} CPUs, load average before: {}\n",
        date(),
        setup.load_before
    );
    for b in benches {
        out += &format!(
            "- {}: `{}` ({})\n",
            b.rt.name,
            b.rt.path.display(),
            b.rt.version()
        );
    }
    out += &if setup.unified_unmounted {
        "- cgroups: hybrid v1 host. crun refuses the hybrid layout, so every runtime ran in a \
         private mount namespace of the tool in which `/sys/fs/cgroup/unified` (cgroup2) is \
         unmounted: all runtimes saw cgroup v1 only. The host's mounts were not changed.\n"
            .to_string()
    } else {
        "- cgroups: every runtime ran in a private mount namespace of the tool (no \
         `/sys/fs/cgroup/unified` mount to hide).\n"
            .to_string()
    };
    out += &format!(
        "- method: {} interleaved rounds (round r runs the runtimes in an order rotated by r), \
         after one untimed warm-up; each time is one invocation of the runtime binary, from \
         spawn to reaped exit. Bundle: busybox-static, `runc spec` config with \
         `terminal: false`, no `linux.resources`; bundles and state roots on a tmpfs, as \
         state is in `/run` on a systemd host. The `list` and {}-running phases run one \
         runtime at a time, {} samples each (the running phase in three turns per runtime, \
         taken in rotation, after an untimed warm-up that makes and removes that many running \
         containers once), each sampling once the machine is idle again (the kernel finishes \
         making and removing containers in its own threads).\n- cells: min / median / mean; ratios of medians \
         (below 1: berth is faster or smaller).\n- full run: {:.0} s\n\n",
        setup.rounds, setup.running, setup.phase_samples, setup.elapsed_s
    );
    let table = Table {
        runtimes: benches.iter().map(|b| b.rt.name.clone()).collect(),
        rows: rows(setup, benches, floor, scratch),
    };
    out + &table.render()
}

fn rows(setup: &Setup, benches: &[Bench], floor: &Series, scratch: &Path) -> Vec<Row> {
    let series = |b: &Bench, m| b.results.get(&m).map_or(Cell::Missing, Cell::from_series);
    let row = |label: String, m: Metric| Row {
        label,
        cells: benches
            .iter()
            .map(|b| match m {
                Metric::Exec if !b.has_exec => Cell::NotAvailable,
                _ => series(b, m),
            })
            .collect(),
        compare: true,
    };
    let (n, k) = (setup.list_count, setup.running);
    let mut rows = vec![
        row("`run` /bin/true, foreground (ms)".into(), Metric::Run),
        row(
            "shim cycle: create → start → wait → delete (ms)".into(),
            Metric::Cycle,
        ),
        row("cycle step: create (ms)".into(), Metric::Create),
        row("cycle step: start (ms)".into(), Metric::Start),
        row(
            "cycle step: state, container created (ms)".into(),
            Metric::State,
        ),
        row(
            "cycle step: delete, container stopped (ms)".into(),
            Metric::Delete,
        ),
        row(
            "`exec` /bin/true into a running container (ms)".into(),
            Metric::Exec,
        ),
        row(
            "`create` peak RSS, VmHWM at its exit (KiB)".into(),
            Metric::CreateMaxRss,
        ),
        row(
            "init waiting in created state, VmRSS (KiB)".into(),
            Metric::InitRss,
        ),
        row(
            format!("`list` with {n} created containers (ms)"),
            Metric::List,
        ),
        row(
            "shim cycle, no other containers (ms)".into(),
            Metric::CycleIdle,
        ),
        row(
            format!("shim cycle, {k} running containers (ms)"),
            Metric::CycleBusy,
        ),
    ];
    rows.push(Row {
        label: format!("shim cycle slowdown, {k} running / none (×)"),
        cells: benches.iter().map(slowdown).collect(),
        compare: false,
    });
    rows.push(Row {
        label: "init placed in cgroups of its own (cgroup setup is part of create)".into(),
        cells: benches
            .iter()
            .map(|b| match b.own_cgroup {
                Some(true) => Cell::Text("yes".into()),
                Some(false) => Cell::Text("no".into()),
                None => Cell::Missing,
            })
            .collect(),
        compare: false,
    });
    rows.push(Row {
        label: "binary size, stripped (KiB)".into(),
        cells: benches
            .iter()
            .map(|b| stripped_kib(&b.rt.path, scratch, &b.rt.name))
            .collect(),
        compare: true,
    });
    rows.push(Row {
        label: "shared libraries (ldd)".into(),
        cells: benches
            .iter()
            .map(|b| shared_libraries(&b.rt.path))
            .collect(),
        compare: false,
    });
    rows.push(Row {
        label: format!(
            "floor, no runtime: `{}` (ms; same in every column)",
            FLOOR.join(" ")
        ),
        cells: vec![Cell::from_series(floor); benches.len()],
        compare: false,
    });
    rows
}

fn slowdown(b: &Bench) -> Cell {
    let median = |m| {
        b.results
            .get(&m)
            .filter(|s| !s.failed())
            .and_then(|s| s.stats())
            .map(|s| s.median)
    };
    match (median(Metric::CycleBusy), median(Metric::CycleIdle)) {
        (Some(busy), Some(idle)) if idle > 0.0 => Cell::Value(busy / idle),
        _ => Cell::Missing,
    }
}

/// The size of a stripped copy of `path` (the copy is stripped in `scratch`).
fn stripped_kib(path: &Path, scratch: &Path, name: &str) -> Cell {
    let copy = scratch.join(format!("{name}.stripped"));
    let result = fs::copy(path, &copy)
        .map_err(|e| format!("copy {}: {e}", path.display()))
        .and_then(|_| match Command::new("strip").arg(&copy).output() {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
            Err(e) => Err(format!("strip: {e}")),
        })
        .and_then(|()| fs::metadata(&copy).map_err(|e| e.to_string()));
    let _ = fs::remove_file(&copy);
    match result {
        Ok(meta) => Cell::Value(meta.len() as f64 / 1024.0),
        Err(e) => Cell::Fail(e),
    }
}

fn shared_libraries(path: &Path) -> Cell {
    match Command::new("ldd").arg(path).output() {
        Ok(out) if out.status.success() => {
            Cell::Text(libraries(&String::from_utf8_lossy(&out.stdout)))
        }
        Ok(out) => match String::from_utf8_lossy(&out.stderr).trim() {
            e if e.contains("not a dynamic executable") => Cell::Text("none (static)".into()),
            e => Cell::Fail(format!("ldd: {e}")),
        },
        Err(e) => Cell::Fail(format!("ldd: {e}")),
    }
}

/// The library names in `ldd` output, without the vDSO; "none (static)" if there are none.
fn libraries(ldd: &str) -> String {
    let names: Vec<&str> = ldd
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| !n.starts_with("linux-vdso") && n.contains(".so"))
        .map(|n| n.rsplit('/').next().unwrap_or(n))
        .collect();
    if names.is_empty() {
        "none (static)".into()
    } else {
        format!("{}: {}", names.len(), names.join(", "))
    }
}

fn date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_names() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibseccomp.so.2 => /lib/x86_64-linux-gnu/libseccomp.so.2 (0x00007f)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            libraries(out),
            "3: libseccomp.so.2, libc.so.6, ld-linux-x86-64.so.2"
        );
        assert_eq!(libraries("\tnot a dynamic executable\n"), "none (static)");
        assert_eq!(libraries("\tstatically linked\n"), "none (static)");
    }
}
