#!/usr/bin/env bash
# Regenerates runtime-cli/berth.order, the order in which the release link lays out berth's
# functions (scripts/build-release.sh): the functions a container's lifecycle executes, first
# executed first, so that each command faults in a few dense pages of code rather than most of
# the 4 MB binary. Run it (as root) after changes that rename or add functions on the launch
# path; a stale file only costs memory and page faults, never correctness.
#   sudo scripts/orderfile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_root

berth=$(scripts/build-release.sh)
map="$berth.map"
cargo build --release -p berth-bench --bin berth-orderfile >&2
tracer="$PWD/target/release/berth-orderfile"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle/rootfs/bin" "$work/bundle/rootfs/proc" "$work/bundle/rootfs/sys" \
    "$work/bundle/rootfs/dev"
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
for applet in true sh sleep; do ln -s busybox "$work/bundle/rootfs/bin/$applet"; done
(cd "$work/bundle" && "$berth" spec)
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/^\( *\)"sh"$/\1"\/bin\/sleep", "30"/' \
    "$work/bundle/config.json"

# In a private mount namespace, as the benchmark runs every runtime (cgroup2 unmounted on a
# hybrid host: the v1 paths, which is what the benchmark measures there).
unshare -m --propagation private bash -s "$berth" "$map" "$tracer" "$work" <<'SCRIPT'
set -euo pipefail
berth=$1 map=$2 tracer=$3 work=$4
umount /sys/fs/cgroup/unified 2>/dev/null || true
out="$work/trace"
b() { "$tracer" "$map" "$out" -- "$berth" --root "$work/state" "$@" >/dev/null; }
b create --bundle "$work/bundle" --pid-file "$work/pid" of1
b state of1
b start of1
b exec of1 /bin/true
b list
b kill of1 KILL
while [ -d "/proc/$(cat "$work/pid")" ]; do sleep 0.05; done
b delete of1
sed -i 's/"\/bin\/sleep", "30"/"\/bin\/true"/' "$work/bundle/config.json"
b run --bundle "$work/bundle" of2
b create --bundle "$work/bundle" of3
b delete --force of3
SCRIPT
awk '!seen[$0]++' "$work/trace" >runtime-cli/berth.order
echo "runtime-cli/berth.order: $(wc -l <runtime-cli/berth.order) functions" >&2
