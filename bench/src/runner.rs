//! Invoking a runtime binary: each invocation timed from spawn to reaped exit, its failure
//! reduced to the first error line, and every container it holds tracked so that all of them
//! are deleted in the end, whatever happened.
use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use crate::sys;

#[derive(Debug)]
pub struct Outcome {
    pub elapsed: Duration,
}

/// Runs `cmd` with stdin and stdout on /dev/null and stderr into `err_file`. The time covers
/// spawn to reaped exit. A failure is the first error line the program printed; a program
/// still running after `timeout` is killed with its process group (its own: a terminal's ^C
/// reaches only the tool, which then cleans up).
pub fn timed(cmd: &mut Command, err_file: &Path, timeout: Duration) -> Result<Outcome, String> {
    quiet(cmd, err_file)?;
    let start = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", cmd.get_program().to_string_lossy()))?;
    let pid = child.id() as i32;
    let exited = sys::exits_within(pid, timeout).map_err(|e| format!("pidfd poll: {e}"))?;
    if !exited {
        // The leader is not reaped yet, so the group is still this child's.
        let _ = kill(Pid::from_raw(-pid), Signal::SIGKILL);
    }
    let status = sys::wait_status(pid).map_err(|e| format!("waitpid: {e}"))?;
    let elapsed = start.elapsed();
    if !exited {
        return Err(format!("no exit within {:?}: killed", timeout));
    }
    match status {
        WaitStatus::Exited(_, 0) => Ok(Outcome { elapsed }),
        other => {
            let text = fs::read_to_string(err_file).unwrap_or_default();
            Err(first_error(&text).unwrap_or_else(|| format!("{other:?}")))
        }
    }
}

/// Gives `cmd` a process group of its own, stdin and stdout on /dev/null and stderr into
/// `err_file`: a fresh file every time, as containers that inherited the previous one keep
/// writing there.
fn quiet(cmd: &mut Command, err_file: &Path) -> Result<(), String> {
    let _ = fs::remove_file(err_file);
    let stderr =
        File::create(err_file).map_err(|e| format!("create {}: {e}", err_file.display()))?;
    cmd.process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    Ok(())
}

/// Runs `cmd` like [`timed`] (without a time limit) under ptrace, and returns the peak RSS
/// of the program it runs, in KiB (see [`sys::peak_rss_at_exit`]). Not timed: the stops at
/// its exec and exit would add to the time.
pub fn peak_rss(cmd: &mut Command, err_file: &Path) -> Result<i64, String> {
    quiet(cmd, err_file)?;
    sys::trace_at_exec(cmd);
    let child = cmd
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", cmd.get_program().to_string_lossy()))?;
    let pid = child.id() as i32;
    // Its first stop: the exec.
    sys::wait_status(pid).map_err(|e| format!("waitpid: {e}"))?;
    match sys::peak_rss_at_exit(pid)? {
        (WaitStatus::Exited(_, 0), Some(kib)) => Ok(kib),
        (WaitStatus::Exited(_, 0), None) => Err("no VmHWM at its exit".into()),
        (other, _) => {
            let text = fs::read_to_string(err_file).unwrap_or_default();
            Err(first_error(&text).unwrap_or_else(|| format!("{other:?}")))
        }
    }
}

/// The line that says what went wrong: the first one mentioning an error (else the first
/// line), reduced to its `msg="…"` for logrus-style lines.
fn first_error(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    let line = lines
        .clone()
        .find(|l| l.to_ascii_lowercase().contains("error"))
        .or_else(|| lines.next())?;
    let msg = line
        .split_once("msg=\"")
        .and_then(|(_, rest)| rest.rsplit_once('"'))
        .map_or(line, |(msg, _)| msg);
    Some(msg.to_string())
}

/// A runtime binary with its own state root, and the containers it currently holds.
pub struct Runtime {
    pub name: String,
    pub path: PathBuf,
    root: PathBuf,
    work: PathBuf,
    prefix: String,
    timeout: Duration,
    next: u32,
    /// Containers not deleted yet, with their init's pid once known and not yet reaped.
    live: Vec<(String, Option<i32>)>,
}

impl Runtime {
    /// A runtime whose state root and scratch files live under `dir`.
    /// Every invocation, and every wait for an init, is given up after `timeout`.
    pub fn new(
        name: &str,
        path: PathBuf,
        dir: &Path,
        timeout: Duration,
    ) -> Result<Runtime, String> {
        let root = dir.join("root");
        let work = dir.join("work");
        for d in [&root, &work] {
            fs::create_dir_all(d).map_err(|e| format!("create {}: {e}", d.display()))?;
        }
        Ok(Runtime {
            name: name.to_string(),
            path,
            root,
            work,
            prefix: format!("bb{}-{name}", std::process::id()),
            timeout,
            next: 0,
            live: Vec::new(),
        })
    }

    /// A container id that no other runtime or run uses (cgroup paths derive from it).
    pub fn new_id(&mut self) -> String {
        self.next += 1;
        format!("{}-{}", self.prefix, self.next)
    }

    fn invoke<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Outcome, String> {
        let mut cmd = Command::new(&self.path);
        cmd.arg("--root").arg(&self.root).args(args);
        timed(&mut cmd, &self.work.join("stderr"), self.timeout)
    }

    /// `run` in the foreground until the container exits (the runtime deletes it).
    pub fn run(&mut self, bundle: &Path) -> Result<Duration, String> {
        let id = self.new_id();
        self.live.push((id.clone(), None));
        match self.invoke(&[
            OsStr::new("run"),
            "--bundle".as_ref(),
            bundle.as_ref(),
            id.as_ref(),
        ]) {
            Ok(o) => {
                // A foreground `run` deletes the container itself.
                self.forget(&id);
                Ok(o.elapsed)
            }
            Err(e) => {
                self.remove(&id);
                Err(format!("run: {e}"))
            }
        }
    }

    /// `create --bundle B --pid-file P id`; returns the outcome and the init's pid.
    pub fn create(&mut self, bundle: &Path, id: &str) -> Result<(Outcome, i32), String> {
        let pid_file = self.work.join(format!("{id}.pid"));
        self.live.push((id.to_string(), None));
        let created = self
            .invoke(&[
                OsStr::new("create"),
                "--bundle".as_ref(),
                bundle.as_ref(),
                "--pid-file".as_ref(),
                pid_file.as_ref(),
                id.as_ref(),
            ])
            .and_then(|o| {
                let text = fs::read_to_string(&pid_file)
                    .map_err(|e| format!("read {}: {e}", pid_file.display()))?;
                let pid = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("pid file holds {text:?}"))?;
                Ok((o, pid))
            });
        let _ = fs::remove_file(&pid_file);
        match created {
            Ok((o, pid)) => {
                self.set_pid(id, Some(pid));
                Ok((o, pid))
            }
            Err(e) => {
                self.remove(id);
                Err(format!("create: {e}"))
            }
        }
    }

    /// The peak RSS of `create` (KiB), measured in its own invocation (see [`peak_rss`]); the
    /// container is removed again.
    pub fn create_peak_rss(&mut self, bundle: &Path) -> Result<f64, String> {
        let id = self.new_id();
        self.live.push((id.clone(), None));
        let mut cmd = Command::new(&self.path);
        cmd.arg("--root").arg(&self.root);
        cmd.args([OsStr::new("create"), "--bundle".as_ref(), bundle.as_ref()]);
        cmd.arg(&id);
        let peak = peak_rss(&mut cmd, &self.work.join("stderr"));
        self.remove(&id);
        peak.map(|k| k as f64).map_err(|e| format!("create: {e}"))
    }

    /// A command that takes only the id: `start`, `state`.
    pub fn call(&self, verb: &str, id: &str) -> Result<Duration, String> {
        self.invoke(&[verb, id])
            .map(|o| o.elapsed)
            .map_err(|e| format!("{verb}: {e}"))
    }

    pub fn exec_true(&self, id: &str) -> Result<Duration, String> {
        self.invoke(&["exec", id, "/bin/true"])
            .map(|o| o.elapsed)
            .map_err(|e| format!("exec: {e}"))
    }

    pub fn list(&self) -> Result<Duration, String> {
        self.invoke(&["list"])
            .map(|o| o.elapsed)
            .map_err(|e| format!("list: {e}"))
    }

    /// Waits for the init of `id` to exit and reaps it (it is the tool's child: subreaper).
    pub fn wait_init(&mut self, id: &str) -> Result<Duration, String> {
        let pid = self
            .live
            .iter()
            .find(|(i, _)| i == id)
            .and_then(|(_, pid)| *pid)
            .ok_or_else(|| format!("wait: no init pid for {id}"))?;
        let start = Instant::now();
        let failed = |e| format!("wait for init {pid}: {e}");
        if !sys::exits_within(pid, self.timeout).map_err(failed)? {
            return Err(format!(
                "wait: init {pid} still running after {:?}",
                self.timeout
            ));
        }
        sys::wait_exit(pid).map_err(failed)?;
        self.set_pid(id, None);
        Ok(start.elapsed())
    }

    /// `delete id` of a stopped container.
    pub fn delete(&mut self, id: &str) -> Result<Duration, String> {
        let elapsed = self.call("delete", id)?;
        self.forget(id);
        Ok(elapsed)
    }

    /// Makes sure `id` is gone, untimed: kills and reaps its init if it is still the tool's
    /// child (runc's `delete --force` of a live container polls for its end for ~0.1 s), then
    /// `delete --force`.
    pub fn remove(&mut self, id: &str) {
        if let Some(entry) = self.live.iter_mut().find(|(l, _)| l == id) {
            if let Some(pid) = entry.1.take() {
                sys::kill_child(pid);
            }
            let _ = self.invoke(&["delete", "--force", id]);
            self.forget(id);
        }
    }

    /// Stops tracking `id` (deleted); an init still alive is killed and reaped.
    fn forget(&mut self, id: &str) {
        if let Some(i) = self.live.iter().position(|(l, _)| l == id) {
            if let (_, Some(pid)) = self.live.swap_remove(i) {
                sys::kill_child(pid);
            }
        }
        sys::reap_orphans();
    }

    fn set_pid(&mut self, id: &str, pid: Option<i32>) {
        if let Some(entry) = self.live.iter_mut().find(|(l, _)| l == id) {
            entry.1 = pid;
        }
    }

    /// The first line of `--version`.
    pub fn version(&self) -> String {
        match Command::new(&self.path).arg("--version").output() {
            Ok(out) => String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or("unknown")
                .to_string(),
            Err(e) => format!("unknown ({e})"),
        }
    }

    /// Whether the runtime has an `exec` command (`exec --help` succeeds).
    pub fn has_exec(&self) -> bool {
        Command::new(&self.path)
            .args(["exec", "--help"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let ids: Vec<String> = self.live.iter().map(|(id, _)| id.clone()).collect();
        for id in ids {
            self.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logrus_lines_reduce_to_their_message() {
        let stderr = "time=\"2026-01-01T00:00:00Z\" level=warning msg=\"slow\"\n\
                      time=\"2026-01-01T00:00:00Z\" level=error msg=\"container \\\"x\\\" does not exist\"\n";
        assert_eq!(
            first_error(stderr).as_deref(),
            Some("container \\\"x\\\" does not exist")
        );
    }

    #[test]
    fn plain_lines() {
        assert_eq!(
            first_error("\nsomething broke\nmore\n").as_deref(),
            Some("something broke")
        );
        assert_eq!(
            first_error("note\nError: no such file\n").as_deref(),
            Some("Error: no such file")
        );
        assert_eq!(first_error(" \n"), None);
    }

    #[test]
    fn timed_reports_failure_text_and_success_time() {
        let err = std::env::temp_dir().join(format!("berth-bench-err-{}", std::process::id()));
        let t = Duration::from_secs(5);
        let ok = timed(&mut Command::new("true"), &err, t).unwrap();
        assert!(ok.elapsed > Duration::ZERO);
        let fail = timed(
            Command::new("sh").args(["-c", "echo 'bad thing' >&2; exit 3"]),
            &err,
            t,
        );
        assert_eq!(fail.err().as_deref(), Some("bad thing"));
        let silent = timed(Command::new("sh").args(["-c", "exit 3"]), &err, t);
        assert!(silent.unwrap_err().contains("Exited"));
        let hung = timed(
            Command::new("sleep").arg("10"),
            &err,
            Duration::from_millis(100),
        );
        assert_eq!(hung.unwrap_err(), "no exit within 100ms: killed");
        fs::remove_file(&err).unwrap();
    }
}
