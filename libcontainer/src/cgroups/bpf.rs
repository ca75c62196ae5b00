//! Device control on cgroup v2: the device rules become a `BPF_PROG_TYPE_CGROUP_DEVICE` program
//! attached to the container's cgroup.
//!
//! The program decides each requested access bit (read, write, mknod) by the last rule that
//! matches the device and covers that bit; bits no rule decides get the default. It walks the
//! rules from last to first, keeping the still undecided bits in r3:
//!
//! ```text
//! r2 = ctx->access_type & 0xffff   (device type)     r4 = ctx->major
//! r3 = ctx->access_type >> 16      (access bits)     r5 = ctx->minor
//! for each rule, last first:
//!     if type/major/minor differ (where the rule is not a wildcard): next rule
//!     allow: r3 &= ~access; if r3 == 0: return 1    (every requested bit is allowed)
//!     deny:  if r3 & access != 0: return 0          (an undecided bit is denied)
//! return default
//! ```
//! On update, the new program is attached before the old one is detached, so there is no
//! moment without device control; berth's programs are told apart by their name.
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use super::devices::{effective, Kind, Rule};
use crate::sys::bpf;
use crate::{Error, Result};

/// The name berth's device programs are loaded with.
const PROG_NAME: &str = "berth_devices";

/// Device types in `bpf_cgroup_dev_ctx.access_type` (`BPF_DEVCG_DEV_*`).
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

// Instruction classes and opcodes (linux/bpf_common.h, linux/bpf.h).
const LDX_MEM_W: u8 = 0x61;
const ALU64_MOV_K: u8 = 0xb7;
const ALU64_MOV_X: u8 = 0xbf;
const ALU64_AND_K: u8 = 0x57;
const ALU64_RSH_K: u8 = 0x77;
const JMP32_JEQ_K: u8 = 0x16;
const JMP32_JNE_K: u8 = 0x56;
const JMP_EXIT: u8 = 0x95;

/// One instruction; jumps carry a symbolic target until the program is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    NextRule,
    Allow,
    Deny,
}

const fn op(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        dst,
        src,
        off,
        imm,
    }
}

impl Insn {
    /// The kernel's `struct bpf_insn` as one 64-bit word in native byte order.
    fn encode(self) -> u64 {
        let regs = if cfg!(target_endian = "little") {
            self.dst | (self.src << 4)
        } else {
            (self.dst << 4) | self.src
        };
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = regs;
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        u64::from_ne_bytes(b)
    }
}

/// The program for `rules` (already including the default devices).
pub(super) fn program(rules: &[Rule]) -> Vec<Insn> {
    let (default_allow, rules) = effective(rules);
    let mut out = vec![
        op(LDX_MEM_W, 2, 1, 0, 0),
        op(ALU64_MOV_X, 3, 2, 0, 0),
        op(ALU64_RSH_K, 3, 0, 0, 16),
        op(ALU64_AND_K, 2, 0, 0, 0xffff),
        op(LDX_MEM_W, 4, 1, 4, 0),
        op(LDX_MEM_W, 5, 1, 8, 0),
    ];
    // (index of a jump, its target), resolved once the end blocks are placed.
    let mut jumps: Vec<(usize, Target)> = Vec::new();
    for rule in rules.iter().rev() {
        let mut block: Vec<(Insn, Option<Target>)> = Vec::new();
        let kind = match rule.kind {
            Kind::All => None,
            Kind::Block => Some(DEV_BLOCK),
            Kind::Char => Some(DEV_CHAR),
        };
        for (reg, value) in [
            (2, kind),
            (4, rule.major.map(|m| m as i32)),
            (5, rule.minor.map(|m| m as i32)),
        ] {
            if let Some(v) = value {
                block.push((op(JMP32_JNE_K, reg, 0, 0, v), Some(Target::NextRule)));
            }
        }
        let access = i32::from(rule.access);
        if rule.allow {
            block.push((op(ALU64_AND_K, 3, 0, 0, !access), None));
            block.push((op(JMP32_JEQ_K, 3, 0, 0, 0), Some(Target::Allow)));
        } else {
            block.push((op(ALU64_MOV_X, 1, 3, 0, 0), None));
            block.push((op(ALU64_AND_K, 1, 0, 0, access), None));
            block.push((op(JMP32_JNE_K, 1, 0, 0, 0), Some(Target::Deny)));
        }
        let end = out.len() + block.len();
        for (insn, target) in block {
            match target {
                Some(Target::NextRule) => {
                    let mut insn = insn;
                    insn.off = (end - out.len() - 1) as i16;
                    out.push(insn);
                }
                Some(t) => {
                    jumps.push((out.len(), t));
                    out.push(insn);
                }
                None => out.push(insn),
            }
        }
    }
    out.push(op(ALU64_MOV_K, 0, 0, 0, i32::from(default_allow)));
    out.push(op(JMP_EXIT, 0, 0, 0, 0));
    // The verifier rejects unreachable code: emit each end block only if a jump uses it.
    for (target, verdict) in [(Target::Allow, 1), (Target::Deny, 0)] {
        if !jumps.iter().any(|(_, t)| *t == target) {
            continue;
        }
        let at = out.len();
        for (i, _) in jumps.iter().filter(|(_, t)| *t == target) {
            out[*i].off = (at - i - 1) as i16;
        }
        out.push(op(ALU64_MOV_K, 0, 0, 0, verdict));
        out.push(op(JMP_EXIT, 0, 0, 0, 0));
    }
    out
}

fn open_dir(dir: &Path) -> Result<OwnedFd> {
    std::fs::File::open(dir)
        .map(OwnedFd::from)
        .map_err(|e| Error::io("open", dir, e))
}

fn bpf_err(dir: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Cgroup {
        path: dir.to_path_buf(),
        reason: format!("{what}: {e}"),
    }
}

/// Enforces `rules` on the cgroup `dir`: attaches the new program, then detaches berth's
/// earlier ones. Rules that restrict nothing need no program.
pub(super) fn set(dir: &Path, rules: &[Rule]) -> Result<()> {
    let cgroup = open_dir(dir)?;
    let mut old = Vec::new();
    for id in bpf::query_device_progs(cgroup.as_fd())
        .map_err(|e| bpf_err(dir, "bpf(BPF_PROG_QUERY)", e))?
    {
        match bpf::prog_by_id(id) {
            Ok((fd, name)) if name == PROG_NAME => old.push(fd),
            Ok(_) => {}
            Err(nix::errno::Errno::ENOENT) => {} // detached meanwhile
            Err(e) => return Err(bpf_err(dir, "bpf(BPF_PROG_GET_FD_BY_ID)", e)),
        }
    }
    let (default_allow, rest) = effective(rules);
    if !default_allow || rest.iter().any(|r| !r.allow) {
        let insns: Vec<u64> = program(rules).into_iter().map(Insn::encode).collect();
        let prog = bpf::load_device_prog(&insns, PROG_NAME).map_err(|(e, log)| {
            bpf_err(
                dir,
                "bpf(BPF_PROG_LOAD) device program",
                format!("{e}: {log}"),
            )
        })?;
        bpf::attach_device_prog(cgroup.as_fd(), prog.as_fd())
            .map_err(|e| bpf_err(dir, "bpf(BPF_PROG_ATTACH)", e))?;
    }
    for prog in old {
        bpf::detach_device_prog(cgroup.as_fd(), prog.as_fd())
            .map_err(|e| bpf_err(dir, "bpf(BPF_PROG_DETACH)", e))?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "bpf_tests.rs"]
mod tests;
