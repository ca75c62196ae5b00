//! The root's propagation and bind, then `mounts` in the order listed. Each destination is
//! resolved (and created) inside the rootfs by `paths::Root`, and the mount goes onto the
//! resulting fd through its `/proc/self/fd/N` path (the host's `/proc` at this stage).
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;
use nix::sys::statvfs::{statvfs, FsFlags};
use oci_spec::runtime::Mount;

use super::mountinfo::{self, Entry};
use super::options::{root_propagation, MountOptions};
use super::paths::{proc_fd, Kind, Root};
use super::{cgroup, RootfsConfig};
use crate::error::{IoContext, SysContext};
use crate::sys::mount::{mount_setattr, Attr};
use crate::{Error, Result};

const NONE: Option<&str> = None;

/// Sets the propagation of `/` (runc's default: recursively slave, so that nothing the
/// container mounts reaches the host while host mounts still appear), makes the rootfs's parent
/// mount private if it is shared (`pivot_root` refuses a shared parent), and binds the rootfs
/// onto itself so that it is a mount point.
/// Returns the mount table as it was read here, for the rest of the setup (read once).
pub(super) fn prepare_root(cfg: &RootfsConfig) -> Result<Vec<Entry>> {
    let prop = cfg
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(root_propagation)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    mount(NONE, "/", NONE, prop, NONE).sys("mount", format!("/ propagation {prop:?}"))?;
    let entries = mountinfo::read()?;
    if let Some(parent) = mountinfo::containing(&entries, cfg.rootfs).filter(|e| e.shared) {
        mount(NONE, &parent.mount_point, NONE, MsFlags::MS_PRIVATE, NONE).sys(
            "mount",
            format!("make {} private", parent.mount_point.display()),
        )?;
    }
    mount(
        Some(cfg.rootfs),
        cfg.rootfs,
        NONE,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        NONE,
    )
    .sys("mount", format!("bind rootfs {}", cfg.rootfs.display()))?;
    Ok(entries)
}

/// Performs `mounts` in order.
/// `host_mounts`: the mount table read by [`prepare_root`] (the host's cgroup hierarchies).
/// `join_cgroups`: called before a `cgroup` mount or a bind from the host's cgroup tree (it is a
/// no-op after its first call).
pub(super) fn mount_all(
    cfg: &RootfsConfig,
    root: &Root,
    host_mounts: &[Entry],
    join_cgroups: &dyn Fn() -> Result<()>,
) -> Result<()> {
    let label = crate::lsm::mount_label(cfg.spec);
    for (i, m) in cfg.spec.mounts().iter().flatten().enumerate() {
        let opts = MountOptions::for_mount(i, m.options().as_deref())?;
        let typ = m.typ().as_deref().unwrap_or("");
        let dest = m.destination();
        if opts.is_bind() || typ == "bind" {
            let source = bind_source(cfg.bundle, m);
            // The container's own cgroup directories may be the source.
            if source.starts_with("/sys/fs/cgroup") {
                join_cgroups()?;
            }
            bind(root, &source, dest, &opts)?;
        } else if typ == "cgroup" {
            join_cgroups()?;
            cgroup::mount(cfg, root, dest, &opts, host_mounts)?;
        } else {
            filesystem(root, m, typ, &opts, label)?;
        }
    }
    Ok(())
}

/// A bind source relative to the bundle, as runc resolves it.
fn bind_source(bundle: &Path, m: &Mount) -> PathBuf {
    let source = m.source().clone().unwrap_or_default();
    bundle.join(source)
}

/// A bind mount of the host path `source` at `dest`: the destination is created as a directory
/// or an empty file to match the source, then the mount's flags, propagation and recursive
/// attributes are applied.
pub(super) fn bind(root: &Root, source: &Path, dest: &Path, opts: &MountOptions) -> Result<()> {
    let meta = std::fs::metadata(source).ctx("stat bind source", source)?;
    let kind = if meta.is_dir() { Kind::Dir } else { Kind::File };
    let target = root.create(dest, kind)?;
    let flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
    mount(Some(source), proc_fd(&target).as_str(), NONE, flags, NONE).sys(
        "mount",
        format!("bind {} on {}", source.display(), root.describe(dest)),
    )?;
    finish(root, dest, opts, true)
}

/// A new filesystem instance (or a remount) at `dest`, which must be a directory. `label` is
/// `linux.mountLabel`.
fn filesystem(
    root: &Root,
    m: &Mount,
    typ: &str,
    opts: &MountOptions,
    label: Option<&str>,
) -> Result<()> {
    let dest = m.destination();
    let target = root.create(dest, Kind::Dir)?;
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
    // lsm: the SELinux mount label, as a `context=` option.
    let data = crate::lsm::label_mount_data(opts.data_string(), typ, label);
    let data = Some(data.as_str()).filter(|d| !d.is_empty());
    let r = mount(
        Some(&source),
        proc_fd(&target).as_str(),
        Some(typ).filter(|t| !t.is_empty()),
        opts.flags,
        data,
    );
    drop(target);
    let err = match r {
        Ok(()) => return finish(root, dest, opts, false),
        Err(e) => e,
    };
    match (err, fallback(typ)) {
        // Without a network (sysfs) or ipc (mqueue) namespace of its own the kernel refuses a
        // new instance; bind the host's instead, as runc does, with the same flags.
        (Errno::EPERM, Some(host)) => {
            let rbind = MountOptions {
                flags: MsFlags::MS_BIND | MsFlags::MS_REC,
                propagation: opts.propagation.clone(),
                recursive: recursive_attr(opts.flags, opts.recursive),
                data: Vec::new(),
            };
            bind(root, Path::new(host), dest, &rbind)
        }
        (e, _) => Err(Error::sys(
            "mount",
            format!("{typ} on {}", root.describe(dest)),
            e,
        )),
    }
}

fn fallback(typ: &str) -> Option<&'static str> {
    match typ {
        "sysfs" => Some("/sys"),
        "mqueue" => Some("/dev/mqueue"),
        _ => None,
    }
}

/// The per-mount flags of `flags` as recursive attributes (added to `attr`), for a bind that
/// replaces a filesystem mount: its submounts get the same protection.
fn recursive_attr(flags: MsFlags, mut attr: Attr) -> Attr {
    use crate::sys::mount::*;
    for (f, a) in [
        (MsFlags::MS_RDONLY, MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
    ] {
        if flags.contains(f) {
            attr.set |= a;
        }
    }
    attr
}

/// After the mount: reopen the destination (now the new mount) if there is anything to change,
/// remount a bind with its flags, apply the propagation changes in order, then the recursive
/// attributes.
pub(super) fn finish(root: &Root, dest: &Path, opts: &MountOptions, bind: bool) -> Result<()> {
    let what = || root.describe(dest);
    if !needs_finish(opts, bind) {
        return Ok(());
    }
    let fd = root.open_path(dest).sys("openat2", what())?;
    finish_at(fd.as_fd(), opts, bind, &what)
}

/// Whether [`finish`] has anything to do.
fn needs_finish(opts: &MountOptions, bind: bool) -> bool {
    (bind && !opts.remount_flags().is_empty())
        || !opts.propagation.is_empty()
        || !opts.recursive.is_empty()
}

/// [`finish`] on `fd`, the root of the new mount; `what` names it in errors.
fn finish_at(
    fd: BorrowedFd,
    opts: &MountOptions,
    bind: bool,
    what: &dyn Fn() -> String,
) -> Result<()> {
    let flags = opts.remount_flags();
    let remount = bind && !flags.is_empty();
    if remount {
        remount_bind(fd, flags).sys("mount", format!("remount {} {flags:?}", what()))?;
    }
    for p in &opts.propagation {
        mount(NONE, proc_fd(&fd).as_str(), NONE, *p, NONE)
            .sys("mount", format!("propagation {p:?} of {}", what()))?;
    }
    if !opts.recursive.is_empty() {
        mount_setattr(fd, true, opts.recursive)
            .sys("mount_setattr", format!("{} {:?}", what(), opts.recursive))?;
    }
    Ok(())
}

/// `MS_REMOUNT | MS_BIND` with `flags`. In a user namespace the flags the mount already has
/// may be locked (the kernel refuses to clear them with EPERM): then retry keeping them.
fn remount_bind(fd: BorrowedFd, flags: MsFlags) -> nix::Result<()> {
    let path = proc_fd(&fd);
    let base = MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
    match mount(NONE, path.as_str(), NONE, base | flags, NONE) {
        Err(Errno::EPERM) => {
            let locked = locked_flags(&path, flags)?;
            if locked.is_empty() {
                return Err(Errno::EPERM);
            }
            mount(NONE, path.as_str(), NONE, base | flags | locked, NONE)
        }
        r => r,
    }
}

/// The per-mount flags `path` has now that `flags` does not set; the atime mode is kept only
/// if `flags` does not choose one.
fn locked_flags(path: &str, flags: MsFlags) -> nix::Result<MsFlags> {
    let st = statvfs(path)?.flags();
    let mut locked = MsFlags::empty();
    for (s, m) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
    ] {
        if st.contains(s) {
            locked |= m;
        }
    }
    let atime = MsFlags::MS_NOATIME | MsFlags::MS_RELATIME | MsFlags::MS_STRICTATIME;
    if (flags & atime).is_empty() {
        if st.contains(FsFlags::ST_NOATIME) {
            locked |= MsFlags::MS_NOATIME;
        } else if st.contains(FsFlags::ST_RELATIME) {
            locked |= MsFlags::MS_RELATIME;
        }
    }
    Ok(locked - flags)
}

/// A new directory `name` in `dir`, the root of a tmpfs berth has just mounted (nothing else
/// can have put a symlink there, so no lookup from the container's root is needed), opened for
/// a mount onto it.
pub(super) fn fresh_dir(
    dir: BorrowedFd,
    name: &Path,
    what: &dyn Fn() -> String,
) -> Result<OwnedFd> {
    nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(0o755)).sys("mkdirat", what())?;
    open_dir_at(dir, name).sys("openat", what())
}

/// `name` in `dir` as an `O_PATH` directory fd, not following a symlink; a mount on it is
/// crossed, so this is the root of what is mounted there.
fn open_dir_at(dir: BorrowedFd, name: &Path) -> nix::Result<OwnedFd> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    nix::fcntl::openat(dir, name, flags, Mode::empty())
}

/// [`bind`] of the host directory `source` onto a new directory `name` in `dir` (see
/// [`fresh_dir`]); `what` names the destination in errors.
pub(super) fn bind_fresh(
    dir: BorrowedFd,
    name: &Path,
    source: &Path,
    opts: &MountOptions,
    what: &dyn Fn() -> String,
) -> Result<()> {
    let target = fresh_dir(dir, name, what)?;
    let flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
    mount(Some(source), proc_fd(&target).as_str(), NONE, flags, NONE)
        .sys("mount", format!("bind {} on {}", source.display(), what()))?;
    if !needs_finish(opts, true) {
        return Ok(());
    }
    let mounted = open_dir_at(dir, name).sys("openat", what())?;
    finish_at(mounted.as_fd(), opts, true, what)
}

/// Mounts a new `fstype` instance (with the data string `data`) onto `target`.
pub(super) fn mount_fs_at(
    target: &OwnedFd,
    source: &str,
    fstype: &str,
    flags: MsFlags,
    data: &str,
) -> nix::Result<()> {
    mount(
        Some(source),
        proc_fd(target).as_str(),
        Some(fstype),
        flags,
        Some(data).filter(|d| !d.is_empty()),
    )
}
