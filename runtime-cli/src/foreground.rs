//! `run` in the foreground: berth stays the parent of init, forwards every signal it gets to
//! it, reaps it (and, as a child subreaper, any orphans), and exits with its status.
use std::path::Path;

use berth::{Container, CreateOptions, Error, Result};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

pub fn run(root: &Path, opts: &CreateOptions, keep: bool, subreaper: bool) -> Result<i32> {
    // Block the signals we forward before init exists, so that none is lost before the loop
    // below waits for them. Init resets its signal mask before execve.
    let mut set = SigSet::empty();
    for sig in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP)) {
        set.add(sig);
    }
    set.thread_block()
        .map_err(|e| Error::sys("sigprocmask", "block", e))?;
    if subreaper {
        nix::sys::prctl::set_child_subreaper(true)
            .map_err(|e| Error::sys("prctl", "PR_SET_CHILD_SUBREAPER", e))?;
    }
    let container = Container::create(opts)?;
    if let Err(e) = container.start() {
        let _ = Container::delete_by_id(root, &opts.id, true);
        return Err(e);
    }
    let init = Pid::from_raw(container.pid());
    let code = loop {
        let sig = set
            .wait()
            .map_err(|e| Error::sys("sigwait", "forwarded signals", e))?;
        match sig {
            Signal::SIGCHLD => {
                if let Some(code) = reap(init)? {
                    break code;
                }
            }
            Signal::SIGWINCH => {}
            other => {
                let _ = container.kill(other as i32, false);
            }
        }
    };
    if !keep {
        container.delete(true)?;
    }
    Ok(code)
}

/// Reaps every exited child; returns init's exit code once it is among them.
fn reap(init: Pid) -> Result<Option<i32>> {
    let mut init_code = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == init => init_code = Some(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == init => {
                init_code = Some(128 + sig as i32)
            }
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => return Ok(init_code),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("waitpid", -1, e)),
        }
    }
}
