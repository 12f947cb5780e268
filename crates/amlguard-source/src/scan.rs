//! Word-at-a-time byte scanning (eight bytes per step, no `unsafe`).

/// `0x01` in every byte.
pub(crate) const LO: u64 = 0x0101_0101_0101_0101;
/// `0x80` in every byte.
pub(crate) const HI: u64 = 0x8080_8080_8080_8080;

/// Eight bytes as a little-endian word (`chunk` has exactly eight bytes).
pub(crate) fn word(chunk: &[u8]) -> u64 {
    <[u8; 8]>::try_from(chunk).map_or(u64::MAX, u64::from_le_bytes)
}

/// A mask with the high bit set in (at least) the lowest byte of `w` that is
/// zero, and in no byte below it; 0 when no byte is zero.
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(LO) & !w & HI
}

/// A mask with the high bit set in exactly the bytes of `w` that are zero.
fn exact_zero_bytes(w: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    !(((w & LOW7).wrapping_add(LOW7)) | w | LOW7)
}

/// A mask with the high bit set in exactly the bytes of `w` that are `\n`,
/// `\r` or not ASCII.
pub(crate) fn line_breaks_and_non_ascii(w: u64) -> u64 {
    exact_zero_bytes(w ^ (LO * u64::from(b'\n')))
        | exact_zero_bytes(w ^ (LO * u64::from(b'\r')))
        | (w & HI)
}

/// Offset (from the start of `bytes`) of the first `"` or `\` at or after
/// `from`.
pub(crate) fn find_quote_or_backslash(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let mut chunks = rest.chunks_exact(8);
    let mut base = from;
    for chunk in chunks.by_ref() {
        let w = word(chunk);
        let found =
            zero_bytes(w ^ (LO * u64::from(b'"'))) | zero_bytes(w ^ (LO * u64::from(b'\\')));
        if found != 0 {
            return Some(base + (found.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\')
        .map(|i| base + i)
}

/// Offset of the first byte at or after `from` that is not a space.
pub(crate) fn skip_spaces(bytes: &[u8], mut from: usize) -> usize {
    while let Some(chunk) = bytes.get(from..from + 8) {
        let other = word(chunk) ^ (LO * u64::from(b' '));
        if other != 0 {
            return from + (other.trailing_zeros() / 8) as usize;
        }
        from += 8;
    }
    while bytes.get(from) == Some(&b' ') {
        from += 1;
    }
    from
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_first_quote_or_backslash() {
        for text in [
            "",
            "\"",
            "\\",
            "abc\"",
            "abcdefgh\"",
            "abcdefghij\\xx\"",
            "é😀\u{80}\"",
            "\u{FF}\"\\",
            "0123456789abcdef",
            "\"0123456789\"",
        ] {
            let bytes = text.as_bytes();
            for from in 0..=bytes.len() + 1 {
                let slow = bytes
                    .get(from..)
                    .and_then(|r| r.iter().position(|&b| b == b'"' || b == b'\\'))
                    .map(|i| i + from);
                assert_eq!(
                    find_quote_or_backslash(bytes, from),
                    slow,
                    "{text:?} {from}"
                );
            }
        }
    }

    #[test]
    fn skips_spaces() {
        for text in [
            "",
            " ",
            "         x",
            "                  ",
            "  \u{a0} ",
            "x ",
        ] {
            let bytes = text.as_bytes();
            for from in 0..=bytes.len() {
                let slow = bytes
                    .get(from..)
                    .and_then(|r| r.iter().position(|&b| b != b' '))
                    .map_or(bytes.len(), |i| i + from);
                assert_eq!(skip_spaces(bytes, from), slow, "{text:?} {from}");
            }
        }
    }

    #[test]
    fn flags_line_breaks_and_non_ascii() {
        let bytes: Vec<u8> = (0..=255u8)
            .chain([b'\n', b'a', b'\r', 0xC3, 0xA9, b'\n'])
            .collect();
        for chunk in bytes.windows(8) {
            let mask = line_breaks_and_non_ascii(word(chunk));
            for (k, &b) in chunk.iter().enumerate() {
                let flagged = mask & (0x80 << (8 * k)) != 0;
                assert_eq!(
                    flagged,
                    b == b'\n' || b == b'\r' || b >= 0x80,
                    "{chunk:?} {k}"
                );
            }
            assert_eq!(mask & !HI, 0);
        }
    }
}
