//! Resources written to real cgroups of the machine running the tests and read back, on
//! whatever it has (v1, hybrid, pure v2); names and cleanup as in `tests.rs`.
use std::path::Path;

use oci_spec::runtime::{
    LinuxCpu, LinuxHugepageLimit, LinuxMemory, LinuxNetwork, LinuxPids, LinuxResources,
};

use super::tests::{can_run, deny_all, deny_all_but_kmsg_read, name, Guard, HOST_ROOT};
use super::*;

const MIB: i64 = 1 << 20;

/// `file` of the v1 `controller`'s cgroup, or of the cgroup2 one when there is none.
fn read_ctl(m: &Manager, controller: &str, file: &str) -> String {
    let dir = m
        .v1_dir(controller)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| m.v2.as_ref().unwrap().path.clone());
    files::read(&dir, file).unwrap()
}

/// Whether 2 MB hugepage limits can be tested: the pages exist and the manager has a hugetlb
/// hierarchy (a v1 one, or the cgroup2 tree, which on a hybrid host may be hidden).
fn hugetlb_2mb(mgr: &Manager) -> bool {
    Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").is_dir()
        && (mgr.v1_dir("hugetlb").is_some() || mgr.v2.is_some())
}

#[test]
fn written_and_read_back() {
    if !can_run() {
        return;
    }
    let _host = HOST_ROOT.lock().unwrap_or_else(|e| e.into_inner());
    let mut g = Guard::new(&format!("/{}", name()));
    g.restore_unified_root();
    g.mgr.create_dirs().unwrap();
    let v2 = g.mgr.pure_v2();
    let mut r = deny_all();
    let mut mem = LinuxMemory::default();
    mem.set_limit(Some(64 * MIB));
    mem.set_reservation(Some(32 * MIB));
    let swap = if v2 {
        g.mgr
            .v2
            .as_ref()
            .unwrap()
            .path
            .join("memory.swap.max")
            .exists()
    } else {
        g.mgr
            .v1_dir("memory")
            .unwrap()
            .join("memory.memsw.limit_in_bytes")
            .exists()
    };
    if swap {
        mem.set_swap(Some(128 * MIB));
    }
    r.set_memory(Some(mem));
    let mut cpu = LinuxCpu::default();
    cpu.set_shares(Some(512));
    cpu.set_quota(Some(20_000));
    cpu.set_period(Some(100_000));
    cpu.set_cpus(Some("0".into()));
    cpu.set_mems(Some("0".into()));
    r.set_cpu(Some(cpu));
    let mut pids = LinuxPids::default();
    pids.set_limit(42);
    r.set_pids(Some(pids));
    if hugetlb_2mb(&g.mgr) {
        let mut h = LinuxHugepageLimit::default();
        h.set_page_size("2MB".into());
        h.set_limit(2 * MIB);
        r.set_hugepage_limits(Some(vec![h]));
    }
    validate(Some(&r)).unwrap();
    g.mgr.set(&r).unwrap();

    if v2 {
        assert_eq!(read_ctl(&g.mgr, "", "memory.max"), (64 * MIB).to_string());
        assert_eq!(read_ctl(&g.mgr, "", "memory.low"), (32 * MIB).to_string());
        if swap {
            assert_eq!(
                read_ctl(&g.mgr, "", "memory.swap.max"),
                (64 * MIB).to_string()
            );
        }
        assert_eq!(read_ctl(&g.mgr, "", "cpu.weight"), "20");
        assert_eq!(read_ctl(&g.mgr, "", "cpu.max"), "20000 100000");
    } else {
        let m = |f| read_ctl(&g.mgr, "memory", f);
        assert_eq!(m("memory.limit_in_bytes"), (64 * MIB).to_string());
        assert_eq!(m("memory.soft_limit_in_bytes"), (32 * MIB).to_string());
        if swap {
            assert_eq!(m("memory.memsw.limit_in_bytes"), (128 * MIB).to_string());
        }
        assert_eq!(read_ctl(&g.mgr, "cpu", "cpu.shares"), "512");
        assert_eq!(read_ctl(&g.mgr, "cpu", "cpu.cfs_quota_us"), "20000");
        assert_eq!(read_ctl(&g.mgr, "cpu", "cpu.cfs_period_us"), "100000");
    }
    assert_eq!(read_ctl(&g.mgr, "cpuset", "cpuset.cpus"), "0");
    assert_eq!(read_ctl(&g.mgr, "pids", "pids.max"), "42");
    if hugetlb_2mb(&g.mgr) {
        let file = if g.mgr.v1_dir("hugetlb").is_some() {
            "hugetlb.2MB.limit_in_bytes"
        } else {
            "hugetlb.2MB.max"
        };
        assert_eq!(read_ctl(&g.mgr, "hugetlb", file), (2 * MIB).to_string());
    }

    // Stats of a cgroup with a process in it.
    let pid = g.spawn_inside();
    let s = g.mgr.stats().unwrap();
    assert_eq!(s.pids.current, 1, "{s:?}");
    assert_eq!(s.pids.limit, 42);
    assert_eq!(s.memory.usage.limit, 64 << 20);
    assert!(s.memory.usage.usage > 0, "{s:?}");
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["memory"]["raw"]
        .as_object()
        .is_some_and(|m| !m.is_empty()));
    if hugetlb_2mb(&g.mgr) {
        assert!(s.hugetlb.contains_key("2MB"), "{:?}", s.hugetlb);
    }

    // Update: only what is given changes; device rules stay.
    let devices_before = g
        .mgr
        .v1_dir("devices")
        .map(|d| files::read(d, "devices.list").unwrap());
    let mut up = LinuxResources::default();
    let mut pids = LinuxPids::default();
    pids.set_limit(50);
    up.set_pids(Some(pids));
    g.mgr.update(&up).unwrap();
    assert_eq!(read_ctl(&g.mgr, "pids", "pids.max"), "50");
    assert_eq!(read_ctl(&g.mgr, "cpuset", "cpuset.cpus"), "0");
    let devices_after = g
        .mgr
        .v1_dir("devices")
        .map(|d| files::read(d, "devices.list").unwrap());
    assert_eq!(devices_before, devices_after);
    // checkBeforeUpdate refuses a limit below the usage.
    let mut mem = LinuxMemory::default();
    mem.set_limit(Some(4096));
    mem.set_check_before_update(Some(true));
    let mut up = LinuxResources::default();
    up.set_memory(Some(mem));
    let e = g.mgr.update(&up).unwrap_err().to_string();
    assert!(e.contains("checkBeforeUpdate"), "{e}");
    assert!(e.contains("linux.resources.memory.limit"), "{e}");
    let _ = pid;
}

#[test]
fn v1_device_update_adds_and_removes_exceptions() {
    if !can_run() {
        return;
    }
    let g = Guard::new(&format!("/{}", name()));
    g.mgr.create_dirs().unwrap();
    let Some(dir) = g.mgr.v1_dir("devices") else {
        return; // pure v2: see bpf_tests
    };
    g.mgr.set(&deny_all()).unwrap();
    let r = deny_all_but_kmsg_read();
    g.mgr.update(&r).unwrap();
    let list = files::read(dir, "devices.list").unwrap();
    assert!(list.contains("c 1:11 r"), "{list}");
    assert!(list.contains("c 1:3 rwm"), "{list}");
    g.mgr.update(&deny_all()).unwrap();
    let list = files::read(dir, "devices.list").unwrap();
    assert!(!list.contains("c 1:11"), "{list}");
    assert!(list.contains("c 1:3 rwm"), "{list}");
}

#[test]
fn host_dependent_errors_name_the_field() {
    if !can_run() {
        return;
    }
    let _host = HOST_ROOT.lock().unwrap_or_else(|e| e.into_inner());
    let mut g = Guard::new(&format!("/{}", name()));
    g.restore_unified_root();
    g.mgr.create_dirs().unwrap();
    let mut r = LinuxResources::default();
    if g.mgr.pure_v2() {
        let mut m = LinuxMemory::default();
        m.set_swappiness(Some(10));
        r.set_memory(Some(m));
        let e = g.mgr.set(&r).unwrap_err().to_string();
        assert!(e.contains("linux.resources.memory.swappiness"), "{e}");
        let mut r = LinuxResources::default();
        r.set_unified(Some([("pids.max".to_string(), "9".to_string())].into()));
        g.mgr.set(&r).unwrap();
        assert_eq!(read_ctl(&g.mgr, "", "pids.max"), "9");
    } else if g.mgr.v1_dir("net_cls").is_none() {
        let mut n = LinuxNetwork::default();
        n.set_class_id(Some(0x100001));
        r.set_network(Some(n));
        let e = g.mgr.set(&r).unwrap_err().to_string();
        assert!(e.contains("linux.resources.network.classID"), "{e}");
    }
    let mut r = LinuxResources::default();
    let mut h = LinuxHugepageLimit::default();
    h.set_page_size("3MB".into());
    h.set_limit(1);
    r.set_hugepage_limits(Some(vec![h]));
    let e = g.mgr.set(&r).unwrap_err().to_string();
    assert!(e.contains("linux.resources.hugepageLimits"), "{e}");
}

/// A process started with the manager's `Entry` (cloned into the cgroup2 cgroup, then moving
/// itself into the v1 ones through the `tasks` fds) is in the container's cgroup in every
/// hierarchy, without `apply`.
#[test]
fn entry_places_a_new_process_everywhere() {
    if !can_run() {
        return;
    }
    let name = name();
    let g = Guard::new(&format!("/{name}"));
    g.mgr.create_dirs().unwrap();
    let entry = g.mgr.entry().unwrap();
    use std::os::fd::AsFd;
    let (pid, _pidfd) = crate::sys::process::clone3(
        crate::sys::process::Clone {
            cgroup: entry.clone_into.as_ref().map(|fd| fd.as_fd()),
            ..Default::default()
        },
        || {
            // Async-signal-safe only: this is a copy of one thread of the test process.
            if entry.join_v1().is_err() {
                return 1;
            }
            nix::unistd::pause();
            0
        },
    )
    .unwrap();
    // Every hierarchy shows the new cgroup; the cgroup2 line (`0::`) only if the manager has a
    // cgroup2 cgroup (not on a v1 host without the unified tree).
    let joined = |cgroups: &str| {
        cgroups
            .lines()
            .filter(|l| !l.starts_with("0::") || g.mgr.v2.is_some())
            .all(|l| l.ends_with(&format!("/{name}")))
    };
    // Give the child a moment to move itself, then look at where it is.
    let mut where_ = String::new();
    for _ in 0..200 {
        where_ = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        if joined(&where_) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let procs = g.mgr.pids();
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(pid, None);
    assert!(joined(&where_), "{where_}");
    assert_eq!(procs.unwrap(), vec![pid.as_raw()]);
}
