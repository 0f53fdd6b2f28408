//! How a memory manager is set up: pool and chunk sizes, the hard limit, alignment, and how
//! chunks are mapped.

use super::os;
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
    /// The debug mode: guard every block with red zones, checked when it is freed and by
    /// [`check_consistency`](super::MemoryManager::check_consistency) (a write past either end
    /// is reported with the block's tag and the offset), and, under valgrind, tell memcheck
    /// where blocks, red zones and freed memory are. Every request then takes the pool path
    /// (`thread_cache` is turned off) and uses 64 to 191 bytes more address space.
    /// `None` (default): on when the environment variable `QDSIM_MEM_DEBUG` says `red-zones`,
    /// off when it says `off`; without it, on exactly when the program runs under valgrind.
    /// After [`MemoryManager::new`](super::MemoryManager::new) the manager's
    /// [`config`](super::MemoryManager::config) holds the decision.
    pub red_zones: Option<bool>,
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
            red_zones: None,
        }
    }
}

/// Largest chunk a pool maps (`initial_pool_size`, `chunk_size`): the bound on a single
/// allocation (half the address space), so a chunk can hold any block a request may ask for.
pub const MAX_CHUNK_SIZE: usize = isize::MAX as usize / 2;
/// Most threads `prefault_threads` may ask for (one per page slice; more only adds threads).
pub const MAX_PREFAULT_THREADS: usize = 1024;

impl ManagerConfig {
    /// Checks the settings and fills in derived defaults.
    ///
    /// Refused with [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument), so that
    /// no manager exists on which every allocation would fail: a zero `initial_pool_size`; an
    /// `initial_pool_size` or `chunk_size` above [`MAX_CHUNK_SIZE`], one whose rounding up to
    /// pages and the alignment overflows, or one the system can never map (checked by
    /// reserving, not backing, that much address space once); an alignment that is not a power
    /// of two up to [`MAX_ALIGNMENT`]; a `memory_limit` of `Some(0)` (nothing could be
    /// allocated; `None` means no limit); more than [`MAX_PREFAULT_THREADS`] prefault threads.
    /// A limit below `initial_pool_size` is allowed: chunks are address space, and the limit
    /// counts the bytes of live blocks. An unreadable `QDSIM_MEM_DEBUG` (when `red_zones` is
    /// `None`) is refused too.
    pub(crate) fn validated(mut self) -> Result<Self> {
        let red_zones = super::debug::resolve(self.red_zones)?;
        self.red_zones = Some(red_zones);
        if red_zones {
            self.thread_cache = false;
        }
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
        check_chunk(self.initial_pool_size, self.alignment, "initial_pool_size")?;
        if self.chunk_size != self.initial_pool_size {
            check_chunk(self.chunk_size, self.alignment, "chunk_size")?;
        }
        if self.memory_limit == Some(0) {
            return Err(Error::invalid_argument(
                "memory_limit 0 would refuse every allocation; use no limit (None, or 0 in the \
                 C configuration) or a positive number of bytes",
            ));
        }
        if self.prefault_threads > MAX_PREFAULT_THREADS {
            return Err(Error::invalid_argument(format!(
                "prefault_threads {} is more than {MAX_PREFAULT_THREADS}",
                self.prefault_threads
            )));
        }
        Ok(self)
    }
}

/// Checks that a chunk of `size` bytes aligned to `align` can be mapped at all: within
/// [`MAX_CHUNK_SIZE`], its rounding to pages plus the alignment slack does not overflow, and
/// the system can reserve that much address space (a `PROT_NONE` reservation, returned at once).
fn check_chunk(size: usize, align: usize, what: &str) -> Result<()> {
    let rounded = os::align_up(size, os::page_size()).and_then(|s| s.checked_add(align));
    if size > MAX_CHUNK_SIZE || rounded.is_none() {
        return Err(Error::invalid_argument(format!(
            "{what} {size} bytes is larger than the largest chunk a pool can map \
             ({MAX_CHUNK_SIZE} bytes)"
        )));
    }
    let len = rounded.expect("checked above");
    os::probe_address_space(len).map_err(|e| {
        Error::invalid_argument(format!(
            "{what} {size} bytes can never be mapped on this system ({e}): every allocation \
             would fail"
        ))
    })
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
