//! Linux namespaces: which ones the container gets (new or joined by path), the order in which
//! they are entered, uid/gid mappings, time offsets, hostname and domainname.
use std::collections::HashSet;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::error::{IoContext, SysContext};
use crate::{Error, Result};

/// nix has no constant for the time namespace.
pub(crate) const CLONE_NEWTIME: CloneFlags = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);

/// The namespaces of one container, worked out from the spec.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Namespaces to create when init is cloned.
    pub new: CloneFlags,
    /// Namespaces to join, as (type, path), user first.
    pub join: Vec<(CloneFlags, PathBuf)>,
    /// `linux.timeOffsets` as (clock name, seconds, nanoseconds).
    pub time_offsets: Vec<(String, i64, u32)>,
}

impl Plan {
    pub fn from_spec(spec: &Spec) -> Plan {
        let mut plan = Plan {
            new: CloneFlags::empty(),
            join: Vec::new(),
            time_offsets: Vec::new(),
        };
        let Some(linux) = spec.linux() else {
            return plan;
        };
        for ns in linux.namespaces().iter().flatten() {
            let flag = flag(ns.typ());
            match ns.path() {
                Some(p) if !p.as_os_str().is_empty() => plan.join.push((flag, p.clone())),
                _ => plan.new |= flag,
            }
        }
        plan.join
            .sort_by_key(|(f, _)| *f != CloneFlags::CLONE_NEWUSER);
        if let Some(offsets) = linux.time_offsets() {
            let mut o: Vec<_> = offsets
                .iter()
                .map(|(clock, off)| {
                    (
                        clock.clone(),
                        off.secs().unwrap_or(0),
                        off.nanosecs().unwrap_or(0),
                    )
                })
                .collect();
            o.sort();
            plan.time_offsets = o;
        }
        plan
    }

    /// The container gets a user namespace of its own (new or joined).
    pub fn userns(&self) -> bool {
        self.has(CloneFlags::CLONE_NEWUSER)
    }

    /// A user namespace is joined by path.
    pub fn join_userns(&self) -> bool {
        self.join
            .iter()
            .any(|(f, _)| *f == CloneFlags::CLONE_NEWUSER)
    }

    pub fn new_userns(&self) -> bool {
        self.new.contains(CloneFlags::CLONE_NEWUSER)
    }

    pub fn has(&self, flag: CloneFlags) -> bool {
        self.new.contains(flag) || self.join.iter().any(|(f, _)| *f == flag)
    }

    /// Creating the time namespace with offsets, or joining anything, happens in an
    /// intermediate process: offsets can only be written before any process is in the new time
    /// namespace, and `setns` must not change the namespaces of the runtime itself.
    pub fn needs_intermediate(&self) -> bool {
        !self.join.is_empty() || !self.time_offsets.is_empty()
    }

    /// The flags for cloning init: every new namespace, except a time namespace with offsets,
    /// which the intermediate process has already unshared, and the cgroup namespace, which
    /// init unshares itself once the runtime has put it in its cgroup (a cgroup namespace is
    /// rooted at the cgroup its creator is in at that moment).
    pub fn clone_flags(&self) -> CloneFlags {
        let mut flags = self.new - CloneFlags::CLONE_NEWCGROUP;
        if !self.time_offsets.is_empty() {
            flags -= CLONE_NEWTIME;
        }
        flags
    }

    /// In init, after the runtime has placed it in its cgroup: the new cgroup namespace.
    pub fn unshare_cgroup(&self) -> Result<()> {
        if self.new.contains(CloneFlags::CLONE_NEWCGROUP) {
            nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).sys("unshare", "cgroup namespace")?;
        }
        Ok(())
    }
}

fn flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CLONE_NEWTIME,
    }
}

fn name(flag: CloneFlags) -> &'static str {
    match flag {
        CloneFlags::CLONE_NEWNS => "mount",
        CloneFlags::CLONE_NEWCGROUP => "cgroup",
        CloneFlags::CLONE_NEWUTS => "uts",
        CloneFlags::CLONE_NEWIPC => "ipc",
        CloneFlags::CLONE_NEWUSER => "user",
        CloneFlags::CLONE_NEWPID => "pid",
        CloneFlags::CLONE_NEWNET => "network",
        _ => "time",
    }
}

/// Checks `linux.namespaces`, the mappings, hostname, domainname and timeOffsets.
pub(crate) fn validate(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let mut seen = HashSet::new();
    for ns in linux.namespaces().iter().flatten() {
        if !seen.insert(ns.typ()) {
            return Err(Error::invalid(
                "linux.namespaces",
                format!("{} namespace listed twice", name(flag(ns.typ()))),
            ));
        }
        if let Some(p) = ns.path() {
            if !p.as_os_str().is_empty() && !p.is_absolute() {
                return Err(Error::invalid(
                    "linux.namespaces",
                    format!("path {} is not absolute", p.display()),
                ));
            }
        }
    }
    let plan = Plan::from_spec(spec);
    if !plan.has(CloneFlags::CLONE_NEWNS) {
        return Err(Error::invalid(
            "linux.namespaces",
            "a mount namespace is required",
        ));
    }
    let has_maps = |m: &Option<Vec<LinuxIdMapping>>| m.as_ref().is_some_and(|m| !m.is_empty());
    let maps = has_maps(linux.uid_mappings()) || has_maps(linux.gid_mappings());
    if plan.new_userns() {
        if !has_maps(linux.uid_mappings()) || !has_maps(linux.gid_mappings()) {
            return Err(Error::invalid(
                "linux.uidMappings",
                "a new user namespace needs uidMappings and gidMappings",
            ));
        }
    } else if maps {
        return Err(Error::invalid(
            "linux.uidMappings",
            "mappings are only allowed with a new user namespace",
        ));
    }
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty())
        && !plan.has(CloneFlags::CLONE_NEWUTS)
    {
        return Err(Error::invalid("hostname", "needs a uts namespace"));
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty())
        && !plan.has(CloneFlags::CLONE_NEWUTS)
    {
        return Err(Error::invalid("domainname", "needs a uts namespace"));
    }
    for (clock, _, nanos) in &plan.time_offsets {
        if clock != "monotonic" && clock != "boottime" {
            return Err(Error::invalid(
                "linux.timeOffsets",
                format!("unknown clock {clock:?} (monotonic or boottime)"),
            ));
        }
        if *nanos >= 1_000_000_000 {
            return Err(Error::invalid(
                "linux.timeOffsets",
                "nanosecs must be below 1e9",
            ));
        }
    }
    if !plan.time_offsets.is_empty() && !plan.new.contains(CLONE_NEWTIME) {
        return Err(Error::invalid(
            "linux.timeOffsets",
            "needs a new time namespace",
        ));
    }
    Ok(())
}

/// In the intermediate process: joins the namespaces listed by path (the user namespace first,
/// so that its capabilities apply to the rest). All paths are opened before the first `setns`,
/// because joining a mount namespace changes how later paths resolve. `setns` with the expected
/// type fails if the file is a namespace of another type.
pub(crate) fn join(plan: &Plan) -> Result<()> {
    let files = plan
        .join
        .iter()
        .map(|(f, p)| {
            File::open(p)
                .ctx("open namespace", p)
                .map(|file| (*f, p, file))
        })
        .collect::<Result<Vec<_>>>()?;
    for (flag, path, file) in &files {
        nix::sched::setns(file.as_fd(), *flag).map_err(|e| {
            Error::invalid(
                "linux.namespaces",
                format!("join {} namespace {}: {e}", name(*flag), path.display()),
            )
        })?;
    }
    Ok(())
}

/// In the intermediate process: unshares the time namespace and writes its offsets; the init
/// cloned next is its first member.
/// The offsets go through the host's procfs: the intermediate may already be in a joined mount
/// namespace, whose `/proc` another container controls.
pub(crate) fn unshare_time(plan: &Plan, proc: &crate::procfs::ProcFs) -> Result<()> {
    nix::sched::unshare(CLONE_NEWTIME).sys("unshare", "time namespace")?;
    let mut data = String::new();
    for (clock, secs, nanos) in &plan.time_offsets {
        data.push_str(&format!("{clock} {secs} {nanos}\n"));
    }
    proc.write("self/timens_offsets", &data)
}

/// In the parent: writes init's uid and gid maps.
pub(crate) fn write_id_maps(pid: i32, spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    for (file, maps) in [
        ("uid_map", linux.uid_mappings()),
        ("gid_map", linux.gid_mappings()),
    ] {
        let Some(maps) = maps else { continue };
        let data: String = maps
            .iter()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect();
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, data).ctx("write", path)?;
    }
    Ok(())
}

/// In init: hostname and domainname (the uts namespace is the container's by now).
pub(crate) fn set_names(spec: &Spec) -> Result<()> {
    if let Some(h) = spec.hostname().as_ref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).sys("sethostname", h)?;
    }
    if let Some(d) = spec.domainname().as_ref().filter(|d| !d.is_empty()) {
        crate::sys::process::setdomainname(d).sys("setdomainname", d)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        let mut base = serde_json::json!({
            "ociVersion": "1.2.0",
            "process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "root": {"path": "rootfs"},
            "linux": {"namespaces": [{"type": "mount"}]}
        });
        if let Some(linux) = json.get("linux") {
            for (k, v) in linux.as_object().unwrap() {
                base["linux"][k] = v.clone();
            }
        }
        if let Some(h) = json.get("hostname") {
            base["hostname"] = h.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn duplicates_rejected() {
        let s = spec(
            serde_json::json!({"linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}, {"type": "pid"}]}}),
        );
        assert!(validate(&s)
            .unwrap_err()
            .to_string()
            .contains("pid namespace listed twice"));
    }

    #[test]
    fn mount_namespace_required() {
        let s = spec(serde_json::json!({"linux": {"namespaces": [{"type": "pid"}]}}));
        assert!(validate(&s).is_err());
    }

    #[test]
    fn userns_needs_maps() {
        let s = spec(
            serde_json::json!({"linux": {"namespaces": [{"type": "mount"}, {"type": "user"}]}}),
        );
        assert!(validate(&s).is_err());
        let s = spec(
            serde_json::json!({"linux": {"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}}),
        );
        assert!(validate(&s).is_err());
    }

    #[test]
    fn hostname_needs_uts() {
        let s = spec(serde_json::json!({"hostname": "x"}));
        assert!(validate(&s).is_err());
    }

    #[test]
    fn join_order_user_first() {
        let s = spec(serde_json::json!({"linux": {"namespaces": [
            {"type": "mount"}, {"type": "network", "path": "/proc/1/ns/net"}, {"type": "user", "path": "/proc/1/ns/user"}
        ]}}));
        let plan = Plan::from_spec(&s);
        assert_eq!(plan.join[0].0, CloneFlags::CLONE_NEWUSER);
        assert!(plan.needs_intermediate());
        assert!(plan.userns() && !plan.new_userns());
    }

    #[test]
    fn cgroup_namespace_is_not_cloned() {
        let s = spec(
            serde_json::json!({"linux": {"namespaces": [{"type": "mount"}, {"type": "cgroup"}, {"type": "pid"}]}}),
        );
        let plan = Plan::from_spec(&s);
        assert!(plan.new.contains(CloneFlags::CLONE_NEWCGROUP));
        assert!(!plan.clone_flags().contains(CloneFlags::CLONE_NEWCGROUP));
        assert!(plan.clone_flags().contains(CloneFlags::CLONE_NEWPID));
    }
}
