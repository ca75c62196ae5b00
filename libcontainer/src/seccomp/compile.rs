//! `linux.seccomp` → a BPF program: every check that can fail is in [`validate`] (errors name
//! the field, `linux.seccomp.syscalls[3].args[0].op`), then libseccomp builds the program and
//! exports it. The kernel flags are kept apart, because berth installs the program itself.
use std::io::{Read, Seek};

use libseccomp::ScmpSyscall;
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext};
use nix::sys::memfd::{memfd_create, MFdFlags};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator as Op,
};

use crate::error::{IoContext, SysContext};
use crate::sys::seccomp::{self as sys, sock_filter};
use crate::{Error, Result};

const FIELD: &str = "linux.seccomp";

/// Syscalls that init itself makes between installing the filter and handing the notify fd to
/// the listener: notifying them would wait for a listener that cannot have the fd yet.
const NOT_NOTIFIABLE: &[&str] = &["sendmsg", "socketcall"];

/// A compiled filter, ready to install.
#[derive(Debug, Clone)]
pub struct Filter {
    pub(super) program: Vec<sock_filter>,
    /// `SECCOMP_FILTER_FLAG_*`, with `NEW_LISTENER` when a rule notifies.
    pub(super) flags: u32,
}

impl Filter {
    /// Whether installing it yields a notification fd (some rule is `SCMP_ACT_NOTIFY`).
    pub fn notifies(&self) -> bool {
        self.flags & sys::FLAG_NEW_LISTENER != 0
    }

    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }
}

/// The kernel filter flag of each spec flag.
pub(super) fn flag_bits(flag: LinuxSeccompFilterFlag) -> u32 {
    match flag {
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync => sys::FLAG_TSYNC,
        LinuxSeccompFilterFlag::SeccompFilterFlagLog => sys::FLAG_LOG,
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => sys::FLAG_SPEC_ALLOW,
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => sys::FLAG_WAIT_KILLABLE_RECV,
    }
}

/// libseccomp's token for a spec architecture (`None` for `SCMP_ARCH_NATIVE`).
pub(super) fn scmp_arch(arch: Arch) -> Option<ScmpArch> {
    Some(match arch {
        Arch::ScmpArchNative => return None,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    })
}

/// Whether a filter on this host can cover `arch`: the installed libseccomp must know it (2.5
/// lacks LoongArch, m68k and SuperH) and it must have the native byte order, because one
/// filter serves one byte order.
pub(super) fn arch_usable(arch: ScmpArch) -> std::result::Result<(), String> {
    ScmpFilterContext::new(ScmpAction::Allow)
        .and_then(|mut ctx| {
            if !ctx.is_arch_present(arch)? {
                ctx.add_arch(arch)?;
            }
            Ok(())
        })
        .map_err(|e| e.to_string())
}

/// libseccomp's action for a spec action; `errnoRet` defaults to EPERM for ERRNO and TRACE.
fn action(action: Action, errno_ret: Option<u32>, field: &str) -> Result<ScmpAction> {
    if errno_ret.is_some() && !matches!(action, Action::ScmpActErrno | Action::ScmpActTrace) {
        return Err(Error::invalid(
            field,
            format!("{action} does not take an errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)"),
        ));
    }
    let ret = match errno_ret {
        None => libc::EPERM as u16,
        Some(r) => u16::try_from(r)
            .map_err(|_| Error::invalid(field, format!("{r} is larger than {}", u16::MAX)))?,
    };
    Ok(match action {
        Action::ScmpActKill | Action::ScmpActKillThread => ScmpAction::KillThread,
        Action::ScmpActKillProcess => ScmpAction::KillProcess,
        Action::ScmpActTrap => ScmpAction::Trap,
        Action::ScmpActErrno => ScmpAction::Errno(i32::from(ret)),
        Action::ScmpActTrace => ScmpAction::Trace(ret),
        Action::ScmpActLog => ScmpAction::Log,
        Action::ScmpActAllow => ScmpAction::Allow,
        Action::ScmpActNotify => ScmpAction::Notify,
    })
}

/// libseccomp's action for a spec action with its default errno.
pub(super) fn scmp_action(act: Action) -> Result<ScmpAction> {
    action(act, None, FIELD)
}

fn compare_op(arg: &LinuxSeccompArg) -> ScmpCompareOp {
    match arg.op() {
        Op::ScmpCmpNe => ScmpCompareOp::NotEqual,
        Op::ScmpCmpLt => ScmpCompareOp::Less,
        Op::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        Op::ScmpCmpEq => ScmpCompareOp::Equal,
        Op::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        Op::ScmpCmpGt => ScmpCompareOp::Greater,
        Op::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(arg.value()),
    }
}

/// The libseccomp comparison of one spec argument. For MASKED_EQ, `value` is the mask and
/// `valueTwo` the value the masked argument must equal.
fn condition(arg: &LinuxSeccompArg) -> ScmpArgCompare {
    let datum = match arg.op() {
        Op::ScmpCmpMaskedEq => arg.value_two().unwrap_or(0),
        _ => arg.value(),
    };
    ScmpArgCompare::new(arg.index() as u32, compare_op(arg), datum)
}

fn notifies(seccomp: &LinuxSeccomp) -> Option<usize> {
    let rules = seccomp.syscalls().as_deref().unwrap_or_default();
    rules
        .iter()
        .position(|r| r.action() == Action::ScmpActNotify)
}

/// Checks `linux.seccomp` completely, without touching the kernel's filters: the first problem
/// is returned, naming its field.
pub fn validate(seccomp: &LinuxSeccomp) -> Result<()> {
    if seccomp.default_action() == Action::ScmpActNotify {
        return Err(Error::invalid(
            format!("{FIELD}.defaultAction"),
            "SCMP_ACT_NOTIFY cannot be the default action (init's own syscalls would wait for the listener)",
        ));
    }
    action(
        seccomp.default_action(),
        seccomp.default_errno_ret(),
        &format!("{FIELD}.defaultErrnoRet"),
    )?;
    for (i, arch) in seccomp.architectures().iter().flatten().enumerate() {
        if let Err(e) = scmp_arch(*arch).map_or(Ok(()), arch_usable) {
            return Err(Error::invalid(
                format!("{FIELD}.architectures[{i}]"),
                format!("{arch}: libseccomp cannot filter it on this host (unknown to it, or not the native byte order): {e}"),
            ));
        }
    }
    let notify = notifies(seccomp);
    for (i, flag) in seccomp.flags().iter().flatten().enumerate() {
        if *flag == LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv && notify.is_none() {
            return Err(Error::invalid(
                format!("{FIELD}.flags[{i}]"),
                format!("{flag} needs a rule with SCMP_ACT_NOTIFY"),
            ));
        }
    }
    match (notify, seccomp.listener_path()) {
        (Some(i), None) => {
            return Err(Error::invalid(
                format!("{FIELD}.listenerPath"),
                format!("required: syscalls[{i}] uses SCMP_ACT_NOTIFY"),
            ))
        }
        (None, Some(_)) => {
            return Err(Error::invalid(
                format!("{FIELD}.listenerPath"),
                "must not be set when no rule uses SCMP_ACT_NOTIFY",
            ))
        }
        (Some(_), Some(p)) if !p.is_absolute() => {
            return Err(Error::invalid(
                format!("{FIELD}.listenerPath"),
                format!("{} is not an absolute path", p.display()),
            ))
        }
        _ => {}
    }
    if seccomp.listener_metadata().is_some() && seccomp.listener_path().is_none() {
        return Err(Error::invalid(
            format!("{FIELD}.listenerMetadata"),
            "needs listenerPath",
        ));
    }
    for (i, rule) in seccomp.syscalls().iter().flatten().enumerate() {
        let field = format!("{FIELD}.syscalls[{i}]");
        if rule.names().is_empty() {
            return Err(Error::invalid(format!("{field}.names"), "empty"));
        }
        if let Some(j) = rule.names().iter().position(|n| n.is_empty()) {
            return Err(Error::invalid(format!("{field}.names[{j}]"), "empty name"));
        }
        action(
            rule.action(),
            rule.errno_ret(),
            &format!("{field}.errnoRet"),
        )?;
        if rule.action() == Action::ScmpActNotify {
            if let Some(name) = rule
                .names()
                .iter()
                .find(|n| NOT_NOTIFIABLE.contains(&n.as_str()))
            {
                return Err(Error::invalid(
                    format!("{field}.action"),
                    format!("SCMP_ACT_NOTIFY on {name}: init uses it to pass the notify fd"),
                ));
            }
        }
        for (j, arg) in rule.args().iter().flatten().enumerate() {
            if arg.index() > 5 {
                return Err(Error::invalid(
                    format!("{field}.args[{j}].index"),
                    format!("{} is not an argument index (0-5)", arg.index()),
                ));
            }
            if arg.op() != Op::ScmpCmpMaskedEq && arg.value_two().is_some_and(|v| v != 0) {
                return Err(Error::invalid(
                    format!("{field}.args[{j}].valueTwo"),
                    format!("only SCMP_CMP_MASKED_EQ uses valueTwo, not {}", arg.op()),
                ));
            }
        }
    }
    Ok(())
}

/// Compiles `linux.seccomp` into a BPF program for the native architecture plus every listed
/// one. Syscall names the installed libseccomp does not know are skipped (profiles list
/// syscalls newer than the host's), rules whose action is the default action are skipped (they
/// would change nothing), and several conditions on the same argument each make a rule of
/// their own (so they combine by OR, as in runc); conditions on different arguments combine by AND.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Filter> {
    validate(seccomp)?;
    let lib = |field: String| {
        move |e: libseccomp::error::SeccompError| {
            Error::invalid(field.clone(), format!("libseccomp: {e}"))
        }
    };
    let default = action(seccomp.default_action(), seccomp.default_errno_ret(), FIELD)?;
    let mut ctx = ScmpFilterContext::new(default).map_err(lib(format!("{FIELD}.defaultAction")))?;
    for (i, arch) in seccomp.architectures().iter().flatten().enumerate() {
        let Some(arch) = scmp_arch(*arch) else {
            continue;
        };
        let field = format!("{FIELD}.architectures[{i}]");
        if !ctx.is_arch_present(arch).map_err(lib(field.clone()))? {
            ctx.add_arch(arch).map_err(lib(field))?;
        }
    }
    for (i, rule) in seccomp.syscalls().iter().flatten().enumerate() {
        let field = format!("{FIELD}.syscalls[{i}]");
        let act = action(rule.action(), rule.errno_ret(), &field)?;
        if act == default {
            continue;
        }
        let args = rule.args().as_deref().unwrap_or_default();
        let conditions: Vec<ScmpArgCompare> = args.iter().map(condition).collect();
        let repeated = args
            .iter()
            .enumerate()
            .any(|(j, a)| args[..j].iter().any(|b| b.index() == a.index()));
        for name in rule.names() {
            let Ok(nr) = ScmpSyscall::from_name(name) else {
                tracing::debug!("{field}: syscall {name:?} unknown to libseccomp, skipped");
                continue;
            };
            let err = lib(format!("{field} ({name})"));
            if repeated {
                for c in &conditions {
                    ctx.add_rule_conditional(act, nr, std::slice::from_ref(c))
                        .map_err(&err)?;
                }
            } else {
                ctx.add_rule_conditional(act, nr, &conditions)
                    .map_err(&err)?;
            }
        }
    }
    let mut flags = seccomp
        .flags()
        .iter()
        .flatten()
        .fold(0, |f, x| f | flag_bits(*x));
    if notifies(seccomp).is_some() {
        flags |= sys::FLAG_NEW_LISTENER;
        if flags & sys::FLAG_TSYNC != 0 {
            // Both return an fd-or-tid: the kernel requires ESRCH-style TSYNC failures then.
            flags |= sys::FLAG_TSYNC_ESRCH;
        }
    }
    if flags != 0 && !sys::flags_supported(flags) {
        let listener = flags & (sys::FLAG_NEW_LISTENER | sys::FLAG_TSYNC_ESRCH);
        if !sys::flags_supported(listener) {
            return Err(Error::invalid(
                format!(
                    "{FIELD}.syscalls[{}].action",
                    notifies(seccomp).unwrap_or(0)
                ),
                "SCMP_ACT_NOTIFY is not supported by this kernel",
            ));
        }
        let flags = seccomp.flags().as_deref().unwrap_or_default();
        let i = flags
            .iter()
            .position(|f| !sys::flags_supported(flag_bits(*f) | listener))
            .unwrap_or(0);
        return Err(Error::invalid(
            format!("{FIELD}.flags[{i}]"),
            "not supported by this kernel",
        ));
    }
    Ok(Filter {
        program: export(&ctx)?,
        flags,
    })
}

/// libseccomp's BPF program, through a memfd (libseccomp 2.5 exports only to an fd).
fn export(ctx: &ScmpFilterContext) -> Result<Vec<sock_filter>> {
    let fd = memfd_create("berth-seccomp", MFdFlags::MFD_CLOEXEC).sys("memfd_create", "seccomp")?;
    ctx.export_bpf(&fd)
        .map_err(|e| Error::invalid(FIELD, format!("libseccomp: export: {e}")))?;
    let mut file = std::fs::File::from(fd);
    let mut bytes = Vec::new();
    file.rewind()
        .and_then(|_| file.read_to_end(&mut bytes))
        .ctx("read", "seccomp memfd")?;
    Ok(program_from_bytes(&bytes))
}

/// A BPF program from its in-memory layout (`struct sock_filter`, native byte order); a
/// trailing partial instruction is dropped.
pub(super) fn program_from_bytes(bytes: &[u8]) -> Vec<sock_filter> {
    bytes
        .chunks_exact(8)
        .map(|b| sock_filter {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        })
        .collect()
}

/// The in-memory layout of a BPF program, as the kernel and libseccomp's export write it.
pub(super) fn program_to_bytes(program: &[sock_filter]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(program.len() * 8);
    for i in program {
        bytes.extend_from_slice(&i.code.to_ne_bytes());
        bytes.extend_from_slice(&[i.jt, i.jf]);
        bytes.extend_from_slice(&i.k.to_ne_bytes());
    }
    bytes
}
