//! The default report: everything a process can observe about the container it runs in.
use std::ffi::CStr;
use std::fs;

use crate::json::{array, string, Obj};

/// The rlimit resources, by the names the runtime-spec uses.
const RLIMITS: &[(&str, libc::__rlimit_resource_t)] = &[
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_DATA", libc::RLIMIT_DATA),
    ("RLIMIT_STACK", libc::RLIMIT_STACK),
    ("RLIMIT_CORE", libc::RLIMIT_CORE),
    ("RLIMIT_RSS", libc::RLIMIT_RSS),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("RLIMIT_AS", libc::RLIMIT_AS),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", libc::RLIMIT_NICE),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
];

pub fn report() -> String {
    let mut o = Obj::new();
    // SAFETY (all the libc calls below): plain getters without pointer arguments, or with
    // pointers to locals of the right type and size.
    unsafe {
        o.num("pid", libc::getpid())
            .num("ppid", libc::getppid())
            .num("uid", libc::getuid())
            .num("gid", libc::getgid())
            .num("euid", libc::geteuid())
            .num("egid", libc::getegid());
    }
    o.raw("groups", &array(groups().iter().map(|g| g.to_string())));
    let (host, domain) = uts_names();
    o.str("hostname", &host).str("domainname", &domain);
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| format!("error: {e}"));
    o.str("cwd", &cwd);
    let env = std::env::vars_os()
        .map(|(k, v)| string(&format!("{}={}", k.to_string_lossy(), v.to_string_lossy())));
    o.raw("env", &array(env));
    o.raw("ns", &namespaces());
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let mut caps = Obj::new();
    for (k, f) in [
        ("inh", "CapInh"),
        ("prm", "CapPrm"),
        ("eff", "CapEff"),
        ("bnd", "CapBnd"),
        ("amb", "CapAmb"),
    ] {
        caps.str(k, &field(f));
    }
    o.raw("caps", &caps.finish());
    o.num(
        "no_new_privs",
        field("NoNewPrivs").parse::<i64>().unwrap_or(-1),
    )
    .num("seccomp", field("Seccomp").parse::<i64>().unwrap_or(-1))
    .num(
        "umask",
        u32::from_str_radix(&field("Umask"), 8).map_or(-1, i64::from),
    );
    let mut sig = Obj::new();
    sig.str("blk", &field("SigBlk"))
        .str("ign", &field("SigIgn"))
        .str("cgt", &field("SigCgt"));
    o.raw("signals", &sig.finish());
    o.raw("rlimits", &rlimits());
    o.raw("fds", &fds());
    o.raw("mounts", &mounts());
    let oom = fs::read_to_string("/proc/self/oom_score_adj").unwrap_or_default();
    o.num(
        "oom_score_adj",
        oom.trim().parse::<i64>().unwrap_or(i64::MIN),
    );
    o.str(
        "cgroup",
        &fs::read_to_string("/proc/self/cgroup").unwrap_or_default(),
    );
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: see above; `param` is a valid sched_param.
    let (policy, ioprio, nice, persona) = unsafe {
        libc::sched_getparam(0, &mut param);
        *libc::__errno_location() = 0;
        (
            libc::sched_getscheduler(0),
            // ioprio_get(IOPRIO_WHO_PROCESS, self)
            libc::syscall(libc::SYS_ioprio_get, 1, 0),
            libc::getpriority(libc::PRIO_PROCESS, 0),
            libc::personality(0xffff_ffff),
        )
    };
    let mut sched = Obj::new();
    sched
        .num("policy", policy)
        .num("priority", param.sched_priority);
    o.raw("sched", &sched.finish());
    let mut io = Obj::new();
    io.num("class", ioprio >> 13).num("data", ioprio & 0x1fff);
    o.raw("ioprio", &io.finish());
    o.num("nice", nice).num("personality", persona);
    o.finish()
}

fn groups() -> Vec<libc::gid_t> {
    let mut buf = vec![0 as libc::gid_t; 65536];
    // SAFETY: the buffer holds `len` gids.
    let n = unsafe { libc::getgroups(buf.len() as i32, buf.as_mut_ptr()) };
    buf.truncate(n.max(0) as usize);
    buf
}

fn uts_names() -> (String, String) {
    // SAFETY: utsname is plain data; uname fills it with NUL-terminated strings.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return (String::new(), String::new());
        }
        let s = |f: &[libc::c_char]| CStr::from_ptr(f.as_ptr()).to_string_lossy().into_owned();
        (s(&u.nodename), s(&u.domainname))
    }
}

fn namespaces() -> String {
    let mut names: Vec<String> = fs::read_dir("/proc/self/ns")
        .map(|d| {
            d.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut o = Obj::new();
    for n in names {
        let link = fs::read_link(format!("/proc/self/ns/{n}"))
            .map(|l| l.display().to_string())
            .unwrap_or_default();
        o.str(&n, &link);
    }
    o.finish()
}

fn rlimits() -> String {
    let mut o = Obj::new();
    for (name, res) in RLIMITS {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `r` is a valid rlimit.
        if unsafe { libc::getrlimit(*res, &mut r) } == 0 {
            let mut l = Obj::new();
            l.num("soft", r.rlim_cur).num("hard", r.rlim_max);
            o.raw(name, &l.finish());
        }
    }
    o.finish()
}

/// Open fds and what they point to. The directory's own fd is closed before the links are
/// read, so it drops out (its readlink fails).
fn fds() -> String {
    let mut nums: Vec<i32> = fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    nums.sort();
    let items = nums.into_iter().filter_map(|fd| {
        let target = fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
        let mut o = Obj::new();
        o.num("fd", fd).str("target", &target.display().to_string());
        Some(o.finish())
    });
    array(items)
}

/// /proc/self/mountinfo: mount point, per-mount options, fs type, source, superblock options.
fn mounts() -> String {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let items = text.lines().filter_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        let mut o = Obj::new();
        o.str("target", &unescape(l.get(4)?))
            .str("options", l.get(5)?)
            .str("fstype", r.first()?)
            .str("source", &unescape(r.get(1).unwrap_or(&"")))
            .str("super", r.get(2).unwrap_or(&""));
        Some(o.finish())
    });
    array(items)
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
