#!/usr/bin/env bash
# The whole test suite, as root: formatting, clippy, unit tests, then the end-to-end tests
# (the berth binary driven like containerd drives runc) inside a private mount namespace.
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
    if "$@" 2>&1 | tee "$logs/$name.log"; then
        echo "--- $name: ok"
    else
        echo "--- $name: FAILED"
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

say "summary"
for log in "$logs"/unit.log "$logs"/integration.log; do
    [ -f "$log" ] && grep -E "^\s+Running |^test result:|^failures:$|^    [a-z_0-9:]+$" "$log"
done
if [ ${#failed[@]} -ne 0 ]; then
    echo "FAILED steps: ${failed[*]} (logs in $logs)"
    exit 1
fi
echo "all steps passed"
