//! What the runtime does to a container through its cgroup: `pause`/`resume` (the freezer),
//! `events --stats`, `ps`, `kill --all`, and removing every cgroup on `delete`, also of running
//! and paused containers and of cgroups the container made below its own.
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_integration::{cgroups, host, wait_for_file, wait_until, Bundle, TestEnv};
use serde_json::{json, Value};

const MIB: i64 = 1 << 20;

/// A container whose init appends a count to `<bundle>/work/count` (host path returned) as
/// fast as it can, plus `sleepers` background sleeping payloads. Each line is one write, so a
/// frozen writer never leaves the file half-written; its size is the progress.
fn counter(b: &mut Bundle, sleepers: usize) -> PathBuf {
    let dir = b.share("work", "/work", &["rw"]);
    let bg = "/bin/payload sleep 1000 & ".repeat(sleepers);
    b.sh(&format!(
        "{bg}i=0; while :; do i=$((i+1)); echo $i >> /work/count; done"
    ));
    dir.join("count")
}

/// The counter's progress: the size of its file.
fn count(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

/// Waits until the counter is past `n`.
#[track_caller]
fn wait_past(path: &Path, n: u64) {
    wait_until(&format!("the counter to pass {n}"), || count(path) > n);
}

/// Whether the host shows the container's cgroup frozen.
fn frozen(tag: &str) -> bool {
    if cgroups::is_v2() {
        cgroups::read(tag, "memory", "cgroup.events").and_then(|e| cgroups::keyed(&e, "frozen"))
            == Some(1)
    } else {
        cgroups::read(tag, "freezer", "freezer.state").as_deref() == Some("FROZEN")
    }
}

#[track_caller]
fn finish(t: &TestEnv, b: &Bundle) {
    t.delete_force(b).ok();
    t.assert_nothing_left(b);
}

/// While paused, state says `paused`, the cgroup is frozen and the busy process makes no
/// progress; after resume it runs again.
#[test]
fn pause_and_resume_a_busy_container() {
    let t = TestEnv::new("cg-pause");
    let mut b = t.bundle();
    let path = counter(&mut b, 1);
    t.run_detached(&b).ok();
    wait_past(&path, 10);
    t.call(&b, ["pause", &b.id]).run().ok();
    assert_eq!(t.status(&b), "paused");
    assert!(frozen(&b.tag), "the cgroup is not frozen");
    let before = count(&path);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(&path), before, "the counter moved while paused");
    for pid in cgroups::procs(&b.tag, "pids") {
        assert!(host::alive(pid), "{pid} died while paused");
    }
    t.call(&b, ["resume", &b.id]).run().ok();
    assert_eq!(t.status(&b), "running");
    assert!(!frozen(&b.tag), "the cgroup is still frozen");
    wait_past(&path, before);
    finish(&t, &b);
}

/// As runc: a created container can be paused, and resume brings it back to `created`; it
/// can then be started.
#[test]
fn pause_and_resume_a_created_container() {
    let t = TestEnv::new("cg-pause-cr");
    let mut b = t.bundle();
    b.payload(&["exit", "0"]);
    t.create(&b).ok();
    t.call(&b, ["pause", &b.id]).run().ok();
    assert_eq!(t.status(&b), "paused");
    t.call(&b, ["resume", &b.id]).run().ok();
    assert_eq!(t.status(&b), "created");
    let pid = b.pid();
    t.start(&b).ok();
    assert_eq!(host::exit_status(pid), 0);
    t.delete(&b).ok();
    t.assert_nothing_left(&b);
}

/// Resume of a container that is not paused, pause of a paused one, and both on a stopped
/// one fail.
#[test]
fn pause_and_resume_need_the_right_state() {
    let t = TestEnv::new("cg-pause-st");
    let mut b = t.bundle();
    b.payload(&["sleep", "1000"]);
    t.create(&b).ok();
    t.call(&b, ["resume", &b.id]).run().failed_with_one_line();
    let pid = b.pid();
    t.start(&b).ok();
    t.call(&b, ["resume", &b.id]).run().failed_with_one_line();
    t.call(&b, ["pause", &b.id]).run().ok();
    t.call(&b, ["pause", &b.id]).run().failed_with_one_line();
    assert_eq!(t.status(&b), "paused");
    t.call(&b, ["resume", &b.id]).run().ok();
    t.kill(&b, "KILL").ok();
    assert_eq!(host::exit_status(pid), 128 + 9);
    assert_eq!(t.status(&b), "stopped");
    t.call(&b, ["pause", &b.id]).run().failed_with_one_line();
    t.call(&b, ["resume", &b.id]).run().failed_with_one_line();
    t.delete(&b).ok();
    t.assert_nothing_left(&b);
}

/// `delete --force` of a paused container kills it and removes everything.
#[test]
fn delete_force_of_a_paused_container() {
    let t = TestEnv::new("cg-pause-del");
    let mut b = t.bundle();
    counter(&mut b, 2);
    t.run_detached(&b).ok();
    let pid = b.pid();
    t.call(&b, ["pause", &b.id]).run().ok();
    finish(&t, &b);
    assert!(!host::alive(pid), "init {pid} survived");
}

/// `events --stats`: one JSON object in runc's shape; the cpu time grows while the container
/// works, the memory usage is non-zero, pids.current counts the processes, and the limits are
/// those of the spec.
#[test]
fn events_stats_move() {
    let t = TestEnv::new("cg-events");
    let mut b = t.bundle();
    b.linux()["resources"]["memory"] = json!({"limit": 64 * MIB});
    b.linux()["resources"]["pids"] = json!({"limit": 30});
    let path = counter(&mut b, 2);
    t.run_detached(&b).ok();
    wait_past(&path, 10);
    let stats = |b: &Bundle| -> Value {
        let out = t.call(b, ["events", "--stats", &b.id]).run();
        out.ok();
        let v: Value = serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("events --stats is not one JSON object ({e}):\n{out}"));
        assert_eq!(v["type"], "stats", "{v}");
        assert_eq!(v["id"], b.id.as_str(), "{v}");
        v["data"].clone()
    };
    let first = stats(&b);
    let cpu = |d: &Value| {
        d["cpu"]["usage"]["total"]
            .as_u64()
            .unwrap_or_else(|| panic!("no cpu.usage.total: {d}"))
    };
    let c1 = cpu(&first);
    assert!(c1 > 0, "{first}");
    let mem = first["memory"]["usage"]["usage"]
        .as_u64()
        .unwrap_or_else(|| panic!("no memory.usage.usage: {first}"));
    assert!(mem > 0, "{first}");
    assert_eq!(
        first["memory"]["usage"]["limit"],
        json!(64 * MIB),
        "{first}"
    );
    assert_eq!(first["pids"]["current"], json!(3), "{first}");
    assert_eq!(first["pids"]["limit"], json!(30), "{first}");
    wait_past(&path, count(&path) + 10_000);
    let second = stats(&b);
    assert!(
        cpu(&second) > c1,
        "cpu time did not grow: {c1} then {second}"
    );
    finish(&t, &b);
}

#[test]
fn events_stats_of_an_unknown_container_fails() {
    let t = TestEnv::new("cg-events-unk");
    t.call_here(["events", "--stats", "no-such-container"])
        .run()
        .failed_with_one_line();
}

/// `ps`: a `ps -ef` table of exactly the container's processes; `ps` options are passed on;
/// `--format json` is the list of their host pids.
#[test]
fn ps_table_and_json() {
    let t = TestEnv::new("cg-ps");
    let mut b = t.bundle();
    counter(&mut b, 2);
    t.run_detached(&b).ok();
    wait_until("three processes", || {
        cgroups::procs(&b.tag, "pids").len() == 3
    });
    let pids = cgroups::procs(&b.tag, "pids");

    let out = t.call(&b, ["ps", "--format", "json", &b.id]).run();
    out.ok();
    let mut listed: Vec<i32> = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("ps --format json: {e}\n{out}"));
    listed.sort();
    assert_eq!(listed, pids, "{out}");

    let out = t.call(&b, ["ps", &b.id]).run();
    out.ok();
    let mut lines = out.stdout.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|c| c == "PID")
        .unwrap_or_else(|| panic!("no PID column:\n{out}"));
    assert!(header.starts_with("UID"), "not ps -ef's table:\n{out}");
    let mut rows: Vec<i32> = lines
        .filter_map(|l| l.split_whitespace().nth(col)?.parse().ok())
        .collect();
    rows.sort();
    assert_eq!(rows, pids, "{out}");

    let out = t.call(&b, ["ps", &b.id, "-o", "pid,comm"]).run();
    out.ok();
    let comms: Vec<&str> = out
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    let mut comms = comms;
    comms.sort();
    assert_eq!(comms, ["payload", "payload", "sh"], "{out}");
    finish(&t, &b);
}

/// `kill --all` reaches every process of the container: each of three trapping children
/// reports the signal; SIGKILL then empties the cgroup.
#[test]
fn kill_all_reaches_every_process() {
    let t = TestEnv::new("cg-killall");
    let mut b = t.bundle();
    let dir = b.share("work", "/work", &["rw"]);
    b.sh(
        "for i in 1 2 3; do /bin/payload trap > /work/trap$i & done; \
          exec /bin/payload sleep 1000",
    );
    t.run_detached(&b).ok();
    let trap = |i: usize| fs::read_to_string(dir.join(format!("trap{i}"))).unwrap_or_default();
    wait_until("three trapping children", || {
        (1..=3).all(|i| trap(i).contains("ready"))
    });
    t.call(&b, ["kill", "--all", &b.id, "USR1"]).run().ok();
    wait_until("every child to report SIGUSR1", || {
        (1..=3).all(|i| trap(i).contains("{\"signal\":10}"))
    });
    assert!(!cgroups::procs(&b.tag, "pids").is_empty());
    let init = b.pid();
    t.call(&b, ["kill", "--all", &b.id, "KILL"]).run().ok();
    assert_eq!(host::exit_status(init), 128 + 9);
    wait_until("the cgroup to be empty", || {
        cgroups::procs(&b.tag, "pids").is_empty()
    });
    assert_eq!(t.status(&b), "stopped");
    t.delete(&b).ok();
    t.assert_nothing_left(&b);
}

/// After a plain delete of an exited container no cgroup is left in any hierarchy.
#[test]
fn delete_removes_every_cgroup() {
    let t = TestEnv::new("cg-del");
    let mut b = t.bundle();
    b.linux()["resources"]["memory"] = json!({"limit": 64 * MIB});
    b.linux()["resources"]["pids"] = json!({"limit": 30});
    b.payload(&["exit", "0"]);
    let pid = t.create_and_start(&b);
    assert_eq!(host::exit_status(pid), 0);
    assert!(
        !host::cgroup_dirs(&b.tag).is_empty(),
        "no cgroup while the container exists"
    );
    t.delete(&b).ok();
    t.assert_nothing_left(&b);
}

/// `delete --force` of a running container with many processes kills them all and removes
/// its cgroups.
#[test]
fn delete_force_of_a_running_container() {
    let t = TestEnv::new("cg-del-force");
    let mut b = t.bundle();
    let dir = b.share("work", "/work", &["rw"]);
    b.sh(
        "for i in $(seq 20); do /bin/payload sleep 1000 & done; echo started > /work/all; \
          exec /bin/payload sleep 1000",
    );
    t.run_detached(&b).ok();
    wait_for_file(&dir.join("all"));
    assert_eq!(cgroups::procs(&b.tag, "pids").len(), 21);
    finish(&t, &b);
}

/// A cgroup the container made below its own (through a read-write cgroup mount) and moved a
/// process into is removed with the container.
#[test]
fn delete_removes_cgroups_made_inside() {
    let t = TestEnv::new("cg-del-sub");
    let mut b = t.bundle();
    cgroups::mount_cgroups(&mut b);
    let mounts = b.spec["mounts"].as_array_mut().unwrap();
    let cg = mounts.last_mut().unwrap();
    cg["options"] = json!(["nosuid", "noexec", "nodev", "relatime", "rw"]);
    let dir = cgroups::inside_path("pids", "")
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    b.sh(&format!(
        "mkdir {dir}/sub; /bin/payload sleep 1000 & \
         echo $! > {dir}/sub/cgroup.procs && echo moved; exec /bin/payload sleep 1000"
    ));
    t.run_detached(&b).ok();
    wait_until("the sub-cgroup", || b.stdout().contains("moved"));
    assert!(cgroups::dir(&b.tag, "pids").join("sub").is_dir());
    assert_eq!(cgroups::procs(&b.tag, "pids").len(), 2);
    finish(&t, &b);
}
