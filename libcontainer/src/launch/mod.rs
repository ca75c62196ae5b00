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

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::cgroups::Manager;
use crate::error::{IoContext, SysContext};
use crate::namespaces::{self, Plan};
use crate::spec::Bundle;
use crate::state::StateDir;
use crate::sys::process::{clone3, pidfd_send_signal, Clone};
use crate::{hooks, terminal, Error, Result};
use sync::Msg;

/// The socket init listens on while it waits for `start`.
pub(crate) const EXEC_SOCKET: &str = "exec.sock";

/// Everything the launch needs besides the bundle.
pub(crate) struct Launch<'a> {
    pub id: &'a str,
    pub bundle: &'a Bundle,
    pub state_dir: &'a StateDir,
    pub cgroup: &'a Manager,
    pub console_socket: Option<&'a Path>,
    /// Fds 3.. that pass into the container (LISTEN_FDS plus `--preserve-fds`).
    pub extra_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
}

/// The container's init, ready and waiting for `start`.
pub(crate) struct Launched {
    pub pid: Pid,
    pub pidfd: OwnedFd,
}

/// Starts init and waits until it is ready; on any failure init is killed and reaped.
pub(crate) fn launch(l: &Launch) -> Result<Launched> {
    let spec = &l.bundle.spec;
    let plan = Plan::from_spec(spec);
    let (ours, theirs) = sync::pair()?;
    let exec_listener = exec_socket(l.state_dir)?;
    let console = l
        .console_socket
        .map(terminal::connect_console_socket)
        .transpose()?;
    let init_ctx = init::Context {
        id: l.id,
        bundle: l.bundle,
        plan: &plan,
        channel: &theirs,
        exec_listener: &exec_listener,
        console,
        extra_fds: l.extra_fds,
        no_pivot: l.no_pivot,
        no_new_keyring: l.no_new_keyring,
    };
    let (pid, pidfd) = if plan.needs_intermediate() {
        spawn_via_intermediate(&plan, init_ctx, &ours)?
    } else {
        clone3(
            Clone {
                namespaces: plan.clone_flags(),
                ..Default::default()
            },
            || init::run(init_ctx),
        )
        .sys("clone3", "container init")?
    };
    drop(theirs);
    let launched = Launched { pid, pidfd };
    match setup(l, &plan, &ours, pid) {
        Ok(()) => Ok(launched),
        Err(e) => {
            let _ = pidfd_send_signal(launched.pidfd.as_fd(), libc::SIGKILL);
            let _ = waitpid(pid, None);
            Err(e)
        }
    }
}

/// The runtime's part of the conversation with init.
fn setup(l: &Launch, plan: &Plan, ch: &sync::Channel, pid: Pid) -> Result<()> {
    let spec = &l.bundle.spec;
    if plan.new_userns() {
        namespaces::write_id_maps(pid.as_raw(), spec)?;
    }
    l.cgroup.apply(pid.as_raw())?;
    ch.send(&Msg::Go(pid.as_raw()))?;
    loop {
        match ch.recv()? {
            Some(Msg::RunHooks) => {
                let state = state_json(l.id, pid.as_raw(), l.bundle, "creating");
                let h = spec.hooks().as_ref();
                hooks::run("prestart", h.and_then(|h| h.prestart().as_ref()), &state)?;
                hooks::run(
                    "createRuntime",
                    h.and_then(|h| h.create_runtime().as_ref()),
                    &state,
                )?;
                ch.send(&Msg::HooksDone)?;
            }
            Some(Msg::Ready) => return Ok(()),
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
) -> Result<(Pid, OwnedFd)> {
    let channel = init_ctx.channel;
    let (mid, _mid_fd) = clone3(Clone::default(), || {
        let result = namespaces::join(plan)
            .and_then(|()| {
                if plan.time_offsets.is_empty() {
                    Ok(())
                } else {
                    namespaces::unshare_time(plan)
                }
            })
            .and_then(|()| {
                clone3(
                    Clone {
                        namespaces: plan.clone_flags(),
                        parent: true,
                        cgroup: None,
                    },
                    || init::run(init_ctx),
                )
                .sys("clone3", "container init")
            });
        let msg = match result {
            Ok((pid, _)) => Msg::Pid(pid.as_raw()),
            Err(e) => Msg::Error(e.to_string()),
        };
        i32::from(channel.send(&msg).is_err())
    })
    .sys("clone3", "intermediate process")?;
    let reply = ours.recv();
    let _ = waitpid(mid, None);
    match reply? {
        Some(Msg::Pid(pid)) => {
            let pidfd = crate::sys::process::pidfd_open(pid).sys("pidfd_open", pid)?;
            Ok((Pid::from_raw(pid), pidfd))
        }
        Some(Msg::Error(text)) => Err(Error::Init(text)),
        _ => Err(Error::Init("intermediate process failed".into())),
    }
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

/// The runtime-spec state that hooks read on stdin.
pub(crate) fn state_json(id: &str, pid: i32, bundle: &Bundle, status: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "ociVersion": crate::OCI_VERSION,
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle.path,
        "annotations": bundle.spec.annotations().clone().unwrap_or_default(),
    }))
    .expect("state serialises")
}
