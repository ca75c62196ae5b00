//! OCI hooks: each runs with the container's state JSON on stdin, its own args and env, and an
//! optional timeout. Output (stdout and stderr together) is captured and quoted in the error if
//! the hook fails, as runc does.
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::{Hook, Hooks};

use crate::{Error, Result};

/// Checks the hooks: absolute paths, positive timeouts.
pub(crate) fn validate(hooks: Option<&Hooks>) -> Result<()> {
    let Some(hooks) = hooks else { return Ok(()) };
    let kinds = [
        ("hooks.prestart", hooks.prestart()),
        ("hooks.createRuntime", hooks.create_runtime()),
        ("hooks.createContainer", hooks.create_container()),
        ("hooks.startContainer", hooks.start_container()),
        ("hooks.poststart", hooks.poststart()),
        ("hooks.poststop", hooks.poststop()),
    ];
    for (field, list) in kinds {
        for hook in list.iter().flatten() {
            if !hook.path().is_absolute() {
                return Err(Error::invalid(
                    field,
                    format!("path {} is not absolute", hook.path().display()),
                ));
            }
            if hook.timeout().is_some_and(|t| t <= 0) {
                return Err(Error::invalid(field, "timeout must be greater than zero"));
            }
        }
    }
    Ok(())
}

/// Runs `hooks` in order; the first failure stops the run and is returned.
pub(crate) fn run(kind: &'static str, hooks: Option<&Vec<Hook>>, state_json: &[u8]) -> Result<()> {
    for hook in hooks.into_iter().flatten() {
        run_one(hook, state_json).map_err(|reason| Error::Hook {
            kind,
            path: hook.path().clone(),
            reason,
        })?;
    }
    Ok(())
}

fn run_one(hook: &Hook, state_json: &[u8]) -> std::result::Result<(), String> {
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args() {
        if let Some((argv0, rest)) = args.split_first() {
            cmd.arg0(argv0).args(rest);
        }
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        cmd.env(k, v);
    }
    let (out_r, out_w) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let out_w2 = out_w.try_clone().map_err(|e| format!("dup: {e}"))?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::from(out_w))
        .stderr(Stdio::from(out_w2));
    let mut child = cmd.spawn().map_err(|e| format!("start: {e}"))?;
    drop(cmd); // closes our copies of the output pipe's write end
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that exits without reading its stdin is not an error (EPIPE).
        let _ = stdin.write_all(state_json);
    }
    let pidfd = crate::sys::process::pidfd_open(child.id() as i32)
        .map_err(|e| format!("pidfd_open: {e}"))?;
    let deadline = hook
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut output = Vec::new();
    let mut out_r = Some(out_r);
    loop {
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "timed out after {}s{}",
                        hook.timeout().unwrap_or_default(),
                        quote_output(&output)
                    ));
                }
                PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                    .unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        if let Some(r) = &out_r {
            fds.push(PollFd::new(r.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, timeout) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("poll: {e}")),
            Ok(_) => {}
        }
        let exited = fds[0].any().unwrap_or(false);
        let readable = fds.get(1).and_then(|f| f.any()).unwrap_or(false);
        drop(fds);
        if readable {
            if let Some(r) = out_r.as_mut() {
                let mut buf = [0u8; 4096];
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => out_r = None,
                    Ok(n) => output.extend_from_slice(&buf[..n]),
                }
            }
        }
        if exited {
            break;
        }
    }
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{status}{}", quote_output(&output)))
    }
}

fn quote_output(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(", output: {text:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: serde_json::Value) -> Hook {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn passes_state_on_stdin_and_env() {
        let dir = std::env::temp_dir().join(format!("berth-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let h = hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {}; echo \"$FOO\" >> {}", out.display(), out.display())],
            "env": ["FOO=bar"]
        }));
        run("prestart", Some(&vec![h]), b"{\"id\":\"x\"}").unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"id\":\"x\"}bar\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failure_quotes_output() {
        let h = hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "echo oops >&2; exit 3"]}),
        );
        let err = run("poststart", Some(&vec![h]), b"{}")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("exit status: 3") && err.contains("oops"),
            "{err}"
        );
    }

    #[test]
    fn timeout_kills() {
        let h = hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "sleep 10"], "timeout": 1}),
        );
        let t = Instant::now();
        let err = run("prestart", Some(&vec![h]), b"{}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("timed out"), "{err}");
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
