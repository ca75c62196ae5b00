//! Subcommands for the host-protection tests: what a process in the container can reach of
//! the runtime and the host.
use std::ffi::CString;
use std::fs;

use crate::json::Obj;
use crate::{errno_name, obj};

fn last_errno() -> String {
    errno_name(&std::io::Error::last_os_error())
}

/// `open(path, flags)`: the fd, or the errno's name.
fn open(path: &str, flags: libc::c_int) -> Result<libc::c_int, String> {
    let c = CString::new(path).map_err(|_| "EINVAL".to_string())?;
    // SAFETY: a NUL-terminated path and plain flags.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        Err(last_errno())
    } else {
        Ok(fd)
    }
}

fn close(fd: libc::c_int) {
    // SAFETY: closes an fd this function opened.
    unsafe { libc::close(fd) };
}

fn outcome(r: Result<libc::c_int, String>) -> String {
    match r {
        Ok(fd) => {
            close(fd);
            "ok".to_string()
        }
        Err(e) => e,
    }
}

/// The CVE-2019-5736 attack on process `pid` (a runtime process that has not `execve`d yet):
/// read its `exe` link, open it for reading and writing, take an `O_PATH` handle and reopen
/// that for writing through `/proc/self/fd`. Every step that works is a hole.
pub fn exe(pid: &str) -> String {
    let path = format!("/proc/{pid}/exe");
    let link = fs::read_link(&path)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| errno_name(&e));
    let reopen = match open(&path, libc::O_PATH) {
        Ok(fd) => {
            let r = outcome(open(&format!("/proc/self/fd/{fd}"), libc::O_WRONLY));
            close(fd);
            r
        }
        Err(e) => format!("O_PATH: {e}"),
    };
    obj(|o| {
        o.str("readlink", &link)
            .str("rdonly", &outcome(open(&path, libc::O_RDONLY)))
            .str("wronly", &outcome(open(&path, libc::O_WRONLY)))
            .str("reopen_wronly", &reopen)
            .str("map_files", &map_files(pid))
    })
}

/// How many of `/proc/<pid>/map_files/*` (the mapped files, among them the runtime's binary)
/// can be opened, or why the directory cannot be read.
fn map_files(pid: &str) -> String {
    match fs::read_dir(format!("/proc/{pid}/map_files")) {
        Ok(d) => d
            .filter_map(Result::ok)
            .filter(|e| outcome(open(&e.path().to_string_lossy(), libc::O_RDONLY)) == "ok")
            .count()
            .to_string(),
        Err(e) => errno_name(&e),
    }
}

/// The container's view of its root and cwd, and whether `..` leads out of the root: the
/// cwd and root links, the fds, and the directory reached by 64 `chdir("..")` compared with
/// `/` (device and inode).
pub fn escape() -> String {
    let link = |p: &str| {
        fs::read_link(p)
            .map(|l| l.display().to_string())
            .unwrap_or_else(|e| errno_name(&e))
    };
    let cwd = link("/proc/self/cwd");
    let root = link("/proc/self/root");
    let mut up = Obj::new();
    for _ in 0..64 {
        // SAFETY: a static NUL-terminated path.
        if unsafe { libc::chdir(c"..".as_ptr()) } != 0 {
            up.str("chdir_error", &last_errno());
            break;
        }
    }
    let id = |p: &str| {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(p)
            .map(|m| format!("{}:{}", m.dev(), m.ino()))
            .unwrap_or_else(|e| errno_name(&e))
    };
    up.str("dot", &id(".")).str("root", &id("/"));
    obj(|o| {
        o.str("cwd", &cwd)
            .str("root", &root)
            .raw("after_dotdot", &up.finish())
            .str("cwd_after", &link("/proc/self/cwd"))
    })
}

/// The session keyring's serial (`KEYCTL_GET_KEYRING_ID` on `KEY_SPEC_SESSION_KEYRING`,
/// without creating one) and its description.
pub fn keyring() -> String {
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEYCTL_DESCRIBE: libc::c_long = 6;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    // SAFETY: keyctl with integer arguments only.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_KEYRING_ID,
            KEY_SPEC_SESSION_KEYRING,
            0,
        )
    };
    if id < 0 {
        return obj(|o| o.str("errno", &last_errno()));
    }
    let mut buf = vec![0u8; 512];
    // SAFETY: the buffer holds `len` bytes; the kernel writes at most that many.
    let n = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_DESCRIBE,
            id,
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    let desc = if n > 0 {
        let len = (n as usize).min(buf.len());
        String::from_utf8_lossy(&buf[..len])
            .trim_end_matches('\0')
            .to_string()
    } else {
        last_errno()
    };
    obj(|o| o.num("session", id).str("describe", &desc))
}

/// `walls`: the syscalls a default seccomp profile must refuse, and ordinary ones it must
/// allow, each as "ok" or the errno's name.
pub(crate) fn walls() -> String {
    // SAFETY: each call is made with valid (or null) arguments; failures are reported, and
    // a call that succeeds changes nothing the payload relies on afterwards.
    let ret = |r: libc::c_long| {
        if r < 0 {
            last_errno()
        } else {
            "ok".to_string()
        }
    };
    let unshare = ret(unsafe { libc::unshare(libc::CLONE_NEWNS) } as libc::c_long);
    let target = CString::new("/tmp").unwrap();
    let fstype = CString::new("tmpfs").unwrap();
    // SAFETY: valid NUL-terminated strings, no data.
    let mount = ret(unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    } as libc::c_long);
    // SAFETY: KEYCTL_GET_KEYRING_ID of the session keyring, create = 0.
    let keyctl = ret(unsafe { libc::syscall(libc::SYS_keyctl, 0, -3, 0) });
    // SAFETY: PTRACE_TRACEME has no pointer arguments.
    let ptrace = ret(unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) });
    // SAFETY: plain calls without arguments.
    let getpid = ret(unsafe { libc::getpid() } as libc::c_long);
    let read = match fs::read("/proc/self/status") {
        Ok(_) => "ok".to_string(),
        Err(e) => errno_name(&e),
    };
    obj(|o| {
        o.str("unshare", &unshare)
            .str("mount", &mount)
            .str("keyctl", &keyctl)
            .str("ptrace", &ptrace)
            .str("getpid", &getpid)
            .str("read", &read)
    })
}
