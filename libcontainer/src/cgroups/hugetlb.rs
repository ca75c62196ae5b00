//! `linux.resources.hugepageLimits`: per page size, `hugetlb.<size>.limit_in_bytes` (v1) or
//! `hugetlb.<size>.max` (v2), and the matching reservation limit (`.rsvd.`) where the kernel
//! has it, as runc does. A page size the host does not have is an error.
use oci_spec::runtime::LinuxHugepageLimit;

use super::files::write;
use super::{field_err, Dir};
use crate::{Error, Result};

fn field(i: usize) -> String {
    format!("linux.resources.hugepageLimits[{i}]")
}

/// Host-independent checks: sizes are written like the kernel's file names (`2MB`, `1GB`).
pub(super) fn validate(limits: &[LinuxHugepageLimit]) -> Result<()> {
    for (i, l) in limits.iter().enumerate() {
        let size = l.page_size();
        let digits = size.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let unit = &size[digits.len()..];
        if digits.is_empty()
            || !digits.chars().all(|c| c.is_ascii_digit())
            || !["KB", "MB", "GB", "TB", "PB"].contains(&unit)
        {
            return Err(Error::invalid(
                format!("{}.pageSize", field(i)),
                format!("{size:?} is not a size like \"2MB\" or \"1GB\""),
            ));
        }
        if l.limit() < -1 {
            return Err(Error::invalid(
                format!("{}.limit", field(i)),
                "must be -1 (unlimited) or a number of bytes",
            ));
        }
    }
    Ok(())
}

pub(super) fn set(dir: Dir, limits: &[LinuxHugepageLimit]) -> Result<()> {
    let d = dir.path();
    for (i, l) in limits.iter().enumerate() {
        let size = l.page_size();
        let (limit, rsvd, value) = match dir {
            Dir::V1(_) => (
                format!("hugetlb.{size}.limit_in_bytes"),
                format!("hugetlb.{size}.rsvd.limit_in_bytes"),
                l.limit().to_string(),
            ),
            Dir::V2(_) => (
                format!("hugetlb.{size}.max"),
                format!("hugetlb.{size}.rsvd.max"),
                if l.limit() < 0 {
                    "max".into()
                } else {
                    l.limit().to_string()
                },
            ),
        };
        if !d.join(&limit).exists() {
            return Err(Error::invalid(
                format!("{}.pageSize", field(i)),
                format!("huge page size {size} is not supported by this host"),
            ));
        }
        write(d, &limit, &value).map_err(field_err(field(i)))?;
        if d.join(&rsvd).exists() {
            write(d, &rsvd, &value).map_err(field_err(field(i)))?;
        }
    }
    Ok(())
}
