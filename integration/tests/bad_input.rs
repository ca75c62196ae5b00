//! Bad input, one case per test: the runtime must fail with a one-line error on stderr and a
//! JSON error line in the log, and leave nothing behind (no state dir, process, cgroup or
//! mount).
use std::fs;

use berth_integration::{host, runc_differs, Bundle, Output, TestEnv};
use serde_json::json;

/// Runs `call` and checks what every bad-input case shares; returns its output.
#[track_caller]
fn rejected(t: &TestEnv, b: &Bundle, call: impl FnOnce() -> Output) -> Output {
    let mounts_before = mount_table();
    let out = call();
    out.failed_with_one_line();
    assert_eq!(
        mounts_before,
        mount_table(),
        "the mount table changed: {out}"
    );
    assert!(!b.pid_file().exists(), "pid file written: {out}");
    t.assert_nothing_left(b);
    t.assert_root_empty();
    out
}

fn mount_table() -> Vec<String> {
    host::mountinfo().into_iter().map(|m| m.line).collect()
}

#[test]
fn malformed_config_json() {
    let t = TestEnv::new("bad-json");
    let b = t.bundle();
    fs::write(b.config_path(), "{\"ociVersion\": \"1.2.0\", \"process\": ").unwrap();
    rejected(&t, &b, || t.create_call(&b, &[]).run());
}

#[test]
fn config_json_of_wrong_type() {
    let t = TestEnv::new("bad-type");
    let mut b = t.bundle();
    b.spec["process"]["args"] = json!("not a list");
    rejected(&t, &b, || t.create(&b));
}

#[test]
fn missing_config_json() {
    let t = TestEnv::new("no-config");
    let b = t.bundle();
    let out = rejected(&t, &b, || t.create_call(&b, &[]).run());
    assert!(
        out.mentions("config.json"),
        "the error does not name config.json: {out}"
    );
}

#[test]
fn missing_rootfs() {
    let t = TestEnv::new("no-rootfs");
    let b = t.bundle();
    fs::remove_dir_all(b.rootfs()).unwrap();
    rejected(&t, &b, || t.create(&b));
}

#[test]
fn missing_bundle_directory() {
    let t = TestEnv::new("no-bundle");
    let b = t.bundle();
    let missing = b.dir.join("does-not-exist");
    rejected(&t, &b, || {
        t.call(&b, ["create", "--bundle", missing.to_str().unwrap(), &b.id])
            .run()
    });
}

#[test]
fn empty_process_args() {
    let t = TestEnv::new("no-args");
    let mut b = t.bundle();
    b.spec["process"]["args"] = json!([]);
    rejected(&t, &b, || t.create(&b));
}

fn bad_id(name: &str, id: &str) {
    let t = TestEnv::new(name);
    let b = t.bundle_for_id(id);
    rejected(&t, &b, || t.create(&b));
    // Nothing may appear outside the state root either (`../x` must not escape it).
    let escaped = t.dir.join("x");
    assert!(
        fs::symlink_metadata(&escaped).is_err(),
        "created {}",
        escaped.display()
    );
}

#[test]
fn id_with_dot_dot() {
    bad_id("id-dotdot", "../x");
}

#[test]
fn id_with_slash() {
    bad_id("id-slash", "a/b");
}

#[test]
fn id_empty() {
    bad_id("id-empty", "");
}

#[test]
fn id_too_long() {
    bad_id("id-long", &"a".repeat(300));
}

#[test]
fn unknown_signal() {
    let t = TestEnv::new("bad-signal");
    let mut b = t.bundle();
    b.payload(&["sleep", "1000"]);
    let pid = t.create_and_start(&b);
    let out = t.kill(&b, "SIGNOTHING");
    out.failed_with_one_line();
    // No effect on the container.
    assert_eq!(t.status(&b), "running");
    assert!(host::alive(pid));
}

#[test]
fn unknown_flag() {
    let t = TestEnv::new("bad-flag");
    let b = t.bundle();
    b.write_config();
    rejected(&t, &b, || t.create_call(&b, &["--no-such-flag"]).run());
}

#[test]
fn unknown_command() {
    let t = TestEnv::new("bad-command");
    let b = t.bundle();
    rejected(&t, &b, || t.call(&b, ["no-such-command", &b.id]).run());
}

/// Fields berth does not implement are rejected, naming the field.
#[test]
fn unsupported_field_intel_rdt() {
    if runc_differs("runc 1.1.5 accepts linux.intelRdt on a host without resctrl") {
        return;
    }
    let t = TestEnv::new("bad-rdt");
    let mut b = t.bundle();
    b.linux()["intelRdt"] = json!({"closID": "berth-test"});
    let out = rejected(&t, &b, || t.create(&b));
    assert!(
        out.mentions("intelRdt"),
        "the error does not name the field: {out}"
    );
}

/// A bind mount whose source does not exist fails create and unwinds everything.
#[test]
fn missing_mount_source() {
    let t = TestEnv::new("bad-mount");
    let mut b = t.bundle();
    b.add_mount(json!({
        "destination": "/data", "type": "bind",
        "source": b.dir.join("no-such-dir"), "options": ["rbind"],
    }));
    rejected(&t, &b, || t.create(&b));
}

/// The process does not exist in the rootfs: create fails (runc checks before `start`).
#[test]
fn missing_executable() {
    let t = TestEnv::new("bad-exe");
    let mut b = t.bundle();
    b.args(&["/bin/no-such-program"]);
    rejected(&t, &b, || t.create(&b));
}
