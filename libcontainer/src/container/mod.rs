//! The container lifecycle — create, start, state, kill, delete — over a state directory that
//! separate processes (an engine's shim calling the CLI) can share; `exec` and the cgroup
//! operations (pause, resume, update, stats) are in submodules.
mod cgroup;
mod exec;
mod list;
mod liveness;
mod options;

pub use exec::{ExecOptions, ExecProcess};
pub use options::CreateOptions;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::{Hooks, LinuxPersonality, LinuxResources, LinuxSeccomp, Process};
use serde::{Deserialize, Serialize};

use crate::cgroups::{Manager, Stage};
use crate::error::{IoContext, SysContext};
use crate::launch::{self, Launch, EXEC_SOCKET};
use crate::spec::Bundle;
use crate::state::{now_rfc3339, write_atomic, StateDir};
use crate::sys::process::pidfd_send_signal;
use crate::timing::Phases;
use crate::{hooks, id, Error, Result, State, Status};
use liveness::Identity;

/// Default state root, as runc's is `/run/runc`.
pub const DEFAULT_ROOT: &str = "/run/berth";

/// What is kept in `<root>/<id>/state.json` between commands.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    id: String,
    pid: i32,
    /// Tells init from a later process that was given the same pid.
    init: Identity,
    bundle: PathBuf,
    rootfs: PathBuf,
    created: String,
    #[serde(default)]
    annotations: HashMap<String, String>,
    #[serde(default)]
    hooks: Option<Hooks>,
    /// The container's seccomp filter and personality: `exec` applies them too.
    #[serde(default)]
    seccomp: Option<LinuxSeccomp>,
    #[serde(default)]
    personality: Option<LinuxPersonality>,
    cgroup: Manager,
}

/// A container, as found in (or just written to) its state directory.
pub struct Container {
    root: PathBuf,
    record: Record,
    /// Set in the process that created the container: init is our child and can be waited for.
    child: Option<OwnedFd>,
}

impl Container {
    /// Builds the container from its bundle and leaves init blocked before `execve`. On failure
    /// nothing is left behind: no process, cgroup, mount or state directory.
    pub fn create(opts: &CreateOptions) -> Result<Container> {
        let t = Phases::start("create");
        id::validate(&opts.id)?;
        check_fds(opts.listen_fds, opts.extra_fds)?;
        let mut bundle = Bundle::load(&opts.bundle)?;
        t.mark("load and validate config.json");
        if opts.listen_fds > 0 {
            if let Some(p) = bundle.spec.process_mut().as_mut() {
                let env = p.env_mut().get_or_insert_with(Vec::new);
                env.push(format!("LISTEN_FDS={}", opts.listen_fds));
                env.push("LISTEN_PID=1".to_string());
            }
        }
        let process = bundle.spec.process().as_ref().expect("validated");
        check_terminal(process, opts.console_socket.is_some(), opts.detach)?;
        let linux = bundle.spec.linux().as_ref().expect("validated");
        let cgroup = Manager::new(linux.cgroups_path().as_deref(), &opts.id)?;
        let dir = StateDir::create(&opts.root, &opts.id)?;
        t.mark("probe cgroups, make state dir");
        match Self::build(opts, &bundle, &dir, cgroup, &t) {
            Ok(c) => Ok(c),
            Err((e, cgroup)) => {
                if let Some(cg) = cgroup {
                    let _ = cg.destroy();
                }
                let _ = dir.remove();
                Err(e)
            }
        }
    }

    /// The part of create after the state directory exists; on error, hands back the cgroup
    /// (if it was created) so the caller can remove it.
    fn build(
        opts: &CreateOptions,
        bundle: &Bundle,
        dir: &StateDir,
        cgroup: Manager,
        t: &Phases,
    ) -> std::result::Result<Container, (Error, Option<Manager>)> {
        // Always: without `linux.resources` the container still gets the default device rules
        // (deny all but the standard devices), as with runc.
        let default = LinuxResources::default();
        let resources = bundle
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().as_ref())
            .unwrap_or(&default);
        // The v1 hierarchies follow while init sets up (cgroups::Stage).
        cgroup
            .create(Stage::BeforeClone, resources)
            .map_err(|e| (e, None))?;
        let fail = |e| (e, Some(cgroup.clone()));
        t.mark("create cgroups that init is cloned into (cgroup2)");
        let launched = launch::launch(&Launch {
            resources,
            id: &opts.id,
            root: &opts.root,
            bundle,
            state_dir: dir,
            cgroup: &cgroup,
            console_socket: opts.console_socket.as_deref(),
            extra_fds: opts.listen_fds + opts.extra_fds,
            no_pivot: opts.no_pivot,
            no_new_keyring: opts.no_new_keyring,
            start_at_once: opts.start_at_once,
        })
        .map_err(fail)?;
        let pid = launched.pid.as_raw();
        let kill = |e: Error| {
            launched.kill();
            fail(e)
        };
        let init = Identity::of(pid, &launched.pidfd)
            .ok_or_else(|| Error::Init("container init died during create".into()))
            .map_err(kill)?;
        let record = Record {
            id: opts.id.clone(),
            pid,
            init,
            bundle: bundle.path.clone(),
            rootfs: bundle.rootfs.clone(),
            created: now_rfc3339(),
            annotations: bundle.spec.annotations().clone().unwrap_or_default(),
            hooks: bundle.spec.hooks().clone(),
            seccomp: bundle
                .spec
                .linux()
                .as_ref()
                .and_then(|l| l.seccomp().clone()),
            personality: bundle
                .spec
                .linux()
                .as_ref()
                .and_then(|l| l.personality().clone()),
            cgroup: cgroup.clone(),
        };
        t.mark("init ready");
        dir.save(&record).map_err(kill)?;
        if let Some(pid_file) = &opts.pid_file {
            write_atomic(pid_file, pid.to_string().as_bytes(), 0o644).map_err(kill)?;
        }
        Ok(Container {
            root: opts.root.clone(),
            record,
            child: Some(launched.pidfd),
        })
    }

    /// Loads the container `id` from the state root.
    pub fn load(root: &Path, id: &str) -> Result<Container> {
        id::validate(id)?;
        let dir = StateDir::open(root, id)?;
        let record = dir.load()?;
        Ok(Container {
            root: root.to_path_buf(),
            record,
            child: None,
        })
    }

    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// Init's pid in the runtime's pid namespace.
    pub fn pid(&self) -> i32 {
        self.record.pid
    }

    pub fn bundle(&self) -> &Path {
        &self.record.bundle
    }

    fn dir(&self) -> Result<StateDir> {
        StateDir::open(&self.root, &self.record.id)
    }

    /// The current status, worked out from init's liveness and the exec socket.
    pub fn status(&self) -> Status {
        self.status_with(Manager::is_frozen, || {
            self.root.join(&self.record.id).join(EXEC_SOCKET).exists()
        })
    }

    /// The status, with `frozen` to read the cgroup's freezer and `exec_socket_exists` to tell
    /// whether init still waits for `start`.
    fn status_with(
        &self,
        frozen: impl FnOnce(&Manager) -> Result<bool>,
        exec_socket_exists: impl FnOnce() -> bool,
    ) -> Status {
        if self.record.init.live(self.record.pid).is_none() {
            return Status::Stopped;
        }
        // Frozen comes first: a created container can be paused too (as with runc).
        if frozen(&self.record.cgroup).unwrap_or(false) {
            return Status::Paused;
        }
        if exec_socket_exists() {
            return Status::Created;
        }
        Status::Running
    }

    /// The state as `berth state` prints it. `owner` is empty there, as in runc; `list` fills
    /// it in ([`Container::list_states`]).
    pub fn state(&self) -> Result<State> {
        let _dir = self.dir()?;
        Ok(self.state_in(self.status()))
    }

    /// The state in `status`.
    fn state_in(&self, status: Status) -> State {
        State {
            oci_version: crate::OCI_VERSION.to_string(),
            id: self.record.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.record.pid
            },
            status,
            bundle: self.record.bundle.clone(),
            rootfs: self.record.rootfs.clone(),
            created: self.record.created.clone(),
            annotations: self.record.annotations.clone(),
            owner: String::new(),
        }
    }

    /// The runtime-spec state JSON that hooks read.
    fn hook_state(&self, status: Status) -> Vec<u8> {
        let pid = if status == Status::Stopped {
            0
        } else {
            self.record.pid
        };
        launch::spec_state(
            &self.record.id,
            pid,
            &self.record.bundle,
            Some(&self.record.annotations),
            status,
        )
    }

    /// Releases init: it runs the startContainer hooks and `execve`s the process. Returns after
    /// the `execve` (or with init's error), then runs the poststart hooks; if one fails the
    /// container is killed and the error returned.
    pub fn start(&self) -> Result<()> {
        let t = Phases::start("start");
        let dir = self.dir()?;
        match self.status() {
            Status::Created => {}
            Status::Stopped => {
                return Err(Error::InvalidState(
                    "cannot start a container that has stopped".into(),
                ))
            }
            _ => {
                return Err(Error::InvalidState(
                    "cannot start an already running container".into(),
                ))
            }
        }
        let sock = launch::exec_socket_path(&dir);
        let mut conn = UnixStream::connect(&sock).ctx("connect", dir.join(EXEC_SOCKET))?;
        let _ = std::fs::remove_file(dir.join(EXEC_SOCKET));
        conn.write_all(b"1").ctx("write", dir.join(EXEC_SOCKET))?;
        t.mark("release init");
        let mut reply = String::new();
        let _ = conn.read_to_string(&mut reply);
        if !reply.is_empty() {
            return Err(Error::Init(reply));
        }
        t.mark("startContainer hooks, execve");
        let h = self.record.hooks.as_ref();
        if let Err(e) = hooks::run(
            "poststart",
            h.and_then(|h| h.poststart().as_ref()),
            &self.hook_state(Status::Running),
        ) {
            let _ = self.signal_init(libc::SIGKILL);
            return Err(e);
        }
        Ok(())
    }

    /// Sends `sig` to init, or with `all` to every process in the container's cgroup.
    pub fn kill(&self, sig: i32, all: bool) -> Result<()> {
        let _dir = self.dir()?;
        if self.status() == Status::Stopped {
            return Err(Error::InvalidState("container not running".into()));
        }
        if all {
            self.record.cgroup.kill(sig)
        } else {
            self.signal_init(sig)
        }
    }

    fn signal_init(&self, sig: i32) -> Result<()> {
        let pid = self.record.pid;
        let Some(pidfd) = self.record.init.live(pid) else {
            return Err(Error::InvalidState("container not running".into()));
        };
        pidfd_send_signal(pidfd.as_fd(), sig).sys("kill", pid)
    }

    /// Deletes the container: a created or stopped one always; a running or paused one only
    /// with `force`, which kills all its processes first. Runs the poststop hooks (a failure is
    /// a warning, as the spec says) and removes the cgroup and the state.
    pub fn delete(self, force: bool) -> Result<()> {
        let t = Phases::start("delete");
        let dir = self.dir()?;
        match self.status() {
            Status::Stopped => {}
            Status::Created => self.kill_and_wait(false)?,
            _ if force => self.kill_and_wait(true)?,
            s => {
                return Err(Error::InvalidState(format!(
                    "cannot delete container {} that is not stopped: {s}",
                    self.record.id
                )))
            }
        }
        t.mark("stop processes");
        let mut result = self.record.cgroup.destroy();
        t.mark("remove cgroups");
        let h = self.record.hooks.as_ref();
        if let Err(e) = hooks::run(
            "poststop",
            h.and_then(|h| h.poststop().as_ref()),
            &self.hook_state(Status::Stopped),
        ) {
            tracing::warn!("{e}");
        }
        let removed = dir.remove();
        t.mark("poststop hooks, remove state");
        if result.is_ok() {
            result = removed;
        }
        result
    }

    /// `delete` by id, as the CLI (and a shim's second `delete --force`) calls it: with `force`
    /// a container that does not exist, or whose create died half-way, is not an error.
    pub fn delete_by_id(root: &Path, id: &str, force: bool) -> Result<()> {
        match Self::load(root, id) {
            Ok(c) => c.delete(force),
            Err(Error::NotExist) if force => {
                // A state dir without a record: an aborted create. Taking the lock waits for a
                // create still in progress; if it finished meanwhile, delete what it made.
                match StateDir::open(root, id) {
                    Ok(dir) => match dir.load::<Record>() {
                        Ok(_) => {
                            drop(dir);
                            Self::load(root, id)?.delete(true)
                        }
                        Err(_) => dir.remove(),
                    },
                    Err(Error::NotExist) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// SIGKILLs init (and with `all` every process of the cgroup) and waits until init is gone.
    fn kill_and_wait(&self, all: bool) -> Result<()> {
        let Some(pidfd) = self.record.init.live(self.record.pid) else {
            return Ok(()); // already gone
        };
        if all {
            self.record.cgroup.kill(libc::SIGKILL)?;
        }
        let _ = pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
        wait_pidfd(&pidfd, Duration::from_secs(10));
        Ok(())
    }

    /// Waits for init to exit and returns its exit code (128 + signal if it was killed), as
    /// `run` reports it. Only the process that created the container can wait for it.
    pub fn wait(&self) -> Result<i32> {
        if self.child.is_none() {
            return Err(Error::Usage(
                "only the process that created the container can wait for it".into(),
            ));
        }
        let pid = Pid::from_raw(self.record.pid);
        loop {
            match waitpid(pid, None) {
                Ok(WaitStatus::Exited(_, code)) => return Ok(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("waitpid", pid, e)),
            }
        }
    }
}

/// A terminal needs a console socket unless the caller stays attached (and then berth would
/// have to proxy the pty, which it does not do yet); a console socket needs a terminal.
fn check_terminal(process: &Process, console_socket: bool, detach: bool) -> Result<()> {
    match (process.terminal().unwrap_or(false), console_socket) {
        (true, false) if detach => Err(Error::Usage(
            "cannot allocate tty if berth will detach without setting console socket".into(),
        )),
        (true, false) => Err(Error::Usage(
            "process.terminal in the foreground needs --console-socket (the pty proxy is not implemented yet)".into(),
        )),
        (false, true) => Err(Error::Usage(
            "cannot use console socket if berth will not allocate tty (process.terminal is false)"
                .into(),
        )),
        _ => Ok(()),
    }
}

/// The fds that will pass into the container (3 .. 3+listen+extra) must be open.
fn check_fds(listen_fds: u32, extra_fds: u32) -> Result<()> {
    for fd in 3..3 + (listen_fds + extra_fds) as i32 {
        if !crate::sys::process::fd_is_open(fd) {
            return Err(Error::Usage(format!(
                "fd {fd} is not open (--preserve-fds {extra_fds} with {listen_fds} LISTEN_FDS)"
            )));
        }
    }
    Ok(())
}

/// Blocks until the process behind `pidfd` has exited, or `timeout` passes.
fn wait_pidfd(pidfd: &OwnedFd, timeout: Duration) {
    let t = PollTimeout::try_from(timeout.as_millis() as i32).unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    loop {
        match poll(&mut fds, t) {
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return,
        }
    }
}
