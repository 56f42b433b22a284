//! Text normalization and checksums.
//!
//! A revision's checksum is the SHA-256 of its *normalized* file: the UTF-8 text with a leading
//! byte-order mark removed and every CRLF turned into LF. Everything else counts, header included:
//! the header decides where a revision sits in the graph, so editing `revises` is as much a change
//! as editing SQL. Normalizing only the two things a checkout may change behind a developer's back
//! (git's `autocrlf`, an editor's BOM) keeps checksums stable across machines.
//!
//! A set's digest is order-independent: the XOR of `SHA-256(id ":" checksum)` over its revisions.
//! The runtime keeps the digest of the applied set in one row and updates it with each applied or
//! reverted revision, so "is this database exactly at head?" is one read of one row however many
//! revisions there are.

use sha2::{Digest, Sha256};

/// The byte-order mark some editors put at the start of UTF-8 files.
const BOM: &str = "\u{feff}";

/// Why a file is not valid text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUtf8 {
    /// 1-based line of the first invalid byte.
    pub line: usize,
    /// 1-based byte column of the first invalid byte within that line.
    pub column: usize,
}

/// Decodes `bytes` as UTF-8, drops a leading BOM and turns CRLF into LF.
pub fn normalize(bytes: &[u8]) -> Result<String, NotUtf8> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            return Err(NotUtf8 {
                line,
                column: good.len() - line_start + 1,
            });
        }
    };
    let text = text.strip_prefix(BOM).unwrap_or(text);
    Ok(if text.contains("\r\n") {
        text.replace("\r\n", "\n")
    } else {
        text.to_owned()
    })
}

/// Lower-case hex SHA-256 of already normalized text.
pub fn checksum(normalized: &str) -> String {
    hex(&Sha256::digest(normalized.as_bytes()))
}

/// The 32-byte contribution one revision makes to a set digest.
pub fn revision_digest(id: &str, checksum: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(id.as_bytes());
    h.update(b":");
    h.update(checksum.as_bytes());
    h.finalize().into()
}

/// XORs `part` into `acc`; applying the same part twice removes it again.
pub fn xor_into(acc: &mut [u8; 32], part: &[u8; 32]) {
    for (a, p) in acc.iter_mut().zip(part) {
        *a ^= p;
    }
}

/// The digest of a set of `(id, checksum)` pairs, as lower-case hex. The empty set is all zeros.
pub fn set_digest<'a>(revisions: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut acc = [0u8; 32];
    for (id, sum) in revisions {
        xor_into(&mut acc, &revision_digest(id, sum));
    }
    hex(&acc)
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// Parses lower- or upper-case hex of exactly 32 bytes.
pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_and_crlf_do_not_change_the_checksum() {
        let plain = normalize(b"a\nb\n").unwrap();
        let windows = normalize(b"\xef\xbb\xbfa\r\nb\r\n").unwrap();
        assert_eq!(plain, windows);
        assert_eq!(checksum(&plain), checksum(&windows));
    }

    #[test]
    fn lone_carriage_returns_are_content() {
        assert_ne!(normalize(b"a\rb").unwrap(), normalize(b"a\nb").unwrap());
    }

    #[test]
    fn invalid_utf8_reports_line_and_column() {
        let err = normalize(b"ok\nab\xffc\n").unwrap_err();
        assert_eq!(err, NotUtf8 { line: 2, column: 3 });
    }

    #[test]
    fn known_sha256() {
        assert_eq!(
            checksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn set_digest_is_order_independent_and_removable() {
        let a = set_digest([("a", "1"), ("b", "2")]);
        let b = set_digest([("b", "2"), ("a", "1")]);
        assert_eq!(a, b);
        assert_eq!(set_digest([]), "0".repeat(64));
        let mut acc = parse_hex32(&a).unwrap();
        xor_into(&mut acc, &revision_digest("b", "2"));
        assert_eq!(hex(&acc), set_digest([("a", "1")]));
    }

    #[test]
    fn hex_round_trips() {
        let d = revision_digest("x", "y");
        assert_eq!(parse_hex32(&hex(&d)), Some(d));
        assert_eq!(parse_hex32("zz"), None);
    }
}
