//! Loading a bundle's `config.json` and checking it before anything is created. Fields berth
//! does not implement are rejected with an error that names them; unknown fields are ignored,
//! as the runtime-spec requires.
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::error::IoContext;
use crate::{cgroups, namespaces, process, rootfs, Error, Result};

/// A loaded and validated bundle.
pub struct Bundle {
    /// Absolute, canonical path of the bundle directory.
    pub path: PathBuf,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
    pub spec: Spec,
}

impl Bundle {
    /// Reads `<bundle>/config.json`, checks it, and resolves `root.path` against the bundle.
    pub fn load(bundle: &Path) -> Result<Bundle> {
        let path = std::fs::canonicalize(bundle).ctx("open bundle", bundle)?;
        let config = path.join("config.json");
        let data = std::fs::read(&config).ctx("read", &config)?;
        let spec = parse(&data).map_err(|reason| {
            // oci-spec rejects an unknown capability name while parsing: name its field.
            let value = serde_json::from_slice(&data).unwrap_or_default();
            process::check_capability_names(&value)
                .err()
                .unwrap_or(Error::Config {
                    path: config.clone(),
                    reason,
                })
        })?;
        validate(&spec)?;
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| Error::invalid("root", "missing"))?;
        let rootfs = path.join(root.path());
        let rootfs = std::fs::canonicalize(&rootfs).ctx("root.path", &rootfs)?;
        if !rootfs.is_dir() {
            return Err(Error::invalid(
                "root.path",
                format!("{} is not a directory", rootfs.display()),
            ));
        }
        Ok(Bundle { path, rootfs, spec })
    }
}

/// Parses config.json. Errors are one line: serde's message with its line and column.
pub fn parse(data: &[u8]) -> std::result::Result<Spec, String> {
    serde_json::from_slice(data).map_err(|e| e.to_string())
}

/// Checks every part of the spec; the first problem is returned, naming its field.
pub fn validate(spec: &Spec) -> Result<()> {
    let version = spec.version();
    if !version.starts_with("1.") {
        return Err(Error::invalid(
            "ociVersion",
            format!("{version:?} is not a 1.x version"),
        ));
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::invalid("process", "missing"))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::invalid("process.args", "must not be empty"));
    }
    if process.command_line().is_some() {
        return Err(Error::unsupported("process.commandLine (Windows only)"));
    }
    if process.exec_cpu_affinity().is_some() {
        return Err(Error::unsupported("process.execCPUAffinity"));
    }
    process::validate(process)?;
    for (present, field) in [
        (spec.solaris().is_some(), "solaris"),
        (spec.windows().is_some(), "windows"),
        (spec.vm().is_some(), "vm"),
        (spec.zos().is_some(), "zos"),
    ] {
        if present {
            return Err(Error::unsupported(field));
        }
    }
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| Error::invalid("linux", "missing (berth runs Linux containers)"))?;
    process::validate_personality(linux.personality().as_ref())?;
    let unsupported = [
        (linux.intel_rdt().is_some(), "linux.intelRdt"),
        (linux.memory_policy().is_some(), "linux.memoryPolicy"),
        (
            linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()),
            "linux.netDevices",
        ),
    ];
    if let Some((_, field)) = unsupported.iter().find(|(present, _)| *present) {
        return Err(Error::unsupported(*field));
    }
    crate::lsm::validate_mount_label(spec)?;
    if let Some(seccomp) = linux.seccomp() {
        crate::seccomp::validate(seccomp)?;
    }
    namespaces::validate(spec)?;
    rootfs::validate(spec)?;
    cgroups::validate(linux.resources().as_ref())?;
    crate::hooks::validate(spec.hooks().as_ref())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_json_is_one_line() {
        let err = parse(b"{\"ociVersion\": ").unwrap_err();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }
}
