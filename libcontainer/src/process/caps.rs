//! `process.capabilities`: the bounding, effective, permitted, inheritable and ambient sets.
//! Names come parsed by oci-spec; this module maps them to kernel numbers, skips (with a
//! warning at validation) those the running kernel does not know, and applies the sets in
//! the order the kernel's rules require.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

use crate::error::SysContext;
use crate::sys::caps::{self as sys, CapSets};
use crate::{Error, Result};

/// Every capability berth knows, indexed by its kernel number.
const TABLE: [(Capability, &str); 41] = [
    (Capability::Chown, "CAP_CHOWN"),
    (Capability::DacOverride, "CAP_DAC_OVERRIDE"),
    (Capability::DacReadSearch, "CAP_DAC_READ_SEARCH"),
    (Capability::Fowner, "CAP_FOWNER"),
    (Capability::Fsetid, "CAP_FSETID"),
    (Capability::Kill, "CAP_KILL"),
    (Capability::Setgid, "CAP_SETGID"),
    (Capability::Setuid, "CAP_SETUID"),
    (Capability::Setpcap, "CAP_SETPCAP"),
    (Capability::LinuxImmutable, "CAP_LINUX_IMMUTABLE"),
    (Capability::NetBindService, "CAP_NET_BIND_SERVICE"),
    (Capability::NetBroadcast, "CAP_NET_BROADCAST"),
    (Capability::NetAdmin, "CAP_NET_ADMIN"),
    (Capability::NetRaw, "CAP_NET_RAW"),
    (Capability::IpcLock, "CAP_IPC_LOCK"),
    (Capability::IpcOwner, "CAP_IPC_OWNER"),
    (Capability::SysModule, "CAP_SYS_MODULE"),
    (Capability::SysRawio, "CAP_SYS_RAWIO"),
    (Capability::SysChroot, "CAP_SYS_CHROOT"),
    (Capability::SysPtrace, "CAP_SYS_PTRACE"),
    (Capability::SysPacct, "CAP_SYS_PACCT"),
    (Capability::SysAdmin, "CAP_SYS_ADMIN"),
    (Capability::SysBoot, "CAP_SYS_BOOT"),
    (Capability::SysNice, "CAP_SYS_NICE"),
    (Capability::SysResource, "CAP_SYS_RESOURCE"),
    (Capability::SysTime, "CAP_SYS_TIME"),
    (Capability::SysTtyConfig, "CAP_SYS_TTY_CONFIG"),
    (Capability::Mknod, "CAP_MKNOD"),
    (Capability::Lease, "CAP_LEASE"),
    (Capability::AuditWrite, "CAP_AUDIT_WRITE"),
    (Capability::AuditControl, "CAP_AUDIT_CONTROL"),
    (Capability::Setfcap, "CAP_SETFCAP"),
    (Capability::MacOverride, "CAP_MAC_OVERRIDE"),
    (Capability::MacAdmin, "CAP_MAC_ADMIN"),
    (Capability::Syslog, "CAP_SYSLOG"),
    (Capability::WakeAlarm, "CAP_WAKE_ALARM"),
    (Capability::BlockSuspend, "CAP_BLOCK_SUSPEND"),
    (Capability::AuditRead, "CAP_AUDIT_READ"),
    (Capability::Perfmon, "CAP_PERFMON"),
    (Capability::Bpf, "CAP_BPF"),
    (Capability::CheckpointRestore, "CAP_CHECKPOINT_RESTORE"),
];

/// The names of every capability berth knows, in kernel order.
pub(super) fn known() -> Vec<String> {
    TABLE.iter().map(|(_, name)| name.to_string()).collect()
}

fn number(cap: Capability) -> u32 {
    TABLE
        .iter()
        .position(|(c, _)| *c == cap)
        .expect("every oci-spec capability is in TABLE") as u32
}

fn name(number: u32) -> &'static str {
    TABLE.get(number as usize).map_or("CAP_?", |(_, n)| n)
}

/// The sets of `process.capabilities` as JSON field names and values.
fn sets(caps: &LinuxCapabilities) -> [(&'static str, Option<&Capabilities>); 5] {
    [
        ("bounding", caps.bounding().as_ref()),
        ("effective", caps.effective().as_ref()),
        ("permitted", caps.permitted().as_ref()),
        ("inheritable", caps.inheritable().as_ref()),
        ("ambient", caps.ambient().as_ref()),
    ]
}

/// oci-spec rejects an unknown capability name while it parses config.json, so the error
/// would name neither the field nor the set. Given the raw JSON of a config that failed to
/// parse, this finds such a name and returns an error that names its set.
pub(crate) fn check_names(config: &serde_json::Value) -> Result<()> {
    let Some(caps) = config.pointer("/process/capabilities") else {
        return Ok(());
    };
    for set in [
        "bounding",
        "effective",
        "permitted",
        "inheritable",
        "ambient",
    ] {
        let Some(names) = caps.get(set).and_then(|v| v.as_array()) else {
            continue;
        };
        for value in names {
            if serde_json::from_value::<Capability>(value.clone()).is_err() {
                return Err(Error::invalid(
                    format!("process.capabilities.{set}"),
                    format!("unknown capability {value}"),
                ));
            }
        }
    }
    Ok(())
}

/// The effective set must lie within the permitted set, or capset(2) would refuse it.
pub(super) fn validate(caps: Option<&LinuxCapabilities>) -> Result<()> {
    let Some(caps) = caps else { return Ok(()) };
    let permitted = caps.permitted().clone().unwrap_or_default();
    if let Some(effective) = caps.effective() {
        let mut outside: Vec<u32> = effective
            .iter()
            .filter(|c| !permitted.contains(c))
            .map(|c| number(*c))
            .collect();
        outside.sort_unstable();
        if let Some(cap) = outside.first() {
            return Err(Error::invalid(
                "process.capabilities.effective",
                format!("{} is not in the permitted set", name(*cap)),
            ));
        }
    }
    Ok(())
}

/// The configured sets as bitmasks, limited to what the running kernel knows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Plan {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
    /// Bits of every capability the kernel knows (0..=cap_last_cap).
    pub supported: u64,
}

/// The highest capability number the running kernel knows (`/proc/sys/kernel/cap_last_cap`),
/// probed once per process with PR_CAPBSET_READ (which needs no /proc and fails with EINVAL
/// past it): from berth's own last capability up or down, so that two calls find it on a
/// kernel that knows exactly the capabilities berth does.
fn last_cap() -> u32 {
    static LAST: OnceLock<u32> = OnceLock::new();
    *LAST.get_or_init(|| {
        let known = |n: u32| sys::bounding_has(n).is_ok();
        let mut n = TABLE.len() as u32 - 1;
        if known(n) {
            while n < 63 && known(n + 1) {
                n += 1;
            }
        } else {
            while n > 0 && !known(n) {
                n -= 1;
            }
        }
        n
    })
}

/// This process's bounding set as far as it was asked about: bit n of `PROBED` says that
/// capability n was read (PR_CAPBSET_READ), bit n of `HELD` that it is in the set. The runtime
/// never changes its own bounding set, so each capability is read at most once.
static PROBED: AtomicU64 = AtomicU64::new(0);
static HELD: AtomicU64 = AtomicU64::new(0);

/// Of `wanted`, the capabilities in this process's bounding set: all it can ever hold, so all
/// it can grant (in its user namespace). On a host whose own bounding set lacks some (as when
/// the runtime runs in a restricted environment), those cannot be given to a container that
/// shares the host's user namespace; a new user namespace starts with a full bounding set.
fn grantable(wanted: u64) -> u64 {
    let unread = wanted & !PROBED.load(Ordering::Acquire);
    for n in (0..64u32).filter(|n| unread & (1 << n) != 0) {
        if sys::bounding_has(n) == Ok(true) {
            HELD.fetch_or(1 << n, Ordering::Relaxed);
        }
    }
    PROBED.fetch_or(unread, Ordering::Release);
    HELD.load(Ordering::Relaxed) & wanted
}

/// Turns `process.capabilities` into bitmasks. Capabilities the kernel does not know, or that
/// cannot be granted, are left out (see [`skipped`]); an absent set is empty. `userns`: the
/// process will be in a user namespace other than the runtime's, whose bounding set starts
/// full; otherwise it inherits the runtime's. The runtime calls this before it clones the
/// process, which then reads nothing.
pub(super) fn plan(caps: Option<&LinuxCapabilities>, userns: bool) -> Plan {
    let plan = plan_for(caps, last_cap());
    let grantable = match userns {
        true => plan.supported,
        false => grantable(plan.held()),
    };
    plan.restricted_to(grantable)
}

impl Plan {
    /// Every capability some set other than the bounding set asks for.
    fn held(&self) -> u64 {
        self.effective | self.permitted | self.inheritable | self.ambient
    }

    /// Leaves out of the sets that capset(2) and the ambient raise fill the capabilities not in
    /// `grantable` (the kernel would refuse them with EPERM). The bounding set stays as
    /// configured: dropping a capability that is already absent is harmless.
    fn restricted_to(mut self, grantable: u64) -> Plan {
        self.effective &= grantable;
        self.permitted &= grantable;
        self.inheritable &= grantable;
        self.ambient &= grantable;
        self
    }
}

fn plan_for(caps: Option<&LinuxCapabilities>, last_cap: u32) -> Plan {
    let supported = if last_cap >= 63 {
        u64::MAX
    } else {
        (1u64 << (last_cap + 1)) - 1
    };
    let mut plan = Plan {
        supported,
        ..Plan::default()
    };
    let Some(caps) = caps else { return plan };
    for (set, caps) in sets(caps) {
        let mask = caps
            .into_iter()
            .flatten()
            .map(|c| number(*c))
            .filter(|n| *n <= last_cap)
            .fold(0u64, |m, n| m | (1 << n));
        match set {
            "bounding" => plan.bounding = mask,
            "effective" => plan.effective = mask,
            "permitted" => plan.permitted = mask,
            "inheritable" => plan.inheritable = mask,
            _ => plan.ambient = mask,
        }
    }
    plan
}

/// What [`apply`] will leave out, as warnings: capabilities the running kernel does not know
/// (the runtime-spec says to ignore them), and ambient capabilities that are not both
/// permitted and inheritable (the kernel refuses them; runc ignores them silently, and its
/// own default spec has some). `validate` logs these while the runtime's stderr is still its
/// own, not the container's.
pub(super) fn skipped(caps: Option<&LinuxCapabilities>) -> Vec<String> {
    if caps.is_none() {
        return Vec::new();
    }
    let last = last_cap();
    skipped_for(caps, last, grantable(plan_for(caps, last).held()))
}

fn skipped_for(caps: Option<&LinuxCapabilities>, last_cap: u32, grantable: u64) -> Vec<String> {
    let mut out = Vec::new();
    let Some(c) = caps else { return out };
    let mut unknown: Vec<u32> = sets(c)
        .into_iter()
        .flat_map(|(_, caps)| caps.into_iter().flatten())
        .map(|c| number(*c))
        .filter(|n| *n > last_cap)
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    for n in unknown {
        out.push(format!(
            "process.capabilities: {} is not known to the running kernel; ignored",
            name(n)
        ));
    }
    let plan = plan_for(caps, last_cap);
    let held = plan.held();
    for n in (0..64u32).filter(|n| held & !grantable & (1 << n) != 0) {
        out.push(format!(
            "process.capabilities: {} is not in the runtime's bounding set and cannot be \
             granted; ignored (unless the container has its own user namespace)",
            name(n)
        ));
    }
    let plan = plan.restricted_to(grantable);
    for n in 0..64u32 {
        let bit = 1u64 << n;
        if plan.ambient & bit != 0 && plan.permitted & plan.inheritable & bit == 0 {
            out.push(format!(
                "process.capabilities.ambient: {} is not both permitted and inheritable; ignored",
                name(n)
            ));
        }
    }
    out
}

/// Drops from the bounding set every capability not configured. Needs CAP_SETPCAP in the
/// effective set, so it runs before the user switch and the capset.
pub(super) fn drop_bounding(plan: &Plan) -> Result<()> {
    for n in 0..64u32 {
        let bit = 1u64 << n;
        if plan.supported & bit != 0 && plan.bounding & bit == 0 {
            sys::bounding_drop(n).sys("prctl PR_CAPBSET_DROP", name(n))?;
        }
    }
    Ok(())
}

/// Sets the effective, permitted and inheritable sets exactly as configured, then the
/// ambient set. Runs after the user switch (which cleared the effective set). `inherited`:
/// the ambient set the runtime had when it cloned this process; nothing raised it since, so
/// when it was empty there is nothing to clear.
///
/// An ambient capability must also be permitted and inheritable; one that is not is skipped
/// (see [`skipped`]), as runc does.
pub(super) fn apply(plan: &Plan, inherited: u64) -> Result<()> {
    let sets = CapSets {
        effective: plan.effective,
        permitted: plan.permitted,
        inheritable: plan.inheritable,
    };
    sys::capset(&sets).sys("capset", "process.capabilities")?;
    if inherited != 0 {
        sys::ambient_clear().sys(
            "prctl PR_CAP_AMBIENT_CLEAR_ALL",
            "process.capabilities.ambient",
        )?;
    }
    for n in 0..64u32 {
        let bit = 1u64 << n;
        if plan.ambient & bit == 0 {
            continue;
        }
        if plan.permitted & plan.inheritable & bit == 0 {
            continue; // see skipped()
        }
        sys::ambient_raise(n).sys("prctl PR_CAP_AMBIENT_RAISE", name(n))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxCapabilitiesBuilder;

    fn set(caps: &[Capability]) -> Capabilities {
        caps.iter().copied().collect()
    }

    #[test]
    fn table_matches_kernel_numbers() {
        assert_eq!(number(Capability::Chown), 0);
        assert_eq!(number(Capability::Setpcap), 8);
        assert_eq!(number(Capability::SysAdmin), 21);
        assert_eq!(number(Capability::AuditWrite), 29);
        assert_eq!(number(Capability::CheckpointRestore), 40);
    }

    #[test]
    fn table_names_parse_back_to_their_entries() {
        for (cap, name) in TABLE {
            let parsed: Capability = serde_json::from_value(name.into()).unwrap();
            assert_eq!(parsed, cap, "{name}");
        }
        assert_eq!(known().len(), 41);
        assert_eq!(known()[0], "CAP_CHOWN");
        assert_eq!(known()[40], "CAP_CHECKPOINT_RESTORE");
    }

    #[test]
    fn unknown_name_names_the_field() {
        let config = serde_json::json!({
            "process": {"capabilities": {"bounding": ["CAP_CHOWN"], "ambient": ["CAP_FOO"]}}
        });
        let err = check_names(&config).unwrap_err().to_string();
        assert!(err.starts_with("process.capabilities.ambient:"), "{err}");
        assert!(err.contains("CAP_FOO"), "{err}");
        let fine = serde_json::json!({"process": {"capabilities": {"bounding": ["CAP_KILL"]}}});
        assert!(check_names(&fine).is_ok());
        assert!(check_names(&serde_json::json!({})).is_ok());
    }

    #[test]
    fn effective_must_be_permitted() {
        let caps = LinuxCapabilitiesBuilder::default()
            .effective(set(&[Capability::Kill, Capability::Chown]))
            .permitted(set(&[Capability::Kill]))
            .build()
            .unwrap();
        let err = validate(Some(&caps)).unwrap_err().to_string();
        assert_eq!(
            err,
            "process.capabilities.effective: CAP_CHOWN is not in the permitted set"
        );
        let caps = LinuxCapabilitiesBuilder::default()
            .effective(set(&[Capability::Kill]))
            .permitted(set(&[Capability::Kill, Capability::Chown]))
            .build()
            .unwrap();
        assert!(validate(Some(&caps)).is_ok());
        assert!(validate(None).is_ok());
    }

    #[test]
    fn plan_builds_masks_and_skips_caps_the_kernel_lacks() {
        let caps = LinuxCapabilitiesBuilder::default()
            .bounding(set(&[Capability::Kill, Capability::CheckpointRestore]))
            .effective(set(&[Capability::Kill]))
            .permitted(set(&[Capability::Kill]))
            .inheritable(set(&[]))
            .ambient(set(&[Capability::NetBindService]))
            .build()
            .unwrap();
        let plan = plan_for(Some(&caps), 39);
        assert_eq!(plan.bounding, 1 << 5);
        assert_eq!(plan.effective, 1 << 5);
        assert_eq!(plan.permitted, 1 << 5);
        assert_eq!(plan.inheritable, 0);
        assert_eq!(plan.ambient, 1 << 10);
        assert_eq!(plan.supported, (1 << 40) - 1);
        let plan = plan_for(Some(&caps), 40);
        assert_eq!(plan.bounding, (1 << 5) | (1 << 40));
    }

    #[test]
    fn skipped_capabilities_are_reported_once() {
        let caps: LinuxCapabilities = serde_json::from_value(serde_json::json!({
            "bounding": ["CAP_BPF", "CAP_CHECKPOINT_RESTORE"],
            "permitted": ["CAP_CHECKPOINT_RESTORE", "CAP_KILL", "CAP_CHOWN"],
            "inheritable": ["CAP_KILL"],
            "ambient": ["CAP_KILL", "CAP_CHOWN"]
        }))
        .unwrap();
        assert_eq!(
            skipped_for(Some(&caps), 38, u64::MAX),
            [
                "process.capabilities: CAP_BPF is not known to the running kernel; ignored",
                "process.capabilities: CAP_CHECKPOINT_RESTORE is not known to the running kernel; ignored",
                "process.capabilities.ambient: CAP_CHOWN is not both permitted and inheritable; ignored",
            ]
        );
        assert!(skipped_for(None, 40, 0).is_empty());
    }

    /// This host's own bounding set lacks CAP_SYS_RESOURCE: asking for it is a warning and
    /// the capability is left out of the sets capset(2) gets, instead of an EPERM.
    #[test]
    fn capabilities_the_runtime_cannot_grant_are_warned_about_and_left_out() {
        let caps: LinuxCapabilities = serde_json::from_value(serde_json::json!({
            "bounding": ["CAP_KILL", "CAP_SYS_RESOURCE"],
            "effective": ["CAP_KILL", "CAP_SYS_RESOURCE"],
            "permitted": ["CAP_KILL", "CAP_SYS_RESOURCE"],
            "inheritable": ["CAP_SYS_RESOURCE"],
            "ambient": ["CAP_SYS_RESOURCE"]
        }))
        .unwrap();
        let without_resource = !(1u64 << 24);
        assert_eq!(
            skipped_for(Some(&caps), 40, without_resource),
            [
                "process.capabilities: CAP_SYS_RESOURCE is not in the runtime's bounding set and \
                 cannot be granted; ignored (unless the container has its own user namespace)"
            ]
        );
        let plan = plan_for(Some(&caps), 40).restricted_to(without_resource);
        assert_eq!(plan.bounding, (1 << 5) | (1 << 24));
        assert_eq!((plan.effective, plan.permitted), (1 << 5, 1 << 5));
        assert_eq!((plan.inheritable, plan.ambient), (0, 0));
        assert!(skipped_for(Some(&caps), 40, u64::MAX).is_empty());
        // The running process's own bounding set, as /proc shows it.
        let bnd = u64::from_str_radix(&crate::process::testutil::status_field("CapBnd"), 16);
        let bnd = bnd.unwrap();
        let supported = plan_for(None, last_cap()).supported;
        assert_eq!(grantable(1 << 5), bnd & (1 << 5));
        assert_eq!(grantable(supported), bnd);
    }

    /// A process in a new user namespace starts with a full bounding set: it can be granted
    /// what the runtime's own bounding set lacks.
    #[test]
    fn a_user_namespace_can_grant_every_known_capability() {
        let caps: LinuxCapabilities = serde_json::from_value(serde_json::json!({
            "effective": ["CAP_KILL", "CAP_SYS_RESOURCE"],
            "permitted": ["CAP_KILL", "CAP_SYS_RESOURCE"]
        }))
        .unwrap();
        let both = (1u64 << 5) | (1 << 24);
        assert_eq!(plan(Some(&caps), true).permitted, both);
        let bnd = u64::from_str_radix(&crate::process::testutil::status_field("CapBnd"), 16);
        assert_eq!(plan(Some(&caps), false).permitted, both & bnd.unwrap());
    }

    #[test]
    fn absent_sets_in_json_are_empty() {
        let caps: LinuxCapabilities =
            serde_json::from_value(serde_json::json!({"bounding": ["CAP_KILL"]})).unwrap();
        let plan = plan_for(Some(&caps), 40);
        assert_eq!(plan.bounding, 1 << 5);
        assert_eq!(
            plan.effective | plan.permitted | plan.inheritable | plan.ambient,
            0
        );
    }

    #[test]
    fn no_capabilities_means_empty_sets() {
        let plan = plan_for(None, 40);
        assert_eq!(plan.bounding | plan.effective | plan.permitted, 0);
        assert_eq!(plan.supported.count_ones(), 41);
    }

    #[test]
    fn probes_the_running_kernel() {
        let expected: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(last_cap(), expected);
    }
}
