#!/usr/bin/env bash
# Builds the release berth and prints its path. The binary is
# - static (glibc and libseccomp): each call skips the dynamic loader (about half of the
#   instructions of a short command such as `state`) and maps no shared libraries;
# - not position-independent: nothing to relocate at start, so the 200 KB of relocated
#   read-only data are not copied into every process (a quarter less CPU for `--version`);
# - laid out by runtime-cli/berth.order (scripts/orderfile.sh): the functions of a container's
#   lifecycle come first, together, so a command faults in a few dense pages of code instead
#   of most of the binary (`create`'s peak RSS: 1.9 MB instead of 3.4 MB).
# The linker map (berth.map, symbols mangled as in the
# ordering file) is written next to it, for scripts/orderfile.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-linux-gnu
out="$PWD/target/$TARGET/release/berth"
flags="-C target-feature=+crt-static -C relocation-model=static"
flags+=" -C link-arg=-Wl,-Map=$out.map -C link-arg=-Wl,--no-demangle"
# --target keeps the flags off build scripts and proc-macros, which cannot be static.
# BERTH_LINK_LAYOUT: runtime-cli/build.rs passes berth.order to the linker.
LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=/usr/lib/x86_64-linux-gnu RUSTFLAGS="$flags" \
    BERTH_LINK_LAYOUT=1 cargo build --release -p berth-cli --target "$TARGET" >&2
echo "$out"
