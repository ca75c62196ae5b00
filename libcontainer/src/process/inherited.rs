//! What a process that the runtime clones inherits from it and must not pass on to the
//! container: ignored signals (SIG_IGN is the only disposition that survives execve; Rust
//! ignores SIGPIPE, and the runtime's caller may have ignored others), blocked signals (`run`
//! blocks those it forwards) and ambient capabilities. The runtime reads them once, from its
//! own status in /proc, just before the clone, so that the clone resets exactly those instead
//! of every signal and set.
use std::fs::File;

use nix::errno::Errno;

use crate::error::IoContext;
use crate::{Error, Result};

/// The calling thread's status: the signal mask and the capability sets are per thread.
const STATUS: &str = "/proc/thread-self/status";

/// Bitmasks as /proc shows them: bit n-1 for signal n, bit n for capability n.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Inherited {
    pub ignored_signals: u64,
    pub blocked_signals: u64,
    pub ambient: u64,
}

impl Inherited {
    /// Reads the calling thread's status only as far as the lines needed.
    pub(super) fn of_runtime() -> Result<Inherited> {
        let mut file = File::open(STATUS).ctx("open", STATUS)?;
        let status = crate::files::read_until(&mut file, |t| Inherited::parse(t, false).is_some())
            .ctx("read", STATUS)?;
        // Stopped early (the lines were there) or at the end of the file.
        Inherited::parse(&status, true).ok_or_else(|| Error::sys("read", STATUS, Errno::ENODATA))
    }

    /// The masks from the beginning of a status file, once their lines are complete. Kernels
    /// before 4.3 have no ambient set and no `CapAmb` line: at the end of the file (`whole`),
    /// its absence means an empty set.
    fn parse(status: &[u8], whole: bool) -> Option<Inherited> {
        let text = std::str::from_utf8(status).ok()?;
        let field = |name: &str| {
            let start = text.find(&format!("\n{name}:\t"))? + name.len() + 3;
            let len = text[start..].find('\n')?;
            u64::from_str_radix(&text[start..start + len], 16).ok()
        };
        let ambient = match field("CapAmb") {
            Some(mask) => mask,
            None if whole => 0,
            None => return None,
        };
        Some(Inherited {
            ignored_signals: field("SigIgn")?,
            blocked_signals: field("SigBlk")?,
            ambient,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &[u8] = b"Name:\tx\nSigQ:\t0/1\nSigPnd:\t0000000000000000\n\
        SigBlk:\t0000000000010000\nSigIgn:\t0000000000001000\nSigCgt:\t0\n\
        CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000400\nNoNewPrivs:\t0\n";

    #[test]
    fn masks_are_read_from_status() {
        let inherited = Inherited::parse(STATUS, false).unwrap();
        assert_eq!(inherited.ignored_signals, 1 << (libc::SIGPIPE - 1));
        assert_eq!(inherited.blocked_signals, 1 << (libc::SIGCHLD - 1));
        assert_eq!(inherited.ambient, 1 << 10);
    }

    #[test]
    fn a_line_cut_short_needs_more() {
        let at = |name: &[u8]| STATUS.windows(name.len()).position(|w| w == name).unwrap();
        let cut = at(b"SigIgn") + 10;
        assert_eq!(Inherited::parse(&STATUS[..cut], false), None);
        let cut = at(b"CapAmb") + 10;
        assert_eq!(Inherited::parse(&STATUS[..cut], false), None);
        // Without a CapAmb line (before Linux 4.3) the file ends without one.
        let old = &STATUS[..at(b"CapAmb")];
        assert_eq!(Inherited::parse(old, false), None);
        assert_eq!(Inherited::parse(old, true).unwrap().ambient, 0);
    }

    #[test]
    fn the_test_harness_ignores_sigpipe() {
        let ours = Inherited::of_runtime().unwrap();
        assert_ne!(ours.ignored_signals & (1 << (libc::SIGPIPE - 1)), 0);
    }
}
