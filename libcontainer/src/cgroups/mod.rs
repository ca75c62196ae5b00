//! Cgroups: the container's cgroup (`linux.cgroupsPath`) and its resources, on v1, v2 and
//! hybrid hosts.
use std::path::Path;

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::Result;

/// Checks `linux.resources` before anything is created.
pub(crate) fn validate(_resources: Option<&LinuxResources>) -> Result<()> {
    Ok(())
}

/// The cgroup(s) of one container. Serialisable: it is saved in the state record so that later
/// commands (`kill --all`, `delete`, `pause`) find the same cgroups without probing again.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Manager {}

impl Manager {
    /// Works out where the container's cgroup lives from `cgroupsPath` (empty: derived from the
    /// id), without touching the filesystem beyond probing the host's cgroup layout.
    pub fn new(_cgroups_path: Option<&Path>, _id: &str) -> Result<Self> {
        Ok(Manager {})
    }

    /// Creates the cgroup(s); an existing cgroup that has processes or is frozen is an error.
    pub fn create(&self) -> Result<()> {
        Ok(())
    }

    /// Moves `pid` into the cgroup(s).
    pub fn apply(&self, _pid: i32) -> Result<()> {
        Ok(())
    }

    /// Writes `resources`.
    pub fn set(&self, _resources: &LinuxResources) -> Result<()> {
        Ok(())
    }

    /// The pids in the container's cgroup.
    pub fn pids(&self) -> Result<Vec<i32>> {
        Ok(Vec::new())
    }

    /// Sends `sig` to every process in the cgroup (`cgroup.kill` on v2 for SIGKILL).
    pub fn kill(&self, _sig: i32) -> Result<()> {
        Ok(())
    }

    /// Whether the cgroup is frozen (the container is paused).
    pub fn is_frozen(&self) -> Result<bool> {
        Ok(false)
    }

    /// Removes the cgroup(s) this manager created, and only those.
    pub fn destroy(&self) -> Result<()> {
        Ok(())
    }
}

/// The `linux.cgroup` section of `berth features`.
pub(crate) fn features() -> serde_json::Value {
    serde_json::json!({"v1": false, "v2": false, "systemd": false, "systemdUser": false, "rdma": false})
}
