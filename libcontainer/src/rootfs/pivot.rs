//! Making the rootfs the process's `/`.
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

use crate::error::SysContext;
use crate::Result;

const NONE: Option<&str> = None;

pub(super) fn pivot(rootfs: &Path, no_pivot: bool) -> Result<()> {
    if no_pivot {
        move_root(rootfs)
    } else {
        pivot_into(rootfs)
    }
}

/// `pivot_root(".", ".")` stacks the old root on top of the new one at `/`; the old root is
/// then made recursively slave (so that unmounting it cannot propagate to the host) and lazily
/// unmounted, which leaves the rootfs as `/`. No directory for the old root is needed.
fn pivot_into(rootfs: &Path) -> Result<()> {
    let dir = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let old = open("/", dir, Mode::empty()).sys("open", "/")?;
    let new = open(rootfs, dir, Mode::empty()).sys("open", rootfs.display())?;
    fchdir(&new).sys("fchdir", rootfs.display())?;
    pivot_root(".", ".").sys("pivot_root", rootfs.display())?;
    fchdir(&old).sys("fchdir", "old root")?;
    mount(NONE, ".", NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE)
        .sys("mount", "make old root rslave")?;
    umount2(".", MntFlags::MNT_DETACH).sys("umount2", "old root")?;
    chdir("/").sys("chdir", "/")
}

/// `--no-pivot`: move the rootfs mount onto `/` and chroot into it.
fn move_root(rootfs: &Path) -> Result<()> {
    chdir(rootfs).sys("chdir", rootfs.display())?;
    mount(Some(rootfs), "/", NONE, MsFlags::MS_MOVE, NONE)
        .sys("mount", format!("move {} to /", rootfs.display()))?;
    chroot(".").sys("chroot", rootfs.display())?;
    chdir("/").sys("chdir", "/")
}
