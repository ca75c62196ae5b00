#!/usr/bin/env bash
# Fresh Debian 12, as root: install what berth needs, build it (release), and run a demo
# container that shows its isolation.  Usage: sudo scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_root
ensure_packages
ensure_cargo

say "building berth (release, static)"
berth=$(scripts/build-release.sh)
if [ "${BERTH_INSTALL:-1}" != 0 ]; then   # BERTH_INSTALL=0: leave /usr/local/bin alone
    install -m 0755 "$berth" /usr/local/bin/berth
    echo "installed /usr/local/bin/berth"
fi

say "making a demo bundle in .work/demo"
demo="$PWD/.work/demo"
rm -rf "$demo"
mkdir -p "$demo/rootfs/bin" "$demo/rootfs/etc" "$demo/rootfs/proc" "$demo/rootfs/sys" \
    "$demo/rootfs/dev" "$demo/rootfs/tmp" "$demo/rootfs/root"
cp /bin/busybox "$demo/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$demo/rootfs/bin/$applet"   # relative links
done
echo "root:x:0:0:root:/root:/bin/sh" >"$demo/rootfs/etc/passwd"
echo "root:x:0:" >"$demo/rootfs/etc/group"

# What `berth spec` writes, with the demo's command instead of an interactive shell.
cat >"$demo/config.json" <<'JSON'
{
  "ociVersion": "1.2.0",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": ["/bin/sh", "-c",
      "echo \"hostname: $(hostname)\"; echo \"my pid: $$\"; echo '--- processes'; ps; echo '--- mounts'; cat /proc/self/mounts; echo '--- capabilities'; grep Cap /proc/self/status"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "berth-demo",
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
     "options": ["nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": {
    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    "namespaces": [
      {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
    ],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
      "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
JSON

say "berth run: the demo container (host: $(hostname), host pid $$)"
id="demo-$$"
status=0
"$berth" --root "$demo/state" run --bundle "$demo" "$id" || status=$?
"$berth" --root "$demo/state" delete --force "$id" >/dev/null 2>&1 || true
if [ "$status" != 0 ]; then
    echo "the demo container failed (exit $status)" >&2
    exit "$status"
fi
say "done: berth is $berth; run the tests with: sudo scripts/test.sh"
