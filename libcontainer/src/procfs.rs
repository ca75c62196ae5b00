//! A verified handle on the host's procfs, for every write berth makes to `/proc` from a
//! process that is already in the container's namespaces (the runc CVE-2025-52565/52881
//! class: a container that controls what `/proc` resolves to could redirect those writes).
//!
//! The runtime opens `/proc` once, in its own (the host's) mount namespace, before it clones
//! anything, and checks that the handle is the root of a procfs (`PROC_SUPER_MAGIC`, root inode).
//! Init, the intermediate process and an exec'd process inherit that handle and resolve every
//! file beneath it with `openat2`: `RESOLVE_BENEATH` (no `..` or absolute escape),
//! `RESOLVE_NO_XDEV` (no mount crossed, so nothing mounted over `/proc/self/attr` or
//! `/proc/sys` in any namespace takes part) and `RESOLVE_NO_MAGICLINKS`. Only procfs's own
//! `self`/`thread-self` symlinks (written by the kernel) are followed. Whatever init's or the
//! container's `/proc` looks like — a joined mount namespace, a tmpfs or a bind mount over
//! `/proc/sys` or `/proc/self/attr`, a symlinked `/proc` — the writes reach the kernel object
//! they name or fail.
//!
//! The handle is `O_PATH | O_CLOEXEC`: it never survives `execve` (and `pass_fds` marks every
//! fd above the passed ones close-on-exec anyway). Until then it lives in non-dumpable
//! processes whose `/proc/<pid>/fd` the container cannot open (see `launch::hide_runtime_image`).
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, Mode};
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};

use crate::error::{IoContext, SysContext};
use crate::{Error, Result};

/// The inode number of every procfs instance's root directory.
const PROC_ROOT_INO: u64 = 1;

/// An `O_PATH` handle on the root of the host's procfs.
#[derive(Debug)]
pub(crate) struct ProcFs(OwnedFd);

impl ProcFs {
    /// Opens the calling process's `/proc` (call it in the host's mount namespace, before any
    /// clone) and verifies it is the root of a procfs.
    pub(crate) fn open_host() -> Result<ProcFs> {
        Self::open_root("/proc")
    }

    fn open_root(path: &str) -> Result<ProcFs> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
            Mode::empty(),
        )
        .sys("open", path)?;
        check_procfs(&fd, path)?;
        let st = fstat(&fd).sys("fstat", path)?;
        if st.st_ino != PROC_ROOT_INO {
            return Err(Error::sys(
                "open",
                format!("{path} (not the root of a procfs)"),
                Errno::EXDEV,
            ));
        }
        Ok(ProcFs(fd))
    }

    /// Opens `rel` (such as `self/oom_score_adj` or `sys/net/ipv4/ip_forward`) beneath the
    /// handle with `flags`, without crossing a mount or following a magic link.
    pub(crate) fn open(&self, rel: &str, flags: OFlag) -> Result<File> {
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC | OFlag::O_NOCTTY)
            .resolve(
                ResolveFlag::RESOLVE_BENEATH
                    | ResolveFlag::RESOLVE_NO_XDEV
                    | ResolveFlag::RESOLVE_NO_MAGICLINKS,
            );
        let what = format!("/proc/{rel}");
        let fd = openat2(self.0.as_fd(), rel, how).sys("openat2", &what)?;
        check_procfs(&fd, &what)?;
        Ok(File::from(fd))
    }

    /// Writes `value` to `rel` in one `write(2)` (procfs files take one value per write).
    pub(crate) fn write(&self, rel: &str, value: &str) -> Result<()> {
        let mut file = self.open(rel, OFlag::O_WRONLY)?;
        file.write_all(value.as_bytes())
            .ctx("write", format!("/proc/{rel}"))
    }

    /// Reads all of `rel`.
    pub(crate) fn read(&self, rel: &str) -> Result<String> {
        let mut text = String::new();
        self.open(rel, OFlag::O_RDONLY)?
            .read_to_string(&mut text)
            .ctx("read", format!("/proc/{rel}"))?;
        Ok(text)
    }
}

fn check_procfs(fd: &impl AsFd, what: &str) -> Result<()> {
    let fs = fstatfs(fd).sys("fstatfs", what)?;
    if fs.filesystem_type() != PROC_SUPER_MAGIC {
        return Err(Error::sys(
            "open",
            format!("{what} (not on procfs)"),
            Errno::EXDEV,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_the_host_procfs_and_reads_beneath_it() {
        let proc = ProcFs::open_host().unwrap();
        let status = proc.read("self/status").unwrap();
        assert!(status.contains(&format!("\nPid:\t{}\n", std::process::id())));
        assert!(proc.read("thread-self/comm").is_ok());
    }

    #[test]
    fn refuses_what_is_not_a_procfs_root() {
        let err = ProcFs::open_root("/proc/sys").unwrap_err().to_string();
        assert!(err.contains("not the root of a procfs"), "{err}");
        let err = ProcFs::open_root("/tmp").unwrap_err().to_string();
        assert!(err.contains("not on procfs"), "{err}");
    }

    #[test]
    fn refuses_escapes_and_magic_links() {
        let proc = ProcFs::open_host().unwrap();
        for rel in [
            "../etc/passwd",
            "/etc/passwd",
            "self/root/etc/passwd",
            "self/cwd",
        ] {
            let err = proc.read(rel).unwrap_err().to_string();
            assert!(err.starts_with("openat2 /proc/"), "{rel}: {err}");
        }
    }

    /// A mount over a procfs file (as a container could place over `/proc/self/attr` or
    /// `/proc/sys`) is not crossed: the open fails instead of reaching the mounted file.
    #[test]
    fn does_not_cross_mounts() {
        crate::process::testutil::in_child("procfs::tests::does_not_cross_mounts", || {
            use nix::mount::{mount, MsFlags};
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .unwrap();
            let proc = ProcFs::open_host().unwrap();
            let decoy = std::env::temp_dir().join(format!("berth-decoy-{}", std::process::id()));
            std::fs::write(&decoy, "").unwrap();
            mount(
                Some(&decoy),
                "/proc/self/oom_score_adj",
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .unwrap();
            let err = proc.write("self/oom_score_adj", "10").unwrap_err();
            std::fs::remove_file(&decoy).unwrap();
            assert!(err.to_string().contains("EXDEV"), "{err}");
        });
    }
}
