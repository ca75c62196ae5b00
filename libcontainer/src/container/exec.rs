//! `exec`: another process in a running container.
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use nix::unistd::Pid;
use oci_spec::runtime::Process;

use super::{check_fds, check_terminal, Container};
use crate::launch;
use crate::state::write_atomic;
use crate::{Error, Result, Status};

/// Options of [`Container::exec`].
#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// The process to run (`exec --process`, or built from the container's config and the
    /// command line).
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    /// `--preserve-fds`: fds 3.. that pass into the process.
    pub extra_fds: u32,
    /// The caller will not wait for the process: a terminal then needs a console socket.
    pub detach: bool,
}

/// A process started by [`Container::exec`]; the caller is its parent.
pub struct ExecProcess {
    pid: Pid,
    _pidfd: OwnedFd,
}

impl ExecProcess {
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }
}

impl Container {
    /// Runs another process in the container (its namespaces, cgroup and the given process
    /// settings). Returns once the process has `execve`d.
    pub fn exec(&self, opts: &ExecOptions) -> Result<ExecProcess> {
        {
            let _dir = self.dir()?;
            match self.status() {
                Status::Created | Status::Running => {}
                Status::Paused => {
                    return Err(Error::InvalidState(
                        "cannot exec in a paused container".into(),
                    ))
                }
                _ => {
                    return Err(Error::InvalidState(
                        "cannot exec in a stopped container".into(),
                    ))
                }
            }
        }
        crate::process::validate(&opts.process)?;
        check_terminal(&opts.process, opts.console_socket.is_some(), opts.detach)?;
        check_fds(0, opts.extra_fds)?;
        let state_json = self.hook_state(Status::Running);
        let launched = launch::exec::exec(&launch::exec::ExecLaunch {
            init_pid: self.record.pid,
            process: &opts.process,
            seccomp: self.record.seccomp.as_ref(),
            personality: self.record.personality.as_ref(),
            state_json: &state_json,
            root: &self.root,
            cgroup: &self.record.cgroup,
            console_socket: opts.console_socket.as_deref(),
            extra_fds: opts.extra_fds,
        })?;
        if let Some(pid_file) = &opts.pid_file {
            if let Err(e) = write_atomic(pid_file, launched.pid.to_string().as_bytes(), 0o644) {
                launched.kill();
                return Err(e);
            }
        }
        Ok(ExecProcess {
            pid: launched.pid,
            _pidfd: launched.pidfd,
        })
    }
}
