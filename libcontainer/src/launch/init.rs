//! The container's init, from clone to `execve`. It runs in a copy of the runtime's
//! (single-threaded) address space, so it reads the already-parsed spec directly. Any failure
//! is sent to the runtime as one line of text and ends the process.
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};

use crate::error::SysContext;
use crate::namespaces::{self, Plan};
use crate::procfs::ProcFs;
use crate::rootfs::{self, RootfsConfig};
use crate::seccomp::Seccomp;
use crate::spec::Bundle;
use crate::sys::process::{clear_cloexec, cloexec_from};
use crate::{hooks, process, terminal, Error, Result, Status};

use super::sync::{Channel, Msg};

pub(crate) struct Context<'a> {
    pub id: &'a str,
    pub bundle: &'a Bundle,
    pub plan: &'a Plan,
    pub channel: &'a Channel,
    pub exec_listener: &'a UnixListener,
    pub console: Option<OwnedFd>,
    pub seccomp: Option<&'a Seccomp>,
    /// The connection to the seccomp agent (`listenerPath`), for the notify fd.
    pub seccomp_listener: Option<OwnedFd>,
    pub extra_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// The host's procfs, verified by the runtime: init's /proc writes go through it.
    pub proc: &'a ProcFs,
    /// What the runtime learnt for the container's process (capabilities, signals).
    pub prepared: &'a process::Prepared,
    /// `start` follows at once (`run`): init does not give back its pages before it waits.
    pub start_at_once: bool,
}

/// Entry point of the cloned init: returns the exit code only if something failed.
pub(crate) fn run(ctx: Context) -> i32 {
    let channel = ctx.channel;
    match init(ctx) {
        Ok(never) => match never {},
        Err(Failure::Setup(e)) => {
            let _ = channel.send(&Msg::Error(e.to_string()));
            1
        }
        Err(Failure::Started(mut conn, e)) => {
            let _ = conn.write_all(e.to_string().as_bytes());
            1
        }
    }
}

/// Waits until the runtime has made the v1 cgroups, moves init into them through the `tasks`
/// files it sent, then makes the cgroup namespace (rooted at the cgroup init is in by then).
fn join_cgroups(channel: &Channel, plan: &Plan) -> Result<()> {
    match channel.recv_fds()? {
        (Some(Msg::Cgroups), tasks) => crate::cgroups::join_v1(&tasks)?,
        (Some(Msg::Error(e)), _) => return Err(Error::Init(e)),
        _ => return Err(Error::Init("runtime went away".into())),
    }
    plan.unshare_cgroup()
}

/// Whether the spec has prestart or createRuntime hooks, which the runtime runs in the middle
/// of init's setup.
fn has_runtime_hooks(spec: &oci_spec::runtime::Spec) -> bool {
    spec.hooks().as_ref().is_some_and(|h| {
        [h.prestart(), h.create_runtime()]
            .iter()
            .any(|hooks| hooks.as_ref().is_some_and(|v| !v.is_empty()))
    })
}

/// Where init failed: during setup (reported to `create` on the sync channel) or after
/// `start` released it (reported to `start` on its connection).
enum Failure {
    Setup(Error),
    Started(UnixStream, Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Setup(e)
    }
}

fn init(mut ctx: Context) -> std::result::Result<std::convert::Infallible, Failure> {
    let spec = &ctx.bundle.spec;
    let pid = match ctx.channel.recv()? {
        Some(Msg::Go(pid)) => pid,
        Some(Msg::Error(e)) => return Err(Error::Init(e).into()),
        _ => return Err(Error::Init("runtime went away".into()).into()),
    };
    if ctx.plan.userns() {
        become_root_in_userns(ctx.proc)?;
    }
    if !ctx.no_new_keyring {
        crate::sys::process::join_session_keyring(ctx.id).sys("keyctl", "join session keyring")?;
    }
    namespaces::set_names(spec)?;
    let rootfs = RootfsConfig {
        spec,
        rootfs: &ctx.bundle.rootfs,
        bundle: &ctx.bundle.path,
        no_pivot: ctx.no_pivot,
        userns: ctx.plan.userns(),
        cgroupns: ctx.plan.has(nix::sched::CloneFlags::CLONE_NEWCGROUP),
        join_cgroups: &|| join_cgroups(ctx.channel, ctx.plan),
    };
    rootfs::prepare(&rootfs)?;
    rootfs::apply_sysctl(&rootfs, ctx.proc)?;
    let proc_spec = spec.process().as_ref().expect("validated: process present");
    process::apply_procfs(proc_spec, ctx.proc)?;

    // The runtime runs its hooks now, while init waits; without any, there is nothing to wait
    // for (the runtime takes Ready in place of RunHooks).
    if has_runtime_hooks(spec) {
        ctx.channel.send(&Msg::RunHooks)?;
        match ctx.channel.recv()? {
            Some(Msg::HooksDone) => {}
            Some(Msg::Error(e)) => return Err(Error::Init(e).into()),
            _ => return Err(Error::Init("runtime went away".into()).into()),
        }
    }
    let state = super::state_json(ctx.id, pid, ctx.bundle, Status::Creating);
    let h = spec.hooks().as_ref();
    hooks::run(
        "createContainer",
        h.and_then(|h| h.create_container().as_ref()),
        &state,
    )?;

    rootfs::pivot(&rootfs)?;
    process::create_cwd(proc_spec)?;
    if let Some(console) = ctx.console {
        terminal::setup_console(console, proc_spec.console_size().as_ref())?;
    }
    rootfs::finalize(&rootfs)?;
    pass_fds(ctx.extra_fds)?;
    // LSM: the exec labels are written before seccomp (a filter could refuse the write) and
    // before the capabilities drop and no_new_privs.
    crate::lsm::apply_exec_labels(proc_spec, ctx.proc)?;
    // seccomp: without no_new_privs, installing needs CAP_SYS_ADMIN, so it happens before the
    // user switch drops capabilities; with it, as late as possible (after no_new_privs), but
    // before Ready so that the notify fd reaches the agent while the container is "creating".
    let creating = super::state_json(ctx.id, pid, ctx.bundle, Status::Creating);
    let mut listener = ctx.seccomp_listener.take();
    if let Some(s) = ctx.seccomp.filter(|s| s.before_capabilities()) {
        s.install(listener.take(), pid, &creating)?;
    }
    let personality = spec.linux().as_ref().and_then(|l| l.personality().as_ref());
    let exec = process::apply(proc_spec, ctx.prepared, personality)?;
    if let Some(s) = ctx.seccomp.filter(|s| !s.before_capabilities()) {
        s.install(listener.take(), pid, &creating)?;
    }

    // Waiting can take long, and thousands of inits may wait at once: init gives back the code
    // pages its setup touched, then waits for `start` (see sys::memory). When `start` follows
    // at once, those pages would only fault back in.
    let segments = (!ctx.start_at_once).then(crate::sys::memory::readonly_segments);
    ctx.channel.send(&Msg::Ready)?;
    let conn = crate::sys::memory::drop_then_accept(segments.as_ref(), ctx.exec_listener.as_fd())
        .sys("accept", super::EXEC_SOCKET)?;
    let mut conn = UnixStream::from(conn);
    // `start` sends one byte; an EOF means it gave up, and init must not run the process.
    let mut go = [0u8; 1];
    if !matches!(conn.read(&mut go), Ok(1)) {
        return Err(Error::Init("start went away".into()).into());
    }
    let state = super::state_json(ctx.id, pid, ctx.bundle, Status::Created);
    if let Err(e) = hooks::run(
        "startContainer",
        h.and_then(|h| h.start_container().as_ref()),
        &state,
    ) {
        return Err(Failure::Started(conn, e));
    }
    let e = exec.exec();
    Err(Failure::Started(conn, e))
}

/// In a new user namespace init starts as the overflow uid; become the namespace's root (when
/// it is mapped) so that the setup steps run with its full capabilities.
fn become_root_in_userns(proc: &ProcFs) -> Result<()> {
    use nix::unistd::{setresgid, setresuid, Gid, Uid};
    let mapped = |file: &str| {
        proc.read(file)
            .map(|m| {
                m.lines().any(|l| {
                    let f: Vec<u64> = l
                        .split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect();
                    f.len() == 3 && f[0] == 0 && f[2] > 0
                })
            })
            .unwrap_or(false)
    };
    if mapped("self/gid_map") {
        let g = Gid::from_raw(0);
        setresgid(g, g, g).sys("setresgid", 0)?;
    }
    if mapped("self/uid_map") {
        let u = Uid::from_raw(0);
        setresuid(u, u, u).sys("setresuid", 0)?;
    }
    Ok(())
}

/// Only fds 0-2 and the `extra` fds after them pass into the container: everything else
/// (such as the shim's socket that containerd leaks as fd 3) is marked close-on-exec.
pub(super) fn pass_fds(extra: u32) -> Result<()> {
    for fd in 3..3 + extra as i32 {
        clear_cloexec(fd).sys("fcntl F_SETFD", format!("preserved fd {fd}"))?;
    }
    cloexec_from(3 + extra).sys("close_range", 3 + extra)
}
