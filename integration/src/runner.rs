//! Running the runtime binary the way containerd's shim does: global flags
//! `--root <root> --log <bundle>/log.json --log-format json`, the bundle as working directory,
//! stdin from /dev/null (or a file) and stdout/stderr to files (a container started by `create` or
//! `run --detach` keeps them open, so pipes would never reach EOF).
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io::{Seek, SeekFrom};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::host;
use crate::paths::hang_limit;
use crate::spec::{RUNTIME_ONLY_VAR, TAG_VAR};

/// The runtime under test with one state root.
pub struct Runtime {
    pub bin: PathBuf,
    pub root: PathBuf,
    /// Where the stdout/stderr files of plain calls go.
    scratch: PathBuf,
    calls: AtomicUsize,
}

impl Runtime {
    pub fn new(bin: PathBuf, root: PathBuf, scratch: PathBuf) -> Self {
        Runtime {
            bin,
            root,
            scratch,
            calls: AtomicUsize::new(0),
        }
    }

    /// A call with the global flags, run in `cwd` with its log at `<cwd>/log.json`.
    pub fn call<I, S>(&self, cwd: &Path, args: I) -> Call<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Call {
            rt: self,
            cwd: cwd.to_path_buf(),
            args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            container_io: None,
            fd3: None,
            stdin: None,
            tag: None,
            global_flags: true,
        }
    }
}

/// One invocation of the runtime, before it runs.
pub struct Call<'a> {
    rt: &'a Runtime,
    cwd: PathBuf,
    args: Vec<OsString>,
    container_io: Option<PathBuf>,
    fd3: Option<OwnedFd>,
    stdin: Option<PathBuf>,
    tag: Option<String>,
    global_flags: bool,
}

impl Call<'_> {
    /// stdout/stderr go to `<dir>/ctr.out` and `<dir>/ctr.err` (appended), which the container
    /// inherits; the output of this call is what was appended while it ran.
    pub fn container_io(mut self, dir: &Path) -> Self {
        self.container_io = Some(dir.to_path_buf());
        self
    }

    /// Passes `fd` as fd 3 without close-on-exec, as containerd leaks its socket to `create`.
    pub fn fd3(mut self, fd: OwnedFd) -> Self {
        self.fd3 = Some(fd);
        self
    }

    /// Feeds the file at `path` to the runtime's stdin (as containerd pipes
    /// `update --resources -`) instead of /dev/null.
    pub fn stdin(mut self, path: &Path) -> Self {
        self.stdin = Some(path.to_path_buf());
        self
    }

    /// Marks the runtime process (and so the processes it forks) with the container's tag.
    pub fn tag(mut self, id: &str) -> Self {
        self.tag = Some(id.to_string());
        self
    }

    /// Leaves out `--root`, `--log` and `--log-format` (as podman without JSON support).
    pub fn without_global_flags(mut self) -> Self {
        self.global_flags = false;
        self
    }

    /// Runs the call to completion (panics if the runtime cannot be started or hangs).
    pub fn run(self) -> Output {
        self.spawn().wait()
    }

    /// Like [`Call::run`], but reports problems instead of panicking (for cleanup code).
    pub fn try_run(self) -> Result<Output, String> {
        self.try_spawn()?.try_wait()
    }

    /// Starts the runtime without waiting for it.
    pub fn spawn(self) -> Running {
        self.try_spawn().unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_spawn(self) -> Result<Running, String> {
        let log = self.cwd.join("log.json");
        let mut argv: Vec<OsString> = Vec::new();
        if self.global_flags {
            argv.push("--root".into());
            argv.push(self.rt.root.clone().into());
            argv.push("--log".into());
            argv.push(log.clone().into());
            argv.push("--log-format".into());
            argv.push("json".into());
        }
        argv.extend(self.args);
        let (out, err) = match &self.container_io {
            Some(dir) => (dir.join("ctr.out"), dir.join("ctr.err")),
            None => {
                let n = self.rt.calls.fetch_add(1, Ordering::Relaxed);
                let base = self.rt.scratch.join(format!("call-{n}"));
                (base.with_extension("out"), base.with_extension("err"))
            }
        };
        let (out_file, out_off) = open_append(&out);
        let (err_file, err_off) = open_append(&err);
        let log_off = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        let stdin = match &self.stdin {
            Some(p) => {
                Stdio::from(fs::File::open(p).map_err(|e| format!("open {}: {e}", p.display()))?)
            }
            None => Stdio::null(),
        };
        let mut cmd = Command::new(&self.rt.bin);
        cmd.args(&argv)
            .current_dir(&self.cwd)
            .stdin(stdin)
            .stdout(out_file)
            .stderr(err_file)
            .env(RUNTIME_ONLY_VAR, "1");
        if let Some(tag) = &self.tag {
            cmd.env(TAG_VAR, tag);
        }
        let fd3 = self.fd3;
        if let Some(fd) = &fd3 {
            let raw = fd.as_raw_fd();
            // SAFETY: only fcntl/dup2 (async-signal-safe) run between fork and exec; dup2
            // clears close-on-exec on the new fd 3. `fd` stays open in the parent until the
            // child has been spawned.
            unsafe {
                cmd.pre_exec(move || {
                    if raw == 3 {
                        let flags = libc::fcntl(3, libc::F_GETFD);
                        libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
                    } else if libc::dup2(raw, 3) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd.spawn();
        drop(fd3);
        let argv = std::iter::once(self.rt.bin.as_os_str())
            .chain(argv.iter().map(OsString::as_os_str))
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let child = child.map_err(|e| format!("spawn {argv}: {e}"))?;
        Ok(Running {
            child,
            argv,
            own_files: self.container_io.is_none(),
            files: [(out, out_off), (err, err_off), (log, log_off)],
        })
    }
}

fn open_append(path: &Path) -> (fs::File, u64) {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let off = f.seek(SeekFrom::End(0)).expect("seek");
    (f, off)
}

/// A runtime process that was started and has not been waited for.
pub struct Running {
    child: Child,
    argv: String,
    /// The output files are per call and removed after reading.
    own_files: bool,
    files: [(PathBuf, u64); 3],
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for the runtime to exit (panics after the hang limit, killing it).
    pub fn wait(self) -> Output {
        self.try_wait().unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_wait(mut self) -> Result<Output, String> {
        if !host::wait_for_exit(self.pid(), hang_limit()) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return Err(format!("runtime hung: {}", self.argv));
        }
        let status = self
            .child
            .wait()
            .map_err(|e| format!("wait for {}: {e}", self.argv))?;
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        let [(out, out_off), (err, err_off), (log, log_off)] = &self.files;
        let stdout = read_from(out, *out_off);
        let stderr = read_from(err, *err_off);
        let log = read_from(log, *log_off)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| Value::String(l.to_string())))
            .collect();
        if self.own_files {
            let _ = fs::remove_file(out);
            let _ = fs::remove_file(err);
        }
        Ok(Output {
            argv: std::mem::take(&mut self.argv),
            code,
            stdout,
            stderr,
            log,
        })
    }
}

fn read_from(path: &Path, offset: u64) -> String {
    let data = fs::read(path).unwrap_or_default();
    let start = (offset as usize).min(data.len());
    String::from_utf8_lossy(&data[start..]).into_owned()
}

/// What one runtime call did.
pub struct Output {
    pub argv: String,
    /// The exit code, or 128 + the signal that killed the runtime.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The lines this call added to the `--log` file, parsed as JSON where possible.
    pub log: Vec<Value>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// Panics (showing everything) unless the call succeeded.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert!(self.success(), "expected success:\n{self}");
        self
    }

    /// The `msg` of every `{"level":"error","msg":...,"time":...}` line in the log.
    pub fn log_errors(&self) -> Vec<String> {
        self.log
            .iter()
            .filter(|l| l["level"] == "error" && l["time"].is_string())
            .filter_map(|l| l["msg"].as_str().map(str::to_string))
            .filter(|m| !m.is_empty())
            .collect()
    }

    /// Panics unless the call failed and logged its error as a JSON line in the `--log` file.
    #[track_caller]
    pub fn failed(&self) -> &Self {
        assert!(!self.success(), "expected failure:\n{self}");
        assert!(
            !self.log_errors().is_empty(),
            "no {{\"level\":\"error\",\"msg\":...,\"time\":...}} line in the log:\n{self}"
        );
        self
    }

    /// Like [`Output::failed`], and stderr holds exactly one non-empty line.
    #[track_caller]
    pub fn failed_with_one_line(&self) -> &Self {
        self.failed();
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "expected a one-line error on stderr:\n{self}"
        );
        self
    }

    /// Whether stderr or the logged error mentions `text` (case-insensitive).
    pub fn mentions(&self, text: &str) -> bool {
        let text = text.to_lowercase();
        self.stderr.to_lowercase().contains(&text)
            || self
                .log_errors()
                .iter()
                .any(|m| m.to_lowercase().contains(&text))
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  command: {}", self.argv)?;
        writeln!(f, "  exit: {}", self.code)?;
        writeln!(f, "  stdout: {:?}", self.stdout)?;
        writeln!(f, "  stderr: {:?}", self.stderr)?;
        for l in &self.log {
            writeln!(f, "  log: {l}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
