//! The process's own settings as it sees them: user, groups, umask, capabilities, rlimits,
//! noNewPrivileges, cwd, environment, fds, oom_score_adj, signal state.
use std::fs;
use std::os::fd::OwnedFd;

use berth_integration::spec::RUNTIME_ONLY_VAR;
use berth_integration::{cap_mask, host, runc_differs, Report, TestEnv};
use serde_json::json;

#[test]
fn user_groups_and_umask() {
    let t = TestEnv::new("proc-user");
    let mut b = t.bundle();
    b.process()["user"] =
        json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 0o027});
    let r = t.report(&b);
    for (key, want) in [("uid", 1000), ("euid", 1000), ("gid", 1000), ("egid", 1000)] {
        assert_eq!(r.num(key), want, "{key}");
    }
    assert_eq!(r.groups(), [10, 20]);
    assert_eq!(r.num("umask"), 0o027);
}

#[test]
fn root_by_default_with_umask_0022() {
    let t = TestEnv::new("proc-root");
    let b = t.bundle();
    let r = t.report(&b);
    assert_eq!((r.num("uid"), r.num("gid")), (0, 0));
    assert_eq!(r.groups(), Vec::<u64>::new());
    assert_eq!(r.num("umask"), 0o022);
}

fn caps(b: &mut berth_integration::Bundle, sets: serde_json::Value) {
    b.process()["capabilities"] = sets;
}

#[track_caller]
fn assert_caps(r: &Report, set: &str, want: &[&str]) {
    let got = r.caps(set);
    assert_eq!(
        got,
        cap_mask(want),
        "{set}: got {:?}, want {want:?}",
        berth_integration::spec::cap_names(got)
    );
}

/// As root the kernel makes permitted = effective = bounding | inheritable on execve, then
/// noNewPrivileges limits permitted to what the runtime left permitted.
#[test]
fn capabilities_of_root() {
    let t = TestEnv::new("proc-caps-root");
    let mut b = t.bundle();
    let bounding = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
    ];
    let permitted = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
    caps(
        &mut b,
        json!({"bounding": bounding, "permitted": permitted, "effective": permitted,
               "inheritable": [], "ambient": []}),
    );
    let r = t.report(&b);
    assert_caps(&r, "bnd", &bounding);
    assert_caps(&r, "prm", &permitted);
    assert_caps(&r, "eff", &permitted);
    assert_caps(&r, "inh", &[]);
    assert_caps(&r, "amb", &[]);
}

/// A non-root user keeps only its ambient capabilities across execve.
#[test]
fn capabilities_of_non_root_with_ambient() {
    let t = TestEnv::new("proc-caps-user");
    let mut b = t.bundle();
    b.process()["user"] = json!({"uid": 1000, "gid": 1000});
    caps(
        &mut b,
        json!({"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
               "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
               "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
               "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
               "ambient": ["CAP_NET_BIND_SERVICE"]}),
    );
    let r = t.report(&b);
    assert_caps(
        &r,
        "bnd",
        &["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
    );
    assert_caps(&r, "inh", &["CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    assert_caps(&r, "amb", &["CAP_NET_BIND_SERVICE"]);
    assert_caps(&r, "prm", &["CAP_NET_BIND_SERVICE"]);
    assert_caps(&r, "eff", &["CAP_NET_BIND_SERVICE"]);
}

#[test]
fn capabilities_of_non_root_without_ambient() {
    let t = TestEnv::new("proc-caps-noamb");
    let mut b = t.bundle();
    b.process()["user"] = json!({"uid": 1000, "gid": 1000});
    let kill = ["CAP_KILL"];
    caps(
        &mut b,
        json!({"bounding": kill, "permitted": kill, "effective": kill}),
    );
    let r = t.report(&b);
    assert_caps(&r, "bnd", &kill);
    for set in ["prm", "eff", "inh", "amb"] {
        assert_caps(&r, set, &[]);
    }
}

#[test]
fn no_capabilities_at_all() {
    let t = TestEnv::new("proc-caps-none");
    let mut b = t.bundle();
    b.process().as_object_mut().unwrap().remove("capabilities");
    let r = t.report(&b);
    for set in ["bnd", "prm", "eff", "inh", "amb"] {
        assert_caps(&r, set, &[]);
    }
}

#[test]
fn rlimits() {
    let t = TestEnv::new("proc-rlimits");
    let mut b = t.bundle();
    b.process()["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        {"type": "RLIMIT_MSGQUEUE", "soft": 4096, "hard": 8192},
    ]);
    let r = t.report(&b);
    assert_eq!(r.rlimit("RLIMIT_NOFILE"), (100, 200));
    assert_eq!(r.rlimit("RLIMIT_CORE"), (0, 0));
    assert_eq!(r.rlimit("RLIMIT_MSGQUEUE"), (4096, 8192));
}

#[test]
fn no_new_privileges_on_and_off() {
    let t = TestEnv::new("proc-nnp");
    for (nnp, want) in [(true, 1), (false, 0)] {
        let mut b = t.bundle();
        b.process()["noNewPrivileges"] = json!(nnp);
        assert_eq!(
            t.report(&b).num("no_new_privs"),
            want,
            "noNewPrivileges {nnp}"
        );
    }
}

#[test]
fn seccomp_is_off_without_a_profile() {
    let t = TestEnv::new("proc-seccomp");
    let b = t.bundle();
    assert_eq!(t.report(&b).num("seccomp"), 0);
}

#[test]
fn cwd() {
    let t = TestEnv::new("proc-cwd");
    let mut b = t.bundle();
    b.process()["cwd"] = json!("/tmp");
    assert_eq!(t.report(&b).str("cwd"), "/tmp");
}

/// The environment is exactly `process.env` (runc adds HOME from /etc/passwd when it is
/// missing); nothing of the runtime's own environment leaks in.
#[test]
fn environment_is_exactly_process_env() {
    let t = TestEnv::new("proc-env");
    let mut b = t.bundle();
    b.env("FOO=bar").env("EMPTY=").env("WITH_EQUALS=a=b");
    let want: Vec<String> = b.spec["process"]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let r = t.report(&b);
    let mut got = r.env();
    assert!(
        got.contains(&"HOME=/root".to_string()),
        "HOME not set: {got:?}"
    );
    got.retain(|kv| kv != "HOME=/root");
    let (mut got_sorted, mut want_sorted) = (got.clone(), want.clone());
    got_sorted.sort();
    want_sorted.sort();
    assert_eq!(got_sorted, want_sorted);
    assert_eq!(r.env_var(RUNTIME_ONLY_VAR), None);
}

/// The container gets fds 0-2 only.
#[test]
fn only_stdio_fds() {
    let t = TestEnv::new("proc-fds");
    let b = t.bundle();
    let pid = t.create_and_start(&b);
    assert_eq!(host::exit_status(pid), 0);
    assert_eq!(b.report().fd_numbers(), [0, 1, 2]);
}

fn leaked_file(b: &berth_integration::Bundle) -> OwnedFd {
    let path = b.dir.join("leaked-fd");
    fs::write(&path, "secret").unwrap();
    fs::File::open(&path).unwrap().into()
}

/// containerd leaks its socket to `create` as fd 3 without close-on-exec: the container must
/// not get it.
#[test]
fn leaked_fd_3_does_not_reach_the_container() {
    let t = TestEnv::new("proc-fd3");
    let b = t.bundle();
    t.create_with(&b, &[], Some(leaked_file(&b))).ok();
    t.start(&b).ok();
    assert_eq!(host::exit_status(b.pid()), 0);
    assert_eq!(b.report().fd_numbers(), [0, 1, 2]);
}

#[test]
fn preserve_fds_passes_fd_3() {
    let t = TestEnv::new("proc-preserve");
    let b = t.bundle();
    t.create_with(&b, &["--preserve-fds", "1"], Some(leaked_file(&b)))
        .ok();
    t.start(&b).ok();
    assert_eq!(host::exit_status(b.pid()), 0);
    let r = b.report();
    assert_eq!(r.fd_numbers(), [0, 1, 2, 3]);
    let (_, target) = &r.fds()[3];
    assert!(target.ends_with("leaked-fd"), "fd 3 is {target}");
}

#[test]
fn oom_score_adj() {
    let t = TestEnv::new("proc-oom");
    let mut b = t.bundle();
    b.process()["oomScoreAdj"] = json!(123);
    assert_eq!(t.report(&b).num("oom_score_adj"), 123);
}

/// The process starts with an empty signal mask and default dispositions, whatever the
/// runtime did with signals.
#[test]
fn clean_signal_state() {
    let t = TestEnv::new("proc-signals");
    let mut b = t.bundle();
    b.payload(&["signals"]);
    let out = t.run(&b);
    out.ok();
    let v = berth_integration::payload::last_json(&out.stdout);
    assert_eq!(v, json!({"blocked": [], "ignored": [], "handled": []}));
}

/// Defaults a runtime must not change: normal scheduling, no nice, the Linux personality.
#[test]
fn default_scheduling_and_personality() {
    let t = TestEnv::new("proc-sched");
    let b = t.bundle();
    let r = t.report(&b);
    assert_eq!(r.0["sched"]["policy"], 0, "SCHED_OTHER");
    assert_eq!(r.num("nice"), 0);
    assert_eq!(r.num("personality") & 0xff, 0, "PER_LINUX");
}

#[test]
fn personality_linux32() {
    if runc_differs("runc 1.1.5 does not implement linux.personality") {
        return;
    }
    let t = TestEnv::new("proc-persona");
    let mut b = t.bundle();
    b.linux()["personality"] = json!({"domain": "LINUX32"});
    assert_eq!(t.report(&b).num("personality") & 0xff, 8, "PER_LINUX32");
}

#[test]
fn scheduler_and_io_priority() {
    if runc_differs("runc 1.1.5 does not implement process.scheduler / process.ioPriority") {
        return;
    }
    let t = TestEnv::new("proc-prio");
    let mut b = t.bundle();
    b.process()["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
    b.process()["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    let r = t.report(&b);
    assert_eq!(r.0["sched"]["policy"], 3, "SCHED_BATCH");
    assert_eq!(r.num("nice"), 5);
    assert_eq!(r.0["ioprio"], json!({"class": 2, "data": 6}));
}

/// `linux.resources.pids.limit` stops a fork bomb inside the container.
#[test]
fn pids_limit_stops_a_fork_bomb() {
    let t = TestEnv::new("proc-pids");
    let mut b = t.bundle();
    b.linux()["resources"]["pids"] = json!({"limit": 10});
    b.payload(&["forkbomb", "100"]);
    let out = t.run(&b);
    out.ok();
    let v = berth_integration::payload::last_json(&out.stdout);
    assert_eq!(v["errno"], "EAGAIN", "{v}");
    assert!(v["forked"].as_i64().unwrap() < 10, "{v}");
}

/// `linux.seccomp` is installed (Seccomp: 2) and its rules apply to the process.
#[test]
fn seccomp_filter_applies() {
    let t = TestEnv::new("proc-seccomp-on");
    let mut b = t.bundle();
    b.add_mount(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    b.linux()["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    });
    b.sh("mkdir /tmp/blocked 2>&1; /bin/payload");
    let out = t.run(&b);
    out.ok();
    assert!(
        out.stdout.contains("Operation not permitted"),
        "mkdir was allowed: {out}"
    );
    assert_eq!(Report::parse(&out.stdout).num("seccomp"), 2);
}
