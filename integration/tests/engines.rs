//! A real engine drives the runtime under test: integration/engines/containerd.sh starts a
//! private containerd (CRI disabled), imports a busybox image built with umoci, and runs
//! `ctr run --runc-binary <runtime>`: output, `task ps`, pause/resume, kill, delete. It runs in
//! this test's private mount namespace (containerd's snapshot mounts stay in it).
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use berth_integration::host;
use berth_integration::paths::{hang_limit, runtime_bin, workspace};

fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
}

/// Processes whose process group is `pgid`.
fn group_members(pgid: i32) -> Vec<i32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, r)| r.split_whitespace().collect())
                .unwrap_or_default();
            fields.get(2).and_then(|g| g.parse().ok()) == Some(pgid)
        })
        .collect()
}

fn cmdline(pid: i32) -> String {
    String::from_utf8_lossy(&fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default())
        .replace('\0', " ")
}

/// After a hang: kills the script's process group and the containerd shims that belong to its
/// private containerd (their command lines name its directory), and removes that directory.
fn kill_hung_script(pgid: i32) {
    let members = group_members(pgid);
    let dirs: Vec<String> = members
        .iter()
        .flat_map(|&pid| {
            cmdline(pid)
                .split_whitespace()
                .filter_map(|w| {
                    let rest = w.strip_prefix("/tmp/berth-containerd.")?;
                    let name = rest.split('/').next()?;
                    Some(format!("/tmp/berth-containerd.{name}"))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    // SAFETY: kill(2) of our own child's process group.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    for dir in &dirs {
        for pid in fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        {
            if let Some(fd) = host::pidfd_open(pid) {
                if cmdline(pid).contains(dir.as_str()) {
                    host::kill_pidfd(&fd);
                }
            }
        }
        let mut mounts = host::mounts_under(Path::new(dir));
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = fs::remove_dir_all(dir);
    }
}

#[test]
fn containerd_runs_containers_with_the_runtime() {
    let missing: Vec<&str> = ["containerd", "ctr", "umoci"]
        .into_iter()
        .filter(|c| !on_path(c))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "skipped: {} not installed (scripts/test.sh installs them)",
            missing.join(", ")
        );
        return;
    }
    let bin = runtime_bin();
    assert!(bin.is_file(), "runtime {} not found", bin.display());
    let shared = host::shared_mounts();
    assert!(
        shared.is_empty(),
        "mounts {shared:?} propagate to the host: run in a private mount namespace"
    );
    let script = workspace().join("integration/engines/containerd.sh");
    let child = Command::new("bash")
        .arg(&script)
        .arg(&bin)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    let pid = child.id() as i32;
    let limit = hang_limit() * 2;
    if !host::wait_for_exit(pid, limit) {
        kill_hung_script(pid);
        let out = child.wait_with_output().expect("wait for containerd.sh");
        panic!(
            "containerd.sh hung for {limit:?} with {}; it printed:\n{}{}",
            bin.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = child.wait_with_output().expect("wait for containerd.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("containerd.sh: all passed"),
        "containerd.sh {} failed ({}):\n{text}",
        bin.display(),
        out.status
    );
}
