//! The channel between the runtime and the container's init while it is being created: a
//! SOCK_SEQPACKET socketpair, one message per packet, so no framing is needed.
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};

use crate::error::SysContext;
use crate::{Error, Result};

/// What the two sides tell each other.
#[derive(Debug, PartialEq)]
pub(crate) enum Msg {
    /// intermediate → runtime: the pid of init.
    Pid(i32),
    /// runtime → init: ids mapped, cgroup joined; go on. Carries init's pid as the runtime
    /// sees it, for the state that hooks receive.
    Go(i32),
    /// init → runtime: namespaces and mounts are ready; run prestart + createRuntime hooks.
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
            Msg::Error(text) => {
                buf.push(ERROR);
                buf.extend_from_slice(text.as_bytes());
            }
        }
        loop {
            match send(self.fd.as_raw_fd(), &buf, MsgFlags::MSG_NOSIGNAL) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => return r.map(drop).sys("send", "sync message"),
            }
        }
    }

    /// The next message; `None` when the other side has closed its end (it died).
    pub fn recv(&self) -> Result<Option<Msg>> {
        let mut buf = [0u8; 8192];
        let n = loop {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.sys("recv", "sync message")?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let body = &buf[1..n];
        let msg = match buf[0] {
            PID if body.len() == 4 => Msg::Pid(i32::from_le_bytes(body.try_into().unwrap())),
            GO if body.len() == 4 => Msg::Go(i32::from_le_bytes(body.try_into().unwrap())),
            RUN_HOOKS => Msg::RunHooks,
            HOOKS_DONE => Msg::HooksDone,
            READY => Msg::Ready,
            ERROR => Msg::Error(String::from_utf8_lossy(body).into_owned()),
            t => return Err(Error::Init(format!("bad sync message type {t}"))),
        };
        Ok(Some(msg))
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
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}
