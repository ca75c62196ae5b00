//! The container process's own settings, applied by init after the rootfs is in place: rlimits,
//! oomScoreAdj, scheduler, ioPriority, user (uid, gid, additionalGids, umask), capabilities,
//! noNewPrivileges, personality, cwd, and finally `execve` of `args` with `env`.
mod caps;
mod exec;
mod inherited;
mod rlimits;
mod sched;
mod user;

use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxPersonality, Process};

use crate::procfs::ProcFs;
use crate::{Error, Result};

pub(crate) use caps::check_names as check_capability_names;
pub(crate) use exec::{validate_personality, Exec};

/// Checks `process` before anything is created (duplicate rlimits, unknown values, ...).
pub(crate) fn validate(process: &Process) -> Result<()> {
    rlimits::validate(process.rlimits().as_deref().unwrap_or_default())?;
    if let Some(s) = process.scheduler() {
        sched::validate_scheduler(s)?;
    }
    if let Some(p) = process.io_priority() {
        sched::validate_io_priority(p)?;
    }
    user::validate(process.user())?;
    caps::validate(process.capabilities().as_ref())?;
    crate::lsm::validate_process(process)?;
    for warning in caps::skipped(process.capabilities().as_ref()) {
        tracing::warn!("{warning}");
    }
    exec::validate_env(process.env().as_deref().unwrap_or_default())?;
    exec::validate_args(process.args().as_deref().unwrap_or_default())?;
    let cwd = process.cwd();
    if !cwd.is_absolute() {
        return Err(Error::invalid(
            "process.cwd",
            format!("{} is not an absolute path", cwd.display()),
        ));
    }
    if let Some(adj) = process.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return Err(Error::invalid(
                "process.oomScoreAdj",
                format!("{adj} is outside -1000..1000"),
            ));
        }
    }
    if let Some(size) = process.console_size() {
        if size.height() > u64::from(u16::MAX) || size.width() > u64::from(u16::MAX) {
            return Err(Error::invalid(
                "process.consoleSize",
                format!("{}x{} is too large", size.width(), size.height()),
            ));
        }
    }
    Ok(())
}

/// Applied in init through the host's procfs handle (so the container's mounts cannot
/// redirect the writes): `oomScoreAdj` (untouched when absent).
pub(crate) fn apply_procfs(process: &Process, proc: &ProcFs) -> Result<()> {
    let Some(adj) = process.oom_score_adj() else {
        return Ok(());
    };
    proc.write("self/oom_score_adj", &adj.to_string())
}

/// In init, after `pivot_root` and before the rootfs is made read-only: creates a missing
/// `cwd` (mode 0755, as runc does). Paths resolve inside the container's root, as [`enter`]
/// resolves them: no component is created through a magic link outside it.
pub(crate) fn create_cwd(process: &Process) -> Result<()> {
    let cwd = process.cwd();
    if is_root(cwd) {
        return Ok(());
    }
    let err = |e| Error::sys("mkdir", format!("process.cwd {}", cwd.display()), e);
    let root = open_root().map_err(err)?;
    match open_in_root(&root, cwd) {
        Ok(_) => return Ok(()),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(err(e)),
    }
    let mut path = PathBuf::from("/");
    for part in lexical(cwd) {
        let parent = open_in_root(&root, &path).map_err(err)?;
        match nix::sys::stat::mkdirat(&parent, part.as_str(), Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(err(e)),
        }
        path.push(part);
    }
    Ok(())
}

/// Whether `path` names the root whatever the file system holds: it has no component that
/// could be a directory or a symlink (`/`, `/.`, `/..`).
fn is_root(path: &Path) -> bool {
    !path.components().any(|c| matches!(c, Component::Normal(_)))
}

/// The normal components of `path` with `.` and `..` applied lexically (as runc cleans it).
fn lexical(path: &Path) -> Vec<String> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    parts
}

fn open_root() -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Opens the directory `path` inside `root`: `..` and symlinks cannot leave it, and magic
/// links (`/proc/self/fd/N`, `/proc/self/cwd`) are refused — through them, one of the
/// runtime's own fds (the state directory, the bundle) would lead to a host directory that
/// stays the process's cwd after `execve` (the runc CVE-2024-21626 class).
fn open_in_root(root: &OwnedFd, path: &Path) -> nix::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    openat2(root, path, how)
}

/// Enters `cwd`, resolved inside the process's root (see [`open_in_root`]).
fn enter(cwd: &Path) -> nix::Result<()> {
    if is_root(cwd) {
        return nix::unistd::chdir("/");
    }
    let root = open_root()?;
    let dir = open_in_root(&root, cwd)?;
    nix::unistd::fchdir(&dir)
}

/// What the runtime learns for a process before it clones it, so that the clone reads nothing
/// of it again: the capability sets it can grant, and what it inherits and must reset.
pub(crate) struct Prepared {
    caps: caps::Plan,
    inherited: inherited::Inherited,
}

impl Prepared {
    /// For `process`, to be cloned from the calling thread; `userns`: the process will be in a
    /// user namespace other than the runtime's.
    pub(crate) fn new(process: &Process, userns: bool) -> Result<Prepared> {
        Ok(Prepared {
            caps: caps::plan(process.capabilities().as_ref(), userns),
            inherited: inherited::Inherited::of_runtime()?,
        })
    }
}

/// Everything up to, not including, `execve`: rlimits, scheduler, ioPriority, switch to the
/// user (groups, gid, uid, umask) keeping the configured capabilities, cwd. Returns the prepared
/// exec (the resolved executable and its argv/env), so a missing executable is a create error.
/// `personality` is the spec's `linux.personality`, set by [`Exec::exec`].
pub(crate) fn apply(
    process: &Process,
    prepared: &Prepared,
    personality: Option<&LinuxPersonality>,
) -> Result<Exec> {
    rlimits::apply(process.rlimits().as_deref().unwrap_or_default())?;
    if let Some(s) = process.scheduler() {
        sched::apply_scheduler(s)?;
    }
    if let Some(p) = process.io_priority() {
        sched::apply_io_priority(p)?;
    }
    let cwd = process.cwd();
    // As runc does: enter the cwd as root first (the user may not be able to reach it); only
    // if root is refused, try again as the user.
    let chdir_as_user = chdir_as_root(cwd)?;
    let user = process.user();
    let env = exec::environment(process.env().as_deref().unwrap_or_default(), || {
        user::home_dir(user.uid())
    });
    caps::drop_bounding(&prepared.caps)?;
    user::switch(user)?;
    if chdir_as_user {
        chdir(cwd)?;
    }
    caps::apply(&prepared.caps, prepared.inherited.ambient)?;
    let args = process.args().as_deref().unwrap_or_default();
    let program = args.first().map(String::as_str).unwrap_or_default();
    let path = exec::resolve(program, &env)?;
    Exec::new(
        path,
        args,
        &env,
        process.no_new_privileges().unwrap_or(false),
        personality,
        prepared.inherited,
    )
}

fn chdir(cwd: &Path) -> Result<()> {
    enter(cwd).map_err(|e| Error::sys("chdir", format!("process.cwd {}", cwd.display()), e))
}

/// Enters `cwd`; returns whether it must be entered again after the user switch because
/// root was refused (EACCES/EPERM, e.g. on a root-squashed network file system).
fn chdir_as_root(cwd: &Path) -> Result<bool> {
    match enter(cwd) {
        Ok(()) => Ok(false),
        Err(Errno::EACCES | Errno::EPERM) => Ok(true),
        Err(e) => Err(Error::sys(
            "chdir",
            format!("process.cwd {}", cwd.display()),
            e,
        )),
    }
}

/// The capability names berth knows, as `features` lists them.
pub(crate) fn known_capabilities() -> Vec<String> {
    caps::known()
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests {
    use super::testutil::{in_child, status_field};
    use super::*;
    use serde_json::json;

    fn process(extra: serde_json::Value) -> Process {
        let mut p = json!({"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        serde_json::from_value(p).unwrap()
    }

    fn invalid(extra: serde_json::Value) -> String {
        validate(&process(extra)).unwrap_err().to_string()
    }

    #[test]
    fn runc_default_process_is_valid() {
        let p = process(json!({
            "terminal": true,
            "env": ["PATH=/usr/bin:/bin", "TERM=xterm"],
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                             "permitted": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true,
            "oomScoreAdj": -1000,
            "consoleSize": {"height": 24, "width": 80},
            "scheduler": {"policy": "SCHED_OTHER", "nice": 5},
            "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4}
        }));
        validate(&p).unwrap();
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases = [
            (json!({"cwd": "relative/dir"}), "process.cwd:"),
            (json!({"oomScoreAdj": 1001}), "process.oomScoreAdj:"),
            (json!({"oomScoreAdj": -1001}), "process.oomScoreAdj:"),
            (
                json!({"consoleSize": {"height": 70000, "width": 80}}),
                "process.consoleSize:",
            ),
            (json!({"env": ["A"]}), "process.env:"),
            (json!({"args": ["a\u{0}b"]}), "process.args:"),
            (
                json!({"rlimits": [{"type": "RLIMIT_CORE", "hard": 1, "soft": 1},
                                   {"type": "RLIMIT_CORE", "hard": 2, "soft": 2}]}),
                "process.rlimits:",
            ),
            (
                json!({"rlimits": [{"type": "RLIMIT_CORE", "hard": 1, "soft": 2}]}),
                "process.rlimits:",
            ),
            (
                json!({"scheduler": {"policy": "SCHED_FIFO"}}),
                "process.scheduler.priority:",
            ),
            (
                json!({"ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 8}}),
                "process.ioPriority.priority:",
            ),
            (
                json!({"user": {"uid": 0, "gid": 0, "umask": 4096}}),
                "process.user.umask:",
            ),
            (
                json!({"capabilities": {"effective": ["CAP_KILL"]}}),
                "process.capabilities.effective:",
            ),
        ];
        for (extra, prefix) in cases {
            let err = invalid(extra.clone());
            assert!(err.starts_with(prefix), "{extra}: {err}");
        }
    }

    #[test]
    fn unknown_capability_is_a_parse_error_naming_the_set() {
        let config = json!({"process": {"capabilities": {"permitted": ["CAP_NOPE"]}}});
        let err = check_capability_names(&config).unwrap_err().to_string();
        assert!(err.starts_with("process.capabilities.permitted:"), "{err}");
        let parsed = serde_json::from_value::<Process>(json!({
            "user": {"uid": 0, "gid": 0}, "cwd": "/",
            "capabilities": {"permitted": ["CAP_NOPE"]}
        }));
        assert!(parsed.is_err(), "oci-spec accepted an unknown capability");
    }

    #[test]
    fn known_capabilities_are_listed() {
        let caps = known_capabilities();
        assert_eq!(caps.first().map(String::as_str), Some("CAP_CHOWN"));
        assert_eq!(
            caps.last().map(String::as_str),
            Some("CAP_CHECKPOINT_RESTORE")
        );
    }

    #[test]
    fn oom_score_adj_is_written_through_procfs() {
        in_child(
            "process::tests::oom_score_adj_is_written_through_procfs",
            || {
                let read = || std::fs::read_to_string("/proc/self/oom_score_adj").unwrap();
                let before = read();
                let proc = ProcFs::open_host().unwrap();
                apply_procfs(&process(json!({})), &proc).unwrap();
                assert_eq!(read(), before, "absent oomScoreAdj must leave it untouched");
                apply_procfs(&process(json!({"oomScoreAdj": 500})), &proc).unwrap();
                assert_eq!(read().trim(), "500");
            },
        );
    }

    #[test]
    fn rlimit_eperm_names_the_limit() {
        in_child("process::tests::rlimit_eperm_names_the_limit", || {
            use nix::sys::resource::{getrlimit, Resource};
            // Without CAP_SYS_RESOURCE, raising a hard limit fails.
            let permitted = u64::from_str_radix(&status_field("CapPrm"), 16).unwrap();
            crate::sys::caps::capset(&crate::sys::caps::CapSets {
                effective: permitted & !(1 << 24),
                permitted,
                inheritable: 0,
            })
            .unwrap();
            let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
            let p = process(json!({"rlimits": [
                {"type": "RLIMIT_NOFILE", "soft": hard + 1, "hard": hard + 1}
            ]}));
            let prepared = Prepared::new(&p, false).unwrap();
            let err = apply(&p, &prepared, None).err().unwrap().to_string();
            let want = format!(
                "setrlimit RLIMIT_NOFILE (soft {0}, hard {0}): EPERM",
                hard + 1
            );
            assert!(err.starts_with(&want), "{err}");
            let p = process(json!({"rlimits": [{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]}));
            rlimits::apply(p.rlimits().as_deref().unwrap()).unwrap();
            assert_eq!(getrlimit(Resource::RLIMIT_CORE).unwrap(), (0, 0));
        });
    }

    #[test]
    fn scheduler_and_io_priority_are_applied() {
        in_child(
            "process::tests::scheduler_and_io_priority_are_applied",
            || {
                let p = process(json!({
                    "scheduler": {"policy": "SCHED_BATCH", "nice": 7},
                    "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0}
                }));
                sched::apply_scheduler(p.scheduler().as_ref().unwrap()).unwrap();
                sched::apply_io_priority(p.io_priority().as_ref().unwrap()).unwrap();
                let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
                let fields: Vec<&str> = stat
                    .rsplit(')')
                    .next()
                    .unwrap()
                    .split_whitespace()
                    .collect();
                // Fields after the command: state is field 3, nice 19, policy 41.
                assert_eq!(fields[19 - 3], "7", "nice");
                assert_eq!(fields[41 - 3], "3", "policy SCHED_BATCH");
                assert_eq!(crate::sys::sched::ioprio_get().unwrap(), (3, 0));
            },
        );
    }

    #[test]
    fn missing_cwd_is_created() {
        let base = std::env::temp_dir().join(format!("berth-cwd-{}", std::process::id()));
        let cwd = base.join("a/b");
        create_cwd(&process(json!({"cwd": cwd}))).unwrap();
        assert!(cwd.is_dir());
        create_cwd(&process(json!({"cwd": cwd}))).unwrap();
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn cwd_cannot_go_through_magic_links() {
        let err = create_cwd(&process(json!({"cwd": "/proc/self/cwd/x"})))
            .unwrap_err()
            .to_string();
        assert!(err.contains(": ELOOP"), "{err}");
        let err = enter(Path::new("/proc/self/fd/0")).unwrap_err();
        assert_eq!(err, Errno::ELOOP);
        assert_eq!(lexical(Path::new("/a/./b/../../c/d/..")), ["c"]);
        assert!(is_root(Path::new("/")) && is_root(Path::new("/./..")));
        assert!(!is_root(Path::new("/a/..")), "a may be a symlink");
    }

    /// An ambient capability the runtime holds is cleared, though the process may keep it in
    /// its permitted and inheritable sets.
    #[test]
    fn the_runtimes_ambient_set_is_not_inherited() {
        in_child(
            "process::tests::the_runtimes_ambient_set_is_not_inherited",
            || {
                use crate::sys::caps::{ambient_raise, capset, CapSets};
                let permitted = u64::from_str_radix(&status_field("CapPrm"), 16).unwrap();
                let (effective, inheritable) = (permitted, 1 << 5);
                capset(&CapSets {
                    effective,
                    permitted,
                    inheritable,
                })
                .unwrap();
                ambient_raise(5).unwrap();
                let p = process(json!({"capabilities": {
                    "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                    "inheritable": ["CAP_KILL"]
                }}));
                let prepared = Prepared::new(&p, false).unwrap();
                assert_eq!(prepared.inherited.ambient, 1 << 5);
                apply(&p, &prepared, None).unwrap();
                assert_eq!(status_field("CapInh"), "0000000000000020");
                assert_eq!(status_field("CapAmb"), "0000000000000000");
            },
        );
    }

    #[test]
    fn missing_executable_fails_at_apply() {
        in_child("process::tests::missing_executable_fails_at_apply", || {
            let p = process(json!({
                "args": ["berth-no-such-program"],
                "env": ["PATH=/usr/bin:/bin"]
            }));
            let prepared = Prepared::new(&p, false).unwrap();
            let err = apply(&p, &prepared, None).err().unwrap().to_string();
            assert_eq!(
                err,
                "process.args: exec: \"berth-no-such-program\": executable file not found in $PATH"
            );
        });
    }

    /// The whole path: user switch, capability sets, cwd, umask, env, signals,
    /// no_new_privs, execve; checked before exec from inside and after exec by the program.
    #[test]
    fn apply_and_exec_as_a_user_with_capabilities() {
        let test = "process::tests::apply_and_exec_as_a_user_with_capabilities";
        let base = |pid: u32| std::env::temp_dir().join(format!("berth-process-test-{pid}"));
        let out = in_child(test, || {
            use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
            let cwd = base(std::os::unix::process::parent_id()).join("work/dir");
            let p = process(json!({
                "user": {"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 0o027},
                "args": ["sh", "-c", "grep -E '^(Cap|Uid|Gid|Groups|NoNewPrivs|SigBlk|SigIgn)' \
                          /proc/self/status; umask; pwd; echo HOME=$HOME; echo FOO=$FOO"],
                "env": ["PATH=/usr/bin:/bin", "FOO=1", "FOO=2"],
                "cwd": cwd,
                "noNewPrivileges": true,
                "capabilities": {
                    "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                    "effective": ["CAP_KILL"],
                    "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                    "inheritable": ["CAP_NET_BIND_SERVICE"],
                    "ambient": ["CAP_NET_BIND_SERVICE", "CAP_KILL"]
                }
            }));
            validate(&p).unwrap();
            create_cwd(&p).unwrap();
            // State the runtime could leak: a blocked signal, and SIGPIPE, which Rust's
            // runtime ignores.
            let mut usr1 = SigSet::empty();
            usr1.add(Signal::SIGUSR1);
            sigprocmask(SigmaskHow::SIG_BLOCK, Some(&usr1), None).unwrap();
            assert_ne!(status_field("SigIgn"), "0000000000000000");
            let prepared = Prepared::new(&p, false).unwrap();
            let exec = apply(&p, &prepared, None).unwrap();
            for f in ["CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"] {
                println!("pre {f}: {}", status_field(f));
            }
            let err = exec.exec();
            panic!("exec failed: {err}");
        });
        let Some(out) = out else { return };
        std::fs::remove_dir_all(base(std::process::id())).unwrap();
        let has = |line: &str| {
            assert!(
                out.lines()
                    .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == line),
                "missing {line:?} in:\n{out}"
            )
        };
        // Before exec: exactly the configured sets (KILL is not inheritable, so it is
        // skipped for ambient).
        has("pre CapEff: 0000000000000020");
        has("pre CapPrm: 0000000000000420");
        has("pre CapInh: 0000000000000400");
        has("pre CapAmb: 0000000000000400");
        has("pre CapBnd: 0000000000000421");
        // After exec as a non-root user without file capabilities: the ambient set.
        has("CapEff: 0000000000000400");
        has("CapPrm: 0000000000000400");
        has("CapInh: 0000000000000400");
        has("CapAmb: 0000000000000400");
        has("CapBnd: 0000000000000421");
        has("Uid: 1000 1000 1000 1000");
        has("Gid: 1000 1000 1000 1000");
        has("Groups: 10 20");
        has("NoNewPrivs: 1");
        has("SigBlk: 0000000000000000");
        has("SigIgn: 0000000000000000");
        has("0027");
        has(&base(std::process::id())
            .join("work/dir")
            .display()
            .to_string());
        has(&format!("HOME={}", user::home_dir(1000)));
        has("FOO=2");
    }
}
