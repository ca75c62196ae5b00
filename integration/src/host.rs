//! What the host sees: processes, cgroups, mounts, fds and namespaces. The tests use these to
//! check that a container left nothing behind, and to wait for processes.
use std::fs;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::spec::{cgroup_path, TAG_VAR};

/// Makes this process a child subreaper, as containerd's shim is: the init of a container
/// that `create` started becomes our child when the runtime exits, so its exit status can be
/// collected with [`exit_status`].
pub fn become_subreaper() {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes an integer argument only.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(r, 0, "prctl(PR_SET_CHILD_SUBREAPER)");
}

pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags; on success it returns a new fd that we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: `fd` is a fresh descriptor owned by nobody else.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Waits until `pid` has exited (it may stay a zombie); false if it is still alive after
/// `limit`. A pid that does not exist counts as exited.
pub fn wait_for_exit(pid: i32, limit: Duration) -> bool {
    let Some(fd) = pidfd_open(pid) else {
        return true;
    };
    let ms = limit.as_millis().min(i32::MAX as u128) as i32;
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    loop {
        match poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => panic!("poll pidfd of {pid}: {e}"),
        }
    }
}

/// Reaps our child `pid` once it has exited: its exit code, or 128 + the signal that killed
/// it. Panics if it does not exit within the hang limit or is not our child.
#[track_caller]
pub fn exit_status(pid: i32) -> i32 {
    assert!(
        wait_for_exit(pid, crate::paths::hang_limit()),
        "process {pid} did not exit"
    );
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => panic!("waitpid {pid}: {e} (not a child of the test?)"),
        }
    }
}

/// Whether the process behind `pidfd` has exited.
pub fn pidfd_exited(pidfd: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
}

/// Kills the process behind `pidfd` and reaps it if it is our child; quiet if it is gone.
/// Through the pidfd, a pid that was reused meanwhile is never hit.
pub fn kill_pidfd(pidfd: &OwnedFd) {
    // SAFETY: pidfd_send_signal with a valid pidfd, no siginfo, no flags.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    if matches!(poll(&mut fds, PollTimeout::from(10_000u16)), Ok(n) if n > 0) {
        let _ = waitid(
            Id::PIDFd(pidfd.as_fd()),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG,
        );
    }
}

/// Kills `pid` if it (still) belongs to the test container tagged `tag`.
pub fn kill_if_ours(pid: i32, tag: &str) {
    // Open the pidfd first, then check: if the check passes, the pidfd is that process.
    if let Some(fd) = pidfd_open(pid) {
        if belongs(pid, tag) {
            kill_pidfd(&fd);
        }
    }
}

/// The state letter of a process (`R`, `S`, `Z`...), if it exists.
pub fn proc_state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// Alive: exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    !matches!(proc_state(pid), None | Some('Z') | Some('X'))
}

/// Live processes that belong to the test container tagged `tag`.
pub fn processes_of(tag: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me && belongs(pid, tag))
        .collect()
}

/// Whether `pid` is alive and carries `tag` in its environment or is in its cgroup.
fn belongs(pid: i32, tag: &str) -> bool {
    if !alive(pid) {
        return false;
    }
    let var = format!("{TAG_VAR}={tag}");
    let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    if environ.split(|b| *b == 0).any(|kv| kv == var.as_bytes()) {
        return true;
    }
    let cg = cgroup_path(tag);
    let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    cgroup.lines().any(|l| {
        let path = l.splitn(3, ':').nth(2).unwrap_or("");
        path == cg || path.starts_with(&format!("{cg}/"))
    })
}

/// The mount points of every cgroup hierarchy (v1 and v2) visible to us.
pub fn cgroup_hierarchies() -> Vec<PathBuf> {
    mountinfo()
        .into_iter()
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .map(|m| PathBuf::from(m.target))
        .collect()
}

/// The cgroup directories of test container `id` that exist in any hierarchy.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let rel = cgroup_path(id);
    cgroup_hierarchies()
        .into_iter()
        .map(|h| h.join(rel.trim_start_matches('/')))
        .filter(|p| p.is_dir())
        .collect()
}

/// Removes the cgroup directories of test container `id` (deepest first), after killing what
/// is inside.
pub fn remove_cgroups(id: &str) {
    for dir in cgroup_dirs(id) {
        let mut dirs = Vec::new();
        collect_dirs(&dir, &mut dirs);
        for d in dirs.iter().rev() {
            let procs = fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse().ok()) {
                kill_if_ours(pid, id);
            }
            let _ = fs::remove_dir(d);
        }
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            collect_dirs(&e.path(), out);
        }
    }
}

/// One line of /proc/self/mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    pub id: u32,
    pub target: String,
    pub fstype: String,
    pub line: String,
}

/// Our mount table.
pub fn mountinfo() -> Vec<MountInfo> {
    let text = fs::read_to_string("/proc/self/mountinfo").expect("read /proc/self/mountinfo");
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            Some(MountInfo {
                id: l.first()?.parse().ok()?,
                target: unescape(l.get(4)?),
                fstype: right.split(' ').next()?.to_string(),
                line: line.to_string(),
            })
        })
        .collect()
}

/// Mounts that propagate to (or from) other mount namespaces: a runtime bug there would reach
/// the host. `unshare -m --propagation private` leaves none.
pub fn shared_mounts() -> Vec<String> {
    mountinfo()
        .into_iter()
        .filter(|m| {
            let left = m.line.split(" - ").next().unwrap_or("");
            left.split(' ').skip(6).any(|f| f.starts_with("shared:"))
        })
        .map(|m| m.target)
        .collect()
}

/// Mount points at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().to_string();
    mountinfo()
        .into_iter()
        .map(|m| m.target)
        .filter(|t| *t == dir || t.starts_with(&format!("{dir}/")))
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Our open fds.
pub fn open_fds() -> Vec<i32> {
    let mut fds: Vec<i32> = fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The directory's own fd is closed by now.
    fds.retain(|fd| fs::read_link(format!("/proc/self/fd/{fd}")).is_ok());
    fds.sort();
    fds
}

/// The namespace link of `pid` (`"self"` or a number) for `ns` (`net`, `pid`...).
pub fn ns_link(pid: &str, ns: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .map(|l| l.display().to_string())
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/ns/{ns}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_mountinfo() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("\\01"), "\\01");
    }

    #[test]
    fn sees_own_process() {
        let me = std::process::id() as i32;
        assert!(alive(me));
        assert!(!open_fds().is_empty());
        assert!(ns_link("self", "net").starts_with("net:["));
    }
}
