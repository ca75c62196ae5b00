//! seccomp(2) itself: installing a BPF program that libseccomp compiled (so that the flags,
//! including ones the installed libseccomp does not know, are ours to choose), and asking the
//! kernel which actions and flags it supports.
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

pub use libc::sock_filter;

/// `SECCOMP_FILTER_FLAG_*` (linux/seccomp.h).
pub const FLAG_TSYNC: u32 = libc::SECCOMP_FILTER_FLAG_TSYNC as u32;
pub const FLAG_LOG: u32 = libc::SECCOMP_FILTER_FLAG_LOG as u32;
pub const FLAG_SPEC_ALLOW: u32 = libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW as u32;
pub const FLAG_NEW_LISTENER: u32 = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32;
pub const FLAG_TSYNC_ESRCH: u32 = libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH as u32;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV as u32;

/// Installs `program` as a seccomp filter of the calling thread with `flags`. With
/// `FLAG_NEW_LISTENER` the kernel returns the notification fd (close-on-exec), otherwise
/// `None`. The caller must have set no_new_privs or hold CAP_SYS_ADMIN.
pub fn install(program: &[sock_filter], flags: u32) -> nix::Result<Option<OwnedFd>> {
    let len = u16::try_from(program.len()).map_err(|_| Errno::E2BIG)?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points to `len` valid sock_filter entries that outlive the call; the
    // kernel only reads them (it copies the program before returning).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    let ret = Errno::result(ret)?;
    if flags & FLAG_NEW_LISTENER == 0 {
        return Ok(None);
    }
    // SAFETY: with SECCOMP_FILTER_FLAG_NEW_LISTENER the return value is a new fd that nothing
    // else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as RawFd) }))
}

/// Whether the kernel knows the filter flag(s) `flags`: a filter install with a NULL program
/// fails with EFAULT after the flags were accepted, and with EINVAL when they were not. No
/// filter is ever installed.
pub fn flags_supported(flags: u32) -> bool {
    // SAFETY: the program pointer is NULL, so the kernel fails the call (EFAULT) when copying
    // it; nothing is read from or written to our memory.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    ret == -1 && Errno::last() == Errno::EFAULT
}

/// Whether the kernel supports the filter return action `action` (`SECCOMP_RET_*`).
pub fn action_available(action: u32) -> bool {
    // SAFETY: the kernel reads one u32 from a pointer to a live local.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &action as *const u32,
        )
    };
    ret == 0
}

/// ptrace(PTRACE_ATTACH, 0): fails with ESRCH without a filter, so tests can see whether a
/// filter denies ptrace without ever attaching to anything.
#[cfg(test)]
pub fn ptrace_attach_nobody() -> nix::Result<()> {
    // SAFETY: integer arguments only; pid 0 never names a tracee.
    let ret = unsafe { libc::ptrace(libc::PTRACE_ATTACH, 0, 0, 0) };
    Errno::result(ret).map(drop)
}
