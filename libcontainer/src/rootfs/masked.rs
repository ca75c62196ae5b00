//! The steps after `pivot_root`: `readonlyPaths`, `maskedPaths`, `root.readonly` and the final
//! `rootfsPropagation`. Everything works on fds resolved inside the new root and the fd-based
//! mount API, so nothing depends on the container's `/proc` or follows a path twice.
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::mount;
use nix::sys::stat::{fstat, major, minor, SFlag};
use oci_spec::runtime::Spec;

use super::options::root_propagation;
use super::paths::Root;
use crate::error::SysContext;
use crate::sys::mount::{clone_tree, mount_setattr, move_mount, new_fs, Attr, MOUNT_ATTR_RDONLY};
use crate::{Error, Result};

pub(super) fn finalize(spec: &Spec) -> Result<()> {
    let root = Root::open(Path::new("/"))?;
    let linux = spec.linux().as_ref();
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        readonly(&root, Path::new(p))?;
    }
    let masked = linux.and_then(|l| l.masked_paths().as_ref());
    let mut devnull = None;
    for p in masked.into_iter().flatten() {
        mask(&root, Path::new(p), &mut devnull)?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        let attr = Attr {
            set: MOUNT_ATTR_RDONLY,
            ..Attr::default()
        };
        mount_setattr(root.fd(), false, attr)
            .sys("mount_setattr", "/ read-only (root.readonly)")?;
    }
    let prop = linux.and_then(|l| l.rootfs_propagation().as_deref());
    if let Some(flags) = prop.and_then(root_propagation) {
        mount(None::<&str>, "/", None::<&str>, flags, None::<&str>).sys(
            "mount",
            format!("/ propagation {flags:?} (linux.rootfsPropagation)"),
        )?;
    }
    Ok(())
}

/// Opens `path`, or `None` if it does not exist (missing paths are skipped, as runc does).
fn open_existing(root: &Root, path: &Path, field: &str) -> Result<Option<OwnedFd>> {
    match root.open_path(path) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(Error::sys(
            "openat2",
            format!("{} ({field})", path.display()),
            e,
        )),
    }
}

/// A recursive read-only bind of `path` onto itself.
fn readonly(root: &Root, path: &Path) -> Result<()> {
    let what = || format!("{} (linux.readonlyPaths)", path.display());
    let Some(fd) = open_existing(root, path, "linux.readonlyPaths")? else {
        return Ok(());
    };
    let tree = clone_tree(fd.as_fd(), true).sys("open_tree", what())?;
    let attr = Attr {
        set: MOUNT_ATTR_RDONLY,
        ..Attr::default()
    };
    mount_setattr(tree.as_fd(), true, attr).sys("mount_setattr", what())?;
    move_mount(tree.as_fd(), fd.as_fd()).sys("move_mount", what())
}

/// Directories get an empty read-only tmpfs, anything else a bind of `/dev/null`.
fn mask(root: &Root, path: &Path, devnull: &mut Option<OwnedFd>) -> Result<()> {
    let what = || format!("{} (linux.maskedPaths)", path.display());
    let Some(fd) = open_existing(root, path, "linux.maskedPaths")? else {
        return Ok(());
    };
    let st = fstat(&fd).sys("fstat", what())?;
    let tree = if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
        new_fs("tmpfs", &[], MOUNT_ATTR_RDONLY).sys("fsmount", format!("tmpfs for {}", what()))?
    } else {
        if devnull.is_none() {
            *devnull = Some(dev_null(root)?);
        }
        let null = devnull.as_ref().map(|d| d.as_fd()).expect("just opened");
        clone_tree(null, false).sys("open_tree", "/dev/null")?
    };
    move_mount(tree.as_fd(), fd.as_fd()).sys("move_mount", what())
}

/// The container's `/dev/null`, opened without following any symlink and checked to be the
/// null device (char 1:3), so that a planted file or link cannot be mounted over a masked path.
fn dev_null(root: &Root) -> Result<OwnedFd> {
    let path = Path::new("/dev/null");
    let fd = root
        .open_at(path, OFlag::O_PATH | OFlag::O_NOFOLLOW)
        .sys("openat2", "/dev/null (for linux.maskedPaths)")?;
    let st = fstat(&fd).sys("fstat", "/dev/null")?;
    let is_char = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
    if !is_char || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3 {
        return Err(Error::invalid(
            "linux.maskedPaths",
            "/dev/null in the container is not the null device",
        ));
    }
    Ok(fd)
}
