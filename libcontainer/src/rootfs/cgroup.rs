//! Mounts of type `cgroup` (podman puts one at `/sys/fs/cgroup`). On a cgroup2-only host this is
//! a cgroup2 mount (or, without a cgroup namespace, a bind of the container's own cgroup). On a
//! v1 or hybrid host it is a tmpfs holding one directory per host hierarchy, named as on the
//! host (`cpu`, `memory`, `systemd`, `unified`): a new mount of the hierarchy when the container
//! has a cgroup namespace, otherwise a bind of the container's own cgroup directory in it.
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};

use super::mountinfo::Entry;
use super::mounts::{bind, bind_fresh, finish, fresh_dir, mount_fs_at};
use super::options::MountOptions;
use super::paths::{Kind, Root};
use super::RootfsConfig;
use crate::error::{IoContext, SysContext};
use crate::{Error, Result};

const HOST_CGROUP: &str = "/sys/fs/cgroup";

/// Superblock options of a v1 hierarchy that are not controllers.
const NOT_CONTROLLERS: &[&str] = &[
    "rw",
    "ro",
    "xattr",
    "clone_children",
    "noprefix",
    "cpuset_v2_mode",
    "favordynmods",
    "nofavordynmods",
];

pub(super) fn mount(
    cfg: &RootfsConfig,
    root: &Root,
    dest: &Path,
    opts: &MountOptions,
    host_mounts: &[Entry],
) -> Result<()> {
    let cgroupns = cfg.cgroupns;
    let own = own_cgroups()?;
    let unified = statfs(HOST_CGROUP)
        .sys("statfs", HOST_CGROUP)?
        .filesystem_type()
        == CGROUP2_SUPER_MAGIC;
    if unified {
        mount_unified(root, dest, opts, cgroupns, &own)
    } else {
        mount_v1(root, dest, opts, cgroupns, &own, host_mounts)
    }
}

/// A bind with the mount's own flags (`ro`, `nosuid`, ...) and propagation.
fn as_bind(opts: &MountOptions) -> MountOptions {
    MountOptions {
        flags: opts.flags | MsFlags::MS_BIND,
        propagation: opts.propagation.clone(),
        recursive: opts.recursive,
        data: Vec::new(),
    }
}

fn mount_unified(
    root: &Root,
    dest: &Path,
    opts: &MountOptions,
    cgroupns: bool,
    own: &[(String, PathBuf)],
) -> Result<()> {
    if cgroupns {
        let target = root.create(dest, Kind::Dir)?;
        match mount_fs_at(
            &target,
            "cgroup2",
            "cgroup2",
            opts.flags,
            &opts.data_string(),
        ) {
            Ok(()) => return finish(root, dest, opts, false),
            // Not allowed here (a user namespace that does not own the cgroup namespace):
            // fall back to the bind below, as runc does.
            Err(Errno::EPERM | Errno::EBUSY) => {}
            Err(e) => {
                return Err(Error::sys(
                    "mount",
                    format!("cgroup2 on {}", root.describe(dest)),
                    e,
                ))
            }
        }
    }
    let path = own_path(own, &[]).unwrap_or_else(|| PathBuf::from("/"));
    let host = Path::new(HOST_CGROUP).join(path.strip_prefix("/").unwrap_or(&path));
    bind(root, &host, dest, &as_bind(opts))
}

fn mount_v1(
    root: &Root,
    dest: &Path,
    opts: &MountOptions,
    cgroupns: bool,
    own: &[(String, PathBuf)],
    host_mounts: &[Entry],
) -> Result<()> {
    let hierarchies: Vec<&Entry> = host_mounts
        .iter()
        .filter(|e| e.mount_point.parent() == Some(Path::new(HOST_CGROUP)))
        .filter(|e| e.fstype == "cgroup" || e.fstype == "cgroup2")
        .collect();
    let tmpfs_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let target = root.create(dest, Kind::Dir)?;
    mount_fs_at(&target, "tmpfs", "tmpfs", tmpfs_flags, "mode=755")
        .sys("mount", format!("tmpfs on {}", root.describe(dest)))?;
    drop(target);
    // The new tmpfs: one directory per hierarchy is made and mounted in it directly.
    let tmpfs = root.open_path(dest).sys("openat2", root.describe(dest))?;
    for h in hierarchies {
        let Some(name) = h.mount_point.file_name() else {
            continue;
        };
        let sub = dest.join(name);
        let what = || root.describe(&sub);
        let controllers = controllers(h);
        if cgroupns {
            let target = fresh_dir(tmpfs.as_fd(), Path::new(name), &what)?;
            let data = controllers.join(",");
            mount_fs_at(&target, &h.fstype, &h.fstype, opts.flags, &data)
                .sys("mount", format!("{} {data} on {}", h.fstype, what()))?;
        } else {
            let own_path = own_path(own, &controllers).unwrap_or_else(|| PathBuf::from("/"));
            let rel = own_path.strip_prefix(&h.root).unwrap_or(Path::new(""));
            let source = h.mount_point.join(rel);
            bind_fresh(
                tmpfs.as_fd(),
                Path::new(name),
                &source,
                &as_bind(opts),
                &what,
            )?;
        }
        // Combined hierarchies (cpu,cpuacct) are also reachable by each controller's name.
        let name = name.to_string_lossy();
        if name.contains(',') {
            for part in name.split(',') {
                match nix::unistd::symlinkat(name.as_ref(), &tmpfs, part) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => {
                        return Err(Error::sys("symlinkat", root.describe(&dest.join(part)), e))
                    }
                }
            }
        }
    }
    if opts.flags.contains(MsFlags::MS_RDONLY) {
        let path = super::paths::proc_fd(&tmpfs);
        nix::mount::mount(
            None::<&str>,
            path.as_str(),
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | tmpfs_flags,
            None::<&str>,
        )
        .sys("mount", format!("remount {} ro", root.describe(dest)))?;
    }
    let rest = MountOptions {
        flags: MsFlags::empty(),
        propagation: opts.propagation.clone(),
        recursive: opts.recursive,
        data: Vec::new(),
    };
    finish(root, dest, &rest, false)
}

/// The controllers (and `name=`) of a v1 hierarchy; empty for cgroup2.
fn controllers(h: &Entry) -> Vec<String> {
    if h.fstype == "cgroup2" {
        return Vec::new();
    }
    h.super_options
        .split(',')
        .filter(|o| !NOT_CONTROLLERS.contains(o))
        .filter(|o| !o.contains('=') || o.starts_with("name="))
        .map(str::to_string)
        .collect()
}

/// `/proc/self/cgroup` as (controllers, path) pairs; cgroup2 has empty controllers.
fn own_cgroups() -> Result<Vec<(String, PathBuf)>> {
    let file = "/proc/self/cgroup";
    let text = crate::files::read_whole(Path::new(file)).ctx("read", file)?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrl, path) = (f.next()?, f.next()?, f.next()?);
            Some((ctrl.to_string(), PathBuf::from(path)))
        })
        .collect())
}

/// The path of the hierarchy with exactly `controllers` (none: cgroup2).
fn own_path(own: &[(String, PathBuf)], controllers: &[String]) -> Option<PathBuf> {
    own.iter()
        .find(|(ctrl, _)| {
            let mut have: Vec<&str> = ctrl.split(',').filter(|c| !c.is_empty()).collect();
            let mut want: Vec<&str> = controllers.iter().map(String::as_str).collect();
            have.sort_unstable();
            want.sort_unstable();
            have == want
        })
        .map(|(_, p)| p.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(fstype: &str, opts: &str) -> Entry {
        Entry {
            root: PathBuf::from("/"),
            mount_point: PathBuf::from("/sys/fs/cgroup/x"),
            shared: false,
            fstype: fstype.into(),
            super_options: opts.into(),
        }
    }

    #[test]
    fn controllers_of_hierarchies() {
        assert_eq!(
            controllers(&entry("cgroup", "rw,cpu,cpuacct")),
            ["cpu", "cpuacct"]
        );
        assert_eq!(
            controllers(&entry("cgroup", "rw,xattr,release_agent=/x,name=systemd")),
            ["name=systemd"]
        );
        assert!(controllers(&entry("cgroup2", "rw,nsdelegate")).is_empty());
    }

    #[test]
    fn own_path_matches_controller_sets() {
        let own = vec![
            ("cpuacct,cpu".to_string(), PathBuf::from("/a")),
            ("name=systemd".to_string(), PathBuf::from("/b")),
            (String::new(), PathBuf::from("/c")),
        ];
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            own_path(&own, &s(&["cpu", "cpuacct"])),
            Some(PathBuf::from("/a"))
        );
        assert_eq!(
            own_path(&own, &s(&["name=systemd"])),
            Some(PathBuf::from("/b"))
        );
        assert_eq!(own_path(&own, &[]), Some(PathBuf::from("/c")));
        assert_eq!(own_path(&own, &s(&["memory"])), None);
    }
}
