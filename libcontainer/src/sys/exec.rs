//! The last steps before the container's program runs: resetting ignored signals, and
//! execve(2) with argv/envp arrays built in advance, so that nothing is allocated after `start`.
use std::ffi::CString;

use nix::errno::Errno;

/// The size of the kernel's signal set (not glibc's 128-byte `sigset_t`).
#[cfg(any(target_arch = "mips", target_arch = "mips64"))]
const KERNEL_SIGSET_SIZE: usize = 16;
#[cfg(not(any(target_arch = "mips", target_arch = "mips64")))]
const KERNEL_SIGSET_SIZE: usize = 8;

/// Sets the disposition of every signal in `signals` (bit n-1 for signal n, as in
/// /proc/<pid>/status) to SIG_DFL. Handlers are reset by execve anyway, but SIG_IGN survives
/// it, so the caller passes the signals it ignores. This calls rt_sigaction directly: glibc's
/// sigaction refuses the signals it reserves (32 and 33), which may be ignored all the same.
/// SIGKILL and SIGSTOP cannot be changed and are skipped.
pub fn reset_signal_dispositions(signals: u64) {
    // A kernel `struct sigaction` with handler SIG_DFL (0), no flags, no restorer and an
    // empty mask is all zeros whatever the architecture's field order; this buffer is
    // larger than the struct on every architecture.
    let action = [0u64; 32];
    for sig in 1..=64 {
        if signals & (1 << (sig - 1)) == 0 || sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: `action` is a valid (all-zero) kernel sigaction that the kernel only
        // reads; the old action is not requested. Errors (none expected) are ignored.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                action.as_ptr(),
                std::ptr::null_mut::<libc::c_void>(),
                KERNEL_SIGSET_SIZE,
            );
        }
    }
}

/// A program, its arguments and environment, with the NULL-terminated pointer arrays that
/// execve(2) takes already built.
pub struct PreparedExec {
    path: CString,
    // The pointers below point into the heap buffers of these strings, which never move or
    // change while `self` lives (moving a CString does not move its buffer).
    _argv: Vec<CString>,
    _envp: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    envp_ptrs: Vec<*const libc::c_char>,
}

impl PreparedExec {
    pub fn new(path: CString, argv: Vec<CString>, envp: Vec<CString>) -> Self {
        let ptrs = |v: &[CString]| {
            v.iter()
                .map(|s| s.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect::<Vec<_>>()
        };
        PreparedExec {
            argv_ptrs: ptrs(&argv),
            envp_ptrs: ptrs(&envp),
            path,
            _argv: argv,
            _envp: envp,
        }
    }

    pub fn path(&self) -> &CString {
        &self.path
    }

    /// Replaces the process image; returns only on failure.
    pub fn execve(&self) -> Errno {
        // SAFETY: path is NUL-terminated; both arrays are NULL-terminated and point to
        // NUL-terminated strings owned by `self`, which outlives the call.
        unsafe {
            libc::execve(
                self.path.as_ptr(),
                self.argv_ptrs.as_ptr(),
                self.envp_ptrs.as_ptr(),
            )
        };
        Errno::last()
    }
}
