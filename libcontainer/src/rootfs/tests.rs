//! End-to-end checks of `prepare` → `apply_sysctl` → `pivot` → `finalize` on a scratch rootfs,
//! each in a child cloned into new mount, ipc, uts and network namespaces: the child makes `/`
//! rslave before mounting anything and its mount namespace ends with it, so nothing reaches the
//! host. The checks run in the child after the pivot; failures come back through a file.
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::statvfs::{statvfs, FsFlags};
use oci_spec::runtime::Spec;
use serde_json::json;

use super::*;
use crate::sys::process::{self as proc, clone3};

type Check = std::result::Result<(), String>;

/// A scratch bundle: `rootfs/` (a few directories and an absolute and a relative symlink that
/// point out of it), a bind source `data/`, a file `hostfile`, and `outside/`, which no step
/// may touch.
struct Bundle(PathBuf);

impl Bundle {
    fn new(name: &str) -> Bundle {
        let dir = std::env::temp_dir().join(format!("berth-rootfs-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let rootfs = dir.join("rootfs");
        for d in ["etc", "proc", "sys", "dev", "mnt"] {
            fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        fs::write(rootfs.join("marker"), "rootfs").unwrap();
        if Path::new("/bin/busybox").exists() {
            fs::create_dir_all(rootfs.join("bin")).unwrap();
            fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
            std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
        }
        fs::create_dir_all(dir.join("data")).unwrap();
        fs::write(dir.join("data/file"), "data").unwrap();
        fs::write(dir.join("hostfile"), "host").unwrap();
        fs::create_dir_all(dir.join("outside")).unwrap();
        std::os::unix::fs::symlink(dir.join("outside"), rootfs.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../../outside", rootfs.join("etc/rel")).unwrap();
        Bundle(dir)
    }

    fn rootfs(&self) -> PathBuf {
        self.0.join("rootfs")
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// How the child is set up.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Pivot,
    /// `--no-pivot`, with a cgroup namespace.
    NoPivot,
    /// New user and pid namespaces (container root = host uid `USERNS_BASE`), but the host's
    /// network namespace, so that sysfs cannot be mounted.
    UserNs,
}

const USERNS_BASE: u32 = 100_000;

/// Runs the four steps and then `check` in a child in new namespaces.
fn run(
    bundle: &Bundle,
    spec: serde_json::Value,
    mode: Mode,
    check: impl FnOnce() -> Check,
) -> Check {
    let spec: Spec = serde_json::from_value(spec).map_err(|e| e.to_string())?;
    validate(&spec).map_err(|e| e.to_string())?;
    let result_path = bundle.0.join("result");
    let mut result = fs::File::create(&result_path).unwrap();
    let rootfs = bundle.rootfs();
    let mut namespaces =
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS;
    if mode == Mode::UserNs {
        namespaces |= CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWPID;
    } else {
        namespaces |= CloneFlags::CLONE_NEWNET;
    }
    if mode == Mode::NoPivot {
        namespaces |= CloneFlags::CLONE_NEWCGROUP;
    }
    let opts = proc::Clone {
        namespaces,
        ..proc::Clone::default()
    };
    let (go_r, go_w) = nix::unistd::pipe().unwrap();
    let (pid, _pidfd) = clone3(opts, || {
        let cfg = RootfsConfig {
            spec: &spec,
            rootfs: &rootfs,
            bundle: &bundle.0,
            no_pivot: mode == Mode::NoPivot,
            userns: mode == Mode::UserNs,
            cgroupns: crate::namespaces::Plan::from_spec(&spec)
                .has(nix::sched::CloneFlags::CLONE_NEWCGROUP),
            join_cgroups: &|| Ok(()),
        };
        let steps = || -> Check {
            let mut go = [0u8; 1];
            nix::unistd::read(&go_r, &mut go).map_err(|e| format!("sync: {e}"))?;
            if mode == Mode::UserNs {
                let (u, g) = (nix::unistd::Uid::from_raw(0), nix::unistd::Gid::from_raw(0));
                nix::unistd::setresgid(g, g, g).map_err(|e| format!("setresgid: {e}"))?;
                nix::unistd::setresuid(u, u, u).map_err(|e| format!("setresuid: {e}"))?;
            }
            prepare(&cfg).map_err(|e| format!("prepare: {e}"))?;
            let proc = crate::procfs::ProcFs::open_host().map_err(|e| format!("procfs: {e}"))?;
            apply_sysctl(&cfg, &proc).map_err(|e| format!("sysctl: {e}"))?;
            pivot(&cfg).map_err(|e| format!("pivot: {e}"))?;
            finalize(&cfg).map_err(|e| format!("finalize: {e}"))?;
            check()
        };
        match steps() {
            Ok(()) => 0,
            Err(e) => {
                let _ = result.write_all(e.as_bytes());
                1
            }
        }
    })
    .map_err(|e| format!("clone3: {e}"))?;
    if mode == Mode::UserNs {
        for map in ["uid_map", "gid_map"] {
            fs::write(
                format!("/proc/{pid}/{map}"),
                format!("0 {USERNS_BASE} 65536"),
            )
            .unwrap();
        }
    }
    nix::unistd::write(&go_w, b"g").unwrap();
    let status = nix::sys::wait::waitpid(pid, None).map_err(|e| e.to_string())?;
    let mut msg = String::new();
    fs::File::open(&result_path)
        .unwrap()
        .read_to_string(&mut msg)
        .unwrap();
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    if mounts.contains(bundle.0.to_str().unwrap()) {
        return Err(format!("a mount leaked to the test's namespace:\n{mounts}"));
    }
    if fs::read_dir(bundle.0.join("outside"))
        .unwrap()
        .next()
        .is_some()
    {
        return Err("something was created outside the rootfs".into());
    }
    match status {
        nix::sys::wait::WaitStatus::Exited(_, 0) => Ok(()),
        s => Err(format!("{s:?}: {msg}")),
    }
}

fn base(extra: serde_json::Value) -> serde_json::Value {
    let mut spec = json!({
        "ociVersion": "1.3.0",
        "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "root": {"path": "rootfs"},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}
        ],
        "linux": {"namespaces": [{"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}]}
    });
    for (k, v) in extra.as_object().unwrap() {
        match (k.as_str(), v) {
            ("mounts", serde_json::Value::Array(more)) => spec["mounts"]
                .as_array_mut()
                .unwrap()
                .extend(more.iter().cloned()),
            ("linux", serde_json::Value::Object(l)) => {
                for (lk, lv) in l {
                    spec["linux"][lk] = lv.clone();
                }
            }
            _ => spec[k] = v.clone(),
        }
    }
    spec
}

fn ensure(ok: bool, what: &str) -> Check {
    if ok {
        Ok(())
    } else {
        Err(what.to_string())
    }
}

fn erofs(path: &str) -> Check {
    match fs::write(path, "x") {
        Err(e) if e.raw_os_error() == Some(libc::EROFS) => Ok(()),
        r => Err(format!("write {path}: expected EROFS, got {r:?}")),
    }
}

fn ro(path: &str) -> bool {
    statvfs(path).is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY))
}

fn full_check(outside: &Path) -> Check {
    ensure(
        std::env::current_dir().ok() == Some(PathBuf::from("/")),
        "cwd is /",
    )?;
    ensure(
        fs::read_to_string("/marker").ok().as_deref() == Some("rootfs"),
        "rootfs is /",
    )?;
    // Devices, symlinks, ptmx.
    let null = fs::metadata("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
    ensure(
        null.file_type().is_char_device() && null.rdev() == libc::makedev(1, 3),
        "/dev/null",
    )?;
    ensure(
        null.permissions().mode() & 0o7777 == 0o666,
        "/dev/null mode 0666",
    )?;
    let fuse = fs::metadata("/dev/fuse").map_err(|e| format!("/dev/fuse: {e}"))?;
    ensure(
        fuse.permissions().mode() & 0o7777 == 0o600 && fuse.uid() == 1000,
        "/dev/fuse owner",
    )?;
    ensure(
        fs::metadata("/dev/fifo").is_ok_and(|m| m.file_type().is_fifo()),
        "/dev/fifo",
    )?;
    ensure(
        fs::read_link("/dev/fd").ok() == Some("/proc/self/fd".into()),
        "/dev/fd link",
    )?;
    ensure(
        fs::read_link("/dev/stderr").ok() == Some("/proc/self/fd/2".into()),
        "/dev/stderr",
    )?;
    ensure(
        fs::read_link("/dev/ptmx").ok() == Some("pts/ptmx".into()),
        "/dev/ptmx link",
    )?;
    ensure(fs::metadata("/dev/ptmx").is_ok(), "/dev/ptmx resolves")?;
    fs::write("/dev/shm/x", "w").map_err(|e| format!("/dev/shm writable: {e}"))?;
    // Binds: relative source, ro+nosuid remount, file bind, recursive read-only.
    ensure(
        fs::read_to_string("/data/file").ok().as_deref() == Some("data"),
        "/data bind",
    )?;
    erofs("/data/new")?;
    let st = statvfs("/data").map_err(|e| e.to_string())?;
    ensure(st.flags().contains(FsFlags::ST_NOSUID), "/data nosuid")?;
    ensure(
        fs::read_to_string("/etc/hostfile").ok().as_deref() == Some("host"),
        "file bind",
    )?;
    erofs("/etc/hostfile")?;
    ensure(ro("/rro") && ro("/rro/inner"), "rro is recursive")?;
    ensure(
        !ro("/plain/inner") && ro("/plain"),
        "ro alone is not recursive",
    )?;
    // Symlinked destinations landed inside the rootfs.
    ensure(
        outside.join("x").is_dir(),
        "absolute symlink target inside root",
    )?;
    ensure(
        Path::new("/outside/y").is_dir(),
        "relative symlink target inside root",
    )?;
    // sysfs and cgroup, read-only.
    ensure(ro("/sys"), "/sys ro")?;
    ensure(
        Path::new("/sys/fs/cgroup")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some()),
        "cgroup dirs",
    )?;
    ensure(ro("/sys/fs/cgroup"), "/sys/fs/cgroup ro")?;
    // Masked and read-only paths, sysctl.
    let mut kcore = Vec::new();
    if let Ok(mut f) = fs::File::open("/proc/kcore") {
        f.read_to_end(&mut kcore).map_err(|e| e.to_string())?;
        ensure(kcore.is_empty(), "/proc/kcore masked")?;
    }
    ensure(
        Path::new("/sys/firmware")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_none()),
        "/sys/firmware masked",
    )?;
    ensure(ro("/proc/sys"), "/proc/sys read-only")?;
    let fwd = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_default();
    ensure(fwd.trim() == "1", "net.ipv4.ip_forward written")?;
    let shm = fs::read_to_string("/proc/sys/kernel/shmmni").unwrap_or_default();
    ensure(shm.trim() == "1234", "kernel.shmmni written")?;
    // root.readonly.
    erofs("/newfile")?;
    // A real program sees the same thing.
    if Path::new("/bin/busybox").exists() {
        let script = "test -c /dev/null && test -L /dev/ptmx && test -e /dev/pts/ptmx \
            && ! touch /x 2>/dev/null && echo hi > /dev/shm/hi && cat /dev/shm/hi";
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", script])
            .output()
            .map_err(|e| format!("run /bin/sh: {e}"))?;
        ensure(out.stdout == b"hi\n", "busybox sh in the container")?;
    }
    Ok(())
}

#[test]
fn full_container_rootfs() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let b = Bundle::new("full");
    let r = b.rootfs();
    let outside = b.0.join("outside");
    let inner = r.join("mnt");
    let spec = base(json!({
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
            {"destination": "data", "type": "bind", "source": "data", "options": ["rbind", "ro", "nosuid"]},
            {"destination": "/etc/hostfile", "type": "bind", "source": "hostfile", "options": ["bind", "ro"]},
            {"destination": "/mnt", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/mnt/inner", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/rro", "type": "none", "source": inner, "options": ["rbind", "rro", "rprivate"]},
            {"destination": "/plain", "type": "none", "source": inner, "options": ["rbind", "ro"]},
            {"destination": "/abs/x", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/etc/rel/y", "type": "tmpfs", "source": "tmpfs"}
        ],
        "linux": {
            "devices": [
                {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600, "uid": 1000},
                {"path": "/dev/fifo", "type": "p"}
            ],
            "maskedPaths": ["/proc/kcore", "/proc/acpi", "/proc/nonexistent", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
            "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}
        }
    }));
    run(&b, spec, Mode::Pivot, || full_check(&outside)).unwrap();
}

/// `unified`: the host has a cgroup2 tree at /sys/fs/cgroup/unified (a hybrid host), which
/// the container must then see too.
fn no_pivot_check(unified: bool) -> Check {
    ensure(
        fs::read_to_string("/marker").ok().as_deref() == Some("rootfs"),
        "rootfs is /",
    )?;
    ensure(fs::metadata("/dev/null").is_ok(), "/dev/null")?;
    let mounts = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    ensure(mounts.contains(" /dev/pts "), "/dev/pts mounted")?;
    // A cgroup namespace: each hierarchy is a new mount of its root, which is the own cgroup.
    ensure(
        mounts.contains(" / /sys/fs/cgroup/memory "),
        "memory hierarchy mounted",
    )?;
    ensure(
        Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists(),
        "memory files",
    )?;
    ensure(
        Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists() == unified,
        "unified mounted as on the host",
    )?;
    ensure(!ro("/sys/fs/cgroup/memory"), "rw cgroup mount")
}

#[test]
fn no_pivot_with_cgroup_namespace() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let b = Bundle::new("nopivot");
    let spec = base(json!({
        "mounts": [{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid"]}],
        "linux": {
            "rootfsPropagation": "rslave",
            "namespaces": [{"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}, {"type": "cgroup"}]
        }
    }));
    let unified = Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists();
    run(&b, spec, Mode::NoPivot, || no_pivot_check(unified)).unwrap();
}

fn planted_null_check() -> Check {
    Err("finalize must refuse a /dev/null that is not the null device".into())
}

#[test]
fn masked_paths_refuse_planted_dev_null() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    // /dev is not a tmpfs here and the image has /dev/null as a symlink to a file: the node
    // is left alone (as runc), and masking must then fail instead of binding the file.
    let b = Bundle::new("planted");
    fs::write(b.rootfs().join("secret"), "s").unwrap();
    std::os::unix::fs::symlink("/secret", b.rootfs().join("dev/null")).unwrap();
    let mut spec = base(json!({"linux": {"maskedPaths": ["/proc/kcore"]}}));
    spec["mounts"] = json!([{"destination": "/proc", "type": "proc", "source": "proc"}]);
    let err = run(&b, spec, Mode::Pivot, planted_null_check).unwrap_err();
    assert!(err.contains("not the null device"), "{err}");
}

fn userns_check() -> Check {
    ensure(
        fs::read_to_string("/marker").ok().as_deref() == Some("rootfs"),
        "rootfs is /",
    )?;
    let null = fs::metadata("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
    ensure(
        null.file_type().is_char_device() && null.rdev() == libc::makedev(1, 3),
        "/dev/null bound",
    )?;
    ensure(
        fs::metadata("/dev/fuse").is_ok_and(|m| m.file_type().is_char_device()),
        "/dev/fuse bound",
    )?;
    ensure(
        ro("/sys") && Path::new("/sys/kernel").is_dir(),
        "/sys bound read-only",
    )?;
    ensure(ro("/sys/fs/cgroup"), "cgroup read-only")?;
    erofs("/data/new")?;
    ensure(ro("/proc/sys"), "/proc/sys read-only")?;
    let mut kcore = Vec::new();
    if let Ok(mut f) = fs::File::open("/proc/kcore") {
        f.read_to_end(&mut kcore).map_err(|e| e.to_string())?;
        ensure(kcore.is_empty(), "/proc/kcore masked")?;
    }
    let shm = fs::read_to_string("/proc/sys/kernel/shmmni").unwrap_or_default();
    ensure(shm.trim() == "4321", "kernel.shmmni written")?;
    erofs("/newfile")
}

#[test]
fn user_namespace() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let b = Bundle::new("userns");
    let chown = |p: &Path| std::os::unix::fs::lchown(p, Some(USERNS_BASE), Some(USERNS_BASE));
    for entry in walk(&b.rootfs()) {
        chown(&entry).unwrap();
    }
    let spec = base(json!({
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue"},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid"]},
            {"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "ro", "nosuid", "nodev"]}
        ],
        "linux": {
            "namespaces": [{"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "user"}, {"type": "pid"}],
            "uidMappings": [{"containerID": 0, "hostID": USERNS_BASE, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": USERNS_BASE, "size": 65536}],
            "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}],
            "maskedPaths": ["/proc/kcore", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys"],
            "sysctl": {"kernel.shmmni": "4321"}
        }
    }));
    run(&b, spec, Mode::UserNs, userns_check).unwrap();
}

/// Every path under `dir`, `dir` included, without following symlinks.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in fs::read_dir(dir).unwrap().flatten() {
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}
