//! `berth exec`: the process comes from `--process process.json`, or from the container's own
//! `process` in its config.json with the command line's changes, as runc builds it.
use std::path::Path;

use berth::{Container, Error, ExecOptions, Result};
use oci_spec::runtime::{Capabilities, Capability, Process};

use crate::cli::ExecArgs;
use crate::foreground;

pub fn exec(root: &Path, a: &ExecArgs) -> Result<i32> {
    let container = Container::load(root, &a.id)?;
    let mut process: Process = match &a.process {
        Some(path) => {
            let data = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
            serde_json::from_slice(&data).map_err(|e| Error::Config {
                path: path.clone(),
                reason: e.to_string(),
            })?
        }
        None => from_args(&container, a)?,
    };
    // As `--cwd` and the others override the container's process, these override whatever
    // the process (given or built) says; the library checks them against the host.
    if let Some(profile) = &a.apparmor {
        process.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &a.process_label {
        process.set_selinux_label(Some(label.clone()));
    }
    let opts = ExecOptions {
        process,
        console_socket: a.console_socket.clone(),
        pid_file: a.pid_file.clone(),
        extra_fds: a.preserve_fds,
        detach: a.detach,
    };
    if a.detach {
        container.exec(&opts)?;
        return Ok(0);
    }
    let set = foreground::block_signals()?;
    let p = container.exec(&opts)?;
    foreground::forward_until_exit(p.pid(), &set)
}

/// The container's configured process with the command line's overrides.
fn from_args(container: &Container, a: &ExecArgs) -> Result<Process> {
    if a.command.is_empty() {
        return Err(Error::Usage(
            "exec: no command given (and no --process)".into(),
        ));
    }
    let config = container.bundle().join("config.json");
    let data = std::fs::read(&config).map_err(|e| Error::io("read", &config, e))?;
    let spec = berth::spec::parse(&data).map_err(|reason| Error::Config {
        path: config.clone(),
        reason,
    })?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.into());
    }
    if !a.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        env.extend(a.env.iter().cloned());
        p.set_env(Some(env));
    }
    if let Some(user) = &a.user {
        let (uid, gid) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user.as_str(), None),
        };
        let bad = || Error::Usage(format!("exec --user {user:?}: expected UID[:GID] numbers"));
        let mut u = p.user().clone();
        u.set_uid(uid.parse().map_err(|_| bad())?);
        if let Some(g) = gid {
            u.set_gid(g.parse().map_err(|_| bad())?);
        }
        p.set_user(u);
    }
    if !a.additional_gids.is_empty() {
        let mut u = p.user().clone();
        u.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(u);
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &a.cap {
            let cap: Capability = serde_json::from_value(serde_json::Value::String(name.clone()))
                .map_err(|_| {
                Error::Usage(format!("exec --cap {name:?}: unknown capability"))
            })?;
            let add = |set: &Option<Capabilities>| {
                let mut set = set.clone().unwrap_or_default();
                set.insert(cap);
                Some(set)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
            caps.set_ambient(add(caps.ambient()));
        }
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}
