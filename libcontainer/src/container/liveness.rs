//! Whether a container's init still lives. A pid alone may have been given to a later process
//! since, so the record keeps who init is, and every check goes through a pidfd, which pins the
//! process it names: a signal sent through it cannot reach a successor.
use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::fstat;
use nix::sys::statfs::{fstatfs, FsType};
use serde::{Deserialize, Serialize};

use crate::sys::process::pidfd_open;

/// pidfs, the filesystem of pidfds since Linux 6.9 (`PID_FS_MAGIC`).
const PIDFS_MAGIC: FsType = FsType(0x5049_4446);

/// Who init is, beyond its pid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Identity {
    /// The inode number of a pidfd on init: pidfs gives each process its own, not reused while
    /// the system runs. Checked with `pidfd_open` and `fstat`, without reading /proc.
    Pidfs(u64),
    /// Init's start time (clock ticks since boot, from `/proc/<pid>/stat`): kernels before 6.9,
    /// whose pidfds share one anonymous inode.
    StartTime(u64),
}

impl Identity {
    /// Who the live process `pid`, which `pidfd` refers to, is; `None` if it has exited.
    pub fn of(pid: i32, pidfd: &OwnedFd) -> Option<Identity> {
        if exited(pidfd) {
            return None;
        }
        match fstatfs(pidfd) {
            Ok(fs) if fs.filesystem_type() == PIDFS_MAGIC => {
                fstat(pidfd).ok().map(|st| Identity::Pidfs(st.st_ino))
            }
            _ => proc_start_time(pid).map(Identity::StartTime),
        }
    }

    /// A pidfd on `pid` if it is still this process and has not exited (a zombie has).
    pub fn live(&self, pid: i32) -> Option<OwnedFd> {
        let pidfd = pidfd_open(pid).ok()?;
        let same = match *self {
            Identity::Pidfs(ino) => fstat(&pidfd).is_ok_and(|st| st.st_ino == ino),
            // The pidfd is opened first, so the process checked is the one it pins.
            Identity::StartTime(t) => proc_start_time(pid) == Some(t),
        };
        (same && !exited(&pidfd)).then_some(pidfd)
    }
}

/// Whether the process behind `pidfd` has exited: its pidfd is then readable.
fn exited(pidfd: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
}

/// The start time of a live (not zombie) process, from `/proc/<pid>/stat`; `None` if it is
/// gone or a zombie.
fn proc_start_time(pid: i32) -> Option<u64> {
    // The line is read whole (the kernel makes it in one `read`); no second read to see EOF.
    let mut file = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let stat = crate::files::read_until(&mut file, |t| t.ends_with(b"\n")).ok()?;
    let stat = std::str::from_utf8(&stat).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // `rest` starts at field 3 (state); starttime is field 22.
    fields.nth(18)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time() {
        assert!(proc_start_time(std::process::id() as i32).is_some());
        assert!(proc_start_time(i32::MAX).is_none());
    }

    #[test]
    fn a_child_is_itself_until_it_exits() {
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let pidfd = pidfd_open(pid).unwrap();
        let id = Identity::of(pid, &pidfd).unwrap();
        assert!(id.live(pid).is_some());
        let by_start_time = Identity::StartTime(proc_start_time(pid).unwrap());
        assert!(by_start_time.live(pid).is_some());
        // Another identity under the same pid (a successor) is not init.
        let other = match &id {
            Identity::Pidfs(ino) => Identity::Pidfs(ino + 1),
            Identity::StartTime(t) => Identity::StartTime(t + 1),
        };
        assert!(other.live(pid).is_none());
        child.kill().unwrap();
        // Exited but not reaped: a zombie is not alive.
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::NONE).unwrap();
        assert!(id.live(pid).is_none());
        assert!(by_start_time.live(pid).is_none());
        assert!(Identity::of(pid, &pidfd).is_none());
        child.wait().unwrap();
    }
}
