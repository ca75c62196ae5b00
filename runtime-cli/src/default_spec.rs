//! The config.json that `berth spec` writes: runc's default, which berth runs as it is, and
//! with `--seccomp` berth's default seccomp profile for its capabilities and this host's
//! architecture.
use oci_spec::runtime::Capability;
use serde_json::{json, Value};

/// The capabilities of the default process.
const CAPS: [Capability; 3] = [
    Capability::AuditWrite,
    Capability::Kill,
    Capability::NetBindService,
];

pub fn default_spec(seccomp: bool) -> Value {
    let caps = serde_json::to_value(CAPS).expect("capabilities serialise");
    let mut spec = json!({
        "ociVersion": berth::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "berth",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    });
    if seccomp {
        let profile = berth::seccomp::default_profile(&CAPS, berth::seccomp::host_arch());
        spec["linux"]["seccomp"] = serde_json::to_value(profile).expect("profile serialises");
    }
    spec
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_spec_is_valid() {
        for seccomp in [false, true] {
            let data = serde_json::to_vec(&super::default_spec(seccomp)).unwrap();
            let spec = berth::spec::parse(&data).unwrap();
            berth::spec::validate(&spec).unwrap();
            let profile = spec.linux().as_ref().unwrap().seccomp().as_ref();
            assert_eq!(profile.is_some(), seccomp);
            if let Some(p) = profile {
                berth::seccomp::compile(p).unwrap();
            }
        }
    }

    #[test]
    fn capabilities_are_runc_names() {
        let spec = super::default_spec(false);
        assert_eq!(
            spec["process"]["capabilities"]["bounding"],
            serde_json::json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
        );
    }
}
