#!/usr/bin/env bash
# Runs one host command inside a throw-away QEMU VM on Debian's kernel, booted with
# cgroup_no_v1=all: a pure cgroup v2 host with every controller enabled at the root.
#
#   integration/vm/run.sh [options] [--] COMMAND [ARGS...]
#     -s DIR      share host DIR read-write at the same path (repeatable; default: none)
#     -e VAR[=V]  pass an environment variable (repeatable)
#     -t SECS     wall-clock limit for the whole VM (default 600)
#     -m MiB      guest memory (default 1024)
#     -c N        guest CPUs (default: host CPUs, at most 4)
#     --prepare   fetch and unpack the kernel unless it is cached, then exit (run does it too)
#
# The guest's root is the host's "/" over 9p, read-only: host binaries run unchanged. /tmp,
# /var/tmp, /run and /dev/shm are fresh tmpfs (unix sockets do not work on 9p: keep state roots
# and sockets there). The command runs as root, in the root cgroup, in the host's current
# directory, stdin /dev/null. 16 huge pages of 2 MiB are reserved; /dev/nullb0 and /dev/loop0 exist.
#
# Exit status: the command's; 124 if the limit was hit; 125 if the VM itself failed (then the
# end of the guest console is printed).
#
# The kernel (linux-image-amd64's dependency, `apt-get download`) is unpacked once into
# target/vm/kernel of the workspace (VM_CACHE overrides); each run builds a small initramfs
# (busybox + init.sh + the virtio/9p/null_blk modules) in a per-run directory that is removed
# afterwards (VM_KEEP=1 keeps it, VM_CONSOLE=1 prints the guest console).
# Needs: qemu-system-x86, busybox-static.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${VM_CACHE:-$(cd "$HERE/../.." && pwd)/target/vm}
KDIR=$CACHE/kernel
TIMEOUT=600 MEM=1024 PREPARE_ONLY=0
CPUS=$(nproc)
((CPUS > 4)) && CPUS=4
SHARES=() ENVS=()

die() {
    echo "vm: $*" >&2
    exit 125
}

work= RUN= QPID=
cleanup() {
    [ -n "$QPID" ] && kill "$QPID" 2>/dev/null
    [ -n "$work" ] && rm -rf "$work" "$KDIR.new"
    if [ -n "$RUN" ]; then
        if [ "${VM_KEEP:-0}" = 1 ]; then echo "vm: kept $RUN" >&2; else rm -rf "$RUN"; fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

while (($#)); do
    case $1 in
    -s) SHARES+=("$(realpath -e "$2")") || die "no such directory: $2"; shift 2 ;;
    -e) ENVS+=("$2"); shift 2 ;;
    -t) TIMEOUT=$2; shift 2 ;;
    -m) MEM=$2; shift 2 ;;
    -c) CPUS=$2; shift 2 ;;
    --prepare) PREPARE_ONLY=1; shift ;;
    --) shift; break ;;
    -*) die "unknown option $1" ;;
    *) break ;;
    esac
done

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: apt-get install qemu-system-x86"
[ -x /bin/busybox ] || die "/bin/busybox missing: apt-get install busybox-static"

# The modules the guest loads, dependencies first.
MODS="virtio_ring virtio virtio_mmio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
      virtio-rng 9pnet 9pnet_virtio netfs fscache 9p configfs null_blk loop"

kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}'
}

prepare() {
    local pkg deb kver m f off
    mkdir -p "$CACHE"
    work=$(mktemp -d "$CACHE/prepare.XXXXXX")
    pkg=$(kernel_package)
    if [ -z "$pkg" ]; then
        apt-get update >&2 || true
        pkg=$(kernel_package)
    fi
    [ -n "$pkg" ] || die "cannot resolve linux-image-amd64's kernel package"
    (cd "$work" && apt-get download -o APT::Sandbox::User=root "$pkg" >&2) || die "apt-get download $pkg failed"
    deb=$(ls "$work"/*.deb) && dpkg -x "$deb" "$work/x"
    kver=$(ls "$work/x/lib/modules")
    mkdir -p "$KDIR.new/modules"
    # QEMU boots an uncompressed ELF vmlinux directly (PVH), which skips the in-guest XZ
    # decompression of the bzImage (about 8 s under TCG).
    off=$(LC_ALL=C grep -m1 -obUaP '\xfd7zXZ\x00' "$work/x/boot/vmlinuz-$kver" | head -1 | cut -d: -f1)
    [ -n "$off" ] || die "no XZ payload in vmlinuz-$kver"
    { tail -c +"$((off + 1))" "$work/x/boot/vmlinuz-$kver" || true; } |
        xz -dc --single-stream >"$KDIR.new/vmlinux"
    [ "$(head -c 4 "$KDIR.new/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ] ||
        die "extracting vmlinux from vmlinuz-$kver failed"
    cp "$work/x/boot/config-$kver" "$KDIR.new/config"
    for m in $MODS; do
        f=$(find "$work/x/lib/modules/$kver" -name "$m.ko" -print -quit)
        [ -n "$f" ] || die "module $m not in $pkg"
        cp "$f" "$KDIR.new/modules/"
        echo "$m" >>"$KDIR.new/modules/load-order.txt"
    done
    echo "$pkg" >"$KDIR.new/package"
    rm -rf "$work" "$KDIR"
    mv "$KDIR.new" "$KDIR"
    work=
    echo "vm: prepared $pkg in $KDIR" >&2
}
if [ ! -f "$KDIR/vmlinux" ] || [ ! -f "$KDIR/modules/load-order.txt" ] ||
    [ "$(tr -s ' \n' ' ' <"$KDIR/modules/load-order.txt")" != "$(echo $MODS) " ]; then
    prepare
fi
((PREPARE_ONLY)) && exit 0
(($#)) || die "usage: $0 [options] [--] COMMAND [ARGS...]"

# ---- the per-run directory: initramfs and the job -------------------------------------------
mkdir -p "$CACHE/runs"
RUN=$(mktemp -d "$CACHE/runs/run.XXXXXX")
mkdir -p "$RUN/initrd/"{bin,dev,proc,sys,modules} "$RUN/io"
cp /bin/busybox "$RUN/initrd/bin/busybox"
cp "$HERE/init.sh" "$RUN/initrd/init"
chmod 755 "$RUN/initrd/init"
cp "$KDIR"/modules/* "$RUN/initrd/modules/"
(cd "$RUN/initrd" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$RUN/initrd.img")
rm -rf "$RUN/initrd"

q() { printf "'%s'" "${1//\'/\'\\\'\'}"; } # POSIX sh single quoting
{
    echo "cd $(q "$PWD") || exit 125"
    echo "export PATH='/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' HOME=/root TMPDIR=/tmp"
    for e in ${ENVS[@]+"${ENVS[@]}"}; do
        if [[ $e == *=* ]]; then
            echo "export ${e%%=*}=$(q "${e#*=}")"
        elif [ -n "${!e+x}" ]; then
            echo "export $e=$(q "${!e}")"
        fi
    done
    printf 'exec'
    for a in "$@"; do printf ' %s' "$(q "$a")"; done
    echo
} >"$RUN/io/job.sh"

# ---- accelerator: KVM only on real hardware virtualisation ----------------------------------
# Under nested PVM (/sys/module/kvm_pvm) a stock kernel runs far slower than under TCG.
ACCEL=${VM_ACCEL:-auto}
if [ "$ACCEL" = auto ]; then
    ACCEL=tcg
    if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo &&
        [ ! -d /sys/module/kvm_pvm ]; then ACCEL=kvm; fi
fi
case $ACCEL in
kvm) ACCEL_ARGS=(-accel kvm -cpu host) ;;
tcg) ACCEL_ARGS=(-accel tcg,thread=multi -cpu max) ;;
*) die "VM_ACCEL must be kvm or tcg" ;;
esac

# ---- machine: microvm boots ~2 s faster than pc under TCG. It has no HPET/PM timer, so the
# TSC frequency is given (TCG's guest TSC is the host's) lest calibration against the PIT hang.
KHZ=$(awk -F: '/^cpu MHz/{printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
APPEND="console=ttyS0 quiet loglevel=4 panic=-1 cgroup_no_v1=all hugepages=16 rdinit=/init"
if [ "$ACCEL" = kvm ] || [ -n "$KHZ" ]; then
    MACHINE_ARGS=(-machine microvm,acpi=on,rtc=on,pit=on,pic=on)
    BUS=device
    APPEND+=" pci=off"
    [ "$ACCEL" = tcg ] && APPEND+=" tsc_early_khz=$KHZ tsc=reliable"
else
    MACHINE_ARGS=(-machine pc)
    BUS=pci
fi

SM=none
[ "$(id -u)" = 0 ] && SM=passthrough
VIRTFS=(-fsdev "local,id=fs_vmio,path=$RUN/io,security_model=$SM"
    -device "virtio-9p-$BUS,fsdev=fs_vmio,mount_tag=vmio"
    -fsdev "local,id=fs_root,path=/,security_model=none,readonly=on,multidevs=remap"
    -device "virtio-9p-$BUS,fsdev=fs_root,mount_tag=hostroot")
: >"$RUN/io/shares"
i=0
for s in ${SHARES[@]+"${SHARES[@]}"}; do
    [ "$s" != / ] && [[ $s != *$'\n'* ]] && [[ $s != *,* ]] || die "cannot share $s"
    VIRTFS+=(-fsdev "local,id=fs_share$i,path=$s,security_model=$SM,multidevs=remap"
        -device "virtio-9p-$BUS,fsdev=fs_share$i,mount_tag=share$i")
    echo "share$i $s" >>"$RUN/io/shares"
    i=$((i + 1))
done

: >"$RUN/io/stdout"
: >"$RUN/io/stderr"
timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 \
    "${ACCEL_ARGS[@]}" "${MACHINE_ARGS[@]}" -nodefaults -no-user-config -no-reboot \
    -m "$MEM" -smp "$CPUS" -display none -monitor none \
    -serial "file:$RUN/console.log" \
    -kernel "$KDIR/vmlinux" -initrd "$RUN/initrd.img" \
    -append "$APPEND ${VM_APPEND:-}" -device "virtio-rng-$BUS" "${VIRTFS[@]}" \
    </dev/null >"$RUN/qemu.log" 2>&1 &
QPID=$!
# The job's output, live: stdout and stderr as they grow (lines of the two may interleave).
tail -q -n +1 -f --pid="$QPID" "$RUN/io/stdout" &
T1=$!
tail -q -n +1 -f --pid="$QPID" "$RUN/io/stderr" >&2 &
T2=$!
set +e
wait "$QPID"
QRC=$?
QPID=
wait "$T1" "$T2" 2>/dev/null
set -e
if [ "${VM_CONSOLE:-0}" = 1 ]; then
    echo "---- guest console ----" >&2
    cat "$RUN/console.log" >&2
fi

if [ -s "$RUN/io/rc" ]; then
    exit "$(cat "$RUN/io/rc")"
fi
if ((QRC == 124 || QRC == 137)); then
    echo "vm: TIMEOUT after ${TIMEOUT}s; end of the guest console:" >&2
    tail -n 30 "$RUN/console.log" >&2
    exit 124
fi
echo "vm: the VM ended without a result (qemu exit $QRC)" >&2
cat "$RUN/qemu.log" >&2
[ -s "$RUN/io/init-error" ] && cat "$RUN/io/init-error" >&2
tail -n 50 "$RUN/console.log" >&2
exit 125
