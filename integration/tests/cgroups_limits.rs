//! Limits that the kernel enforces on the container: the OOM killer under a memory limit,
//! `pids.max` against a fork bomb, and device access (v1: the devices controller; v2: the
//! runtime's eBPF program).
use berth_integration::{cgroups, host, TestEnv};
use serde_json::json;

const MIB: i64 = 1 << 20;

/// A process that allocates past the memory limit is OOM-killed; the container's shell
/// survives and sees the kill, and the cgroup counts it.
#[test]
fn oom_kill_under_a_memory_limit() {
    let t = TestEnv::new("cg-oom");
    let mut b = t.bundle();
    // No swap to escape to: memory+swap = memory.
    b.linux()["resources"]["memory"] = json!({"limit": 32 * MIB, "swap": 32 * MIB});
    // busybox dd allocates its 64 MiB buffer and fills it from /dev/zero.
    b.sh(
        "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo dd-exit $?; \
          /bin/payload sleep 1000",
    );
    t.run_detached(&b).ok();
    berth_integration::wait_until("dd to end", || b.stdout().contains("dd-exit"));
    assert!(
        b.stdout().contains("dd-exit 137"),
        "dd was not killed by SIGKILL: {:?}",
        b.stdout()
    );
    let kills = if cgroups::is_v2() {
        cgroups::keyed(
            &cgroups::must_read(&b.tag, "memory", "memory.events"),
            "oom_kill",
        )
    } else {
        cgroups::keyed(
            &cgroups::must_read(&b.tag, "memory", "memory.oom_control"),
            "oom_kill",
        )
    };
    assert_eq!(kills, Some(1), "the cgroup's oom_kill count");
    t.delete_force(&b).ok();
    t.assert_nothing_left(&b);
}

/// Under `pids.limit` 20 a fork bomb run as the container's process makes 19 children (with
/// itself, 20) before fork fails with EAGAIN; the cgroup counts the refusal.
#[test]
fn fork_bomb_stopped_by_pids_max() {
    let t = TestEnv::new("cg-forkbomb");
    let mut b = t.bundle();
    b.linux()["resources"]["pids"] = json!({"limit": 20});
    b.payload(&["forkbomb", "1000"]);
    let pid = t.create_and_start(&b);
    assert_eq!(host::exit_status(pid), 0);
    let out = b.stdout();
    assert!(
        out.contains("{\"forked\":19,\"errno\":\"EAGAIN\"}"),
        "fork bomb: {out:?}"
    );
    let events = cgroups::must_read(&b.tag, "pids", "pids.events");
    assert!(
        cgroups::keyed(&events, "max").is_some_and(|n| n >= 1),
        "pids.events: {events:?}"
    );
    t.delete(&b).ok();
    t.assert_nothing_left(&b);
}

/// The same fork bomb without a limit is not stopped at 20 (the limit above is the cause).
#[test]
fn fork_bomb_without_pids_limit_goes_further() {
    let t = TestEnv::new("cg-forkbomb-free");
    let mut b = t.bundle();
    b.payload(&["forkbomb", "50"]);
    let pid = t.create_and_start(&b);
    assert_eq!(host::exit_status(pid), 0);
    assert!(
        b.stdout().contains("{\"forked\":50,\"errno\":null}"),
        "{:?}",
        b.stdout()
    );
    t.delete(&b).ok();
    t.assert_nothing_left(&b);
}

/// With everything denied but the defaults: /dev/null opens; /dev/loop-control (10:237),
/// allowed for reading only, opens for reading and not for writing; /dev/loop0 (7:0), created
/// in the container but not allowed, does not open. Denials are EPERM from the device
/// cgroup, not from the permissions (the container is root).
#[test]
fn devices_allowed_and_denied() {
    let t = TestEnv::new("cg-devices");
    let mut b = t.bundle();
    b.linux()["devices"] = json!([
        {"path": "/dev/loop-control", "type": "c", "major": 10, "minor": 237,
         "fileMode": 0o600, "uid": 0, "gid": 0},
        {"path": "/dev/loop0", "type": "b", "major": 7, "minor": 0,
         "fileMode": 0o600, "uid": 0, "gid": 0},
    ]);
    b.linux()["resources"]["devices"] = json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 237, "access": "r"},
    ]);
    b.sh(
        "for d in /dev/null /dev/loop-control /dev/loop0; do /bin/payload open $d; done; \
          /bin/payload write /dev/loop-control x; /bin/payload write /dev/null x",
    );
    let out = t.run(&b);
    out.ok();
    let got: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    assert_eq!(
        got,
        ["ok", "ok", "EPERM", "EPERM", "ok"],
        "open null, loop-control, loop0; write loop-control, null:\n{out}"
    );
    t.assert_nothing_left(&b);
}

/// With no device rules at all in the spec, the runtime still denies what is not a default
/// device (the container must not reach the host's disks).
#[test]
fn devices_denied_by_default() {
    let t = TestEnv::new("cg-devices-def");
    let mut b = t.bundle();
    b.linux()["devices"] = json!([
        {"path": "/dev/loop0", "type": "b", "major": 7, "minor": 0,
         "fileMode": 0o600, "uid": 0, "gid": 0},
    ]);
    b.linux()["resources"]
        .as_object_mut()
        .unwrap()
        .remove("devices");
    b.sh("/bin/payload open /dev/loop0; /bin/payload open /dev/zero");
    let out = t.run(&b);
    out.ok();
    let got: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    assert_eq!(got, ["EPERM", "ok"], "{out}");
}
