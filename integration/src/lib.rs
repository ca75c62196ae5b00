//! The end-to-end test harness: it runs the berth binary (or any runc-compatible runtime, with
//! `BERTH_BIN=/usr/sbin/runc`) the way containerd does, on bundles made from a small busybox
//! rootfs with a static payload that reports what it sees inside the container.
//!
//! - [`TestEnv`]: one test's scratch directory, private state root and cleanup guard;
//! - [`Bundle`]: a bundle with a default runc-like config to change;
//! - [`runner`]: the runtime invocations and their [`Output`];
//! - [`payload`]: the payload's [`Report`];
//! - [`host`]: what the host sees (processes, cgroups, mounts, fds, namespaces);
//! - [`cgroups`]: a container's cgroup files from the host and from inside;
//! - [`rootfs`], [`spec`], [`paths`]: the building blocks.
//!
//! The tests create mounts and namespaces: run them inside a private mount namespace,
//! `unshare -m --propagation private cargo test -p berth-integration` (see scripts/test.sh).
pub mod bundle;
pub mod cgroups;
pub mod env;
pub mod host;
pub mod paths;
pub mod payload;
pub mod rootfs;
pub mod runner;
pub mod spec;

pub use bundle::Bundle;
pub use env::{runc_differs, wait_for_file, wait_until, TestEnv};
pub use payload::Report;
pub use runner::Output;
pub use spec::{cap_mask, cgroup_path, default_spec};
