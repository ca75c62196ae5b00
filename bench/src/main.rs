//! `berth-bench`: berth against runc and crun on one machine in one run: launch latency of
//! every command a shim uses, memory, `list` and the cycle under load, binary size. It measures
//! and reports; it is not a test and judges nothing.
#![deny(unsafe_code)]
mod bundle;
mod report;
mod runner;
mod stats;
#[allow(unsafe_code)]
mod sys;
mod table;
mod workloads;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use runner::Runtime;
use stats::Series;
use workloads::Bench;

#[derive(Parser, Debug)]
#[command(name = "berth-bench", about = "Benchmark berth against runc and crun")]
struct Options {
    /// Runtimes to compare (berth, runc, crun), in the order of the first round.
    #[arg(long, value_delimiter = ',', default_value = "berth,runc,crun")]
    runtimes: Vec<String>,
    /// The berth binary.
    #[arg(long, default_value = "target/release/berth")]
    berth: PathBuf,
    /// The runc binary.
    #[arg(long, default_value = "runc")]
    runc: PathBuf,
    /// The crun binary.
    #[arg(long, default_value = "crun")]
    crun: PathBuf,
    /// Interleaved rounds of run, cycle and exec [default: 50, --quick: 5].
    #[arg(long)]
    rounds: Option<usize>,
    /// Created containers during `list` [default: 1000, --quick: 100].
    #[arg(long)]
    list: Option<usize>,
    /// Running containers during the loaded shim cycle [default: 100, --quick: 20].
    #[arg(long)]
    running: Option<usize>,
    /// Samples per runtime in the `list` and loaded-cycle phases [default: 40, --quick: 5].
    #[arg(long)]
    samples: Option<usize>,
    /// Smaller defaults: a run of well under a minute.
    #[arg(long)]
    quick: bool,
    /// Seconds after which a runtime invocation, or a container's /bin/true, counts as hung: it
    /// is killed and the workload fails for that runtime.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// busybox-static, copied into the bundles.
    #[arg(long, default_value = "/bin/busybox")]
    busybox: PathBuf,
    /// Where to write the results page (it is also printed).
    #[arg(long, default_value = "target/bench/results.md")]
    out: PathBuf,
}

impl Options {
    fn pick(&self, value: Option<usize>, full: usize, quick: usize) -> usize {
        value.unwrap_or(if self.quick { quick } else { full })
    }
}

fn main() -> ExitCode {
    let opts = Options::parse();
    match bench(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bench(o: &Options) -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("must run as root".into());
    }
    let mut runtimes = Vec::new();
    for name in &o.runtimes {
        let path = match name.as_str() {
            "berth" => &o.berth,
            "runc" => &o.runc,
            "crun" => &o.crun,
            other => return Err(format!("--runtimes: unknown runtime {other:?}")),
        };
        runtimes.push((name.as_str(), resolve(path)?));
    }
    let (rounds, list) = (o.pick(o.rounds, 50, 5), o.pick(o.list, 1000, 100));
    let (running, samples) = (o.pick(o.running, 100, 20), o.pick(o.samples, 40, 5));

    // While still single-threaded: the mount namespace, then the rest of the process setup.
    let unified_unmounted =
        sys::private_mount_namespace().map_err(|e| format!("private mount namespace: {e}"))?;
    sys::become_subreaper().map_err(|e| format!("PR_SET_CHILD_SUBREAPER: {e}"))?;
    sys::catch_interrupts().map_err(|e| format!("sigaction: {e}"))?;
    let load_before = fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();

    // Declared before the runtimes, so dropped after them: containers go, then the files.
    let work = Workdir::create()?;
    let bundles = bundle::make(&work.0, &o.busybox)
        .map_err(|e| format!("make bundles from {}: {e}", o.busybox.display()))?;
    let mut benches = Vec::new();
    for (name, path) in runtimes {
        let timeout = Duration::from_secs(o.timeout);
        let rt = Runtime::new(name, path, &work.0.join(name), timeout)?;
        benches.push(Bench::new(rt));
    }

    let started = Instant::now();
    eprintln!("{rounds} rounds of run, shim cycle and exec");
    let mut floor = Series::default();
    workloads::rounds(&mut benches, &bundles, rounds, &mut floor, &work.0)?;
    // Before `list`: the teardown of its many containers keeps the kernel busy for a while.
    eprintln!(
        "shim cycle with no and {running} running containers, one runtime at a time, in turns"
    );
    if let Some(first) = benches.first_mut() {
        if let Err(e) = first.warm_up(&bundles, running) {
            eprintln!("  warm-up: {e}");
        }
    }
    // In turns, a few times over: the machine drifts over a run by more than the 10% this
    // phase is about, and one long stretch per runtime would charge the drift to one of them.
    let n = benches.len();
    for turn in 0..workloads::BUSY_TURNS {
        let per_turn = samples.div_ceil(workloads::BUSY_TURNS);
        for i in 0..n {
            benches[(turn + i) % n].busy_phase(&bundles, running, per_turn)?;
        }
    }
    eprintln!("`list` with {list} created containers, one runtime at a time");
    for b in &mut benches {
        b.list_phase(&bundles.truth, list, samples)?;
    }

    let setup = report::Setup {
        rounds,
        list_count: list,
        running,
        phase_samples: samples,
        unified_unmounted,
        load_before,
        elapsed_s: started.elapsed().as_secs_f64(),
    };
    let page = report::render(&setup, &benches, &floor, &work.0);
    print!("{page}");
    if let Some(dir) = o.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    fs::write(&o.out, &page).map_err(|e| format!("write {}: {e}", o.out.display()))?;
    eprintln!("written to {}", o.out.display());
    Ok(())
}

/// An absolute path to the program: as given if it has a slash, else found in `PATH`.
fn resolve(program: &Path) -> Result<PathBuf, String> {
    let found = if program.components().count() > 1 {
        fs::canonicalize(program).ok()
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .find(|p| p.is_file())
        })
    };
    found.ok_or_else(|| format!("{}: not found", program.display()))
}

/// The tool's scratch directory (bundles, state roots): a tmpfs (see [`sys::mount_scratch`]),
/// removed at the end.
struct Workdir(PathBuf);

impl Workdir {
    fn create() -> Result<Workdir, String> {
        let dir = std::env::temp_dir().join(format!("berth-bench-{}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        if let Err(e) = sys::mount_scratch(&dir) {
            let _ = fs::remove_dir(&dir);
            return Err(format!("mount a tmpfs on {}: {e}", dir.display()));
        }
        Ok(Workdir(dir))
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if let Err(e) = sys::unmount_scratch(&self.0) {
            eprintln!("berth-bench: unmount {}: {e}", self.0.display());
        }
        if let Err(e) = fs::remove_dir_all(&self.0) {
            eprintln!("berth-bench: remove {}: {e}", self.0.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_changes_only_defaults() {
        let o = Options::parse_from(["berth-bench", "--quick", "--rounds", "7"]);
        assert_eq!(o.pick(o.rounds, 50, 5), 7);
        assert_eq!(o.pick(o.list, 1000, 100), 100);
        let o = Options::parse_from(["berth-bench", "--runtimes", "runc,crun"]);
        assert_eq!(o.runtimes, ["runc", "crun"]);
        assert_eq!(o.pick(o.list, 1000, 100), 1000);
    }

    #[test]
    fn resolves_through_path() {
        assert!(resolve(Path::new("sh")).unwrap().is_absolute());
        assert!(resolve(Path::new("no-such-program-here")).is_err());
    }
}
