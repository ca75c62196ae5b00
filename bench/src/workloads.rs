//! The workloads, per runtime: foreground `run`, the shim-style cycle and its steps, `exec`,
//! memory, `list` over many created containers, and the cycle with many running containers.
//! A workload that fails once is not tried again for that runtime; its error is kept.
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::bundle::Bundles;
use crate::runner::{timed, Runtime};
use crate::stats::Series;
use crate::sys;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Metric {
    Run,
    Cycle,
    Create,
    Start,
    State,
    Delete,
    Exec,
    CreateMaxRss,
    InitRss,
    List,
    CycleIdle,
    CycleBusy,
}

/// The metrics one shim-style cycle yields.
const CYCLE_METRICS: [Metric; 6] = [
    Metric::Cycle,
    Metric::Create,
    Metric::Start,
    Metric::State,
    Metric::Delete,
    Metric::InitRss,
];

/// One runtime and what was measured of it.
pub struct Bench {
    pub rt: Runtime,
    pub results: BTreeMap<Metric, Series>,
    /// Whether the runtime has `exec` at all.
    pub has_exec: bool,
    /// Whether the first created init was in cgroups other than the tool's own.
    pub own_cgroup: Option<bool>,
    exec_target: Option<String>,
}

/// One create → start → wait → delete, with the steps and the memory seen on the way.
struct Cycle {
    create: Duration,
    state: Duration,
    start: Duration,
    wait: Duration,
    delete: Duration,
    init_rss_kib: f64,
}

impl Cycle {
    /// What a shim pays: create + start + wait + delete (not the `state` call nor the RSS read).
    fn total(&self) -> Duration {
        self.create + self.start + self.wait + self.delete
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Bench {
    pub fn new(rt: Runtime) -> Bench {
        let has_exec = rt.has_exec();
        Bench {
            rt,
            results: BTreeMap::new(),
            has_exec,
            own_cgroup: None,
            exec_target: None,
        }
    }

    fn series(&mut self, m: Metric) -> &mut Series {
        self.results.entry(m).or_default()
    }

    fn failed(&self, m: Metric) -> bool {
        self.results.get(&m).is_some_and(Series::failed)
    }

    /// The shim-style cycle: four separate invocations, as containerd's shim makes them.
    fn cycle(&mut self, bundle: &Path) -> Result<Cycle, String> {
        let id = self.rt.new_id();
        let (created, pid) = self.rt.create(bundle, &id)?;
        if self.own_cgroup.is_none() {
            self.own_cgroup = sys::cgroups_of(pid)
                .ok()
                .map(|c| sys::cgroups_of(0).ok() != Some(c));
        }
        let rt = &mut self.rt;
        let mut rest = || -> Result<Cycle, String> {
            let init_rss_kib = sys::vm_rss_kib(pid)?;
            let state = rt.call("state", &id)?;
            let start = rt.call("start", &id)?;
            let wait = rt.wait_init(&id)?;
            let delete = rt.delete(&id)?;
            Ok(Cycle {
                create: created.elapsed,
                state,
                start,
                wait,
                delete,
                init_rss_kib,
            })
        };
        let result = rest();
        if result.is_err() {
            self.rt.remove(&id);
        }
        result
    }

    fn record_cycle(&mut self, bundle: &Path) {
        match self.cycle(bundle) {
            Ok(c) => {
                let values = [
                    ms(c.total()),
                    ms(c.create),
                    ms(c.start),
                    ms(c.state),
                    ms(c.delete),
                    c.init_rss_kib,
                ];
                for (m, v) in CYCLE_METRICS.into_iter().zip(values) {
                    self.series(m).push(Ok(v));
                }
            }
            Err(e) => {
                for m in CYCLE_METRICS {
                    self.series(m).push(Err(e.clone()));
                }
            }
        }
    }

    /// A running container to `exec` into, kept for all rounds.
    fn start_exec_target(&mut self, sleep: &Path) {
        if !self.has_exec {
            return;
        }
        match self.start_sleeper(sleep) {
            Ok(id) => self.exec_target = Some(id),
            Err(e) => self.series(Metric::Exec).push(Err(e)),
        }
    }

    fn start_sleeper(&mut self, sleep: &Path) -> Result<String, String> {
        let id = self.rt.new_id();
        self.rt.create(sleep, &id)?;
        if let Err(e) = self.rt.call("start", &id) {
            self.rt.remove(&id);
            return Err(e);
        }
        Ok(id)
    }

    /// One sample of each per-round workload.
    fn round(&mut self, bundles: &Bundles) {
        if !self.failed(Metric::Run) {
            let r = self.rt.run(&bundles.truth).map(ms);
            self.series(Metric::Run).push(r);
        }
        if !self.failed(Metric::Cycle) {
            self.record_cycle(&bundles.truth);
        }
        if !self.failed(Metric::CreateMaxRss) {
            let r = self.rt.create_peak_rss(&bundles.truth);
            self.series(Metric::CreateMaxRss).push(r);
        }
        if let Some(id) = &self.exec_target {
            if !self.failed(Metric::Exec) {
                let r = self.rt.exec_true(id).map(ms);
                self.series(Metric::Exec).push(r);
            }
        }
    }

    /// `list` with `count` containers in the created state.
    pub fn list_phase(
        &mut self,
        bundle: &Path,
        count: usize,
        samples: usize,
    ) -> Result<(), String> {
        let mut ids = Vec::with_capacity(count);
        let result = self.populate(count, &mut ids, |rt, id| rt.create(bundle, id).map(|_| ()));
        sys::check_interrupted()?;
        match result {
            Err(e) => self.series(Metric::List).push(Err(e)),
            Ok(()) => {
                sys::settle();
                for _ in 0..samples {
                    sys::check_interrupted()?;
                    let r = self.rt.list().map(ms);
                    self.series(Metric::List).push(r);
                }
            }
        }
        self.remove_all(&ids);
        Ok(())
    }

    /// Makes and removes `running` sleep containers, untimed: the first time a machine holds
    /// that many, the kernel grows caches and pools that later ones reuse, and without this
    /// warm-up the runtime whose loaded phase came first would pay for it.
    pub fn warm_up(&mut self, bundles: &Bundles, running: usize) -> Result<(), String> {
        let mut ids = Vec::with_capacity(running);
        let result = self.populate(running, &mut ids, |rt, id| {
            rt.create(&bundles.sleep, id)?;
            rt.call("start", id).map(|_| ())
        });
        self.remove_all(&ids);
        result
    }

    /// One turn of the loaded phase (there are [`BUSY_TURNS`]): `samples` cycles with no other
    /// container, then `samples` with `running` sleep containers, which are removed again.
    pub fn busy_phase(
        &mut self,
        bundles: &Bundles,
        running: usize,
        samples: usize,
    ) -> Result<(), String> {
        sys::settle();
        self.cycles(Metric::CycleIdle, &bundles.truth, samples)?;
        if self.failed(Metric::CycleBusy) {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(running);
        let result = self.populate(running, &mut ids, |rt, id| {
            rt.create(&bundles.sleep, id)?;
            rt.call("start", id).map(|_| ())
        });
        sys::check_interrupted()?;
        match result {
            Err(e) => self.series(Metric::CycleBusy).push(Err(e)),
            Ok(()) => {
                sys::settle();
                self.cycles(Metric::CycleBusy, &bundles.truth, samples)?
            }
        }
        self.remove_all(&ids);
        Ok(())
    }

    fn cycles(&mut self, m: Metric, bundle: &Path, samples: usize) -> Result<(), String> {
        for _ in 0..samples {
            sys::check_interrupted()?;
            if self.failed(m) {
                break;
            }
            let r = self.cycle(bundle).map(|c| ms(c.total()));
            self.series(m).push(r);
        }
        Ok(())
    }

    /// Makes `count` containers with `make`; their ids go into `ids` (also on failure). Stops
    /// early, without error, on an interrupt (the runtime's drop removes what is left).
    fn populate(
        &mut self,
        count: usize,
        ids: &mut Vec<String>,
        make: impl Fn(&mut Runtime, &str) -> Result<(), String>,
    ) -> Result<(), String> {
        let started = Instant::now();
        for k in 0..count {
            if sys::check_interrupted().is_err() {
                return Ok(());
            }
            let id = self.rt.new_id();
            ids.push(id.clone());
            make(&mut self.rt, &id).map_err(|e| format!("container {} of {count}: {e}", k + 1))?;
            if (k + 1) % 250 == 0 && k + 1 < count {
                eprintln!("  {}: {} of {count} containers", self.rt.name, k + 1);
            }
        }
        eprintln!(
            "  {}: {count} containers in {:.1} s",
            self.rt.name,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    fn remove_all(&mut self, ids: &[String]) {
        let started = Instant::now();
        for id in ids {
            self.rt.remove(id);
        }
        if !ids.is_empty() {
            eprintln!(
                "  {}: removed {} containers in {:.1} s",
                self.rt.name,
                ids.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
}

/// How many turns the runtimes take at the loaded phase.
pub const BUSY_TURNS: usize = 3;

/// The interleaved rounds: round r runs the runtimes in the order rotated by r, after one
/// untimed warm-up run each, and times the floor once per round.
pub fn rounds(
    benches: &mut [Bench],
    bundles: &Bundles,
    rounds: usize,
    floor: &mut Series,
    scratch: &Path,
) -> Result<(), String> {
    for b in benches.iter_mut() {
        b.start_exec_target(&bundles.sleep);
        let _ = b.rt.run(&bundles.truth);
    }
    let n = benches.len();
    for r in 0..rounds {
        sys::check_interrupted()?;
        floor.push(time_floor(scratch));
        for i in 0..n {
            benches[(r + i) % n].round(bundles);
        }
        if (r + 1) % 10 == 0 || r + 1 == rounds {
            eprintln!("  round {}/{rounds}", r + 1);
        }
    }
    for b in benches.iter_mut() {
        if let Some(id) = b.exec_target.take() {
            b.rt.remove(&id);
        }
    }
    Ok(())
}

/// The floor command, without any runtime: the same namespaces, fork and exec.
pub const FLOOR: &[&str] = &[
    "unshare",
    "--fork",
    "--pid",
    "--mount",
    "--uts",
    "--ipc",
    "--net",
    "--mount-proc",
    "/bin/true",
];

fn time_floor(scratch: &Path) -> Result<f64, String> {
    let mut cmd = Command::new(FLOOR[0]);
    cmd.args(&FLOOR[1..]);
    let timeout = Duration::from_secs(30);
    timed(&mut cmd, &scratch.join("floor.stderr"), timeout).map(|o| ms(o.elapsed))
}
