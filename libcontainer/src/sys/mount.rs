//! The new mount API (open_tree, move_mount, mount_setattr, fsopen/fsconfig/fsmount), which
//! works on file descriptors instead of paths: the rootfs code uses it to mount onto fds that
//! were resolved safely inside the container's root, without going through `/proc`.
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// `open_tree`: `OPEN_TREE_CLONE`, make a detached copy of the mount (a bind mount).
pub const OPEN_TREE_CLONE: u32 = 1;
/// `MOUNT_ATTR_*` (linux/mount.h).
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// The mask of the three atime modes; one of them must be set when this is cleared.
pub const MOUNT_ATTR_ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
const FSOPEN_CLOEXEC: u32 = 0x1;
const FSMOUNT_CLOEXEC: u32 = 0x1;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;

/// `struct mount_attr` (linux/mount.h), version 0.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Changes of mount attributes for [`mount_setattr`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attr {
    /// `MOUNT_ATTR_*` bits to set.
    pub set: u64,
    /// `MOUNT_ATTR_*` bits to clear (include `MOUNT_ATTR_ATIME` to change the atime mode).
    pub clear: u64,
    /// `MS_SHARED`, `MS_SLAVE`, `MS_PRIVATE` or `MS_UNBINDABLE`, or 0 to keep it.
    pub propagation: u64,
}

impl Attr {
    pub fn is_empty(&self) -> bool {
        *self == Attr::default()
    }
}

fn take_fd(ret: libc::c_long) -> nix::Result<OwnedFd> {
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], attr)`: changes the attributes of the
/// mount `fd` refers to (the mount on top at that place), and of every mount below it when
/// `recursive`.
pub fn mount_setattr(fd: BorrowedFd, recursive: bool, attr: Attr) -> nix::Result<()> {
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    let mut a = MountAttr {
        attr_set: attr.set,
        attr_clr: attr.clear,
        propagation: attr.propagation,
        userns_fd: 0,
    };
    loop {
        // SAFETY: the path is a static empty C string, `a` is a valid mount_attr of the size
        // passed, and both outlive the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                fd.as_raw_fd(),
                c"".as_ptr(),
                flags,
                &mut a as *mut MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        match Errno::result(ret) {
            Err(Errno::EINTR) => continue,
            r => return r.map(drop),
        }
    }
}

/// `open_tree(fd, "", OPEN_TREE_CLONE | AT_EMPTY_PATH [| AT_RECURSIVE])`: a detached bind mount of
/// what `fd` refers to (with its submounts when `recursive`), to attach with [`move_mount`].
pub fn clone_tree(fd: BorrowedFd, recursive: bool) -> nix::Result<OwnedFd> {
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    // SAFETY: the path is a static empty C string; the other arguments are integers.
    let ret = unsafe { libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), c"".as_ptr(), flags) };
    take_fd(ret)
}

/// `move_mount(from, "", to, "", F_EMPTY_PATH | T_EMPTY_PATH)`: attaches the detached mount
/// `from` on top of what `to` refers to.
pub fn move_mount(from: BorrowedFd, to: BorrowedFd) -> nix::Result<()> {
    // SAFETY: both paths are static empty C strings; the fds are borrowed for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    Errno::result(ret).map(drop)
}

/// Creates a new, detached filesystem instance: `fsopen(fstype)`, `fsconfig` with each
/// `(key, value)` option, `FSCONFIG_CMD_CREATE`, then `fsmount` with the `MOUNT_ATTR_*` bits
/// `attrs`. Attach the result with [`move_mount`].
pub fn new_fs(fstype: &str, options: &[(&str, &str)], attrs: u64) -> nix::Result<OwnedFd> {
    let fstype = CString::new(fstype).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `fstype` is a valid C string that outlives the call.
    let fs = take_fd(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })?;
    for (key, value) in options {
        let key = CString::new(*key).map_err(|_| Errno::EINVAL)?;
        let value = CString::new(*value).map_err(|_| Errno::EINVAL)?;
        // SAFETY: key and value are valid C strings that outlive the call; aux is unused (0).
        let ret = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0,
            )
        };
        Errno::result(ret)?;
    }
    // SAFETY: a command without key or value: both pointers are NULL, as the kernel requires.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    Errno::result(ret)?;
    // SAFETY: plain syscall with an fd and integer flags.
    take_fd(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) })
}
