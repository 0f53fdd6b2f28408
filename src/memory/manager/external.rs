//! External accounts: memory a solve owns outside the pools (e.g. a sparse LU factor that faer
//! allocates in its own `Vec`s), counted by the manager as if it were pool memory.
//!
//! An [`ExternalAccount`] registers bytes under a tag: they count in the manager's bytes in use,
//! its peak (and every live [`PeakTracker`](super::PeakTracker)), its availability and the
//! tag's statistics, and they are checked against the memory limit — opening or growing an
//! account that would cross it fails with [`ErrorKind::LimitExceeded`](crate::error::ErrorKind)
//! and changes nothing. The account gives its bytes back when dropped. The pool counters
//! (footprint, free bytes, live allocations of a pool) do not see it: no pool holds the memory.
//!
//! The account records what the owner says; it is the owner's job to open it *before* making
//! the allocation (so that a solve that would not fit is refused up front) and to keep it alive
//! as long as the memory is.

use super::{Inner, MemoryManager, limit_exceeded};
use crate::error::Result;
use crate::memory::tags::Tag;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Bytes held outside the pools on behalf of a tag, counted in the manager's statistics and
/// limit until dropped (see the module notes). Created by
/// [`MemoryManager::external_account`].
pub struct ExternalAccount {
    manager: MemoryManager,
    tag: Arc<Tag>,
    bytes: u64,
}

impl std::fmt::Debug for ExternalAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalAccount")
            .field("manager", &self.manager.id())
            .field("tag", &self.tag.name())
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl MemoryManager {
    /// Opens an account of `bytes` held outside the pools under `tag` (at most
    /// [`MAX_TAG_LEN`](crate::memory::MAX_TAG_LEN) bytes). Fails with `LimitExceeded` (nothing
    /// counted) when the bytes would cross the memory limit, with `InvalidHandle` when the
    /// manager has been destroyed.
    pub fn external_account(&self, tag: &str, bytes: u64) -> Result<ExternalAccount> {
        let inner = &*self.inner;
        let tag = inner.tags.intern(tag)?;
        inner.check_open()?;
        inner.reserve_external(bytes, &tag)?;
        tag.on_alloc(bytes);
        Ok(ExternalAccount {
            manager: self.clone(),
            tag,
            bytes,
        })
    }

    /// Fails with `LimitExceeded` when `bytes` more would cross the memory limit now; counts
    /// nothing. The up-front refusal for memory whose size is known only once it is made
    /// (`what` describes it for the message): check with an estimate, make it, then open an
    /// account with the size measured.
    pub fn check_room(&self, bytes: u64, what: &str) -> Result<()> {
        let inner = &*self.inner;
        inner.check_open()?;
        let Some(limit) = inner.config.memory_limit else {
            return Ok(());
        };
        let current = inner.in_use.load(Ordering::Relaxed);
        if current.saturating_add(bytes) <= limit {
            return Ok(());
        }
        let what = format!(
            "{what} ({bytes} bytes, {:.1} MiB)",
            bytes as f64 / (1u64 << 20) as f64
        );
        Err(limit_exceeded(&what, limit, current))
    }
}

impl ExternalAccount {
    /// Bytes counted now.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The account's tag.
    pub fn tag(&self) -> &str {
        self.tag.name()
    }

    /// Sets the bytes counted to `bytes` (e.g. the actual size once known, in place of an
    /// estimate). Growing is checked against the limit like an allocation (on failure nothing
    /// changes); shrinking always succeeds.
    pub fn resize(&mut self, bytes: u64) -> Result<()> {
        let inner = &*self.manager.inner;
        inner.check_open()?;
        if bytes > self.bytes {
            let more = bytes - self.bytes;
            inner.reserve_external(more, &self.tag)?;
            self.tag.add_in_use(more);
            self.tag.count_bytes(more);
        } else {
            let less = self.bytes - bytes;
            inner.release_external(less);
            self.tag.sub_in_use(less);
        }
        self.bytes = bytes;
        Ok(())
    }
}

impl Drop for ExternalAccount {
    fn drop(&mut self) {
        let inner = &*self.manager.inner;
        // A destroyed manager has zeroed its counters already.
        if !inner.closed.load(Ordering::Acquire) {
            inner.release_external(self.bytes);
            self.tag.on_free(self.bytes);
        }
    }
}

impl Inner {
    /// Counts `bytes` more held outside the pools under `tag`, unless that crosses the limit.
    fn reserve_external(&self, bytes: u64, tag: &Tag) -> Result<()> {
        // Both counters as one step for consistency checks.
        let _gate = self.small.heapless_gate();
        self.reserve_bytes(bytes, || {
            format!(
                "{bytes} bytes ({:.1} MiB) outside the pools (tag {:?})",
                bytes as f64 / (1u64 << 20) as f64,
                tag.name()
            )
        })?;
        self.external.fetch_add(bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Counts `bytes` fewer held outside the pools.
    fn release_external(&self, bytes: u64) {
        let _gate = self.small.heapless_gate();
        self.external.fetch_sub(bytes, Ordering::Relaxed);
        self.in_use.fetch_sub(bytes, Ordering::Relaxed);
    }
}
