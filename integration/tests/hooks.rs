//! OCI hooks: all six kinds, their order, the state on stdin, args and env, timeouts, and what
//! a failing hook does to the lifecycle.
use std::fs;
use std::path::Path;

use berth_integration::{host, runc_differs, Bundle, TestEnv};
use serde_json::{json, Value};

/// A hook that saves its stdin as `<dir>/state-<name>.json` and appends `<name>` to
/// `<dir>/order`. `sh` and `dir` are paths where the hook runs (host or container).
fn recorder(sh: &str, dir: &str, name: &str) -> Value {
    json!({
        "path": sh,
        "args": ["sh", "-c", format!("cat > {dir}/state-{name}.json; echo {name} >> {dir}/order")],
    })
}

fn failing(code: i32) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo hook-output; exit {code}")]})
}

/// Shares `<bundle>/hooks` at `/hooks` and returns its host path.
fn hooks_dir(b: &mut Bundle) -> std::path::PathBuf {
    b.share("hooks", "/hooks", &["rw"])
}

fn read_state(dir: &Path, name: &str) -> Value {
    let text = fs::read_to_string(dir.join(format!("state-{name}.json")))
        .unwrap_or_else(|e| panic!("{name} hook left no state: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} state is not JSON ({e}): {text}"))
}

#[test]
fn all_six_hooks_run_in_order_with_the_state() {
    let t = TestEnv::new("hooks-order");
    let mut b = t.bundle();
    let dir = hooks_dir(&mut b);
    let host = dir.to_str().unwrap();
    b.payload(&["exit", "0"]);
    b.spec["hooks"] = json!({
        "prestart": [recorder("/bin/sh", host, "prestart")],
        "createRuntime": [recorder("/bin/sh", host, "createRuntime")],
        // Runs in the container's namespaces before pivot_root: host paths still resolve.
        "createContainer": [recorder("/bin/sh", host, "createContainer")],
        // Runs after pivot_root: the rootfs's busybox sh and the container's /hooks.
        "startContainer": [recorder("/bin/sh", "/hooks", "startContainer")],
        "poststart": [recorder("/bin/sh", host, "poststart")],
        "poststop": [recorder("/bin/sh", host, "poststop")],
    });
    let pid = t.create_and_start(&b);
    assert_eq!(host::exit_status(pid), 0);
    t.delete(&b).ok();
    let order = fs::read_to_string(dir.join("order")).unwrap();
    let mut order: Vec<&str> = order.lines().collect();
    let mut want = vec![
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ];
    if runc_differs("runc 1.1.5 runs poststart hooks at the end of create, before start") {
        order.sort();
        want.sort();
    }
    assert_eq!(order, want);
    let bundle = fs::canonicalize(&b.dir).unwrap();
    for (name, status) in [
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        ("createContainer", "creating"),
        ("startContainer", "created"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let s = read_state(&dir, name);
        assert_eq!(s["id"], b.id.as_str(), "{name}: {s}");
        assert_eq!(s["bundle"], bundle.to_str().unwrap(), "{name}: {s}");
        assert!(s["ociVersion"].is_string(), "{name}: {s}");
        // The pid "as seen by the host" (runtime-spec state), for hooks inside too.
        let inside = matches!(name, "createContainer" | "startContainer");
        if name != "poststop"
            && !(inside && runc_differs("runc 1.1.5 passes pid 1 to in-container hooks"))
        {
            assert_eq!(s["pid"], pid, "{name}: {s}");
        }
        if !(name == "poststart" && runc_differs("runc 1.1.5's early poststart sees \"created\"")) {
            assert_eq!(s["status"], status, "{name}: {s}");
        }
    }
    t.assert_nothing_left(&b);
}

#[test]
fn hook_args_and_env() {
    let t = TestEnv::new("hooks-env");
    let mut b = t.bundle();
    let dir = b.dir.join("out");
    fs::create_dir(&dir).unwrap();
    let d = dir.display();
    b.spec["hooks"] = json!({"prestart": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("echo \"$0 $1 $FOO\" > {d}/argv; env > {d}/env"), "zero", "one"],
        "env": ["FOO=bar", "BAR=baz"],
    }]});
    t.create(&b).ok();
    assert_eq!(
        fs::read_to_string(dir.join("argv")).unwrap(),
        "zero one bar\n"
    );
    let env = fs::read_to_string(dir.join("env")).unwrap();
    let env: Vec<&str> = env.lines().collect();
    assert!(
        env.contains(&"FOO=bar") && env.contains(&"BAR=baz"),
        "{env:?}"
    );
    assert!(
        !env.iter()
            .any(|kv| kv.starts_with("BERTH_TEST_RUNTIME_ONLY=")),
        "the runtime's environment leaked into the hook: {env:?}"
    );
}

#[test]
fn hook_timeout_fails_create_and_leaves_nothing() {
    let t = TestEnv::new("hooks-timeout");
    let mut b = t.bundle();
    b.spec["hooks"] = json!({"prestart": [{
        "path": "/bin/sh", "args": ["sh", "-c", "exec sleep 60"], "timeout": 1,
    }]});
    t.create(&b).failed();
    t.assert_nothing_left(&b);
    t.assert_root_empty();
}

#[test]
fn failing_prestart_fails_create_and_leaves_nothing() {
    let t = TestEnv::new("hooks-prestart");
    let mut b = t.bundle();
    let mark = b.mark();
    b.spec["hooks"] = json!({"prestart": [failing(3)]});
    t.create(&b).failed();
    assert!(!mark.exists());
    t.assert_nothing_left(&b);
    t.assert_root_empty();
}

#[test]
fn failing_create_runtime_fails_create() {
    let t = TestEnv::new("hooks-creatert");
    let mut b = t.bundle();
    b.spec["hooks"] = json!({"createRuntime": [failing(1)]});
    t.create(&b).failed();
    t.assert_nothing_left(&b);
}

#[test]
fn failing_create_container_fails_create() {
    let t = TestEnv::new("hooks-createct");
    let mut b = t.bundle();
    b.spec["hooks"] = json!({"createContainer": [failing(1)]});
    t.create(&b).failed();
    t.assert_nothing_left(&b);
}

/// A failing startContainer hook fails `start`; the process never runs.
#[test]
fn failing_start_container_fails_start() {
    let t = TestEnv::new("hooks-startct");
    let mut b = t.bundle();
    let mark = b.mark();
    b.payload(&["sleep", "1000"]);
    b.spec["hooks"] = json!({"startContainer": [{"path": "/bin/false"}]});
    t.create(&b).ok();
    let pid = b.pid();
    let out = t.start(&b);
    if !runc_differs("runc 1.1.5's start succeeds when a startContainer hook fails") {
        out.failed();
    }
    assert!(host::wait_for_exit(
        pid,
        berth_integration::paths::hang_limit()
    ));
    assert!(!mark.exists(), "the process ran");
    assert_eq!(t.status(&b), "stopped");
    t.delete(&b).ok();
    t.assert_nothing_left(&b);
}

/// runtime-spec: if a poststart hook fails, the runtime generates an error and stops the
/// container.
#[test]
fn failing_poststart_stops_the_container() {
    if runc_differs("runc 1.1.5 runs poststart hooks in create, so create fails instead") {
        return;
    }
    let t = TestEnv::new("hooks-poststart");
    let mut b = t.bundle();
    b.payload(&["sleep", "1000"]);
    b.spec["hooks"] = json!({"poststart": [failing(1)]});
    t.create(&b).ok();
    let pid = b.pid();
    t.start(&b).failed();
    assert!(host::wait_for_exit(
        pid,
        berth_integration::paths::hang_limit()
    ));
    assert_eq!(t.status(&b), "stopped");
    t.delete(&b).ok();
    t.assert_nothing_left(&b);
}

/// runtime-spec: a failing poststop hook is only a warning; delete goes on.
#[test]
fn failing_poststop_does_not_fail_delete() {
    let t = TestEnv::new("hooks-poststop");
    let mut b = t.bundle();
    b.payload(&["exit", "0"]);
    b.spec["hooks"] = json!({"poststop": [failing(1)]});
    let pid = t.create_and_start(&b);
    assert_eq!(host::exit_status(pid), 0);
    t.delete(&b).ok();
    t.assert_nothing_left(&b);
}
