//! `update` on a running container, with runc's flags, with `--resources FILE`, and with
//! `--resources -` on stdin (what containerd sends): the host's cgroup files change to the new
//! values, and only the values given change.
use std::fs;

use berth_integration::cgroups;
use berth_integration::{Bundle, TestEnv};
use serde_json::{json, Value};

const MIB: i64 = 1 << 20;

/// (controller, file, value) that the host must show.
type Files = Vec<(&'static str, &'static str, String)>;

fn memory(limit: i64, reservation: i64, swap: i64) -> Files {
    if cgroups::is_v2() {
        vec![
            ("memory", "memory.max", limit.to_string()),
            ("memory", "memory.low", reservation.to_string()),
            ("memory", "memory.swap.max", (swap - limit).to_string()),
        ]
    } else {
        vec![
            ("memory", "memory.limit_in_bytes", limit.to_string()),
            (
                "memory",
                "memory.soft_limit_in_bytes",
                reservation.to_string(),
            ),
            ("memory", "memory.memsw.limit_in_bytes", swap.to_string()),
        ]
    }
}

fn cpu(shares: u64, quota: i64, period: u64) -> Files {
    if cgroups::is_v2() {
        vec![
            (
                "cpu",
                "cpu.weight",
                cgroups::shares_to_weight(shares).to_string(),
            ),
            ("cpu", "cpu.max", format!("{quota} {period}")),
        ]
    } else {
        vec![
            ("cpu", "cpu.shares", shares.to_string()),
            ("cpu", "cpu.cfs_quota_us", quota.to_string()),
            ("cpu", "cpu.cfs_period_us", period.to_string()),
        ]
    }
}

fn pids(limit: i64) -> Files {
    let v = if limit < 0 {
        "max".to_string()
    } else {
        limit.to_string()
    };
    vec![("pids", "pids.max", v)]
}

#[track_caller]
fn check(b: &Bundle, files: &Files, when: &str) {
    for (controller, file, want) in files {
        assert_eq!(
            &cgroups::must_read(&b.tag, controller, file),
            want,
            "{controller} {file} {when}"
        );
    }
}

/// A sleeping container with memory 64/32/96 MiB, cpu 512 shares at 25000/50000 us, 42 pids.
#[track_caller]
fn start(t: &TestEnv) -> (Bundle, Files) {
    let mut b = t.bundle();
    b.linux()["resources"]["memory"] =
        json!({"limit": 64 * MIB, "reservation": 32 * MIB, "swap": 96 * MIB});
    b.linux()["resources"]["cpu"] = json!({"shares": 512, "quota": 25000, "period": 50000});
    b.linux()["resources"]["pids"] = json!({"limit": 42});
    b.payload(&["sleep", "1000"]);
    t.run_detached(&b).ok();
    let mut files = memory(64 * MIB, 32 * MIB, 96 * MIB);
    files.extend(cpu(512, 25000, 50000));
    files.extend(pids(42));
    check(&b, &files, "before update");
    (b, files)
}

#[track_caller]
fn finish(t: &TestEnv, b: &Bundle) {
    t.delete_force(b).ok();
    t.assert_nothing_left(b);
}

/// The new values of the update tests: memory 96/48/128 MiB, cpu 256 shares at 30000/60000 us,
/// 55 pids.
fn updated() -> Files {
    let mut files = memory(96 * MIB, 48 * MIB, 128 * MIB);
    files.extend(cpu(256, 30000, 60000));
    files.extend(pids(55));
    files
}

fn updated_json() -> Value {
    json!({
        "memory": {"limit": 96 * MIB, "reservation": 48 * MIB, "swap": 128 * MIB},
        "cpu": {"shares": 256, "quota": 30000, "period": 60000},
        "pids": {"limit": 55},
    })
}

#[test]
fn update_with_flags() {
    let t = TestEnv::new("upd-flags");
    let (b, _) = start(&t);
    let (l, r, s) = (96 * MIB, 48 * MIB, 128 * MIB);
    let args = [
        "update".to_string(),
        format!("--memory={l}"),
        format!("--memory-reservation={r}"),
        format!("--memory-swap={s}"),
        "--cpu-share=256".into(),
        "--cpu-quota=30000".into(),
        "--cpu-period=60000".into(),
        "--pids-limit=55".into(),
        b.id.clone(),
    ];
    t.call(&b, &args).run().ok();
    check(&b, &updated(), "after update with flags");
    finish(&t, &b);
}

/// Flags as separate words, and memory sizes with a unit (runc parses them like Docker).
#[test]
fn update_with_separate_flag_values_and_units() {
    let t = TestEnv::new("upd-units");
    let (b, _) = start(&t);
    t.call(
        &b,
        [
            "update",
            "--memory",
            "80m",
            "--memory-swap",
            "160M",
            "--pids-limit",
            "60",
            &b.id,
        ],
    )
    .run()
    .ok();
    let mut want = memory(80 * MIB, 32 * MIB, 160 * MIB);
    want.extend(pids(60));
    check(&b, &want, "after update --memory 80m --memory-swap 160M");
    finish(&t, &b);
}

/// cpuset cpus and mems (with at least two CPUs, so that the set can shrink).
#[test]
fn update_cpuset() {
    let t = TestEnv::new("upd-cpuset");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        eprintln!("skipped: one CPU only");
        return;
    }
    let mut b = t.bundle();
    b.linux()["resources"]["cpu"] = json!({"cpus": "0-1", "mems": "0"});
    b.payload(&["sleep", "1000"]);
    t.run_detached(&b).ok();
    assert_eq!(cgroups::must_read(&b.tag, "cpuset", "cpuset.cpus"), "0-1");
    t.call(
        &b,
        ["update", "--cpuset-cpus", "1", "--cpuset-mems", "0", &b.id],
    )
    .run()
    .ok();
    assert_eq!(cgroups::must_read(&b.tag, "cpuset", "cpuset.cpus"), "1");
    assert_eq!(cgroups::must_read(&b.tag, "cpuset", "cpuset.mems"), "0");
    finish(&t, &b);
}

/// `--blkio-weight`, where the host's I/O scheduler has weights.
#[test]
fn update_blkio_weight() {
    let t = TestEnv::new("upd-blkio");
    let mut b = t.bundle();
    b.payload(&["sleep", "1000"]);
    t.run_detached(&b).ok();
    let candidates: &[&str] = if cgroups::is_v2() {
        &["io.bfq.weight", "io.weight"]
    } else {
        &["blkio.weight", "blkio.bfq.weight"]
    };
    let controller = if cgroups::is_v2() { "io" } else { "blkio" };
    let Some(file) = candidates
        .iter()
        .find(|f| cgroups::read(&b.tag, controller, f).is_some())
    else {
        eprintln!("skipped: this host's {controller} controller has no weight");
        finish(&t, &b);
        return;
    };
    t.call(&b, ["update", "--blkio-weight", "300", &b.id])
        .run()
        .ok();
    let want = if *file == "io.weight" {
        cgroups::blkio_to_io_weight(300)
    } else {
        300
    };
    let got = cgroups::must_read(&b.tag, controller, file);
    let first = got.lines().next().unwrap_or_default();
    assert!(
        first == want.to_string() || first == format!("default {want}"),
        "{file}: {got:?}, want {want}"
    );
    finish(&t, &b);
}

/// `--resources FILE`: the runtime-spec `linux.resources` shape; other flags are ignored.
#[test]
fn update_from_resources_file() {
    let t = TestEnv::new("upd-file");
    let (b, _) = start(&t);
    let file = b.dir.join("resources.json");
    fs::write(&file, updated_json().to_string()).unwrap();
    let file = file.display().to_string();
    t.call(
        &b,
        ["update", "--resources", &file, "--pids-limit", "99", &b.id],
    )
    .run()
    .ok();
    check(&b, &updated(), "after update --resources FILE");
    finish(&t, &b);
}

/// `--resources -`: the JSON on stdin, as containerd's shim sends it; -1 lifts a limit.
#[test]
fn update_from_stdin_as_containerd() {
    let t = TestEnv::new("upd-stdin");
    let (b, _) = start(&t);
    let mut res = updated_json();
    res["pids"]["limit"] = json!(-1);
    let file = b.dir.join("stdin.json");
    fs::write(&file, res.to_string()).unwrap();
    t.call(&b, ["update", "--resources", "-", &b.id])
        .stdin(&file)
        .run()
        .ok();
    let mut want = updated();
    want.retain(|(c, _, _)| *c != "pids");
    want.extend(pids(-1));
    check(&b, &want, "after update --resources -");
    finish(&t, &b);
}

/// Values that are not given stay as they are.
#[test]
fn update_changes_only_what_is_given() {
    let t = TestEnv::new("upd-partial");
    let (b, before) = start(&t);
    t.call(&b, ["update", "--pids-limit", "77", &b.id])
        .run()
        .ok();
    let mut want = before;
    want.retain(|(c, _, _)| *c != "pids");
    want.extend(pids(77));
    check(&b, &want, "after update --pids-limit 77");
    let file = b.dir.join("cpu.json");
    fs::write(&file, json!({"cpu": {"shares": 1024}}).to_string()).unwrap();
    let file = file.display().to_string();
    t.call(&b, ["update", "--resources", &file, &b.id])
        .run()
        .ok();
    want.retain(|(c, _, _)| *c != "cpu");
    want.extend(cpu(1024, 25000, 50000));
    check(&b, &want, "after update of cpu shares only");
    finish(&t, &b);
}

#[test]
fn update_of_an_unknown_container_fails() {
    let t = TestEnv::new("upd-unknown");
    let out = t
        .call_here(["update", "--pids-limit", "10", "no-such-container"])
        .run();
    out.failed_with_one_line();
}

/// A stopped container has no cgroup to update.
#[test]
fn update_of_a_stopped_container_fails() {
    let t = TestEnv::new("upd-stopped");
    let mut b = t.bundle();
    b.payload(&["exit", "0"]);
    let pid = t.create_and_start(&b);
    assert_eq!(berth_integration::host::exit_status(pid), 0);
    assert_eq!(t.status(&b), "stopped");
    let out = t.call(&b, ["update", "--pids-limit", "10", &b.id]).run();
    out.failed_with_one_line();
    t.delete(&b).ok();
    t.assert_nothing_left(&b);
}
