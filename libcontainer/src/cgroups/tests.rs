//! Tests on the real cgroups of the machine they run on (v1, hybrid or pure v2), under names
//! this process owns (`berth-test-<pid>-<name>`); a guard kills what it started and removes
//! what it created, also when a test fails.
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};

use super::*;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A unique cgroup name for one test.
pub(super) fn name() -> String {
    format!(
        "berth-test-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

pub(super) fn can_run() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return false;
    }
    true
}

/// Kills the children and destroys the manager when dropped.
pub(super) struct Guard {
    pub mgr: Manager,
    pub children: Vec<Child>,
    /// On a hybrid host: the unified root's `cgroup.subtree_control` before the test, which
    /// setting resources there (hugetlb) may change; restored on drop.
    unified_root: Option<String>,
}

/// Held by tests that may enable controllers at the root of a hybrid host's unified tree, so
/// that one's restore does not undo what another is using.
pub(super) static HOST_ROOT: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Guard {
    pub fn new(cgroups_path: &str) -> Guard {
        Guard {
            mgr: Manager::new(Some(Path::new(cgroups_path)), "unused").unwrap(),
            children: Vec::new(),
            unified_root: None,
        }
    }

    /// Starts a `sleep` and moves it into the cgroup.
    pub fn spawn(&mut self) -> i32 {
        let child = Command::new("sleep").arg("1000").spawn().unwrap();
        let pid = child.id() as i32;
        self.children.push(child);
        self.mgr.apply(pid).unwrap();
        pid
    }
}

impl Guard {
    /// For a test that holds [`HOST_ROOT`]: remember the unified root's controllers now and
    /// restore them on drop.
    pub fn restore_unified_root(&mut self) {
        self.unified_root = files::read_opt(Path::new(UNIFIED), "cgroup.subtree_control")
            .ok()
            .flatten();
    }

    /// Starts a shell that joins the cgroups itself and then execs `sleep`, so that the memory
    /// of the new program is charged to the container's cgroup; returns once it has.
    pub fn spawn_inside(&mut self) -> i32 {
        let joins: String = self
            .mgr
            .all()
            .map(|cg| format!("echo $$ > {}/cgroup.procs && ", cg.path.display()))
            .collect();
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("{joins} exec sleep 1000"))
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        self.children.push(child);
        let exe = format!("/proc/{pid}/exe");
        let started = files::poll(Duration::from_secs(5), || {
            let target = std::fs::read_link(&exe).unwrap_or_default();
            Ok(target.to_string_lossy().contains("sleep").then_some(()))
        });
        assert!(started.unwrap().is_some(), "child did not exec sleep");
        pid
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
        }
        let _ = self.mgr.thaw();
        for c in &mut self.children {
            let _ = c.wait();
        }
        let _ = self.mgr.destroy();
        if let Some(before) = &self.unified_root {
            let root = Path::new(UNIFIED).join("cgroup.subtree_control");
            let now = std::fs::read_to_string(&root).unwrap_or_default();
            for c in now.split_whitespace() {
                if !before.split_whitespace().any(|b| b == c) {
                    let _ = files::write_raw(&root, &format!("-{c}"));
                }
            }
        }
    }
}

/// [`deny_all`], then read access to /dev/kmsg (c 1:11).
pub(super) fn deny_all_but_kmsg_read() -> LinuxResources {
    let mut kmsg = LinuxDeviceCgroup::default();
    kmsg.set_allow(true);
    kmsg.set_typ(Some("c".parse().unwrap()));
    kmsg.set_major(Some(1));
    kmsg.set_minor(Some(11));
    kmsg.set_access(Some("r".into()));
    let mut r = deny_all();
    r.devices_mut().as_mut().unwrap().push(kmsg);
    r
}

pub(super) fn deny_all() -> LinuxResources {
    let mut deny = LinuxDeviceCgroup::default();
    deny.set_access(Some("rwm".into()));
    let mut r = LinuxResources::default();
    r.set_devices(Some(vec![deny]));
    r
}

#[test]
fn probe_matches_own_cgroups() {
    let m = Manager::new(None, "probe").unwrap();
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    if m.pure_v2() {
        assert!(m.v2.as_ref().unwrap().path.starts_with(ROOT));
    } else {
        assert!(m.v1_dir("devices").is_some());
        // Every mounted v1 hierarchy we are in is joined.
        assert_eq!(
            m.v1.len(),
            text.lines().filter(|l| !l.starts_with("0::")).count()
        );
    }
    for cg in m.all() {
        assert!(cg.path.ends_with("probe"), "{}", cg.path.display());
    }
}

#[test]
fn lifecycle() {
    if !can_run() {
        return;
    }
    let n = name();
    let mut g = Guard::new(&format!("/{n}"));
    g.mgr.create_dirs().unwrap();
    for cg in g.mgr.all() {
        assert!(cg.path.is_dir(), "{}", cg.path.display());
        assert_eq!(cg.created.get(), 1);
    }
    if g.mgr.v1_dir("devices").is_some() {
        g.mgr.set(&deny_all()).unwrap();
        let list = files::read(g.mgr.v1_dir("devices").unwrap(), "devices.list").unwrap();
        assert!(list.contains("c 1:3 rwm"), "{list}");
        assert!(!list.contains("a *:* rwm"), "{list}");
    }
    let pid = g.spawn();
    assert_eq!(g.mgr.pids().unwrap(), vec![pid]);
    for cg in g.mgr.all() {
        assert_eq!(files::procs(&cg.path).unwrap(), vec![pid]);
    }

    assert!(!g.mgr.is_frozen().unwrap());
    g.mgr.freeze().unwrap();
    assert!(g.mgr.is_frozen().unwrap());
    // A signal to a paused container leaves it paused.
    g.mgr.kill(libc::SIGCONT).unwrap();
    assert!(g.mgr.is_frozen().unwrap());
    g.mgr.thaw().unwrap();
    assert!(!g.mgr.is_frozen().unwrap());

    // The state record round trip keeps what destroy needs.
    let saved: Manager = serde_json::from_str(&serde_json::to_string(&g.mgr).unwrap()).unwrap();
    saved.kill(libc::SIGKILL).unwrap();
    let status = g.children[0].wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    saved.destroy().unwrap();
    for cg in g.mgr.all() {
        assert!(!cg.path.exists(), "{}", cg.path.display());
    }
}

#[test]
fn kill_while_paused() {
    if !can_run() {
        return;
    }
    let mut g = Guard::new(&format!("/{}", name()));
    g.mgr.create_dirs().unwrap();
    g.spawn();
    g.spawn();
    g.mgr.freeze().unwrap();
    g.mgr.kill(libc::SIGKILL).unwrap();
    for c in &mut g.children {
        c.wait().unwrap();
    }
    let left = files::poll(Duration::from_secs(2), || {
        Ok(g.mgr.pids()?.is_empty().then_some(()))
    });
    assert!(left.unwrap().is_some());
    g.mgr.destroy().unwrap();
}

#[test]
fn relative_path_and_parents() {
    if !can_run() {
        return;
    }
    let n = name();
    let g = Guard::new(&format!("{n}/a/b"));
    g.mgr.create_dirs().unwrap();
    let own = path::memberships(&std::fs::read_to_string("/proc/self/cgroup").unwrap());
    for cg in g.mgr.all() {
        assert!(cg.path.ends_with(format!("{n}/a/b")));
        assert_eq!(cg.created.get(), 3);
        if !cg.ctrl.is_empty() {
            let m = own
                .iter()
                .find(|m| m.controllers.join(",") == cg.ctrl)
                .unwrap();
            let rel = m.path.strip_prefix("/").unwrap();
            assert!(
                cg.path.to_string_lossy().contains(&*rel.to_string_lossy()),
                "{} not below own {}",
                cg.path.display(),
                m.path.display()
            );
        }
    }
    // Every level of a new cpuset got the values of the nearest ancestor that had them.
    if let Some(dir) = g.mgr.v1_dir("cpuset") {
        let top = dir.ancestors().nth(3).unwrap();
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let want = files::read(top, f).unwrap();
            assert!(!want.is_empty());
            for level in dir.ancestors().take(3) {
                assert_eq!(files::read(level, f).unwrap(), want, "{}", level.display());
            }
        }
    }
    g.mgr.destroy().unwrap();
    for cg in g.mgr.all() {
        let top = cg.path.parent().unwrap().parent().unwrap();
        assert!(!top.exists(), "{}", top.display());
    }
}

#[test]
fn existing_cgroups_are_not_removed_and_busy_ones_refused() {
    if !can_run() {
        return;
    }
    let n = name();
    let mut owner = Guard::new(&format!("/{n}"));
    owner.mgr.create_dirs().unwrap();
    owner.spawn();
    // A second manager for the same cgroup: it has a process, so create fails, and the failed
    // create must not remove what it did not make.
    let other = Manager::new(Some(Path::new(&format!("/{n}"))), "x").unwrap();
    let err = other.create_dirs().unwrap_err().to_string();
    assert!(err.contains("already has processes"), "{err}");
    for cg in owner.mgr.all() {
        assert!(cg.path.is_dir());
    }
    // A child of an existing cgroup: only the child is removed.
    let child = Manager::new(Some(Path::new(&format!("/{n}/c"))), "x").unwrap();
    child.create_dirs().unwrap();
    for cg in child.all() {
        assert_eq!(cg.created.get(), 1);
    }
    child.destroy().unwrap();
    for (mine, theirs) in child.all().zip(owner.mgr.all()) {
        assert!(!mine.path.exists());
        assert!(theirs.path.is_dir());
    }
}

#[test]
fn frozen_cgroup_is_refused() {
    if !can_run() {
        return;
    }
    let n = name();
    let g = Guard::new(&format!("/{n}"));
    g.mgr.create_dirs().unwrap();
    g.mgr.freeze().unwrap();
    let other = Manager::new(Some(Path::new(&format!("/{n}"))), "x").unwrap();
    let err = other.create_dirs().unwrap_err().to_string();
    assert!(err.contains("frozen"), "{err}");
    g.mgr.thaw().unwrap();
}

#[test]
fn validate_names_the_field() {
    let mut r = LinuxResources::default();
    r.set_unified(Some([("../x".to_string(), "1".to_string())].into()));
    let e = validate(Some(&r)).unwrap_err().to_string();
    assert!(e.contains("linux.resources.unified"), "{e}");
    assert!(validate(Some(&deny_all())).is_ok());
    assert!(validate(None).is_ok());
}

#[test]
fn cgroups_made_below_the_container_are_removed() {
    if !can_run() {
        return;
    }
    let g = Guard::new(&format!("/{}", name()));
    g.mgr.create_dirs().unwrap();
    for cg in g.mgr.all() {
        std::fs::create_dir_all(cg.path.join("sub/deeper")).unwrap();
        std::fs::create_dir(cg.path.join("other")).unwrap();
    }
    g.mgr.destroy().unwrap();
    for cg in g.mgr.all() {
        assert!(!cg.path.exists(), "{}", cg.path.display());
    }
}

/// A new v1 devices cgroup starts with a copy of its parent's rules; after `set` it has exactly
/// the container's, whatever it copied.
#[test]
fn new_v1_devices_cgroup_gets_exactly_its_rules() {
    if !can_run() {
        return;
    }
    let n = name();
    let parent = Guard::new(&format!("/{n}"));
    parent.mgr.create_dirs().unwrap();
    let Some(parent_dir) = parent.mgr.v1_dir("devices") else {
        return; // pure v2: see bpf_tests
    };
    let r = deny_all_but_kmsg_read();
    parent.mgr.set(&r).unwrap();
    let child = Guard::new(&format!("/{n}/c"));
    child.mgr.create_dirs().unwrap();
    let child_dir = child.mgr.v1_dir("devices").unwrap();
    assert!(files::read(child_dir, "devices.list")
        .unwrap()
        .contains("c 1:11 r"));
    child.mgr.set(&deny_all()).unwrap();
    let list = files::read(child_dir, "devices.list").unwrap();
    let parent_list = files::read(parent_dir, "devices.list").unwrap();
    let without_kmsg: Vec<&str> = parent_list
        .lines()
        .filter(|l| !l.contains("1:11"))
        .collect();
    assert_eq!(list.lines().collect::<Vec<_>>(), without_kmsg);
    drop(child);
}
