//! Process creation and process-wide calls that `nix` does not wrap: clone3 (with namespaces,
//! a pidfd, and optionally straight into a cgroup), pidfds, close_range, setdomainname, _exit.
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

/// Options for [`clone3`].
pub struct Clone<'a> {
    /// `CLONE_NEW*` namespace flags.
    pub namespaces: CloneFlags,
    /// `CLONE_PARENT`: the child becomes a child of our parent (used by the intermediate
    /// process so that init is the runtime's own child).
    pub parent: bool,
    /// `CLONE_INTO_CGROUP`: start the child in this cgroup v2 directory.
    pub cgroup: Option<BorrowedFd<'a>>,
}

impl Default for Clone<'_> {
    fn default() -> Self {
        Clone {
            namespaces: CloneFlags::empty(),
            parent: false,
            cgroup: None,
        }
    }
}

/// `CLONE_INTO_CGROUP` (libc's constant has the wrong width).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Creates a child process like `fork`, but with new namespaces (and the other options) in the
/// same step. The child runs `child` and `_exit`s with its return value; it never returns into
/// the caller's frames. The parent gets the child's pid and a pidfd for it.
///
/// The caller must be single-threaded: the child is a copy of this one thread, so every lock
/// any other thread could hold would stay locked forever in the child.
pub fn clone3(opts: Clone, child: impl FnOnce() -> i32) -> nix::Result<(Pid, OwnedFd)> {
    let mut flags = opts.namespaces.bits() as u64 | libc::CLONE_PIDFD as u64;
    if opts.parent {
        flags |= libc::CLONE_PARENT as u64;
    }
    let mut cgroup = 0u64;
    if let Some(fd) = opts.cgroup {
        flags |= CLONE_INTO_CGROUP;
        cgroup = fd.as_raw_fd() as u64;
    }
    let mut pidfd: RawFd = -1;
    // Layout of `struct clone_args` (linux/sched.h), version 2 (with `cgroup`).
    let mut args = [0u64; 11];
    args[0] = flags;
    args[1] = &mut pidfd as *mut RawFd as u64; // pidfd
                                               // exit_signal: with CLONE_PARENT the kernel requires 0 and uses the caller's own exit
                                               // signal (SIGCHLD, as every process we clone has).
    args[4] = if opts.parent { 0 } else { libc::SIGCHLD as u64 };
    args[10] = cgroup;
    // SAFETY: `args` is a valid clone_args of the size passed; the stack is 0, so the child runs
    // on a copy-on-write copy of this stack, exactly as after fork(2). The child never returns
    // from this function: it runs `child` and calls _exit.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            args.as_mut_ptr(),
            std::mem::size_of_val(&args),
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => {
            let code = child();
            exit(code)
        }
        pid => {
            // SAFETY: with CLONE_PIDFD the kernel stored a new fd that nothing else owns.
            let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
            Ok((Pid::from_raw(pid as i32), pidfd))
        }
    }
}

/// Ends the process at once, without running atexit handlers or unwinding: what a forked
/// child must do so that it never runs the parent's cleanup.
pub fn exit(code: i32) -> ! {
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

/// A pidfd for `pid` (works for any process, not only children).
pub fn pidfd_open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Sends `sig` to the process behind `pidfd` (no pid-reuse race).
pub fn pidfd_send_signal(pidfd: BorrowedFd, sig: i32) -> nix::Result<()> {
    // SAFETY: plain syscall; info is NULL, which the kernel allows.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(ret).map(drop)
}

/// Marks every fd from `first` upwards close-on-exec.
pub fn cloexec_from(first: u32) -> nix::Result<()> {
    // SAFETY: plain syscall with integer arguments.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    Errno::result(ret).map(drop)
}

/// Whether `fd` is open in this process.
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the fd's flags; an invalid fd yields EBADF.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Clears close-on-exec on `fd`, so that it passes through `execve`.
pub fn clear_cloexec(fd: RawFd) -> nix::Result<()> {
    // SAFETY: F_SETFD on an integer fd; an invalid fd yields EBADF.
    Errno::result(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }).map(drop)
}

/// setdomainname(2).
pub fn setdomainname(name: &str) -> nix::Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes, which outlive the call.
    let ret = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    Errno::result(ret).map(drop)
}

/// Gives the process a new session keyring named `name` (KEYCTL_JOIN_SESSION_KEYRING), so that
/// containers do not share the runtime's keys. ENOSYS (no keyring support) is not an error.
pub fn join_session_keyring(name: &str) -> nix::Result<()> {
    let name = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            1, /* JOIN_SESSION_KEYRING */
            name.as_ptr(),
        )
    };
    match Errno::result(ret) {
        Err(Errno::ENOSYS) => Ok(()),
        r => r.map(drop),
    }
}
