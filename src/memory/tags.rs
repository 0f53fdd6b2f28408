//! Allocation tags: short names (`"hamiltonian.values"`) that say who holds memory, interned
//! once per manager, with lock-free counters updated on every allocation and free.

use crate::error::{Error, Result};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Longest tag accepted, in bytes (UTF-8).
pub const MAX_TAG_LEN: usize = 63;

/// Statistics of one tag, summed over all pools.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagStats {
    /// The tag (empty for untagged allocations).
    pub name: String,
    /// Bytes requested by live allocations with this tag.
    pub bytes_in_use: u64,
    /// Highest `bytes_in_use` ever reached.
    pub peak_bytes_in_use: u64,
    /// Bytes requested by all allocations with this tag, freed or not.
    pub total_allocated_bytes: u64,
    /// Successful allocations with this tag.
    pub allocation_count: u64,
    /// Frees of allocations with this tag.
    pub free_count: u64,
    /// Allocations with this tag that are still live.
    pub live_allocations: u64,
}

/// One interned tag and its counters.
#[derive(Debug)]
pub struct Tag {
    name: Box<str>,
    in_use: AtomicU64,
    peak: AtomicU64,
    total: AtomicU64,
    allocs: AtomicU64,
    frees: AtomicU64,
}

impl Tag {
    fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            in_use: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            total: AtomicU64::new(0),
            allocs: AtomicU64::new(0),
            frees: AtomicU64::new(0),
        }
    }

    /// The tag's text.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counts an allocation of `bytes`.
    pub fn on_alloc(&self, bytes: u64) {
        let now = self.in_use.fetch_add(bytes, Relaxed) + bytes;
        self.peak.fetch_max(now, Relaxed);
        self.total.fetch_add(bytes, Relaxed);
        self.allocs.fetch_add(1, Relaxed);
    }

    /// Counts a free of `bytes`.
    pub fn on_free(&self, bytes: u64) {
        self.in_use.fetch_sub(bytes, Relaxed);
        self.frees.fetch_add(1, Relaxed);
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> TagStats {
        let allocation_count = self.allocs.load(Relaxed);
        let free_count = self.frees.load(Relaxed);
        TagStats {
            name: self.name.to_string(),
            bytes_in_use: self.in_use.load(Relaxed),
            peak_bytes_in_use: self.peak.load(Relaxed),
            total_allocated_bytes: self.total.load(Relaxed),
            allocation_count,
            free_count,
            live_allocations: allocation_count.saturating_sub(free_count),
        }
    }
}

/// A manager's tags.
#[derive(Debug, Default)]
pub struct TagTable {
    tags: RwLock<HashMap<Box<str>, Arc<Tag>>>,
}

impl TagTable {
    /// The interned tag for `name`, created on first use.
    pub fn intern(&self, name: &str) -> Result<Arc<Tag>> {
        if name.len() > MAX_TAG_LEN {
            return Err(Error::invalid_argument(format!(
                "tag {name:?} is {} bytes long; tags are at most {MAX_TAG_LEN} bytes",
                name.len()
            )));
        }
        if let Some(tag) = self.tags.read().get(name) {
            return Ok(tag.clone());
        }
        let mut tags = self.tags.write();
        Ok(tags
            .entry(name.into())
            .or_insert_with(|| Arc::new(Tag::new(name)))
            .clone())
    }

    /// The tag called `name`, if any allocation ever used it.
    pub fn get(&self, name: &str) -> Option<Arc<Tag>> {
        self.tags.read().get(name).cloned()
    }

    /// Statistics of every tag, the most memory in use first (then by name).
    pub fn all_stats(&self) -> Vec<TagStats> {
        let mut all: Vec<TagStats> = self.tags.read().values().map(|t| t.stats()).collect();
        all.sort_by(|a, b| {
            b.bytes_in_use
                .cmp(&a.bytes_in_use)
                .then_with(|| a.name.cmp(&b.name))
        });
        all
    }

    /// Number of distinct tags seen.
    pub fn len(&self) -> usize {
        self.tags.read().len()
    }
}
