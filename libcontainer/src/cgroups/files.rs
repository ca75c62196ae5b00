//! Reading and writing cgroup interface files, with errors that name the file and the value.
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{Error, Result};

fn err(path: PathBuf, reason: String) -> Error {
    Error::Cgroup { path, reason }
}

/// The whole of a file, read with an open, reads into a buffer that holds a typical cgroup or
/// `/proc` file at once (until `read` returns 0) and a close. `std::fs::read_to_string` would
/// `statx` the file first for a size hint (always 0 on these filesystems) and then read in
/// steps starting at 32 bytes.
pub(super) fn read_whole(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
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

/// Like [`read`], but `None` when `dir` itself does not exist (a cgroup removed meanwhile). The
/// file is read first and `dir` looked at only when that fails, so the usual case costs no
/// extra `stat`.
pub(super) fn read_in_existing(dir: &Path, file: &str) -> Result<Option<String>> {
    let path = dir.join(file);
    match read_whole(&path) {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(_) if !dir.exists() => Ok(None),
        Err(e) => Err(err(path, format!("read: {e}"))),
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
        assert!(read_in_existing(&base, "none").is_err());
        assert_eq!(read_in_existing(&base.join("gone"), "f").unwrap(), None);
        assert_eq!(read_in_existing(&base, "long").unwrap().unwrap(), long);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
