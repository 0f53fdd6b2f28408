//! How a memory manager is set up: pool and chunk sizes, the hard limit, alignment, and how
//! chunks are mapped.

use crate::error::{Error, Result};

/// 100 MiB, the seed design's initial pool size.
pub const DEFAULT_INITIAL_POOL_SIZE: usize = 100 << 20;
/// Default bytes of freed direct mappings a pool keeps for reuse (1 GiB).
pub const DEFAULT_RETAIN_BYTES: u64 = 1 << 30;
/// Every block is aligned to at least this many bytes (a cache line, an AVX-512 vector).
pub const MIN_ALIGNMENT: usize = 64;
/// Largest alignment a request may ask for (1 GiB, a huge page).
pub const MAX_ALIGNMENT: usize = 1 << 30;

/// Settings of a [`MemoryManager`](super::MemoryManager).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagerConfig {
    /// Size of each pool's first chunk, in bytes.
    pub initial_pool_size: usize,
    /// Size of the chunks a pool adds when it runs out; `0` means `initial_pool_size`.
    /// Requests larger than this (that do not fit a free run) get their own mapping.
    pub chunk_size: usize,
    /// Hard limit on the bytes in use over all pools; `None` for no limit.
    pub memory_limit: Option<u64>,
    /// Default alignment of every block (a power of two, at least 64).
    pub alignment: usize,
    /// Map each pool's first chunk when the manager is created instead of on first use.
    pub eager: bool,
    /// Touch every page of new chunks as soon as they are mapped.
    pub prefault: bool,
    /// With `prefault`, touch the pages from this many threads at once (first touch places a
    /// page on the toucher's NUMA node); 0 or 1 lets the kernel do it (`MAP_POPULATE`).
    pub prefault_threads: usize,
    /// Serve requests up to 256 KiB (at the default alignment) from per-thread caches of
    /// size-class slabs, without a lock (on by default). Off, every request takes the pool's
    /// lock and best-fit path.
    pub thread_cache: bool,
    /// Keep up to this many bytes of freed direct mappings (blocks larger than a chunk) per pool
    /// for reuse, so a matrix allocated again is neither mapped nor faulted in again; `trim`
    /// returns them. 0 unmaps at once (default 1 GiB).
    pub retain_bytes: u64,
    /// Advise transparent huge pages for chunks and direct mappings. Off by default: on the
    /// 2-core VM the benchmarks run on, first touch of huge pages was 4× slower than of 4 KiB
    /// pages (0.23 s vs 0.06 s for 96 MB, `defrag = madvise`), which cost more than their TLB
    /// savings in the eigensolver; turn it on where the kernel pre-zeroes huge pages cheaply.
    pub huge_pages: bool,
    /// Print the leak report to stderr when the manager is destroyed (C) or its last handle is
    /// dropped (Rust) while allocations are still live.
    pub report_leaks_on_destroy: bool,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        Self {
            initial_pool_size: DEFAULT_INITIAL_POOL_SIZE,
            chunk_size: 0,
            memory_limit: None,
            alignment: MIN_ALIGNMENT,
            eager: false,
            prefault: false,
            prefault_threads: 0,
            thread_cache: true,
            retain_bytes: DEFAULT_RETAIN_BYTES,
            huge_pages: false,
            report_leaks_on_destroy: true,
        }
    }
}

impl ManagerConfig {
    /// Checks the settings and fills in derived defaults.
    pub(crate) fn validated(mut self) -> Result<Self> {
        if self.initial_pool_size == 0 {
            return Err(Error::invalid_argument(
                "initial_pool_size must be greater than 0",
            ));
        }
        if self.chunk_size == 0 {
            self.chunk_size = self.initial_pool_size;
        }
        check_alignment(self.alignment, "alignment")?;
        self.alignment = self.alignment.max(MIN_ALIGNMENT);
        Ok(self)
    }
}

/// Checks that `align` is a power of two no larger than [`MAX_ALIGNMENT`].
pub(crate) fn check_alignment(align: usize, what: &str) -> Result<()> {
    if !align.is_power_of_two() || align > MAX_ALIGNMENT {
        return Err(Error::invalid_argument(format!(
            "{what} {align} is not a power of two between 1 and {MAX_ALIGNMENT}"
        )));
    }
    Ok(())
}
