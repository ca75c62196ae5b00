//! One function per command; each returns the process exit code.
use std::path::Path;

use berth::{Container, CreateOptions, Error, Result, State};

use crate::cli::{CreateArgs, DeleteArgs, KillArgs, ListArgs, RunArgs, SpecArgs};
use crate::foreground;

fn create_options(root: &Path, a: &CreateArgs, detach: bool) -> CreateOptions {
    let mut opts = CreateOptions::new(&a.id, &a.bundle)
        .root(root)
        .extra_fds(a.preserve_fds)
        .listen_fds(listen_fds())
        .no_pivot(a.no_pivot)
        .no_new_keyring(a.no_new_keyring)
        .detach(detach);
    if let Some(p) = &a.pid_file {
        opts = opts.pid_file(p);
    }
    if let Some(s) = &a.console_socket {
        opts = opts.console_socket(s);
    }
    opts
}

/// Socket activation: fds that systemd passed to us (LISTEN_FDS for our pid) go on into the
/// container, before the `--preserve-fds` ones.
fn listen_fds() -> u32 {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    if !ours {
        return 0;
    }
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

pub fn create(root: &Path, a: &CreateArgs) -> Result<i32> {
    Container::create(&create_options(root, a, true))?;
    Ok(0)
}

pub fn start(root: &Path, id: &str) -> Result<i32> {
    Container::load(root, id)?.start()?;
    Ok(0)
}

pub fn state(root: &Path, id: &str) -> Result<i32> {
    let state = Container::load(root, id)?.state()?;
    outln!(
        "{}",
        serde_json::to_string_pretty(&state).expect("state serialises")
    );
    Ok(0)
}

pub fn kill(root: &Path, a: &KillArgs) -> Result<i32> {
    let container = Container::load(root, &a.id)?;
    let sig = berth::signal::parse(&a.signal)?;
    container.kill(sig, a.all)?;
    Ok(0)
}

pub fn delete(root: &Path, a: &DeleteArgs) -> Result<i32> {
    Container::delete_by_id(root, &a.id, a.force)?;
    Ok(0)
}

pub fn run(root: &Path, a: &RunArgs) -> Result<i32> {
    let opts = create_options(root, &a.create, a.detach).start_at_once(true);
    if a.detach {
        let c = Container::create(&opts)?;
        if let Err(e) = c.start() {
            let _ = Container::delete_by_id(root, &a.create.id, true);
            return Err(e);
        }
        return Ok(0);
    }
    foreground::run(root, &opts, a.keep, !a.no_subreaper)
}

pub fn list(root: &Path, a: &ListArgs) -> Result<i32> {
    let states = Container::list_states(root)?;
    if a.quiet {
        let ids: String = states.iter().map(|s| format!("{}\n", s.id)).collect();
        out!("{ids}");
    } else if a.format == "json" {
        // runc encodes an empty list as `null`.
        let out = if states.is_empty() {
            "null".to_string()
        } else {
            serde_json::to_string(&states).expect("state serialises")
        };
        outln!("{out}");
    } else {
        out!("{}", table(&states));
    }
    Ok(0)
}

/// runc's `list` table: Go's tabwriter with min width 12 and padding 3; the last column is
/// not padded.
fn table(states: &[State]) -> String {
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
    for s in states {
        rows.push([
            s.id.clone(),
            s.pid.to_string(),
            s.status.to_string(),
            s.bundle.display().to_string(),
            s.created.clone(),
            s.owner.clone(),
        ]);
    }
    let mut widths = [0usize; 5];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count() + 3).max(12);
        }
    }
    let mut out = String::new();
    for row in &rows {
        for (w, cell) in widths.iter().zip(row.iter()) {
            out.push_str(&format!("{cell:<w$}"));
        }
        out.push_str(&row[5]);
        out.push('\n');
    }
    out
}

pub fn spec(a: &SpecArgs) -> Result<i32> {
    if a.rootless {
        return Err(Error::Usage(
            "spec --rootless: rootless containers are not supported yet".into(),
        ));
    }
    let path = a.bundle.join("config.json");
    if path.exists() {
        return Err(Error::Usage(
            "File config.json exists. Remove it first.".into(),
        ));
    }
    let text =
        serde_json::to_string_pretty(&crate::default_spec::default_spec(a.seccomp)).expect("spec");
    std::fs::write(&path, text + "\n").map_err(|e| Error::io("write", &path, e))?;
    Ok(0)
}

pub fn features() -> Result<i32> {
    use serde::Serialize;
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    berth::features::features()
        .serialize(&mut ser)
        .expect("features serialise");
    outln!("{}", String::from_utf8_lossy(&out));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_is_runc_header() {
        assert_eq!(
            table(&[]),
            "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
        );
    }
}
