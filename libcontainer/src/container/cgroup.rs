//! What a container's cgroup gives the CLI: pause and resume (the freezer), live resource
//! updates, usage statistics, the list of its processes, and OOM kills for `events`.
use oci_spec::runtime::LinuxResources;

use super::Container;
use crate::cgroups::Stats;
use crate::{Error, Result, Status};

impl Container {
    /// Freezes every process of the container (`pause`); a created container can be paused
    /// too, as runc allows.
    pub fn pause(&self) -> Result<()> {
        let _dir = self.dir()?;
        match self.status() {
            Status::Running | Status::Created => self.record.cgroup.freeze(),
            Status::Paused => Err(Error::InvalidState("container already paused".into())),
            _ => Err(Error::InvalidState("container not running".into())),
        }
    }

    /// Thaws a paused container (`resume`).
    pub fn resume(&self) -> Result<()> {
        let _dir = self.dir()?;
        match self.status() {
            Status::Paused => self.record.cgroup.thaw(),
            _ => Err(Error::InvalidState("container not paused".into())),
        }
    }

    /// Writes the given resources to the container's cgroup; fields left out keep their
    /// values (`update`).
    pub fn update(&self, resources: &LinuxResources) -> Result<()> {
        let _dir = self.dir()?;
        if self.status() == Status::Stopped {
            return Err(Error::InvalidState("container not running".into()));
        }
        crate::cgroups::validate(Some(resources))?;
        self.record.cgroup.update(resources)
    }

    /// Resource usage, in the shape of runc's `events --stats` data.
    pub fn stats(&self) -> Result<Stats> {
        self.record.cgroup.stats()
    }

    /// The pids (in the runtime's pid namespace) of every process in the container's cgroup.
    pub fn processes(&self) -> Result<Vec<i32>> {
        self.record.cgroup.pids()
    }

    /// How many processes the kernel's OOM killer has killed in the container's cgroup.
    pub fn oom_kills(&self) -> Result<u64> {
        self.record.cgroup.oom_kills()
    }
}
