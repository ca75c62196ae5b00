//! Path resolution inside the container's root. Every lookup is an `openat2` under a dirfd of
//! the root with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`: `..` and absolute symlinks stop at
//! the root, and `/proc/*/fd`-style magic links are refused, so an image (even one that swaps
//! a symlink in during setup) can never make berth open or mount something outside the root.
//! Missing components are created one at a time in a directory fd obtained the same way, with
//! calls that do not follow a symlink in the last component.
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

use crate::error::SysContext;
use crate::{Error, Result};

/// What to create when a path does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
}

/// How many dangling symlinks one creation may follow (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// A directory that paths are resolved in as if it were `/`.
pub(crate) struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

impl Root {
    /// Opens the directory `path` (a trusted host path).
    pub fn open(path: &Path) -> Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .sys("open", path.display())?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How a container path is named in errors: as the container sees it, and where it is.
    pub fn describe(&self, path: &Path) -> String {
        format!("{} (in {})", inside(path).display(), self.path().display())
    }

    /// Opens `path` (absolute or relative to the root) with `flags` (plus `O_CLOEXEC`), never
    /// leaving the root.
    pub fn open_at(&self, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
        let rel = relative(path);
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        // EAGAIN: a concurrent rename made the kernel's `..` check inconclusive; retry.
        let mut tries = 0;
        loop {
            match openat2(self.fd.as_fd(), rel, how) {
                Err(Errno::EAGAIN) if tries < 16 => tries += 1,
                r => return r,
            }
        }
    }

    /// An `O_PATH` fd for `path`, which must exist.
    pub fn open_path(&self, path: &Path) -> nix::Result<OwnedFd> {
        self.open_at(path, OFlag::O_PATH)
    }

    /// An `O_PATH` fd for `path`, creating it (as `kind`) and its missing parent directories
    /// first. A dangling symlink on the way is followed inside the root and its target created,
    /// as for a mount destination in an image that links `/etc/resolv.conf` to a missing file.
    pub fn create(&self, path: &Path, kind: Kind) -> Result<OwnedFd> {
        // Most destinations exist (`/proc`, `/dev`, `/sys` in an image): one lookup then, the
        // same one the walk below ends with. The walk opens every prefix from the root again,
        // which costs a lookup per component per component.
        let flags = match kind {
            Kind::Dir => OFlag::O_PATH | OFlag::O_DIRECTORY,
            Kind::File => OFlag::O_PATH,
        };
        match self.open_at(path, flags) {
            Err(Errno::ENOENT) => {}
            r => return r.sys("openat2", self.describe(path)),
        }
        let mut path = inside(path);
        // Only the last component missing (a mount point in a fresh tmpfs): make it in its
        // parent. Anything else, a dangling symlink included, takes the walk.
        if let (Some(parent), Some(name)) = (path.parent(), path.file_name()) {
            if let Ok(dir) = self.open_at(parent, OFlag::O_PATH | OFlag::O_DIRECTORY) {
                if make(&dir, name, kind == Kind::Dir).is_ok() {
                    return self
                        .open_at(&path, flags)
                        .sys("openat2", self.describe(&path));
                }
            }
        }
        for _ in 0..MAX_LINKS {
            match self.create_once(&path, kind)? {
                Step::Done(fd) => return Ok(fd),
                Step::Retry(next) => path = next,
            }
        }
        Err(Error::sys("openat2", self.describe(&path), Errno::ELOOP))
    }

    fn create_once(&self, path: &Path, kind: Kind) -> Result<Step> {
        let comps: Vec<Component> = path.components().collect();
        let mut parent = self
            .open_at(Path::new("."), OFlag::O_PATH | OFlag::O_DIRECTORY)
            .sys("openat2", self.describe(Path::new("/")))?;
        let mut walked = PathBuf::from("/");
        for (i, comp) in comps.iter().enumerate() {
            let last = i + 1 == comps.len();
            let name = match comp {
                Component::RootDir | Component::CurDir => continue,
                Component::ParentDir => OsStr::new(".."),
                Component::Normal(n) => n,
                Component::Prefix(_) => unreachable!("no prefixes on Linux"),
            };
            let next = walked.join(name);
            let dir = !last || kind == Kind::Dir;
            let flags = if dir {
                OFlag::O_PATH | OFlag::O_DIRECTORY
            } else {
                OFlag::O_PATH
            };
            let fd = match self.open_at(&next, flags) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => {
                    match make(&parent, name, dir) {
                        Ok(()) => {}
                        // The name exists but does not resolve: a dangling symlink. Follow it
                        // by hand, inside the root, and create what it points to.
                        Err(Errno::EEXIST) => {
                            if let Some(target) = self.dangling(&parent, name, &walked) {
                                let rest: PathBuf = comps[i + 1..].iter().collect();
                                return Ok(Step::Retry(target.join(rest)));
                            }
                        }
                        Err(e) => return Err(Error::sys("mkdirat", self.describe(&next), e)),
                    }
                    self.open_at(&next, flags)
                        .sys("openat2", self.describe(&next))?
                }
                Err(e) => return Err(Error::sys("openat2", self.describe(&next), e)),
            };
            parent = fd;
            walked = next;
        }
        Ok(Step::Done(parent))
    }

    /// If `name` in `dir` is a symlink, its target as a path inside the root (`walked` is the
    /// path of `dir`).
    fn dangling(&self, dir: &OwnedFd, name: &OsStr, walked: &Path) -> Option<PathBuf> {
        let target = nix::fcntl::readlinkat(dir, name).ok()?;
        let target = Path::new(&target);
        Some(if target.is_absolute() {
            target.to_path_buf()
        } else {
            walked.join(target)
        })
    }
}

/// Creates `name` in `dir`, a directory or an empty file, without following a symlink there.
fn make(dir: &OwnedFd, name: &OsStr, is_dir: bool) -> nix::Result<()> {
    if is_dir {
        return nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(0o755));
    }
    nix::fcntl::openat(
        dir,
        name,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )
    .map(drop)
}

enum Step {
    Done(OwnedFd),
    Retry(PathBuf),
}

/// `path` as an absolute container path: relative destinations are relative to `/`, as runc
/// treats them.
pub(crate) fn inside(path: &Path) -> PathBuf {
    Path::new("/").join(path)
}

/// `path` relative to the root, for `openat2` (`/` becomes `.`).
fn relative(path: &Path) -> &Path {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    }
}

/// The `/proc/self/fd/N` path of `fd`, for the calls that only take paths (`mount(2)`).
pub(crate) fn proc_fd(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Tmp(PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A fake rootfs next to a directory `outside` that no lookup may reach.
    fn fixture(name: &str) -> (Tmp, Root) {
        let base = std::env::temp_dir().join(format!("berth-paths-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let rootfs = base.join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::fs::write(base.join("outside/secret"), "x").unwrap();
        symlink("../../outside", rootfs.join("etc/up")).unwrap();
        symlink(base.join("outside"), rootfs.join("etc/abs")).unwrap();
        symlink("../run/resolv.conf", rootfs.join("etc/resolv.conf")).unwrap();
        symlink("/nowhere/deep", rootfs.join("dangle")).unwrap();
        let root = Root::open(&rootfs).unwrap();
        (Tmp(base), root)
    }

    fn real(root: &Root, fd: &OwnedFd) -> PathBuf {
        std::fs::read_link(proc_fd(fd))
            .unwrap()
            .strip_prefix(root.path())
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|_| {
                panic!(
                    "escaped: {}",
                    std::fs::read_link(proc_fd(fd)).unwrap().display()
                )
            })
    }

    #[test]
    fn dotdot_symlinks_stay_inside() {
        let (_t, root) = fixture("dotdot");
        // ../../outside from /etc is clamped at the root: /outside inside the rootfs.
        assert_eq!(
            root.open_path(Path::new("/etc/up/secret")).err(),
            Some(Errno::ENOENT)
        );
        let fd = root
            .create(Path::new("/etc/up/secret"), Kind::File)
            .unwrap();
        assert_eq!(real(&root, &fd), Path::new("outside/secret"));
        let fd = root.create(Path::new("../../../etc"), Kind::Dir).unwrap();
        assert_eq!(real(&root, &fd), Path::new("etc"));
    }

    #[test]
    fn absolute_symlinks_stay_inside() {
        let (t, root) = fixture("abs");
        let fd = root.create(Path::new("etc/abs/newdir"), Kind::Dir).unwrap();
        let inner =
            t.0.join("outside")
                .strip_prefix("/")
                .unwrap()
                .join("newdir");
        assert_eq!(real(&root, &fd), inner);
        assert!(!t.0.join("outside/newdir").exists());
    }

    #[test]
    fn magic_links_refused() {
        // A root where /proc is reachable: its magic links must not be followed.
        let root = Root::open(Path::new("/")).unwrap();
        assert_eq!(
            root.open_path(Path::new("/proc/self/root/etc")).err(),
            Some(Errno::ELOOP)
        );
        assert!(root
            .create(Path::new("/proc/self/cwd/x"), Kind::Dir)
            .is_err());
        assert!(root.open_path(Path::new("/proc/self/status")).is_ok());
    }

    #[test]
    fn dangling_symlinks_created_inside() {
        let (_t, root) = fixture("dangling");
        let fd = root
            .create(Path::new("/etc/resolv.conf"), Kind::File)
            .unwrap();
        assert_eq!(real(&root, &fd), Path::new("run/resolv.conf"));
        assert!(root.path().join("run/resolv.conf").is_file());
        let fd = root.create(Path::new("/dangle/x"), Kind::Dir).unwrap();
        assert_eq!(real(&root, &fd), Path::new("nowhere/deep/x"));
    }

    #[test]
    fn symlink_loops_end() {
        let (_t, root) = fixture("loop");
        symlink("/loop2", root.path().join("loop1")).unwrap();
        symlink("/loop1", root.path().join("loop2")).unwrap();
        assert!(root.create(Path::new("/loop1/x"), Kind::Dir).is_err());
    }

    #[test]
    fn relative_destinations_are_under_root() {
        let (_t, root) = fixture("relative");
        let fd = root.create(Path::new("var/lib/x"), Kind::Dir).unwrap();
        assert_eq!(real(&root, &fd), Path::new("var/lib/x"));
        assert_eq!(inside(Path::new("var/x")), Path::new("/var/x"));
        assert_eq!(relative(Path::new("/")), Path::new("."));
    }

    #[test]
    fn existing_file_is_not_a_directory() {
        let (_t, root) = fixture("notdir");
        std::fs::write(root.path().join("etc/file"), "").unwrap();
        assert!(root.create(Path::new("/etc/file"), Kind::Dir).is_err());
        assert!(root.create(Path::new("/etc/file"), Kind::File).is_ok());
    }

    #[test]
    fn symlink_swapped_in_during_creation_stays_inside() {
        let (t, root) = fixture("race");
        let outside = t.0.join("outside");
        let swap = root.path().join("swap");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let racer = {
            let (stop, swap, outside) = (stop.clone(), swap.clone(), outside.clone());
            std::thread::spawn(move || {
                let tmp = swap.with_extension("tmp");
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = std::fs::create_dir(&tmp);
                    let _ = std::fs::rename(&tmp, &swap);
                    let _ = symlink(&outside, &tmp);
                    let _ = std::fs::rename(&tmp, &swap);
                    let _ = std::fs::remove_dir_all(&swap);
                }
            })
        };
        for i in 0..300 {
            let _ = root.create(Path::new(&format!("/swap/d{i}/e")), Kind::Dir);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        racer.join().unwrap();
        let escaped: Vec<_> = std::fs::read_dir(&outside)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n != "secret")
            .collect();
        assert!(escaped.is_empty(), "created outside the root: {escaped:?}");
    }
}
