//! One test's world: a scratch directory, a private state root, unique container ids, the
//! runtime runner, and a drop guard that always cleans up (`delete --force`, leftover
//! processes, cgroups, mounts, files), even when the test panics.
use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bundle::Bundle;
use crate::host;
use crate::paths::{hang_limit, runtime_bin, scratch_base};
use crate::runner::{Call, Output, Runtime};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct TestEnv {
    name: String,
    /// The scratch directory; bundles live under it.
    pub dir: PathBuf,
    pub rt: Runtime,
    /// (id, tag) of every container this test may have made.
    ids: Mutex<Vec<(String, String)>>,
    /// Processes to kill at the end, held by pidfd so that a reused pid is never hit.
    pids: Mutex<Vec<OwnedFd>>,
}

impl TestEnv {
    /// A fresh environment for the test `name` (used in ids: keep it short).
    pub fn new(name: &str) -> TestEnv {
        static SETUP: Once = Once::new();
        SETUP.call_once(|| {
            let bin = runtime_bin();
            assert!(
                bin.is_file(),
                "runtime {} not found: build it (cargo build -p berth-cli) or set BERTH_BIN",
                bin.display()
            );
            let shared = host::shared_mounts();
            assert!(
                shared.is_empty(),
                "mounts {shared:?} propagate to the host: run the tests in a private mount \
                 namespace (unshare -m --propagation private cargo test ...)"
            );
            host::become_subreaper();
        });
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = scratch_base().join(format!("{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let rt = Runtime::new(runtime_bin(), dir.join("root"), dir.clone());
        TestEnv {
            name: name.to_string(),
            dir,
            rt,
            ids: Mutex::new(Vec::new()),
            pids: Mutex::new(Vec::new()),
        }
    }

    /// A container id unique to this process and test: `<test>-<pid>-<counter>`.
    pub fn unique_id(&self) -> String {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!("{}-{}-{n}", self.name, std::process::id())
    }

    /// A new bundle with a unique id.
    pub fn bundle(&self) -> Bundle {
        let id = self.unique_id();
        self.track(&id, &id);
        Bundle::new(&id, &id, self.dir.join(&id))
    }

    /// A new bundle for the given (possibly invalid) id; its directory, cgroup and tag use a
    /// safe unique name.
    pub fn bundle_for_id(&self, id: &str) -> Bundle {
        let tag = self.unique_id();
        self.track(id, &tag);
        Bundle::new(id, &tag, self.dir.join(&tag))
    }

    /// Remembers a container for the cleanup: `delete --force <id>`, then whatever still
    /// carries `tag`.
    pub fn track(&self, id: &str, tag: &str) {
        let mut ids = self.ids.lock().unwrap();
        let entry = (id.to_string(), tag.to_string());
        if !ids.contains(&entry) {
            ids.push(entry);
        }
    }

    /// Remembers a process for the cleanup to kill (and reap). Call it while the process
    /// cannot have been reaped yet (our child or reparented to us, not waited for).
    pub fn track_pid(&self, pid: i32) {
        self.forget_exited();
        if let Some(fd) = host::pidfd_open(pid) {
            self.pids.lock().unwrap().push(fd);
        }
    }

    /// Drops the pidfds of tracked processes that have exited (they need no killing; a zombie
    /// among them stays for the test to reap).
    pub fn forget_exited(&self) {
        self.pids
            .lock()
            .unwrap()
            .retain(|fd| !host::pidfd_exited(fd));
    }

    /// A runtime call with the global flags, in the bundle directory, tagged with its id.
    pub fn call<I, S>(&self, b: &Bundle, args: I) -> Call<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.rt.call(&b.dir, args).tag(&b.tag)
    }

    /// A call that concerns no bundle (runs in the scratch directory).
    pub fn call_here<I, S>(&self, args: I) -> Call<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.rt.call(&self.dir, args)
    }

    /// The create call as containerd makes it, for adding flags and fds:
    /// `create --bundle <b> --pid-file <b>/init.pid [extra...] <id>`.
    pub fn create_call(&self, b: &Bundle, extra: &[&str]) -> Call<'_> {
        let mut args: Vec<String> = vec!["create".into(), "--bundle".into()];
        args.push(b.dir.display().to_string());
        args.push("--pid-file".into());
        args.push(b.pid_file().display().to_string());
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(b.id.clone());
        self.call(b, args).container_io(&b.dir)
    }

    /// Writes config.json and creates the container; records init's pid on success.
    pub fn create(&self, b: &Bundle) -> Output {
        b.write_config();
        self.finish_create(b, self.create_call(b, &[]).run())
    }

    /// Create with extra flags and (optionally) a leaked fd 3.
    pub fn create_with(&self, b: &Bundle, extra: &[&str], fd3: Option<OwnedFd>) -> Output {
        b.write_config();
        let mut call = self.create_call(b, extra);
        if let Some(fd) = fd3 {
            call = call.fd3(fd);
        }
        self.finish_create(b, call.run())
    }

    fn finish_create(&self, b: &Bundle, out: Output) -> Output {
        if out.success() {
            if let Some(pid) = fs::read_to_string(b.pid_file())
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                self.track_pid(pid);
            }
        }
        out
    }

    pub fn start(&self, b: &Bundle) -> Output {
        self.call(b, ["start", &b.id]).run()
    }

    /// Create and start, asserting both succeed; returns init's pid.
    #[track_caller]
    pub fn create_and_start(&self, b: &Bundle) -> i32 {
        self.create(b).ok();
        self.start(b).ok();
        b.pid()
    }

    pub fn state(&self, b: &Bundle) -> Output {
        self.call(b, ["state", &b.id]).run()
    }

    /// The parsed output of a successful `state`.
    #[track_caller]
    pub fn state_json(&self, b: &Bundle) -> Value {
        let out = self.state(b);
        out.ok();
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("state is not JSON ({e}):\n{out}"))
    }

    /// The `status` that `state` reports.
    #[track_caller]
    pub fn status(&self, b: &Bundle) -> String {
        self.state_json(b)["status"]
            .as_str()
            .expect("state has a status")
            .to_string()
    }

    pub fn kill(&self, b: &Bundle, signal: &str) -> Output {
        self.call(b, ["kill", &b.id, signal]).run()
    }

    pub fn delete(&self, b: &Bundle) -> Output {
        self.call(b, ["delete", &b.id]).run()
    }

    pub fn delete_force(&self, b: &Bundle) -> Output {
        self.call(b, ["delete", "--force", &b.id]).run()
    }

    /// `run` in the foreground: returns when the container has exited; the exit code is the
    /// container's. The container's output is in `stdout`/`stderr`.
    pub fn run(&self, b: &Bundle) -> Output {
        self.run_call(b).run()
    }

    /// The foreground `run` call (writes config.json), to spawn and wait for later.
    pub fn run_call(&self, b: &Bundle) -> Call<'_> {
        b.write_config();
        let bundle = b.dir.display().to_string();
        self.call(b, ["run", "--bundle", &bundle, &b.id])
            .container_io(&b.dir)
    }

    /// `run --detach`: returns once the process has started; records its pid.
    pub fn run_detached(&self, b: &Bundle) -> Output {
        b.write_config();
        let bundle = b.dir.display().to_string();
        let pid_file = b.pid_file().display().to_string();
        let out = self
            .call(
                b,
                [
                    "run",
                    "--detach",
                    "--bundle",
                    &bundle,
                    "--pid-file",
                    &pid_file,
                    &b.id,
                ],
            )
            .container_io(&b.dir)
            .run();
        self.finish_create(b, out)
    }

    /// Runs the payload report in the foreground and parses it (the run must succeed).
    #[track_caller]
    pub fn report(&self, b: &Bundle) -> crate::payload::Report {
        let out = self.run(b);
        out.ok();
        crate::payload::Report::parse(&out.stdout)
    }

    /// Everything the container of bundle `b` could leave behind, described; empty if
    /// nothing.
    pub fn leftovers(&self, b: &Bundle) -> Vec<String> {
        let mut found = Vec::new();
        if !b.id.is_empty() && !b.id.contains('/') && b.id != "." && b.id != ".." {
            let state = self.rt.root.join(&b.id);
            if fs::symlink_metadata(&state).is_ok() {
                found.push(format!("state dir {}", state.display()));
            }
        }
        for pid in host::processes_of(&b.tag) {
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            found.push(format!("process {pid} ({})", cmd.trim()));
        }
        for dir in host::cgroup_dirs(&b.tag) {
            found.push(format!("cgroup {}", dir.display()));
        }
        for m in host::mounts_under(&self.dir) {
            found.push(format!("mount {m}"));
        }
        found
    }

    /// Asserts that the container of `b` left nothing behind: no state dir, process, cgroup,
    /// or mount under this test's directory.
    #[track_caller]
    pub fn assert_nothing_left(&self, b: &Bundle) {
        let found = self.leftovers(b);
        assert!(found.is_empty(), "left behind by {:?}: {found:#?}", b.id);
    }

    /// Asserts that the state root holds no container at all.
    #[track_caller]
    pub fn assert_root_empty(&self) {
        let entries: Vec<String> = fs::read_dir(&self.rt.root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(entries.is_empty(), "state root not empty: {entries:?}");
    }
}

/// True (and says so on stderr) when the runtime under test is runc and runc 1.1.5 is known to
/// differ from what berth must do here: the caller then skips that one check. Every such place
/// is a deliberate difference, documented by `reason`. `BERTH_TEST_STRICT=1` turns the skips
/// off, to see each difference fail.
pub fn runc_differs(reason: &str) -> bool {
    let runc = crate::paths::testing_runc() && std::env::var_os("BERTH_TEST_STRICT").is_none();
    if runc {
        eprintln!("runc differs from berth's requirement (check skipped): {reason}");
    }
    runc
}

/// Polls `cond` until it holds (panics after the hang limit: only a safety net).
#[track_caller]
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + hang_limit();
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until the file at `path` exists and is not empty.
#[track_caller]
pub fn wait_for_file(path: &Path) {
    wait_until(&format!("{}", path.display()), || {
        fs::metadata(path).is_ok_and(|m| m.len() > 0)
    });
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut *self.ids.lock().unwrap_or_else(|e| e.into_inner()));
        for (id, _) in &ids {
            // The state root may be gone or the id invalid: errors do not matter here.
            let _ = self.rt.call(&self.dir, ["delete", "--force", id]).try_run();
        }
        let pids = std::mem::take(&mut *self.pids.lock().unwrap_or_else(|e| e.into_inner()));
        for fd in &pids {
            host::kill_pidfd(fd);
        }
        for (_, tag) in &ids {
            for pid in host::processes_of(tag) {
                host::kill_if_ours(pid, tag);
            }
            host::remove_cgroups(tag);
        }
        let mut mounts = host::mounts_under(&self.dir);
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        let keep = std::thread::panicking() && std::env::var_os("BERTH_TEST_KEEP").is_some();
        if keep {
            eprintln!("kept {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
