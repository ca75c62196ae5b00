#!/usr/bin/env bash
# Benchmarks berth against runc and crun on this machine: builds berth and the benchmark in
# release mode, installs what the benchmark runs, and runs it. Needs root.
#
#   scripts/bench.sh                      full run (a few minutes)
#   scripts/bench.sh --quick              smaller counts (well under a minute)
#   scripts/bench.sh --rounds 50 --list 500 --running 100 --samples 20
#   scripts/bench.sh --runtimes runc,crun --out /tmp/results.md
#
# Every option is passed to berth-bench (see `target/release/berth-bench --help`). The results
# page is printed and written to target/bench/results.md unless --out says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

# runc and crun are compared; busybox-static is the containers' userland; binutils gives
# `strip` for the binary sizes. (util-linux's `unshare` and libc-bin's `ldd` are essential.)
missing=()
for pkg in runc crun busybox-static binutils; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    apt-get install -y "${missing[@]}"
fi

berth=$(scripts/build-release.sh)
cargo build --release -p berth-bench
exec target/release/berth-bench --berth "$berth" "$@"
