#!/usr/bin/env bash
# End-to-end: Debian's containerd runs a locally built busybox image with the given runtime
# binary in place of runc (ctr run --runc-binary). containerd gets its own root, state and
# socket (the CRI plugin disabled), is started and stopped here, and everything is removed
# at the end, also on failure.
#
#   containerd.sh /path/to/berth
#
# Checks: output comes back from `ctr run --rm`; on a detached task: `ctr task ps`, `pause`
# (status PAUSED), `resume`, `kill` (SIGTERM ignored by sh as pid 1, SIGKILL works), `delete`.
set -euo pipefail
RUNTIME=$(realpath "${1:?usage: containerd.sh RUNTIME_BINARY}")
for cmd in containerd ctr umoci busybox; do
    command -v "$cmd" >/dev/null || { echo "containerd.sh: $cmd not installed" >&2; exit 2; }
done

W=$(mktemp -d /tmp/berth-containerd.XXXXXX)
SOCK=$W/containerd.sock
CPID=
cleanup() {
    set +e
    if [ -n "$CPID" ]; then
        for t in $(ctr -a "$SOCK" -n berth task ls -q 2>/dev/null); do
            ctr -a "$SOCK" -n berth task kill -s SIGKILL "$t" >/dev/null 2>&1
            sleep 0.2
            ctr -a "$SOCK" -n berth task delete -f "$t" >/dev/null 2>&1
        done
        for c in $(ctr -a "$SOCK" -n berth containers ls -q 2>/dev/null); do
            ctr -a "$SOCK" -n berth containers delete "$c" >/dev/null 2>&1
        done
        kill "$CPID" 2>/dev/null
        wait "$CPID" 2>/dev/null
    fi
    # containerd leaves its overlay snapshot mounts under our root; unmount before removing.
    grep -o " $W[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$W"
}
trap cleanup EXIT

# --- a busybox OCI image, built locally ---------------------------------------------------
R=$W/rootfs
mkdir -p "$R/bin" "$R/proc" "$R/sys" "$R/dev" "$R/tmp" "$R/etc"
cp /bin/busybox "$R/bin/busybox"
for applet in $("$R/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$R/bin/$applet"
done
echo "root:x:0:0:root:/root:/bin/sh" >"$R/etc/passwd"
echo "root:x:0:" >"$R/etc/group"
umoci init --layout "$W/oci" >/dev/null
umoci new --image "$W/oci:latest" >/dev/null
umoci insert --image "$W/oci:latest" "$R" / >/dev/null
umoci config --image "$W/oci:latest" --config.cmd /bin/sh >/dev/null
(cd "$W/oci" && tar -cf "$W/image.tar" .)

# --- containerd, private instance ---------------------------------------------------------
cat >"$W/config.toml" <<TOML
version = 2
root = "$W/root"
state = "$W/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$SOCK.debug"
TOML
containerd --config "$W/config.toml" >"$W/containerd.log" 2>&1 &
CPID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { cat "$W/containerd.log" >&2; exit 1; }
C="ctr -a $SOCK -n berth"
$C images import --index-name localhost/busybox:latest "$W/image.tar" >/dev/null
IMG=localhost/busybox:latest

fail() { echo "containerd.sh: FAIL: $*" >&2; tail -n 20 "$W/containerd.log" >&2; exit 1; }
ok() { echo "containerd.sh: ok: $*"; }

# 1. run --rm: output comes back
out=$($C run --rm --runc-binary "$RUNTIME" "$IMG" c1 echo hello-from-containerd) || fail "ctr run"
[ "$out" = hello-from-containerd ] || fail "ctr run printed: $out"
ok "ctr run --rm prints the container's output"

# 2. a detached task: ps, pause, resume, kill, delete
$C run -d --runc-binary "$RUNTIME" "$IMG" c2 sleep 1000 >/dev/null || fail "ctr run -d"
for _ in $(seq 50); do [ "$($C task ls | awk '$1=="c2"{print $3}')" = RUNNING ] && break; sleep 0.1; done
[ "$($C task ls | awk '$1=="c2"{print $3}')" = RUNNING ] || fail "task not RUNNING: $($C task ls)"
# (awk reads all of ctr's output: `grep -q` could exit early and kill ctr with SIGPIPE)
$C task ps c2 | awk 'NR > 1 && $1 ~ /^[0-9]+$/ { n++ } END { exit n == 0 }' || fail "task ps"
ok "task is RUNNING and ps works"
$C task pause c2 || fail "task pause"
[ "$($C task ls | awk '$1=="c2"{print $3}')" = PAUSED ] || fail "not PAUSED: $($C task ls)"
$C task resume c2 || fail "task resume"
[ "$($C task ls | awk '$1=="c2"{print $3}')" = RUNNING ] || fail "not RUNNING after resume"
ok "pause / resume"
$C task kill -s SIGKILL c2 || fail "task kill"
for _ in $(seq 50); do [ "$($C task ls | awk '$1=="c2"{print $3}')" = STOPPED ] && break; sleep 0.1; done
[ "$($C task ls | awk '$1=="c2"{print $3}')" = STOPPED ] || fail "not STOPPED after kill"
$C task delete c2 >/dev/null || fail "task delete"
$C containers delete c2 || fail "container delete"
ok "kill / delete"
echo "containerd.sh: all passed"
