//! Cgroups: the container's cgroup (`linux.cgroupsPath`) and its resources, on v1, v2 and
//! hybrid hosts.
//!
//! The host is probed once, in [`Manager::new`]: `/sys/fs/cgroup` is a cgroup2 filesystem (pure
//! v2), or a tmpfs holding one mount per v1 hierarchy (found in `/proc/self/mountinfo`) and,
//! on a hybrid host, a cgroup2 filesystem at `/sys/fs/cgroup/unified`. The manager then holds
//! one directory per hierarchy and is saved in the container's state; later commands use those
//! directories as they are. On a hybrid host the container joins its cgroup in the unified tree
//! too, as runc does.
mod blkio;
mod bpf;
mod cpu;
mod devices;
mod files;
mod hugetlb;
mod memory;
mod net;
mod path;
mod pids;
mod rdma;
mod resources;
mod stats;
pub(crate) use files::Parents;
pub use stats::Stats;
mod unified;
mod v1;
mod v2;

use std::cell::Cell;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, TMPFS_MAGIC};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use crate::error::SysContext;
use crate::{Error, Result};
use path::Inner;
pub(crate) use resources::validate;
use resources::{field_err, Dir};

const ROOT: &str = "/sys/fs/cgroup";
const UNIFIED: &str = "/sys/fs/cgroup/unified";
/// How long freezing may take before it is given up.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `destroy` waits for the last processes of a cgroup to go away.
const RMDIR_TIMEOUT: Duration = Duration::from_secs(2);

/// The container's cgroup in one hierarchy.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Cgroup {
    /// v1: the hierarchy's controllers as `/proc/self/cgroup` names them (`cpu,cpuacct`,
    /// `name=systemd`); empty for the cgroup2 tree.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    ctrl: String,
    path: PathBuf,
    /// How many directories, from `path` upwards, `create` made: `destroy` removes those only.
    #[serde(default)]
    created: Cell<u8>,
}

impl Cgroup {
    fn has(&self, controller: &str) -> bool {
        self.ctrl.split(',').any(|c| c == controller)
    }
}

/// The freezer a manager uses.
enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

/// How a new process enters the container's cgroups without the kernel's global migration
/// lock, whose writer side waits for an RCU grace period (about 10 ms on an idle system, a
/// third of a whole `run`): the cgroup2 directory, for `clone3(CLONE_INTO_CGROUP)` (which
/// only takes the lock's reader side), and each v1 hierarchy's `tasks` file, to which the new,
/// single-threaded process writes "0" to move itself — the one migration the kernel does
/// without that lock (Linux ≥ 6.0). The runtime opens them: the kernel checks a migration
/// against the opener's credentials (Linux ≥ 5.16), so this works in a user namespace too.
pub(crate) struct Entry {
    /// The cgroup2 cgroup (pure v2, or the unified tree of a hybrid host).
    pub clone_into: Option<OwnedFd>,
    tasks: Vec<OwnedFd>,
}

impl Entry {
    /// In the new process: moves itself into every v1 hierarchy's cgroup.
    pub fn join_v1(&self) -> Result<()> {
        join_v1(&self.tasks)
    }
}

/// In a new, single-threaded process: moves itself into the v1 cgroups whose `tasks` files the
/// runtime opened ([`Manager::v1_tasks`]).
pub(crate) fn join_v1(tasks: &[OwnedFd]) -> Result<()> {
    for fd in tasks {
        nix::unistd::write(fd, b"0").sys("write", "cgroup v1 tasks (0: this process)")?;
    }
    Ok(())
}

/// The two parts of making a container's cgroups, around the clone of its init. Init is cloned
/// into its cgroup2 cgroup, which must exist first; the v1 hierarchies it joins itself, so the
/// runtime makes them (about 0.5 ms of mkdir and writes for nine hierarchies) while init sets up
/// its namespaces and mounts, and hands init their `tasks` files when done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The cgroup2 cgroup; on a pure v2 host, the resources too.
    BeforeClone,
    /// The v1 hierarchies, then the resources.
    AfterClone,
}

/// The cgroup(s) of one container. Serialisable: it is saved in the state record so that later
/// commands (`kill --all`, `delete`, `pause`) find the same cgroups without probing again.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Manager {
    /// One per v1 hierarchy (empty on a pure v2 host).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    v1: Vec<Cgroup>,
    /// The cgroup2 one: all of it on a pure v2 host, the unified tree's on a hybrid host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v2: Option<Box<Cgroup>>,
}

/// Whether `dir` is a directory with a cgroup2 filesystem. `statfs` first: where it answers
/// "not cgroup2" (the usual hybrid-host answer when nothing is mounted there) no `stat` is
/// needed; a failing `statfs` is an error only for a directory.
fn is_cgroup2_dir(dir: &str) -> Result<bool> {
    match statfs(dir) {
        Ok(s) => Ok(s.filesystem_type() == CGROUP2_SUPER_MAGIC && Path::new(dir).is_dir()),
        Err(_) if !Path::new(dir).is_dir() => Ok(false),
        Err(e) => Err(Error::sys("statfs", dir, e)),
    }
}

fn read_proc(file: &str) -> Result<String> {
    files::read_whole(Path::new(file)).map_err(|e| Error::io("read", file, e))
}

impl Manager {
    /// Works out where the container's cgroup lives from `cgroupsPath` (empty: derived from the
    /// id), without touching the filesystem beyond probing the host's cgroup layout.
    pub fn new(cgroups_path: Option<&Path>, id: &str) -> Result<Self> {
        let inner = Inner::new(cgroups_path, id);
        let own = path::memberships(&read_proc("/proc/self/cgroup")?);
        let own_v2 = own.iter().find(|m| m.controllers.is_empty());
        let no_own = |p: &Path| Error::Cgroup {
            path: p.to_path_buf(),
            reason: "cannot resolve a relative cgroupsPath: own cgroup not visible".into(),
        };
        let fstype = statfs(ROOT).sys("statfs", ROOT)?.filesystem_type();
        if fstype == CGROUP2_SUPER_MAGIC {
            // Pure v2: relative paths go below the parent of our own cgroup (ours has
            // processes, so it cannot delegate controllers to a child).
            let base = own_v2.map(|m| m.path.parent().unwrap_or(&m.path).to_path_buf());
            let dir = inner
                .resolve(Path::new(ROOT), base.as_deref())
                .ok_or_else(|| no_own(Path::new(ROOT)))?;
            return Ok(Manager {
                v1: Vec::new(),
                v2: Some(Box::new(Cgroup {
                    ctrl: String::new(),
                    path: dir,
                    created: Cell::new(0),
                })),
            });
        }
        if fstype != TMPFS_MAGIC {
            return Err(Error::Cgroup {
                path: ROOT.into(),
                reason: format!("neither cgroup2 nor tmpfs (magic {fstype:?})"),
            });
        }
        let mounts = path::cgroup_mounts(&read_proc("/proc/self/mountinfo")?);
        let mut v1: Vec<Cgroup> = Vec::new();
        for m in own.iter().filter(|m| !m.controllers.is_empty()) {
            let ctrl = m.controllers.join(",");
            let Some(mount) = mounts.iter().find(|mnt| {
                mnt.fstype == "cgroup" && m.controllers.iter().all(|c| mnt.controllers.contains(c))
            }) else {
                continue; // a hierarchy that is not mounted here
            };
            let base = path::own_under(mount, &m.path);
            let dir = inner
                .resolve(&mount.mountpoint, base.as_deref())
                .ok_or_else(|| no_own(&mount.mountpoint))?;
            v1.push(Cgroup {
                ctrl,
                path: dir,
                created: Cell::new(0),
            });
        }
        if !v1.iter().any(|c| c.has("devices")) {
            // Without it nothing restricts device access: refuse, as runc does.
            return Err(Error::Cgroup {
                path: ROOT.into(),
                reason: "the v1 devices controller is not mounted".into(),
            });
        }
        let mut v2 = None;
        if is_cgroup2_dir(UNIFIED)? {
            let mount = mounts
                .iter()
                .find(|m| m.fstype == "cgroup2" && m.mountpoint == Path::new(UNIFIED));
            let base = match (mount, own_v2) {
                (Some(mount), Some(own)) => path::own_under(mount, &own.path),
                (None, Some(own)) => Some(own.path.clone()),
                _ => None,
            };
            let dir = inner
                .resolve(Path::new(UNIFIED), base.as_deref())
                .ok_or_else(|| no_own(Path::new(UNIFIED)))?;
            v2 = Some(Box::new(Cgroup {
                ctrl: String::new(),
                path: dir,
                created: Cell::new(0),
            }));
        }
        Ok(Manager { v1, v2 })
    }

    fn all(&self) -> impl Iterator<Item = &Cgroup> {
        self.v1.iter().chain(self.v2.as_deref())
    }

    fn pure_v2(&self) -> bool {
        self.v1.is_empty()
    }

    fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.v1_cgroup(controller).map(|c| c.path.as_path())
    }

    fn v1_cgroup(&self, controller: &str) -> Option<&Cgroup> {
        self.v1.iter().find(|c| c.has(controller))
    }

    fn freezer(&self) -> Option<Freezer<'_>> {
        if let Some(dir) = self.v1_dir("freezer") {
            return Some(Freezer::V1(dir));
        }
        self.v2.as_ref().map(|c| Freezer::V2(&c.path))
    }

    /// The directory whose process list is the container's.
    fn main_dir(&self) -> &Path {
        self.v1_dir("freezer")
            .or(self.v2.as_ref().map(|c| c.path.as_path()))
            .or(self.v1.first().map(|c| c.path.as_path()))
            .expect("a manager has at least one cgroup")
    }

    /// Makes the cgroups of one [`Stage`], then, once all exist, writes `resources`. An existing
    /// cgroup that has processes or is frozen is an error. If [`Stage::BeforeClone`] fails, what
    /// it made is removed; after the clone the caller removes everything, once init is gone.
    pub fn create(&self, stage: Stage, resources: &LinuxResources) -> Result<()> {
        let result = self.make(stage).and_then(|last| match last {
            true => self.check_not_frozen().and_then(|()| self.set(resources)),
            false => Ok(()),
        });
        if result.is_err() && stage == Stage::BeforeClone {
            let _ = self.destroy();
        }
        result
    }

    /// Both stages' cgroups, without resources; on error, what was made is removed.
    #[cfg(test)]
    pub fn create_dirs(&self) -> Result<()> {
        let result = self
            .make(Stage::BeforeClone)
            .and_then(|_| self.make(Stage::AfterClone))
            .and_then(|_| self.check_not_frozen());
        if result.is_err() {
            let _ = self.destroy();
        }
        result
    }

    /// Makes the cgroups of `stage`; returns whether they were the last to make.
    fn make(&self, stage: Stage) -> Result<bool> {
        let (cgroups, last): (Vec<&Cgroup>, bool) = match stage {
            Stage::BeforeClone => (self.v2.iter().map(|c| &**c).collect(), self.v1.is_empty()),
            Stage::AfterClone if self.v1.is_empty() => return Ok(false),
            Stage::AfterClone => (self.v1.iter().collect(), true),
        };
        for cg in cgroups {
            let created = files::mkdir_all(&cg.path)?;
            cg.created.set(created);
            if cg.has("cpuset") {
                v1::init_cpuset(&cg.path, created)?;
            }
            if cg.ctrl.is_empty() {
                v2::check_type(&cg.path)?;
                if self.pure_v2() {
                    v2::enable_all_controllers(&cg.path)?;
                }
            }
            // Only a cgroup that was there already can have processes, not one made just now.
            if created == 0 && !files::procs(&cg.path)?.is_empty() {
                return Err(Error::Cgroup {
                    path: cg.path.clone(),
                    reason: "cgroup already has processes".into(),
                });
            }
        }
        Ok(last)
    }

    fn check_not_frozen(&self) -> Result<()> {
        if self.is_frozen()? {
            return Err(Error::Cgroup {
                path: self.main_dir().to_path_buf(),
                reason: "cgroup is frozen".into(),
            });
        }
        Ok(())
    }

    /// Moves `pid` into the cgroup(s).
    #[cfg(test)]
    pub fn apply(&self, pid: i32) -> Result<()> {
        self.all()
            .try_for_each(|cg| files::write(&cg.path, "cgroup.procs", pid))
    }

    /// Moves `pid` into the cgroup2 cgroup only (for a process that could not be cloned into
    /// it; its v1 cgroups it joins itself through [`Entry::join_v1`]).
    pub fn apply_v2(&self, pid: i32) -> Result<()> {
        match &self.v2 {
            Some(cg) => files::write(&cg.path, "cgroup.procs", pid),
            None => Ok(()),
        }
    }

    /// What a new process of the container needs to enter its cgroups cheaply (see [`Entry`]).
    pub fn entry(&self) -> Result<Entry> {
        Ok(Entry {
            clone_into: self.clone_into()?,
            tasks: self.v1_tasks()?,
        })
    }

    /// The cgroup2 cgroup, opened for `clone3(CLONE_INTO_CGROUP)`.
    pub fn clone_into(&self) -> Result<Option<OwnedFd>> {
        let Some(cg) = &self.v2 else {
            return Ok(None);
        };
        let dir = std::fs::File::open(&cg.path).map_err(|e| Error::io("open", &cg.path, e))?;
        Ok(Some(dir.into()))
    }

    /// Each v1 hierarchy's `tasks` file, opened for writing (see [`join_v1`]).
    pub fn v1_tasks(&self) -> Result<Vec<OwnedFd>> {
        self.v1
            .iter()
            .map(|cg| {
                let path = cg.path.join("tasks");
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map(OwnedFd::from)
                    .map_err(|e| Error::io("open", path, e))
            })
            .collect()
    }

    /// The pids in the container's cgroup and every cgroup below it.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let mut pids = Vec::new();
        for dir in files::walk(self.main_dir())? {
            match files::procs(&dir) {
                Ok(p) => pids.extend(p),
                Err(_) if !dir.exists() => {} // removed while we walked
                Err(e) => return Err(e),
            }
        }
        Ok(pids)
    }

    /// Sends `sig` to every process in the cgroup: `cgroup.kill` for SIGKILL where the kernel
    /// has it, otherwise with the cgroup frozen, so that no process can fork a new one between
    /// listing and signalling. A paused container stays paused, except for SIGKILL.
    pub fn kill(&self, sig: i32) -> Result<()> {
        let signal = Signal::try_from(sig).map_err(|e| Error::sys("kill", sig, e))?;
        let was_frozen = self.is_frozen()?;
        if signal == Signal::SIGKILL {
            if let Some(cg) = self.v2.as_ref().filter(|cg| cg.path.exists()) {
                if v2::kill_all(&cg.path)? {
                    // Tasks frozen by a v1 freezer die only once thawed.
                    return if was_frozen { self.thaw() } else { Ok(()) };
                }
            }
        }
        if self.freezer().is_none() {
            // Nothing stops new forks: for SIGKILL, repeat until the cgroup is empty.
            self.signal_all(signal)?;
            if signal == Signal::SIGKILL {
                files::poll(RMDIR_TIMEOUT, || {
                    self.signal_all(signal)?;
                    Ok(self.pids()?.is_empty().then_some(()))
                })?;
            }
            return Ok(());
        }
        // If freezing fails (a task stuck in the kernel), signal anyway.
        let frozen = self.freeze();
        if let Err(e) = &frozen {
            tracing::warn!("signalling without freezing: {e}");
        }
        let result = self.signal_all(signal);
        if frozen.is_ok() && (!was_frozen || signal == Signal::SIGKILL) {
            self.thaw()?;
        }
        result
    }

    fn signal_all(&self, signal: Signal) -> Result<()> {
        for pid in self.pids()? {
            match kill(Pid::from_raw(pid), signal) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => return Err(Error::sys("kill", format!("{pid} {signal}"), e)),
            }
        }
        Ok(())
    }

    /// Freezes every process of the container (`pause`).
    pub fn freeze(&self) -> Result<()> {
        match self.freezer() {
            Some(Freezer::V1(dir)) => v1::freeze(dir, FREEZE_TIMEOUT),
            Some(Freezer::V2(dir)) => v2::freeze(dir, FREEZE_TIMEOUT),
            None => Err(Error::Cgroup {
                path: self.main_dir().to_path_buf(),
                reason: "no freezer controller".into(),
            }),
        }
    }

    /// Thaws the container (`resume`).
    pub fn thaw(&self) -> Result<()> {
        match self.freezer() {
            Some(Freezer::V1(dir)) => v1::thaw(dir),
            Some(Freezer::V2(dir)) => v2::thaw(dir),
            None => Err(Error::Cgroup {
                path: self.main_dir().to_path_buf(),
                reason: "no freezer controller".into(),
            }),
        }
    }

    /// Whether the cgroup is frozen (the container is paused). A cgroup that does not exist
    /// (any more) is not frozen.
    pub fn is_frozen(&self) -> Result<bool> {
        self.frozen(None)
    }

    /// [`Manager::is_frozen`] for one of many containers, whose cgroups' parents `parents`
    /// keeps open.
    pub(crate) fn is_frozen_among(&self, parents: &mut Parents) -> Result<bool> {
        self.frozen(Some(parents))
    }

    /// The read stops at the line that answers (one `read`).
    fn frozen(&self, parents: Option<&mut Parents>) -> Result<bool> {
        Ok(match self.freezer() {
            Some(Freezer::V1(dir)) => {
                files::read_in_existing(dir, "freezer.state", parents, |t| t.ends_with(b"\n"))?
                    .is_some_and(|s| s == "FROZEN")
            }
            Some(Freezer::V2(dir)) => {
                files::read_in_existing(dir, "cgroup.events", parents, |t| {
                    crate::files::has_line(t, b"frozen ")
                })?
                .is_some_and(|e| v2::frozen(&e))
            }
            None => false,
        })
    }

    /// Removes the cgroup(s) this manager created, and only those: the container's cgroup with
    /// any cgroups its processes made below it, then the parents `create` made, as far as no
    /// one else uses them. Waits briefly for exiting processes to leave.
    pub fn destroy(&self) -> Result<()> {
        let mut result = Ok(());
        for cg in self.all() {
            let levels = cg.created.get();
            if levels == 0 {
                continue;
            }
            if let Err(e) = remove_tree(&cg.path) {
                result = result.and(Err(e));
                continue;
            }
            cg.created.set(0);
            let mut dir = cg.path.parent();
            for _ in 1..levels {
                let Some(d) = dir else { break };
                if std::fs::remove_dir(d).is_err() {
                    break; // another container's cgroup is still below it
                }
                dir = d.parent();
            }
        }
        result
    }
}

/// Removes `dir` and the cgroups below it, deepest first, retrying while the kernel still
/// counts exiting processes in them (EBUSY). `dir` is removed straight away when it can be (no
/// cgroups below it, no processes left: the usual case); the tree is listed only when that
/// fails (EBUSY for a cgroup with children or processes), and then removed as before.
fn remove_tree(dir: &Path) -> Result<()> {
    match std::fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    let mut dirs = match files::walk(dir) {
        Ok(d) => d,
        Err(_) if !dir.exists() => return Ok(()),
        Err(e) => return Err(e),
    };
    dirs.reverse();
    for d in dirs {
        let mut last = None;
        let removed = files::poll(RMDIR_TIMEOUT, || match std::fs::remove_dir(&d) {
            Ok(()) => Ok(Some(())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Some(())),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                last = Some(e);
                Ok(None)
            }
            Err(e) => Err(Error::Cgroup {
                path: d.clone(),
                reason: format!("rmdir: {e}"),
            }),
        })?;
        if removed.is_none() {
            return Err(Error::Cgroup {
                path: d,
                reason: format!(
                    "rmdir: {} (processes still in it after {RMDIR_TIMEOUT:?})",
                    last.map_or_else(String::new, |e| e.to_string())
                ),
            });
        }
    }
    Ok(())
}

/// The `linux.cgroup` section of `berth features`.
pub(crate) fn features() -> serde_json::Value {
    serde_json::json!({"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true})
}

#[cfg(test)]
mod resource_tests;
#[cfg(test)]
mod tests;
