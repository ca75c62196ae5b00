//! `linux.resources.devices`: which device nodes the container may read, write or create.
//!
//! Rules are evaluated as runc does: in order, the last matching rule wins, and a rule for all
//! devices with all access (`{"allow": false, "access": "rwm"}`) resets the state to deny-all
//! (or allow-all). Without any rule every device is allowed. Like runc, berth appends rules that
//! allow `mknod` of any device and use of the default devices (/dev/null, zero, full, random,
//! urandom, tty, ptmx, net/tun, pts/*), so a container can always use those.
//!
//! v1 writes the rules to `devices.allow`/`devices.deny`; v2 turns them into a BPF program
//! (`bpf.rs`).
use std::collections::BTreeMap;
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::files::{read, Writer};
use crate::{Error, Result};

/// Access bits, with the values of the kernel's `BPF_DEVCG_ACC_*`.
pub(super) const MKNOD: u8 = 1;
pub(super) const READ: u8 = 2;
pub(super) const WRITE: u8 = 4;
const ALL_ACCESS: u8 = MKNOD | READ | WRITE;

/// Which devices a rule is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    All,
    Block,
    Char,
}

/// A normalised device rule: `None` is a wildcard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Rule {
    pub allow: bool,
    pub kind: Kind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

impl Rule {
    /// The rule for every device with every access.
    fn is_everything(&self) -> bool {
        self.kind == Kind::All
            && self.major.is_none()
            && self.minor.is_none()
            && self.access == ALL_ACCESS
    }
}

const fn allow(kind: Kind, major: Option<u32>, minor: Option<u32>, access: u8) -> Rule {
    Rule {
        allow: true,
        kind,
        major,
        minor,
        access,
    }
}

/// What runc allows in every container, after the spec's rules.
const DEFAULT_ALLOWED: [Rule; 11] = [
    allow(Kind::Char, None, None, MKNOD),
    allow(Kind::Block, None, None, MKNOD),
    allow(Kind::Char, Some(1), Some(3), ALL_ACCESS), // /dev/null
    allow(Kind::Char, Some(1), Some(8), ALL_ACCESS), // /dev/random
    allow(Kind::Char, Some(1), Some(7), ALL_ACCESS), // /dev/full
    allow(Kind::Char, Some(5), Some(0), ALL_ACCESS), // /dev/tty
    allow(Kind::Char, Some(1), Some(5), ALL_ACCESS), // /dev/zero
    allow(Kind::Char, Some(1), Some(9), ALL_ACCESS), // /dev/urandom
    allow(Kind::Char, Some(136), None, ALL_ACCESS),  // /dev/pts/*
    allow(Kind::Char, Some(5), Some(2), ALL_ACCESS), // /dev/ptmx
    allow(Kind::Char, Some(10), Some(200), ALL_ACCESS), // /dev/net/tun
];

fn number(field: &str, n: Option<i64>) -> Result<Option<u32>> {
    match n {
        None | Some(-1) => Ok(None),
        Some(n) => u32::try_from(n)
            .map(Some)
            .map_err(|_| Error::invalid(field, format!("{n} is not a device number"))),
    }
}

fn normalise(i: usize, d: &LinuxDeviceCgroup) -> Result<Rule> {
    let field = |f: &str| format!("linux.resources.devices[{i}].{f}");
    let kind = match d.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => Kind::All,
        LinuxDeviceType::B => Kind::Block,
        LinuxDeviceType::C | LinuxDeviceType::U => Kind::Char,
        LinuxDeviceType::P => {
            return Err(Error::invalid(
                field("type"),
                "\"p\": FIFOs are not subject to device control",
            ))
        }
    };
    let access_str = d.access().as_deref().unwrap_or("");
    let mut access = 0;
    for c in access_str.chars() {
        access |= match c {
            'r' => READ,
            'w' => WRITE,
            'm' => MKNOD,
            _ => {
                return Err(Error::invalid(
                    field("access"),
                    format!("{access_str:?}: only r, w and m are allowed"),
                ))
            }
        };
    }
    Ok(Rule {
        allow: d.allow(),
        kind,
        major: number(&field("major"), d.major())?,
        minor: number(&field("minor"), d.minor())?,
        // No access given: all access, as runc and crun read it.
        access: if access == 0 { ALL_ACCESS } else { access },
    })
}

/// Checks the rules.
pub(super) fn validate(devices: &[LinuxDeviceCgroup]) -> Result<()> {
    devices
        .iter()
        .enumerate()
        .try_for_each(|(i, d)| normalise(i, d).map(drop))
}

/// The rules to enforce: the spec's, then the default ones.
pub(super) fn rules(devices: Option<&Vec<LinuxDeviceCgroup>>) -> Result<Vec<Rule>> {
    // Deny everything first, as runc does: a config without device rules must not give the
    // container the host's devices. The spec's rules, then the standard devices, come after
    // (a rule for every device in the spec replaces this one).
    let mut rules = vec![DENY_ALL];
    for (i, d) in devices.into_iter().flatten().enumerate() {
        rules.push(normalise(i, d)?);
    }
    rules.extend(DEFAULT_ALLOWED);
    Ok(rules)
}

const DENY_ALL: Rule = Rule {
    allow: false,
    kind: Kind::All,
    major: None,
    minor: None,
    access: ALL_ACCESS,
};

/// Whether everything is allowed unless denied, and the rules that matter: those after the last
/// rule about every device and every access.
pub(super) fn effective(rules: &[Rule]) -> (bool, &[Rule]) {
    match rules.iter().rposition(Rule::is_everything) {
        Some(i) => (rules[i].allow, &rules[i + 1..]),
        None => (true, rules),
    }
}

/// A v1 exception: type (`b`/`c`), major, minor (`None`: `*`).
type Key = (char, Option<u32>, Option<u32>);

fn kinds(kind: Kind) -> &'static [char] {
    match kind {
        Kind::All => &['b', 'c'],
        Kind::Block => &['b'],
        Kind::Char => &['c'],
    }
}

fn v1_line(key: &Key, access: u8) -> String {
    let n = |x: Option<u32>| x.map_or("*".to_string(), |v| v.to_string());
    let access: String = [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')]
        .iter()
        .filter(|(bit, _)| access & bit != 0)
        .map(|(_, c)| *c)
        .collect();
    format!("{} {}:{} {access}", key.0, n(key.1), n(key.2))
}

/// The v1 lines (`c 1:3 rwm`) for a rule; a rule about all kinds becomes one per kind.
fn v1_lines(rule: &Rule) -> Vec<String> {
    kinds(rule.kind)
        .iter()
        .map(|k| v1_line(&(*k, rule.major, rule.minor), rule.access))
        .collect()
}

/// The exceptions a v1 cgroup in deny-all mode holds after `rules`, as the kernel keeps them:
/// an allow adds access to the exception with the same type and numbers, a deny takes it away.
fn whitelist(rules: &[Rule]) -> BTreeMap<Key, u8> {
    let mut map = BTreeMap::new();
    for rule in rules {
        for k in kinds(rule.kind) {
            let key = (*k, rule.major, rule.minor);
            let bits = map.get(&key).copied().unwrap_or(0);
            let bits = if rule.allow {
                bits | rule.access
            } else {
                bits & !rule.access
            };
            if bits == 0 {
                map.remove(&key);
            } else {
                map.insert(key, bits);
            }
        }
    }
    map
}

/// The exceptions in a `devices.list`, or `None` when the cgroup allows everything by default.
fn parse_list(list: &str) -> Option<BTreeMap<Key, u8>> {
    let mut map = BTreeMap::new();
    for line in list.lines() {
        let mut f = line.split_whitespace();
        let (Some(kind), Some(nums), Some(access)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if kind == "a" {
            return None;
        }
        let (major, minor) = nums.split_once(':')?;
        let num = |s: &str| s.parse::<u32>().ok();
        let bits = access.chars().fold(0, |b, c| {
            b | match c {
                'r' => READ,
                'w' => WRITE,
                'm' => MKNOD,
                _ => 0,
            }
        });
        let key = (kind.chars().next()?, num(major), num(minor));
        *map.entry(key).or_insert(0) |= bits;
    }
    Some(map)
}

/// Writes the rules to a v1 devices cgroup. In deny-all mode, a cgroup that is already in
/// deny-all mode (a running container being updated) gets only the differences, allows first,
/// so that no device it keeps is ever unavailable in between; otherwise the cgroup is reset
/// (`a` to `devices.deny` or `devices.allow`) and the rules written in order.
///
/// `fresh`: the cgroup was made just now and no process is in it yet. It holds a copy of its
/// parent's rules, which in deny-all mode are reset anyway: the end state is the same as
/// writing the differences, so `devices.list` is not read.
pub(super) fn set_v1(dir: &Path, rules: &[Rule], fresh: bool) -> Result<()> {
    let (default_allow, rest) = effective(rules);
    let mut allow = Writer::new(dir, "devices.allow");
    let mut deny = Writer::new(dir, "devices.deny");
    let current = if fresh && !default_allow {
        None
    } else {
        parse_list(&read(dir, "devices.list")?)
    };
    if default_allow {
        if current.is_none() && rest.iter().all(|r| r.allow) {
            // Already allow-all, and allows change nothing. Skipping the reset also works
            // below a parent that is not allow-all itself.
            return Ok(());
        }
        allow.write("a")?;
        for rule in rest {
            let file = if rule.allow { &mut allow } else { &mut deny };
            for line in v1_lines(rule) {
                file.write(&line)?;
            }
        }
        return Ok(());
    }
    let want = whitelist(rest);
    let current = match current {
        Some(c) => c,
        None => {
            deny.write("a")?;
            BTreeMap::new()
        }
    };
    for (key, bits) in &want {
        if current.get(key).copied().unwrap_or(0) & bits != *bits {
            allow.write(&v1_line(key, *bits))?;
        }
    }
    for (key, bits) in &current {
        let extra = bits & !want.get(key).copied().unwrap_or(0);
        if extra != 0 {
            deny.write(&v1_line(key, extra))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(allow: bool, typ: Option<&str>, major: Option<i64>, access: &str) -> LinuxDeviceCgroup {
        let mut d = LinuxDeviceCgroup::default();
        d.set_allow(allow);
        d.set_typ(typ.map(|t| t.parse().unwrap()));
        d.set_major(major);
        d.set_access(Some(access.to_string()));
        d
    }

    #[test]
    fn normalising() {
        let r = normalise(0, &dev(true, Some("c"), Some(1), "rw")).unwrap();
        assert_eq!(r, allow(Kind::Char, Some(1), None, READ | WRITE));
        let r = normalise(0, &dev(false, None, Some(-1), "")).unwrap();
        assert!(r.is_everything() && !r.allow);
        let e = normalise(2, &dev(true, Some("c"), None, "rx")).unwrap_err();
        assert!(e.to_string().contains("devices[2].access"), "{e}");
        let e = normalise(0, &dev(true, Some("p"), None, "r")).unwrap_err();
        assert!(e.to_string().contains("devices[0].type"), "{e}");
        let e = normalise(0, &dev(true, Some("c"), Some(-5), "r")).unwrap_err();
        assert!(e.to_string().contains("devices[0].major"), "{e}");
    }

    #[test]
    fn deny_all_then_defaults() {
        let spec = vec![dev(false, None, None, "rwm")];
        let rules = rules(Some(&spec)).unwrap();
        let (default_allow, rest) = effective(&rules);
        assert!(!default_allow);
        assert_eq!(rest, &DEFAULT_ALLOWED);
        assert_eq!(v1_lines(&rest[0]), ["c *:* m"]);
        assert_eq!(v1_lines(&rest[8]), ["c 136:* rwm"]);
    }

    #[test]
    fn without_rules_only_the_standard_devices_are_allowed() {
        let rules = rules(None).unwrap();
        assert_eq!(effective(&rules), (false, &DEFAULT_ALLOWED[..]));
    }

    #[test]
    fn a_spec_rule_for_every_device_replaces_the_default_deny() {
        let allow_all: LinuxDeviceCgroup =
            serde_json::from_value(serde_json::json!({"allow": true, "access": "rwm"})).unwrap();
        let rules = rules(Some(&vec![allow_all])).unwrap();
        assert_eq!(effective(&rules), (true, &DEFAULT_ALLOWED[..]));
    }

    #[test]
    fn whitelist_emulation() {
        let all = READ | WRITE | MKNOD;
        let rules = [
            allow(Kind::Char, Some(1), Some(3), READ),
            allow(Kind::Char, Some(1), Some(3), WRITE),
            allow(Kind::All, Some(8), None, all),
            Rule {
                allow: false,
                ..allow(Kind::Block, Some(8), None, WRITE)
            },
        ];
        let w = whitelist(&rules);
        assert_eq!(w[&('c', Some(1), Some(3))], READ | WRITE);
        assert_eq!(w[&('b', Some(8), None)], READ | MKNOD);
        assert_eq!(w[&('c', Some(8), None)], all);
        let list = "c 1:3 rw\nb 8:* rm\nc 8:* rwm\n";
        assert_eq!(parse_list(list).unwrap(), w);
        assert_eq!(parse_list("a *:* rwm\n"), None);
        assert_eq!(v1_line(&('c', None, Some(2)), MKNOD | READ), "c *:2 rm");
    }

    #[test]
    fn kind_all_expands_for_v1() {
        let r = allow(Kind::All, Some(8), None, READ);
        assert_eq!(v1_lines(&r), ["b 8:* r", "c 8:* r"]);
    }
}
