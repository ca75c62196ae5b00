//! `--debug` timings: each phase of an operation logs how long after the operation's start it
//! ended, so a slow step shows up in the debug log without a profiler.
use std::time::Instant;

pub(crate) struct Phases {
    what: &'static str,
    start: Instant,
}

impl Phases {
    pub fn start(what: &'static str) -> Phases {
        Phases {
            what,
            start: Instant::now(),
        }
    }

    /// Logs (at debug level) that `phase` is done.
    pub fn mark(&self, phase: &str) {
        tracing::debug!(
            "{}: {phase} done at {} µs",
            self.what,
            self.start.elapsed().as_micros()
        );
    }
}
