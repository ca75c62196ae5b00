//! Processes berth waits for in the foreground (`run`, `exec` without `--detach`): berth stays
//! their parent, forwards every signal it gets to them, reaps them (and, as a child subreaper,
//! any orphans), and exits with their status.
use std::path::Path;

use berth::{Container, CreateOptions, Error, Result};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Blocks the signals to forward, before the process exists, so that none is lost before
/// [`forward_until_exit`] waits for them. The container's process resets its signal mask
/// before execve.
pub fn block_signals() -> Result<SigSet> {
    let mut set = SigSet::empty();
    for sig in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP)) {
        set.add(sig);
    }
    set.thread_block()
        .map_err(|e| Error::sys("sigprocmask", "block", e))?;
    Ok(set)
}

pub fn run(root: &Path, opts: &CreateOptions, keep: bool, subreaper: bool) -> Result<i32> {
    let set = block_signals()?;
    if subreaper {
        nix::sys::prctl::set_child_subreaper(true)
            .map_err(|e| Error::sys("prctl", "PR_SET_CHILD_SUBREAPER", e))?;
    }
    let container = Container::create(opts)?;
    if let Err(e) = container.start() {
        let _ = Container::delete_by_id(root, &opts.id, true);
        return Err(e);
    }
    let code = forward_until_exit(container.pid(), &set)?;
    if !keep {
        container.delete(true)?;
    }
    Ok(code)
}

/// Forwards signals to `pid` until it exits; returns its exit code (128 + N if killed by N).
pub fn forward_until_exit(pid: i32, set: &SigSet) -> Result<i32> {
    let target = Pid::from_raw(pid);
    loop {
        let sig = set
            .wait()
            .map_err(|e| Error::sys("sigwait", "forwarded signals", e))?;
        match sig {
            Signal::SIGCHLD => {
                if let Some(code) = reap(target)? {
                    return Ok(code);
                }
            }
            Signal::SIGWINCH => {}
            other => {
                let _ = kill(target, other);
            }
        }
    }
}

/// Reaps every exited child; returns the target's exit code once it is among them.
fn reap(target: Pid) -> Result<Option<i32>> {
    let mut code = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, c)) if pid == target => code = Some(c),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == target => code = Some(128 + sig as i32),
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => return Ok(code),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("waitpid", -1, e)),
        }
    }
}
