//! Where a container's cgroup lives: `linux.cgroupsPath` semantics (as runc's cgroupfs driver)
//! and the host facts they depend on (`/proc/self/mountinfo`, `/proc/self/cgroup`).
//!
//! - An absolute `cgroupsPath` is relative to the root of each hierarchy's mount.
//! - A relative one is joined to the runtime's own cgroup in each v1 hierarchy (and in the unified
//!   tree of a hybrid host); on a pure v2 host to the *parent* of the runtime's own cgroup, since
//!   the runtime's own cgroup has processes and so cannot have controllers enabled for children.
//! - An empty one means the container id, relative.
//!
//! Paths are cleaned lexically first: `..` never climbs above the hierarchy's root.
use std::path::{Path, PathBuf};

/// A cleaned `cgroupsPath`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Inner {
    pub absolute: bool,
    /// Cleaned components: no empty ones, no `.`, no `..`.
    pub parts: Vec<String>,
}

impl Inner {
    /// Cleans `cgroups_path`; an empty (or cleaned-to-empty relative) path becomes `id`.
    pub fn new(cgroups_path: Option<&Path>, id: &str) -> Inner {
        let raw = cgroups_path
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let absolute = raw.starts_with('/');
        let mut parts: Vec<String> = Vec::new();
        for part in raw.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p.to_string()),
            }
        }
        if !absolute && parts.is_empty() {
            parts.push(id.to_string());
        }
        Inner { absolute, parts }
    }

    /// The container's cgroup in a hierarchy mounted at `mountpoint`; `base` is the cgroup
    /// (relative to that mount) that a relative path is joined to.
    pub fn resolve(&self, mountpoint: &Path, base: Option<&Path>) -> Option<PathBuf> {
        let mut dir = mountpoint.to_path_buf();
        if !self.absolute {
            dir.extend(base?.components().skip_while(|c| c.as_os_str() == "/"));
        }
        dir.extend(&self.parts);
        Some(dir)
    }
}

/// One cgroup mount from `/proc/self/mountinfo`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Mount {
    /// The cgroup (of the hierarchy) that appears at the mountpoint.
    pub root: PathBuf,
    pub mountpoint: PathBuf,
    /// `cgroup` (v1) or `cgroup2`.
    pub fstype: String,
    /// v1: the controllers and `name=` of the hierarchy, from the super options.
    pub controllers: Vec<String>,
}

/// The cgroup mounts listed in a mountinfo text.
pub(super) fn cgroup_mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let mut right = right.split(' ');
            let fstype = right.next()?;
            if fstype != "cgroup" && fstype != "cgroup2" {
                return None;
            }
            let super_opts = right.nth(1).unwrap_or("");
            let controllers = super_opts
                .split(',')
                .filter(|o| !is_generic_option(o))
                .map(str::to_string)
                .collect();
            Some(Mount {
                root: PathBuf::from(unescape(left.get(3)?)),
                mountpoint: PathBuf::from(unescape(left.get(4)?)),
                fstype: fstype.to_string(),
                controllers,
            })
        })
        .collect()
}

/// Super options of a cgroup v1 mount that are not controllers.
fn is_generic_option(opt: &str) -> bool {
    matches!(
        opt,
        "rw" | "ro" | "noprefix" | "clone_children" | "xattr" | "cpuset_v2_mode" | "none" | ""
    ) || opt.starts_with("release_agent=")
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let oct = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(d) => {
                out.push(
                    d.iter()
                        .fold(0u8, |acc, c| acc.wrapping_mul(8) + (c - b'0')),
                );
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of `/proc/self/cgroup`: the hierarchy's controllers (empty for cgroup2) and the
/// process's cgroup in it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Membership {
    pub controllers: Vec<String>,
    pub path: PathBuf,
}

pub(super) fn memberships(proc_cgroup: &str) -> Vec<Membership> {
    proc_cgroup
        .lines()
        .filter_map(|line| {
            let mut f = line.splitn(3, ':');
            let _id = f.next()?;
            let ctrls = f.next()?;
            let path = f.next()?;
            Some(Membership {
                controllers: ctrls
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                path: PathBuf::from(path),
            })
        })
        .collect()
}

/// Our cgroup as seen under `mount`: `path` relative to the mount's root. `None` when the
/// process is outside the part of the hierarchy that the mount shows.
pub(super) fn own_under(mount: &Mount, path: &Path) -> Option<PathBuf> {
    path.strip_prefix(&mount.root)
        .ok()
        .map(|p| Path::new("/").join(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inner(p: &str) -> Inner {
        Inner::new(Some(Path::new(p)), "ctr")
    }

    #[test]
    fn cleaning() {
        assert_eq!(inner("/a/b").parts, ["a", "b"]);
        assert!(inner("/a/b").absolute);
        assert_eq!(inner("a//./b/").parts, ["a", "b"]);
        assert!(!inner("a/b").absolute);
        assert_eq!(inner("/../../etc").parts, ["etc"]);
        assert_eq!(inner("../../x/../y").parts, ["y"]);
        assert_eq!(inner("").parts, ["ctr"]);
        assert_eq!(inner(".").parts, ["ctr"]);
        assert_eq!(Inner::new(None, "ctr").parts, ["ctr"]);
        assert!(!Inner::new(None, "ctr").absolute);
        assert!(inner("/").parts.is_empty());
    }

    #[test]
    fn resolving() {
        let mnt = Path::new("/sys/fs/cgroup/memory");
        let own = Path::new("/user/42");
        assert_eq!(
            inner("/k8s/c1").resolve(mnt, Some(own)).unwrap(),
            Path::new("/sys/fs/cgroup/memory/k8s/c1")
        );
        assert_eq!(
            inner("k8s/c1").resolve(mnt, Some(own)).unwrap(),
            Path::new("/sys/fs/cgroup/memory/user/42/k8s/c1")
        );
        assert_eq!(
            Inner::new(None, "ctr")
                .resolve(mnt, Some(Path::new("/")))
                .unwrap(),
            Path::new("/sys/fs/cgroup/memory/ctr")
        );
        assert_eq!(inner("rel").resolve(mnt, None), None);
        assert!(inner("/abs").resolve(mnt, None).is_some());
    }

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 /docker/x /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:5 - cgroup cgroup rw,cpu,cpuacct,clone_children
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
41 31 0:38 / /sys/fs/cgroup/un\\040ified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn mountinfo() {
        let m = cgroup_mounts(MOUNTINFO);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].controllers, ["cpu"]);
        assert_eq!(m[1].root, Path::new("/docker/x"));
        assert_eq!(m[1].mountpoint, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(m[1].controllers, ["cpu", "cpuacct"]);
        assert_eq!(m[2].controllers, ["name=systemd"]);
        assert_eq!(m[3].fstype, "cgroup2");
        assert_eq!(m[3].mountpoint, Path::new("/sys/fs/cgroup/un ified"));
    }

    #[test]
    fn proc_cgroup() {
        let m = memberships("9:name=systemd:/\n4:memory:/a/b\n2:cpu,cpuacct:/x\n0::/u\n");
        assert_eq!(m[0].controllers, ["name=systemd"]);
        assert_eq!(m[1].path, Path::new("/a/b"));
        assert_eq!(m[2].controllers, ["cpu", "cpuacct"]);
        assert!(m[3].controllers.is_empty());
        assert_eq!(m[3].path, Path::new("/u"));
    }

    #[test]
    fn own_cgroup_under_mount_root() {
        let mount = &cgroup_mounts(MOUNTINFO)[1];
        assert_eq!(
            own_under(mount, Path::new("/docker/x/y")).unwrap(),
            Path::new("/y")
        );
        assert_eq!(
            own_under(mount, Path::new("/docker/x")).unwrap(),
            Path::new("/")
        );
        assert_eq!(own_under(mount, Path::new("/other")), None);
    }
}
