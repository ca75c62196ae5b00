//! berth: build and run Linux containers from OCI bundles.
//!
//! The entry point is [`Container`]: [`Container::create`] builds a container from a bundle and
//! leaves its init process blocked before `execve`; [`Container::start`] releases it;
//! [`Container::kill`], [`Container::state`] and [`Container::delete`] do what runc's commands of
//! the same names do. Every operation works on a state directory `<root>/<id>` and is serialised
//! by a lock on it, so separate processes (as an engine's shim runs them) can drive one container.
//!
//! ```no_run
//! use berth::{Container, CreateOptions};
//! # fn main() -> berth::Result<()> {
//! let opts = CreateOptions::new("demo", "/path/to/bundle").root("/run/berth");
//! let container = Container::create(&opts)?;
//! container.start()?;
//! let status = container.wait()?;
//! container.delete(false)?;
//! # let _ = status; Ok(())
//! # }
//! ```
//!
//! Layout: the launch path reads top to bottom — [`container`] (lifecycle and state) →
//! `launch` (the parent side: clone, sync, hooks) → `launch::init` (the container's init, up to
//! `execve`). Each kernel mechanism has one module (`namespaces`, `rootfs`, `process`, `cgroups`,
//! `terminal`, `hooks`); all `unsafe` code lives in `sys`.
#![deny(unsafe_code)]

pub mod container;
pub mod error;
pub mod features;
pub mod id;
pub mod seccomp;
pub mod signal;
pub mod spec;
pub mod state;

mod cgroups;
mod files;
mod hooks;
mod launch;
mod lsm;
mod namespaces;
mod process;
mod procfs;
mod rootfs;
mod terminal;
mod timing;

#[allow(unsafe_code)]
mod sys;

pub use cgroups::Stats;
pub use container::{Container, CreateOptions, ExecOptions, ExecProcess};
pub use error::{Error, Result};
pub use state::{State, Status};

/// The runtime-spec version berth implements.
pub const OCI_VERSION: &str = "1.3.0";
