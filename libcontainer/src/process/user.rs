//! `process.user`: the switch from root to the configured uid, gid and supplementary groups,
//! keeping the process's capabilities for the capability step that follows; the umask; and
//! the HOME that runc derives from the container's /etc/passwd.
use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::sys::stat::{fstat, stat, umask, Mode};
use nix::unistd::{fchown, setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::User;

use crate::error::SysContext;
use crate::{Error, Result};

/// The umask when `process.user.umask` is absent, as runc sets it.
const DEFAULT_UMASK: u32 = 0o022;

pub(super) fn validate(user: &User) -> Result<()> {
    if let Some(umask) = user.umask() {
        if umask > 0o777 {
            return Err(Error::invalid(
                "process.user.umask",
                format!("{umask:#o} is not a file mode mask (at most 0o777)"),
            ));
        }
    }
    if user.username().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(Error::unsupported("process.user.username (Windows only)"));
    }
    Ok(())
}

/// The home directory of `uid` in `passwd` (the format of /etc/passwd).
fn home_in(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [_, _, u, _, _, home, ..] if u.parse() == Ok(uid) && !home.is_empty() => {
                Some(home.to_string())
            }
            _ => None,
        }
    })
}

/// The home directory of `uid` in the container's /etc/passwd, or "/" as runc falls back to.
/// Runs after pivot_root, so the path resolves inside the container.
pub(super) fn home_dir(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| home_in(&p, uid))
        .unwrap_or_else(|| "/".into())
}

/// Gives the stdio fds to the container's user (the pty slave, the engine's pipes), so that
/// the process can reopen them through /proc/self/fd. Fds on /dev/null, fds that are closed,
/// and inodes that this user namespace may not chown (EINVAL, EPERM, EROFS) are left alone.
fn chown_stdio(uid: u32) -> Result<()> {
    // The container's /dev/null, looked up only for a character device not owned by `uid`.
    let mut null = None;
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let stdio = [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()];
    for (n, fd) in stdio.into_iter().enumerate() {
        let Ok(st) = fstat(fd) else { continue };
        if st.st_uid == uid {
            continue;
        }
        if (st.st_mode & libc::S_IFMT) == libc::S_IFCHR
            && Some(st.st_rdev)
                == *null.get_or_insert_with(|| stat("/dev/null").ok().map(|s| s.st_rdev))
        {
            continue;
        }
        match fchown(fd, Some(Uid::from_raw(uid)), None) {
            Ok(()) | Err(Errno::EINVAL | Errno::EPERM | Errno::EROFS) => {}
            Err(e) => {
                return Err(Error::sys(
                    "fchown",
                    format!("stdio fd {n} to uid {uid}"),
                    e,
                ))
            }
        }
    }
    Ok(())
}

/// Switches every uid and gid to the configured user, keeping the permitted capabilities
/// (PR_SET_KEEPCAPS) so that the capability sets can be applied afterwards, and sets the
/// umask.
pub(super) fn switch(user: &User) -> Result<()> {
    let (uid, gid) = (user.uid(), user.gid());
    chown_stdio(uid)?;
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    match setgroups(&groups) {
        Ok(()) => {}
        // setgroups is denied in this user namespace: with no groups asked for, there is
        // nothing to honour (runc skips it too).
        Err(Errno::EPERM) if groups.is_empty() => {}
        Err(Errno::EPERM) => {
            return Err(Error::invalid(
                "process.user.additionalGids",
                "setgroups is denied in this user namespace",
            ))
        }
        Err(e) => return Err(Error::sys("setgroups", format!("{:?}", groups), e)),
    }
    let unmapped = |e: Errno| {
        if e == Errno::EINVAL {
            " (not mapped in the container's user namespace)"
        } else {
            ""
        }
    };
    let g = Gid::from_raw(gid);
    setresgid(g, g, g).map_err(|e| Error::sys("setresgid", format!("{gid}{}", unmapped(e)), e))?;
    // The kernel clears the permitted set only when no uid stays 0: switching to uid 0 keeps
    // it without PR_SET_KEEPCAPS (which is 0 here, and execve resets it anyway).
    let keep = uid != 0;
    if keep {
        nix::sys::prctl::set_keepcaps(true).sys("prctl PR_SET_KEEPCAPS", 1)?;
    }
    let u = Uid::from_raw(uid);
    setresuid(u, u, u).map_err(|e| Error::sys("setresuid", format!("{uid}{}", unmapped(e)), e))?;
    if keep {
        nix::sys::prctl::set_keepcaps(false).sys("prctl PR_SET_KEEPCAPS", 0)?;
    }
    umask(Mode::from_bits_truncate(
        user.umask().unwrap_or(DEFAULT_UMASK) as libc::mode_t,
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::UserBuilder;

    #[test]
    fn umask_range() {
        let ok = UserBuilder::default().umask(0o777u32).build().unwrap();
        assert!(validate(&ok).is_ok());
        let bad = UserBuilder::default().umask(0o1000u32).build().unwrap();
        assert_eq!(
            validate(&bad).unwrap_err().to_string(),
            "process.user.umask: 0o1000 is not a file mode mask (at most 0o777)"
        );
    }

    #[test]
    fn username_is_windows_only() {
        let bad = UserBuilder::default().username("bob").build().unwrap();
        assert!(validate(&bad)
            .unwrap_err()
            .to_string()
            .starts_with("process.user.username"));
    }

    #[test]
    fn denied_setgroups_is_an_error_only_when_groups_are_asked_for() {
        let test =
            "process::user::tests::denied_setgroups_is_an_error_only_when_groups_are_asked_for";
        crate::process::testutil::in_child(test, || {
            use crate::sys::process::{clone3, Clone};
            use nix::sched::CloneFlags;
            use nix::sys::wait::{waitpid, WaitStatus};
            // A new user namespace needs a single-threaded caller: clone a copy of this thread.
            let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
            let opts = Clone {
                namespaces: CloneFlags::CLONE_NEWUSER,
                ..Clone::default()
            };
            let (pid, _pidfd) = clone3(opts, || {
                match std::panic::catch_unwind(|| in_userns_with_setgroups_denied(uid, gid)) {
                    Ok(()) => 0,
                    Err(_) => 1,
                }
            })
            .unwrap();
            assert_eq!(waitpid(pid, None).unwrap(), WaitStatus::Exited(pid, 0));
        });
    }

    fn in_userns_with_setgroups_denied(uid: Uid, gid: Gid) {
        std::fs::write("/proc/self/setgroups", "deny").unwrap();
        std::fs::write("/proc/self/uid_map", format!("0 {uid} 1")).unwrap();
        std::fs::write("/proc/self/gid_map", format!("0 {gid} 1")).unwrap();
        let user = |gids: Vec<u32>| {
            UserBuilder::default()
                .uid(0u32)
                .gid(0u32)
                .additional_gids(gids)
                .build()
                .unwrap()
        };
        let err = switch(&user(vec![0])).unwrap_err().to_string();
        assert_eq!(
            err,
            "process.user.additionalGids: setgroups is denied in this user namespace"
        );
        switch(&user(vec![])).unwrap();
        let unmapped = UserBuilder::default().uid(5u32).gid(0u32).build().unwrap();
        let err = switch(&unmapped).unwrap_err().to_string();
        assert!(err.starts_with("setresuid 5 (not mapped"), "{err}");
    }

    #[test]
    fn home_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\n\
                      broken line\n\
                      nohome:x:5:5::::\n\
                      app:x:1000:1000:App,,,:/home/app:/bin/sh\n";
        assert_eq!(home_in(passwd, 0).as_deref(), Some("/root"));
        assert_eq!(home_in(passwd, 1000).as_deref(), Some("/home/app"));
        assert_eq!(home_in(passwd, 5), None);
        assert_eq!(home_in(passwd, 42), None);
    }
}
