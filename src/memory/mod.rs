//! Memory management: the manager with its typed, 64-byte-aligned pools, hard limit, tags,
//! exact statistics and leak reports; the RAII buffer; and the operating-system layer below.
//!
//! | file | what lives there |
//! |---|---|
//! | `manager.rs` | [`MemoryManager`]: allocate, free, statistics, reports, trim |
//! | `manager/small_path.rs` | the manager's side of the small-block path: allocation and free through a thread's heap, every refusal, statistics and checks of small blocks |
//! | `manager/fast_path.rs` | the small-block common case in one pass (a magazine pop or push), for the C API's lane and the Rust API |
//! | `manager/credit.rs` | per-thread credit: small blocks in the manager's total without a shared atomic update per operation |
//! | `manager/external.rs` | [`ExternalAccount`]: bytes a solve holds outside the pools (a sparse factor faer allocates), counted under a tag and against the limit |
//! | `pool.rs` | one pool's chunks, live blocks and counters |
//! | `free_list.rs` | best-fit free runs with coalescing |
//! | `pool_kind.rs` | [`PoolKind`] and the element types ([`PoolElement`]) |
//! | `tags.rs` | allocation tags and their counters |
//! | `stats.rs` | [`Stats`], [`AllocationInfo`], [`LeakSummary`] |
//! | `report.rs` | the text allocation and leak reports |
//! | `small/` | the small-block path: size classes, slabs, per-thread caches |
//! | `scopes.rs` | scoped statistics (push/pop), checkpoints and `leaks_since` |
//! | `event_log.rs` | the optional allocation event log, its CSV form and `replay` |
//! | `buffer.rs` | [`PoolBuffer`], an owned array that frees itself |
//! | `pool_vec.rs` | [`PoolVec`], a growable array in a pool |
//! | `config.rs` | [`ManagerConfig`] |
//! | `debug/` | the debug mode: red zones around every block, valgrind client requests |
//! | `regions.rs` | the process-wide map of mapped ranges to their owners |
//! | `os.rs` | `mmap`/`munmap`, huge-page advice, available system memory, the process's resident set |
//!
//! External accounts: memory that cannot live in a pool (faer's sparse LU factor keeps its
//! values in its own `Vec`s) is still counted. Open a [`MemoryManager::external_account`] under
//! a tag *before* allocating, with the size or an estimate of it: it counts in `bytes_in_use`,
//! the peak, `available_bytes` and the tag's statistics, is refused with `LimitExceeded` when it
//! would cross the limit, can be [`resize`](ExternalAccount::resize)d to the actual size, and
//! gives its bytes back when dropped. Pool counters (footprint, free bytes, live allocations)
//! do not see it.
//!
//! The C API uses [`Stats`] and [`LeakSummary`] from `stats.rs` as they are; every other module
//! line carries `/// cbindgen:ignore` to keep Rust-only items out of the C header.

/// cbindgen:ignore
mod buffer;
/// cbindgen:ignore
mod config;
/// cbindgen:ignore
mod debug;
/// cbindgen:ignore
mod event_log;
/// cbindgen:ignore
mod free_list;
/// cbindgen:ignore
mod manager;
/// cbindgen:ignore
pub mod os;
/// cbindgen:ignore
mod pool;
/// cbindgen:ignore
mod pool_kind;
/// cbindgen:ignore
mod pool_vec;
/// cbindgen:ignore
mod regions;
/// cbindgen:ignore
pub mod report;
/// cbindgen:ignore
mod scopes;
/// cbindgen:ignore
mod small;
mod stats;
/// cbindgen:ignore
mod tags;

pub use buffer::PoolBuffer;
pub use config::{
    DEFAULT_INITIAL_POOL_SIZE, DEFAULT_RETAIN_BYTES, MAX_ALIGNMENT, MAX_CHUNK_SIZE,
    MAX_PREFAULT_THREADS, MIN_ALIGNMENT, ManagerConfig,
};
pub use debug::DEBUG_ENV;
pub use event_log::{
    EVENT_LOG_HEADER, Event, EventOp, ReplayReport, events_from_csv, events_from_reader,
    events_to_csv, read_event_log, replay,
};
pub use manager::{ExternalAccount, MemoryManager, PeakTracker};
pub use pool::GRANULE;
pub use pool_kind::{PoolElement, PoolKind};
pub use pool_vec::PoolVec;
pub use scopes::{Checkpoint, LeakCheck, ScopeStats};
pub(crate) use small::ThreadHeap;
pub use stats::{AllocationInfo, LeakSummary, Stats};
pub use tags::{MAX_TAG_LEN, TagStats};
pub(crate) use tags::{Tag, TagText};
