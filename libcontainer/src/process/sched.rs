//! `process.scheduler` (sched_setattr(2)) and `process.ioPriority` (ioprio_set(2)).
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxSchedulerFlag, LinuxSchedulerPolicy, Scheduler,
};

use crate::error::SysContext;
use crate::sys::sched::{ioprio_set, sched_setattr, SchedAttr};
use crate::{Error, Result};

/// The smallest SCHED_DEADLINE runtime the kernel accepts (2^DL_SCALE nanoseconds).
const MIN_DEADLINE_RUNTIME: u64 = 1 << 10;

fn policy_number(policy: LinuxSchedulerPolicy) -> Result<u32> {
    Ok(match policy {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
        LinuxSchedulerPolicy::SchedIso => {
            return Err(Error::unsupported(
                "process.scheduler.policy SCHED_ISO (Linux has no such policy)",
            ))
        }
    })
}

fn flag_bit(flag: LinuxSchedulerFlag) -> u64 {
    match flag {
        LinuxSchedulerFlag::SchedResetOnFork => 0x01,
        LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
        LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
        LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
        LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
        LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
        LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
    }
}

/// Checks that the fields set are the ones the policy uses, with values the kernel accepts.
pub(super) fn validate_scheduler(s: &Scheduler) -> Result<()> {
    let policy = *s.policy();
    policy_number(policy)?;
    if let Some(nice) = s.nice() {
        if !(-20..=19).contains(nice) {
            return Err(Error::invalid(
                "process.scheduler.nice",
                format!("{nice} is outside -20..19"),
            ));
        }
    }
    let realtime = matches!(
        policy,
        LinuxSchedulerPolicy::SchedFifo | LinuxSchedulerPolicy::SchedRr
    );
    match (realtime, s.priority()) {
        (true, Some(p)) if (1..=99).contains(p) => {}
        (true, p) => {
            return Err(Error::invalid(
                "process.scheduler.priority",
                format!(
                    "{policy} needs a priority in 1..99, not {}",
                    p.map_or("none".into(), |p| p.to_string())
                ),
            ))
        }
        (false, Some(p)) if *p != 0 => {
            return Err(Error::invalid(
                "process.scheduler.priority",
                format!("only SCHED_FIFO and SCHED_RR take a priority, not {policy}"),
            ))
        }
        (false, _) => {}
    }
    let runtime = s.runtime().unwrap_or(0);
    let deadline = s.deadline().unwrap_or(0);
    let period = s.period().unwrap_or(0);
    if policy != LinuxSchedulerPolicy::SchedDeadline {
        if runtime != 0 || deadline != 0 || period != 0 {
            return Err(Error::invalid(
                "process.scheduler",
                format!("runtime, deadline and period are for SCHED_DEADLINE, not {policy}"),
            ));
        }
        return Ok(());
    }
    if runtime < MIN_DEADLINE_RUNTIME {
        return Err(Error::invalid(
            "process.scheduler.runtime",
            format!("SCHED_DEADLINE needs a runtime of at least {MIN_DEADLINE_RUNTIME} ns"),
        ));
    }
    if deadline < runtime {
        return Err(Error::invalid(
            "process.scheduler.deadline",
            format!("deadline {deadline} is below the runtime {runtime}"),
        ));
    }
    if period != 0 && period < deadline {
        return Err(Error::invalid(
            "process.scheduler.period",
            format!("period {period} is below the deadline {deadline}"),
        ));
    }
    Ok(())
}

/// The `sched_attr` for a validated `process.scheduler`.
fn attr(s: &Scheduler) -> Result<SchedAttr> {
    Ok(SchedAttr {
        policy: policy_number(*s.policy())?,
        flags: s.flags().iter().flatten().fold(0, |f, x| f | flag_bit(*x)),
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        ..SchedAttr::default()
    })
}

pub(super) fn apply_scheduler(s: &Scheduler) -> Result<()> {
    sched_setattr(&attr(s)?).sys("sched_setattr", format!("process.scheduler {}", s.policy()))
}

/// ioPriority: a priority in 0..7 (0 is the highest).
pub(super) fn validate_io_priority(p: &LinuxIOPriority) -> Result<()> {
    if !(0..=7).contains(&p.priority()) {
        return Err(Error::invalid(
            "process.ioPriority.priority",
            format!("{} is outside 0..7", p.priority()),
        ));
    }
    Ok(())
}

fn class_number(class: IOPriorityClass) -> u32 {
    match class {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    }
}

pub(super) fn apply_io_priority(p: &LinuxIOPriority) -> Result<()> {
    ioprio_set(class_number(p.class()), p.priority() as u32).sys(
        "ioprio_set",
        format!("process.ioPriority {} {}", p.class(), p.priority()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxIOPriorityBuilder, SchedulerBuilder};

    fn sched(policy: LinuxSchedulerPolicy) -> SchedulerBuilder {
        SchedulerBuilder::default().policy(policy)
    }

    fn err(s: SchedulerBuilder) -> String {
        validate_scheduler(&s.build().unwrap())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn nice_range() {
        let ok = sched(LinuxSchedulerPolicy::SchedOther)
            .nice(-20)
            .build()
            .unwrap();
        assert!(validate_scheduler(&ok).is_ok());
        let ok = sched(LinuxSchedulerPolicy::SchedBatch)
            .nice(19)
            .build()
            .unwrap();
        assert!(validate_scheduler(&ok).is_ok());
        let e = err(sched(LinuxSchedulerPolicy::SchedOther).nice(20));
        assert_eq!(e, "process.scheduler.nice: 20 is outside -20..19");
        assert!(err(sched(LinuxSchedulerPolicy::SchedOther).nice(-21)).contains("-21"));
    }

    #[test]
    fn realtime_needs_a_priority() {
        let ok = sched(LinuxSchedulerPolicy::SchedFifo)
            .priority(10)
            .build()
            .unwrap();
        assert!(validate_scheduler(&ok).is_ok());
        let ok = sched(LinuxSchedulerPolicy::SchedRr)
            .priority(99)
            .build()
            .unwrap();
        assert!(validate_scheduler(&ok).is_ok());
        let e = err(sched(LinuxSchedulerPolicy::SchedFifo));
        assert!(
            e.starts_with("process.scheduler.priority: SCHED_FIFO"),
            "{e}"
        );
        assert!(err(sched(LinuxSchedulerPolicy::SchedRr).priority(100)).contains("100"));
        assert!(err(sched(LinuxSchedulerPolicy::SchedRr).priority(0)).contains("1..99"));
    }

    #[test]
    fn priority_only_for_realtime() {
        let e = err(sched(LinuxSchedulerPolicy::SchedOther).priority(5));
        assert!(e.starts_with("process.scheduler.priority:"), "{e}");
        let ok = sched(LinuxSchedulerPolicy::SchedIdle)
            .priority(0)
            .build()
            .unwrap();
        assert!(validate_scheduler(&ok).is_ok());
    }

    #[test]
    fn deadline_fields() {
        let ok = sched(LinuxSchedulerPolicy::SchedDeadline)
            .runtime(10_000_000u64)
            .deadline(30_000_000u64)
            .period(30_000_000u64)
            .build()
            .unwrap();
        assert!(validate_scheduler(&ok).is_ok());
        let no_period = sched(LinuxSchedulerPolicy::SchedDeadline)
            .runtime(10_000u64)
            .deadline(10_000u64)
            .build()
            .unwrap();
        assert!(validate_scheduler(&no_period).is_ok());
        let e = err(sched(LinuxSchedulerPolicy::SchedDeadline));
        assert!(e.starts_with("process.scheduler.runtime:"), "{e}");
        let e = err(sched(LinuxSchedulerPolicy::SchedDeadline)
            .runtime(20_000u64)
            .deadline(10_000u64));
        assert!(e.starts_with("process.scheduler.deadline:"), "{e}");
        let e = err(sched(LinuxSchedulerPolicy::SchedDeadline)
            .runtime(10_000u64)
            .deadline(20_000u64)
            .period(15_000u64));
        assert!(e.starts_with("process.scheduler.period:"), "{e}");
        let e = err(sched(LinuxSchedulerPolicy::SchedOther).runtime(10_000u64));
        assert!(e.contains("are for SCHED_DEADLINE"), "{e}");
    }

    #[test]
    fn iso_is_unsupported() {
        let e = err(sched(LinuxSchedulerPolicy::SchedIso));
        assert!(e.contains("not supported"), "{e}");
    }

    #[test]
    fn attr_carries_policy_flags_and_values() {
        let s = sched(LinuxSchedulerPolicy::SchedRr)
            .priority(7)
            .flags(vec![
                LinuxSchedulerFlag::SchedResetOnFork,
                LinuxSchedulerFlag::SchedFlagKeepParams,
            ])
            .build()
            .unwrap();
        let a = attr(&s).unwrap();
        assert_eq!((a.policy, a.priority, a.flags), (2, 7, 0x11));
        let s = sched(LinuxSchedulerPolicy::SchedIdle).build().unwrap();
        assert_eq!(attr(&s).unwrap().policy, 5);
    }

    #[test]
    fn io_priority_range() {
        let p = |class, priority: i64| {
            LinuxIOPriorityBuilder::default()
                .class(class)
                .priority(priority)
                .build()
                .unwrap()
        };
        assert!(validate_io_priority(&p(IOPriorityClass::IoprioClassBe, 0)).is_ok());
        assert!(validate_io_priority(&p(IOPriorityClass::IoprioClassRt, 7)).is_ok());
        let e = validate_io_priority(&p(IOPriorityClass::IoprioClassIdle, 8))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "process.ioPriority.priority: 8 is outside 0..7");
        assert!(validate_io_priority(&p(IOPriorityClass::IoprioClassBe, -1)).is_err());
        assert_eq!(class_number(IOPriorityClass::IoprioClassIdle), 3);
    }
}
