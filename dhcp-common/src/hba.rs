//! Hash bucket assignment (HBA): 256 buckets, one bit each.
//!
//! dhcpd's meaning (the inverse of draft-12 §12.11): a **set** bit means the **primary**
//! serves the bucket. Bit order is LSB-first: bucket `h` is `hba[h >> 3] & (1 << (h & 7))`.

/// A 32-byte hash bucket assignment as carried in the failover CONNECT message (option 11).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hba(pub [u8; 32]);

impl Hba {
    /// Every bucket served by the secondary.
    pub const ALL_SECONDARY: Hba = Hba([0; 32]);
    /// Every bucket served by the primary (`split 256` / hot standby).
    pub const ALL_PRIMARY: Hba = Hba([0xff; 32]);

    /// dhcpd's `split N`: buckets `0..N` belong to the primary. `N` ranges over 0..=256
    /// (dhcpd's parser accepts up to 256; 128 is an even split).
    pub const fn from_split(split: u16) -> Hba {
        let mut bits = [0u8; 32];
        let n = if split > 256 { 256 } else { split as usize };
        let mut i = 0;
        while i < n {
            // i < 256, so i >> 3 < 32: in bounds (a const fn cannot use get_mut here).
            #[allow(clippy::indexing_slicing)]
            {
                bits[i >> 3] |= 1 << (i & 7);
            }
            i += 1;
        }
        Hba(bits)
    }

    /// Whether the primary serves `bucket`.
    #[inline(always)]
    pub fn primary_serves(&self, bucket: u8) -> bool {
        let byte = match self.0.get((bucket >> 3) as usize) {
            Some(b) => *b,
            None => 0,
        };
        byte & (1 << (bucket & 7)) != 0
    }

    /// Number of buckets the primary serves.
    pub fn primary_buckets(&self) -> u32 {
        self.0.iter().map(|b| b.count_ones()).sum()
    }

    /// If this HBA is exactly a `split` value, return it.
    pub fn as_split(&self) -> Option<u16> {
        let n = self.primary_buckets() as u16;
        if Hba::from_split(n) == *self { Some(n) } else { None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn split_128_is_16_ff_then_16_00() {
        let h = Hba::from_split(128);
        assert_eq!(&h.0[..16], &[0xff; 16]);
        assert_eq!(&h.0[16..], &[0x00; 16]);
    }

    #[test]
    fn lsb_first_bit_order() {
        // The live capture used hba 0x0f x 32: buckets with (h & 7) < 4 are the primary's.
        let h = Hba([0x0f; 32]);
        assert!(h.primary_serves(51)); // 51 & 7 = 3
        assert!(!h.primary_serves(117)); // 117 & 7 = 5
        assert!(!h.primary_serves(23)); // 23 & 7 = 7
        assert!(h.primary_serves(18)); // 18 & 7 = 2
    }

    proptest! {
        #[test]
        fn split_gives_exactly_n_primary_buckets(n in 0u16..=256) {
            let h = Hba::from_split(n);
            prop_assert_eq!(h.primary_buckets(), n as u32);
            for b in 0..=255u8 {
                prop_assert_eq!(h.primary_serves(b), (b as u16) < n);
            }
            prop_assert_eq!(h.as_split(), Some(n));
        }
    }
}
