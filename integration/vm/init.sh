#!/bin/busybox sh
# PID 1 of the test VM (run.sh), from the initramfs, busybox only. It mounts the host's root
# (9p, read-only) as the job's root with fresh tmpfs for /tmp, /var/tmp, /run and /dev/shm, a
# pure cgroup v2 hierarchy at /sys/fs/cgroup with every controller enabled at the root, runs
# /run/vmio/job.sh chrooted there, stores its exit code, and powers off.
#
# 9p tags from run.sh:
#   vmio      read-write  the per-run directory: job.sh, shares, stdout, stderr, rc
#   hostroot  read-only   the host's "/"
#   share0..N read-write  host directories, mounted at the same path
export PATH=/bin

/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
hostname berth-vm
ip link set lo up 2>/dev/null
uptime() { cut -d' ' -f1 /proc/uptime; }

fail() {
    echo "VM-INIT-ERROR: $*" >/dev/console
    [ -d /vmio ] && echo "vm init: $*" >/vmio/init-error 2>/dev/null
    sync
    poweroff -f
    sleep 10
}

for m in $(cat /modules/load-order.txt); do
    insmod "/modules/$m.ko" 2>/dev/null || echo "vm init: insmod $m failed" >/dev/console
done
echo "VM: modules loaded at $(uptime)s" >/dev/console

O9P=trans=virtio,version=9p2000.L,msize=262144
mkdir -p /vmio /newroot
mount -t 9p -o "$O9P" vmio /vmio || fail "cannot mount 9p tag vmio"
mount -t 9p -o "$O9P,ro,cache=loose" hostroot /newroot || fail "cannot mount 9p tag hostroot"

R=/newroot
mount -t proc proc $R/proc || fail "mount proc"
mount -t sysfs sysfs $R/sys || fail "mount sysfs"
mount -t devtmpfs devtmpfs $R/dev || fail "mount devtmpfs"
mkdir -p $R/dev/pts $R/dev/shm $R/dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
mount -t mqueue mqueue $R/dev/mqueue 2>/dev/null
for d in tmp var/tmp; do mount -t tmpfs -o mode=1777 tmpfs $R/$d || fail "tmpfs on /$d"; done
mount -t tmpfs -o mode=755 tmpfs $R/run || fail "tmpfs on /run"

# Pure cgroup v2 (cgroup_no_v1=all on the kernel command line), all controllers delegated.
mount -t cgroup2 -o nsdelegate cgroup2 $R/sys/fs/cgroup || fail "mount cgroup2"
for c in $(cat $R/sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" >$R/sys/fs/cgroup/cgroup.subtree_control ||
        echo "vm init: cannot enable controller $c" >/dev/console
done
mount -t bpf bpf $R/sys/fs/bpf 2>/dev/null

mkdir -p $R/run/vmio && mount --bind /vmio $R/run/vmio || fail "bind-mount vmio"

# Read-write shares: lines "TAG PATH".
if [ -f /vmio/shares ]; then
    while read -r tag path; do
        [ -n "$tag" ] || continue
        # Under the guest's own tmpfs (/tmp, /run, /var/tmp) the mount point must be made.
        mkdir -p "$R$path" 2>/dev/null
        mount -t 9p -o "$O9P" "$tag" "$R$path" || fail "cannot mount share $tag at $path"
    done </vmio/shares
fi

echo "VM: job starts at $(uptime)s" >/dev/console
chroot $R /bin/sh /run/vmio/job.sh </dev/null >/vmio/stdout 2>/vmio/stderr
rc=$?
echo "$rc" >/vmio/rc.tmp && mv /vmio/rc.tmp /vmio/rc
echo "VM: job exited with $rc at $(uptime)s" >/dev/console
sync
poweroff -f
sleep 10
