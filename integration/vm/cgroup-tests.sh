#!/usr/bin/env bash
# The cgroup tests on a pure cgroup v2 kernel: one VM (run.sh) per test binary.
#   - the library's cgroup unit tests: the `berth` lib test binary with the filter `cgroups`;
#   - the end-to-end tests integration/tests/cgroups_*.rs, against the runtime binary
#     ($BERTH_BIN, default target/debug/berth).
# As root, from anywhere; run by scripts/test.sh after the build, payload and rootfs steps
# (the payload and the test rootfs must exist). Exits non-zero if any test binary failed, hit
# its time limit, or the VM failed; prints one line per binary at the end.
#   integration/vm/cgroup-tests.sh
#   BERTH_BIN=/usr/sbin/runc integration/vm/cgroup-tests.sh
# Knobs: VM_TIMEOUT (seconds per VM, default 900), BERTH_TEST_TIMEOUT (hang limit of one
# runtime call inside the VM, default 120), BERTH_TEST_STRICT, VM_ONLY (a regex: only the
# binaries whose name matches, e.g. VM_ONLY=cgroups_resources).
set -uo pipefail
cd "$(dirname "$0")/../.."
ws=$PWD
vm=$ws/integration/vm/run.sh
payload=$ws/integration/payload/target/x86_64-unknown-linux-gnu/release/payload
export BERTH_BIN=${BERTH_BIN:-$ws/target/debug/berth}
export BERTH_PAYLOAD=$payload
export BERTH_TEST_TIMEOUT=${BERTH_TEST_TIMEOUT:-120}
limit=${VM_TIMEOUT:-900}

for f in "$BERTH_BIN" "$payload" "$ws/target/berth-test-rootfs/stamp"; do
    [ -e "$f" ] || {
        echo "cgroup-tests: $f missing: build berth, the payload and the rootfs first" >&2
        exit 1
    }
done
"$vm" --prepare || exit 1

# "SOURCE EXECUTABLE" of each test binary of `cargo test ARGS --no-run`. The same arguments as
# scripts/test.sh's unit and integration steps, so that nothing is rebuilt (building one
# package alone can resolve features differently).
executables() {
    cargo test "$@" --no-run --message-format=json |
        sed -n 's/.*"src_path":"\([^"]*\)".*"profile":{[^}]*"test":true}.*"executable":"\(\/[^"]*\)".*/\1 \2/p'
}
jobs=() # "name|cwd|executable|filter"
unit=$(executables --workspace --exclude berth-integration | awk -v s="$ws/libcontainer/src/lib.rs" '$1 == s {print $2}')
[ -n "$unit" ] || { echo "cgroup-tests: no unit test binary for berth" >&2; exit 1; }
jobs+=("berth unit tests (filter cgroups)|$ws/libcontainer|$unit|cgroups")
while read -r src exe; do
    [[ $src == "$ws"/integration/tests/cgroups_*.rs ]] || continue
    jobs+=("tests/$(basename "$src")|$ws/integration|$exe|")
done < <(executables -p berth-integration)
[ ${#jobs[@]} -gt 1 ] || { echo "cgroup-tests: no integration/tests/cgroups_*.rs binaries" >&2; exit 1; }

# Bundles and state roots go to the VM's /tmp (a tmpfs: unix sockets work there); the
# workspace is shared read-write (the rootfs cache and its lock are in target/), at its own
# path, so that the checkout may live anywhere, /tmp included.
results=()
failed=0
for job in "${jobs[@]}"; do
    IFS='|' read -r name cwd exe filter <<<"$job"
    if [ -n "${VM_ONLY:-}" ] && ! [[ $name =~ $VM_ONLY ]]; then
        continue
    fi
    printf '\n     Running %s in the cgroup v2 VM (%s)\n' "$name" "$exe"
    start=$(date +%s)
    (cd "$cwd" && "$vm" -t "$limit" -s "$ws" \
        -e BERTH_BIN -e BERTH_PAYLOAD -e BERTH_TEST_TIMEOUT -e BERTH_TEST_STRICT \
        -e BERTH_TEST_KEEP -e RUST_BACKTRACE \
        -- unshare -m --propagation private "$exe" ${filter:+"$filter"})
    rc=$?
    secs=$(($(date +%s) - start))
    case $rc in
    0) verdict=ok ;;
    124) verdict="TIMEOUT after ${limit}s" ;;
    125) verdict="VM FAILED" ;;
    *) verdict="FAILED (exit $rc)" ;;
    esac
    [ "$rc" = 0 ] || failed=1
    results+=("$(printf '%-40s %4ss  %s' "$name" "$secs" "$verdict")")
done

printf '\ncgroup v2 VM, one VM per test binary (runtime %s):\n' "$BERTH_BIN"
printf '  %s\n' "${results[@]}"
exit "$failed"
