//! Phase measurements on a manager: scoped statistics (push/pop, like RMM's statistics
//! adaptor) and checkpoints with `leaks_since`, the allocations made after a checkpoint that
//! are still live — the seed's `detect_memory_leaks`, exact instead of sampled.

use super::manager::MemoryManager;
use super::report::human_bytes;
use super::stats::AllocationInfo;
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// An open scope (see [`MemoryManager::push_scope`]).
pub(crate) struct OpenScope {
    name: String,
    allocations: u64,
    frees: u64,
    allocated: u64,
    in_use: u64,
    /// The scope's peak cell (not a PeakTracker: that would hold the manager and, stored in
    /// the manager, keep it alive forever).
    peak: Arc<AtomicU64>,
    start: Instant,
}

/// What happened between a `push_scope` and its `pop_scope`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScopeStats {
    /// The scope's name.
    pub name: String,
    /// Allocations made inside the scope.
    pub allocations: u64,
    /// Frees done inside the scope.
    pub frees: u64,
    /// Bytes allocated inside the scope.
    pub bytes_allocated: u64,
    /// Bytes in use when the scope opened.
    pub bytes_in_use_at_start: u64,
    /// Bytes in use at the end minus at the start (negative when the scope freed more).
    pub net_bytes: i64,
    /// Highest bytes in use while the scope was open.
    pub peak_bytes_in_use: u64,
    /// Seconds the scope was open.
    pub seconds: f64,
}

/// A point in a manager's allocation history (see [`MemoryManager::checkpoint`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Checkpoint(pub u64);

/// Allocations made after a checkpoint that are still live, grouped by tag.
#[derive(Clone, Debug, PartialEq)]
pub struct LeakCheck {
    /// `(tag, count, bytes)`, most bytes first.
    pub groups: Vec<(String, u64, u64)>,
    /// Live allocations made after the checkpoint.
    pub count: u64,
    /// Their bytes.
    pub bytes: u64,
    /// The threshold the check was made with.
    pub threshold: u64,
}

impl LeakCheck {
    /// True when the bytes still live reach the threshold (a leak worth reporting).
    pub fn is_leak(&self) -> bool {
        self.bytes >= self.threshold && self.count > 0
    }

    /// The check as text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let verdict = if self.is_leak() {
            "potential leak"
        } else {
            "below the threshold"
        };
        let _ = writeln!(
            out,
            "since the checkpoint: {} allocation(s), {} bytes ({}) still live — {verdict} ({} bytes)",
            self.count,
            self.bytes,
            human_bytes(self.bytes),
            self.threshold
        );
        for (tag, count, bytes) in &self.groups {
            let tag = if tag.is_empty() { "(untagged)" } else { tag };
            let _ = writeln!(out, "  {tag:<32} {count:>8} {bytes:>16}");
        }
        out
    }
}

impl MemoryManager {
    /// Starts measuring a phase; scopes nest (a stack per manager).
    pub fn push_scope(&self, name: &str) {
        let s = self.stats();
        let scope = OpenScope {
            name: name.to_string(),
            allocations: s.allocation_count,
            frees: s.free_count,
            allocated: s.total_allocated_bytes,
            in_use: s.bytes_in_use,
            peak: self.register_peak_cell(),
            start: Instant::now(),
        };
        self.scopes().lock().push(scope);
    }

    /// Ends the innermost scope and returns its statistics.
    pub fn pop_scope(&self) -> Result<ScopeStats> {
        let scope = self.scopes().lock().pop().ok_or_else(|| {
            Error::invalid_argument("pop_scope without an open scope (push_scope first)")
        })?;
        self.untrack_peak(&scope.peak);
        let s = self.stats();
        Ok(ScopeStats {
            name: scope.name,
            allocations: s.allocation_count - scope.allocations,
            frees: s.free_count - scope.frees,
            bytes_allocated: s.total_allocated_bytes - scope.allocated,
            bytes_in_use_at_start: scope.in_use,
            net_bytes: s.bytes_in_use as i64 - scope.in_use as i64,
            peak_bytes_in_use: scope.peak.load(Ordering::Relaxed),
            seconds: scope.start.elapsed().as_secs_f64(),
        })
    }

    /// Number of open scopes.
    pub fn scope_depth(&self) -> usize {
        self.scopes().lock().len()
    }

    /// Marks the present: allocations made from now on are "after" it.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint(self.next_epoch())
    }

    /// Refuses a checkpoint this manager has not given out yet (taken on another manager, or
    /// made up): one later than its latest [`checkpoint`](Self::checkpoint).
    pub fn validate_checkpoint(&self, checkpoint: Checkpoint) -> Result<()> {
        let latest = self.current_epoch();
        if checkpoint.0 > latest {
            return Err(Error::invalid_argument(format!(
                "checkpoint {} is in the future of this manager (the latest is {latest}); \
                 take it with qdsim_manager_checkpoint on the same manager",
                checkpoint.0
            )));
        }
        Ok(())
    }

    /// The allocations made after `checkpoint` that are still live, grouped by tag, judged
    /// against `threshold` bytes (the seed uses 1 MiB).
    pub fn leaks_since(&self, checkpoint: Checkpoint, threshold: u64) -> LeakCheck {
        let live: Vec<AllocationInfo> = self
            .live_allocations()
            .into_iter()
            .filter(|a| a.epoch >= checkpoint.0)
            .collect();
        let mut by_tag: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for a in &live {
            let e = by_tag.entry(a.tag.clone()).or_default();
            e.0 += 1;
            e.1 += a.size as u64;
        }
        let mut groups: Vec<(String, u64, u64)> =
            by_tag.into_iter().map(|(t, (c, b))| (t, c, b)).collect();
        groups.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        LeakCheck {
            count: live.len() as u64,
            bytes: live.iter().map(|a| a.size as u64).sum(),
            groups,
            threshold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_later_than_the_latest_is_refused() {
        let manager = MemoryManager::with_defaults().unwrap();
        let c = manager.checkpoint();
        assert!(manager.validate_checkpoint(Checkpoint(0)).is_ok());
        assert!(manager.validate_checkpoint(c).is_ok());
        let e = manager
            .validate_checkpoint(Checkpoint(c.0 + 1))
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert!(e.message().contains("in the future"), "{e}");
    }
}
