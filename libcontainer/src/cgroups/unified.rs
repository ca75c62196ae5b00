//! `linux.resources.unified`: cgroup v2 files written as given, after everything else (so they
//! win over converted values). The controller a key belongs to is enabled in the ancestors;
//! a controller the host does not have is an error.
use std::collections::HashMap;
use std::path::Path;

use super::files::write;
use super::{field_err, v2};
use crate::{Error, Result};

/// Files that would move processes or are not settings.
const FORBIDDEN: &[&str] = &[
    "cgroup.procs",
    "cgroup.threads",
    "cgroup.kill",
    "cgroup.freeze",
];

fn field(key: &str) -> String {
    format!("linux.resources.unified[{key:?}]")
}

/// Host-independent checks: keys are `<controller>.<file>` names in the cgroup's directory.
pub(super) fn validate(unified: &HashMap<String, String>) -> Result<()> {
    for key in unified.keys() {
        let ok = key
            .split_once('.')
            .is_some_and(|(c, f)| !c.is_empty() && !f.is_empty())
            && !key.contains('/')
            && !key.starts_with('.');
        if !ok {
            return Err(Error::invalid(
                field(key),
                "not a cgroup v2 file name like \"memory.high\"",
            ));
        }
        if FORBIDDEN.contains(&key.as_str()) {
            return Err(Error::invalid(
                field(key),
                "cannot be set through linux.resources.unified",
            ));
        }
    }
    Ok(())
}

pub(super) fn set(dir: &Path, unified: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<&String> = unified.keys().collect();
    keys.sort();
    for key in keys {
        let controller = key.split_once('.').map_or("", |(c, _)| c);
        if !dir.join(key).exists() && controller != "cgroup" {
            v2::enable_controller(dir, controller).map_err(field_err(field(key)))?;
        }
        if !dir.join(key).exists() {
            return Err(Error::invalid(
                field(key),
                format!("{} does not exist", dir.join(key).display()),
            ));
        }
        write(dir, key, &unified[key]).map_err(field_err(field(key)))?;
    }
    Ok(())
}
