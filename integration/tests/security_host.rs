//! Host protection, attacked from inside the container: the runtime binary (CVE-2019-5736
//! class), leaked fds and working directories (CVE-2024-21626 class), procfs writes redirected
//! by the container's mounts (CVE-2025-52565/52881 classes), and symlinks planted in the image
//! for maskedPaths and /dev/console (CVE-2025-31133/52565 classes).
use std::fs;
use std::os::unix::fs::symlink;

use berth_integration::payload::last_json;
use berth_integration::{host, Bundle, TestEnv};
use serde_json::{json, Value};

/// The payload's `exe 1` answer: every way to reach the binary of pid 1 must fail.
#[track_caller]
fn assert_exe_unreachable(answer: &Value) {
    for key in ["readlink", "rdonly", "wronly"] {
        assert_eq!(answer[key], "EACCES", "{key}: {answer}");
    }
    assert!(
        answer["reopen_wronly"]
            .as_str()
            .is_some_and(|r| r.starts_with("O_PATH: ")),
        "{answer}"
    );
    assert_eq!(answer["map_files"], "0", "{answer}");
}

/// A created container's init is still the berth image, waiting for `start`. A process
/// `berth exec`'d into the container sees it as pid 1 and attacks it; so does a second
/// container that joins the first one's pid namespace. Then the berth binary is unchanged.
#[test]
fn runtime_binary_is_unreachable_from_a_created_container() {
    let t = TestEnv::new("sec-exe");
    let bin = t.rt.bin.clone();
    let before = fs::read(&bin).unwrap();
    let b = t.bundle();
    t.create(&b).ok();
    let exec = t
        .call(&b, ["exec", &b.id, "/bin/payload", "exe", "1"])
        .run();
    exec.ok();
    assert_exe_unreachable(&last_json(&exec.stdout));

    let mut other = t.bundle();
    let ns = format!("/proc/{}/ns/pid", b.pid());
    other.namespace("pid", Some(ns.as_ref()));
    other.payload(&["exe", "1"]);
    let out = t.run(&other);
    out.ok();
    assert_exe_unreachable(&last_json(&out.stdout));
    assert_eq!(t.status(&b), "created");
    assert!(
        fs::read(&bin).unwrap() == before,
        "the berth binary changed"
    );
}

/// While `berth exec` runs again and again, a process in the container scans every pid for
/// a readable `exe` (the exec'd process is the berth image until its `execve`). It never
/// finds one, and the binary is unchanged.
#[test]
fn runtime_binary_is_unreachable_during_exec() {
    let t = TestEnv::new("sec-exe-race");
    let bin = t.rt.bin.clone();
    let before = fs::read(&bin).unwrap();
    let mut b = t.bundle();
    let shared = b.share("out", "/out", &["rw"]);
    b.sh("while [ ! -e /out/stop ]; do for p in /proc/[0-9]*; do \
         l=$(readlink $p/exe 2>/dev/null) && echo \"$p $l\" >> /out/seen; \
         o=$( (exec 3< $p/exe && readlink /proc/self/fd/3) 2>/dev/null) && \
         echo \"$p $o\" >> /out/opened; \
         done; done; echo done > /out/finished");
    t.run_detached(&b).ok();
    for _ in 0..20 {
        t.call(&b, ["exec", &b.id, "/bin/true"]).run().ok();
    }
    fs::write(shared.join("stop"), "").unwrap();
    berth_integration::wait_for_file(&shared.join("finished"));
    let seen = fs::read_to_string(shared.join("seen")).unwrap_or_default();
    // The container's own processes (sh, busybox) are readable; nothing else.
    for line in seen.lines() {
        assert!(line.ends_with("/bin/busybox"), "reachable: {line}\n{seen}");
    }
    let opened = fs::read_to_string(shared.join("opened")).unwrap_or_default();
    assert!(!opened.is_empty(), "the scan never ran");
    for line in opened.lines() {
        assert!(line.ends_with("/bin/busybox"), "opened: {line}\n{opened}");
    }
    assert!(
        fs::read(&bin).unwrap() == before,
        "the berth binary changed"
    );
}

/// The payload's `escape` answer: cwd and root inside the container, and `..` from the cwd
/// ends at the container's `/`.
#[track_caller]
fn assert_confined(answer: &Value, cwd: &str) {
    assert_eq!(answer["root"], "/", "{answer}");
    assert_eq!(answer["cwd"], cwd, "{answer}");
    let up = &answer["after_dotdot"];
    assert_eq!(
        up["dot"], up["root"],
        "`..` leads out of the root: {answer}"
    );
    assert_eq!(answer["cwd_after"], "/", "{answer}");
}

/// Init's and an exec'd process's fds (only 0-2) and cwd, for a plain cwd.
#[test]
fn no_host_fd_or_directory_reaches_the_container() {
    let t = TestEnv::new("sec-fds");
    let mut b = t.bundle();
    b.process()["cwd"] = json!("/tmp");
    b.payload(&["escape"]);
    t.create(&b).ok();
    let exec = t.call(&b, ["exec", &b.id, "/bin/payload", "escape"]).run();
    exec.ok();
    assert_confined(&last_json(&exec.stdout), "/tmp");
    let exec = t.call(&b, ["exec", &b.id, "/bin/payload"]).run();
    exec.ok();
    let fds: Vec<i64> = berth_integration::Report::parse(&exec.stdout).fd_numbers();
    assert_eq!(fds, [0, 1, 2], "exec'd process fds");
    t.start(&b).ok();
    assert_eq!(host::exit_status(b.pid()), 0);
    assert_confined(&last_json(&b.stdout()), "/tmp");

    let b = t.bundle();
    assert_eq!(t.report(&b).fd_numbers(), [0, 1, 2], "init's fds");
}

/// `process.cwd` naming one of the runtime's fds through /proc/self/fd (the CVE-2024-21626
/// attack): the container fails to start (or the exec fails) with an error naming
/// process.cwd, or, were it to run, its cwd is inside the root — for init and for an exec'd
/// process.
#[test]
fn cwd_through_proc_self_fd_cannot_escape() {
    let t = TestEnv::new("sec-cwd-fd");
    for n in 3..12 {
        let cwd = format!("/proc/self/fd/{n}");
        let mut b = t.bundle();
        b.process()["cwd"] = json!(cwd);
        b.payload(&["escape"]);
        let out = t.run(&b);
        if !out.success() {
            assert!(out.mentions("process.cwd"), "{out}");
        } else {
            let answer = last_json(&out.stdout);
            let up = &answer["after_dotdot"];
            assert_eq!(up["dot"], up["root"], "cwd {cwd}: {answer}");
            assert!(
                answer["cwd"].as_str().is_some_and(|c| c.starts_with('/')),
                "cwd {cwd}: {answer}"
            );
        }
    }
    let mut b = t.bundle();
    b.payload(&["sleep", "100"]);
    t.run_detached(&b).ok();
    for n in 3..12 {
        let cwd = format!("/proc/self/fd/{n}");
        let out = t
            .call(&b, ["exec", "--cwd", &cwd, &b.id, "/bin/payload", "escape"])
            .run();
        if out.success() {
            let answer = last_json(&out.stdout);
            let up = &answer["after_dotdot"];
            assert_eq!(up["dot"], up["root"], "exec cwd {cwd}: {answer}");
        }
    }
}

/// A bundle whose image plants `name` as a symlink to `target`.
fn plant(b: &Bundle, name: &str, target: &str) {
    let path = b.rootfs().join(name.trim_start_matches('/'));
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = fs::remove_file(&path);
    symlink(target, &path).unwrap();
}

/// `/dev` is part of the image (no tmpfs on it) and `/dev/null` is a symlink to a host-
/// sensitive file: masking a path with it must not bind that file, so create fails or the
/// masked path reads empty; the host file is untouched.
#[test]
fn planted_dev_null_symlink_is_refused() {
    let t = TestEnv::new("sec-devnull");
    let victim = t.dir.join("victim");
    fs::write(&victim, "host secret\n").unwrap();
    let mut b = t.bundle();
    b.spec["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev");
    plant(&b, "/dev/null", victim.to_str().unwrap());
    b.payload(&["read", "/proc/kcore"]);
    let out = t.run(&b);
    if out.success() {
        let answer = last_json(&out.stdout);
        assert!(
            !answer.to_string().contains("host secret"),
            "masked path shows the host file: {answer}"
        );
    }
    assert_eq!(fs::read_to_string(&victim).unwrap(), "host secret\n");
}

/// A maskedPath that the image made a symlink to a host path is not followed out of the
/// root: the host file stays visible to nobody and unchanged.
#[test]
fn masked_path_symlink_is_not_followed_to_the_host() {
    let t = TestEnv::new("sec-masked");
    let victim = t.dir.join("victim");
    fs::write(&victim, "host secret\n").unwrap();
    let mut b = t.bundle();
    plant(&b, "/etc/secret", victim.to_str().unwrap());
    b.linux()["maskedPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/etc/secret"));
    b.linux()["readonlyPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/etc/secret"));
    b.payload(&["read", "/etc/secret"]);
    let out = t.run(&b);
    if out.success() {
        assert!(!out.stdout.contains("host secret"), "{out}");
    }
    assert_eq!(fs::read_to_string(&victim).unwrap(), "host secret\n");
    assert!(host::mounts_under(&t.dir).is_empty());
}

/// An image whose /dev/console is a symlink to a host file (with a terminal and /dev not a
/// tmpfs): create fails; the host file is untouched.
#[test]
fn planted_dev_console_symlink_is_refused() {
    let t = TestEnv::new("sec-console");
    let victim = t.dir.join("victim");
    fs::write(&victim, "host file\n").unwrap();
    let mut b = t.bundle();
    b.spec["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev");
    plant(&b, "/dev/console", victim.to_str().unwrap());
    let meta_before = fs::metadata(&victim).unwrap();
    b.process()["terminal"] = json!(true);
    let sock = t.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let sock_arg = sock.display().to_string();
    let out = {
        b.write_config();
        t.create_call(&b, &["--console-socket", &sock_arg]).run()
    };
    drop(listener);
    assert!(
        !out.success(),
        "a symlinked /dev/console was accepted:\n{out}"
    );
    assert!(out.mentions("console"), "{out}");
    let meta = fs::metadata(&victim).unwrap();
    assert_eq!(fs::read_to_string(&victim).unwrap(), "host file\n");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (meta.uid(), meta.mode()),
        (meta_before.uid(), meta_before.mode())
    );
    t.assert_nothing_left(&b);
}

/// The container's config covers `/proc/sys` with a tmpfs and binds a decoy over
/// `/proc/self/oom_score_adj` (the CVE-2025-52881 class: redirecting the runtime's procfs
/// writes). berth's sysctl and oomScoreAdj writes still reach the kernel — seen through a
/// second, clean procfs at /proc2 — and neither the tmpfs nor the decoy receives anything.
#[test]
fn procfs_writes_are_not_redirected_by_the_containers_mounts() {
    let t = TestEnv::new("sec-procfs");
    let mut b = t.bundle();
    let decoy = b.dir.join("decoy");
    fs::write(&decoy, "").unwrap();
    b.add_mount(
        json!({"destination": "/proc/sys", "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "noexec", "nodev"]}),
    );
    b.add_mount(
        json!({"destination": "/proc/self/oom_score_adj", "type": "bind",
                       "source": decoy, "options": ["bind"]}),
    );
    b.add_mount(json!({"destination": "/proc2", "type": "proc", "source": "proc"}));
    b.linux()["readonlyPaths"] = json!([]);
    b.linux()["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    b.process()["oomScoreAdj"] = json!(423);
    b.sh("echo sysctl=$(cat /proc2/sys/net/ipv4/ip_forward); \
         echo oom=$(cat /proc2/self/oom_score_adj); echo tmpfs=$(ls -A /proc/sys | wc -l)");
    let out = t.run(&b);
    if !out.success() {
        // Refusing such mounts is as good: the writes cannot be redirected then either.
        eprintln!("the mounts over /proc were refused:\n{out}");
        assert_eq!(fs::read_to_string(&decoy).unwrap(), "", "{out}");
        return;
    }
    for line in ["sysctl=1", "oom=423", "tmpfs=0"] {
        assert!(out.stdout.lines().any(|l| l == line), "{line}: {out}");
    }
    assert_eq!(
        fs::read_to_string(&decoy).unwrap(),
        "",
        "the decoy got a write"
    );
}

/// The documented limit of the non-dumpable protection (see `launch::hide_runtime_image`):
/// CAP_SYS_PTRACE in the host's user namespace passes the kernel's check. berth warns at
/// create and at exec when a process gets it without a user namespace. Whatever such a
/// process can open, it cannot write the binary while berth runs it, and the test leaves it
/// unchanged.
#[test]
fn cap_sys_ptrace_without_userns_is_warned_about() {
    let t = TestEnv::new("sec-ptrace");
    let bin = t.rt.bin.clone();
    let before = fs::read(&bin).unwrap();
    let mut b = t.bundle();
    let caps = ["CAP_KILL", "CAP_SYS_PTRACE"];
    b.process()["capabilities"] = json!({"bounding": caps, "permitted": caps,
                                         "effective": caps});
    let out = t.create(&b);
    out.ok();
    let warned = |out: &berth_integration::Output| {
        out.log.iter().any(|l| {
            l["level"] == "warning"
                && l["msg"]
                    .as_str()
                    .is_some_and(|m| m.contains("CAP_SYS_PTRACE without a user namespace"))
        })
    };
    assert!(warned(&out), "{out}");
    let exec = t
        .call(&b, ["exec", &b.id, "/bin/payload", "exe", "1"])
        .run();
    exec.ok();
    assert!(warned(&exec), "{exec}");
    let answer = last_json(&exec.stdout);
    assert_eq!(answer["wronly"], "ETXTBSY", "{answer}");
    assert!(
        fs::read(&bin).unwrap() == before,
        "the berth binary changed"
    );

    let plain = t.bundle();
    let out = t.create(&plain);
    out.ok();
    assert!(!warned(&out), "{out}");
}
