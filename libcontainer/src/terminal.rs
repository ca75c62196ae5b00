//! `process.terminal`: a pty whose slave becomes the container's stdio, controlling terminal and
//! `/dev/console`, and whose master goes to the caller over `--console-socket` (SCM_RIGHTS), as
//! containerd's shim and conmon expect.
use std::os::fd::OwnedFd;
use std::path::Path;

use oci_spec::runtime::Box as ConsoleSize;

use crate::{Error, Result};

/// Connects to the console socket; runs in the runtime's namespaces (the path is a host path).
pub(crate) fn connect_console_socket(path: &Path) -> Result<OwnedFd> {
    Err(Error::Usage(format!(
        "--console-socket {}: terminals are not supported yet",
        path.display()
    )))
}

/// In init, after `pivot_root`: opens the container's `/dev/ptmx`, makes the slave the stdio and
/// controlling terminal, binds it onto `/dev/console`, applies `consoleSize`, and sends the
/// master over `socket`.
pub(crate) fn setup_console(_socket: OwnedFd, _size: Option<&ConsoleSize>) -> Result<()> {
    Err(Error::unsupported("process.terminal"))
}

/// For `exec`: the same pty setup without `/dev/console` (it belongs to the container's init).
pub(crate) fn setup_pty(_socket: OwnedFd, _size: Option<&ConsoleSize>) -> Result<()> {
    Err(Error::unsupported("process.terminal"))
}
