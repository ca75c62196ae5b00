//! The process and mount calls the tool makes on itself: a private mount namespace, the child
//! subreaper bit, waiting (and the peak RSS of a traced child), reaping orphaned container inits, and an interrupt flag.
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{unshare, CloneFlags};
use nix::sys::ptrace;
use nix::sys::signal::{kill, sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// The cgroup2 mount of this machine's hybrid layout, which crun refuses.
pub const UNIFIED: &str = "/sys/fs/cgroup/unified";

/// Moves the tool into its own mount namespace (everything private, so nothing propagates back
/// to the host) and unmounts [`UNIFIED`] there. Returns whether it was mounted.
/// Must be called while the process is single-threaded.
pub fn private_mount_namespace() -> nix::Result<bool> {
    unshare(CloneFlags::CLONE_NEWNS)?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    if !is_mount_point(&mountinfo, UNIFIED) {
        return Ok(false);
    }
    umount2(UNIFIED, MntFlags::MNT_DETACH)?;
    Ok(true)
}

/// Mounts a tmpfs at `dir` (in the tool's private mount namespace): the runtimes' state roots
/// and the bundles live there, as state does in `/run` on a systemd host. A disk filesystem
/// would add its own costs: on an ext4 without a journal, for one, each new inode is searched
/// past every inode deleted in the last minutes, so every runtime would slow down the more
/// containers the benchmark had already made.
pub fn mount_scratch(dir: &std::path::Path) -> nix::Result<()> {
    mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755"),
    )
}

/// Undoes [`mount_scratch`].
pub fn unmount_scratch(dir: &std::path::Path) -> nix::Result<()> {
    umount2(dir, MntFlags::MNT_DETACH)
}

/// Waits until the machine is idle again: the kernel finishes much of a container's creation
/// and removal later, in its own threads (network namespace cleanup, cgroup release, RCU), so
/// right after making or removing 100 containers the next samples would pay for them. Returns
/// once two consecutive 100 ms windows were under 15% busy (steal not counted), or after 10 s.
pub fn settle() {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut quiet_windows = 0;
    let mut before = cpu_times();
    while quiet_windows < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let now = cpu_times();
        let (busy, total) = (now.0 - before.0, now.1 - before.1);
        quiet_windows = if total > 0 && busy * 100 < total * 15 {
            quiet_windows + 1
        } else {
            0
        };
        before = now;
    }
}

/// (busy, total) jiffies of all CPUs from `/proc/stat`; steal is in neither.
fn cpu_times() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let get = |i: usize| fields.get(i).copied().unwrap_or(0);
    let idle = get(3) + get(4);
    let busy = get(0) + get(1) + get(2) + get(5) + get(6);
    (busy, busy + idle)
}

/// Whether `path` is a mount point according to `mountinfo` (field 5 is the mount point).
fn is_mount_point(mountinfo: &str, path: &str) -> bool {
    mountinfo.lines().any(|l| l.split(' ').nth(4) == Some(path))
}

/// Makes orphaned descendants (the inits that `create` leaves behind) children of the tool.
pub fn become_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// Waits for the child `pid` and reaps it; returns its status.
pub fn wait_status(pid: i32) -> nix::Result<WaitStatus> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// Makes the program `cmd` runs a ptrace tracee of this process, stopped at its exec.
pub fn trace_at_exec(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: PTRACE_TRACEME is one system call, safe between fork and exec.
    unsafe {
        cmd.pre_exec(|| ptrace::traceme().map_err(std::io::Error::from));
    }
}

/// Follows the traced child `pid` (stopped at its exec) to its end and returns its exit status
/// and its peak RSS in KiB: the largest `VmHWM` of its images, read as it enters each further
/// exec (crun re-executes itself) and when it stops at its exit. wait4's `ru_maxrss` would not
/// do: at exec the kernel carries the spawner's own peak into it (its old address space,
/// shared or copied), so a small program spawned by a bigger one reports the bigger one.
pub fn peak_rss_at_exit(pid: i32) -> Result<(WaitStatus, Option<i64>), String> {
    use ptrace::Options;
    let pid = Pid::from_raw(pid);
    let options =
        Options::PTRACE_O_TRACEEXIT | Options::PTRACE_O_TRACEEXEC | Options::PTRACE_O_TRACESYSGOOD;
    ptrace::setoptions(pid, options).map_err(|e| format!("PTRACE_SETOPTIONS: {e}"))?;
    let mut peak: Option<i64> = None;
    let mut deliver = None;
    loop {
        ptrace::syscall(pid, deliver).map_err(|e| format!("PTRACE_SYSCALL: {e}"))?;
        deliver = None;
        let status = wait_status(pid.as_raw()).map_err(|e| format!("waitpid: {e}"))?;
        let read_peak = match status {
            WaitStatus::Exited(..) | WaitStatus::Signaled(..) => return Ok((status, peak)),
            WaitStatus::PtraceEvent(_, _, libc::PTRACE_EVENT_EXIT) => true,
            WaitStatus::PtraceSyscall(_) => ptrace::getregs(pid).is_ok_and(|r| {
                r.orig_rax == libc::SYS_execve as u64 || r.orig_rax == libc::SYS_execveat as u64
            }),
            WaitStatus::Stopped(_, sig) => {
                deliver = Some(sig);
                false
            }
            _ => false,
        };
        if read_peak {
            if let Ok(kib) = vm_kib(pid.as_raw(), "VmHWM:") {
                peak = peak.max(Some(kib));
            }
        }
    }
}

/// Waits up to `timeout` for the child `pid` to exit, without reaping it; `false` on timeout.
pub fn exits_within(pid: i32, timeout: Duration) -> nix::Result<bool> {
    let pidfd = pidfd_open(pid)?;
    let timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    loop {
        match poll(&mut fds, timeout) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(n) => return Ok(n > 0),
        }
    }
}

fn pidfd_open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = Errno::result(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Waits until the child (or adopted orphan) `pid` exits, and reaps it.
pub fn wait_exit(pid: i32) -> nix::Result<()> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) => return Ok(()),
            Ok(_) => continue,
        }
    }
}

/// Kills and reaps `pid` if it is still a child of the tool. Only a child that has not been
/// reaped is signalled, so the pid cannot have been reused by another process.
pub fn kill_child(pid: i32) {
    match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = wait_exit(pid);
        }
        _ => {
            // Reaped now, or not our child.
        }
    }
}

/// Reaps every exited child without blocking: orphans the runtimes left with the tool.
/// Call only when no spawned runtime is being waited for.
pub fn reap_orphans() {
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// SIGINT, SIGTERM and SIGHUP set a flag that the workloads check between steps, so that the
/// tool stops and still cleans up.
pub fn catch_interrupts() -> nix::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { sigaction(sig, &action) }?;
    }
    Ok(())
}

/// An error once an interrupt arrived.
pub fn check_interrupted() -> Result<(), String> {
    if INTERRUPTED.load(Ordering::Relaxed) {
        Err("interrupted".into())
    } else {
        Ok(())
    }
}

/// The cgroup membership of `pid` (0: the tool), as `/proc/<pid>/cgroup` lists it.
pub fn cgroups_of(pid: i32) -> std::io::Result<String> {
    match pid {
        0 => std::fs::read_to_string("/proc/self/cgroup"),
        pid => std::fs::read_to_string(format!("/proc/{pid}/cgroup")),
    }
}

/// `VmRSS` of `pid` in KiB.
pub fn vm_rss_kib(pid: i32) -> Result<f64, String> {
    vm_kib(pid, "VmRSS:").map(|k| k as f64)
}

/// The `key` line (`VmRSS:`, `VmHWM:`) of `/proc/<pid>/status`, in KiB.
fn vm_kib(pid: i32, key: &str) -> Result<i64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
    parse_vm_kib(&status, key).ok_or_else(|| format!("{path}: no {key}"))
}

fn parse_vm_kib(status: &str, key: &str) -> Option<i64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_point_is_field_five() {
        let info = "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n\
                    31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n";
        assert!(is_mount_point(info, UNIFIED));
        assert!(is_mount_point(info, "/sys/fs/cgroup"));
        assert!(!is_mount_point(info, "/sys/fs"));
    }

    #[test]
    fn vm_rss_in_kib() {
        let status = "Name:\tsleep\nVmPeak:\t  1000 kB\nVmRSS:\t    1648 kB\nRssAnon:\t 296 kB\n";
        assert_eq!(parse_vm_kib(status, "VmRSS:"), Some(1648));
        assert_eq!(parse_vm_kib(status, "VmPeak:"), Some(1000));
        assert_eq!(parse_vm_kib("Name:\tzombie\n", "VmRSS:"), None);
    }
}
