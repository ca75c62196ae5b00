//! The container's filesystem: mounts and their options, read-only root and binds, masked and
//! read-only paths, /dev.
use berth_integration::payload::last_json;
use berth_integration::{Bundle, TestEnv};
use serde_json::{json, Value};

/// Runs `script` (sh) in the container and returns its stdout lines.
fn sh_lines(t: &TestEnv, b: &mut Bundle, script: &str) -> Vec<String> {
    b.sh(script);
    let out = t.run(b);
    out.ok();
    out.stdout.lines().map(str::to_string).collect()
}

#[test]
fn default_mounts() {
    let t = TestEnv::new("fs-mounts");
    let b = t.bundle();
    let r = t.report(&b);
    let root = r.mount("/").expect("a root mount");
    assert!(root.read_only(), "root.readonly is true: {root:?}");
    for (target, fstype) in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
    ] {
        let m = r
            .mount(target)
            .unwrap_or_else(|| panic!("no mount at {target}"));
        assert_eq!(m.fstype, fstype, "{target}");
    }
    let dev = r.mount("/dev").unwrap();
    assert!(
        dev.has("nosuid") && dev.has("mode=755") && dev.has("size=65536k"),
        "{dev:?}"
    );
    let shm = r.mount("/dev/shm").unwrap();
    for opt in ["nosuid", "noexec", "nodev", "size=65536k"] {
        assert!(shm.has(opt), "/dev/shm lacks {opt}: {shm:?}");
    }
    assert!(r.mount("/sys").unwrap().read_only());
    // Nothing of the host's mount table shows through.
    for m in r.mounts() {
        assert!(
            !m.target.starts_with("/work") && !m.target.starts_with("/tmp/"),
            "{m:?}"
        );
    }
}

#[test]
fn tmpfs_with_options() {
    let t = TestEnv::new("fs-tmpfs");
    let mut b = t.bundle();
    b.add_mount(json!({
        "destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "noexec", "size=1024k", "mode=1750"],
    }));
    let r = t.report(&b);
    let m = r.mount("/scratch").expect("no tmpfs at /scratch");
    assert_eq!(m.fstype, "tmpfs");
    for opt in ["nosuid", "nodev", "noexec", "size=1024k", "mode=1750"] {
        assert!(m.has(opt), "/scratch lacks {opt}: {m:?}");
    }
}

#[test]
fn read_only_root_and_writable_tmpfs() {
    let t = TestEnv::new("fs-ro-root");
    let mut b = t.bundle();
    b.add_mount(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    let lines = sh_lines(
        &t,
        &mut b,
        "/bin/payload write /x y; /bin/payload write /tmp/x y",
    );
    assert_eq!(lines, ["EROFS", "ok"]);
}

#[test]
fn writable_root() {
    let t = TestEnv::new("fs-rw-root");
    let mut b = t.bundle();
    b.spec["root"]["readonly"] = json!(false);
    let lines = sh_lines(&t, &mut b, "/bin/payload write /written y");
    assert_eq!(lines, ["ok"]);
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("written")).unwrap(),
        "y"
    );
}

#[test]
fn bind_mounts_ro_and_rw() {
    let t = TestEnv::new("fs-bind");
    let mut b = t.bundle();
    let ro = b.share("ro-data", "/ro", &["ro"]);
    let rw = b.share("rw-data", "/rw", &["rw"]);
    std::fs::write(ro.join("file"), "host").unwrap();
    let lines = sh_lines(
        &t,
        &mut b,
        "/bin/payload read /ro/file; /bin/payload write /ro/new x; /bin/payload write /rw/new x; \
         /bin/payload",
    );
    assert_eq!(last_json(&lines[0]), json!({"data": "host"}));
    assert_eq!(lines[1], "EROFS");
    assert_eq!(lines[2], "ok");
    assert_eq!(std::fs::read_to_string(rw.join("new")).unwrap(), "x");
    assert!(!ro.join("new").exists());
    let r = berth_integration::Report::parse(&lines.join("\n"));
    assert!(r.mount("/ro").unwrap().read_only());
    assert!(!r.mount("/rw").unwrap().read_only());
}

/// Masked files read as empty (/dev/null over them), masked directories are empty and
/// read-only; read-only paths cannot be written.
#[test]
fn masked_and_read_only_paths() {
    let t = TestEnv::new("fs-masked");
    let mut b = t.bundle();
    b.linux()["maskedPaths"] = json!([
        "/proc/timer_list",
        "/proc/version",
        "/proc/acpi",
        "/proc/no-such"
    ]);
    b.linux()["readonlyPaths"] = json!(["/proc/sys", "/proc/sysrq-trigger"]);
    let lines = sh_lines(
        &t,
        &mut b,
        "/bin/payload read /proc/version; /bin/payload read /proc/timer_list; \
         /bin/payload write /proc/acpi/x y; /bin/payload write /proc/sys/kernel/hostname x; \
         /bin/payload",
    );
    assert_eq!(
        last_json(&lines[0]),
        json!({"data": ""}),
        "/proc/version is readable"
    );
    assert_eq!(
        last_json(&lines[1]),
        json!({"data": ""}),
        "/proc/timer_list is readable"
    );
    assert_eq!(lines[2], "EROFS", "masked directory writable");
    assert_eq!(lines[3], "EROFS", "/proc/sys writable");
    let r = berth_integration::Report::parse(&lines.join("\n"));
    assert!(r.mount("/proc/sys").unwrap().read_only());
    assert!(r.mount("/proc/acpi").unwrap().read_only());
}

fn stat_all(t: &TestEnv, b: &mut Bundle, paths: &[&str]) -> Vec<Value> {
    let mut args = vec!["stat"];
    args.extend_from_slice(paths);
    b.payload(&args);
    let out = t.run(b);
    out.ok();
    last_json(&out.stdout)
        .as_array()
        .expect("stat prints a list")
        .clone()
}

#[test]
fn default_devices_and_symlinks() {
    let t = TestEnv::new("fs-dev");
    let mut b = t.bundle();
    let devices = [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ];
    let links = [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
        ("/dev/ptmx", "pts/ptmx"),
    ];
    let mut paths: Vec<&str> = devices.iter().map(|d| d.0).collect();
    paths.extend(links.iter().map(|l| l.0));
    let st = stat_all(&t, &mut b, &paths);
    for (i, (path, major, minor)) in devices.iter().enumerate() {
        let s = &st[i];
        assert_eq!(s["type"], "char", "{path}: {s}");
        assert_eq!(
            (s["major"].as_i64(), s["minor"].as_i64()),
            (Some(*major), Some(*minor)),
            "{path}"
        );
        assert_eq!(s["mode"], 0o666, "{path}: {s}");
    }
    for (i, (path, target)) in links.iter().enumerate() {
        let s = &st[devices.len() + i];
        assert_eq!(s["type"], "link", "{path}: {s}");
        assert_eq!(s["target"], *target, "{path}");
    }
}

#[test]
fn configured_device() {
    let t = TestEnv::new("fs-device");
    let mut b = t.bundle();
    b.linux()["devices"] = json!([{
        "path": "/dev/berth-full", "type": "c", "major": 1, "minor": 7,
        "fileMode": 0o640, "uid": 0, "gid": 5,
    }]);
    let st = stat_all(&t, &mut b, &["/dev/berth-full"]);
    let s = &st[0];
    assert_eq!(s["type"], "char", "{s}");
    assert_eq!(
        (s["major"].as_i64(), s["minor"].as_i64()),
        (Some(1), Some(7))
    );
    assert_eq!(s["mode"], 0o640);
    assert_eq!(s["gid"], 5);
}

/// The `/sys/fs/cgroup` mount of `runc spec` (podman and Docker use it too): the container
/// sees its cgroup hierarchies there (on v1 a tmpfs with one mount per hierarchy), all
/// read-only, and cannot write.
#[test]
fn cgroup_mount_is_read_only() {
    let t = TestEnv::new("fs-cgroup");
    let mut b = t.bundle();
    b.add_mount(json!({
        "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
        "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
    }));
    let lines = sh_lines(
        &t,
        &mut b,
        "/bin/payload write /sys/fs/cgroup/x y; /bin/payload",
    );
    // Without CAP_DAC_OVERRIDE a 0555 directory refuses before the read-only check.
    assert!(
        ["EROFS", "EACCES"].contains(&lines[0].as_str()),
        "wrote: {}",
        lines[0]
    );
    let r = berth_integration::Report::parse(&lines.join("\n"));
    let hierarchies: Vec<_> = r
        .mounts()
        .into_iter()
        .filter(|m| m.target.starts_with("/sys/fs/cgroup"))
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .collect();
    assert!(
        !hierarchies.is_empty(),
        "no cgroup hierarchy under /sys/fs/cgroup"
    );
    for m in hierarchies {
        assert!(m.read_only(), "{m:?}");
    }
}
