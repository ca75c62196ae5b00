//! Device nodes in `/dev` (the default set plus `linux.devices`), the `/dev` symlinks and
//! `/dev/ptmx`. Nothing is created when `/dev` itself is a bind mount from the host, as runc.
//! Nodes are made with `mknodat` in a directory fd resolved inside the root; in a user namespace,
//! where `mknod` is not allowed, the host's node is bind-mounted onto an empty file instead.
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::mount::MsFlags;
use nix::sys::stat::{makedev, mknodat, umask, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{LinuxDeviceType, Spec};

use super::mounts::bind;
use super::options::MountOptions;
use super::paths::{inside, Kind, Root};
use super::validate::is_dev;
use super::RootfsConfig;
use crate::error::SysContext;
use crate::{Error, Result};

/// One node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    path: PathBuf,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// The nodes every container gets (runtime-spec "Default Devices").
const DEFAULTS: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// `/dev` symlinks: name, target.
const SYMLINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

pub(super) fn create(cfg: &RootfsConfig, root: &Root) -> Result<()> {
    let mounts = cfg.spec.mounts().as_deref().unwrap_or_default();
    let dev_is_bind = mounts.iter().any(|m| {
        is_dev(m.destination())
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind"))
    });
    if dev_is_bind {
        return Ok(());
    }
    // Node modes are exactly fileMode, whatever the umask.
    let old = umask(Mode::empty());
    let made = make_nodes(root, &nodes(cfg.spec), cfg.userns);
    umask(old);
    made?;
    let dev = root.create(Path::new("/dev"), Kind::Dir)?;
    let mut links: Vec<(&str, &str)> = SYMLINKS.to_vec();
    if Path::new("/proc/kcore").exists() {
        links.push(("core", "/proc/kcore"));
    }
    for (name, target) in links {
        match symlinkat(target, &dev, name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => {
                return Err(Error::sys(
                    "symlinkat",
                    root.describe(&Path::new("/dev").join(name)),
                    e,
                ))
            }
        }
    }
    if mounts
        .iter()
        .any(|m| inside(m.destination()) == Path::new("/dev/pts"))
    {
        ptmx(root, &dev)?;
    }
    Ok(())
}

/// The defaults, then `linux.devices` (which may override a default's mode or owner).
fn nodes(spec: &Spec) -> Vec<Node> {
    let mut nodes: Vec<Node> = DEFAULTS
        .iter()
        .map(|(path, major, minor)| Node {
            path: PathBuf::from(path),
            kind: SFlag::S_IFCHR,
            major: *major,
            minor: *minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect();
    let devices = spec.linux().as_ref().and_then(|l| l.devices().clone());
    for d in devices.into_iter().flatten() {
        let node = Node {
            path: d.path().clone(),
            kind: match d.typ() {
                LinuxDeviceType::B => SFlag::S_IFBLK,
                LinuxDeviceType::P => SFlag::S_IFIFO,
                _ => SFlag::S_IFCHR,
            },
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        nodes.retain(|n| n.path != node.path);
        nodes.push(node);
    }
    nodes
}

/// Makes `nodes`, opening each parent directory once for a run of nodes that share it.
fn make_nodes(root: &Root, nodes: &[Node], userns: bool) -> Result<()> {
    let mut dir: Option<(&Path, OwnedFd)> = None;
    for node in nodes {
        let (Some(parent), Some(name)) = (node.path.parent(), node.path.file_name()) else {
            return Err(Error::invalid(
                "linux.devices",
                format!("bad path {}", node.path.display()),
            ));
        };
        let fd = match dir.take() {
            Some((p, fd)) if p == parent => fd,
            _ => root.create(parent, Kind::Dir)?,
        };
        make_node(root, &fd, name, node, userns)?;
        dir = Some((parent, fd));
    }
    Ok(())
}

fn make_node(root: &Root, dir: &OwnedFd, name: &OsStr, node: &Node, userns: bool) -> Result<()> {
    if userns {
        return bind_node(root, node);
    }
    let made = mknodat(
        dir,
        name,
        node.kind,
        Mode::from_bits_truncate(node.mode),
        makedev(node.major, node.minor),
    );
    match made {
        Ok(()) => fchownat(
            dir,
            name,
            Some(Uid::from_raw(node.uid)),
            Some(Gid::from_raw(node.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .sys("fchownat", root.describe(&node.path)),
        // Already there (from the image): left as it is, as runc does.
        Err(Errno::EEXIST) => Ok(()),
        Err(Errno::EPERM) => bind_node(root, node),
        Err(e) => Err(Error::sys("mknodat", root.describe(&node.path), e)),
    }
}

/// Binds the host's node of the same path onto the container's path.
fn bind_node(root: &Root, node: &Node) -> Result<()> {
    let opts = MountOptions {
        flags: MsFlags::MS_BIND,
        ..MountOptions::default()
    };
    bind(root, &node.path, &node.path, &opts)
}

/// `/dev/ptmx` becomes a symlink to `pts/ptmx`, the devpts instance of the container.
fn ptmx(root: &Root, dev: &OwnedFd) -> Result<()> {
    match unlinkat(dev, "ptmx", UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => {
            return Err(Error::sys(
                "unlinkat",
                root.describe(Path::new("/dev/ptmx")),
                e,
            ))
        }
    }
    symlinkat("pts/ptmx", dev, "ptmx").sys("symlinkat", root.describe(Path::new("/dev/ptmx")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spec_devices_override_defaults() {
        let spec: Spec = serde_json::from_value(json!({
            "ociVersion": "1.3.0",
            "root": {"path": "rootfs"},
            "linux": {"devices": [
                {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 5},
                {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0, "fileMode": 0o20660},
                {"path": "/dev/fifo", "type": "p"}
            ]}
        }))
        .unwrap();
        let n = nodes(&spec);
        assert_eq!(n.len(), DEFAULTS.len() + 2);
        let null = n.iter().find(|n| n.path == Path::new("/dev/null")).unwrap();
        assert_eq!((null.mode, null.uid), (0o600, 5));
        let sda = n.iter().find(|n| n.path == Path::new("/dev/sda")).unwrap();
        assert_eq!((sda.kind, sda.mode), (SFlag::S_IFBLK, 0o660));
        let fifo = n.iter().find(|n| n.path == Path::new("/dev/fifo")).unwrap();
        assert_eq!(fifo.kind, SFlag::S_IFIFO);
    }
}
