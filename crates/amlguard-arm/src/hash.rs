//! The deterministic hashes behind the ARM template functions
//! `uniqueString(...)` and `guid(...)`, reproducing Azure's output exactly.
//!
//! Both functions take their (already stringified) arguments, join them with
//! `-`, and hash the joined text:
//!
//! * `uniqueString` runs a 64-bit Murmur variant (two interleaved 32-bit
//!   MurmurHash3-style lanes over 8-byte blocks, seed 0) over the UTF-8 bytes,
//!   then writes the 64-bit result as 13 characters of the lowercase base-32
//!   alphabet `a-z2-7`, five bits at a time from the most significant end.
//! * `guid` is an RFC 4122 name-based version-5 UUID (SHA-1) of the UTF-8
//!   bytes of the joined text, in ARM's namespace
//!   `11fb06fb-712d-4ddd-98c7-e71bbd588830`, printed lowercase and hyphenated.

use sha1::{Digest, Sha1};

/// What ARM puts between the arguments before hashing them.
const SEPARATOR: &str = "-";

/// ARM's namespace for `guid()`, in RFC 4122 (network, big-endian) byte order:
/// `11fb06fb-712d-4ddd-98c7-e71bbd588830`.
const ARM_GUID_NAMESPACE: [u8; 16] = [
    0x11, 0xfb, 0x06, 0xfb, 0x71, 0x2d, 0x4d, 0xdd, 0x98, 0xc7, 0xe7, 0x1b, 0xbd, 0x58, 0x88, 0x30,
];

/// The 32 symbols of `uniqueString`'s base-32 output, indexed by 5-bit value.
const BASE32_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// How many base-32 symbols `uniqueString` writes (13 × 5 = 65 bits ≥ 64).
const UNIQUE_STRING_LEN: usize = 13;

// Multipliers and increments of the Murmur variant.
const C1: u32 = 0x239b_961b;
const C2: u32 = 0xab0e_9789;
const C3: u32 = 0x561c_cd1b;
const C4: u32 = 0x0bca_a747;
// The MurmurHash3 32-bit finaliser's multipliers.
const F1: u32 = 0x85eb_ca6b;
const F2: u32 = 0xc2b2_ae35;

/// uniqueString: 13-character deterministic hash of the arguments, as ARM computes it.
///
/// The arguments are joined with `-` (so `["a", "b"]` hashes `"a-b"`), the
/// UTF-8 bytes of that are hashed with ARM's 64-bit Murmur variant, and the
/// hash is written as 13 base-32 symbols.
#[must_use]
pub fn unique_string(parts: &[&str]) -> String {
    let joined = parts.join(SEPARATOR);
    base32_13(murmur_hash64(joined.as_bytes()))
}

/// guid: GUID string (lowercase, hyphenated, 36 chars) as ARM computes it.
///
/// A version-5 (SHA-1, name-based) UUID of the arguments joined with `-`,
/// encoded as UTF-8, in ARM's namespace `11fb06fb-712d-4ddd-98c7-e71bbd588830`.
#[must_use]
pub fn guid(parts: &[&str]) -> String {
    let joined = parts.join(SEPARATOR);
    format_uuid(&uuid_v5(&ARM_GUID_NAMESPACE, joined.as_bytes()))
}

/// The 64-bit Murmur variant ARM's `uniqueString` uses, with seed 0.
///
/// Two 32-bit lanes `h1`, `h2`: each 8-byte block gives a little-endian
/// word to each lane, mixed MurmurHash3-style; a 1–7 byte tail feeds its
/// first (up to) four bytes to `h1` and the rest to `h2`, zero-padded, without
/// the lane step; then both lanes take the byte length, are cross-added,
/// finalised with MurmurHash3's `fmix32` and cross-added again. The result is
/// `h2` in the high 32 bits and `h1` in the low 32 bits.
fn murmur_hash64(data: &[u8]) -> u64 {
    let mut h1: u32 = 0;
    let mut h2: u32 = 0;

    let blocks = data.chunks_exact(8);
    let tail = blocks.remainder();
    for block in blocks {
        let (lo, hi) = split_word(block);
        h1 ^= mix_k1(le_u32(lo));
        h1 = h1
            .rotate_left(19)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(C3);
        h2 ^= mix_k2(le_u32(hi));
        h2 = h2
            .rotate_left(13)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(C4);
    }

    if !tail.is_empty() {
        let (lo, hi) = split_word(tail);
        h1 ^= mix_k1(le_u32(lo));
        if !hi.is_empty() {
            h2 ^= mix_k2(le_u32(hi));
        }
    }

    // The reference takes the length as a 32-bit integer: wrapping is intended.
    #[allow(clippy::cast_possible_truncation)]
    let len = data.len() as u32;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix32(h1);
    h2 = fmix32(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);

    (u64::from(h2) << 32) | u64::from(h1)
}

/// Writes a 64-bit value as `uniqueString` does: 13 base-32 symbols, each the
/// top five bits of what is left, most significant first. The last symbol
/// holds the final four bits shifted up by one (so its value is even).
fn base32_13(value: u64) -> String {
    let mut rest = value;
    let mut out = String::with_capacity(UNIQUE_STRING_LEN);
    for _ in 0..UNIQUE_STRING_LEN {
        let index = usize::try_from(rest >> 59).unwrap_or(0);
        if let Some(&symbol) = BASE32_ALPHABET.get(index) {
            out.push(char::from(symbol));
        }
        rest <<= 5;
    }
    out
}

/// The first lane's key mix.
fn mix_k1(k: u32) -> u32 {
    k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
}

/// The second lane's key mix (the first's with the multipliers swapped and
/// a rotation of 17).
fn mix_k2(k: u32) -> u32 {
    k.wrapping_mul(C2).rotate_left(17).wrapping_mul(C1)
}

/// MurmurHash3's 32-bit finaliser.
fn fmix32(h: u32) -> u32 {
    let h = (h ^ (h >> 16)).wrapping_mul(F1);
    let h = (h ^ (h >> 13)).wrapping_mul(F2);
    h ^ (h >> 16)
}

/// Splits a block (or tail) into its first four bytes and the rest.
fn split_word(bytes: &[u8]) -> (&[u8], &[u8]) {
    bytes.split_at_checked(4).unwrap_or((bytes, &[]))
}

/// Reads up to four bytes as a little-endian word, missing high bytes zero.
fn le_u32(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(4)
        .rev()
        .fold(0, |acc, &byte| (acc << 8) | u32::from(byte))
}

/// An RFC 4122 version-5 UUID: SHA-1 of namespace then name, first 16 bytes,
/// version nibble set to 5, variant bits set to `10`.
fn uuid_v5(namespace: &[u8; 16], name: &[u8]) -> [u8; 16] {
    let mut hasher = Sha1::new();
    hasher.update(namespace);
    hasher.update(name);
    let digest = hasher.finalize();

    let mut uuid = [0u8; 16];
    for (slot, byte) in uuid.iter_mut().zip(digest.iter()) {
        *slot = *byte;
    }
    if let Some(byte) = uuid.get_mut(6) {
        *byte = (*byte & 0x0f) | 0x50;
    }
    if let Some(byte) = uuid.get_mut(8) {
        *byte = (*byte & 0x3f) | 0x80;
    }
    uuid
}

/// Formats 16 bytes as a lowercase 8-4-4-4-12 UUID string.
fn format_uuid(bytes: &[u8; 16]) -> String {
    use std::fmt::Write as _;

    let mut out = String::with_capacity(36);
    for (position, byte) in bytes.iter().enumerate() {
        if matches!(position, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{base32_13, format_uuid, le_u32, murmur_hash64, uuid_v5};

    #[test]
    fn little_endian_partial_words() {
        assert_eq!(le_u32(&[]), 0);
        assert_eq!(le_u32(&[0x01]), 0x01);
        assert_eq!(le_u32(&[0x01, 0x02, 0x03]), 0x0003_0201);
        assert_eq!(le_u32(&[0x01, 0x02, 0x03, 0x04]), 0x0403_0201);
    }

    #[test]
    fn base32_edges() {
        assert_eq!(base32_13(0), "aaaaaaaaaaaaa");
        // Twelve symbols of 31, then the last four bits shifted up by one (30).
        assert_eq!(base32_13(u64::MAX), "7777777777776");
        // Only the top five bits set: the first symbol is 31, the rest 0.
        assert_eq!(base32_13(0xf800_0000_0000_0000), "7aaaaaaaaaaaa");
    }

    #[test]
    fn empty_input_hashes_to_zero() {
        // No blocks, no tail, length 0: every step keeps both lanes at 0.
        assert_eq!(murmur_hash64(b""), 0);
    }

    #[test]
    fn every_tail_length_is_distinct() {
        let data = b"0123456789abcdef";
        let hashes: Vec<u64> = (0..=data.len())
            .map(|n| murmur_hash64(data.get(..n).unwrap_or_default()))
            .collect();
        for (i, a) in hashes.iter().enumerate() {
            for b in hashes.iter().skip(i + 1) {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn uuid_v5_matches_rfc_9562_example() {
        // RFC 9562, Appendix A.4: UUIDv5 of "www.example.com" in the DNS
        // namespace 6ba7b810-9dad-11d1-80b4-00c04fd430c8.
        let dns = [
            0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4,
            0x30, 0xc8,
        ];
        assert_eq!(
            format_uuid(&uuid_v5(&dns, b"www.example.com")),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2"
        );
    }
}
