//! The small-block path: size classes, slabs and per-thread caches that serve requests up to
//! [`SMALL_MAX`] bytes without a lock (issue 3's `ThreadSafeMemoryManager`).
//!
//! | file | what lives there |
//! |---|---|
//! | `class.rs` | the size classes, slab sizes and cache bounds |
//! | `slab.rs` | [`Slab`]: one mapping cut into equal blocks, per-block state, free stack |
//! | `slab_map.rs` | the lock-free address → slab table |
//! | `heap.rs` | [`ThreadHeap`]: one thread's magazines and counters for one manager |
//! | `barrier.rs` | the asymmetric fence of the arena's quiescence handshake (`membarrier`) |
//! | `arena.rs` | [`SmallArena`]: a manager's slabs and heaps, refill, spill, trim, close |

mod arena;
mod barrier;
mod class;
mod heap;
mod slab;
pub mod slab_map;

pub use arena::{SlabSource, SmallArena, SmallCounters};
pub use class::{SLAB_ALIGN, SMALL_MAX, class_of};
pub use heap::{RECENT_TAGS, TAG_SLOTS, ThreadHeap};
pub use slab::{BlockState, MAX_EPOCH, MAX_TAG_ID, Slab};
