#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 10).
# The toolchain here is stable: RUSTC_BOOTSTRAP lets cargo-fuzz use the sanitizer flags.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-10}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
cd fuzz
for target in $(cargo fuzz list); do
    echo "fuzz: $target (${SECONDS_EACH}s)"
    cargo fuzz run -O "$target" -- -max_total_time="$SECONDS_EACH" 2>&1 | grep -E '^(Done|==|SUMMARY|thread)' || true
    # cargo fuzz exits non-zero on a crash; pipefail above does not see it through grep, so check artifacts.
    if ls "artifacts/$target"/crash-* >/dev/null 2>&1; then
        echo "fuzz: $target found a crash: $(ls artifacts/"$target"/crash-*)" >&2
        exit 1
    fi
done
echo "fuzz: all targets ran clean"
