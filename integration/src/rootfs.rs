//! The test root filesystem: busybox (with relative symlinks for its applets), the static
//! payload at `/bin/payload`, a minimal `/etc`, and empty mount points. It is built once into
//! `<target>/berth-test-rootfs/` and rebuilt only when missing or stale (the payload or busybox
//! changed, or this layout did); each bundle gets a cheap copy made of hard links.
use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use nix::fcntl::{Flock, FlockArg};

use crate::paths::{target_dir, workspace};

/// Bump when the layout below changes, so that cached copies are rebuilt.
const LAYOUT_VERSION: &str = "berth-test-rootfs 1";

/// Where the payload lands inside the rootfs.
pub const PAYLOAD: &str = "/bin/payload";

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
user:x:1000:1000:user:/home/user:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

const GROUP: &str = "root:x:0:\ntty:x:5:\nuser:x:1000:\nnogroup:x:65534:\n";

/// The host's busybox: `$BERTH_BUSYBOX` or `/bin/busybox` (Debian's busybox-static).
pub fn busybox_bin() -> PathBuf {
    std::env::var_os("BERTH_BUSYBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/bin/busybox"))
}

/// The static payload binary: `$BERTH_PAYLOAD`, or built (if needed) from
/// `integration/payload` with its own target directory.
pub fn payload_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_PAYLOAD") {
        return PathBuf::from(p);
    }
    let dir = workspace().join("integration").join("payload");
    let target = dir.join("target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet"])
        .args(["--target", "x86_64-unknown-linux-gnu", "--target-dir"])
        .arg(&target)
        .current_dir(&dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .unwrap_or_else(|e| panic!("run cargo to build the payload: {e}"));
    assert!(status.success(), "building the payload failed: {status}");
    target.join("x86_64-unknown-linux-gnu/release/payload")
}

/// The cached rootfs, built or refreshed on first use in this process.
pub fn cached() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let cache = target_dir().join("berth-test-rootfs");
        let _lock = lock(LockKind::Exclusive);
        let payload = payload_bin();
        let busybox = busybox_bin();
        let stamp = format!(
            "{LAYOUT_VERSION}\n{}\n{}\n",
            identity(&payload),
            identity(&busybox)
        );
        let rootfs = cache.join("rootfs");
        if fs::read_to_string(cache.join("stamp")).ok().as_deref() != Some(&stamp) {
            let tmp = target_dir().join(format!("berth-test-rootfs.tmp-{}", std::process::id()));
            let _ = fs::remove_dir_all(&tmp);
            build(&tmp.join("rootfs"), &payload, &busybox);
            fs::write(tmp.join("stamp"), &stamp).expect("write rootfs stamp");
            match fs::remove_dir_all(&cache) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("remove stale {}: {e}", cache.display()),
            }
            fs::rename(&tmp, &cache).expect("install the test rootfs");
        }
        rootfs
    })
}

/// Fills `dest` (which must not exist) with a copy of the cached rootfs: directories and
/// symlinks are recreated, files are hard links (copies across filesystems).
pub fn populate(dest: &Path) {
    let src = cached();
    let _lock = lock(LockKind::Shared);
    copy_tree(src, dest);
}

/// Size, mtime and path of a file: enough to notice that it was rebuilt or upgraded.
fn identity(path: &Path) -> String {
    let m = fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!(
        "{} {} {}.{}",
        path.display(),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    )
}

enum LockKind {
    Shared,
    Exclusive,
}

/// A lock across test processes: building takes it exclusively, copying shares it.
fn lock(kind: LockKind) -> Flock<OwnedFd> {
    let dir = target_dir();
    fs::create_dir_all(&dir).expect("create target dir");
    let path = dir.join("berth-test-rootfs.lock");
    let file: OwnedFd = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
        .into();
    let arg = match kind {
        LockKind::Shared => FlockArg::LockShared,
        LockKind::Exclusive => FlockArg::LockExclusive,
    };
    Flock::lock(file, arg).unwrap_or_else(|(_, e)| panic!("flock {}: {e}", path.display()))
}

fn build(root: &Path, payload: &Path, busybox: &Path) {
    for (dir, mode) in [
        ("bin", 0o755),
        ("etc", 0o755),
        ("proc", 0o555),
        ("sys", 0o555),
        ("dev", 0o755),
        ("tmp", 0o1777),
        ("root", 0o700),
    ] {
        let path = root.join(dir);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let bin = root.join("bin");
    fs::copy(busybox, bin.join("busybox")).expect("copy busybox");
    fs::copy(payload, bin.join("payload")).expect("copy payload");
    let list = Command::new(busybox)
        .arg("--list")
        .output()
        .expect("run busybox --list");
    assert!(list.status.success(), "busybox --list failed");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "busybox" || applet.contains('/') {
            continue;
        }
        symlink("busybox", bin.join(applet)).expect("applet symlink");
    }
    fs::write(root.join("etc/passwd"), PASSWD).expect("write passwd");
    fs::write(root.join("etc/group"), GROUP).expect("write group");
    fs::write(root.join("etc/hostname"), "berth-test\n").expect("write hostname");
}

fn copy_tree(src: &Path, dest: &Path) {
    let meta = fs::symlink_metadata(src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let t = meta.file_type();
    if t.is_symlink() {
        let target = fs::read_link(src).expect("readlink");
        symlink(target, dest).unwrap_or_else(|e| panic!("symlink {}: {e}", dest.display()));
    } else if t.is_dir() {
        fs::create_dir(dest).unwrap_or_else(|e| panic!("mkdir {}: {e}", dest.display()));
        fs::set_permissions(dest, meta.permissions()).expect("chmod");
        for entry in fs::read_dir(src).expect("read rootfs dir") {
            let entry = entry.expect("read rootfs dir");
            copy_tree(&entry.path(), &dest.join(entry.file_name()));
        }
    } else if fs::hard_link(src, dest).is_err() {
        fs::copy(src, dest).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    }
}
