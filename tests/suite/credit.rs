//! Per-thread credit (how small blocks count in the manager's total without a shared atomic
//! update per operation): the total peak stays exact on one thread and when other threads hold
//! still, peak trackers started after frees still see the reuse of those bytes, and the totals
//! come back to zero when threads end.

use qdsim_mem::memory::{ManagerConfig, MemoryManager, PoolKind};
use std::sync::{Arc, Barrier};

fn manager() -> MemoryManager {
    MemoryManager::new(ManagerConfig {
        report_leaks_on_destroy: false,
        ..ManagerConfig::default()
    })
    .unwrap()
}

fn alloc(m: &MemoryManager, size: usize) -> usize {
    m.allocate(PoolKind::Bytes, size, 0, "credit")
        .unwrap()
        .as_ptr() as usize
}

fn free(m: &MemoryManager, addr: usize) {
    // SAFETY: a live block of `m`, not used after this.
    unsafe { m.free(addr as *mut u8) }.unwrap();
}

/// Two threads hold blocks at the same moment (between two barriers): the peak is their sum,
/// to the byte, although each thread counts its blocks in credit of its own; after both free
/// everything and end, a large block on the main thread raises the peak only past that sum.
#[test]
fn two_threads_holding_blocks_at_once_make_the_exact_peak() {
    let m = manager();
    let (blocks, size) = (300usize, 1000usize);
    let held = Arc::new(Barrier::new(3));
    let freed = Arc::new(Barrier::new(3));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (m, held, freed) = (m.clone(), held.clone(), freed.clone());
            std::thread::spawn(move || {
                // Churn first, so that the thread holds credit when it starts holding blocks.
                for _ in 0..100 {
                    let p = alloc(&m, size);
                    free(&m, p);
                }
                let mine: Vec<usize> = (0..blocks).map(|_| alloc(&m, size)).collect();
                held.wait();
                freed.wait();
                for p in mine {
                    free(&m, p);
                }
            })
        })
        .collect();
    held.wait();
    let s = m.stats();
    let both = (2 * blocks * size) as u64;
    assert_eq!((s.bytes_in_use, s.peak_bytes_in_use), (both, both));
    m.check_consistency().unwrap();
    freed.wait();
    for w in workers {
        w.join().unwrap();
    }
    let s = m.stats();
    assert_eq!((s.bytes_in_use, s.peak_bytes_in_use), (0, both));
    m.check_consistency().unwrap();
    let large = alloc(&m, 1 << 20);
    assert_eq!(m.stats().peak_bytes_in_use, (1 << 20).max(both));
    free(&m, large);
    m.check_consistency().unwrap();
}

/// On one thread, frees leave credit behind; a tracker (and a scope) started then measures
/// from the bytes in use, and sees allocations that reuse that credit.
#[test]
fn a_tracker_started_after_frees_sees_the_reuse_of_their_bytes() {
    let m = manager();
    let blocks: Vec<usize> = (0..40).map(|_| alloc(&m, 1024)).collect();
    for p in blocks {
        free(&m, p);
    }
    let keep = alloc(&m, 512);
    let tracker = m.track_peak();
    m.push_scope("reuse");
    assert_eq!(tracker.peak(), 512);
    let again: Vec<usize> = (0..10).map(|_| alloc(&m, 1024)).collect();
    assert_eq!(tracker.peak(), 512 + 10 * 1024);
    for p in again {
        free(&m, p);
    }
    let scope = m.pop_scope().unwrap();
    assert_eq!(scope.peak_bytes_in_use, 512 + 10 * 1024);
    drop(tracker);
    // Credit again once no tracker is live; the statistics stay exact.
    let more: Vec<usize> = (0..10).map(|_| alloc(&m, 2048)).collect();
    let s = m.stats();
    assert_eq!(s.bytes_in_use, 512 + 10 * 2048);
    assert_eq!(s.peak_bytes_in_use, 40 * 1024);
    for p in more {
        free(&m, p);
    }
    free(&m, keep);
    m.check_consistency().unwrap();
}

/// Blocks handed to other threads to be freed (their credit grows past the cap and is handed
/// back), threads that end with credit: every figure adds up, and the total peak on the main
/// thread afterwards is exact.
#[test]
fn credit_of_freeing_and_ended_threads_comes_back() {
    let m = manager();
    for round in 0..4 {
        let blocks: Vec<usize> = (0..500).map(|i| alloc(&m, 64 + (i * 37) % 4000)).collect();
        let requested: u64 = (0..500).map(|i| (64 + (i * 37) % 4000) as u64).sum();
        let s = m.stats();
        assert_eq!(s.bytes_in_use, requested, "round {round}");
        let freer = {
            let m = m.clone();
            std::thread::spawn(move || {
                for p in blocks {
                    free(&m, p);
                }
            })
        };
        freer.join().unwrap();
        let s = m.stats();
        assert_eq!(
            (s.bytes_in_use, s.live_allocations),
            (0, 0),
            "round {round}"
        );
        m.check_consistency().unwrap();
    }
    let peak = m.stats().peak_bytes_in_use;
    let blocks: Vec<usize> = (0..500).map(|i| alloc(&m, 64 + (i * 37) % 4000)).collect();
    assert_eq!(
        m.stats().peak_bytes_in_use,
        peak,
        "the same blocks again: no new peak"
    );
    let large = alloc(&m, 4 << 20);
    assert_eq!(m.stats().peak_bytes_in_use, peak + (4 << 20));
    free(&m, large);
    for p in blocks {
        free(&m, p);
    }
    m.check_consistency().unwrap();
}

/// Consistency checks (which stop the small-block path) and tracker starts (which also take
/// the heaps' credit back) race with threads churning small blocks across threads: nothing is
/// lost and everything adds up at the end.
#[test]
fn checks_and_tracker_starts_race_with_credit() {
    let m = manager();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<usize>();
        let workers: Vec<_> = (0..2)
            .map(|t| {
                let (m, tx) = (&m, tx.clone());
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    for n in 0..40_000usize {
                        mine.push(alloc(m, 8 + (n * 131 + t * 7) % 3000));
                        if mine.len() > 300 {
                            let p = mine.swap_remove((n * 17) % mine.len());
                            if n % 4 == 0 {
                                tx.send(p).unwrap();
                            } else {
                                free(m, p);
                            }
                        }
                    }
                    for p in mine {
                        free(m, p);
                    }
                })
            })
            .collect();
        drop(tx);
        let checker = scope.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                m.check_consistency().unwrap();
                let tracker = m.track_peak();
                assert!(tracker.peak() <= m.stats().peak_bytes_in_use);
                drop(tracker);
            }
        });
        for p in rx {
            free(&m, p);
        }
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        checker.join().unwrap();
    });
    let s = m.stats();
    assert_eq!((s.bytes_in_use, s.live_allocations), (0, 0));
    assert_eq!(s.allocation_count, 80_000);
    assert_eq!(s.free_count, 80_000);
    m.check_consistency().unwrap();
}
