//! Container state: the public [`State`] that `berth state` prints (runc's shape), and the
//! state directory `<root>/<id>/` that holds the persisted record, guarded by a lock.
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, openat, AtFlags, Flock, FlockArg, OFlag};
use nix::sys::stat::{fstatat, Mode, SFlag};
use serde::{Deserialize, Serialize};

use crate::error::IoContext;
use crate::{Error, Result};

/// The lifecycle status of a container (runtime-spec `status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a container as `runc state` reports it: the runtime-spec state plus `rootfs`,
/// `created` and `owner`. Field order and names match runc's output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    /// The init's pid in the runtime's pid namespace; 0 once the container has stopped.
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339 with nanoseconds, UTC.
    pub created: String,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
    pub owner: String,
}

/// An open, locked state directory. The lock is an exclusive `flock` on the directory itself,
/// held until this value is dropped: every command that reads or changes a container takes it,
/// so concurrent commands on one id run one after the other.
pub(crate) struct StateDir {
    path: PathBuf,
    _lock: Flock<OwnedFd>,
}

const RECORD: &str = "state.json";

impl StateDir {
    /// Creates `<root>/<id>` and locks it. `mkdir` is atomic, so of two concurrent creates of one
    /// id exactly one succeeds; the other gets [`Error::Exists`].
    pub fn create(root: &Path, id: &str) -> Result<Self> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(root)
            .ctx("mkdir", root)?;
        let path = root.join(id);
        match fs::DirBuilder::new().mode(0o711).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists(id.to_string()))
            }
            Err(e) => return Err(Error::io("mkdir", path, e)),
        }
        Self::lock(path)
    }

    /// Opens and locks the existing state directory of `id`.
    pub fn open(root: &Path, id: &str) -> Result<Self> {
        Self::lock(root.join(id))
    }

    fn lock(path: PathBuf) -> Result<Self> {
        let dir: OwnedFd = match fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&path)
        {
            Ok(f) => f.into(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotExist),
            Err(e) => return Err(Error::io("open", path, e)),
        };
        let lock = Flock::lock(dir, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::sys("flock", path.display(), e))?;
        // A concurrent delete may have removed the directory while we waited for the lock.
        if !path.exists() {
            return Err(Error::NotExist);
        }
        Ok(StateDir { path, _lock: lock })
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes the record atomically: a reader sees the old or the new one, never a torn file.
    pub fn save<T: Serialize>(&self, record: &T) -> Result<()> {
        let data = serde_json::to_vec(record).expect("state record serialises");
        write_atomic(&self.join(RECORD), &data, 0o600)
    }

    pub fn load<T: for<'de> Deserialize<'de>>(&self) -> Result<T> {
        let path = self.join(RECORD);
        parse_record(&path, File::open(&path))
    }

    /// Removes the directory and everything in it; the lock goes with the value.
    pub fn remove(self) -> Result<()> {
        match fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove", &self.path, e)),
        }
    }

    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self._lock.as_fd()
    }
}

/// A state root read without taking any container's lock, as `list` does: records are written
/// atomically, so a reader sees a whole one; a container whose record is not written yet (being
/// created) or that is deleted meanwhile is left out. Paths are resolved beneath the root's fd.
pub(crate) struct StateRoot {
    path: PathBuf,
    fd: OwnedFd,
}

impl StateRoot {
    /// Opens the root; `None` if it does not exist (no container was ever created there).
    pub fn open(path: &Path) -> Result<Option<StateRoot>> {
        match open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Ok(Some(StateRoot {
                path: path.to_path_buf(),
                fd,
            })),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(Error::sys("open", path.display(), e)),
        }
    }

    /// The ids of the state directories under the root (entries that are no valid id or no
    /// directory are skipped), each with the uid that owns its directory (runc's `owner`).
    pub fn entries(&self) -> Result<Vec<(String, u32)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.path).ctx("read dir", &self.path)? {
            let entry = entry.ctx("read dir", &self.path)?;
            let Some(id) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if crate::id::validate(&id).is_err() {
                continue;
            }
            match fstatat(&self.fd, id.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st)
                    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR =>
                {
                    out.push((id, st.st_uid))
                }
                Ok(_) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(Error::sys("stat", self.path.join(&id).display(), e)),
            }
        }
        Ok(out)
    }

    /// The record of `id`; [`Error::NotExist`] if it has none (yet, or any more).
    pub fn load<T: for<'de> Deserialize<'de>>(&self, id: &str) -> Result<T> {
        let rel = format!("{id}/{RECORD}");
        let file = openat(
            &self.fd,
            rel.as_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map(File::from)
        .map_err(std::io::Error::from);
        parse_record(&self.path.join(rel), file)
    }

    /// Whether `<id>/<name>` exists.
    pub fn has(&self, id: &str, name: &str) -> bool {
        fstatat(
            &self.fd,
            format!("{id}/{name}").as_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .is_ok()
    }
}

/// Reads and parses the record at `path` from the opened `file`. A missing record is
/// [`Error::NotExist`]: a create that died before its first save leaves a directory without one.
fn parse_record<T: for<'de> Deserialize<'de>>(
    path: &Path,
    file: std::io::Result<File>,
) -> Result<T> {
    let data = match file.and_then(|mut f| crate::files::read_until(&mut f, |_| false)) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotExist),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    serde_json::from_slice(&data).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Writes `data` to `path` through a temporary file and a rename.
pub(crate) fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(libc::O_CLOEXEC)
        .open(&tmp)
        .ctx("create", &tmp)?;
    f.write_all(data).ctx("write", &tmp)?;
    drop(f);
    fs::rename(&tmp, path).ctx("rename", path)
}

/// The current time as RFC 3339 with nanoseconds in UTC, as Go's `time.Time` marshals it.
pub(crate) fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

/// Formats seconds since the epoch (UTC); nanoseconds are printed without trailing zeros, as Go
/// does, and omitted when zero.
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_700_000_000, 120_000_000),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(rfc3339(951_782_400, 1), "2000-02-29T00:00:00.000000001Z");
    }

    #[test]
    fn state_dir_create_is_exclusive() {
        let root = std::env::temp_dir().join(format!("berth-state-test-{}", std::process::id()));
        let d = StateDir::create(&root, "c1").unwrap();
        assert!(matches!(
            StateDir::create(&root, "c1"),
            Err(Error::Exists(_))
        ));
        d.save(&serde_json::json!({"a": 1})).unwrap();
        let v: serde_json::Value = d.load().unwrap();
        assert_eq!(v["a"], 1);
        d.remove().unwrap();
        assert!(matches!(StateDir::open(&root, "c1"), Err(Error::NotExist)));
        fs::remove_dir(&root).unwrap();
    }
}
