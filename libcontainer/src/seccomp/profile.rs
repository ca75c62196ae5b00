//! berth's default seccomp profile for general-purpose containers: an allow-list, EPERM for
//! everything else. Syscalls that only make sense with a capability (mount needs
//! CAP_SYS_ADMIN, ptrace CAP_SYS_PTRACE, ...) are allowed only when that capability is granted,
//! so that a kernel bug reachable through them is not reachable from an ordinary container.
//! `seccomp-profiles/default.json` is this profile for [`DEFAULT_CAPABILITIES`] on x86_64, and
//! `seccomp-profiles/README.md` explains the choices.
use oci_spec::runtime::{
    Arch, Capability, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompArg,
    LinuxSeccompArgBuilder, LinuxSeccompOperator as Op, LinuxSyscall,
};

/// The capabilities engines (Docker, containerd, podman) grant by default.
pub const DEFAULT_CAPABILITIES: &[Capability] = &[
    Capability::AuditWrite,
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fowner,
    Capability::Fsetid,
    Capability::Kill,
    Capability::Mknod,
    Capability::NetBindService,
    Capability::NetRaw,
    Capability::Setfcap,
    Capability::Setgid,
    Capability::Setpcap,
    Capability::Setuid,
    Capability::SysChroot,
];

/// What ordinary programs use, on every architecture (names an architecture lacks are skipped
/// when the filter is compiled for it). 32-bit names (`*64`, `*32`, `*_time64`, `socketcall`,
/// `ipc`) serve the compat architectures listed with the native one.
#[rustfmt::skip]
const ALLOWED: &[&str] = &[
    // files: open, read, write, seek, sync
    "open", "openat", "openat2", "creat", "close", "close_range", "read", "write", "readv",
    "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2", "lseek",
    "_llseek", "dup", "dup2", "dup3", "fcntl", "fcntl64", "flock", "fsync", "fdatasync", "sync",
    "syncfs", "sync_file_range", "truncate", "truncate64", "ftruncate", "ftruncate64",
    "fallocate", "sendfile", "sendfile64", "splice", "tee", "vmsplice", "copy_file_range",
    "readahead", "fadvise64", "fadvise64_64", "cachestat",
    // file metadata and directories
    "stat", "lstat", "fstat", "stat64", "lstat64", "fstat64", "newfstatat", "fstatat64", "statx",
    "statfs", "fstatfs", "statfs64", "fstatfs64", "access", "faccessat", "faccessat2",
    "readlink", "readlinkat", "getdents", "getdents64", "getcwd", "chdir", "fchdir", "chmod",
    "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "chown32",
    "fchown32", "lchown32", "utime", "utimes", "futimesat", "utimensat", "utimensat_time64",
    "mkdir", "mkdirat", "rmdir", "rename", "renameat", "renameat2", "link", "linkat", "symlink",
    "symlinkat", "unlink", "unlinkat", "mknod", "mknodat", "umask", "getxattr", "lgetxattr",
    "fgetxattr", "getxattrat", "setxattr", "lsetxattr", "fsetxattr", "setxattrat", "listxattr",
    "llistxattr", "flistxattr", "listxattrat", "removexattr", "lremovexattr", "fremovexattr",
    "removexattrat", "file_getattr", "file_setattr", "name_to_handle_at", "inotify_init",
    "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark", "statmount",
    "listmount",
    // memory
    "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mlock", "mlock2",
    "munlock", "mlockall", "munlockall", "mincore", "msync", "remap_file_pages", "membarrier",
    "memfd_create", "memfd_secret", "pkey_alloc", "pkey_free", "pkey_mprotect",
    "get_mempolicy", "map_shadow_stack", "mseal",
    // processes, threads, credentials (the kernel checks CAP_SETUID etc. itself)
    "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "waitpid",
    "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid", "getuid",
    "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "setuid", "setgid",
    "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid", "setgroups",
    "getuid32", "geteuid32", "getgid32", "getegid32", "getresuid32", "getresgid32",
    "getgroups32", "setuid32", "setgid32", "setreuid32", "setregid32", "setresuid32",
    "setresgid32", "setfsuid32", "setfsgid32", "setgroups32", "capget", "capset", "prctl",
    "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "set_thread_area",
    "get_thread_area", "restart_syscall", "seccomp", "landlock_create_ruleset",
    "landlock_add_rule", "landlock_restrict_self", "lsm_get_self_attr", "lsm_set_self_attr",
    "lsm_list_modules", "pidfd_open", "pidfd_send_signal", "uretprobe",
    // scheduling and limits (raising priorities still needs CAP_SYS_NICE in the kernel)
    "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam",
    "sched_setparam", "sched_getscheduler", "sched_setscheduler", "sched_get_priority_max",
    "sched_get_priority_min", "sched_rr_get_interval", "sched_rr_get_interval_time64",
    "sched_getattr", "sched_setattr", "getpriority", "setpriority", "nice", "ioprio_get",
    "ioprio_set", "getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "getrusage", "times",
    "getcpu", "sysinfo", "uname", "getrandom", "process_mrelease",
    // signals
    "kill", "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
    "rt_sigpending", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
    "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack", "signal", "sigaction",
    "sigprocmask", "sigpending", "sigsuspend", "sigreturn", "pause", "alarm", "getitimer",
    "setitimer", "signalfd", "signalfd4",
    // time (reading clocks, sleeping, timers; setting clocks needs CAP_SYS_TIME below)
    "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64",
    "clock_nanosleep", "clock_nanosleep_time64", "nanosleep", "gettimeofday", "time",
    "timer_create", "timer_delete", "timer_settime", "timer_settime64", "timer_gettime",
    "timer_gettime64", "timer_getoverrun", "timerfd_create", "timerfd_settime",
    "timerfd_settime64", "timerfd_gettime", "timerfd_gettime64",
    // reading the kernel clock discipline; changing it needs CAP_SYS_TIME in the kernel
    "adjtimex", "clock_adjtime", "clock_adjtime64",
    // waiting and events
    "futex", "futex_time64", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue",
    "pipe", "pipe2", "eventfd", "eventfd2", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_ctl_old", "epoll_wait", "epoll_wait_old", "epoll_pwait", "epoll_pwait2", "poll",
    "ppoll", "ppoll_time64", "select", "_newselect", "pselect6", "pselect6_time64",
    "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
    "io_pgetevents_time64",
    // System V and POSIX IPC (namespaced by the container's IPC namespace)
    "ipc", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "semctl", "shmget", "shmat", "shmdt", "shmctl", "mq_open", "mq_unlink",
    "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive", "mq_timedreceive_time64",
    "mq_notify", "mq_getsetattr",
    // sockets (the network namespace and capabilities limit what they reach; socket(2) itself
    // is below, without AF_VSOCK)
    "socketcall", "socketpair", "bind", "connect", "listen", "accept", "accept4",
    "getsockname", "getpeername", "sendto", "send", "recvfrom", "recv", "sendmsg", "recvmsg",
    "sendmmsg", "recvmmsg", "recvmmsg_time64", "shutdown", "setsockopt", "getsockopt",
    // devices and terminals
    "ioctl",
];

/// Syscalls only for some architectures: (architecture family, names).
const ARCH_SPECIFIC: &[(&[Arch], &[&str])] = &[
    (
        &[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32],
        &["arch_prctl"],
    ),
    (
        &[Arch::ScmpArchArm, Arch::ScmpArchAarch64],
        &[
            "set_tls",
            "cacheflush",
            "breakpoint",
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
        ],
    ),
    (
        &[
            Arch::ScmpArchPpc,
            Arch::ScmpArchPpc64,
            Arch::ScmpArchPpc64le,
        ],
        &["sync_file_range2"],
    ),
    (
        &[Arch::ScmpArchS390, Arch::ScmpArchS390x],
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
    ),
    (
        &[Arch::ScmpArchRiscv64],
        &["riscv_flush_icache", "riscv_hwprobe"],
    ),
];

/// Syscalls allowed only with a capability: each reaches kernel code that the capability is
/// what normally guards, and that an unprivileged container has no use for.
#[rustfmt::skip]
const BY_CAPABILITY: &[(Capability, &[&str])] = &[
    (
        Capability::SysAdmin,
        &[
            "mount", "umount", "umount2", "pivot_root", "unshare", "setns", "clone3", "fsopen",
            "fsconfig", "fsmount", "fspick", "open_tree", "open_tree_attr", "move_mount",
            "mount_setattr", "quotactl", "quotactl_fd", "sethostname", "setdomainname", "swapon",
            "swapoff", "lookup_dcookie", "keyctl", "add_key", "request_key", "bpf",
            "perf_event_open", "fanotify_init",
        ],
    ),
    (Capability::Bpf, &["bpf"]),
    (Capability::Perfmon, &["perf_event_open"]),
    (
        Capability::SysPtrace,
        &[
            "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
            "process_madvise", "userfaultfd",
        ],
    ),
    (Capability::SysBoot, &["reboot", "kexec_load", "kexec_file_load"]),
    (
        Capability::SysModule,
        &["init_module", "finit_module", "delete_module"],
    ),
    (
        Capability::SysTime,
        &[
            "settimeofday", "stime", "clock_settime", "clock_settime64",
        ],
    ),
    (
        Capability::SysNice,
        &["mbind", "set_mempolicy", "set_mempolicy_home_node", "migrate_pages", "move_pages"],
    ),
    (Capability::SysRawio, &["iopl", "ioperm"]),
    (Capability::SysTtyConfig, &["vhangup"]),
    (Capability::SysPacct, &["acct"]),
    (Capability::Syslog, &["syslog"]),
    (Capability::DacReadSearch, &["open_by_handle_at"]),
    (Capability::SysChroot, &["chroot"]),
];

/// personality(2) values that only change what `uname` reports or the 32-bit mode, plus the
/// query 0xffffffff; flags like ADDR_NO_RANDOMIZE or READ_IMPLIES_EXEC weaken the process.
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

/// AF_VSOCK: vsock is not network-namespaced, so it would reach the host's (or hypervisor's)
/// vsock services from any container.
const AF_VSOCK: u64 = 40;

/// Address families after AF_VSOCK that are allowed (KCM, QIPCRTR, SMC, XDP, MCTP). They are
/// listed one by one, never as "greater than AF_VSOCK": seccomp compares all 64 bits of the
/// register while the kernel only reads the low 32, so a range open upwards would let a
/// caller put AF_VSOCK under garbage high bits.
const AF_AFTER_VSOCK: &[u64] = &[41, 42, 43, 44, 45];

/// clone(2) flags that create namespaces (NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID,
/// NEWNET); NEWTIME (0x80) is only valid for unshare/clone3.
const CLONE_NAMESPACES: u64 = 0x7e02_0000;

/// The architecture berth runs on, as an OCI architecture.
pub fn host_arch() -> Arch {
    match std::env::consts::ARCH {
        "x86" => Arch::ScmpArchX86,
        "aarch64" => Arch::ScmpArchAarch64,
        "arm" => Arch::ScmpArchArm,
        "powerpc64" if cfg!(target_endian = "little") => Arch::ScmpArchPpc64le,
        "powerpc64" => Arch::ScmpArchPpc64,
        "powerpc" => Arch::ScmpArchPpc,
        "s390x" => Arch::ScmpArchS390x,
        "riscv64" => Arch::ScmpArchRiscv64,
        "loongarch64" => Arch::ScmpArchLoongarch64,
        "mips64" => Arch::ScmpArchMips64,
        "mips" => Arch::ScmpArchMips,
        _ => Arch::ScmpArchX86_64,
    }
}

/// `arch` and the compat architectures whose binaries it runs. x32 is left out on purpose: its
/// binaries practically do not exist, most kernels disable the ABI, and it triples the time
/// libseccomp needs to compile the profile; without it in the filter, libseccomp makes x32
/// syscalls take the bad-architecture action (kill).
fn family(arch: Arch) -> Vec<Arch> {
    match arch {
        Arch::ScmpArchX86_64 => vec![arch, Arch::ScmpArchX86],
        Arch::ScmpArchAarch64 => vec![arch, Arch::ScmpArchArm],
        Arch::ScmpArchS390x => vec![arch, Arch::ScmpArchS390],
        Arch::ScmpArchMips64 => vec![arch, Arch::ScmpArchMips64n32, Arch::ScmpArchMips],
        Arch::ScmpArchMipsel64 => vec![arch, Arch::ScmpArchMipsel64n32, Arch::ScmpArchMipsel],
        _ => vec![arch],
    }
}

fn rule(names: Vec<String>, action: Action, args: Vec<LinuxSeccompArg>) -> LinuxSyscall {
    let mut r = LinuxSyscall::default();
    r.set_names(names);
    r.set_action(action);
    if !args.is_empty() {
        r.set_args(Some(args));
    }
    r
}

fn arg(index: usize, op: Op, value: u64, value_two: Option<u64>) -> LinuxSeccompArg {
    let mut a = LinuxSeccompArgBuilder::default()
        .index(index)
        .op(op)
        .value(value);
    if let Some(v) = value_two {
        a = a.value_two(v);
    }
    a.build()
        .expect("every field of LinuxSeccompArg has a default")
}

/// The default profile for a container with capabilities `caps` on architecture `arch` (and
/// its compat architectures): default action `SCMP_ACT_ERRNO` (EPERM).
pub fn default_profile(caps: &[Capability], arch: Arch) -> LinuxSeccomp {
    let family = family(arch);
    let mut names: Vec<&str> = ALLOWED.to_vec();
    for (arches, list) in ARCH_SPECIFIC {
        if arches.iter().any(|a| family.contains(a)) {
            names.extend_from_slice(list);
        }
    }
    for (cap, list) in BY_CAPABILITY {
        if caps.contains(cap) {
            names.extend_from_slice(list);
        }
    }
    let admin = caps.contains(&Capability::SysAdmin);
    if admin {
        names.push("clone");
    }
    names.sort_unstable();
    names.dedup();
    let mut rules = vec![rule(
        names.into_iter().map(String::from).collect(),
        Action::ScmpActAllow,
        vec![],
    )];
    for p in PERSONALITIES {
        rules.push(rule(
            vec!["personality".into()],
            Action::ScmpActAllow,
            vec![arg(0, Op::ScmpCmpEq, *p, None)],
        ));
    }
    rules.push(rule(
        vec!["socket".into()],
        Action::ScmpActAllow,
        vec![arg(0, Op::ScmpCmpLt, AF_VSOCK, None)],
    ));
    for family in AF_AFTER_VSOCK {
        rules.push(rule(
            vec!["socket".into()],
            Action::ScmpActAllow,
            vec![arg(0, Op::ScmpCmpEq, *family, None)],
        ));
    }
    if !admin {
        // Threads and processes, but no new namespaces: on s390 the flags are the second
        // argument. clone3 passes its flags in memory, which seccomp cannot read: ENOSYS
        // makes the C libraries fall back to clone.
        let flags =
            usize::from(family.contains(&Arch::ScmpArchS390x) || arch == Arch::ScmpArchS390);
        rules.push(rule(
            vec!["clone".into()],
            Action::ScmpActAllow,
            vec![arg(flags, Op::ScmpCmpMaskedEq, CLONE_NAMESPACES, Some(0))],
        ));
        let mut clone3 = rule(vec!["clone3".into()], Action::ScmpActErrno, vec![]);
        clone3.set_errno_ret(Some(libc::ENOSYS as u32));
        rules.push(clone3);
    }
    let mut profile = LinuxSeccomp::default();
    profile.set_default_action(Action::ScmpActErrno);
    profile.set_default_errno_ret(Some(libc::EPERM as u32));
    profile.set_architectures(Some(family));
    profile.set_syscalls(Some(rules));
    profile
}
