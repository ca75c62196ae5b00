//! The channel between the runtime and the container's init while it is being created: a
//! SOCK_SEQPACKET socketpair, one message per packet, so no framing is needed.
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
};

use crate::error::SysContext;
use crate::sys::socket::recv_with_fds;
use crate::{Error, Result};

/// What the two sides tell each other.
#[derive(Debug, PartialEq)]
pub(crate) enum Msg {
    /// intermediate → runtime: the pid of init.
    Pid(i32),
    /// runtime → init: ids mapped (and init moved into its cgroup2 cgroup if it could not be
    /// cloned into it); go on. Carries init's pid as the runtime sees it, for the state that
    /// hooks receive.
    Go(i32),
    /// runtime → init: the v1 cgroups exist, with the resources written. Sent with
    /// [`Channel::send_fds`]: an fd on each hierarchy's `tasks` file, for init to move itself.
    Cgroups,
    /// init → runtime: namespaces and mounts are ready; run prestart + createRuntime hooks
    /// (sent only if there are any).
    RunHooks,
    /// runtime → init: hooks done.
    HooksDone,
    /// init → runtime: ready, blocked until `start`.
    Ready,
    /// either way: this side failed; the text says why.
    Error(String),
}

const PID: u8 = 1;
const GO: u8 = 2;
const RUN_HOOKS: u8 = 3;
const HOOKS_DONE: u8 = 4;
const READY: u8 = 5;
const ERROR: u8 = 6;
const CGROUPS: u8 = 7;

pub(crate) struct Channel {
    fd: OwnedFd,
}

/// A connected pair: (runtime's end, init's end). Both are close-on-exec.
pub(crate) fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .sys("socketpair", "sync")?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> Result<()> {
        self.send_fds(msg, &[])
    }

    /// Sends `msg` with `fds` (`SCM_RIGHTS`).
    pub fn send_fds(&self, msg: &Msg, fds: &[OwnedFd]) -> Result<()> {
        let mut buf = Vec::with_capacity(16);
        match msg {
            Msg::Pid(pid) => {
                buf.push(PID);
                buf.extend_from_slice(&pid.to_le_bytes());
            }
            Msg::Go(pid) => {
                buf.push(GO);
                buf.extend_from_slice(&pid.to_le_bytes());
            }
            Msg::RunHooks => buf.push(RUN_HOOKS),
            Msg::HooksDone => buf.push(HOOKS_DONE),
            Msg::Ready => buf.push(READY),
            Msg::Cgroups => buf.push(CGROUPS),
            Msg::Error(text) => {
                buf.push(ERROR);
                buf.extend_from_slice(text.as_bytes());
            }
        }
        let raw: Vec<RawFd> = fds.iter().map(|fd| fd.as_raw_fd()).collect();
        let rights = [ControlMessage::ScmRights(&raw)];
        let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
        let iov = [IoSlice::new(&buf)];
        loop {
            let flags = MsgFlags::MSG_NOSIGNAL;
            match sendmsg::<()>(self.fd.as_raw_fd(), &iov, cmsgs, flags, None) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => return r.map(drop).sys("send", "sync message"),
            }
        }
    }

    /// The next message; `None` when the other side has closed its end (it died).
    pub fn recv(&self) -> Result<Option<Msg>> {
        Ok(self.recv_fds()?.0)
    }

    /// The next message and the fds sent with it.
    pub fn recv_fds(&self) -> Result<(Option<Msg>, Vec<OwnedFd>)> {
        let mut buf = [0u8; 8192];
        let (n, fds) = loop {
            match recv_with_fds(self.fd.as_fd(), &mut buf) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.sys("recv", "sync message")?,
            }
        };
        if n == 0 {
            return Ok((None, fds));
        }
        let body = &buf[1..n];
        let msg = match buf[0] {
            PID if body.len() == 4 => Msg::Pid(i32::from_le_bytes(body.try_into().unwrap())),
            GO if body.len() == 4 => Msg::Go(i32::from_le_bytes(body.try_into().unwrap())),
            RUN_HOOKS => Msg::RunHooks,
            HOOKS_DONE => Msg::HooksDone,
            READY => Msg::Ready,
            ERROR => Msg::Error(String::from_utf8_lossy(body).into_owned()),
            CGROUPS => Msg::Cgroups,
            t => return Err(Error::Init(format!("bad sync message type {t}"))),
        };
        Ok((Some(msg), fds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let (a, b) = pair().unwrap();
        for m in [
            Msg::Pid(42),
            Msg::Go(7),
            Msg::RunHooks,
            Msg::HooksDone,
            Msg::Ready,
            Msg::Error("x y".into()),
        ] {
            a.send(&m).unwrap();
            assert_eq!(b.recv().unwrap(), Some(m));
        }
        let file = std::fs::File::open("/proc/self/status").unwrap();
        a.send_fds(&Msg::Cgroups, &[OwnedFd::from(file)]).unwrap();
        let (msg, fds) = b.recv_fds().unwrap();
        assert_eq!(msg, Some(Msg::Cgroups));
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut std::fs::File::from(fds.into_iter().next().unwrap()),
            &mut text,
        )
        .unwrap();
        assert!(text.starts_with("Name:"), "{text}");
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}
