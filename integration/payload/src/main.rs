//! The program berth's integration tests run inside containers. Statically linked, so a rootfs
//! without a libc can run it. With no arguments it prints one JSON object describing what it
//! sees (see `report`); the subcommands below poke at single things.
//!
//! If `PAYLOAD_MARK` is set, the payload first appends `started <pid>` to that file: a test
//! can tell whether the container's process has been executed yet.
//!
//! `no_main`: Rust's usual start-up would ignore SIGPIPE and install SIGSEGV/SIGBUS handlers,
//! hiding the signal state the runtime handed over; with our own C `main` the payload sees the
//! dispositions and mask exactly as inherited through `execve`.
#![no_main]
mod attack;
mod json;
mod report;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::sync::atomic::{AtomicI32, Ordering};

use json::{array, string, Obj};

const USAGE: &str = "usage: payload [report | exit N | sleep SECS | write PATH TEXT | \
append PATH TEXT | open PATH | read PATH | ls PATH | stat PATH... | signals | trap | \
raise SIG | forkbomb [MAX] | exe PID | escape | keyring]";

#[no_mangle]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    if let Some(mark) = std::env::var_os("PAYLOAD_MARK") {
        let line = format!("started {}\n", std::process::id());
        if let Err(e) = append(mark.as_ref(), &line) {
            eprintln!("payload: PAYLOAD_MARK {}: {e}", mark.to_string_lossy());
        }
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let code = match a.as_slice() {
        [] | ["report"] => say(&report::report()),
        ["exit", n] => n.parse().unwrap_or(255),
        ["sleep", secs] => {
            std::thread::sleep(std::time::Duration::from_secs(secs.parse().unwrap_or(0)));
            0
        }
        ["write", path, text] => say(&result(fs::write(path, text))),
        ["append", path, text] => say(&result(append(path.as_ref(), &format!("{text}\n")))),
        ["open", path] => say(&result(fs::File::open(path).map(drop))),
        ["read", path] => say(&match fs::read(path) {
            Ok(d) => obj(|o| o.str("data", &String::from_utf8_lossy(&d))),
            Err(e) => obj(|o| o.str("errno", &errno_name(&e))),
        }),
        ["ls", path] => say(&match fs::read_dir(path) {
            Ok(d) => {
                let mut names: Vec<String> = d
                    .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                    .collect();
                names.sort();
                obj(|o| o.raw("entries", &array(names.iter().map(|n| string(n)))))
            }
            Err(e) => obj(|o| o.str("errno", &errno_name(&e))),
        }),
        ["stat", paths @ ..] => say(&array(paths.iter().map(|p| stat(p)))),
        ["signals"] => say(&signals()),
        ["trap"] => trap(),
        ["raise", sig] => {
            // SAFETY: kill(2) on our own pid.
            unsafe { libc::kill(libc::getpid(), sig.parse().unwrap_or(0)) };
            say("survived")
        }
        ["exe", pid] => say(&attack::exe(pid)),
        ["escape"] => say(&attack::escape()),
        ["keyring"] => say(&attack::keyring()),
        ["walls"] => say(&attack::walls()),
        ["forkbomb"] => forkbomb(1000),
        ["forkbomb", max] => forkbomb(max.parse().unwrap_or(1000)),
        _ => {
            eprintln!("{USAGE}");
            2
        }
    };
    let _ = std::io::stdout().flush();
    code
}

/// Prints one line on stdout and returns exit code 0.
fn say(line: &str) -> i32 {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    0
}

pub(crate) fn obj(f: impl FnOnce(&mut Obj) -> &mut Obj) -> String {
    let mut o = Obj::new();
    f(&mut o);
    o.finish()
}

fn append(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?
        .write_all(text.as_bytes())
}

/// `ok`, or the errno's name (`EROFS`).
fn result(r: std::io::Result<()>) -> String {
    match r {
        Ok(()) => "ok".to_string(),
        Err(e) => errno_name(&e),
    }
}

pub(crate) fn errno_name(e: &std::io::Error) -> String {
    let Some(n) = e.raw_os_error() else {
        return e.to_string();
    };
    let name = match n {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::ELOOP => "ELOOP",
        libc::ENOSYS => "ENOSYS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ESRCH => "ESRCH",
        libc::ETXTBSY => "ETXTBSY",
        libc::EXDEV => "EXDEV",
        _ => return format!("E{n}"),
    };
    name.to_string()
}

/// lstat of one path: type, permission bits, owner, device numbers, link target.
fn stat(path: &str) -> String {
    let mut o = Obj::new();
    o.str("path", path);
    match fs::symlink_metadata(path) {
        Err(e) => {
            o.str("errno", &errno_name(&e));
        }
        Ok(m) => {
            let t = m.file_type();
            let kind = if t.is_symlink() {
                "link"
            } else if t.is_dir() {
                "dir"
            } else if t.is_char_device() {
                "char"
            } else if t.is_block_device() {
                "block"
            } else if t.is_fifo() {
                "fifo"
            } else if t.is_socket() {
                "socket"
            } else {
                "file"
            };
            o.str("type", kind)
                .num("mode", m.mode() & 0o7777)
                .num("uid", m.uid())
                .num("gid", m.gid())
                .num("major", libc::major(m.rdev()))
                .num("minor", libc::minor(m.rdev()));
            if let Ok(target) = fs::read_link(path) {
                o.str("target", &target.display().to_string());
            }
        }
    }
    o.finish()
}

/// The signal mask and the dispositions that are not the default.
fn signals() -> String {
    let (mut blocked, mut ignored, mut handled) = (Vec::new(), Vec::new(), Vec::new());
    // SAFETY: sigset_t and sigaction are plain data; the calls only read the current state.
    unsafe {
        let mut mask: libc::sigset_t = std::mem::zeroed();
        libc::sigprocmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask);
        for sig in 1..=64 {
            if libc::sigismember(&mask, sig) == 1 {
                blocked.push(sig.to_string());
            }
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
                continue;
            }
            match old.sa_sigaction {
                libc::SIG_DFL => {}
                libc::SIG_IGN => ignored.push(sig.to_string()),
                _ => handled.push(sig.to_string()),
            }
        }
    }
    obj(|o| {
        o.raw("blocked", &array(blocked))
            .raw("ignored", &array(ignored))
            .raw("handled", &array(handled))
    })
}

static CAUGHT: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    CAUGHT.store(sig, Ordering::SeqCst);
}

/// Installs a handler for every catchable standard signal (pid 1 of a pid namespace ignores
/// signals it has no handler for), prints `ready`, and waits for one; prints `{"signal":N}`
/// and exits with N.
fn trap() -> i32 {
    // SAFETY: the handler only stores to an atomic; the signal set and sigaction are locals.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut all);
        for sig in 1..32 {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP || sig == libc::SIGCHLD {
                continue;
            }
            libc::sigaddset(&mut all, sig);
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigprocmask(libc::SIG_BLOCK, &all, &mut old);
        say("ready");
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        while CAUGHT.load(Ordering::SeqCst) == 0 {
            libc::sigsuspend(&none);
        }
    }
    let sig = CAUGHT.load(Ordering::SeqCst);
    say(&obj(|o| o.num("signal", sig)));
    sig
}

/// Forks children that wait forever until fork fails or `max` exist; prints how many were
/// made and the errno that stopped it (`null` if `max` was reached).
fn forkbomb(max: u32) -> i32 {
    let mut forked = 0;
    let mut stop = "null".to_string();
    let parent = std::process::id() as libc::pid_t;
    while forked < max {
        // SAFETY: the child only calls async-signal-safe functions.
        match unsafe { libc::fork() } {
            0 => {
                // SAFETY: prctl and pause are async-signal-safe. The child dies with its
                // parent, so the bomb never outlives the payload even without a pid namespace.
                unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
                // SAFETY: as above; the parent may have exited before the prctl.
                if unsafe { libc::getppid() } != parent {
                    // SAFETY: as above.
                    unsafe { libc::_exit(0) };
                }
                loop {
                    // SAFETY: see above.
                    unsafe { libc::pause() };
                }
            }
            -1 => {
                stop = string(&errno_name(&std::io::Error::last_os_error()));
                break;
            }
            _ => forked += 1,
        }
    }
    say(&obj(|o| o.num("forked", forked).raw("errno", &stop)))
}
