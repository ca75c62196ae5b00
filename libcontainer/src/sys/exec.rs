//! The last steps before the container's program runs: resetting every signal disposition and
//! execve(2) with argv/envp arrays built in advance, so that nothing is allocated after `start`.
use std::ffi::CString;

use nix::errno::Errno;

/// Sets every catchable signal's disposition to SIG_DFL. Handlers would be reset by execve
/// anyway, but SIG_IGN survives it (Rust ignores SIGPIPE, for one) and would leak into the
/// container. Signals the kernel refuses (SIGKILL, SIGSTOP, libc's internal ones) are skipped.
pub fn reset_signal_dispositions() {
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: a zeroed sigaction with sa_sigaction = SIG_DFL is a valid argument; the old
        // action is not requested. An invalid signal number only yields EINVAL.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &action, std::ptr::null_mut());
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
