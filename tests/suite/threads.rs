//! Concurrency stress: several threads allocate and free at random from one manager, hand blocks
//! to each other to be freed on another thread, and fill every block with an owner-specific
//! canary pattern that is verified before it is freed. At the end the statistics are exact and
//! nothing leaks.

use qdsim_mem::memory::{ManagerConfig, MemoryManager, PoolKind};
use std::sync::mpsc;

const THREADS: usize = 4;
const OPS: usize = 20_000;

struct Block {
    addr: usize,
    size: usize,
    canary: u64,
}

fn canary(thread: usize, n: usize) -> u64 {
    ((thread as u64) << 56) ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn fill(b: &Block) {
    let words = b.size / 8;
    // SAFETY: the block is live, owned by this test and at least `words * 8` bytes long.
    let slice = unsafe { std::slice::from_raw_parts_mut(b.addr as *mut u64, words) };
    for (i, w) in slice.iter_mut().enumerate() {
        *w = b.canary ^ i as u64;
    }
}

fn verify(b: &Block) {
    let words = b.size / 8;
    // SAFETY: as in `fill`.
    let slice = unsafe { std::slice::from_raw_parts(b.addr as *const u64, words) };
    for (i, &w) in slice.iter().enumerate() {
        assert_eq!(
            w,
            b.canary ^ i as u64,
            "block {:#x} word {i} corrupted",
            b.addr
        );
    }
}

/// xorshift64*: deterministic per-thread randomness without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[test]
fn many_threads_with_cross_thread_frees() {
    let manager = MemoryManager::new(ManagerConfig {
        initial_pool_size: 4 << 20,
        ..ManagerConfig::default()
    })
    .unwrap();
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..THREADS).map(|_| mpsc::channel::<Block>()).unzip();
    let totals: Vec<(u64, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = receivers
            .into_iter()
            .enumerate()
            .map(|(t, inbox)| {
                let manager = manager.clone();
                let senders = senders.clone();
                scope.spawn(move || {
                    let mut rng = 0x1234_5678_9ABC_DEF0 ^ (t as u64 + 1);
                    let mut mine: Vec<Block> = Vec::new();
                    let (mut allocs, mut bytes) = (0u64, 0u64);
                    for n in 0..OPS {
                        // Blocks other threads sent us are freed here.
                        while let Ok(b) = inbox.try_recv() {
                            verify(&b);
                            // SAFETY: a live block handed over by its owner, not used elsewhere.
                            unsafe { manager.free(b.addr as *mut u8).unwrap() };
                        }
                        let r = next(&mut rng);
                        if mine.len() < 64 && (r % 3 != 0 || mine.is_empty()) {
                            let size = 8 * (1 + (r >> 8) as usize % 2048);
                            let pool = PoolKind::ALL[(r >> 40) as usize % 5];
                            let addr = manager.allocate(pool, size, 0, "stress").unwrap().as_ptr()
                                as usize;
                            let b = Block {
                                addr,
                                size,
                                canary: canary(t, n),
                            };
                            fill(&b);
                            mine.push(b);
                            allocs += 1;
                            bytes += size as u64;
                        } else {
                            let b = mine.swap_remove((r >> 16) as usize % mine.len());
                            verify(&b);
                            if r % 5 == 0 {
                                senders[(t + 1) % THREADS].send(b).unwrap();
                            } else {
                                // SAFETY: our own live block, not used after this.
                                unsafe { manager.free(b.addr as *mut u8).unwrap() };
                            }
                        }
                    }
                    for b in mine {
                        verify(&b);
                        // SAFETY: our own live block, not used after this.
                        unsafe { manager.free(b.addr as *mut u8).unwrap() };
                    }
                    (allocs, bytes, inbox)
                })
            })
            .collect();
        drop(senders);
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        // Blocks sent after a receiver stopped looking are freed now.
        for (_, _, inbox) in &results {
            while let Ok(b) = inbox.try_recv() {
                verify(&b);
                // SAFETY: a live block that was handed over and never freed.
                unsafe { manager.free(b.addr as *mut u8).unwrap() };
            }
        }
        results.into_iter().map(|(a, b, _)| (a, b)).collect()
    });
    let allocs: u64 = totals.iter().map(|t| t.0).sum();
    let bytes: u64 = totals.iter().map(|t| t.1).sum();
    let stats = manager.stats();
    assert_eq!(stats.allocation_count, allocs);
    assert_eq!(stats.free_count, allocs);
    assert_eq!(stats.total_allocated_bytes, bytes);
    assert_eq!(stats.bytes_in_use, 0);
    assert_eq!(stats.live_allocations, 0);
    let tag = manager.tag_stats("stress").unwrap();
    assert_eq!(
        (tag.allocation_count, tag.free_count, tag.bytes_in_use),
        (allocs, allocs, 0)
    );
    manager.check_consistency().unwrap();
}

#[test]
fn statistics_can_be_read_while_others_allocate() {
    let manager = MemoryManager::with_defaults().unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            for _ in 0..50_000 {
                let p = manager.allocate(PoolKind::F64, 256, 0, "w").unwrap();
                // SAFETY: just allocated, freed once.
                unsafe { manager.free(p.as_ptr()).unwrap() };
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        // The worker's counts of allocations and frees are read as a pair that existed (its
        // counters are its own, summed at the read), so they agree with the live count; the
        // bytes in use are another counter and may straddle the allocation in flight.
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let s = manager.stats();
            assert!(s.free_count <= s.allocation_count, "{s:?}");
            assert_eq!(s.allocation_count - s.free_count, s.live_allocations);
            assert!(s.live_allocations <= 1, "{s:?}");
            assert!(s.bytes_in_use == 0 || s.bytes_in_use == 256);
            assert!(s.peak_bytes_in_use <= 256);
        }
        worker.join().unwrap();
    });
    let s = manager.stats();
    assert_eq!((s.allocation_count, s.free_count), (50_000, 50_000));
    assert_eq!(
        (s.bytes_in_use, s.live_allocations, s.peak_bytes_in_use),
        (0, 0, 256)
    );
    manager.check_consistency().unwrap();
}

/// Trims, statistics reads and checkpoints race with threads that allocate, fill, verify and
/// free small blocks (some on another thread): no block is lost, overwritten or handed out
/// twice, and everything adds up at the end.
#[test]
fn trim_and_reads_race_with_the_thread_caches() {
    let manager = MemoryManager::new(ManagerConfig {
        initial_pool_size: 1 << 20,
        ..ManagerConfig::default()
    })
    .unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (to_other, from_other) = mpsc::channel::<Block>();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|t| {
                let manager = &manager;
                let to_other = to_other.clone();
                scope.spawn(move || {
                    let mut rng = 0xDEAD_BEEF ^ (t as u64 + 7);
                    let mut mine: Vec<Block> = Vec::new();
                    for n in 0..30_000 {
                        let r = next(&mut rng);
                        if mine.len() < 200 && r % 2 == 0 {
                            let size = 8 * (1 + (r >> 8) as usize % 512);
                            let addr = manager
                                .allocate(PoolKind::Bytes, size, 0, "race")
                                .unwrap()
                                .as_ptr() as usize;
                            let b = Block {
                                addr,
                                size,
                                canary: canary(t, n),
                            };
                            fill(&b);
                            mine.push(b);
                        } else if let Some(b) = mine.pop() {
                            verify(&b);
                            if t == 0 && r % 7 == 0 {
                                to_other.send(b).unwrap();
                            } else {
                                // SAFETY: our own live block, not used after this.
                                unsafe { manager.free(b.addr as *mut u8).unwrap() };
                            }
                        }
                    }
                    for b in mine {
                        verify(&b);
                        // SAFETY: our own live block, not used after this.
                        unsafe { manager.free(b.addr as *mut u8).unwrap() };
                    }
                })
            })
            .collect();
        drop(to_other);
        let trimmer = scope.spawn(|| {
            let mut trims = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                manager.trim();
                let s = manager.stats();
                assert!(s.live_allocations <= s.allocation_count);
                let _ = manager.checkpoint();
                trims += 1;
                // Blocks handed over by worker 0 are freed here, on a third thread.
                while let Ok(b) = from_other.try_recv() {
                    verify(&b);
                    // SAFETY: a live block handed over by its owner.
                    unsafe { manager.free(b.addr as *mut u8).unwrap() };
                }
            }
            for b in from_other {
                verify(&b);
                // SAFETY: a live block handed over by its owner.
                unsafe { manager.free(b.addr as *mut u8).unwrap() };
            }
            trims
        });
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(trimmer.join().unwrap() > 0);
    });
    let s = manager.stats();
    assert_eq!((s.bytes_in_use, s.live_allocations), (0, 0));
    assert_eq!(s.allocation_count, s.free_count);
    manager.check_consistency().unwrap();
    manager.trim();
    assert_eq!(manager.stats().footprint_bytes, 0);
}
