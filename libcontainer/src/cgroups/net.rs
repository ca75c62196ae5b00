//! `linux.resources.network` (cgroup v1 only): `net_cls.classid` and `net_prio.ifpriomap`.
use oci_spec::runtime::LinuxNetwork;

use super::field_err;
use super::files::write;
use crate::Result;
use std::path::Path;

pub(super) fn set_classid(dir: &Path, n: &LinuxNetwork) -> Result<()> {
    match n.class_id() {
        Some(id) => {
            write(dir, "net_cls.classid", id).map_err(field_err("linux.resources.network.classID"))
        }
        None => Ok(()),
    }
}

pub(super) fn set_priorities(dir: &Path, n: &LinuxNetwork) -> Result<()> {
    for (i, p) in n.priorities().iter().flatten().enumerate() {
        let field = format!("linux.resources.network.priorities[{i}]");
        write(
            dir,
            "net_prio.ifpriomap",
            format!("{} {}", p.name(), p.priority()),
        )
        .map_err(field_err(field))?;
    }
    Ok(())
}
