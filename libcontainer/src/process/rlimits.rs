//! `process.rlimits`: checked for duplicates and soft > hard, applied with setrlimit(2) by
//! init (as root of the container, before the user switch).
use nix::sys::resource::{setrlimit, Resource};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

use crate::{Error, Result};

fn resource(typ: PosixRlimitType) -> Resource {
    match typ {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// A limit as a person would write it (`RLIM_INFINITY` is "unlimited").
fn show(limit: u64) -> String {
    if limit == libc::RLIM_INFINITY {
        "unlimited".into()
    } else {
        limit.to_string()
    }
}

/// Each type at most once, and no soft limit above its hard limit.
pub(super) fn validate(rlimits: &[PosixRlimit]) -> Result<()> {
    for (i, r) in rlimits.iter().enumerate() {
        if rlimits[..i].iter().any(|o| o.typ() == r.typ()) {
            return Err(Error::invalid(
                "process.rlimits",
                format!("{} is set more than once", r.typ()),
            ));
        }
        if r.soft() > r.hard() {
            return Err(Error::invalid(
                "process.rlimits",
                format!(
                    "{}: soft limit {} is above the hard limit {}",
                    r.typ(),
                    show(r.soft()),
                    show(r.hard())
                ),
            ));
        }
    }
    Ok(())
}

/// Sets every limit. Raising a hard limit needs CAP_SYS_RESOURCE in the initial user
/// namespace; the error then names the limit and the values.
pub(super) fn apply(rlimits: &[PosixRlimit]) -> Result<()> {
    for r in rlimits {
        setrlimit(resource(r.typ()), r.soft(), r.hard()).map_err(|e| {
            Error::sys(
                "setrlimit",
                format!(
                    "{} (soft {}, hard {})",
                    r.typ(),
                    show(r.soft()),
                    show(r.hard())
                ),
                e,
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::PosixRlimitBuilder;

    fn rlimit(typ: PosixRlimitType, soft: u64, hard: u64) -> PosixRlimit {
        PosixRlimitBuilder::default()
            .typ(typ)
            .soft(soft)
            .hard(hard)
            .build()
            .unwrap()
    }

    #[test]
    fn duplicates_are_rejected() {
        let r = [
            rlimit(PosixRlimitType::RlimitNofile, 10, 10),
            rlimit(PosixRlimitType::RlimitCore, 0, 0),
            rlimit(PosixRlimitType::RlimitNofile, 20, 20),
        ];
        let err = validate(&r).unwrap_err().to_string();
        assert_eq!(err, "process.rlimits: RLIMIT_NOFILE is set more than once");
    }

    #[test]
    fn soft_above_hard_is_rejected() {
        let r = [rlimit(PosixRlimitType::RlimitCore, 10, 5)];
        let err = validate(&r).unwrap_err().to_string();
        assert_eq!(
            err,
            "process.rlimits: RLIMIT_CORE: soft limit 10 is above the hard limit 5"
        );
        let r = [rlimit(PosixRlimitType::RlimitCore, u64::MAX, 5)];
        assert!(validate(&r).unwrap_err().to_string().contains("unlimited"));
    }

    #[test]
    fn valid_limits_pass() {
        let r = [
            rlimit(PosixRlimitType::RlimitNofile, 1024, 4096),
            rlimit(PosixRlimitType::RlimitCore, u64::MAX, u64::MAX),
        ];
        assert!(validate(&r).is_ok());
        assert!(validate(&[]).is_ok());
    }

    #[test]
    fn every_type_maps_to_its_resource() {
        let pairs = [
            (PosixRlimitType::RlimitCpu, libc::RLIMIT_CPU),
            (PosixRlimitType::RlimitFsize, libc::RLIMIT_FSIZE),
            (PosixRlimitType::RlimitData, libc::RLIMIT_DATA),
            (PosixRlimitType::RlimitStack, libc::RLIMIT_STACK),
            (PosixRlimitType::RlimitCore, libc::RLIMIT_CORE),
            (PosixRlimitType::RlimitRss, libc::RLIMIT_RSS),
            (PosixRlimitType::RlimitNproc, libc::RLIMIT_NPROC),
            (PosixRlimitType::RlimitNofile, libc::RLIMIT_NOFILE),
            (PosixRlimitType::RlimitMemlock, libc::RLIMIT_MEMLOCK),
            (PosixRlimitType::RlimitAs, libc::RLIMIT_AS),
            (PosixRlimitType::RlimitLocks, libc::RLIMIT_LOCKS),
            (PosixRlimitType::RlimitSigpending, libc::RLIMIT_SIGPENDING),
            (PosixRlimitType::RlimitMsgqueue, libc::RLIMIT_MSGQUEUE),
            (PosixRlimitType::RlimitNice, libc::RLIMIT_NICE),
            (PosixRlimitType::RlimitRtprio, libc::RLIMIT_RTPRIO),
            (PosixRlimitType::RlimitRttime, libc::RLIMIT_RTTIME),
        ];
        for (typ, raw) in pairs {
            assert_eq!(resource(typ) as i32, raw as i32, "{typ}");
        }
    }
}
