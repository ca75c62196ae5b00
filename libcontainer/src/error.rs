//! The library's error type: every failure names what it was doing (the syscall, the path, the
//! spec field) so that the CLI can print it once, on one line.
use std::path::PathBuf;

use nix::errno::Errno;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation on a host or container path failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A system call failed; `what` says on what (a path, a pid, a value).
    #[error("{syscall} {what}: {errno}")]
    Sys {
        syscall: &'static str,
        what: String,
        #[source]
        errno: Errno,
    },
    /// The bundle's config.json could not be read or parsed.
    #[error("parse {path}: {reason}")]
    Config { path: PathBuf, reason: String },
    /// A field of the spec has a value berth cannot honour.
    #[error("{field}: {reason}")]
    InvalidSpec { field: String, reason: String },
    /// A field of the spec that berth does not implement: rejected, never ignored.
    #[error("{field}: not supported by berth")]
    Unsupported { field: String },
    /// The container id is not acceptable.
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: String },
    #[error("container does not exist")]
    NotExist,
    #[error("container with id exists: {0}")]
    Exists(String),
    /// The operation is not allowed in the container's current status.
    #[error("{0}")]
    InvalidState(String),
    #[error("invalid signal {0:?}")]
    InvalidSignal(String),
    /// A hook failed: which kind, which path, why.
    #[error("{kind} hook {path}: {reason}")]
    Hook {
        kind: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// Failure reported by the container's init process while it set the container up.
    #[error("{0}")]
    Init(String),
    /// A cgroup operation failed.
    #[error("cgroup {path}: {reason}")]
    Cgroup { path: PathBuf, reason: String },
    /// The caller's options are inconsistent (for example `--console-socket` without a terminal).
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// An I/O error on `path` while doing `op` ("open", "read", "mkdir", ...).
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// A failed system call with a description of its argument.
    pub fn sys(syscall: &'static str, what: impl std::fmt::Display, errno: Errno) -> Self {
        Error::Sys {
            syscall,
            what: what.to_string(),
            errno,
        }
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidSpec {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn unsupported(field: impl Into<String>) -> Self {
        Error::Unsupported {
            field: field.into(),
        }
    }
}

/// Attach a path and an operation to `std::io::Result`s.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(op, path, e))
    }
}

/// Attach a syscall name and its argument to `nix::Result`s.
pub(crate) trait SysContext<T> {
    fn sys(self, syscall: &'static str, what: impl std::fmt::Display) -> Result<T>;
}

impl<T> SysContext<T> for nix::Result<T> {
    fn sys(self, syscall: &'static str, what: impl std::fmt::Display) -> Result<T> {
        self.map_err(|e| Error::sys(syscall, what, e))
    }
}
