//! Signal names and numbers as `kill` accepts them: `KILL`, `SIGKILL`, `kill` or `9`.
use nix::sys::signal::Signal;

use crate::{Error, Result};

/// Parses a signal given by name (with or without `SIG`, any case) or number.
/// Real-time signals are accepted by number and as `RTMIN+n` / `RTMAX-n`.
pub fn parse(s: &str) -> Result<i32> {
    let bad = || Error::InvalidSignal(s.to_string());
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=libc::SIGRTMAX()).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return rt_offset(rest, libc::SIGRTMIN(), 1).ok_or_else(bad);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return rt_offset(rest, libc::SIGRTMAX(), -1).ok_or_else(bad);
    }
    format!("SIG{name}")
        .parse::<Signal>()
        .map(|sig| sig as i32)
        .map_err(|_| bad())
}

/// `""` → base, `"+n"` / `"-n"` in the allowed direction → base ± n, within the RT range.
fn rt_offset(rest: &str, base: i32, dir: i32) -> Option<i32> {
    let n = if rest.is_empty() {
        0
    } else {
        let sign = if dir > 0 { '+' } else { '-' };
        rest.strip_prefix(sign)?.parse::<i32>().ok()?
    };
    let sig = base + dir * n;
    (libc::SIGRTMIN()..=libc::SIGRTMAX())
        .contains(&sig)
        .then_some(sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("KILL").unwrap(), 9);
        assert_eq!(parse("SIGKILL").unwrap(), 9);
        assert_eq!(parse("kill").unwrap(), 9);
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(parse("15").unwrap(), 15);
        assert_eq!(parse("TERM").unwrap(), 15);
        assert_eq!(parse("SIGUSR1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse("RTMIN").unwrap(), libc::SIGRTMIN());
        assert_eq!(parse("RTMIN+2").unwrap(), libc::SIGRTMIN() + 2);
        assert_eq!(parse("SIGRTMAX-1").unwrap(), libc::SIGRTMAX() - 1);
    }

    #[test]
    fn rejects_unknown() {
        for s in [
            "", "0", "-1", "65", "NOPE", "SIG", "RTMIN-1", "RTMAX+1", "9x",
        ] {
            assert!(parse(s).is_err(), "{s:?} accepted");
        }
    }
}
