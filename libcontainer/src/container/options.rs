//! The options of [`Container::create`](super::Container::create).
use std::path::PathBuf;

use super::DEFAULT_ROOT;

/// Options of [`Container::create`]; the CLI's `create` flags map onto these one to one.
#[derive(Clone, Debug)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub root: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// `--preserve-fds`: fds after 0-2 (and after the LISTEN_FDS ones) that pass into the
    /// container.
    pub extra_fds: u32,
    /// Socket-activation fds (systemd's LISTEN_FDS for this process) passed on as fds 3..;
    /// the container gets `LISTEN_FDS=<n>` and `LISTEN_PID=1`.
    pub listen_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// The caller will not stay attached (create, run --detach): a terminal then needs a
    /// console socket.
    pub detach: bool,
    /// The caller starts the container as soon as create returns (run): init then skips
    /// giving back the memory it would hold while it waits for `start`.
    pub start_at_once: bool,
}

impl CreateOptions {
    pub fn new(id: impl Into<String>, bundle: impl Into<PathBuf>) -> Self {
        CreateOptions {
            id: id.into(),
            bundle: bundle.into(),
            root: PathBuf::from(DEFAULT_ROOT),
            pid_file: None,
            console_socket: None,
            extra_fds: 0,
            listen_fds: 0,
            no_pivot: false,
            no_new_keyring: false,
            detach: true,
            start_at_once: false,
        }
    }
    pub fn root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }
    pub fn pid_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.pid_file = Some(path.into());
        self
    }
    pub fn console_socket(mut self, path: impl Into<PathBuf>) -> Self {
        self.console_socket = Some(path.into());
        self
    }
    pub fn extra_fds(mut self, n: u32) -> Self {
        self.extra_fds = n;
        self
    }
    pub fn listen_fds(mut self, n: u32) -> Self {
        self.listen_fds = n;
        self
    }
    pub fn no_pivot(mut self, yes: bool) -> Self {
        self.no_pivot = yes;
        self
    }
    pub fn no_new_keyring(mut self, yes: bool) -> Self {
        self.no_new_keyring = yes;
        self
    }
    pub fn detach(mut self, yes: bool) -> Self {
        self.detach = yes;
        self
    }
    pub fn start_at_once(mut self, yes: bool) -> Self {
        self.start_at_once = yes;
        self
    }
}
