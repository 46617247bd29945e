//! Size buckets, so a stored length does not betray what was sent.
//!
//! Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and Communication
//! with PURBs", 2019): at most 12% overhead, and a length of L reveals only O(log log L)
//! bits. Everything shorter than [`MIN_BUCKET`] looks the same.

pub const MIN_BUCKET: u64 = 1024;

/// The padded length for content of `len` bytes.
pub fn bucket(len: u64) -> u64 {
    let l = len.max(MIN_BUCKET);
    let e = 63 - u64::from(l.leading_zeros()); // floor(log2 l)
    let s = 64 - u64::from(e.leading_zeros()); // floor(log2 e) + 1
    let last_bits = e - s;
    let mask = (1u64 << last_bits) - 1;
    (l + mask) & !mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_sizes_share_one_bucket() {
        assert_eq!(bucket(0), 1024);
        assert_eq!(bucket(1), 1024);
        assert_eq!(bucket(1024), 1024);
        assert_eq!(bucket(1025), 1088);
        assert_eq!(bucket(50_000_000), 50_331_648);
    }

    proptest! {
        #[test]
        fn bucket_is_close_and_monotonic(a in 0u64..1u64 << 40, b in 0u64..1u64 << 40) {
            let pa = bucket(a);
            prop_assert!(pa >= a);
            prop_assert!(pa >= MIN_BUCKET);
            prop_assert!((pa as f64) <= (a.max(MIN_BUCKET) as f64) * 1.12 + 1.0);
            if a <= b { prop_assert!(pa <= bucket(b)); }
            prop_assert_eq!(bucket(pa), pa, "a bucket is its own bucket");
        }
    }
}
