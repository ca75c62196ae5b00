//! The launch pipeline, runtime side: clone the container's init into its namespaces, map its
//! ids, put it in its cgroup, run the runtime-namespace hooks when init asks, and return once
//! init is ready and blocked before `execve`.
//!
//! ```text
//! runtime (berth create)                 init (cloned, becomes the container)
//!   clone3(CLONE_NEW*) ───────────────▶  wait for Go
//!   uid/gid maps, cgroup, Go(pid) ────▶  hostname, rootfs::prepare, sysctl, oom_score_adj
//!   run prestart+createRuntime ◀───────  RunHooks
//!   HooksDone ────────────────────────▶  createContainer hooks, pivot_root, console,
//!                                        rootfs::finalize, process::apply (user, caps, cwd)
//!   write state, pid file, exit ◀──────  Ready; accept() on exec.sock (blocks until `start`)
//! ```
//! When namespaces are joined by path, or a time namespace has offsets, an intermediate process
//! does the `setns`/`unshare` and clones init with `CLONE_PARENT`, so the runtime never leaves
//! its own namespaces and init is still the runtime's child.
pub(crate) mod exec;
pub(crate) mod init;
mod sync;

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxResources, LinuxSeccomp, Process};

use crate::cgroups::{Manager, Stage};
use crate::error::{IoContext, SysContext};
use crate::namespaces::{self, Plan};
use crate::procfs::ProcFs;
use crate::seccomp::Seccomp;
use crate::spec::Bundle;
use crate::state::StateDir;
use crate::sys::process::{clone3, pidfd_send_signal, Clone};
use crate::timing::Phases;
use crate::{hooks, terminal, Error, Result, Status};
use sync::Msg;

/// Compiled seccomp programs, under the state root ('@' cannot start a container id).
const SECCOMP_CACHE: &str = "@seccomp-cache";

/// The socket init listens on while it waits for `start`.
pub(crate) const EXEC_SOCKET: &str = "exec.sock";

/// Everything the launch needs besides the bundle.
pub(crate) struct Launch<'a> {
    pub id: &'a str,
    /// The state root: compiled seccomp programs are cached under it.
    pub root: &'a Path,
    pub bundle: &'a Bundle,
    pub state_dir: &'a StateDir,
    /// Made up to [`Stage::BeforeClone`]; `launch` makes the rest, with `resources`.
    pub cgroup: &'a Manager,
    pub resources: &'a LinuxResources,
    pub console_socket: Option<&'a Path>,
    /// Fds 3.. that pass into the container (LISTEN_FDS plus `--preserve-fds`).
    pub extra_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// `start` follows as soon as the launch returns (see [`init::Context::start_at_once`]).
    pub start_at_once: bool,
}

/// The container's init, ready and waiting for `start`.
pub(crate) struct Launched {
    pub pid: Pid,
    pub pidfd: OwnedFd,
}

impl Launched {
    /// Undoes a launch that failed half-way: SIGKILL through the pidfd (no pid-reuse race),
    /// then reap the process, which is the runtime's child.
    pub fn kill(&self) {
        let _ = pidfd_send_signal(self.pidfd.as_fd(), libc::SIGKILL);
        let _ = waitpid(self.pid, None);
    }
}

/// Starts init and waits until it is ready; on any failure init is killed and reaped.
pub(crate) fn launch(l: &Launch) -> Result<Launched> {
    let t = Phases::start("launch");
    hide_runtime_image()?;
    // Every /proc write of init and the intermediate goes through this handle (see procfs).
    let proc = ProcFs::open_host()?;
    let spec = &l.bundle.spec;
    let plan = Plan::from_spec(spec);
    let process = spec.process().as_ref().expect("validated: process present");
    warn_ptrace_exposure(process, plan.userns(), "the container");
    let prepared = crate::process::Prepared::new(process, plan.userns())?;
    let (ours, theirs) = sync::pair()?;
    let exec_listener = exec_socket(l.state_dir)?;
    let console = l
        .console_socket
        .map(terminal::connect_console_socket)
        .transpose()?;
    let linux_seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let (seccomp, seccomp_listener) = prepare_seccomp(linux_seccomp, process, l.root)?;
    // Init enters its cgroups without the kernel's slow global migration lock (cgroups::Entry):
    // cloned into the cgroup2 one, it moves itself into the v1 ones, which are made meanwhile.
    // A joined user namespace takes away the permission to clone into a cgroup; then the
    // runtime moves it there.
    let cgroup2 = l.cgroup.clone_into()?;
    let clone_into = match plan.join_userns() {
        true => None,
        false => cgroup2.as_ref().map(|fd| fd.as_fd()),
    };
    let init_ctx = init::Context {
        id: l.id,
        bundle: l.bundle,
        plan: &plan,
        channel: &theirs,
        exec_listener: &exec_listener,
        console,
        seccomp: seccomp.as_ref(),
        seccomp_listener,
        extra_fds: l.extra_fds,
        no_pivot: l.no_pivot,
        no_new_keyring: l.no_new_keyring,
        proc: &proc,
        prepared: &prepared,
        start_at_once: l.start_at_once,
    };
    let launched = if plan.needs_intermediate() {
        spawn_via_intermediate(&plan, init_ctx, &ours, clone_into)?
    } else {
        let (pid, pidfd) = clone3(
            Clone {
                namespaces: plan.clone_flags(),
                cgroup: clone_into,
                ..Default::default()
            },
            || init::run(init_ctx),
        )
        .sys("clone3", "container init")?;
        Launched { pid, pidfd }
    };
    drop(theirs);
    t.mark("prepare, clone init");
    match setup(l, &plan, &ours, launched.pid, clone_into.is_none(), &t) {
        Ok(()) => Ok(launched),
        Err(e) => {
            launched.kill();
            Err(e)
        }
    }
}

/// The runtime's part of the conversation with init.
fn setup(
    l: &Launch,
    plan: &Plan,
    ch: &sync::Channel,
    pid: Pid,
    move_v2: bool,
    t: &Phases,
) -> Result<()> {
    let spec = &l.bundle.spec;
    if plan.new_userns() {
        namespaces::write_id_maps(pid.as_raw(), spec)?;
    }
    if move_v2 {
        l.cgroup.apply_v2(pid.as_raw())?;
    }
    ch.send(&Msg::Go(pid.as_raw()))?;
    l.cgroup.create(Stage::AfterClone, l.resources)?;
    if let Err(e) = ch.send_fds(&Msg::Cgroups, &l.cgroup.v1_tasks()?) {
        // Init is gone: its own error, if it sent one, says more.
        return Err(match ch.recv() {
            Ok(Some(Msg::Error(text))) => Error::Init(text),
            _ => e,
        });
    }
    t.mark("create v1 cgroups and write resources, while init mounts");
    loop {
        match ch.recv()? {
            Some(Msg::RunHooks) => {
                t.mark("init: namespaces, rootfs mounts");
                let state = state_json(l.id, pid.as_raw(), l.bundle, Status::Creating);
                let h = spec.hooks().as_ref();
                hooks::run("prestart", h.and_then(|h| h.prestart().as_ref()), &state)?;
                hooks::run(
                    "createRuntime",
                    h.and_then(|h| h.create_runtime().as_ref()),
                    &state,
                )?;
                ch.send(&Msg::HooksDone)?;
                t.mark("prestart, createRuntime hooks");
            }
            Some(Msg::Ready) => {
                t.mark("init: pivot_root, finalize rootfs, process settings");
                return Ok(());
            }
            Some(Msg::Error(text)) => return Err(Error::Init(text)),
            Some(m) => return Err(Error::Init(format!("unexpected message {m:?}"))),
            None => return Err(Error::Init("container init exited during setup".into())),
        }
    }
}

/// The intermediate process joins namespaces (and unshares the time namespace), then clones
/// init as the runtime's child and reports its pid.
fn spawn_via_intermediate(
    plan: &Plan,
    init_ctx: init::Context,
    ours: &sync::Channel,
    cgroup: Option<BorrowedFd>,
) -> Result<Launched> {
    let channel = init_ctx.channel;
    let (mid, _mid_fd) = clone3(Clone::default(), || {
        let result = namespaces::join(plan)
            .and_then(|()| {
                if plan.time_offsets.is_empty() {
                    Ok(())
                } else {
                    namespaces::unshare_time(plan, init_ctx.proc)
                }
            })
            .and_then(|()| {
                clone3(
                    Clone {
                        namespaces: plan.clone_flags(),
                        parent: true,
                        cgroup,
                    },
                    || init::run(init_ctx),
                )
                .sys("clone3", "container init")
            });
        report_clone(channel, result)
    })
    .sys("clone3", "intermediate process")?;
    await_intermediate(ours, mid, "intermediate process")
}

/// In an intermediate process: tells the runtime the pid of the process it cloned, or why it
/// could not. Returns the intermediate's exit code.
fn report_clone(channel: &sync::Channel, cloned: Result<(Pid, OwnedFd)>) -> i32 {
    let msg = match cloned {
        Ok((pid, _)) => Msg::Pid(pid.as_raw()),
        Err(e) => Msg::Error(e.to_string()),
    };
    i32::from(channel.send(&msg).is_err())
}

/// In the runtime: takes the pid the intermediate `mid` reported (the process is the runtime's
/// own child, through CLONE_PARENT) and reaps the intermediate.
fn await_intermediate(ours: &sync::Channel, mid: Pid, what: &str) -> Result<Launched> {
    let reply = ours.recv();
    let _ = waitpid(mid, None);
    match reply? {
        Some(Msg::Pid(pid)) => Ok(Launched {
            pid: Pid::from_raw(pid),
            pidfd: crate::sys::process::pidfd_open(pid).sys("pidfd_open", pid)?,
        }),
        Some(Msg::Error(text)) => Err(Error::Init(text)),
        _ => Err(Error::Init(format!("{what} failed"))),
    }
}

/// Protects the berth binary on the host (the runc CVE-2019-5736 class) without copying it.
///
/// Until it `execve`s, a process that berth clones (init, an intermediate, an exec'd process)
/// runs the berth binary, and a process in the container that can see it could open
/// `/proc/<pid>/exe` — or take an `O_PATH` handle and, once berth is no longer running (the
/// kernel refuses writes to a running executable with ETXTBSY), reopen it for writing and
/// replace the host's binary. runc answered with a copy of its binary in a sealed memfd on
/// every call. berth never re-executes itself, so the binary is reachable only through these
/// processes' `/proc/<pid>` entries, and those can be closed instead: a non-dumpable process's
/// `exe`, `fd/*`, `map_files/*` and ptrace attachment all require CAP_SYS_PTRACE in the user
/// namespace its memory belongs to — berth's own (the host's). One prctl, inherited by every
/// clone, and reset by the kernel only at the container process's own `execve`. The
/// `security_host` integration tests attack a created container's init and racing `exec`s.
///
/// The remaining hole, by construction: a container in the host's user namespace whose
/// processes hold CAP_SYS_PTRACE passes that check. It cannot see host processes (its pid
/// namespace hides them), but berth's processes enter its pid namespace: a created
/// container's init until `start`, an exec'd process until its `execve`, and init of a
/// container that joins its pid namespace. Such a process in the container can read
/// `/proc/<pid>/exe` and keep an `O_PATH` handle on the berth binary, then reopen it for
/// writing once no berth process runs (if the inode's mode lets its uid write: container
/// root is host root). No cheap fix closes this without a copy of the binary (a memfd per
/// call, which berth's no-re-exec design avoids), so [`warn_ptrace_exposure`] names the
/// configurations that have it. A container with its own user namespace never has it.
pub(crate) fn hide_runtime_image() -> Result<()> {
    nix::sys::prctl::set_dumpable(false).sys("prctl", "PR_SET_DUMPABLE 0")
}

/// Warns (see [`hide_runtime_image`]) when `process` would hold CAP_SYS_PTRACE in the host's
/// user namespace (`userns` false): processes with it can reach the berth binary through
/// berth processes that enter the container's pid namespace.
pub(crate) fn warn_ptrace_exposure(process: &Process, userns: bool, what: &str) {
    let ptrace = process
        .capabilities()
        .as_ref()
        .and_then(|c| c.bounding().as_ref())
        .is_some_and(|b| b.contains(&oci_spec::runtime::Capability::SysPtrace));
    if ptrace && !userns {
        tracing::warn!(
            "process.capabilities: CAP_SYS_PTRACE without a user namespace lets {what} open \
             /proc/<pid>/exe of berth processes in its pid namespace, and so the berth binary"
        );
    }
}

/// Compiles (or takes from the cache) the seccomp filter for `process`, and connects to the
/// agent's socket: its path is in the runtime's namespaces, and an unreachable listener is an
/// error before anything else exists.
pub(crate) fn prepare_seccomp(
    seccomp: Option<&LinuxSeccomp>,
    process: &Process,
    root: &Path,
) -> Result<(Option<Seccomp>, Option<OwnedFd>)> {
    let nnp = process.no_new_privileges().unwrap_or(false);
    let filter = Seccomp::prepare(seccomp, nnp, Some(&root.join(SECCOMP_CACHE)))?;
    let listener = seccomp
        .and_then(|s| s.listener_path().as_deref())
        .map(crate::seccomp::connect_listener)
        .transpose()?;
    Ok((filter, listener))
}

/// The listening socket that `start` connects to. It is bound through `/proc/self/fd/<dir>`
/// so that a long state root cannot overflow `sun_path`.
fn exec_socket(dir: &StateDir) -> Result<UnixListener> {
    UnixListener::bind(exec_socket_path(dir)).ctx("bind", dir.join(EXEC_SOCKET))
}

/// `/proc/self/fd/<dirfd>/exec.sock`: a short path to the socket in the locked state dir.
pub(crate) fn exec_socket_path(dir: &StateDir) -> String {
    format!("/proc/self/fd/{}/{EXEC_SOCKET}", dir.as_fd().as_raw_fd())
}

/// The runtime-spec state JSON (what hooks and the seccomp agent read) of a container being
/// created from `bundle`.
pub(crate) fn state_json(id: &str, pid: i32, bundle: &Bundle, status: Status) -> Vec<u8> {
    spec_state(
        id,
        pid,
        &bundle.path,
        bundle.spec.annotations().as_ref(),
        status,
    )
}

/// The runtime-spec state JSON: id, status, pid, bundle, annotations.
pub(crate) fn spec_state(
    id: &str,
    pid: i32,
    bundle: &Path,
    annotations: Option<&HashMap<String, String>>,
    status: Status,
) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "ociVersion": crate::OCI_VERSION,
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
        "annotations": annotations.cloned().unwrap_or_default(),
    }))
    .expect("state serialises")
}
