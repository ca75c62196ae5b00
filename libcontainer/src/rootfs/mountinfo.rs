//! The few fields of `/proc/self/mountinfo` the rootfs code needs: where the rootfs's parent
//! mount is and whether it is shared, and where the host's cgroup hierarchies are.
use std::path::{Path, PathBuf};

use crate::error::IoContext;
use crate::Result;

#[derive(Debug, PartialEq, Eq)]
pub(super) struct Entry {
    /// The directory of the filesystem that is mounted (field 4).
    pub root: PathBuf,
    pub mount_point: PathBuf,
    /// A member of a peer group (`shared:N` among the optional fields).
    pub shared: bool,
    pub fstype: String,
    /// Superblock options (the last field), such as `rw,cpu,cpuacct`.
    pub super_options: String,
}

pub(super) fn read() -> Result<Vec<Entry>> {
    let path = "/proc/self/mountinfo";
    let text = crate::files::read_whole(Path::new(path)).ctx("read", path)?;
    Ok(parse(&text))
}

fn parse(text: &str) -> Vec<Entry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Entry> {
    let (left, right) = line.split_once(" - ")?;
    let fields: Vec<&str> = left.split(' ').collect();
    let after: Vec<&str> = right.split(' ').collect();
    if fields.len() < 6 || after.len() < 3 {
        return None;
    }
    Some(Entry {
        root: PathBuf::from(unescape(fields[3])),
        mount_point: PathBuf::from(unescape(fields[4])),
        shared: fields[6..].iter().any(|f| f.starts_with("shared:")),
        fstype: after[0].to_string(),
        super_options: after[2].to_string(),
    })
}

/// Undoes the kernel's octal escapes (`\040` for a space) in paths.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The entry of the mount that contains `path` (the last-mounted of the longest mount point
/// that is a prefix of it).
pub(super) fn containing<'a>(entries: &'a [Entry], path: &Path) -> Option<&'a Entry> {
    entries
        .iter()
        .filter(|e| path.starts_with(&e.mount_point))
        .fold(None, |best: Option<&Entry>, e| match best {
            Some(b) if b.mount_point.components().count() > e.mount_point.components().count() => {
                Some(b)
            }
            _ => Some(e),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime master:3 - cgroup cgroup rw,cpu,cpuacct
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 22 8:1 /srv /mnt/my\\040dir rw shared:7 - ext4 /dev/sda1 rw
";

    #[test]
    fn parses_fields() {
        let e = parse(SAMPLE);
        assert_eq!(e.len(), 5);
        assert!(e[0].shared);
        assert!(!e[2].shared);
        assert_eq!(e[2].mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(e[2].super_options, "rw,cpu,cpuacct");
        assert_eq!(e[3].fstype, "cgroup2");
        assert_eq!(e[4].mount_point, Path::new("/mnt/my dir"));
        assert_eq!(e[4].root, Path::new("/srv"));
    }

    #[test]
    fn containing_mount() {
        let e = parse(SAMPLE);
        let c = |p: &str| containing(&e, Path::new(p)).unwrap().mount_point.clone();
        assert_eq!(c("/var/lib/x"), Path::new("/"));
        assert_eq!(c("/mnt/my dir/rootfs"), Path::new("/mnt/my dir"));
        assert_eq!(
            c("/sys/fs/cgroup/unified"),
            Path::new("/sys/fs/cgroup/unified")
        );
        assert_eq!(c("/sys/fs/cgroupx"), Path::new("/"));
    }
}
