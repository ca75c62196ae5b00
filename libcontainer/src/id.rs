//! Container ids: they name a directory under the state root, so they are checked before any
//! path is built from them.
use crate::{Error, Result};

/// The longest id accepted: the state directory `<root>/<id>` must fit in one path component.
pub const MAX_ID_LEN: usize = 255;

/// Accepts what runc accepts (`[A-Za-z0-9_+.-]+`, not `.` or `..`) up to [`MAX_ID_LEN`] bytes.
pub fn validate(id: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::InvalidId {
            id: id.to_string(),
            reason: reason.to_string(),
        })
    };
    if id.is_empty() {
        return bad("empty");
    }
    if id.len() > MAX_ID_LEN {
        return bad("longer than 255 bytes");
    }
    if id == "." || id == ".." {
        return bad("not a valid directory name");
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.')))
    {
        return bad(&format!(
            "character {c:?} is not allowed (use A-Z a-z 0-9 _ + - .)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_runc_ids() {
        for id in [
            "a",
            "abc-123",
            "x.y_z+w",
            "0123456789abcdef",
            &"a".repeat(255),
        ] {
            validate(id).unwrap();
        }
    }

    #[test]
    fn rejects_bad_ids() {
        for id in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "/abs",
            "a b",
            "a\0b",
            "é",
            &"a".repeat(256),
        ] {
            assert!(validate(id).is_err(), "{id:?} accepted");
        }
    }
}
