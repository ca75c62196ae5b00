//! A test container's cgroups from both sides: the files the runtime wrote under
//! `/sys/fs/cgroup` on the host (v1 or hybrid: one hierarchy per controller; pure v2: one
//! tree), and what the container itself sees through a cgroup namespace with the `cgroup`
//! mount type at `/sys/fs/cgroup`, where its own cgroup is the root.
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
use serde_json::{json, Value};

use crate::bundle::Bundle;
use crate::env::TestEnv;
use crate::host;
use crate::spec::cgroup_path;

const ROOT: &str = "/sys/fs/cgroup";
const UNIFIED: &str = "/sys/fs/cgroup/unified";

/// Whether this is a pure cgroup v2 host (`/sys/fs/cgroup` is a cgroup2 filesystem).
pub fn is_v2() -> bool {
    statfs(ROOT).is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
}

/// "v2" or "v1" (v1 or hybrid), for messages.
pub fn layout() -> &'static str {
    if is_v2() {
        "v2"
    } else {
        "v1"
    }
}

fn controllers_of(dir: &str) -> Vec<String> {
    fs::read_to_string(Path::new(dir).join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The mount point of the hierarchy that holds `controller` (`memory`, `cpu`, `hugetlb`,
/// `freezer`...): on v2 the root if the controller is available there; on v1 the `cgroup`
/// mount with that controller, else (hybrid) the unified tree if it has it.
pub fn hierarchy(controller: &str) -> Option<PathBuf> {
    if is_v2() {
        return controllers_of(ROOT)
            .iter()
            .any(|c| c == controller)
            .then(|| PathBuf::from(ROOT));
    }
    let v1 = host::mountinfo().into_iter().find(|m| {
        m.fstype == "cgroup"
            && m.line
                .split(" - ")
                .nth(1)
                .and_then(|r| r.split(' ').nth(2))
                .is_some_and(|opts| opts.split(',').any(|o| o == controller))
    });
    match v1 {
        Some(m) => Some(PathBuf::from(m.target)),
        None => controllers_of(UNIFIED)
            .iter()
            .any(|c| c == controller)
            .then(|| PathBuf::from(UNIFIED)),
    }
}

/// The directory of test container `tag`'s cgroup in the hierarchy of `controller`.
#[track_caller]
pub fn dir(tag: &str, controller: &str) -> PathBuf {
    let h = hierarchy(controller)
        .unwrap_or_else(|| panic!("no cgroup hierarchy with the {controller} controller"));
    h.join(cgroup_path(tag).trim_start_matches('/'))
}

/// A file of `tag`'s cgroup as the host sees it, trimmed; `None` if it cannot be read.
pub fn read(tag: &str, controller: &str, file: &str) -> Option<String> {
    let h = hierarchy(controller)?;
    let path = h.join(cgroup_path(tag).trim_start_matches('/')).join(file);
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// Like [`read`], and the file must be there.
#[track_caller]
pub fn must_read(tag: &str, controller: &str, file: &str) -> String {
    read(tag, controller, file)
        .unwrap_or_else(|| panic!("cannot read {}", dir(tag, controller).join(file).display()))
}

/// Where the container sees `file` of `controller` when its cgroups are mounted at
/// `/sys/fs/cgroup` in a cgroup namespace: the file at the root on v2, in the directory named
/// as on the host on v1 (`/sys/fs/cgroup/memory/memory.limit_in_bytes`). `None` for a
/// controller that only a hybrid host's unified tree has (runtimes do not mount that one).
pub fn inside_path(controller: &str, file: &str) -> Option<String> {
    let h = hierarchy(controller)?;
    if is_v2() {
        return Some(format!("{ROOT}/{file}"));
    }
    if h == Path::new(UNIFIED) {
        return None;
    }
    let name = h.file_name()?.to_string_lossy().into_owned();
    Some(format!("{ROOT}/{name}/{file}"))
}

/// Gives the container a cgroup namespace and `runc spec`'s read-only `cgroup` mount at
/// `/sys/fs/cgroup`.
pub fn mount_cgroups(b: &mut Bundle) {
    b.namespace("cgroup", None);
    b.add_mount(json!({
        "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
        "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
    }));
}

/// The pids in `tag`'s cgroup (and below), from the hierarchy of `controller` (`pids` is in
/// every layout).
pub fn procs(tag: &str, controller: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    let mut stack = vec![dir(tag, controller)];
    while let Some(d) = stack.pop() {
        let text = fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
        pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    pids.sort();
    pids
}

/// What a container saw of its own cgroups: `/proc/self/cgroup` and some cgroup files.
pub struct Inside {
    /// `/proc/self/cgroup` as the container read it.
    pub proc_cgroup: String,
    files: HashMap<String, Result<String, String>>,
}

const DONE: &str = "cgroup-files-read";

/// Makes `b` a container that reads `/proc/self/cgroup` and the cgroup files
/// `(controller, file)` of `files` through its own `/sys/fs/cgroup` mount, prints them, and
/// then sleeps; starts it (`run --detach`) and returns what it saw once it has printed all.
/// The container keeps running so that the host side can be compared.
#[track_caller]
pub fn start_reading(t: &TestEnv, b: &mut Bundle, files: &[(&str, &str)]) -> Inside {
    mount_cgroups(b);
    let mut script = String::from("/bin/payload read /proc/self/cgroup; ");
    let mut paths = Vec::new();
    for (controller, file) in files {
        if let Some(p) = inside_path(controller, file) {
            script.push_str(&format!("/bin/payload read '{p}'; "));
            paths.push(p);
        }
    }
    script.push_str(&format!("echo {DONE}; exec /bin/payload sleep 1000"));
    b.sh(&script);
    t.run_detached(b).ok();
    crate::wait_until("the container to read its cgroup files", || {
        b.stdout().contains(DONE)
    });
    let answers: Vec<Value> = b
        .stdout()
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(
        answers.len(),
        paths.len() + 1,
        "one answer per file expected:\n{}",
        b.stdout()
    );
    let answer = |v: &Value| match (v["data"].as_str(), v["errno"].as_str()) {
        (Some(d), _) => Ok(d.trim().to_string()),
        (_, Some(e)) => Err(e.to_string()),
        _ => panic!("unexpected answer {v}"),
    };
    Inside {
        proc_cgroup: answer(&answers[0]).unwrap_or_else(|e| panic!("/proc/self/cgroup: {e}")),
        files: paths
            .into_iter()
            .zip(answers[1..].iter().map(answer))
            .collect(),
    }
}

impl Inside {
    /// The content of a file the container read; `Err(errno)` if it could not. Panics if
    /// the file was not asked for, or the host has no place for it inside (hybrid only).
    #[track_caller]
    pub fn file(&self, controller: &str, file: &str) -> Result<String, String> {
        let p = inside_path(controller, file)
            .unwrap_or_else(|| panic!("{controller}/{file} is not visible inside"));
        self.files
            .get(&p)
            .unwrap_or_else(|| panic!("{p} was not read"))
            .clone()
    }

    /// Every line of `/proc/self/cgroup` shows the container's cgroup as `/`: the namespace
    /// is rooted at the container's cgroup.
    #[track_caller]
    pub fn assert_rooted(&self) {
        assert!(!self.proc_cgroup.is_empty(), "empty /proc/self/cgroup");
        for line in self.proc_cgroup.lines() {
            let path = line.splitn(3, ':').nth(2).unwrap_or_default();
            assert_eq!(
                path, "/",
                "the container should see its own cgroup as /:\n{}",
                self.proc_cgroup
            );
        }
    }
}

/// The value of `key` in a flat-keyed cgroup file (`memory.stat`, `cpu.stat`, `memory.events`).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// The cpu.weight that cpu.shares maps to on v2 (runc's and crun's linear conversion).
pub fn shares_to_weight(shares: u64) -> u64 {
    1 + ((shares - 2) * 9999) / 262_142
}

/// The io.weight that a blkio weight maps to on v2 (the same conversion for [10, 1000]).
pub fn blkio_to_io_weight(weight: u64) -> u64 {
    1 + ((weight - 10) * 9999) / 990
}

/// The block device (major, minor) for I/O limits: the VM's `nullb0`, else the device of the
/// first whole disk in /sys/block that is not a loop, ram or zram device.
pub fn block_device() -> Option<(u64, u64)> {
    let mut names: Vec<String> = fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("loop") && !n.starts_with("ram") && !n.starts_with("zram"))
        .collect();
    names.sort_by_key(|n| (n != "nullb0", n.clone()));
    let dev = fs::read_to_string(format!("/sys/block/{}/dev", names.first()?)).ok()?;
    let (maj, min) = dev.trim().split_once(':')?;
    Some((maj.parse().ok()?, min.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_match_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
    }

    #[test]
    fn reads_keyed_files() {
        let text = "anon 4096\nfile 0\noom_kill 2\n";
        assert_eq!(keyed(text, "oom_kill"), Some(2));
        assert_eq!(keyed(text, "anon"), Some(4096));
        assert_eq!(keyed(text, "missing"), None);
    }
}
