#!/usr/bin/env bash
# The whole test suite, as root: formatting, clippy, unit tests, then the end-to-end tests
# (the berth binary driven like containerd drives runc, and by containerd itself) inside a
# private mount namespace, then the cgroup tests again on pure cgroup v2 in a VM
# (integration/vm: the library's cgroup unit tests and tests/cgroups_*.rs, one VM per binary).
# Every step runs even if an earlier one failed; exits non-zero if any failed.
#   sudo scripts/test.sh
#   sudo BERTH_BIN=/usr/sbin/runc scripts/test.sh   # the end-to-end tests against runc
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_root
ensure_packages
ensure_cargo

logs="$PWD/target/test-logs"
mkdir -p "$logs"
rm -f "$logs"/*.log
failed=()
step() {
    local name=$1
    shift
    say "$name: $*"
    local start=$SECONDS
    if "$@" 2>&1 | tee "$logs/$name.log"; then
        echo "--- $name: ok ($((SECONDS - start)) s)"
    else
        echo "--- $name: FAILED ($((SECONDS - start)) s)"
        failed+=("$name")
    fi
}

payload=(--manifest-path integration/payload/Cargo.toml)
step fmt cargo fmt --all -- --check
step fmt-payload cargo fmt "${payload[@]}" -- --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
step clippy-payload cargo clippy "${payload[@]}" --release --target x86_64-unknown-linux-gnu -- -D warnings
# Unit tests mount and clone namespaces too: they also get a private mount namespace.
step unit unshare -m --propagation private \
    cargo test --no-fail-fast --workspace --exclude berth-integration
step build cargo build -p berth-cli
step payload env RUSTFLAGS="-C target-feature=+crt-static" cargo build "${payload[@]}" \
    --release --target x86_64-unknown-linux-gnu --target-dir integration/payload/target
step rootfs cargo run --quiet -p berth-integration --bin berth-test-rootfs
step integration unshare -m --propagation private cargo test --no-fail-fast -p berth-integration
# Pure cgroup v2: QEMU with Debian's kernel (cached in target/vm), the host's root read-only.
vm_start=$SECONDS
step vm-cgroups integration/vm/cgroup-tests.sh
vm_secs=$((SECONDS - vm_start))

say "summary"
for log in "$logs"/unit.log "$logs"/integration.log "$logs"/vm-cgroups.log; do
    [ -f "$log" ] && grep -E "^\s+Running |^test result:|^failures:$|^    [a-z_0-9:]+$" "$log"
done
[ -f "$logs"/vm-cgroups.log ] && sed -n '/^cgroup v2 VM, one VM per test binary/,$p' "$logs"/vm-cgroups.log
read -r host_ok host_bad < <(count_cgroup_tests "$logs"/unit.log "$logs"/integration.log)
read -r vm_ok vm_bad < <(count_cgroup_tests "$logs"/vm-cgroups.log)
echo
echo "cgroup tests on this host ($(cgroup_layout)): $host_ok passed, $host_bad failed"
echo "cgroup tests on pure cgroup v2 (VM, ${vm_secs} s): $vm_ok passed, $vm_bad failed"
if [ ${#failed[@]} -ne 0 ]; then
    echo "FAILED steps: ${failed[*]} (logs in $logs)"
    exit 1
fi
echo "all steps passed"
