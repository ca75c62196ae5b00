//! The default config.json of a test bundle (what `runc spec` writes, adjusted for tests) and
//! helpers for capability sets.
use serde_json::{json, Value};

/// The cgroup (relative to each hierarchy's root) a test container with id `id` gets. Tests own
/// everything named `berth-test-*` and nothing else.
pub fn cgroup_path(id: &str) -> String {
    format!("/berth-test-{id}")
}

/// The environment variable that marks every process of a test container (the runtime is
/// started with it too), so that leftover processes can be found.
pub const TAG_VAR: &str = "BERTH_TEST_TAG";

/// Set in the runtime's own environment only: it must not leak into containers.
pub const RUNTIME_ONLY_VAR: &str = "BERTH_TEST_RUNTIME_ONLY";

/// `runc spec`'s config, for a test: no terminal, the payload as the process, a hostname of
/// `berth-test`, a tag in the environment, and the cgroup at [`cgroup_path`]. The
/// `/sys/fs/cgroup` mount of `runc spec` is left out (a test of its own adds it), so that the
/// other tests do not all depend on it.
pub fn default_spec(id: &str) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": [crate::rootfs::PAYLOAD],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
                format!("{TAG_VAR}={id}"),
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
                "ambient": caps,
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true,
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "berth-test",
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
        ],
        "linux": {
            "cgroupsPath": cgroup_path(id),
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"},
                {"type": "network"},
                {"type": "ipc"},
                {"type": "uts"},
                {"type": "mount"},
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi",
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
            ],
        },
    })
}

/// Capability names in bit order (`capability.h`).
const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The bit mask of a set of capability names, as `/proc/<pid>/status` shows it.
pub fn cap_mask(names: &[&str]) -> u64 {
    names.iter().fold(0, |m, n| {
        let bit = CAPS
            .iter()
            .position(|c| c == n)
            .unwrap_or_else(|| panic!("unknown capability {n}"));
        m | 1 << bit
    })
}

/// The names of the bits set in `mask`.
pub fn cap_names(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|b| mask & (1 << b) != 0)
        .map(|b| CAPS.get(b).map_or(format!("cap_{b}"), |n| n.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_the_kernel_numbering() {
        assert_eq!(cap_mask(&["CAP_CHOWN"]), 1);
        assert_eq!(
            cap_mask(&["CAP_KILL", "CAP_NET_BIND_SERVICE"]),
            1 << 5 | 1 << 10
        );
        assert_eq!(cap_mask(&["CAP_CHECKPOINT_RESTORE"]), 1 << 40);
        assert_eq!(cap_names(1 << 29 | 1 << 5), ["CAP_KILL", "CAP_AUDIT_WRITE"]);
    }

    #[test]
    fn default_spec_is_tagged_and_owns_its_cgroup() {
        let s = default_spec("x-1-2");
        assert_eq!(s["linux"]["cgroupsPath"], "/berth-test-x-1-2");
        assert!(s["process"]["env"]
            .as_array()
            .unwrap()
            .contains(&json!("BERTH_TEST_TAG=x-1-2")));
    }
}
