//! Reading and writing cgroup interface files, with errors that name the file and the value.
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

pub(super) use crate::files::read_whole;
use crate::{Error, Result};

fn err(path: PathBuf, reason: String) -> Error {
    Error::Cgroup { path, reason }
}

/// The content of `dir/file`, trimmed.
pub(super) fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    match read_whole(&path) {
        Ok(s) => Ok(s.trim().to_string()),
        Err(e) => Err(err(path, format!("read: {e}"))),
    }
}

/// Like [`read`], but a missing file is `None`.
pub(super) fn read_opt(dir: &Path, file: &str) -> Result<Option<String>> {
    let path = dir.join(file);
    match read_whole(&path) {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err(path, format!("read: {e}"))),
    }
}

/// Like [`read`], but `None` when `dir` itself does not exist (a cgroup removed meanwhile), and
/// the reading stops once `enough` says the text so far holds what the caller needs. The file
/// is opened beneath `dir`'s parent when `parents` has it open. It is read first and `dir`
/// looked at only when that fails, so the usual case costs no extra `stat`.
pub(super) fn read_in_existing(
    dir: &Path,
    file: &str,
    parents: Option<&mut Parents>,
    enough: impl Fn(&[u8]) -> bool,
) -> Result<Option<String>> {
    let opened = match parents {
        Some(parents) => parents.open(dir, file),
        None => File::open(dir.join(file)),
    };
    let read = opened
        .and_then(|mut f| crate::files::read_until(&mut f, enough))
        .and_then(crate::files::utf8);
    match read {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(_) if !dir.exists() => Ok(None),
        Err(e) => Err(err(dir.join(file), format!("read: {e}"))),
    }
}

/// Open parent directories of cgroups, for reading a file of each of many sibling cgroups (the
/// freezer state of every container, for `list`): each file is then opened as `<name>/<file>`
/// beneath its cgroup's open parent, not by a walk from `/` across the sysfs, tmpfs and cgroup
/// mounts.
#[derive(Default)]
pub(crate) struct Parents(HashMap<PathBuf, Option<OwnedFd>>);

impl Parents {
    fn open(&mut self, dir: &Path, file: &str) -> std::io::Result<File> {
        let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
            return File::open(dir.join(file));
        };
        if !self.0.contains_key(parent) {
            let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
            let fd = nix::fcntl::open(parent, flags, Mode::empty()).ok();
            self.0.insert(parent.to_path_buf(), fd);
        }
        match &self.0[parent] {
            Some(fd) => {
                let rel = Path::new(name).join(file);
                let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC;
                Ok(File::from(nix::fcntl::openat(
                    fd,
                    &rel,
                    flags,
                    Mode::empty(),
                )?))
            }
            None => File::open(dir.join(file)),
        }
    }
}

/// Writes `value` to `dir/file` in one `write(2)`, as cgroup files require.
pub(super) fn write(dir: &Path, file: &str, value: impl std::fmt::Display) -> Result<()> {
    Writer::new(dir, file).write(&value.to_string())
}

/// [`write`] returning the plain `io::Error`, for callers that handle some errors themselves.
pub(super) fn write_raw(path: &Path, value: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(value.as_bytes())
}

/// An interface file that takes several values in a row, opened once (on the first value): the
/// kernel takes each `write(2)` to a cgroup file as one value whatever the offset, so e.g. all
/// device rules go through one open `devices.allow`. (One write with several lines would not
/// do: `devices.allow` applies the first line and ignores the rest without an error.)
pub(super) struct Writer {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl Writer {
    pub fn new(dir: &Path, file: &str) -> Writer {
        Writer {
            path: dir.join(file),
            file: None,
        }
    }

    /// Writes `value` in one `write(2)`, as [`write`] does.
    pub fn write(&mut self, value: &str) -> Result<()> {
        let path = &self.path;
        let file = match &mut self.file {
            Some(f) => f,
            None => {
                let f = std::fs::OpenOptions::new().write(true).open(path);
                let f = f.map_err(|e| err(path.clone(), format!("write {value:?}: {e}")))?;
                self.file.insert(f)
            }
        };
        file.write_all(value.as_bytes())
            .map_err(|e| err(path.clone(), format!("write {value:?}: {e}")))
    }
}

/// The pids listed in `dir/cgroup.procs`.
pub(super) fn procs(dir: &Path) -> Result<Vec<i32>> {
    let text = read(dir, "cgroup.procs")?;
    text.lines()
        .map(|l| {
            l.trim()
                .parse()
                .map_err(|_| err(dir.join("cgroup.procs"), format!("bad pid {l:?}")))
        })
        .collect()
}

/// `dir` and every cgroup below it, parents before children.
pub(super) fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let entries = match std::fs::read_dir(&out[i]) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && i > 0 => {
                i += 1;
                continue;
            }
            Err(e) => return Err(err(out[i].clone(), format!("read directory: {e}"))),
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.push(entry.path());
            }
        }
        i += 1;
    }
    Ok(out)
}

/// Polls `done` with growing sleeps (from 100µs to 10ms) until it returns `Some` or `timeout`
/// passes (then `None`).
pub(super) fn poll<T>(
    timeout: Duration,
    mut done: impl FnMut() -> Result<Option<T>>,
) -> Result<Option<T>> {
    let start = Instant::now();
    let mut sleep = Duration::from_micros(100);
    loop {
        if let Some(v) = done()? {
            return Ok(Some(v));
        }
        if start.elapsed() >= timeout {
            return Ok(None);
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(10));
    }
}

/// Creates `dir` and its missing parents; returns how many directories, counted from `dir`
/// upwards without a gap, this call made (so that only those are removed later; 0: `dir`
/// existed). `mkdir` comes first and parents are looked at only when it fails with `ENOENT`, so
/// the usual case (the parent exists) is one system call.
pub(super) fn mkdir_all(dir: &Path) -> Result<u8> {
    let mkdir = |d: &Path| match std::fs::create_dir(d) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    };
    match mkdir(dir) {
        Ok(made) => return Ok(u8::from(made)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(dir.to_path_buf(), format!("mkdir: {e}"))),
    }
    let parent = dir
        .parent()
        .ok_or_else(|| err(dir.to_path_buf(), "mkdir: no parent directory".into()))?;
    let above = mkdir_all(parent)?;
    match mkdir(dir) {
        // Made by someone else meanwhile: neither it nor what is above it is ours alone.
        Ok(false) => Ok(0),
        Ok(true) => Ok(above.saturating_add(1)),
        Err(e) => Err(err(dir.to_path_buf(), format!("mkdir: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mkdir_all_counts_what_it_made() {
        let base = std::env::temp_dir().join(format!("berth-mkdir-all-{}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        assert_eq!(mkdir_all(&base.join("a/b/c")).unwrap(), 3);
        assert_eq!(mkdir_all(&base.join("a/b/c")).unwrap(), 0);
        assert_eq!(mkdir_all(&base.join("a/b/d")).unwrap(), 1);
        assert!(base.join("a/b/d").is_dir());
        std::fs::write(base.join("f"), "").unwrap();
        assert!(mkdir_all(&base.join("f/x")).is_err());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn reading() {
        let base = std::env::temp_dir().join(format!("berth-files-read-{}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        // Longer than the first buffer.
        let long = "x".repeat(10_000);
        std::fs::write(base.join("long"), format!("{long}\n")).unwrap();
        assert_eq!(read(&base, "long").unwrap(), long);
        assert_eq!(read_opt(&base, "none").unwrap(), None);
        let to_end = |_: &[u8]| false;
        assert!(read_in_existing(&base, "none", None, to_end).is_err());
        assert_eq!(
            read_in_existing(&base.join("gone"), "f", None, to_end).unwrap(),
            None
        );
        assert_eq!(
            read_in_existing(&base, "long", None, to_end)
                .unwrap()
                .unwrap(),
            long
        );
        let mut parents = Parents::default();
        let gone = base.join("gone");
        assert_eq!(
            read_in_existing(&gone, "f", Some(&mut parents), to_end).unwrap(),
            None
        );
        let sub = base.join("sub");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("f"), "v\n").unwrap();
        let read = read_in_existing(&sub, "f", Some(&mut parents), |t| t.ends_with(b"\n"));
        assert_eq!(read.unwrap().as_deref(), Some("v"));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
