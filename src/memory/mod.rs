//! Memory management: the manager with its typed, 64-byte-aligned pools, hard limit, tags,
//! exact statistics and leak reports; the RAII buffer; and the operating-system layer below.
//!
//! | file | what lives there |
//! |---|---|
//! | `manager.rs` | [`MemoryManager`]: allocate, free, statistics, reports, trim |
//! | `pool.rs` | one pool's chunks, live blocks and counters |
//! | `free_list.rs` | best-fit free runs with coalescing |
//! | `pool_kind.rs` | [`PoolKind`] and the element types ([`PoolElement`]) |
//! | `tags.rs` | allocation tags and their counters |
//! | `stats.rs` | [`Stats`], [`AllocationInfo`], [`LeakSummary`] |
//! | `report.rs` | the text allocation and leak reports |
//! | `buffer.rs` | [`PoolBuffer`], an owned array that frees itself |
//! | `config.rs` | [`ManagerConfig`] |
//! | `regions.rs` | the process-wide map of mapped ranges to their owners |
//! | `os.rs` | `mmap`/`munmap`, huge-page advice, available system memory |

mod buffer;
mod config;
mod free_list;
mod manager;
pub mod os;
mod pool;
mod pool_kind;
mod regions;
pub mod report;
mod stats;
mod tags;

pub use buffer::PoolBuffer;
pub use config::{DEFAULT_INITIAL_POOL_SIZE, MAX_ALIGNMENT, MIN_ALIGNMENT, ManagerConfig};
pub use manager::MemoryManager;
pub use pool::GRANULE;
pub use pool_kind::{PoolElement, PoolKind};
pub use stats::{AllocationInfo, LeakSummary, Stats};
pub use tags::{MAX_TAG_LEN, TagStats};
