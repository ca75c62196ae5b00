//! `berth features`: the runtime-spec features document, listing exactly what is implemented.
//! A test keeps it honest: every listed item is exercised or checked against the code's tables.
use serde_json::{json, Value};

/// The mount options berth understands (see `rootfs`).
pub fn mount_options() -> &'static [&'static str] {
    crate::rootfs::MOUNT_OPTIONS
}

/// The features document.
pub fn features() -> Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": mount_options(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": crate::process::known_capabilities(),
            "cgroup": crate::cgroups::features(),
            "seccomp": crate::seccomp::features(),
            // runtime-spec: "whether AppArmor (SELinux) support is compiled in; unrelated to
            // whether the host supports it". berth implements both (see `lsm`); on a host
            // without the LSM a profile or label is an error at create.
            "apparmor": {"enabled": true},
            "selinux": {"enabled": true},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}},
        },
        "annotations": {
            "org.opencontainers.runc.checkpoint.enabled": "false",
            "io.github.berth.version": env!("CARGO_PKG_VERSION"),
        }
    })
}
