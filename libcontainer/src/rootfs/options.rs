//! `mounts[].options`: fstab-style words turned into `mount(2)` flags, propagation changes,
//! recursive `mount_setattr` attributes and the filesystem's data string.
use nix::mount::MsFlags;

use crate::sys::mount::{
    Attr, MOUNT_ATTR_ATIME, MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME,
    MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY,
    MOUNT_ATTR_RELATIME, MOUNT_ATTR_STRICTATIME,
};

/// nix has no constant for `MS_NOSYMFOLLOW` (Linux 5.10).
pub(crate) const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW);

/// What one option word does.
#[derive(Clone, Copy)]
enum Effect {
    /// Set a `mount(2)` flag.
    Set(MsFlags),
    /// Clear a `mount(2)` flag (set by default or by an earlier option).
    Clear(MsFlags),
    /// A propagation change, applied after the mount.
    Propagation(MsFlags),
    /// A recursive attribute for `mount_setattr(AT_RECURSIVE)`: set (true) or clear (false).
    Recursive(bool, u64),
    /// Accepted, changes nothing (`defaults`).
    Nothing,
}

use Effect::*;

/// The option words berth understands, in the spec's order. Everything else must be a
/// filesystem option (`key=value` or one of [`DATA_WORDS`]) and goes to the data string.
const TABLE: &[(&str, Effect)] = &[
    ("async", Clear(MsFlags::MS_SYNCHRONOUS)),
    ("atime", Clear(MsFlags::MS_NOATIME)),
    ("bind", Set(MsFlags::MS_BIND)),
    ("defaults", Nothing),
    ("dev", Clear(MsFlags::MS_NODEV)),
    ("diratime", Clear(MsFlags::MS_NODIRATIME)),
    ("dirsync", Set(MsFlags::MS_DIRSYNC)),
    ("exec", Clear(MsFlags::MS_NOEXEC)),
    ("iversion", Set(MsFlags::MS_I_VERSION)),
    ("lazytime", Set(MsFlags::MS_LAZYTIME)),
    ("loud", Clear(MsFlags::MS_SILENT)),
    ("mand", Set(MsFlags::MS_MANDLOCK)),
    ("noatime", Set(MsFlags::MS_NOATIME)),
    ("nodev", Set(MsFlags::MS_NODEV)),
    ("nodiratime", Set(MsFlags::MS_NODIRATIME)),
    ("noexec", Set(MsFlags::MS_NOEXEC)),
    ("noiversion", Clear(MsFlags::MS_I_VERSION)),
    ("nolazytime", Clear(MsFlags::MS_LAZYTIME)),
    ("nomand", Clear(MsFlags::MS_MANDLOCK)),
    ("norelatime", Clear(MsFlags::MS_RELATIME)),
    ("nostrictatime", Clear(MsFlags::MS_STRICTATIME)),
    ("nosuid", Set(MsFlags::MS_NOSUID)),
    ("nosymfollow", Set(MS_NOSYMFOLLOW)),
    ("private", Propagation(MsFlags::MS_PRIVATE)),
    ("ratime", Recursive(false, MOUNT_ATTR_NOATIME)),
    ("rbind", Set(MsFlags::MS_BIND.union(MsFlags::MS_REC))),
    ("rdev", Recursive(false, MOUNT_ATTR_NODEV)),
    ("rdiratime", Recursive(false, MOUNT_ATTR_NODIRATIME)),
    ("relatime", Set(MsFlags::MS_RELATIME)),
    ("remount", Set(MsFlags::MS_REMOUNT)),
    ("rexec", Recursive(false, MOUNT_ATTR_NOEXEC)),
    ("rnoatime", Recursive(true, MOUNT_ATTR_NOATIME)),
    ("rnodev", Recursive(true, MOUNT_ATTR_NODEV)),
    ("rnodiratime", Recursive(true, MOUNT_ATTR_NODIRATIME)),
    ("rnoexec", Recursive(true, MOUNT_ATTR_NOEXEC)),
    ("rnorelatime", Recursive(false, MOUNT_ATTR_RELATIME)),
    ("rnostrictatime", Recursive(false, MOUNT_ATTR_STRICTATIME)),
    ("rnosuid", Recursive(true, MOUNT_ATTR_NOSUID)),
    ("rnosymfollow", Recursive(true, MOUNT_ATTR_NOSYMFOLLOW)),
    ("ro", Set(MsFlags::MS_RDONLY)),
    (
        "rprivate",
        Propagation(MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ),
    ("rrelatime", Recursive(true, MOUNT_ATTR_RELATIME)),
    ("rro", Recursive(true, MOUNT_ATTR_RDONLY)),
    ("rrw", Recursive(false, MOUNT_ATTR_RDONLY)),
    (
        "rshared",
        Propagation(MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ),
    (
        "rslave",
        Propagation(MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ),
    ("rstrictatime", Recursive(true, MOUNT_ATTR_STRICTATIME)),
    ("rsuid", Recursive(false, MOUNT_ATTR_NOSUID)),
    ("rsymfollow", Recursive(false, MOUNT_ATTR_NOSYMFOLLOW)),
    (
        "runbindable",
        Propagation(MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
    ),
    ("rw", Clear(MsFlags::MS_RDONLY)),
    ("shared", Propagation(MsFlags::MS_SHARED)),
    ("silent", Set(MsFlags::MS_SILENT)),
    ("slave", Propagation(MsFlags::MS_SLAVE)),
    ("strictatime", Set(MsFlags::MS_STRICTATIME)),
    ("suid", Clear(MsFlags::MS_NOSUID)),
    ("symfollow", Clear(MS_NOSYMFOLLOW)),
    ("sync", Set(MsFlags::MS_SYNCHRONOUS)),
    ("unbindable", Propagation(MsFlags::MS_UNBINDABLE)),
];

/// The option words of [`TABLE`], for `berth features`.
pub(crate) const MOUNT_OPTIONS: &[&str] = &{
    let mut names = [""; TABLE.len()];
    let mut i = 0;
    while i < TABLE.len() {
        names[i] = TABLE[i].0;
        i += 1;
    }
    names
};

/// Filesystem options without a value that are passed to the kernel in the data string
/// (devpts, tmpfs, overlay, quota-capable filesystems).
const DATA_WORDS: &[&str] = &[
    "newinstance",
    "noswap",
    "userxattr",
    "volatile",
    "usrquota",
    "grpquota",
    "prjquota",
    "quota",
    "noquota",
];

/// Options that are recognised but not implemented yet: rejected by name.
const UNSUPPORTED: &[&str] = &["idmap", "ridmap", "tmpcopyup", "notmpcopyup"];

/// The parsed `options` of one mount.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// Flags for `mount(2)`, including `MS_BIND`, `MS_REC`, `MS_REMOUNT`.
    pub flags: MsFlags,
    /// Propagation changes, in the order given, applied after the mount.
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes (`rro`, `rnosuid`, ...), applied last with `mount_setattr`.
    pub recursive: Attr,
    /// Filesystem options, comma-joined into the data string.
    pub data: Vec<String>,
}

/// Why an option word was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OptionError {
    Unknown(String),
    Unsupported(String),
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            recursive: Attr::default(),
            data: Vec::new(),
        }
    }
}

impl MountOptions {
    /// Parses `mounts[i].options`, with errors that name the field.
    pub fn for_mount(i: usize, options: Option<&[String]>) -> crate::Result<MountOptions> {
        let field = format!("mounts[{i}].options");
        MountOptions::parse(options.unwrap_or_default()).map_err(|e| match e {
            OptionError::Unknown(o) => {
                crate::Error::invalid(field, format!("unknown mount option {o:?}"))
            }
            OptionError::Unsupported(o) => crate::Error::unsupported(format!("{field} {o:?}")),
        })
    }

    pub fn parse<S: AsRef<str>>(options: &[S]) -> Result<MountOptions, OptionError> {
        let mut m = MountOptions::default();
        for opt in options {
            let opt = opt.as_ref();
            if UNSUPPORTED.contains(&opt) {
                return Err(OptionError::Unsupported(opt.to_string()));
            }
            match TABLE.iter().find(|(name, _)| *name == opt).map(|(_, e)| *e) {
                Some(Set(f)) => m.flags |= f,
                Some(Clear(f)) => m.flags.remove(f),
                Some(Propagation(f)) => m.propagation.push(f),
                Some(Recursive(set, attr)) => m.recursive_attr(set, attr),
                Some(Nothing) => {}
                None if opt.contains('=') || DATA_WORDS.contains(&opt) => {
                    m.data.push(opt.to_string())
                }
                None => return Err(OptionError::Unknown(opt.to_string())),
            }
        }
        Ok(m)
    }

    fn recursive_attr(&mut self, set: bool, attr: u64) {
        let r = &mut self.recursive;
        let atime = attr == MOUNT_ATTR_RELATIME || attr & MOUNT_ATTR_ATIME != 0;
        if atime {
            // The atime mode is one value: clearing the mask selects it; "clearing" a mode
            // (ratime, rnorelatime, rnostrictatime) falls back to the default, relatime.
            r.clear |= MOUNT_ATTR_ATIME;
            r.set &= !MOUNT_ATTR_ATIME;
            if set {
                r.set |= attr;
            }
        } else if set {
            r.set |= attr;
            r.clear &= !attr;
        } else {
            r.clear |= attr;
            r.set &= !attr;
        }
    }

    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// The flags a bind mount needs to be remounted with (`MS_BIND` alone ignores them).
    pub fn remount_flags(&self) -> MsFlags {
        self.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT)
    }

    pub fn data_string(&self) -> String {
        self.data.join(",")
    }
}

/// `linux.rootfsPropagation`: the propagation flags for a value (`None` if unknown).
pub(crate) fn root_propagation(value: &str) -> Option<MsFlags> {
    let rec = MsFlags::MS_REC;
    Some(match value {
        "shared" => MsFlags::MS_SHARED,
        "slave" => MsFlags::MS_SLAVE,
        "private" => MsFlags::MS_PRIVATE,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "rshared" => MsFlags::MS_SHARED | rec,
        "rslave" => MsFlags::MS_SLAVE | rec,
        "rprivate" => MsFlags::MS_PRIVATE | rec,
        "runbindable" => MsFlags::MS_UNBINDABLE | rec,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(o: &[&str]) -> MountOptions {
        MountOptions::parse(o).unwrap()
    }

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(MOUNT_OPTIONS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(MOUNT_OPTIONS.len(), TABLE.len());
        for required in [
            "ro",
            "rbind",
            "rro",
            "nosymfollow",
            "rslave",
            "lazytime",
            "silent",
        ] {
            assert!(MOUNT_OPTIONS.contains(&required), "{required}");
        }
    }

    #[test]
    fn flags_set_and_clear_in_order() {
        let m = parse(&["ro", "nosuid", "nodev", "rw"]);
        assert_eq!(m.flags, MsFlags::MS_NOSUID | MsFlags::MS_NODEV);
        let m = parse(&["rw", "ro"]);
        assert_eq!(m.flags, MsFlags::MS_RDONLY);
        let m = parse(&["nosymfollow", "strictatime", "sync", "async"]);
        assert_eq!(m.flags, MS_NOSYMFOLLOW | MsFlags::MS_STRICTATIME);
    }

    #[test]
    fn bind_and_remount_flags() {
        let m = parse(&["rbind", "ro", "nosuid"]);
        assert!(m.is_bind());
        assert!(m.flags.contains(MsFlags::MS_REC));
        assert_eq!(m.remount_flags(), MsFlags::MS_RDONLY | MsFlags::MS_NOSUID);
        assert!(parse(&["rbind", "rw"]).remount_flags().is_empty());
        assert!(!parse(&["nosuid"]).is_bind());
    }

    #[test]
    fn propagation_kept_in_order() {
        let m = parse(&["rbind", "rprivate", "shared"]);
        assert_eq!(
            m.propagation,
            vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC, MsFlags::MS_SHARED]
        );
    }

    #[test]
    fn recursive_attributes() {
        let m = parse(&["rro", "rnosuid", "rnodev", "rexec"]);
        assert_eq!(
            m.recursive.set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV
        );
        assert_eq!(m.recursive.clear, MOUNT_ATTR_NOEXEC);
        let m = parse(&["rro", "rrw"]);
        assert_eq!(m.recursive.set, 0);
        assert_eq!(m.recursive.clear, MOUNT_ATTR_RDONLY);
        let m = parse(&["rnoatime"]);
        assert_eq!(
            (m.recursive.set, m.recursive.clear),
            (MOUNT_ATTR_NOATIME, MOUNT_ATTR_ATIME)
        );
        let m = parse(&["rnoatime", "rstrictatime"]);
        assert_eq!(m.recursive.set, MOUNT_ATTR_STRICTATIME);
        let m = parse(&["rnoatime", "ratime"]);
        assert_eq!((m.recursive.set, m.recursive.clear), (0, MOUNT_ATTR_ATIME));
        let m = parse(&["rrelatime"]);
        assert_eq!((m.recursive.set, m.recursive.clear), (0, MOUNT_ATTR_ATIME));
        assert!(parse(&["ro"]).recursive.is_empty());
    }

    #[test]
    fn data_options() {
        let m = parse(&[
            "nosuid",
            "mode=755",
            "size=65536k",
            "newinstance",
            "ptmxmode=0666",
        ]);
        assert_eq!(
            m.data_string(),
            "mode=755,size=65536k,newinstance,ptmxmode=0666"
        );
        assert_eq!(m.flags, MsFlags::MS_NOSUID);
    }

    #[test]
    fn unknown_and_unsupported() {
        assert_eq!(
            MountOptions::parse(&["nosiud"]),
            Err(OptionError::Unknown("nosiud".into()))
        );
        assert_eq!(
            MountOptions::parse(&["idmap"]),
            Err(OptionError::Unsupported("idmap".into()))
        );
        assert!(MountOptions::parse(&["defaults"]).unwrap().flags.is_empty());
    }
}
