//! Reading small kernel and state files in as few syscalls as their size allows.
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The whole of `path`: an open, reads into a buffer that holds a typical cgroup, `/proc` or
/// state file at once (until `read` returns 0) and a close. `std::fs::read_to_string` would
/// `statx` the file first for a size hint (always 0 on kernel filesystems) and then read in
/// steps starting at 32 bytes.
pub(crate) fn read_whole(path: &Path) -> std::io::Result<String> {
    read_until(&mut File::open(path)?, |_| false).and_then(utf8)
}

/// Reads `f` until `enough` says the bytes so far hold what the caller needs, or to its end.
/// A kernel file generates its first record whole on the first `read` when the buffer holds it,
/// so a caller that needs only that record saves the second `read`, which would return 0.
pub(crate) fn read_until(f: &mut File, enough: impl Fn(&[u8]) -> bool) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if enough(&buf[..len]) {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    Ok(buf)
}

/// The bytes as text; invalid UTF-8 is an `InvalidData` error.
pub(crate) fn utf8(bytes: Vec<u8>) -> std::io::Result<String> {
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Whether `text` holds a whole line (ended by a newline) that starts with `prefix`.
pub(crate) fn has_line(text: &[u8], prefix: &[u8]) -> bool {
    text.split_inclusive(|&b| b == b'\n')
        .any(|l| l.ends_with(b"\n") && l.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_whole_files_larger_than_the_first_buffer() {
        let path = std::env::temp_dir().join(format!("berth-files-test-{}", std::process::id()));
        let data = "x".repeat(10_000);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(data.as_bytes())
            .unwrap();
        assert_eq!(read_whole(&path).unwrap(), data);
        let mut f = File::open(&path).unwrap();
        assert_eq!(read_until(&mut f, |b| b.len() >= 10).unwrap().len(), 4096);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn whole_lines_only() {
        assert!(has_line(b"populated 0\nfrozen 1\n", b"frozen "));
        assert!(!has_line(b"populated 0\nfrozen 1", b"frozen "));
        assert!(!has_line(b"populated 0\n", b"frozen "));
    }
}
