//! The container lifecycle through the CLI, as an engine drives it: create, start, state,
//! kill, delete, run.
use std::fs;

use berth_integration::{host, wait_for_file, wait_until, Bundle, TestEnv};

/// Waits until the payload inside has printed `ready` (the `trap` subcommand).
fn wait_ready(b: &Bundle) {
    wait_until("the payload to trap signals", || {
        b.stdout().contains("ready")
    });
}

#[test]
fn create_leaves_init_blocked_until_start() {
    let t = TestEnv::new("create-blocks");
    let mut b = t.bundle();
    let mark = b.mark();
    b.payload(&["sleep", "1000"]);
    t.create(&b).ok();

    let state = t.state_json(&b);
    assert_eq!(state["status"], "created");
    assert_eq!(state["id"], b.id.as_str());
    let pid = b.pid();
    assert_eq!(state["pid"], pid, "pid file and state disagree");
    assert!(host::alive(pid), "init {pid} is not alive");
    let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    assert!(
        !exe.ends_with("payload"),
        "init already runs the payload: {exe:?}"
    );
    assert!(!mark.exists(), "the process ran before start");
    // Still blocked after another look.
    assert_eq!(t.status(&b), "created");
    assert!(!mark.exists(), "the process ran before start");

    t.start(&b).ok();
    wait_for_file(&mark);
    assert_eq!(fs::read_to_string(&mark).unwrap(), "started 1\n");
    assert_eq!(t.status(&b), "running");
    assert_eq!(t.state_json(&b)["pid"], pid, "start changed the pid");
}

#[test]
fn state_has_runc_fields() {
    let t = TestEnv::new("state-fields");
    let mut b = t.bundle();
    b.spec["annotations"] = serde_json::json!({"org.example.key": "value"});
    t.create(&b).ok();
    let state = t.state_json(&b);
    let bundle = fs::canonicalize(&b.dir).unwrap();
    assert_eq!(state["id"], b.id.as_str());
    assert_eq!(state["bundle"], bundle.to_str().unwrap());
    assert_eq!(state["rootfs"], bundle.join("rootfs").to_str().unwrap());
    assert_eq!(state["annotations"]["org.example.key"], "value");
    assert_eq!(
        state["owner"], "",
        "owner is empty when the owner is root, as in runc"
    );
    for key in ["ociVersion", "created"] {
        assert!(state[key].is_string(), "state has no {key}: {state}");
    }
}

#[test]
fn process_exit_stops_the_container() {
    let t = TestEnv::new("exit-stops");
    let mut b = t.bundle();
    b.payload(&["exit", "3"]);
    let pid = t.create_and_start(&b);
    assert_eq!(host::exit_status(pid), 3);
    let state = t.state_json(&b);
    assert_eq!(state["status"], "stopped");
    assert_eq!(state["pid"], 0, "a stopped container reports pid 0");
    t.delete(&b).ok();
    assert!(!t.state(&b).success(), "state after delete");
    t.assert_nothing_left(&b);
}

/// `kill <id> KILL`, `kill <id> 9` (containerd) and `kill <id> SIGKILL` all kill init.
/// `list` as scripts and engines parse it: every container of the root, sorted by id, in its
/// own status (an exited init not yet reaped is stopped, with pid 0), owned by root; `-q` gives
/// the ids alone. Neither a state directory without a record (a create in progress), nor one
/// whose lock another command holds, nor a broken record (a warning) keeps it from answering.
#[test]
fn list_shows_every_container_in_its_status() {
    let t = TestEnv::new("list");
    let mut bundles: Vec<Bundle> = (0..4).map(|_| t.bundle()).collect();
    for b in &mut bundles[..3] {
        b.payload(&["sleep", "1000"]);
    }
    bundles[3].payload(&["exit", "0"]);
    let [created, running, paused, stopped] = &bundles[..] else {
        unreachable!()
    };
    t.create(created).ok();
    t.create_and_start(running);
    t.create(paused).ok();
    t.call(paused, ["pause", &paused.id]).run().ok();
    let pid = t.create_and_start(stopped);
    assert!(host::wait_for_exit(
        pid,
        berth_integration::paths::hang_limit()
    ));
    fs::create_dir(t.rt.root.join("being-created")).unwrap();
    let broken = t.rt.root.join("broken");
    fs::create_dir(&broken).unwrap();
    fs::write(broken.join("state.json"), "{not json").unwrap();
    let _held = nix::fcntl::Flock::lock(
        fs::File::open(t.rt.root.join(&running.id)).unwrap(),
        nix::fcntl::FlockArg::LockExclusive,
    )
    .unwrap();

    let out = t.call_here(["list", "--format", "json"]).run();
    let listed: Vec<serde_json::Value> = serde_json::from_str(out.ok().stdout.trim()).unwrap();
    // runc prints the warning on stderr; berth logs it (here to the --log file).
    let warned = out.stderr.contains("broken")
        || out.log.iter().any(|l| {
            l["level"] == "warning" && l["msg"].as_str().is_some_and(|m| m.contains("broken"))
        });
    assert!(warned, "no warning about the broken record: {out}");
    let mut want: Vec<(&str, &str)> = vec![
        (&created.id, "created"),
        (&running.id, "running"),
        (&paused.id, "paused"),
        (&stopped.id, "stopped"),
    ];
    want.sort();
    let got: Vec<(&str, &str)> = listed
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(got, want, "{out}");
    for s in &listed {
        assert_eq!(s["owner"], "root", "{s}");
        let pid = s["pid"].as_i64().unwrap();
        assert_eq!(pid == 0, s["status"] == "stopped", "{s}");
    }

    let table = t.call_here(["list"]).run();
    let rows: Vec<&str> = table.ok().stdout.lines().collect();
    assert!(rows[0].starts_with("ID "), "{table}");
    assert!(rows[0].ends_with(" OWNER"), "{table}");
    for ((id, status), row) in want.iter().zip(&rows[1..]) {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            (cols[0], cols[2], cols[5]),
            (*id, *status, "root"),
            "{table}"
        );
    }
    let quiet = t.call_here(["list", "-q"]).run();
    let ids: Vec<&str> = quiet.ok().stdout.lines().collect();
    assert_eq!(ids, want.iter().map(|w| w.0).collect::<Vec<_>>());
    t.call(paused, ["resume", &paused.id]).run().ok();
    fs::remove_dir_all(&broken).unwrap();
}

#[test]
fn kill_by_name_and_number() {
    let t = TestEnv::new("kill-forms");
    for sig in ["KILL", "9", "SIGKILL"] {
        let mut b = t.bundle();
        b.payload(&["sleep", "1000"]);
        let pid = t.create_and_start(&b);
        t.kill(&b, sig).ok();
        assert_eq!(host::exit_status(pid), 128 + 9, "kill {sig}");
        assert_eq!(t.status(&b), "stopped", "kill {sig}");
        t.delete(&b).ok();
        t.assert_nothing_left(&b);
    }
}

/// Without a signal, `kill` sends SIGTERM; names work with and without `SIG`.
#[test]
fn kill_delivers_the_named_signal() {
    let t = TestEnv::new("kill-sig");
    for (args, expect) in [
        (vec![], 15),
        (vec!["TERM"], 15),
        (vec!["SIGUSR1"], 10),
        (vec!["2"], 2),
    ] {
        let mut b = t.bundle();
        b.payload(&["trap"]);
        let pid = t.create_and_start(&b);
        wait_ready(&b);
        let mut argv = vec!["kill", &b.id];
        argv.extend(args.iter().copied());
        t.call(&b, argv).run().ok();
        assert_eq!(host::exit_status(pid), expect, "kill {args:?}");
        assert!(b.stdout().contains(&format!("{{\"signal\":{expect}}}")));
        t.delete(&b).ok();
    }
}

#[test]
fn kill_created_container() {
    let t = TestEnv::new("kill-created");
    let mut b = t.bundle();
    let mark = b.mark();
    t.create(&b).ok();
    let pid = b.pid();
    t.kill(&b, "KILL").ok();
    assert!(host::wait_for_exit(
        pid,
        berth_integration::paths::hang_limit()
    ));
    assert_eq!(t.status(&b), "stopped");
    assert!(
        !mark.exists(),
        "killing a created container ran its process"
    );
    t.delete(&b).ok();
    t.assert_nothing_left(&b);
}

/// `kill --all` signals every process of the container, not only init: without a pid
/// namespace the others would otherwise survive. Then containerd's forced delete of a running
/// task: `kill --all <id> 9`, `delete <id>`, `delete --force <id>`.
#[test]
fn kill_all_reaches_every_process() {
    let t = TestEnv::new("kill-all");
    let mut b = t.bundle();
    b.without_namespace("pid");
    let mark = b.mark();
    b.sh("/bin/payload sleep 1000 & /bin/payload sleep 1000 & wait");
    let pid = t.create_and_start(&b);
    wait_until("both children to start", || {
        fs::read_to_string(&mark)
            .unwrap_or_default()
            .lines()
            .count()
            == 2
    });
    assert_eq!(host::processes_of(&b.tag).len(), 3, "sh and two children");
    t.call(&b, ["kill", "--all", &b.id, "9"]).run().ok();
    assert_eq!(host::exit_status(pid), 128 + 9);
    wait_until("every process of the container to die", || {
        host::processes_of(&b.tag).is_empty()
    });
    t.delete(&b).ok();
    t.delete_force(&b).ok();
    t.assert_nothing_left(&b);
}

#[test]
fn delete_force_running() {
    let t = TestEnv::new("delete-force-running");
    let mut b = t.bundle();
    b.payload(&["sleep", "1000"]);
    let pid = t.create_and_start(&b);
    t.delete_force(&b).ok();
    assert!(host::wait_for_exit(
        pid,
        berth_integration::paths::hang_limit()
    ));
    assert!(!t.state(&b).success(), "state after delete --force");
    t.assert_nothing_left(&b);
}

#[test]
fn delete_force_created() {
    let t = TestEnv::new("delete-force-created");
    let b = t.bundle();
    t.create(&b).ok();
    t.delete_force(&b).ok();
    t.assert_nothing_left(&b);
}

/// containerd's second shim calls `delete --force` for a container that is already gone.
#[test]
fn delete_force_of_unknown_id_succeeds() {
    let t = TestEnv::new("delete-force-unknown");
    let b = t.bundle();
    t.delete_force(&b).ok();
    t.assert_nothing_left(&b);
}

#[test]
fn run_returns_the_exit_code() {
    let t = TestEnv::new("run-code");
    let mut b = t.bundle();
    b.payload(&["exit", "42"]);
    let out = t.run(&b);
    assert_eq!(out.code, 42, "{out}");
    // `run` deletes the container when it exits.
    assert!(!t.state(&b).success(), "container still exists after run");
    t.assert_nothing_left(&b);
}

#[test]
fn run_prints_the_container_output() {
    let t = TestEnv::new("run-output");
    let b = t.bundle();
    let r = t.report(&b);
    assert_eq!(r.num("pid"), 1);
    t.assert_nothing_left(&b);
}

#[test]
fn run_returns_128_plus_signal() {
    let t = TestEnv::new("run-signal");
    let mut b = t.bundle();
    let mark = b.mark();
    b.payload(&["sleep", "1000"]);
    let running = t.run_call(&b).spawn();
    wait_for_file(&mark);
    t.kill(&b, "KILL").ok();
    let out = running.wait();
    assert_eq!(out.code, 128 + 9, "{out}");
    t.assert_nothing_left(&b);
}

#[test]
fn run_detach() {
    let t = TestEnv::new("run-detach");
    let mut b = t.bundle();
    let mark = b.mark();
    b.payload(&["sleep", "1000"]);
    t.run_detached(&b).ok();
    assert_eq!(t.status(&b), "running");
    let pid = b.pid();
    wait_for_file(&mark);
    t.kill(&b, "KILL").ok();
    assert_eq!(host::exit_status(pid), 128 + 9);
    t.delete(&b).ok();
    t.assert_nothing_left(&b);
}

/// The id of a deleted container can be used again.
#[test]
fn id_is_reusable_after_delete() {
    let t = TestEnv::new("reuse-id");
    let mut b = t.bundle();
    b.payload(&["exit", "0"]);
    for _ in 0..2 {
        let pid = t.create_and_start(&b);
        assert_eq!(host::exit_status(pid), 0);
        t.delete(&b).ok();
    }
    t.assert_nothing_left(&b);
}

/// podman (conmon) passes `--log-format=json --log <file>` after the other global flags, in
/// the `=` form; errors still land in the log as JSON.
#[test]
fn podman_style_global_flags() {
    let t = TestEnv::new("podman-flags");
    let mut b = t.bundle();
    b.payload(&["exit", "0"]);
    b.write_config();
    let root = t.rt.root.display().to_string();
    let log = b.dir.join("log.json").display().to_string();
    let bundle = b.dir.display().to_string();
    let pid_file = b.pid_file().display().to_string();
    let podman = |args: &[&str]| {
        let mut argv = vec!["--root", &root, "--log-format=json", "--log", &log];
        argv.extend_from_slice(args);
        t.call(&b, argv)
            .without_global_flags()
            .container_io(&b.dir)
            .run()
    };
    podman(&[
        "create",
        "--bundle",
        &bundle,
        "--pid-file",
        &pid_file,
        &b.id,
    ])
    .ok();
    t.track_pid(b.pid());
    podman(&["start", &b.id]).ok();
    assert_eq!(host::exit_status(b.pid()), 0);
    podman(&["start", &b.id]).failed();
    podman(&["delete", "--force", &b.id]).ok();
    t.assert_nothing_left(&b);
}
