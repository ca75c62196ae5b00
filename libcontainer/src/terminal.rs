//! `process.terminal`: a pty whose slave becomes the container's stdio, controlling terminal and
//! `/dev/console`, and whose master goes to the caller over `--console-socket` (SCM_RIGHTS), as
//! containerd's shim and conmon expect.
use std::fs::OpenOptions;
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{open, openat, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::stat::{fstat, Mode, SFlag};
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, getpid, getsid, setsid};
use oci_spec::runtime::Box as ConsoleSize;

use crate::error::{IoContext, SysContext};
use crate::sys::term;
use crate::{Error, Result};

/// What the message carrying the master says: runc sends the master's file name, and the
/// receivers (containerd's go-runc, conmon) require a non-empty message.
const MASTER_NAME: &[u8] = b"/dev/ptmx";

/// The longest path that fits in `sockaddr_un.sun_path` with its NUL.
const SUN_PATH_MAX: usize = 107;

/// Connects to the console socket; runs in the runtime's namespaces (the path is a host path).
pub(crate) fn connect_console_socket(path: &Path) -> Result<OwnedFd> {
    let stream = if path.as_os_str().len() <= SUN_PATH_MAX {
        UnixStream::connect(path)
    } else {
        // Too long for sun_path: reach the socket through an O_PATH fd instead.
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open(path)
            .and_then(|f| UnixStream::connect(format!("/proc/self/fd/{}", f.as_raw_fd())))
    };
    Ok(stream.ctx("connect console socket", path)?.into())
}

/// In init, after `pivot_root`: opens the container's `/dev/ptmx`, makes the slave the stdio and
/// controlling terminal, binds it onto `/dev/console`, applies `consoleSize`, and sends the
/// master over `socket`.
pub(crate) fn setup_console(socket: OwnedFd, size: Option<&ConsoleSize>) -> Result<()> {
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let master = open("/dev/ptmx", flags, Mode::empty()).sys("open", "/dev/ptmx")?;
    term::unlockpt(master.as_fd()).sys("ioctl TIOCSPTLCK", "/dev/ptmx")?;
    let slave = term::open_peer(master.as_fd()).sys("ioctl TIOCGPTPEER", "/dev/ptmx")?;
    if let Some(size) = size {
        // validate() checked that both fit in 16 bits.
        term::set_winsize(slave.as_fd(), size.height() as u16, size.width() as u16)
            .sys("ioctl TIOCSWINSZ", "process.consoleSize")?;
    }
    become_controlling(&slave)?;
    bind_console(&slave)?;
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(MASTER_NAME)],
        &[ControlMessage::ScmRights(&[master.as_raw_fd()])],
        MsgFlags::empty(),
        None,
    )
    .sys("sendmsg", "pty master to the console socket")?;
    Ok(())
}

/// Starts a new session with the slave as its controlling terminal and as fds 0, 1 and 2.
fn become_controlling(slave: &OwnedFd) -> Result<()> {
    match setsid() {
        Ok(_) => {}
        // Already a session leader (a new session is what we wanted).
        Err(Errno::EPERM) if getsid(None) == Ok(getpid()) => {}
        Err(e) => return Err(Error::sys("setsid", "console", e)),
    }
    term::set_controlling_tty(slave.as_fd()).sys("ioctl TIOCSCTTY", "console")?;
    dup2_stdin(slave).sys("dup2", "console to stdin")?;
    dup2_stdout(slave).sys("dup2", "console to stdout")?;
    dup2_stderr(slave).sys("dup2", "console to stderr")?;
    Ok(())
}

/// Bind-mounts the slave onto the container's `/dev/console`, creating an empty file there
/// when there is none. Neither `/dev` nor `/dev/console` may be a symlink: an image could
/// otherwise point the mount at any file (the CVE-2025-52565 class). The mount goes through
/// `/proc/self/fd` of the opened target, so nothing is resolved again by path.
fn bind_console(slave: &OwnedFd) -> Result<()> {
    let dir_flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let dev = open("/dev", dir_flags, Mode::empty()).sys("open", "/dev")?;
    let target = match openat(
        &dev,
        "console",
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => openat(
            &dev,
            "console",
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o666),
        )
        .sys("create", "/dev/console")?,
        Err(e) => return Err(Error::sys("open", "/dev/console", e)),
    };
    let kind = SFlag::from_bits_truncate(
        fstat(&target).sys("fstat", "/dev/console")?.st_mode & libc::S_IFMT,
    );
    if kind != SFlag::S_IFREG && kind != SFlag::S_IFCHR {
        return Err(Error::sys(
            "mount",
            "/dev/console (not a file or device; refusing to mount over it)",
            Errno::EINVAL,
        ));
    }
    let source = format!("/proc/self/fd/{}", slave.as_raw_fd());
    let dest = format!("/proc/self/fd/{}", target.as_raw_fd());
    mount(
        Some(source.as_str()),
        dest.as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .sys("mount", "console onto /dev/console")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::testutil::{child_command, is_child};
    use std::io::Read;
    use std::os::unix::net::UnixListener;

    #[test]
    fn connect_error_names_the_socket() {
        let err = connect_console_socket(Path::new("/nonexistent/berth.sock"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("connect console socket /nonexistent/berth.sock: "),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn long_socket_paths_are_reached_through_o_path() {
        let dir = std::env::temp_dir()
            .join(format!("berth-console-{}", std::process::id()))
            .join("d".repeat(120));
        std::fs::create_dir_all(&dir).unwrap();
        let dirfd = std::fs::File::open(&dir).unwrap();
        let short = format!("/proc/self/fd/{}/console.sock", dirfd.as_raw_fd());
        let listener = UnixListener::bind(short).unwrap();
        let long = dir.join("console.sock");
        assert!(long.as_os_str().len() > SUN_PATH_MAX);
        let fd = connect_console_socket(&long).unwrap();
        let (conn, _) = listener.accept().unwrap();
        drop((fd, conn));
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    /// The child connects, sets the console up (in a private mount namespace, so that the
    /// bind onto /dev/console goes away with it), checks the result from inside and writes
    /// to its new stdout; the parent receives the master and reads what the child wrote.
    #[test]
    fn setup_console_sends_the_master_and_takes_over_stdio() {
        const TEST: &str = "terminal::tests::setup_console_sends_the_master_and_takes_over_stdio";
        if is_child(TEST) {
            return console_child();
        }
        let path = std::env::temp_dir().join(format!("berth-console-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let mut child = child_command(TEST)
            .env("BERTH_TEST_CONSOLE", &path)
            .spawn()
            .unwrap();
        let (conn, _) = listener.accept().unwrap();
        std::fs::remove_file(&path).unwrap();
        let (data, master) = term::recv_fd(conn.as_fd()).unwrap();
        assert_eq!(data, MASTER_NAME);
        let mut master = std::fs::File::from(master);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        // Read until the slave's last holder exits (then the master reads EIO).
        while let Ok(n @ 1..) = master.read(&mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        let status = child.wait().unwrap();
        let out = String::from_utf8_lossy(&out);
        assert!(status.success(), "child failed ({status}):\n{out}");
        assert!(out.contains("console ok"), "{out}");
    }

    fn console_child() {
        use nix::sched::{unshare, CloneFlags};
        use nix::sys::stat::stat;
        unshare(CloneFlags::CLONE_NEWNS).unwrap();
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .unwrap();
        let path = std::env::var("BERTH_TEST_CONSOLE").unwrap();
        let socket = connect_console_socket(Path::new(&path)).unwrap();
        let size: ConsoleSize = serde_json::from_str(r#"{"height": 24, "width": 80}"#).unwrap();
        setup_console(socket, Some(&size)).unwrap();
        let stdin = std::io::stdin();
        let tty = fstat(stdin.as_fd()).unwrap();
        assert_eq!(tty.st_mode & libc::S_IFMT, libc::S_IFCHR);
        for fd in [std::io::stdout().as_fd(), std::io::stderr().as_fd()] {
            assert_eq!(fstat(fd).unwrap().st_rdev, tty.st_rdev);
        }
        assert_eq!(stat("/dev/console").unwrap().st_rdev, tty.st_rdev);
        assert_eq!(term::get_winsize(stdin.as_fd()).unwrap(), (24, 80));
        let session = nix::sys::termios::tcgetsid(stdin.as_fd()).unwrap();
        assert_eq!(session, getpid(), "not the controlling terminal");
        println!("console ok");
    }
}

/// For `exec`: the same pty setup without `/dev/console` (it belongs to the container's init).
pub(crate) fn setup_pty(_socket: OwnedFd, _size: Option<&ConsoleSize>) -> Result<()> {
    Err(Error::unsupported("process.terminal"))
}
