//! Size classes of the small-block path: which block size serves a request, and how large a
//! slab of each class is.
//!
//! Classes are multiples of 64 bytes (so every block stays 64-byte aligned): 64 to 512 in steps
//! of 64, then four classes per doubling (640, 768, 896, 1024, 1280, …) up to [`SMALL_MAX`].
//! Internal waste is therefore under 20 % of a block above 512 bytes (and under 64 bytes below).

/// Largest request served by size classes (256 KiB); larger ones go to the best-fit chunks.
pub const SMALL_MAX: usize = 256 << 10;

/// Block granule and alignment of every class.
pub const CLASS_GRANULE: usize = 64;

/// Number of size classes.
pub const CLASS_COUNT: usize = 8 + 4 * 9;

/// Slabs are mapped in multiples of this, aligned to it (the slab map's granule).
pub const SLAB_ALIGN: usize = 64 << 10;

/// The class that serves `size` bytes (1 ≤ size ≤ [`SMALL_MAX`]).
#[inline(always)]
pub fn class_of(size: usize) -> usize {
    debug_assert!((1..=SMALL_MAX).contains(&size));
    if size <= 512 {
        return (size - 1) / CLASS_GRANULE;
    }
    // Above 512: 4 classes per power of two. Block sizes 2^p·(1 + q/4) for q = 1..=4.
    let p = usize::BITS as usize - 1 - (size - 1).leading_zeros() as usize; // 2^p < size ≤ 2^(p+1)
    let quarter = 1usize << (p - 2);
    let q = (size - (1 << p)).div_ceil(quarter); // 1..=4
    8 + 4 * (p - 9) + (q - 1)
}

/// The block size of class `class`.
#[inline(always)]
pub fn block_size(class: usize) -> usize {
    BLOCK_SIZES[class]
}

const fn compute_block_size(class: usize) -> usize {
    if class < 8 {
        return (class + 1) * CLASS_GRANULE;
    }
    let p = 9 + (class - 8) / 4;
    let q = (class - 8) % 4 + 1;
    (1 << p) + q * (1 << (p - 2))
}

/// [`block_size`] of every class, computed at compile time (the fast path reads it on every
/// allocation and free).
const BLOCK_SIZES: [usize; CLASS_COUNT] = {
    let mut sizes = [0; CLASS_COUNT];
    let mut class = 0;
    while class < CLASS_COUNT {
        sizes[class] = compute_block_size(class);
        class += 1;
    }
    sizes
};

/// Bytes of one slab of `class`: room for at least 16 blocks, at least 256 KiB, a multiple of
/// [`SLAB_ALIGN`], at most 4 MiB (16 blocks of the largest class).
pub fn slab_len(class: usize) -> usize {
    let len = (16 * block_size(class)).max(256 << 10);
    len.div_ceil(SLAB_ALIGN) * SLAB_ALIGN
}

/// Blocks the calling thread keeps in its cache for `class` before handing half back: about
/// 64 KiB worth, between 4 and 64 blocks.
#[inline(always)]
pub fn cache_limit(class: usize) -> usize {
    CACHE_LIMITS[class]
}

/// [`cache_limit`] of every class, computed at compile time (no division on the free path).
const CACHE_LIMITS: [usize; CLASS_COUNT] = {
    let mut limits = [0; CLASS_COUNT];
    let mut class = 0;
    while class < CLASS_COUNT {
        let blocks = (64 << 10) / compute_block_size(class);
        limits[class] = if blocks < 4 {
            4
        } else if blocks > 64 {
            64
        } else {
            blocks
        };
        class += 1;
    }
    limits
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_gets_the_smallest_class_that_holds_it() {
        assert_eq!(block_size(CLASS_COUNT - 1), SMALL_MAX);
        let mut previous = 0;
        for class in 0..CLASS_COUNT {
            let b = block_size(class);
            assert!(b > previous && b % CLASS_GRANULE == 0, "class {class}: {b}");
            assert_eq!(class_of(b), class);
            assert_eq!(class_of(previous + 1), class, "size {}", previous + 1);
            // Above 512 bytes a request wastes less than a fifth of its block.
            if previous >= 512 {
                assert!((b - previous) * 5 <= b, "class {class}: {previous} → {b}");
            }
            previous = b;
        }
        for size in [1, 63, 64, 65, 511, 512, 513, 1000, 4096, 100_000, SMALL_MAX] {
            let c = class_of(size);
            assert!(block_size(c) >= size && (c == 0 || block_size(c - 1) < size));
        }
    }

    #[test]
    fn slabs_hold_enough_blocks_and_are_aligned_multiples() {
        for class in 0..CLASS_COUNT {
            let len = slab_len(class);
            assert_eq!(len % SLAB_ALIGN, 0);
            assert!(len / block_size(class) >= 16);
            assert!(len <= 4 << 20);
        }
    }
}
