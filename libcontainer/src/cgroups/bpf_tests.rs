//! The device program is checked two ways: an interpreter for the instructions it uses runs it
//! against a direct reading of the rules (last matching rule wins, per access bit), and on a
//! cgroup2 mount of the machine running the tests it is loaded, attached and exercised for real.
use std::process::Command;

use super::*;
use crate::cgroups::devices::{MKNOD, READ, WRITE};

/// Runs `prog` for one access request; returns r0.
fn run(prog: &[Insn], kind: i32, major: u32, minor: u32, access: u8) -> u64 {
    let ctx = [(u32::from(access) << 16) | kind as u32, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    loop {
        let i = prog[pc];
        let (d, s) = (i.dst as usize, i.src as usize);
        let imm = i.imm as i64 as u64;
        let mut jump = false;
        match i.code {
            LDX_MEM_W => {
                assert_eq!(s, 1, "loads only from the context");
                r[d] = u64::from(ctx[i.off as usize / 4]);
            }
            ALU64_MOV_K => r[d] = imm,
            ALU64_MOV_X => r[d] = r[s],
            ALU64_AND_K => r[d] &= imm,
            ALU64_RSH_K => r[d] >>= i.imm,
            JMP32_JEQ_K => jump = r[d] as u32 == i.imm as u32,
            JMP32_JNE_K => jump = r[d] as u32 != i.imm as u32,
            JMP_EXIT => return r[0],
            c => panic!("unexpected opcode {c:#x}"),
        }
        pc += 1;
        if jump {
            assert!(i.off >= 0, "backward jump");
            pc += i.off as usize;
        }
    }
}

/// The rules read directly: for each requested bit, the last rule that matches decides.
fn reference(rules: &[Rule], kind: i32, major: u32, minor: u32, access: u8) -> bool {
    [READ, WRITE, MKNOD]
        .iter()
        .filter(|b| access & **b != 0)
        .all(|bit| {
            let mut allowed = true;
            for r in rules {
                let kind_ok = match r.kind {
                    Kind::All => true,
                    Kind::Block => kind == DEV_BLOCK,
                    Kind::Char => kind == DEV_CHAR,
                };
                if kind_ok
                    && r.major.is_none_or(|m| m == major)
                    && r.minor.is_none_or(|m| m == minor)
                    && r.access & bit != 0
                {
                    allowed = r.allow;
                }
            }
            allowed
        })
}

fn rule(allow: bool, kind: Kind, major: Option<u32>, minor: Option<u32>, access: u8) -> Rule {
    Rule {
        allow,
        kind,
        major,
        minor,
        access,
    }
}

/// A small deterministic generator (no dependency needed).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn program_matches_the_rules() {
    let mut g = Lcg(42);
    let kinds = [Kind::All, Kind::Block, Kind::Char];
    let majors = [None, Some(1), Some(5), Some(u32::MAX)];
    let minors = [None, Some(3), Some(7)];
    for _ in 0..400 {
        let mut rules = Vec::new();
        for _ in 0..g.next(8) {
            rules.push(if g.next(6) == 0 {
                rule(g.next(2) == 0, Kind::All, None, None, READ | WRITE | MKNOD)
            } else {
                rule(
                    g.next(2) == 0,
                    kinds[g.next(3) as usize],
                    majors[g.next(4) as usize],
                    minors[g.next(3) as usize],
                    1 + g.next(7) as u8,
                )
            });
        }
        let prog = program(&rules);
        for kind in [DEV_BLOCK, DEV_CHAR] {
            for major in [1, 5, 8, u32::MAX] {
                for minor in [3, 7, 9] {
                    for access in 1..=7u8 {
                        let want = reference(&rules, kind, major, minor, access);
                        let got = run(&prog, kind, major, minor, access);
                        assert_eq!(
                            got,
                            u64::from(want),
                            "rules {rules:?} request {kind} {major}:{minor} {access}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn no_unreachable_blocks() {
    let all = READ | WRITE | MKNOD;
    // Only allow rules after deny-all: no deny block.
    let p = program(&[
        rule(false, Kind::All, None, None, all),
        rule(true, Kind::Char, Some(1), Some(3), all),
    ]);
    assert_eq!(p.iter().filter(|i| i.code == JMP_EXIT).count(), 2);
    // Nothing: return the default at once (after the context loads).
    let p = program(&[]);
    assert_eq!(p.len(), 8);
    assert_eq!(run(&p, DEV_CHAR, 1, 1, READ), 1);
}

/// Loads and attaches a program to a fresh cgroup on a cgroup2 mount of this machine, and
/// checks that a process in it can use /dev/null but not /dev/zero; then replaces the program
/// (update) and checks that exactly one of berth's programs stays attached.
#[test]
fn enforced_by_the_kernel() {
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let root = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .find(|p| {
            nix::sys::statfs::statfs(*p)
                .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        });
    let Some(root) = root else {
        eprintln!("skipped: no cgroup2 mount");
        return;
    };
    let dir = Path::new(root).join(format!("berth-test-{}-bpf", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    struct Rm<'a>(&'a Path);
    impl Drop for Rm<'_> {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(self.0);
        }
    }
    let _rm = Rm(&dir);
    let all = READ | WRITE | MKNOD;
    let rules = [
        rule(false, Kind::All, None, None, all),
        rule(true, Kind::Char, Some(1), Some(3), all),
    ];
    set(&dir, &rules).unwrap();
    let script = format!(
        "echo $$ > {}/cgroup.procs && echo x > /dev/null && echo null-ok; head -c1 /dev/zero",
        dir.display()
    );
    let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("null-ok"), "{stdout} {stderr}");
    assert!(stderr.contains("not permitted"), "{stdout} {stderr}");

    // Update: allow /dev/zero too; the old program must be gone.
    let more = [
        rules[0],
        rules[1],
        rule(true, Kind::Char, Some(1), Some(5), READ),
    ];
    set(&dir, &more).unwrap();
    let cg = open_dir(&dir).unwrap();
    assert_eq!(bpf::query_device_progs(cg.as_fd()).unwrap().len(), 1);
    let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    assert!(out.status.success(), "{:?}", out);
    // Rules that restrict nothing detach berth's program.
    set(&dir, &[]).unwrap();
    assert!(bpf::query_device_progs(cg.as_fd()).unwrap().is_empty());
}
