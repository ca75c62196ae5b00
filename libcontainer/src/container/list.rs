//! `list`: every container under a state root, read without taking the containers' locks
//! (a `list` must not wait for a slow `create`), and with every path resolved beneath the root.
use std::path::Path;

use super::{Container, Record};
use crate::cgroups::Parents;
use crate::launch::EXEC_SOCKET;
use crate::state::StateRoot;
use crate::{Error, Result, State};

impl Container {
    /// Every container under `root`, in directory order. Containers still being created (no
    /// record yet) or deleted meanwhile are left out.
    pub fn list(root: &Path) -> Result<Vec<Container>> {
        let Some(dir) = StateRoot::open(root)? else {
            return Ok(Vec::new());
        };
        Ok(scan(&dir, root)?.into_iter().map(|(c, _)| c).collect())
    }

    /// Every container under `root` as `list` shows it: sorted by id, with `owner` — the user
    /// owning the state directory, named from the host's /etc/passwd (read once, directly, as
    /// runc does: no NSS modules, which a static build could not load).
    pub fn list_states(root: &Path) -> Result<Vec<State>> {
        let Some(dir) = StateRoot::open(root)? else {
            return Ok(Vec::new());
        };
        let containers = scan(&dir, root)?;
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let mut parents = Parents::default();
        let mut states: Vec<State> = containers
            .into_iter()
            .map(|(c, uid)| {
                let status = c.status_with(
                    |cgroup| cgroup.is_frozen_among(&mut parents),
                    || dir.has(c.id(), EXEC_SOCKET),
                );
                let mut state = c.state_in(status);
                state.owner = user_name(&passwd, uid).unwrap_or_else(|| uid.to_string());
                state
            })
            .collect();
        states.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(states)
    }
}

/// The containers of the state root `dir` (at `root`), each with the uid that owns its state
/// directory. A record that cannot be read is a warning, as in runc: one broken state directory
/// does not hide every other container from an engine.
fn scan(dir: &StateRoot, root: &Path) -> Result<Vec<(Container, u32)>> {
    let mut out = Vec::new();
    for (id, uid) in dir.entries()? {
        let record: Record = match dir.load(&id) {
            Ok(r) => r,
            Err(Error::NotExist) => continue,
            Err(e) => {
                tracing::warn!("load container {id}: {e}");
                continue;
            }
        };
        let container = Container {
            root: root.to_path_buf(),
            record,
            child: None,
        };
        out.push((container, uid));
    }
    Ok(out)
}

/// The name of `uid` in passwd(5) text.
fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lookup() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n";
        assert_eq!(user_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_name(passwd, 1000).as_deref(), Some("bob"));
        assert_eq!(user_name(passwd, 5), None);
    }
}
