# Shared by setup.sh and test.sh (sourced, not run).

# Debian packages berth's build, tests, demo and benchmarks use.
BERTH_PACKAGES=(
    build-essential   # cc as the linker, glibc's static libc.a for the test payload
    pkg-config
    libseccomp-dev
    busybox-static    # the rootfs of the demo and of the tests
    util-linux        # unshare: the tests run in a private mount namespace
    runc              # reference runtime (BERTH_BIN=/usr/sbin/runc runs the suite on it)
    crun
    qemu-system-x86   # the cgroup tests on pure cgroup v2, in a VM (integration/vm)
    containerd        # a real engine in the end-to-end tests (tests/engines.rs), with ctr
    umoci             # builds the OCI image containerd runs
    hyperfine         # benchmarks
    strace
    ca-certificates
)

say() { printf '\n==> %s\n' "$*"; }

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "run as root: sudo $0" >&2
        exit 1
    fi
}

# Installs the packages that are missing; quick and quiet when everything is there.
ensure_packages() {
    local missing=()
    local p
    for p in "${BERTH_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
}

# Puts cargo on PATH: already there, or rustup's env of root or of the user behind sudo.
ensure_cargo() {
    if command -v cargo >/dev/null 2>&1; then
        return 0
    fi
    local home
    for home in "${HOME:-/root}" "$(getent passwd "${SUDO_USER:-root}" | cut -d: -f6)"; do
        if [ -f "$home/.cargo/env" ]; then
            # shellcheck disable=SC1091
            . "$home/.cargo/env"
            return 0
        fi
    done
    echo "cargo not found: install Rust with rustup (https://rustup.rs), then run again" >&2
    exit 1
}

# The layout of this host's cgroups: "v2" (pure cgroup v2) or "v1/hybrid".
cgroup_layout() {
    if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then echo v2; else echo v1/hybrid; fi
}

# Counts the cgroup tests in cargo test logs: the berth library's unit tests named cgroups::*,
# and every test of a binary built from integration/tests/cgroups_*.rs. Prints "PASSED FAILED".
count_cgroup_tests() {
    awk '
        /^ +Running / {
            lib = ($0 ~ /src\/lib\.rs \(.*deps\/berth-[0-9a-f]+\)/ || $0 ~ /Running berth unit tests/)
            cg = ($0 ~ /Running tests\/cgroups_[a-z0-9_]*\.rs/)
            next
        }
        /^test .* \.\.\. (ok|FAILED)$/ {
            if (cg || (lib && $2 ~ /^cgroups::/)) { if ($NF == "ok") ok++; else bad++ }
        }
        END { printf "%d %d\n", ok, bad }' "$@" 2>/dev/null
}
