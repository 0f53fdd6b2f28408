//! Allocation tags: short names (`"hamiltonian.values"`) that say who holds memory, interned
//! once per manager with a small id, with lock-free counters updated on every allocation and
//! free. The small-block path counts the first [`TAG_SLOTS`] tags in per-thread slots instead,
//! and the manager adds those in when it reads a tag (see [`Tag::stats`] for the peak).

use super::small::TAG_SLOTS;
use crate::error::{Error, Result};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Longest tag accepted, in bytes (UTF-8).
pub const MAX_TAG_LEN: usize = 63;

/// A tag name as a caller gave it: text, or the bytes of a C string not checked to be UTF-8
/// yet. The allocation path checks them only when they are not the name of a tag the thread
/// used recently (whose bytes were checked when it was interned), so a C caller passing the
/// same tag every time pays a comparison, not a validation.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TagText<'a> {
    /// Checked text.
    Str(&'a str),
    /// Unchecked bytes (no NUL).
    Bytes(&'a [u8]),
}

impl<'a> TagText<'a> {
    /// The name's bytes.
    #[inline]
    pub(crate) fn as_bytes(self) -> &'a [u8] {
        match self {
            TagText::Str(s) => s.as_bytes(),
            TagText::Bytes(b) => b,
        }
    }

    /// The name as text; bytes that are not UTF-8 are refused.
    pub(crate) fn to_str(self) -> Result<&'a str> {
        match self {
            TagText::Str(s) => Ok(s),
            TagText::Bytes(b) => std::str::from_utf8(b)
                .map_err(|e| Error::invalid_argument(format!("tag is not valid UTF-8: {e}"))),
        }
    }
}

/// Statistics of one tag, summed over all pools.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagStats {
    /// The tag (empty for untagged allocations).
    pub name: String,
    /// Bytes requested by live allocations with this tag.
    pub bytes_in_use: u64,
    /// Highest `bytes_in_use` ever reached (blocks of up to 256 KiB from the thread caches
    /// count at every pool-path allocation with this tag and every statistics read).
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

/// Counters of a tag kept outside the tag (the small path's per-thread slots), summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counted {
    /// Allocations.
    pub allocs: u64,
    /// Frees.
    pub frees: u64,
    /// Bytes allocated.
    pub total: u64,
    /// Bytes in use (wrapping: add it to the tag's own).
    pub in_use: u64,
}

/// One interned tag and its counters.
#[derive(Debug)]
pub struct Tag {
    id: u32,
    name: Box<str>,
    in_use: AtomicU64,
    peak: AtomicU64,
    total: AtomicU64,
    allocs: AtomicU64,
    frees: AtomicU64,
}

impl Tag {
    fn new(id: u32, name: &str) -> Self {
        Self {
            id,
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

    /// The tag's id in its manager (0 is the empty tag's when it is used first).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The per-thread counter slot of this tag, if it has one.
    #[inline]
    pub fn slot(&self) -> Option<usize> {
        ((self.id as usize) < TAG_SLOTS).then_some(self.id as usize)
    }

    /// Counts `bytes` more in use (and the peak).
    #[inline]
    pub fn add_in_use(&self, bytes: u64) {
        let now = self.in_use.fetch_add(bytes, Relaxed) + bytes;
        if now > self.peak.load(Relaxed) {
            self.peak.fetch_max(now, Relaxed);
        }
    }

    /// Counts `bytes` fewer in use.
    #[inline]
    pub fn sub_in_use(&self, bytes: u64) {
        self.in_use.fetch_sub(bytes, Relaxed);
    }

    /// Bytes in use counted in the tag itself (pool path, and small blocks of tags without a
    /// per-thread slot).
    pub fn in_use(&self) -> u64 {
        self.in_use.load(Relaxed)
    }

    /// Raises the peak to `current` bytes in use (pool path plus small blocks) if higher.
    pub fn note_peak(&self, current: u64) {
        if current > self.peak.load(Relaxed) {
            self.peak.fetch_max(current, Relaxed);
        }
    }

    /// Counts an allocation of `bytes` in the tag's own counters.
    pub fn on_alloc(&self, bytes: u64) {
        self.add_in_use(bytes);
        self.count_alloc(bytes);
    }

    /// Counts an allocation of `bytes` without touching bytes in use.
    pub fn count_alloc(&self, bytes: u64) {
        self.total.fetch_add(bytes, Relaxed);
        self.allocs.fetch_add(1, Relaxed);
    }

    /// Counts `bytes` more allocated in total, without counting an allocation (an external
    /// account that grows).
    pub fn count_bytes(&self, bytes: u64) {
        self.total.fetch_add(bytes, Relaxed);
    }

    /// Counts a free of `bytes` in the tag's own counters.
    pub fn on_free(&self, bytes: u64) {
        self.sub_in_use(bytes);
        self.count_free();
    }

    /// Counts a free without touching bytes in use.
    pub fn count_free(&self) {
        self.frees.fetch_add(1, Relaxed);
    }

    /// A snapshot of the counters plus what is counted elsewhere (the per-thread slots); the
    /// bytes in use seen now count towards the peak.
    pub fn stats(&self, extra: Counted) -> TagStats {
        let allocation_count = self.allocs.load(Relaxed) + extra.allocs;
        let free_count = self.frees.load(Relaxed) + extra.frees;
        let bytes_in_use = self.in_use.load(Relaxed).wrapping_add(extra.in_use);
        self.note_peak(bytes_in_use);
        TagStats {
            name: self.name.to_string(),
            bytes_in_use,
            peak_bytes_in_use: self.peak.load(Relaxed),
            total_allocated_bytes: self.total.load(Relaxed) + extra.total,
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
    by_id: RwLock<Vec<Arc<Tag>>>,
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
            .or_insert_with(|| {
                let mut by_id = self.by_id.write();
                let tag = Arc::new(Tag::new(by_id.len() as u32, name));
                by_id.push(tag.clone());
                tag
            })
            .clone())
    }

    /// The tag with id `id`.
    pub fn by_id(&self, id: u32) -> Option<Arc<Tag>> {
        self.by_id.read().get(id as usize).cloned()
    }

    /// The tag called `name`, if any allocation ever used it.
    pub fn get(&self, name: &str) -> Option<Arc<Tag>> {
        self.tags.read().get(name).cloned()
    }

    /// Every tag, in id order.
    pub fn all(&self) -> Vec<Arc<Tag>> {
        self.by_id.read().clone()
    }

    /// Statistics of every tag, the most memory in use first (then by name); `extra` gives
    /// what is counted outside a tag's own counters.
    pub fn all_stats(&self, extra: impl Fn(&Tag) -> Counted) -> Vec<TagStats> {
        let mut all: Vec<TagStats> = self.all().iter().map(|t| t.stats(extra(t))).collect();
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
