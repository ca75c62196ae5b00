//! `linux.sysctl`: only keys that belong to a namespace the container has of its own are
//! accepted (as runc checks), and they are written through `/proc/sys` without following any
//! symlink.
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::namespaces::Plan;
use crate::procfs::ProcFs;
use crate::{Error, Result};

/// The kernel.* keys that belong to the ipc namespace (besides `kernel.msg*`, `kernel.shm*`).
const IPC_KEYS: &[&str] = &["kernel.sem"];

/// The namespace a key belongs to, if any.
fn namespace_of(key: &str) -> Option<CloneFlags> {
    if key.starts_with("kernel.msg")
        || key.starts_with("kernel.shm")
        || key.starts_with("fs.mqueue.")
        || IPC_KEYS.contains(&key)
    {
        Some(CloneFlags::CLONE_NEWIPC)
    } else if key.starts_with("net.") {
        Some(CloneFlags::CLONE_NEWNET)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(CloneFlags::CLONE_NEWUTS)
    } else {
        None
    }
}

pub(super) fn validate(spec: &Spec) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    let plan = Plan::from_spec(spec);
    for key in sysctl.keys() {
        let field = || format!("linux.sysctl {key:?}");
        if key.is_empty() || key.split(['.', '/']).any(|c| c.is_empty() || c == "..") {
            return Err(Error::invalid(field(), "malformed key"));
        }
        let Some(ns) = namespace_of(key) else {
            return Err(Error::invalid(
                field(),
                "not in a separate kernel namespace",
            ));
        };
        if !plan.has(ns) {
            return Err(Error::invalid(
                field(),
                format!("needs a {} namespace", name(ns)),
            ));
        }
        if ns == CloneFlags::CLONE_NEWNET && joins_host_netns(spec) {
            return Err(Error::invalid(
                field(),
                "the network namespace is the host's",
            ));
        }
    }
    Ok(())
}

fn name(ns: CloneFlags) -> &'static str {
    match ns {
        CloneFlags::CLONE_NEWIPC => "ipc",
        CloneFlags::CLONE_NEWNET => "network",
        _ => "uts",
    }
}

/// Whether the network namespace the spec joins by path is the runtime's own.
fn joins_host_netns(spec: &Spec) -> bool {
    let Some(path) = spec.linux().as_ref().and_then(|l| {
        l.namespaces()
            .iter()
            .flatten()
            .find(|n| n.typ() == LinuxNamespaceType::Network)
            .and_then(|n| n.path().clone())
    }) else {
        return false;
    };
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let joined = id(&path);
    joined.is_some() && joined == id(Path::new("/proc/self/ns/net"))
}

/// Writes every key (in sorted order) through the host's procfs handle: no mount is crossed
/// and no symlink followed beneath it (see `procfs`).
pub(super) fn apply(spec: &Spec, proc: &ProcFs) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    let mut keys: Vec<_> = sysctl.iter().collect();
    keys.sort();
    for (key, value) in keys {
        let rel = format!("sys/{}", key.replace('.', "/"));
        let what = format!("/proc/{rel} (linux.sysctl {key:?})");
        proc.open(&rel, OFlag::O_WRONLY)
            .map_err(|e| Error::invalid("linux.sysctl", format!("{key:?}: {e}")))?
            .write_all(value.as_bytes())
            .map_err(|e| Error::io("write", &what, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(namespaces: &[&str], key: &str) -> Spec {
        let ns: Vec<_> = namespaces.iter().map(|t| json!({"type": t})).collect();
        serde_json::from_value(json!({
            "ociVersion": "1.3.0",
            "root": {"path": "rootfs"},
            "linux": {"namespaces": ns, "sysctl": {key: "1"}}
        }))
        .unwrap()
    }

    fn check(namespaces: &[&str], key: &str) -> Result<()> {
        validate(&spec(namespaces, key))
    }

    #[test]
    fn namespaced_keys_need_their_namespace() {
        for (ns, key) in [
            ("ipc", "kernel.shmmax"),
            ("ipc", "kernel.msgmnb"),
            ("ipc", "kernel.sem"),
            ("ipc", "fs.mqueue.msg_max"),
            ("network", "net.ipv4.ip_forward"),
            ("uts", "kernel.domainname"),
        ] {
            check(&["mount", ns], key).unwrap();
            let e = check(&["mount"], key).unwrap_err().to_string();
            assert!(e.starts_with("linux.sysctl") && e.contains(key), "{e}");
        }
    }

    #[test]
    fn global_keys_rejected() {
        for key in [
            "kernel.pid_max",
            "vm.overcommit_memory",
            "fs.file-max",
            "kernel.semx",
        ] {
            let all = ["mount", "ipc", "network", "uts", "pid"];
            let e = check(&all, key).unwrap_err().to_string();
            assert!(e.contains("not in a separate kernel namespace"), "{e}");
        }
    }

    #[test]
    fn malformed_keys_rejected() {
        for key in ["net..x", "net./../x", "net.ipv4.", ""] {
            let e = check(&["mount", "network"], key).unwrap_err().to_string();
            assert!(e.contains("malformed"), "{key}: {e}");
        }
    }

    #[test]
    fn joined_host_netns_rejected() {
        let s: Spec = serde_json::from_value(json!({
            "ociVersion": "1.3.0",
            "root": {"path": "rootfs"},
            "linux": {"namespaces": [{"type": "mount"}, {"type": "network", "path": "/proc/self/ns/net"}],
                      "sysctl": {"net.ipv4.ip_forward": "1"}}
        }))
        .unwrap();
        let e = validate(&s).unwrap_err().to_string();
        assert!(e.contains("host's"), "{e}");
    }
}
