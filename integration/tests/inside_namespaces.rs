//! Namespaces as the container sees them: new ones differ from the host's, joined ones are the
//! joined process's; pid 1, hostname and domainname; sysctls in the container's namespaces.
use std::path::PathBuf;
use std::process::{Command, Stdio};

use berth_integration::host::ns_link;
use berth_integration::{wait_until, TestEnv};

#[test]
fn init_is_pid_1_of_a_new_pid_namespace() {
    let t = TestEnv::new("ns-pid1");
    let b = t.bundle();
    let r = t.report(&b);
    assert_eq!(r.num("pid"), 1);
    assert_eq!(r.num("ppid"), 0);
}

#[test]
fn hostname_and_domainname() {
    let t = TestEnv::new("ns-uts");
    let mut b = t.bundle();
    b.spec["hostname"] = "inside-host".into();
    b.spec["domainname"] = "inside.example".into();
    let r = t.report(&b);
    assert_eq!(r.str("hostname"), "inside-host");
    if !berth_integration::runc_differs("runc 1.1.5 does not implement the domainname field") {
        assert_eq!(r.str("domainname"), "inside.example");
    }
}

/// Each configured namespace is new; unconfigured ones are the host's.
#[test]
fn configured_namespaces_are_new() {
    let t = TestEnv::new("ns-new");
    let mut b = t.bundle();
    b.namespace("cgroup", None);
    let r = t.report(&b);
    for ns in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        assert_ne!(
            r.ns(ns),
            ns_link("self", ns),
            "{ns} namespace is the host's"
        );
    }
    for ns in ["user", "time"] {
        assert_eq!(
            r.ns(ns),
            ns_link("self", ns),
            "{ns} namespace is not the host's"
        );
    }
}

#[test]
fn without_namespaces_the_host_ones_are_kept() {
    let t = TestEnv::new("ns-host");
    let mut b = t.bundle();
    b.without_namespace("network")
        .without_namespace("ipc")
        .without_namespace("uts");
    b.spec.as_object_mut().unwrap().remove("hostname");
    let r = t.report(&b);
    for ns in ["net", "ipc", "uts"] {
        assert_eq!(r.ns(ns), ns_link("self", ns), "{ns} namespace is new");
    }
    assert_ne!(r.ns("mnt"), ns_link("self", "mnt"));
}

/// A process in its own network namespace (killed by the test's cleanup).
fn netns_holder(t: &TestEnv) -> PathBuf {
    // Killed and reaped by the cleanup (track_pid), not through this handle.
    let pid = Command::new("unshare")
        .args(["--net", "sleep", "1000"])
        .stdin(Stdio::null())
        .spawn()
        .expect("run unshare --net sleep")
        .id() as i32;
    t.track_pid(pid);
    let host = ns_link("self", "net");
    wait_until("unshare to enter its network namespace", || {
        std::fs::read_link(format!("/proc/{pid}/ns/net"))
            .is_ok_and(|l| l.display().to_string() != host)
    });
    PathBuf::from(format!("/proc/{pid}/ns/net"))
}

#[test]
fn joined_network_namespace() {
    let t = TestEnv::new("ns-join");
    let path = netns_holder(&t);
    let expected = std::fs::read_link(&path).unwrap().display().to_string();
    let mut b = t.bundle();
    b.namespace("network", Some(&path));
    let r = t.report(&b);
    assert_eq!(r.ns("net"), expected);
    // The others are still new.
    assert_ne!(r.ns("uts"), ns_link("self", "uts"));
}

#[test]
fn sysctl_in_the_container_network_namespace() {
    let t = TestEnv::new("ns-sysctl");
    let host_value = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let mut b = t.bundle();
    let wanted = if host_value.trim() == "1" { "0" } else { "1" };
    b.linux()["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": wanted});
    b.payload(&["read", "/proc/sys/net/ipv4/ip_forward"]);
    let out = t.run(&b);
    out.ok();
    let v = berth_integration::payload::last_json(&out.stdout);
    assert_eq!(v["data"].as_str().map(str::trim), Some(wanted), "{out}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_value,
        "the host's sysctl changed"
    );
}

/// A sysctl of a namespace the container does not have is refused.
#[test]
fn sysctl_outside_the_container_namespaces_is_refused() {
    let t = TestEnv::new("ns-sysctl-host");
    let mut b = t.bundle();
    b.without_namespace("network");
    b.linux()["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"});
    let out = t.create(&b);
    out.failed();
    t.assert_nothing_left(&b);
}
