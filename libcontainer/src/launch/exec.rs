//! `exec`: a new process in a running container — its namespaces, its cgroup, and the process
//! settings of `process.json`. An intermediate process joins the namespaces (the pid namespace
//! only applies to children) and clones the new process as the runtime's child.
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::linux::fs::MetadataExt;
use std::path::Path;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxPersonality, LinuxSeccomp, Process};

use crate::cgroups::{Entry, Manager};
use crate::error::{IoContext, SysContext};
use crate::namespaces::CLONE_NEWTIME;
use crate::procfs::ProcFs;
use crate::seccomp::Seccomp;
use crate::sys::process::{clone3, Clone};
use crate::{process, terminal, Error, Result};

use super::init::pass_fds;
use super::sync::{self, Channel, Msg};
use super::Launched;

/// What `exec` needs from the container and the caller.
pub(crate) struct ExecLaunch<'a> {
    pub init_pid: i32,
    pub process: &'a Process,
    /// The container's `linux.seccomp` and `linux.personality`, which apply to exec'd
    /// processes too.
    pub seccomp: Option<&'a LinuxSeccomp>,
    pub personality: Option<&'a LinuxPersonality>,
    /// The container's runtime-spec state JSON, for the seccomp agent.
    pub state_json: &'a [u8],
    /// The state root (for the seccomp program cache).
    pub root: &'a Path,
    pub cgroup: &'a Manager,
    pub console_socket: Option<&'a Path>,
    pub extra_fds: u32,
}

/// The namespaces, in the order they are joined (user first: its capabilities apply to the
/// rest), with their `/proc/<pid>/ns` names.
const NAMESPACES: [(CloneFlags, &str); 8] = [
    (CloneFlags::CLONE_NEWUSER, "user"),
    (CloneFlags::CLONE_NEWIPC, "ipc"),
    (CloneFlags::CLONE_NEWUTS, "uts"),
    (CloneFlags::CLONE_NEWNET, "net"),
    (CloneFlags::CLONE_NEWPID, "pid"),
    (CloneFlags::CLONE_NEWCGROUP, "cgroup"),
    (CLONE_NEWTIME, "time"),
    (CloneFlags::CLONE_NEWNS, "mnt"),
];

/// Starts the process; returns once it has `execve`d (or with its error).
pub(crate) fn exec(l: &ExecLaunch) -> Result<Launched> {
    super::hide_runtime_image()?;
    // The exec'd process writes its LSM labels through this handle (see procfs).
    let proc = ProcFs::open_host()?;
    let joins = namespaces_of(l.init_pid)?;
    let userns = joins.iter().any(|(f, ..)| *f == CloneFlags::CLONE_NEWUSER);
    super::warn_ptrace_exposure(l.process, userns, "the exec'd process");
    let prepared = process::Prepared::new(l.process, userns)?;
    // The console and listener fds move into the clone closures, so the runtime's copies are
    // closed once the child exists (the agent sees EOF when the child is done with it).
    let (seccomp, listener) = super::prepare_seccomp(l.seccomp, l.process, l.root)?;
    let console = l
        .console_socket
        .map(terminal::connect_console_socket)
        .transpose()?;
    // As init does (see launch::launch): cloned into the cgroup2 cgroup unless the intermediate
    // joins a user namespace, and into the v1 cgroups by itself.
    let entry = l.cgroup.entry()?;
    let clone_into = match userns {
        true => None,
        false => entry.clone_into.as_ref().map(|fd| fd.as_fd()),
    };
    let (ours, theirs) = sync::pair()?;
    let child = Child {
        proc: &proc,
        prepared: &prepared,
        entry: &entry,
        console,
        seccomp: seccomp.as_ref(),
        listener,
    };
    let (mid, _mid_fd) = clone3(Clone::default(), || {
        let result = joins
            .iter()
            .try_for_each(|(flag, file, name)| {
                nix::sched::setns(file.as_fd(), *flag).sys("setns", name)
            })
            .and_then(|()| {
                clone3(
                    Clone {
                        parent: true,
                        cgroup: clone_into,
                        ..Default::default()
                    },
                    || child.run(l, &theirs),
                )
                .sys("clone3", "exec process")
            });
        super::report_clone(&theirs, result)
    })
    .sys("clone3", "exec intermediate")?;
    drop(theirs);
    let launched = super::await_intermediate(&ours, mid, "exec intermediate process")?;
    match setup(l, &ours, &proc, launched.pid.as_raw(), clone_into.is_none()) {
        Ok(()) => Ok(launched),
        Err(e) => {
            launched.kill();
            Err(e)
        }
    }
}

/// Runtime side: the cgroup and oom_score_adj (through the host's /proc), then Go; the channel
/// closes without a message when the process has `execve`d.
fn setup(l: &ExecLaunch, ch: &Channel, proc: &ProcFs, pid: i32, move_v2: bool) -> Result<()> {
    if move_v2 {
        l.cgroup.apply_v2(pid)?;
    }
    if let Some(adj) = l.process.oom_score_adj() {
        proc.write(&format!("{pid}/oom_score_adj"), &adj.to_string())?;
    }
    ch.send(&Msg::Go(pid))?;
    match ch.recv()? {
        None => Ok(()),
        Some(Msg::Error(text)) => Err(Error::Init(text)),
        Some(m) => Err(Error::Init(format!("unexpected message {m:?}"))),
    }
}

/// What the new process takes from the runtime besides [`ExecLaunch`], made ready before the
/// clone.
struct Child<'a> {
    proc: &'a ProcFs,
    prepared: &'a process::Prepared,
    entry: &'a Entry,
    console: Option<OwnedFd>,
    seccomp: Option<&'a Seccomp>,
    listener: Option<OwnedFd>,
}

impl Child<'_> {
    /// The new process, in the container's namespaces: wait for Go, apply the process
    /// settings, `execve`.
    fn run(self, l: &ExecLaunch, ch: &Channel) -> i32 {
        let Child {
            proc,
            prepared,
            entry,
            console,
            seccomp,
            mut listener,
        } = self;
        let result = (|| -> Result<Error> {
            entry.join_v1()?;
            let pid = match ch.recv()? {
                Some(Msg::Go(pid)) => pid,
                _ => return Err(Error::Init("runtime went away".into())),
            };
            if let Some(console) = console {
                terminal::setup_pty(console, l.process.console_size().as_ref())?;
            }
            pass_fds(l.extra_fds)?;
            crate::lsm::apply_exec_labels(l.process, proc)?;
            // The same seccomp order as init's (see launch::init).
            if let Some(s) = seccomp.filter(|s| s.before_capabilities()) {
                s.install(listener.take(), pid, l.state_json)?;
            }
            let exec = process::apply(l.process, prepared, l.personality)?;
            if let Some(s) = seccomp.filter(|s| !s.before_capabilities()) {
                s.install(listener.take(), pid, l.state_json)?;
            }
            Ok(exec.exec())
        })();
        let e = match result {
            Ok(e) | Err(e) => e,
        };
        let _ = ch.send(&Msg::Error(e.to_string()));
        1
    }
}

/// The namespaces of `pid` that differ from ours, opened, in joining order.
fn namespaces_of(pid: i32) -> Result<Vec<(CloneFlags, File, String)>> {
    let mut out = Vec::new();
    for (flag, name) in NAMESPACES {
        let theirs = format!("/proc/{pid}/ns/{name}");
        let ours = format!("/proc/self/ns/{name}");
        let (Ok(t), Ok(o)) = (std::fs::metadata(&theirs), std::fs::metadata(&ours)) else {
            continue; // the kernel lacks this namespace type
        };
        if (t.st_dev(), t.st_ino()) == (o.st_dev(), o.st_ino()) {
            continue;
        }
        let file = File::open(&theirs).ctx("open", &theirs)?;
        out.push((flag, file, theirs));
    }
    Ok(out)
}
