//! `linux.resources.pids`: `pids.max` (same file on v1 and v2). As runc: a positive limit is
//! written, a negative one means unlimited, and 0 leaves the limit as it is.
use oci_spec::runtime::LinuxPids;

use super::files::write;
use super::{field_err, Dir};
use crate::Result;

/// The value for `pids.max`, if any.
pub(super) fn value(p: &LinuxPids) -> Option<String> {
    match p.limit() {
        0 => None,
        l if l < 0 => Some("max".into()),
        l => Some(l.to_string()),
    }
}

pub(super) fn set(dir: Dir, p: &LinuxPids) -> Result<()> {
    match value(p) {
        Some(v) => {
            write(dir.path(), "pids.max", v).map_err(field_err("linux.resources.pids.limit"))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let mut p = LinuxPids::default();
        assert_eq!(value(&p), None);
        p.set_limit(-1);
        assert_eq!(value(&p).unwrap(), "max");
        p.set_limit(42);
        assert_eq!(value(&p).unwrap(), "42");
    }
}
