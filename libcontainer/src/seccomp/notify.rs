//! Seccomp user notification (`SCMP_ACT_NOTIFY`): the notify fd goes to the agent listening on
//! `linux.seccomp.listenerPath`, with the runtime-spec "container process state" as the message
//! and the fd attached as SCM_RIGHTS. The runtime connects before clone (the path is resolved
//! in the runtime's mount namespace, and an unreachable listener is a `create` error); init
//! sends on that connection right after installing the filter, then closes both fds.
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sys::socket::{send, sendmsg, ControlMessage, MsgFlags, UnixAddr};
use serde_json::{json, Value};

use crate::error::{IoContext, SysContext};
use crate::Result;

/// Connects to the seccomp agent's socket (`listenerPath`), close-on-exec.
pub fn connect_listener(path: &Path) -> Result<OwnedFd> {
    let stream = UnixStream::connect(path).ctx("connect seccomp listener", path)?;
    Ok(OwnedFd::from(stream))
}

/// The runtime-spec container process state: `state` is the container state (as hooks get
/// it, status "creating"), `pid` the container process as the runtime sees it.
pub fn process_state(pid: i32, metadata: Option<&str>, state: &[u8]) -> Vec<u8> {
    let state: Value = serde_json::from_slice(state).unwrap_or(Value::Null);
    let mut msg = json!({
        "ociVersion": crate::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "state": state,
    });
    if let Some(m) = metadata {
        msg["metadata"] = Value::from(m);
    }
    serde_json::to_vec(&msg).expect("process state serialises")
}

/// Sends `message` with `notify_fd` attached on `sock` (one message per connection, as the
/// spec requires), then closes both.
pub fn send_notify_fd(sock: OwnedFd, message: &[u8], notify_fd: OwnedFd) -> Result<()> {
    let what = "seccomp listener";
    let fds = [notify_fd.as_raw_fd()];
    let mut sent = sendmsg::<UnixAddr>(
        sock.as_raw_fd(),
        &[IoSlice::new(message)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .sys("sendmsg", what)?;
    while sent < message.len() {
        sent +=
            send(sock.as_raw_fd(), &message[sent..], MsgFlags::MSG_NOSIGNAL).sys("send", what)?;
    }
    Ok(())
}
