//! Checks of the rootfs fields before anything is created: each error names its field.
use std::path::{Component, Path};

use oci_spec::runtime::{LinuxDeviceType, Mount, Spec};

use super::options::{root_propagation, MountOptions};
use crate::{Error, Result};

pub(super) fn validate(spec: &Spec) -> Result<()> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        mount(i, m)?;
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    if let Some(p) = linux
        .rootfs_propagation()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        if root_propagation(p).is_none() {
            return Err(Error::invalid(
                "linux.rootfsPropagation",
                format!("unknown value {p:?} (shared, slave, private, unbindable or r-variants)"),
            ));
        }
    }
    for (field, paths) in [
        ("linux.maskedPaths", linux.masked_paths()),
        ("linux.readonlyPaths", linux.readonly_paths()),
    ] {
        if let Some(p) = paths.iter().flatten().find(|p| !p.starts_with('/')) {
            return Err(Error::invalid(field, format!("{p:?} is not absolute")));
        }
    }
    for d in linux.devices().iter().flatten() {
        let path = d.path();
        let field = || format!("linux.devices {}", path.display());
        let under_dev = path.starts_with("/dev/")
            && path.components().count() > 2
            && !path.components().any(|c| c == Component::ParentDir);
        if !under_dev {
            return Err(Error::invalid(field(), "path must be absolute, under /dev"));
        }
        match d.typ() {
            LinuxDeviceType::A => {
                return Err(Error::invalid(field(), "type must be c, b, u or p"));
            }
            LinuxDeviceType::P => {}
            _ if d.major() < 0 || d.minor() < 0 => {
                return Err(Error::invalid(field(), "negative major or minor"));
            }
            _ if d.major() == 0 && d.minor() == 0 => {
                return Err(Error::invalid(field(), "major and minor are required"));
            }
            _ => {}
        }
    }
    super::sysctl::validate(spec)
}

fn mount(i: usize, m: &Mount) -> Result<()> {
    let field = |f: &str| format!("mounts[{i}].{f}");
    if m.destination().as_os_str().is_empty() {
        return Err(Error::invalid(field("destination"), "missing"));
    }
    if m.uid_mappings().is_some() {
        return Err(Error::unsupported(field("uidMappings")));
    }
    if m.gid_mappings().is_some() {
        return Err(Error::unsupported(field("gidMappings")));
    }
    let opts = MountOptions::for_mount(i, m.options().as_deref())?;
    let typ = m.typ().as_deref().unwrap_or("");
    if opts.is_bind() || typ == "bind" {
        if m.source().as_ref().is_none_or(|s| s.as_os_str().is_empty()) {
            return Err(Error::invalid(
                field("source"),
                "a bind mount needs a source",
            ));
        }
        if !opts.data.is_empty() {
            return Err(Error::invalid(
                field("options"),
                format!(
                    "bind mounts take no filesystem options ({})",
                    opts.data_string()
                ),
            ));
        }
    } else if typ.is_empty() && !opts.flags.contains(nix::mount::MsFlags::MS_REMOUNT) {
        return Err(Error::invalid(
            field("type"),
            "missing (and not a bind mount)",
        ));
    }
    Ok(())
}

/// Whether `path` is the container's `/dev` (which then is not populated by berth when it is
/// a bind mount).
pub(super) fn is_dev(path: &Path) -> bool {
    super::paths::inside(path) == Path::new("/dev")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(extra: serde_json::Value) -> Spec {
        let mut base = json!({
            "ociVersion": "1.3.0",
            "process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "root": {"path": "rootfs"},
            "linux": {"namespaces": [{"type": "mount"}]}
        });
        for (k, v) in extra.as_object().unwrap() {
            if k == "linux" {
                for (lk, lv) in v.as_object().unwrap() {
                    base["linux"][lk] = lv.clone();
                }
            } else {
                base[k] = v.clone();
            }
        }
        serde_json::from_value(base).unwrap()
    }

    fn err(extra: serde_json::Value) -> String {
        validate(&spec(extra)).unwrap_err().to_string()
    }

    #[test]
    fn default_like_config_passes() {
        let s = spec(json!({
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                 "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
                {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                 "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
                {"destination": "relative/dir", "type": "bind", "source": "data", "options": ["rbind", "rro", "rprivate"]}
            ],
            "linux": {
                "rootfsPropagation": "rslave",
                "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
                "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
            }
        }));
        validate(&s).unwrap();
    }

    #[test]
    fn unknown_option_names_field() {
        let e = err(json!({"mounts": [
            {"destination": "/a", "type": "tmpfs"},
            {"destination": "/b", "type": "tmpfs", "options": ["nosiud"]}]}));
        assert!(e.starts_with("mounts[1].options:"), "{e}");
        assert!(e.contains("nosiud"), "{e}");
    }

    #[test]
    fn idmapped_mounts_unsupported() {
        let e = err(
            json!({"mounts": [{"destination": "/a", "type": "bind", "source": "/x",
            "options": ["rbind", "idmap"]}]}),
        );
        assert!(
            e.contains("mounts[0].options") && e.contains("not supported"),
            "{e}"
        );
        let e = err(
            json!({"mounts": [{"destination": "/a", "type": "bind", "source": "/x",
            "options": ["rbind"], "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}]}),
        );
        assert!(e.starts_with("mounts[0].uidMappings"), "{e}");
    }

    #[test]
    fn mount_shape() {
        let e = err(json!({"mounts": [{"destination": "", "type": "tmpfs"}]}));
        assert!(e.starts_with("mounts[0].destination"), "{e}");
        let e = err(json!({"mounts": [{"destination": "/a", "options": ["rbind"]}]}));
        assert!(e.starts_with("mounts[0].source"), "{e}");
        let e = err(
            json!({"mounts": [{"destination": "/a", "source": "/x", "options": ["bind", "mode=755"]}]}),
        );
        assert!(e.starts_with("mounts[0].options"), "{e}");
        let e = err(json!({"mounts": [{"destination": "/a", "source": "x"}]}));
        assert!(e.starts_with("mounts[0].type"), "{e}");
    }

    #[test]
    fn rootfs_propagation_values() {
        for ok in ["shared", "rslave", "private", "runbindable", ""] {
            validate(&spec(json!({"linux": {"rootfsPropagation": ok}}))).unwrap();
        }
        let e = err(json!({"linux": {"rootfsPropagation": "bogus"}}));
        assert!(e.starts_with("linux.rootfsPropagation"), "{e}");
    }

    #[test]
    fn masked_and_readonly_absolute() {
        let e = err(json!({"linux": {"maskedPaths": ["proc/kcore"]}}));
        assert!(e.starts_with("linux.maskedPaths"), "{e}");
        let e = err(json!({"linux": {"readonlyPaths": ["sys"]}}));
        assert!(e.starts_with("linux.readonlyPaths"), "{e}");
    }

    #[test]
    fn devices() {
        let dev = |d: serde_json::Value| err(json!({"linux": {"devices": [d]}}));
        for bad in [
            json!({"path": "dev/x", "type": "c", "major": 1, "minor": 3}),
            json!({"path": "/tmp/x", "type": "c", "major": 1, "minor": 3}),
            json!({"path": "/dev/../etc/x", "type": "c", "major": 1, "minor": 3}),
            json!({"path": "/dev/x", "type": "a", "major": 1, "minor": 3}),
            json!({"path": "/dev/x", "type": "b"}),
            json!({"path": "/dev/x", "type": "u", "major": -1, "minor": 3}),
        ] {
            let e = dev(bad.clone());
            assert!(e.starts_with("linux.devices"), "{bad}: {e}");
        }
        validate(&spec(
            json!({"linux": {"devices": [{"path": "/dev/fifo", "type": "p"}]}}),
        ))
        .unwrap();
    }
}
