//! The free space of one pool: maximal free runs of 64-byte granules, indexed by address (to
//! coalesce a freed block with its free neighbours) and by size (to find the best fit).
//!
//! Runs never cross chunk boundaries: two chunks the kernel happened to map back to back are
//! still separate mappings and are given back to the system separately.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    len: usize,
    chunk: usize,
}

/// Free runs of one pool.
#[derive(Debug, Default)]
pub struct FreeList {
    by_addr: BTreeMap<usize, Run>,
    by_size: BTreeSet<(usize, usize)>,
    total: usize,
}

impl FreeList {
    /// Total free bytes.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Length of the largest free run (0 when nothing is free).
    pub fn largest(&self) -> usize {
        self.by_size.last().map_or(0, |&(len, _)| len)
    }

    /// Number of separate free runs.
    #[cfg(test)]
    pub fn runs(&self) -> usize {
        self.by_addr.len()
    }

    /// Returns `[addr, addr+len)` of chunk `chunk` to the free space, merging it with free
    /// neighbours in the same chunk.
    pub fn release(&mut self, mut addr: usize, mut len: usize, chunk: usize) {
        self.total += len;
        if let Some((&prev_addr, &prev)) = self.by_addr.range(..addr).next_back() {
            debug_assert!(
                prev_addr + prev.len <= addr,
                "free run overlaps a released block"
            );
            if prev.chunk == chunk && prev_addr + prev.len == addr {
                self.remove_run(prev_addr, prev);
                addr = prev_addr;
                len += prev.len;
            }
        }
        if let Some(&next) = self.by_addr.get(&(addr + len)) {
            if next.chunk == chunk {
                self.remove_run(addr + len, next);
                len += next.len;
            }
        }
        self.insert_run(addr, Run { len, chunk });
    }

    /// Takes the smallest run that can hold `len` bytes starting at a multiple of `align`, splits
    /// off what is left on either side, and returns `(address, chunk)`.
    pub fn take(&mut self, len: usize, align: usize) -> Option<(usize, usize)> {
        let (run_addr, run, start) = self
            .by_size
            .range((len, 0)..)
            .find_map(|&(run_len, run_addr)| {
                let start = run_addr.checked_next_multiple_of(align)?;
                (start - run_addr + len <= run_len).then_some((run_addr, start))
            })
            .map(|(run_addr, start)| (run_addr, self.by_addr[&run_addr], start))?;
        self.remove_run(run_addr, run);
        self.total -= run.len;
        // The pieces left over border allocated blocks or chunk edges, so they need no merging.
        let head = start - run_addr;
        if head > 0 {
            self.insert_run(run_addr, Run { len: head, ..run });
            self.total += head;
        }
        let tail = run.len - head - len;
        if tail > 0 {
            self.insert_run(start + len, Run { len: tail, ..run });
            self.total += tail;
        }
        Some((start, run.chunk))
    }

    /// If chunk `[chunk, chunk+len)` is entirely free, removes it from the free space and
    /// returns true.
    pub fn take_whole_chunk(&mut self, chunk: usize, len: usize) -> bool {
        match self.by_addr.get(&chunk) {
            Some(&run) if run.len == len && run.chunk == chunk => {
                self.remove_run(chunk, run);
                self.total -= len;
                true
            }
            _ => false,
        }
    }

    /// The free run `(start, len)` that contains `addr`, if any.
    pub fn run_containing(&self, addr: usize) -> Option<(usize, usize)> {
        let (&start, run) = self.by_addr.range(..=addr).next_back()?;
        (addr < start + run.len).then_some((start, run.len))
    }

    /// Every free run as `(start, len, chunk)`, by address.
    pub fn iter(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        self.by_addr
            .iter()
            .map(|(&addr, run)| (addr, run.len, run.chunk))
    }

    fn insert_run(&mut self, addr: usize, run: Run) {
        self.by_addr.insert(addr, run);
        self.by_size.insert((run.len, addr));
    }

    fn remove_run(&mut self, addr: usize, run: Run) {
        self.by_addr.remove(&addr);
        self.by_size.remove(&(run.len, addr));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_fit_split_and_coalesce() {
        let mut free = FreeList::default();
        free.release(0, 1024, 0);
        let (a, _) = free.take(64, 64).unwrap();
        let (b, _) = free.take(128, 64).unwrap();
        let (c, _) = free.take(64, 64).unwrap();
        assert_eq!((a, b, c), (0, 64, 192));
        assert_eq!(free.total(), 1024 - 256);
        free.release(b, 128, 0);
        // best fit: the 128-byte hole, not the 768-byte tail
        assert_eq!(free.take(128, 64), Some((64, 0)));
        free.release(64, 128, 0);
        free.release(a, 64, 0);
        free.release(c, 64, 0);
        assert_eq!(free.runs(), 1);
        assert_eq!(free.largest(), 1024);
        assert!(free.take_whole_chunk(0, 1024));
        assert_eq!(free.total(), 0);
    }

    #[test]
    fn runs_of_adjacent_chunks_stay_apart() {
        let mut free = FreeList::default();
        free.release(0, 512, 0);
        free.release(512, 512, 512);
        assert_eq!(free.runs(), 2);
        assert_eq!(free.largest(), 512);
        assert!(free.take(1024, 64).is_none());
    }

    #[test]
    fn large_alignment_leaves_a_free_head() {
        let mut free = FreeList::default();
        free.release(64, 8192, 64);
        let (addr, _) = free.take(64, 4096).unwrap();
        assert_eq!(addr, 4096);
        assert_eq!(free.run_containing(64), Some((64, 4096 - 64)));
        assert_eq!(free.total(), 8192 - 64);
    }
}
