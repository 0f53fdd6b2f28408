//! The bookkeeping of a [`DevicePool`](super::DevicePool), kept apart from CUDA so that it is
//! tested on machines without a device: statistics (the host pools' [`Stats`] fields), the hard
//! limit, per-tag counters, and the live allocations behind the leak report.
//!
//! Every allocation and free goes through [`Ledger::allocate`] / [`Ledger::release`], which hold
//! the ledger's lock around the driver call they are given: the limit check and the counters are
//! exact even when several threads allocate at once (a device allocation takes microseconds, so
//! serialising one pool's allocations costs little).

use crate::error::{Error, ErrorKind, Result};
use crate::memory::report::human_bytes;
use crate::memory::{MAX_TAG_LEN, Stats, TagStats};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

/// Most individual allocations a leak report lists (the per-tag summary covers all of them).
pub const LEAK_LINES: usize = 100;

/// What kind of memory an allocation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemoryKind {
    /// Device memory (`cuMemAllocFromPoolAsync`); the pool's limit applies to it.
    Device,
    /// Page-locked host memory (`cuMemHostAlloc`); counted separately, not under the limit.
    Pinned,
}

impl MemoryKind {
    /// `"device"` or `"pinned"`.
    pub fn name(self) -> &'static str {
        match self {
            MemoryKind::Device => "device",
            MemoryKind::Pinned => "pinned",
        }
    }
}

/// One live allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    /// Device address, or host address for pinned memory.
    pub address: u64,
    /// Bytes requested.
    pub size: u64,
    /// Device or pinned host memory.
    pub kind: MemoryKind,
    /// Its tag (empty when untagged).
    pub tag: Arc<str>,
}

#[derive(Default)]
struct Inner {
    device: Stats,
    pinned: Stats,
    live: BTreeMap<u64, Allocation>,
    /// Live allocations that a library object (a `DeviceVec`) owns: only it frees them.
    owned: std::collections::BTreeSet<u64>,
    tags: BTreeMap<Arc<str>, TagStats>,
}

impl Inner {
    fn stats_mut(&mut self, kind: MemoryKind) -> &mut Stats {
        match kind {
            MemoryKind::Device => &mut self.device,
            MemoryKind::Pinned => &mut self.pinned,
        }
    }
}

/// Statistics, limit, tags and live allocations of one pool.
pub struct Ledger {
    limit: Option<u64>,
    inner: Mutex<Inner>,
}

impl Ledger {
    /// A ledger with a hard limit on device bytes in use (`None`: no limit).
    pub fn new(limit: Option<u64>) -> Self {
        Self {
            limit,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The limit on device bytes in use.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Checks the request (size, tag, limit for device memory), then runs `allocate` (the
    /// driver call, which returns the new address) and records the allocation. A refusal by the
    /// limit or by `allocate` counts as a failed allocation and changes nothing else.
    pub fn allocate(
        &self,
        kind: MemoryKind,
        bytes: u64,
        tag: &str,
        allocate: impl FnOnce() -> Result<u64>,
    ) -> Result<u64> {
        self.allocate_as(kind, bytes, tag, false, allocate)
    }

    /// [`allocate`](Self::allocate); an `owned` allocation belongs to a library object (a
    /// `DeviceVec`): [`release`](Self::release) refuses it, only
    /// [`release_as`](Self::release_as) by its owner frees it.
    pub(crate) fn allocate_as(
        &self,
        kind: MemoryKind,
        bytes: u64,
        tag: &str,
        owned: bool,
        allocate: impl FnOnce() -> Result<u64>,
    ) -> Result<u64> {
        if bytes == 0 {
            return Err(Error::invalid_argument(format!(
                "allocation of 0 bytes (tag {tag:?}, {} memory): ask for at least one byte",
                kind.name()
            )));
        }
        if tag.len() > MAX_TAG_LEN {
            return Err(Error::invalid_argument(format!(
                "tag {tag:?} is {} bytes long; tags are at most {MAX_TAG_LEN} bytes",
                tag.len()
            )));
        }
        let mut inner = self.inner.lock();
        if kind == MemoryKind::Device
            && let Some(limit) = self.limit
        {
            let current = inner.device.bytes_in_use;
            if current.checked_add(bytes).is_none_or(|next| next > limit) {
                inner.device.failed_allocations += 1;
                return Err(Error::new(
                    ErrorKind::LimitExceeded,
                    format!(
                        "allocation of {bytes} bytes (tag {tag:?}, pool gpu) would exceed the \
                         memory limit of {limit} bytes: {current} bytes are in use, {} available",
                        limit.saturating_sub(current)
                    ),
                ));
            }
        }
        let address = match allocate() {
            Ok(address) => address,
            Err(error) => {
                inner.stats_mut(kind).failed_allocations += 1;
                return Err(error);
            }
        };
        if let Some(previous) = inner.live.get(&address) {
            // The driver handed out an address that is still live here: our books are wrong.
            // Refuse it before counting anything, so the books stay consistent.
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "the driver returned address {address:#x}, which is already live \
                     ({} bytes, tag {:?})",
                    previous.size, previous.tag
                ),
            ));
        }
        let stats = inner.stats_mut(kind);
        stats.bytes_in_use += bytes;
        stats.peak_bytes_in_use = stats.peak_bytes_in_use.max(stats.bytes_in_use);
        stats.total_allocated_bytes += bytes;
        stats.allocation_count += 1;
        stats.live_allocations += 1;
        let tag: Arc<str> = match inner.tags.get_key_value(tag) {
            Some((name, _)) => name.clone(),
            None => tag.into(),
        };
        let t = inner.tags.entry(tag.clone()).or_insert_with(|| TagStats {
            name: tag.to_string(),
            ..TagStats::default()
        });
        t.bytes_in_use += bytes;
        t.peak_bytes_in_use = t.peak_bytes_in_use.max(t.bytes_in_use);
        t.total_allocated_bytes += bytes;
        t.allocation_count += 1;
        t.live_allocations += 1;
        inner.live.insert(
            address,
            Allocation {
                address,
                size: bytes,
                kind,
                tag,
            },
        );
        if owned {
            inner.owned.insert(address);
        }
        Ok(address)
    }

    /// Looks up the live allocation of `kind` that starts at `address`, runs `free` (the driver
    /// call) on it and, when that succeeds, removes it from the books. An address that is not
    /// the start of a live allocation of `kind` gives [`ErrorKind::NotOwned`], and so does one
    /// a library object owns (see `allocate_as`).
    pub fn release(
        &self,
        kind: MemoryKind,
        address: u64,
        free: impl FnOnce(&Allocation) -> Result<()>,
    ) -> Result<Allocation> {
        self.release_as(kind, address, false, free)
    }

    /// [`release`](Self::release); `by_owner`: the caller owns an owned allocation.
    pub(crate) fn release_as(
        &self,
        kind: MemoryKind,
        address: u64,
        by_owner: bool,
        free: impl FnOnce(&Allocation) -> Result<()>,
    ) -> Result<Allocation> {
        let mut inner = self.inner.lock();
        let allocation = match inner.live.get(&address) {
            Some(a) if a.kind == kind && !by_owner && inner.owned.contains(&address) => {
                return Err(Error::new(
                    ErrorKind::NotOwned,
                    format!(
                        "{address:#x} ({} bytes, tag {:?}) belongs to a library object (a \
                         solver's device array), which frees it itself",
                        a.size, a.tag
                    ),
                ));
            }
            Some(a) if a.kind == kind => a.clone(),
            Some(a) => {
                return Err(Error::new(
                    ErrorKind::NotOwned,
                    format!(
                        "{address:#x} is {} memory of this pool, not {} memory",
                        a.kind.name(),
                        kind.name()
                    ),
                ));
            }
            None => {
                let inside = inner
                    .live
                    .range(..address)
                    .next_back()
                    .filter(|(_, a)| address < a.address + a.size)
                    .map(|(_, a)| a.clone());
                return Err(Error::new(
                    ErrorKind::NotOwned,
                    match inside {
                        Some(a) => format!(
                            "{address:#x} points {} bytes inside the {} allocation at {:#x} \
                             ({} bytes, tag {:?}); free its start",
                            address - a.address,
                            a.kind.name(),
                            a.address,
                            a.size,
                            a.tag
                        ),
                        None => format!(
                            "{address:#x} is not a live {} allocation of this pool (freed \
                             already, or never allocated here)",
                            kind.name()
                        ),
                    },
                ));
            }
        };
        free(&allocation)?;
        inner.live.remove(&address);
        inner.owned.remove(&address);
        let stats = inner.stats_mut(kind);
        stats.bytes_in_use -= allocation.size;
        stats.free_count += 1;
        stats.live_allocations -= 1;
        if let Some(t) = inner.tags.get_mut(&allocation.tag) {
            t.bytes_in_use -= allocation.size;
            t.free_count += 1;
            t.live_allocations -= 1;
        }
        Ok(allocation)
    }

    /// Checks that `[address, address + bytes)` lies inside one live allocation of `kind` and
    /// returns that allocation.
    pub fn check_range(&self, kind: MemoryKind, address: u64, bytes: u64) -> Result<Allocation> {
        let inner = self.inner.lock();
        let found = inner
            .live
            .range(..=address)
            .next_back()
            .map(|(_, a)| a)
            .filter(|a| a.kind == kind && address < a.address + a.size);
        match found {
            Some(a) if bytes <= a.size - (address - a.address) => Ok(a.clone()),
            Some(a) => Err(Error::invalid_argument(format!(
                "{bytes} bytes at {address:#x} run past the end of the {} allocation at {:#x} \
                 ({} bytes, tag {:?})",
                a.kind.name(),
                a.address,
                a.size,
                a.tag
            ))),
            None => Err(Error::new(
                ErrorKind::NotOwned,
                format!(
                    "{address:#x} is not inside a live {} allocation of this pool",
                    kind.name()
                ),
            )),
        }
    }

    /// The counters of `kind`: bytes in use, peak, totals, counts, live and failed allocations,
    /// and the limit (device memory only). Footprint and available bytes are filled by the pool.
    pub fn stats(&self, kind: MemoryKind) -> Stats {
        let inner = self.inner.lock();
        let mut stats = match kind {
            MemoryKind::Device => inner.device,
            MemoryKind::Pinned => inner.pinned,
        };
        if kind == MemoryKind::Device
            && let Some(limit) = self.limit
        {
            stats.limit_bytes = limit;
            stats.available_bytes = limit.saturating_sub(stats.bytes_in_use);
        }
        stats
    }

    /// The counters of tag `name` (device and pinned memory together), if it was ever used.
    pub fn tag_stats(&self, name: &str) -> Option<TagStats> {
        self.inner.lock().tags.get(name).cloned()
    }

    /// Every tag's counters, the most bytes in use first (then by name).
    pub fn all_tag_stats(&self) -> Vec<TagStats> {
        let mut all: Vec<TagStats> = self.inner.lock().tags.values().cloned().collect();
        all.sort_by(|a, b| {
            b.bytes_in_use
                .cmp(&a.bytes_in_use)
                .then_with(|| a.name.cmp(&b.name))
        });
        all
    }

    /// The live allocations, by address.
    pub fn live(&self) -> Vec<Allocation> {
        self.inner.lock().live.values().cloned().collect()
    }

    /// The leak report of the live allocations, under the title line `title`: counts and bytes
    /// per kind and tag, then each allocation (largest first) with its address, size and tag.
    pub fn leak_report(&self, title: &str) -> String {
        leak_report(title, &self.live())
    }
}

fn tag_label(tag: &str) -> &str {
    if tag.is_empty() { "(untagged)" } else { tag }
}

/// The leak report of `live` under the title line `title`.
pub fn leak_report(title: &str, live: &[Allocation]) -> String {
    let mut out = String::new();
    let total: u64 = live.iter().map(|a| a.size).sum();
    let _ = writeln!(
        out,
        "{title}: {} live allocation(s), {total} bytes ({})",
        live.len(),
        human_bytes(total)
    );
    if live.is_empty() {
        return out;
    }
    let mut by_tag: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
    for a in live {
        let entry = by_tag
            .entry((a.kind.name(), tag_label(&a.tag)))
            .or_default();
        entry.0 += 1;
        entry.1 += a.size;
    }
    let _ = writeln!(
        out,
        "  {:<8} {:<32} {:>8} {:>16}",
        "memory", "tag", "count", "bytes"
    );
    for ((kind, tag), (count, bytes)) in &by_tag {
        let _ = writeln!(out, "  {kind:<8} {tag:<32} {count:>8} {bytes:>16}");
    }
    let mut largest: Vec<&Allocation> = live.iter().collect();
    largest.sort_by(|a, b| b.size.cmp(&a.size).then(a.address.cmp(&b.address)));
    let _ = writeln!(
        out,
        "  {:<18} {:>16} {:<8} tag",
        "address", "bytes", "memory"
    );
    for a in largest.iter().take(LEAK_LINES) {
        let _ = writeln!(
            out,
            "  {:<#18x} {:>16} {:<8} {}",
            a.address,
            a.size,
            a.kind.name(),
            tag_label(&a.tag)
        );
    }
    if largest.len() > LEAK_LINES {
        let _ = writeln!(out, "  … and {} more", largest.len() - LEAK_LINES);
    }
    out
}
