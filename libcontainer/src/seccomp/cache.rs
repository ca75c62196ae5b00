//! Compiled filters kept on disk. libseccomp needs several milliseconds for a profile like the
//! default one, and engines start many containers with the very same profile: the program is
//! stored under the runtime's root, indexed by a hash of the profile and looked up by an exact
//! comparison of the whole key (profile JSON, berth, libseccomp and kernel versions), so a
//! hash collision can only cost a recompile, never return another profile's filter.
use std::fs::DirBuilder;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use oci_spec::runtime::LinuxSeccomp;

use super::compile::{compile, program_from_bytes, program_to_bytes, validate, Filter};
use crate::Result;

/// The cache key: everything the compiled program depends on.
fn key(seccomp: &LinuxSeccomp) -> String {
    let lib = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default();
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let profile = serde_json::to_string(seccomp).expect("LinuxSeccomp serialises");
    format!(
        "berth {} libseccomp {lib} kernel {kernel} arch {} {profile}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )
}

/// [`compile`], through a cache of compiled programs in `dir` (created 0700 if missing).
/// Failing to read or write the cache only costs a compile.
pub fn compile_cached(seccomp: &LinuxSeccomp, dir: &Path) -> Result<Filter> {
    validate(seccomp)?;
    let key = key(seccomp);
    let mut hasher = std::hash::DefaultHasher::new();
    key.hash(&mut hasher);
    let path = dir.join(format!("{:016x}.bpf", hasher.finish()));
    if let Some(filter) = std::fs::read(&path).ok().and_then(|d| parse(&d, &key)) {
        return Ok(filter);
    }
    let filter = compile(seccomp)?;
    if let Err(e) = store(dir, &path, &key, &filter) {
        tracing::debug!("seccomp cache {}: {e}", path.display());
    }
    Ok(filter)
}

/// File layout: the key, a newline, the flags (u32, native order), the program.
fn parse(data: &[u8], key: &str) -> Option<Filter> {
    let rest = data.strip_prefix(key.as_bytes())?.strip_prefix(b"\n")?;
    let (flags, program) = rest.split_first_chunk::<4>()?;
    if program.is_empty() || program.len() % 8 != 0 {
        return None;
    }
    Some(Filter {
        program: program_from_bytes(program),
        flags: u32::from_ne_bytes(*flags),
    })
}

fn store(dir: &Path, path: &Path, key: &str, filter: &Filter) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let mut data = Vec::with_capacity(key.len() + 5 + filter.program.len() * 8);
    data.extend_from_slice(key.as_bytes());
    data.push(b'\n');
    data.extend_from_slice(&filter.flags.to_ne_bytes());
    data.extend_from_slice(&program_to_bytes(&filter.program));
    // Concurrent creates each write their own file; the rename makes the entry appear whole.
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, &data)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
