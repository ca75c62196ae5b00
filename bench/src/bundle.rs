//! The bundles all runtimes run: busybox-static in `rootfs/bin` with relative applet links, and
//! runc 1.1's default config (`runc spec`) with `terminal: false`, the given args, and no
//! `linux.resources`.
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// The applets the workloads use.
const APPLETS: &[&str] = &["true", "sleep", "sh"];

pub struct Bundles {
    /// Runs `/bin/true`.
    pub truth: PathBuf,
    /// Runs `/bin/sleep 1000`: a container that stays running.
    pub sleep: PathBuf,
}

/// Creates both bundles under `dir`.
pub fn make(dir: &Path, busybox: &Path) -> io::Result<Bundles> {
    Ok(Bundles {
        truth: make_one(&dir.join("true"), busybox, &["/bin/true"])?,
        sleep: make_one(&dir.join("sleep"), busybox, &["/bin/sleep", "1000"])?,
    })
}

fn make_one(bundle: &Path, busybox: &Path, args: &[&str]) -> io::Result<PathBuf> {
    let rootfs = bundle.join("rootfs");
    let bin = rootfs.join("bin");
    fs::create_dir_all(&bin)?;
    for dir in ["proc", "dev", "sys", "tmp"] {
        fs::create_dir_all(rootfs.join(dir))?;
    }
    fs::copy(busybox, bin.join("busybox"))?;
    for applet in APPLETS {
        symlink("busybox", bin.join(applet))?;
    }
    let text = serde_json::to_string_pretty(&config(args)).map_err(io::Error::other)?;
    fs::write(bundle.join("config.json"), text)?;
    Ok(bundle.to_path_buf())
}

/// `runc spec` of runc 1.1, with `terminal: false`, `args`, and without `linux.resources`.
pub fn config(args: &[&str]) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "bench",
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
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_runs_args_without_terminal_or_resources() {
        let c = config(&["/bin/sleep", "1000"]);
        assert_eq!(c["process"]["args"], json!(["/bin/sleep", "1000"]));
        assert_eq!(c["process"]["terminal"], json!(false));
        assert!(c["linux"].get("resources").is_none());
    }

    #[test]
    fn bundle_has_relative_applet_links() {
        let dir = std::env::temp_dir().join(format!("berth-bench-test-{}", std::process::id()));
        let fake_busybox = dir.join("busybox");
        fs::create_dir_all(&dir).unwrap();
        fs::write(&fake_busybox, b"#!/bin/true\n").unwrap();
        let b = make(&dir, &fake_busybox).unwrap();
        let link = fs::read_link(b.truth.join("rootfs/bin/true")).unwrap();
        assert_eq!(link, Path::new("busybox"));
        let config: Value =
            serde_json::from_slice(&fs::read(b.sleep.join("config.json")).unwrap()).unwrap();
        assert_eq!(config["process"]["args"][0], json!("/bin/sleep"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
