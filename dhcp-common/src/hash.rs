//! The RFC 3074 load-balancing hash (a Pearson hash), as ISC dhcpd 4.4 computes it.
//!
//! `h = len mod 256; for i in (0..len).rev() { h = T[h ^ key[i]] }`: the seed is the key
//! length and bytes are processed **last to first**. The key is the full payload of DHCP
//! option 61 (type byte included) when present, else `chaddr[..hlen]`.

use crate::frame::Bytes;

/// The mixing table from draft-ietf-dhc-loadb-01 as dhcpd carries it (a permutation of 0..=255).
pub const MIXING_TABLE: [u8; 256] = [
    251, 175, 119, 215, 81, 14, 79, 191, 103, 49, 181, 143, 186, 157, 0, 232, //
    31, 32, 55, 60, 152, 58, 17, 237, 174, 70, 160, 144, 220, 90, 57, 223, //
    59, 3, 18, 140, 111, 166, 203, 196, 134, 243, 124, 95, 222, 179, 197, 65, //
    180, 48, 36, 15, 107, 46, 233, 130, 165, 30, 123, 161, 209, 23, 97, 16, //
    40, 91, 219, 61, 100, 10, 210, 109, 250, 127, 22, 138, 29, 108, 244, 67, //
    207, 9, 178, 204, 74, 98, 126, 249, 167, 116, 34, 77, 193, 200, 121, 5, //
    20, 113, 71, 35, 128, 13, 182, 94, 25, 226, 227, 199, 75, 27, 41, 245, //
    230, 224, 43, 225, 177, 26, 155, 150, 212, 142, 218, 115, 241, 73, 88, 105, //
    39, 114, 62, 255, 192, 201, 145, 214, 168, 158, 221, 148, 154, 122, 12, 84, //
    82, 163, 44, 139, 228, 236, 205, 242, 217, 11, 187, 146, 159, 64, 86, 239, //
    195, 42, 106, 198, 118, 112, 184, 172, 87, 2, 173, 117, 176, 229, 247, 253, //
    137, 185, 99, 164, 102, 147, 45, 66, 231, 52, 141, 211, 194, 206, 246, 238, //
    56, 110, 78, 248, 63, 240, 189, 93, 92, 51, 53, 183, 19, 171, 72, 50, //
    33, 104, 101, 69, 8, 252, 83, 120, 76, 135, 85, 54, 202, 125, 188, 213, //
    96, 235, 136, 208, 162, 129, 190, 132, 156, 38, 47, 1, 7, 254, 24, 4, //
    216, 131, 89, 21, 28, 133, 37, 153, 149, 80, 170, 68, 6, 169, 234, 151, //
];

/// Longest key hashed: option 61 carries at most 255 bytes.
pub const MAX_KEY_LEN: usize = 255;

#[inline(always)]
fn mix(h: u8, byte: u8) -> u8 {
    // `h ^ byte` is a u8, so the index is always in bounds; `get` keeps clippy's
    // no-indexing rule honest without a panic path.
    match MIXING_TABLE.get((h ^ byte) as usize) {
        Some(v) => *v,
        None => 0,
    }
}

/// Hash `len` bytes starting at `off` in a packet. Returns `None` if any byte is out of the
/// packet's bounds. This is the form the XDP program uses (no copy of the key).
#[inline(always)]
pub fn lb_hash_at<B: Bytes + ?Sized>(bytes: &B, off: usize, len: usize) -> Option<u8> {
    lb_hash_bounded::<B, MAX_KEY_LEN>(bytes, off, len)
}

/// [`lb_hash_at`] for keys of at most `MAX` bytes (`None` if longer). The constant bound is
/// the loop bound the verifier sees.
#[inline(always)]
pub fn lb_hash_bounded<B: Bytes + ?Sized, const MAX: usize>(bytes: &B, off: usize, len: usize) -> Option<u8> {
    if len > MAX {
        return None;
    }
    let mut h = len as u8;
    let mut remaining = len;
    // Constant loop bound for the verifier; `remaining` counts down to the first byte.
    for _ in 0..MAX {
        if remaining == 0 {
            break;
        }
        remaining -= 1;
        h = mix(h, bytes.load_u8(off + remaining)?);
    }
    Some(h)
}

/// Hash a key held in memory (userspace: lease affinity, tests). Keys longer than
/// [`MAX_KEY_LEN`] cannot come from a valid option 61 and hash as if truncated.
pub fn lb_hash(key: &[u8]) -> u8 {
    let key = key.get(..MAX_KEY_LEN.min(key.len())).unwrap_or(&[]);
    lb_hash_at(key, 0, key.len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from the failover digest; the first five also match live dhcpd decisions.
    #[test]
    fn known_vectors() {
        let cases: &[(&[u8], u8)] = &[
            (&[0x01, 0x52, 0x54, 0x00, 0xaa, 0xbb, 0x10], 51),
            (&[0x52, 0x54, 0x00, 0xaa, 0xbb, 0x10], 213),
            (&[0x01, 0x52, 0x54, 0x00, 0xaa, 0xbb, 0x1b], 117),
            (&[0x52, 0x54, 0x00, 0xaa, 0xbb, 0x17], 23),
            (&[0x52, 0x54, 0x00, 0xaa, 0xbb, 0x19], 18),
            (&[0, 0, 0, 0, 0, 0], 254),
            (&[0xff; 6], 79),
            (&[1, 2, 3, 4, 5, 6], 179),
        ];
        for (key, want) in cases {
            assert_eq!(lb_hash(key), *want, "key {key:02x?}");
        }
    }

    #[test]
    fn table_is_a_permutation() {
        let mut seen = [false; 256];
        for v in MIXING_TABLE {
            assert!(!seen[v as usize], "duplicate {v}");
            seen[v as usize] = true;
        }
    }

    #[test]
    fn empty_key_hashes_to_table_of_zero() {
        // Seed 0, no bytes mixed.
        assert_eq!(lb_hash(&[]), 0);
    }

    #[test]
    fn out_of_bounds_is_none() {
        let k = [1u8, 2, 3];
        assert_eq!(lb_hash_at(&k[..], 1, 3), None);
        assert_eq!(lb_hash_at(&k[..], 0, 300), None);
    }
}
