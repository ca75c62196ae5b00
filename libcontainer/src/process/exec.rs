//! The final `execve`: the environment (with HOME filled in as runc does), the executable
//! resolved through the container's PATH at create time, and the last process-wide settings
//! (signals, personality, noNewPrivileges) applied just before the program replaces init.
use std::ffi::CString;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::personality::{self, Persona};
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
use nix::sys::stat::{stat, SFlag};
use nix::unistd::{faccessat, AccessFlags};
use oci_spec::runtime::{LinuxPersonality, LinuxPersonalityDomain};

use crate::error::SysContext;
use crate::sys::exec::{reset_signal_dispositions, PreparedExec};
use crate::{Error, Result};

use super::inherited::Inherited;

/// The PATH searched when `process.env` has none (runc's and Docker's default).
pub(super) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `PER_LINUX32` from linux/personality.h (`PER_LINUX` is 0).
const PER_LINUX32: i32 = 0x0008;

/// Every entry must be `NAME=VALUE` with a non-empty name and no NUL byte.
pub(super) fn validate_env(env: &[String]) -> Result<()> {
    for entry in env {
        let ok = matches!(entry.split_once('='), Some((name, _)) if !name.is_empty())
            && !entry.contains('\0');
        if !ok {
            return Err(Error::invalid(
                "process.env",
                format!("{entry:?} is not NAME=VALUE"),
            ));
        }
    }
    Ok(())
}

/// No argument may contain a NUL byte (execve could not pass it).
pub(super) fn validate_args(args: &[String]) -> Result<()> {
    match args.iter().find(|a| a.contains('\0')) {
        Some(a) => Err(Error::invalid(
            "process.args",
            format!("{a:?} contains a NUL byte"),
        )),
        None => Ok(()),
    }
}

/// The value of the last `name=` entry of `env`.
fn lookup<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix(name)?.strip_prefix('='))
}

/// The environment the process gets: `process.env` in order, a later entry for a name
/// replacing the earlier one in place, and HOME from `home` when it is not set.
pub(super) fn environment(env: &[String], home: impl FnOnce() -> String) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(env.len() + 1);
    for entry in env {
        let name = entry.split('=').next().unwrap_or_default();
        match out.iter_mut().find(|e| e.split('=').next() == Some(name)) {
            Some(e) => e.clone_from(entry),
            None => out.push(entry.clone()),
        }
    }
    if lookup(&out, "HOME").is_none_or(str::is_empty) {
        out.retain(|e| !e.starts_with("HOME="));
        out.push(format!("HOME={}", home()));
    }
    out
}

/// Whether `path` is a regular file that the current (already switched) user may execute.
fn executable(path: &Path) -> std::result::Result<(), Errno> {
    let st = stat(path)?;
    if SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT) != SFlag::S_IFREG {
        return Err(Errno::EACCES);
    }
    faccessat(
        nix::fcntl::AT_FDCWD,
        path,
        AccessFlags::X_OK,
        nix::fcntl::AtFlags::AT_EACCESS,
    )
}

/// Finds `program` the way execvp does: a name with a slash is used as is, any other name
/// is searched in each directory of `path_var` (an empty entry is the current directory).
/// Errors read like runc's (`exec: "foo": executable file not found in $PATH`), which
/// engines match on to choose exit codes 126 and 127.
fn resolve_with(
    program: &str,
    path_var: &str,
    check: impl Fn(&Path) -> std::result::Result<(), Errno>,
) -> Result<PathBuf> {
    let fail = |why: String| Error::invalid("process.args", format!("exec: {program:?}: {why}"));
    if program.is_empty() {
        return Err(fail("executable file not found in $PATH".into()));
    }
    if program.contains('/') {
        return match check(Path::new(program)) {
            Ok(()) => Ok(PathBuf::from(program)),
            Err(Errno::ENOENT) => Err(fail(format!("stat {program}: no such file or directory"))),
            Err(e) => Err(fail(e.desc().to_lowercase())),
        };
    }
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(program);
        if check(&candidate).is_ok() {
            return Ok(candidate);
        }
    }
    Err(fail("executable file not found in $PATH".into()))
}

/// Resolves `args[0]` with the PATH of the process's environment, or the default PATH.
pub(super) fn resolve(program: &str, env: &[String]) -> Result<PathBuf> {
    resolve_with(
        program,
        lookup(env, "PATH").unwrap_or(DEFAULT_PATH),
        executable,
    )
}

/// `linux.personality`: LINUX or LINUX32; the spec defines no flags, so any is unsupported.
pub(crate) fn validate_personality(p: Option<&LinuxPersonality>) -> Result<()> {
    if p.and_then(|p| p.flags().as_ref())
        .is_some_and(|f| !f.is_empty())
    {
        return Err(Error::unsupported("linux.personality.flags"));
    }
    Ok(())
}

fn persona(p: &LinuxPersonality) -> Persona {
    Persona::from_bits_retain(match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    })
}

/// A fully prepared `execve`.
pub(crate) struct Exec {
    program: PreparedExec,
    no_new_privileges: bool,
    personality: Option<Persona>,
    inherited: Inherited,
}

impl Exec {
    pub(super) fn new(
        path: PathBuf,
        args: &[String],
        env: &[String],
        no_new_privileges: bool,
        personality: Option<&LinuxPersonality>,
        inherited: Inherited,
    ) -> Result<Exec> {
        let cstring = |s: &str, field: &str| {
            CString::new(s).map_err(|_| Error::invalid(field, format!("{s:?} contains NUL")))
        };
        let path = path.to_str().unwrap_or_default();
        let program = PreparedExec::new(
            cstring(path, "process.args")?,
            args.iter()
                .map(|a| cstring(a, "process.args"))
                .collect::<Result<_>>()?,
            env.iter()
                .map(|e| cstring(e, "process.env"))
                .collect::<Result<_>>()?,
        );
        Ok(Exec {
            program,
            no_new_privileges,
            personality: personality.map(persona),
            inherited,
        })
    }

    /// Replaces the process image with the container's program. Returns only on failure.
    pub(crate) fn exec(self) -> Error {
        // A seccomp filter, when configured, is already in place (launch installs it before
        // init reports Ready), so the few calls below run under it: rt_sigaction,
        // rt_sigprocmask, personality, prctl and execve.
        if let Err(e) = self.prepare() {
            return e;
        }
        self.execve()
    }

    /// Default dispositions for the ignored signals and an empty signal mask (nothing of the
    /// runtime's leaks into the container), the personality, and no_new_privs.
    fn prepare(&self) -> Result<()> {
        reset_signal_dispositions(self.inherited.ignored_signals);
        if self.inherited.blocked_signals != 0 {
            sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
                .sys("sigprocmask", "empty mask")?;
        }
        if let Some(p) = self.personality {
            personality::set(p).sys("personality", "linux.personality")?;
        }
        if self.no_new_privileges {
            nix::sys::prctl::set_no_new_privs().sys("prctl PR_SET_NO_NEW_PRIVS", 1)?;
        }
        Ok(())
    }

    /// execve(2) itself.
    fn execve(self) -> Error {
        let errno = self.program.execve();
        Error::sys("execve", self.program.path().to_string_lossy(), errno)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn env_entries_need_a_name_and_equals() {
        assert!(validate_env(&strings(&["A=1", "B=", "C=x=y"])).is_ok());
        let e = validate_env(&strings(&["A=1", "NOEQUALS"])).unwrap_err();
        assert_eq!(e.to_string(), "process.env: \"NOEQUALS\" is not NAME=VALUE");
        assert!(validate_env(&strings(&["=value"])).is_err());
        assert!(validate_env(&strings(&["A=b\0c"])).is_err());
    }

    #[test]
    fn args_without_nul() {
        assert!(validate_args(&strings(&["sh", "-c", "x"])).is_ok());
        let e = validate_args(&strings(&["sh", "a\0b"])).unwrap_err();
        assert!(e.to_string().starts_with("process.args:"));
    }

    #[test]
    fn environment_dedups_and_adds_home() {
        let env = strings(&["PATH=/bin", "A=1", "A=2", "B=3"]);
        let out = environment(&env, || "/root".into());
        assert_eq!(out, strings(&["PATH=/bin", "A=2", "B=3", "HOME=/root"]));
        let env = strings(&["HOME=/home/x"]);
        let out = environment(&env, || unreachable!());
        assert_eq!(out, strings(&["HOME=/home/x"]));
        let out = environment(&strings(&["HOME="]), || "/".into());
        assert_eq!(out, strings(&["HOME=/"]));
    }

    #[test]
    fn lookup_takes_the_last_value() {
        let env = strings(&["PATH=/a", "PATHX=1", "PATH=/b"]);
        assert_eq!(lookup(&env, "PATH"), Some("/b"));
        assert_eq!(lookup(&env, "PAT"), None);
    }

    #[test]
    fn resolve_searches_path_in_order() {
        let exists = |p: &Path| match p.to_str().unwrap() {
            "/usr/bin/sh" | "/bin/sh" | "./tool" => Ok(()),
            "/bin/noexec" => Err(Errno::EACCES),
            _ => Err(Errno::ENOENT),
        };
        let r = resolve_with("sh", "/usr/local/bin:/usr/bin:/bin", exists).unwrap();
        assert_eq!(r, Path::new("/usr/bin/sh"));
        let r = resolve_with("tool", "/x::/y", exists).unwrap();
        assert_eq!(r, Path::new("./tool"));
        let e = resolve_with("foo", "/bin", exists).unwrap_err().to_string();
        assert_eq!(
            e,
            "process.args: exec: \"foo\": executable file not found in $PATH"
        );
        let e = resolve_with("noexec", "/bin", exists)
            .unwrap_err()
            .to_string();
        assert!(e.contains("executable file not found in $PATH"), "{e}");
    }

    #[test]
    fn resolve_uses_paths_with_a_slash_as_given() {
        let exists = |p: &Path| match p.to_str().unwrap() {
            "/bin/sh" => Ok(()),
            "/bin/noexec" => Err(Errno::EACCES),
            _ => Err(Errno::ENOENT),
        };
        assert_eq!(
            resolve_with("/bin/sh", "", exists).unwrap(),
            Path::new("/bin/sh")
        );
        let e = resolve_with("/nope", "/bin", exists)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "process.args: exec: \"/nope\": stat /nope: no such file or directory"
        );
        let e = resolve_with("/bin/noexec", "/bin", exists)
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("permission denied"), "{e}");
    }

    #[test]
    fn resolve_checks_the_real_filesystem() {
        let env = strings(&["PATH=/nonexistent:/bin"]);
        assert!(resolve("sh", &env).unwrap().ends_with("sh"));
        assert!(resolve("/etc/passwd", &env).is_err());
        assert!(resolve("/", &env).is_err());
        assert!(resolve("sh", &[]).is_ok());
    }

    #[test]
    fn personality_flags_are_unsupported() {
        let p: LinuxPersonality = serde_json::from_value(serde_json::json!({
            "domain": "LINUX32", "flags": ["SHORT_INODE"]
        }))
        .unwrap();
        let e = validate_personality(Some(&p)).unwrap_err().to_string();
        assert_eq!(e, "linux.personality.flags: not supported by berth");
        let p: LinuxPersonality =
            serde_json::from_value(serde_json::json!({"domain": "LINUX32"})).unwrap();
        assert!(validate_personality(Some(&p)).is_ok());
        assert_eq!(persona(&p).bits(), PER_LINUX32);
        assert!(validate_personality(None).is_ok());
        let bad = serde_json::from_value::<LinuxPersonality>(serde_json::json!({"domain": "X"}));
        assert!(bad.is_err());
    }
}
