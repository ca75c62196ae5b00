//! The runtime-spec's required lifecycle errors (runtime.md, "Operations"): each must fail,
//! have no effect on the container, and log `{"level":"error","msg":...,"time":...}` in the
//! `--log` file (containerd reports that line as the failure).
use berth_integration::{host, wait_for_file, TestEnv};

#[test]
fn start_of_running_container_fails_without_effect() {
    let t = TestEnv::new("start-running");
    let mut b = t.bundle();
    let mark = b.mark();
    b.payload(&["sleep", "1000"]);
    let pid = t.create_and_start(&b);
    wait_for_file(&mark);
    t.start(&b).failed();
    let state = t.state_json(&b);
    assert_eq!(state["status"], "running");
    assert_eq!(state["pid"], pid);
    assert!(host::alive(pid));
    assert_eq!(
        std::fs::read_to_string(&mark).unwrap().lines().count(),
        1,
        "the process ran twice"
    );
}

#[test]
fn start_of_stopped_container_fails() {
    let t = TestEnv::new("start-stopped");
    let mut b = t.bundle();
    let mark = b.mark();
    b.payload(&["exit", "0"]);
    let pid = t.create_and_start(&b);
    assert_eq!(host::exit_status(pid), 0);
    t.start(&b).failed();
    assert_eq!(t.status(&b), "stopped");
    assert_eq!(std::fs::read_to_string(&mark).unwrap().lines().count(), 1);
    t.delete(&b).ok();
    t.assert_nothing_left(&b);
}

#[test]
fn delete_of_running_container_without_force_fails() {
    let t = TestEnv::new("delete-running");
    let mut b = t.bundle();
    b.payload(&["sleep", "1000"]);
    let pid = t.create_and_start(&b);
    t.delete(&b).failed();
    assert_eq!(t.status(&b), "running");
    assert!(host::alive(pid));
    assert!(t.rt.root.join(&b.id).is_dir(), "the state dir is gone");
}

#[test]
fn create_with_existing_id_fails_without_effect() {
    let t = TestEnv::new("create-exists");
    let first = t.bundle();
    t.create(&first).ok();
    let pid = first.pid();
    // A second bundle, same id.
    let mut second = t.bundle();
    second.id = first.id.clone();
    second.tag = first.tag.clone();
    second.spec = first.spec.clone();
    t.create(&second).failed();
    assert!(
        !second.pid_file().exists(),
        "the failed create wrote its pid file"
    );
    let state = t.state_json(&first);
    assert_eq!(state["status"], "created");
    assert_eq!(state["pid"], pid);
    assert!(host::alive(pid));
    assert_eq!(first.pid(), pid);
    // The original is intact: it starts and runs.
    t.start(&first).ok();
    assert_eq!(host::exit_status(pid), 0);
}

#[test]
fn state_of_unknown_id_fails() {
    let t = TestEnv::new("state-unknown");
    let b = t.bundle();
    let out = t.state(&b);
    out.failed();
    assert!(
        out.stdout.trim().is_empty(),
        "state printed something: {out}"
    );
    t.assert_nothing_left(&b);
}

#[test]
fn kill_of_unknown_id_fails() {
    let t = TestEnv::new("kill-unknown");
    let b = t.bundle();
    t.kill(&b, "KILL").failed();
    t.assert_nothing_left(&b);
}

#[test]
fn start_of_unknown_id_fails() {
    let t = TestEnv::new("start-unknown");
    let b = t.bundle();
    t.start(&b).failed();
    t.assert_nothing_left(&b);
}

#[test]
fn delete_of_unknown_id_fails() {
    let t = TestEnv::new("delete-unknown");
    let b = t.bundle();
    t.delete(&b).failed();
    t.assert_nothing_left(&b);
}

#[test]
fn kill_of_stopped_container_fails() {
    let t = TestEnv::new("kill-stopped");
    let mut b = t.bundle();
    b.payload(&["exit", "0"]);
    let pid = t.create_and_start(&b);
    assert_eq!(host::exit_status(pid), 0);
    t.kill(&b, "KILL").failed();
    assert_eq!(t.status(&b), "stopped");
    t.delete(&b).ok();
}
