//! Writing `linux.resources`: which directory each controller uses, and the order of writes.
use std::path::Path;

use oci_spec::runtime::{LinuxNetwork, LinuxResources};

use super::{blkio, bpf, cpu, devices, hugetlb, memory, net, pids, rdma, unified, v2, Manager};
use crate::{Error, Result};

/// Checks `linux.resources` before anything is created, as far as that does not depend on the
/// host (what does, such as a controller or a huge page size the host lacks, is an error in
/// [`Manager::set`]).
pub(crate) fn validate(resources: Option<&LinuxResources>) -> Result<()> {
    let Some(r) = resources else {
        return Ok(());
    };
    if let Some(d) = r.devices() {
        devices::validate(d)?;
    }
    if let Some(m) = r.memory() {
        memory::validate(m)?;
    }
    if let Some(c) = r.cpu() {
        cpu::validate(c)?;
    }
    if let Some(b) = r.block_io() {
        blkio::validate(b)?;
    }
    if let Some(h) = r.hugepage_limits() {
        hugetlb::validate(h)?;
    }
    if let Some(rd) = r.rdma() {
        rdma::validate(rd)?;
    }
    if let Some(u) = r.unified() {
        unified::validate(u)?;
    }
    Ok(())
}

/// Turns an error into one that names the spec field it was about.
pub(super) fn field_err(field: impl Into<String>) -> impl FnOnce(Error) -> Error {
    let field = field.into();
    move |e| Error::invalid(field, e.to_string())
}

/// The container's cgroup directory for one controller, and which version it is.
#[derive(Clone, Copy)]
pub(super) enum Dir<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

impl Dir<'_> {
    pub fn path(&self) -> &Path {
        match self {
            Dir::V1(p) | Dir::V2(p) => p,
        }
    }
}

impl Manager {
    /// Where `controller` (v1 name, v2 name) lives for this container: its v1 hierarchy, or
    /// the cgroup2 tree (enabling the controller in the ancestors). `field` names the spec
    /// field that needs it, for the error when the host has no such controller.
    fn dir_for(&self, v1: &str, v2: &str, field: &str) -> Result<Dir<'_>> {
        if let Some(d) = self.v1_dir(v1) {
            return Ok(Dir::V1(d));
        }
        match &self.v2 {
            Some(cg) => {
                v2::enable_controller(&cg.path, v2).map_err(field_err(field))?;
                Ok(Dir::V2(&cg.path))
            }
            None => Err(Error::invalid(
                field,
                format!("the {v1} controller is not mounted on this host"),
            )),
        }
    }

    /// Writes `resources` into a new cgroup (before the container's process starts).
    pub fn set(&self, resources: &LinuxResources) -> Result<()> {
        self.write(resources, false)
    }

    /// Writes `resources` into the cgroup of a running container: only what is given changes
    /// (device rules too: without `devices` they stay as they are), and with
    /// `memory.checkBeforeUpdate` a memory limit below the current usage is refused.
    pub fn update(&self, resources: &LinuxResources) -> Result<()> {
        validate(Some(resources))?;
        self.write(resources, true)
    }

    fn write(&self, r: &LinuxResources, update: bool) -> Result<()> {
        if !(update && r.devices().is_none()) {
            let rules = devices::rules(r.devices().as_ref())?;
            match (self.v1_cgroup("devices"), &self.v2) {
                // Made by `create` and not yet joined: see `devices::set_v1`.
                (Some(cg), _) => {
                    devices::set_v1(&cg.path, &rules, !update && cg.created.get() > 0)?
                }
                (None, Some(cg)) => bpf::set(&cg.path, &rules)?,
                (None, None) => {
                    return Err(Error::invalid(
                        "linux.resources.devices",
                        "no devices controller on this host",
                    ))
                }
            }
        }
        if let Some(m) = r.memory().filter(|m| *m != Default::default()) {
            memory::set(
                self.dir_for("memory", "memory", "linux.resources.memory")?,
                &m,
                update,
            )?;
        }
        if let Some(c) = r.cpu() {
            let cpuset = cpu::uses_cpuset(c)
                .then(|| self.dir_for("cpuset", "cpuset", "linux.resources.cpu"))
                .transpose()?;
            let cpu_dir = cpu::uses_cpu(c)
                .then(|| self.dir_for("cpu", "cpu", "linux.resources.cpu"))
                .transpose()?;
            cpu::set(cpu_dir, cpuset, c)?;
        }
        if let Some(p) = r.pids().filter(|p| p.limit() != 0) {
            pids::set(self.dir_for("pids", "pids", "linux.resources.pids")?, &p)?;
        }
        if let Some(b) = r.block_io().as_ref().filter(|b| **b != Default::default()) {
            blkio::set(self.dir_for("blkio", "io", "linux.resources.blockIO")?, b)?;
        }
        if let Some(h) = r.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
            hugetlb::set(
                self.dir_for("hugetlb", "hugetlb", "linux.resources.hugepageLimits")?,
                h,
            )?;
        }
        if let Some(n) = r.network() {
            self.set_network(n)?;
        }
        if let Some(rd) = r.rdma().as_ref().filter(|m| !m.is_empty()) {
            rdma::set(self.dir_for("rdma", "rdma", "linux.resources.rdma")?, rd)?;
        }
        if let Some(u) = r.unified().as_ref().filter(|m| !m.is_empty()) {
            match &self.v2 {
                Some(cg) => unified::set(&cg.path, u)?,
                None => {
                    return Err(Error::invalid(
                        "linux.resources.unified",
                        "this host has no cgroup v2 hierarchy",
                    ))
                }
            }
        }
        Ok(())
    }

    /// `linux.resources.network`: net_cls and net_prio exist on v1 only.
    fn set_network(&self, n: &LinuxNetwork) -> Result<()> {
        let parts = [
            (
                "linux.resources.network.classID",
                "net_cls",
                n.class_id().is_some(),
            ),
            (
                "linux.resources.network.priorities",
                "net_prio",
                n.priorities().as_ref().is_some_and(|p| !p.is_empty()),
            ),
        ];
        for (field, controller, wanted) in parts {
            if !wanted {
                continue;
            }
            let Some(dir) = self.v1_dir(controller) else {
                return Err(Error::invalid(
                    field,
                    format!("needs the cgroup v1 {controller} controller, which this host lacks"),
                ));
            };
            if controller == "net_cls" {
                net::set_classid(dir, n)?;
            } else {
                net::set_priorities(dir, n)?;
            }
        }
        Ok(())
    }
}
