//! Each resource class of `linux.resources`, as the container sees it (a cgroup namespace and
//! the `cgroup` mount at /sys/fs/cgroup: its own cgroup is the root) and as the host sees it
//! (the files the runtime wrote under /sys/fs/cgroup/...). The same tests run on this v1/hybrid
//! host and on pure cgroup v2 in the VM (integration/vm); the expected file names and values
//! depend on the layout, as runc writes them.
use berth_integration::cgroups::{self, Inside};
use berth_integration::{host, runc_differs, Bundle, TestEnv};
use serde_json::{json, Value};

const MIB: i64 = 1 << 20;

/// The file holds `want` on the host and, where the container can see it, inside.
#[track_caller]
fn same(inside: &Inside, b: &Bundle, controller: &str, file: &str, want: &str) {
    let host = cgroups::must_read(&b.tag, controller, file);
    assert_eq!(host, want, "{controller} {file} on the host");
    if cgroups::inside_path(controller, file).is_some() {
        assert_eq!(
            inside.file(controller, file),
            Ok(want.to_string()),
            "{controller} {file} inside the container"
        );
    }
}

/// Starts a container with `resources` that reads `files` from inside.
#[track_caller]
fn start(t: &TestEnv, resources: Value, files: &[(&str, &str)]) -> (Bundle, Inside) {
    let mut b = t.bundle();
    for (k, v) in resources.as_object().expect("resources is an object") {
        b.linux()["resources"][k] = v.clone();
    }
    let inside = cgroups::start_reading(t, &mut b, files);
    (b, inside)
}

/// Deletes the running container and checks that nothing (cgroups included) is left.
#[track_caller]
fn finish(t: &TestEnv, b: &Bundle) {
    t.delete_force(b).ok();
    t.assert_nothing_left(b);
}

/// Inside, every hierarchy shows the container's cgroup as `/`; on the host its init is in
/// `/berth-test-<id>` in every hierarchy, and that cgroup holds exactly init.
#[test]
fn container_is_the_root_of_its_cgroup_namespace() {
    let t = TestEnv::new("cg-root");
    let (b, inside) = start(&t, json!({}), &[]);
    inside.assert_rooted();
    let pid = b.pid();
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let want = berth_integration::cgroup_path(&b.tag);
    // On a v1 host without a mounted cgroup2 tree (no `unified`), the kernel still lists the
    // cgroup2 line (`0::/`), where no runtime puts anything.
    let cgroup2_mounted = cgroups::is_v2()
        || host::mountinfo()
            .iter()
            .any(|m| m.target == "/sys/fs/cgroup/unified");
    for line in own.lines() {
        if line.starts_with("0::") && !cgroup2_mounted {
            continue;
        }
        let path = line.splitn(3, ':').nth(2).unwrap_or_default();
        assert_eq!(path, want, "init's cgroups on the host:\n{own}");
    }
    assert_eq!(cgroups::procs(&b.tag, "pids"), [pid]);
    assert!(host::alive(pid));
    finish(&t, &b);
}

#[test]
fn memory_limit_reservation_and_swap() {
    let t = TestEnv::new("cg-mem");
    let (limit, reservation, swap) = (64 * MIB, 32 * MIB, 96 * MIB);
    let files: &[(&str, &str)] = if cgroups::is_v2() {
        &[
            ("memory", "memory.max"),
            ("memory", "memory.low"),
            ("memory", "memory.swap.max"),
        ]
    } else {
        &[
            ("memory", "memory.limit_in_bytes"),
            ("memory", "memory.soft_limit_in_bytes"),
            ("memory", "memory.memsw.limit_in_bytes"),
        ]
    };
    let swap_accounted = cgroups::is_v2()
        || cgroups::hierarchy("memory")
            .is_some_and(|h| h.join("memory.memsw.limit_in_bytes").exists());
    let mut memory = json!({"limit": limit, "reservation": reservation});
    if swap_accounted {
        memory["swap"] = json!(swap);
    }
    let (b, inside) = start(&t, json!({ "memory": memory }), files);
    let values = [limit, reservation, swap - limit];
    let values = if cgroups::is_v2() {
        values
    } else {
        [limit, reservation, swap]
    };
    for (i, ((ctrl, file), want)) in files.iter().zip(values).enumerate() {
        if i == 2 && !swap_accounted {
            eprintln!("skipped: swap accounting is off on this host ({file})");
            continue;
        }
        same(&inside, &b, ctrl, file, &want.to_string());
    }
    finish(&t, &b);
}

#[test]
fn cpu_shares_quota_period_and_cpuset() {
    let t = TestEnv::new("cg-cpu");
    let cpu = json!({"shares": 512, "quota": 25000, "period": 50000, "cpus": "0", "mems": "0"});
    let v2 = cgroups::is_v2();
    let files: &[(&str, &str)] = if v2 {
        &[
            ("cpu", "cpu.weight"),
            ("cpu", "cpu.max"),
            ("cpuset", "cpuset.cpus"),
            ("cpuset", "cpuset.mems"),
        ]
    } else {
        &[
            ("cpu", "cpu.shares"),
            ("cpu", "cpu.cfs_quota_us"),
            ("cpu", "cpu.cfs_period_us"),
            ("cpuset", "cpuset.cpus"),
            ("cpuset", "cpuset.mems"),
        ]
    };
    let (b, inside) = start(&t, json!({ "cpu": cpu }), files);
    let want: Vec<String> = if v2 {
        vec![
            cgroups::shares_to_weight(512).to_string(),
            "25000 50000".into(),
            "0".into(),
            "0".into(),
        ]
    } else {
        ["512", "25000", "50000", "0", "0"]
            .map(String::from)
            .to_vec()
    };
    for ((ctrl, file), want) in files.iter().zip(&want) {
        same(&inside, &b, ctrl, file, want);
    }
    finish(&t, &b);
}

/// A negative quota is no limit.
#[test]
fn cpu_quota_minus_one_is_unlimited() {
    let t = TestEnv::new("cg-cpu-unl");
    let (ctrl, file, want) = if cgroups::is_v2() {
        ("cpu", "cpu.max", "max 100000")
    } else {
        ("cpu", "cpu.cfs_quota_us", "-1")
    };
    let (b, inside) = start(
        &t,
        json!({"cpu": {"quota": -1, "period": 100000}}),
        &[(ctrl, file)],
    );
    same(&inside, &b, ctrl, file, want);
    finish(&t, &b);
}

#[test]
fn pids_limit() {
    let t = TestEnv::new("cg-pids");
    let (b, inside) = start(&t, json!({"pids": {"limit": 42}}), &[("pids", "pids.max")]);
    same(&inside, &b, "pids", "pids.max", "42");
    finish(&t, &b);
}

/// The block I/O weight where the host's scheduler has one (v1: blkio.weight or
/// blkio.bfq.weight; v2: io.bfq.weight, else io.weight converted), and throttling of a real
/// block device.
#[test]
fn block_io_weight_and_throttling() {
    let t = TestEnv::new("cg-blkio");
    let Some((major, minor)) = cgroups::block_device() else {
        eprintln!("skipped: no block device to throttle");
        return;
    };
    let v2 = cgroups::is_v2();
    let root = cgroups::hierarchy(if v2 { "io" } else { "blkio" }).expect("blkio/io hierarchy");
    // v2's root has no io.weight: whether the kernel has one is seen in the container's
    // cgroup; v1's root has the same files as every cgroup.
    let v1_weight = ["blkio.weight", "blkio.bfq.weight"]
        .into_iter()
        .find(|f| root.join(f).exists());
    let mut blkio = json!({
        "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
        "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}],
    });
    if v2 || v1_weight.is_some() {
        blkio["weight"] = json!(500);
    }
    let files: Vec<(&str, &str)> = if v2 {
        vec![
            ("io", "io.max"),
            ("io", "io.weight"),
            ("io", "io.bfq.weight"),
        ]
    } else {
        let mut f = vec![
            ("blkio", "blkio.throttle.read_bps_device"),
            ("blkio", "blkio.throttle.write_iops_device"),
        ];
        f.extend(v1_weight.map(|w| ("blkio", w)));
        f
    };
    let (b, inside) = start(&t, json!({ "blockIO": blkio }), &files);
    let dev = format!("{major}:{minor}");
    if v2 {
        same(
            &inside,
            &b,
            "io",
            "io.max",
            &format!("{dev} rbps=1048576 wbps=max riops=max wiops=100"),
        );
        let bfq = cgroups::read(&b.tag, "io", "io.bfq.weight");
        let (file, want) = match bfq {
            Some(_) => ("io.bfq.weight", 500),
            None => ("io.weight", cgroups::blkio_to_io_weight(500)),
        };
        let got = cgroups::must_read(&b.tag, "io", file);
        assert_eq!(
            got.lines().next().unwrap_or_default(),
            format!("default {want}"),
            "{file}"
        );
        assert_eq!(inside.file("io", file), Ok(got), "{file} inside");
    } else {
        same(
            &inside,
            &b,
            "blkio",
            "blkio.throttle.read_bps_device",
            &format!("{dev} 1048576"),
        );
        same(
            &inside,
            &b,
            "blkio",
            "blkio.throttle.write_iops_device",
            &format!("{dev} 100"),
        );
        match v1_weight {
            Some(file) => {
                let got = cgroups::must_read(&b.tag, "blkio", file);
                let first = got.lines().next().unwrap_or_default();
                assert!(first == "500" || first == "default 500", "{file}: {got:?}");
                assert_eq!(inside.file("blkio", file), Ok(got), "{file} inside");
            }
            None => eprintln!("skipped: this host's blkio controller has no weight"),
        }
    }
    finish(&t, &b);
}

/// `hugepageLimits` for 2 MiB pages: hugetlb.2MB.limit_in_bytes on v1, hugetlb.2MB.max on
/// v2 (and in the unified tree of a hybrid host that has hugetlb only there).
#[test]
fn hugetlb_limit() {
    let t = TestEnv::new("cg-huge");
    if !std::path::Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        eprintln!("skipped: no 2 MiB huge pages on this kernel");
        return;
    }
    let Some(h) = cgroups::hierarchy("hugetlb") else {
        eprintln!("skipped: no hugetlb controller");
        return;
    };
    let file = if h.join("hugetlb.2MB.limit_in_bytes").exists() {
        "hugetlb.2MB.limit_in_bytes"
    } else {
        "hugetlb.2MB.max"
    };
    if !cgroups::is_v2()
        && cgroups::inside_path("hugetlb", file).is_none()
        && runc_differs(
            "runc 1.1.5 cannot set hugetlb limits from the unified tree of a hybrid host",
        )
    {
        return;
    }
    let limit = 4 * MIB;
    let (b, inside) = start(
        &t,
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": limit}]}),
        &[("hugetlb", file)],
    );
    same(&inside, &b, "hugetlb", file, &limit.to_string());
    finish(&t, &b);
}

/// `unified` writes cgroup v2 files by name; on a v1 host it is an error.
#[test]
fn unified_keys() {
    let t = TestEnv::new("cg-unified");
    let unified = json!({"memory.high": (48 * MIB).to_string(), "pids.max": "17"});
    if !cgroups::is_v2() {
        let mut b = t.bundle();
        b.linux()["resources"]["unified"] = unified;
        b.payload(&["sleep", "1000"]);
        let out = t.create(&b);
        out.failed_with_one_line();
        assert!(out.mentions("unified"), "{out}");
        t.assert_nothing_left(&b);
        return;
    }
    let (b, inside) = start(
        &t,
        json!({ "unified": unified }),
        &[("memory", "memory.high"), ("pids", "pids.max")],
    );
    same(
        &inside,
        &b,
        "memory",
        "memory.high",
        &(48 * MIB).to_string(),
    );
    same(&inside, &b, "pids", "pids.max", "17");
    finish(&t, &b);
}

/// The container cannot write to its cgroup files: the mount is read-only.
#[test]
fn cgroup_files_are_read_only_inside() {
    let t = TestEnv::new("cg-ro");
    let mut b = t.bundle();
    b.linux()["resources"]["pids"] = json!({"limit": 42});
    cgroups::mount_cgroups(&mut b);
    let path = cgroups::inside_path("pids", "pids.max").unwrap();
    b.payload(&["write", &path, "1000"]);
    let out = t.run(&b);
    out.ok();
    assert_eq!(out.stdout.trim(), "EROFS", "{out}");
}

/// Where huge pages are reserved (the VM reserves 16): under a 4 MiB limit the container can
/// take one 2 MiB page of a hugetlbfs file and not three more.
#[test]
fn hugetlb_limit_is_enforced() {
    let t = TestEnv::new("cg-huge-enf");
    let free = std::fs::read_to_string("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if free < 4 || cgroups::hierarchy("hugetlb").is_none() {
        eprintln!("skipped: fewer than 4 free 2 MiB huge pages, or no hugetlb controller");
        return;
    }
    let mut b = t.bundle();
    b.linux()["resources"]["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 4 * MIB}]);
    b.add_mount(
        json!({"destination": "/tmp", "type": "hugetlbfs", "source": "hugetlbfs",
                       "options": ["pagesize=2M"]}),
    );
    b.sh("fallocate -l 2M /tmp/a; echo a=$?; fallocate -l 6M /tmp/b; echo b=$?");
    let out = t.run(&b);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().filter(|l| l.contains('=')).collect();
    assert_eq!(lines.first(), Some(&"a=0"), "{out}");
    assert!(lines.get(1).is_some_and(|l| *l != "b=0"), "{out}");
    t.assert_nothing_left(&b);
}
