//! The small-block path and the kept direct mappings: per-thread caches of size-class slabs
//! (statistics exact, misuse refused, caches handed back when a thread exits and on trim) and
//! reuse of freed mappings larger than a chunk.

use qdsim_mem::ErrorKind;
use qdsim_mem::memory::{ManagerConfig, MemoryManager, PoolKind};
use std::collections::BTreeSet;

/// A manager with a 4 MiB first chunk that does not report leaks when it is dropped.
fn quiet_manager() -> MemoryManager {
    MemoryManager::new(ManagerConfig {
        initial_pool_size: 4 << 20,
        report_leaks_on_destroy: false,
        ..ManagerConfig::default()
    })
    .unwrap()
}

#[test]
fn small_blocks_are_aligned_distinct_and_counted_exactly() {
    let m = quiet_manager();
    let sizes = [1usize, 8, 63, 64, 65, 500, 4096, 10_000, 100_000, 256 << 10];
    let mut seen = BTreeSet::new();
    let mut live = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let tag = if i % 2 == 0 { "even" } else { "odd" };
        let p = m.allocate(PoolKind::Bytes, size, 0, tag).unwrap();
        let addr = p.as_ptr() as usize;
        assert_eq!(addr % 64, 0);
        assert!(seen.insert(addr));
        // SAFETY: a fresh block of `size` bytes.
        unsafe { p.as_ptr().write_bytes(i as u8, size) };
        let info = m.allocation_info(p.as_ptr()).unwrap();
        assert_eq!(
            (info.size, info.tag.as_str(), info.direct),
            (size, tag, false)
        );
        live.push((p, size));
    }
    let requested: u64 = sizes.iter().map(|&s| s as u64).sum();
    let s = m.stats();
    assert_eq!(
        (s.bytes_in_use, s.peak_bytes_in_use),
        (requested, requested)
    );
    assert_eq!((s.allocation_count, s.live_allocations), (10, 10));
    assert_eq!(s.total_allocated_bytes, requested);
    assert!(s.cached_bytes > 0, "slabs hold free blocks too");
    assert_eq!(m.live_allocations().len(), 10);
    let even = m.tag_stats("even").unwrap();
    assert_eq!((even.allocation_count, even.live_allocations), (5, 5));
    m.check_consistency().unwrap();
    for (i, (p, size)) in live.into_iter().enumerate() {
        // SAFETY: as written above.
        let bytes = unsafe { std::slice::from_raw_parts(p.as_ptr(), size) };
        assert!(bytes.iter().all(|&b| b == i as u8), "block {i} overwritten");
        // SAFETY: allocated above, freed once.
        unsafe { m.free(p.as_ptr()).unwrap() };
    }
    let s = m.stats();
    assert_eq!(
        (s.bytes_in_use, s.live_allocations, s.free_count),
        (0, 0, 10)
    );
    assert_eq!(m.tag_stats("odd").unwrap().free_count, 5);
    m.check_consistency().unwrap();
}

/// A library object's small block (a matrix) brings its tag's and its pool's peaks up to date
/// at once: a tag made only of such blocks reports its real peak, as a solve's block tags must
/// (anonymous small blocks keep the sampled per-tag peak of docs/memory.md).
#[test]
fn small_library_objects_keep_their_tag_peaks_exact() {
    use qdsim_mem::matrix::ManagedMatrix;
    let m = quiet_manager();
    // 3 × 1000 doubles each (24 000 bytes, a small block), two live at once, no statistics
    // read and no pool-path allocation in between.
    let a = ManagedMatrix::<f64>::zeros(&m, 1000, 3, "objects").unwrap();
    let b = ManagedMatrix::<f64>::zeros(&m, 1000, 3, "objects").unwrap();
    assert!(
        m.allocation_info(a.data_ptr().cast())
            .is_some_and(|i| !i.direct)
    );
    let bytes = a.ld() as u64 * 3 * 8;
    drop((a, b));
    let tag = m.tag_stats("objects").unwrap();
    assert_eq!((tag.bytes_in_use, tag.peak_bytes_in_use), (0, 2 * bytes));
    let pool = m.pool_stats(PoolKind::F64);
    assert_eq!(pool.peak_bytes_in_use, 2 * bytes);
}

#[test]
fn misuse_of_small_blocks_is_refused_and_changes_nothing() {
    let m = quiet_manager();
    let other = quiet_manager();
    let p = m.allocate(PoolKind::F64, 800, 0, "psi").unwrap();
    let q = m.allocate(PoolKind::F64, 800, 0, "psi").unwrap();
    // SAFETY: refused: an interior pointer.
    let e = unsafe { m.free(p.as_ptr().add(64)) }.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotOwned);
    assert!(
        e.message()
            .contains("64 bytes into the 800-byte allocation"),
        "{e}"
    );
    // SAFETY: refused: another manager's block.
    let e = unsafe { other.free(p.as_ptr()) }.unwrap_err();
    assert!(e.message().contains("belongs to memory manager"), "{e}");
    // SAFETY: freed once …
    unsafe { m.free(p.as_ptr()).unwrap() };
    let before = m.stats();
    // … and refused the second time.
    // SAFETY: refused: a double free.
    let e = unsafe { m.free(p.as_ptr()) }.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotOwned);
    assert!(e.message().contains("double free"), "{e}");
    assert_eq!(m.stats(), before);
    // The freed block is in this thread's cache: the next request of its class reuses it,
    // and the double free did not put it there twice.
    let r = m.allocate(PoolKind::F64, 800, 0, "").unwrap();
    let s = m.allocate(PoolKind::F64, 800, 0, "").unwrap();
    assert_ne!(r, s);
    assert!(r == p || s == p);
    for x in [q, r, s] {
        // SAFETY: live blocks, freed once.
        unsafe { m.free(x.as_ptr()).unwrap() };
    }
    m.check_consistency().unwrap();
}

#[test]
fn the_limit_applies_to_small_blocks() {
    let m = MemoryManager::new(ManagerConfig {
        memory_limit: Some(1000),
        ..ManagerConfig::default()
    })
    .unwrap();
    let p = m.allocate(PoolKind::Bytes, 600, 0, "").unwrap();
    let e = m.allocate(PoolKind::Bytes, 600, 0, "").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
    let s = m.stats();
    assert_eq!(
        (s.bytes_in_use, s.failed_allocations, s.live_allocations),
        (600, 1, 1)
    );
    // SAFETY: allocated above, freed once.
    unsafe { m.free(p.as_ptr()).unwrap() };
    m.check_consistency().unwrap();
}

#[test]
fn a_thread_that_exits_with_blocks_in_its_cache_loses_nothing() {
    let m = quiet_manager();
    let kept: Vec<usize> = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // 200 blocks freed here stay in this thread's cache …
                let freed: Vec<_> = (0..200)
                    .map(|_| m.allocate(PoolKind::Complex128, 1024, 0, "t").unwrap())
                    .collect();
                // A read sees the 200 live blocks: the tag's peak counts them (per-tag and
                // per-pool peaks see small blocks at reads and pool-path allocations).
                assert_eq!(m.tag_stats("t").unwrap().peak_bytes_in_use, 200 * 1024);
                for p in freed {
                    // SAFETY: allocated above, freed once.
                    unsafe { m.free(p.as_ptr()).unwrap() };
                }
                // … and 50 stay live, to be freed by the main thread.
                (0..50)
                    .map(|_| {
                        m.allocate(PoolKind::Complex128, 1024, 0, "t")
                            .unwrap()
                            .as_ptr() as usize
                    })
                    .collect()
            })
            .join()
            .unwrap()
    });
    let s = m.stats();
    assert_eq!(
        (s.allocation_count, s.free_count, s.live_allocations),
        (250, 200, 50)
    );
    assert_eq!(s.bytes_in_use, 50 * 1024);
    m.check_consistency().unwrap();
    for addr in kept {
        // SAFETY: live blocks of `m`, freed once, on another thread than the allocating one.
        unsafe { m.free(addr as *mut u8).unwrap() };
    }
    let t = m.tag_stats("t").unwrap();
    assert_eq!(
        (t.allocation_count, t.free_count, t.bytes_in_use),
        (250, 250, 0)
    );
    assert_eq!(t.peak_bytes_in_use, 200 * 1024);
    // Everything is free: trim gives every slab back and then every chunk.
    let footprint = m.stats().footprint_bytes;
    assert!(footprint > 0);
    assert_eq!(m.trim(), footprint);
    let s = m.stats();
    assert_eq!(
        (s.footprint_bytes, s.cached_bytes, s.chunk_count),
        (0, 0, 0)
    );
    m.check_consistency().unwrap();
}

#[test]
fn producer_and_consumer_threads_recycle_blocks_without_growing() {
    let m = quiet_manager();
    let (tx, rx) = std::sync::mpsc::sync_channel::<usize>(256);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for i in 0..100_000u64 {
                let p = m.allocate(PoolKind::I64, 64, 0, "msg").unwrap();
                // SAFETY: a fresh 64-byte block.
                unsafe { p.as_ptr().cast::<u64>().write(i) };
                tx.send(p.as_ptr() as usize).unwrap();
            }
            drop(tx);
        });
        scope.spawn(|| {
            for (expected, addr) in rx.into_iter().enumerate() {
                // SAFETY: a live block handed over by the producer.
                assert_eq!(unsafe { (addr as *const u64).read() }, expected as u64);
                // SAFETY: freed once, here.
                unsafe { m.free(addr as *mut u8).unwrap() };
            }
        });
    });
    let s = m.stats();
    assert_eq!(
        (s.allocation_count, s.free_count, s.bytes_in_use),
        (100_000, 100_000, 0)
    );
    // Blocks freed by the consumer flow back to the producer through the slabs: a few slabs,
    // not one per 4096 messages.
    assert!(
        s.cached_bytes < 4 << 20,
        "{} bytes held for 256 messages in flight",
        s.cached_bytes
    );
    m.check_consistency().unwrap();
}

#[test]
fn checkpoints_see_small_and_pool_allocations() {
    let m = quiet_manager();
    let before = m.allocate(PoolKind::F64, 100, 0, "old").unwrap();
    let cp = m.checkpoint();
    let small = m.allocate(PoolKind::F64, 100, 0, "new").unwrap();
    let big = m.allocate(PoolKind::F64, 1 << 20, 0, "new").unwrap();
    let check = m.leaks_since(cp, 0);
    assert_eq!((check.count, check.bytes), (2, 100 + (1 << 20)));
    for p in [before, small, big] {
        // SAFETY: live blocks, freed once.
        unsafe { m.free(p.as_ptr()).unwrap() };
    }
}

#[test]
fn large_alignments_and_disabled_caches_take_the_pool_path() {
    let m = MemoryManager::new(ManagerConfig {
        initial_pool_size: 1 << 20,
        thread_cache: false,
        ..ManagerConfig::default()
    })
    .unwrap();
    let p = m.allocate(PoolKind::Bytes, 100, 0, "").unwrap();
    assert_eq!(m.stats().cached_bytes, 0);
    // SAFETY: allocated above, freed once.
    unsafe { m.free(p.as_ptr()).unwrap() };
    let m = quiet_manager();
    let p = m.allocate(PoolKind::Bytes, 100, 4096, "").unwrap();
    assert_eq!(p.as_ptr() as usize % 4096, 0);
    assert_eq!(
        m.stats().cached_bytes,
        0,
        "no slab for a 4096-aligned request"
    );
    // SAFETY: allocated above, freed once.
    unsafe { m.free(p.as_ptr()).unwrap() };
}

#[test]
fn freed_direct_mappings_are_kept_and_reused_until_trim() {
    let m = MemoryManager::new(ManagerConfig {
        initial_pool_size: 1 << 20,
        ..ManagerConfig::default()
    })
    .unwrap();
    let big = 16 << 20;
    let p = m.allocate(PoolKind::Complex128, big, 0, "matrix").unwrap();
    // SAFETY: `big` bytes, ours.
    unsafe { p.as_ptr().write_bytes(1, big) };
    // SAFETY: freed once.
    unsafe { m.free(p.as_ptr()).unwrap() };
    let s = m.pool_stats(PoolKind::Complex128);
    assert_eq!((s.direct_allocations, s.retained_bytes), (0, big as u64));
    assert_eq!(s.footprint_bytes, big as u64);
    // All free: the footprint is free chunk space, size-class slabs and kept mappings.
    let t = m.stats();
    assert_eq!(
        t.footprint_bytes,
        t.free_bytes + t.cached_bytes + t.retained_bytes
    );
    // A slightly smaller matrix reuses the mapping (its pages are already faulted in) …
    let q = m
        .allocate(PoolKind::Complex128, big - 4096, 0, "matrix")
        .unwrap();
    assert_eq!(q, p);
    assert_eq!(m.pool_stats(PoolKind::Complex128).retained_bytes, 0);
    // … a much smaller one does not (it would waste more than a quarter).
    // SAFETY: freed once.
    unsafe { m.free(q.as_ptr()).unwrap() };
    let r = m.allocate(PoolKind::Complex128, 8 << 20, 0, "").unwrap();
    assert_ne!(r, p);
    // SAFETY: freed once; and a freed, kept mapping is still refused as a double free.
    unsafe { m.free(r.as_ptr()).unwrap() };
    // SAFETY: refused: freed already.
    let e = unsafe { m.free(p.as_ptr()) }.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotOwned);
    assert!(m.trim() >= big as u64);
    let s = m.pool_stats(PoolKind::Complex128);
    assert_eq!((s.retained_bytes, s.footprint_bytes), (0, 0));
    m.check_consistency().unwrap();
}

#[test]
fn no_retention_when_turned_off() {
    let m = MemoryManager::new(ManagerConfig {
        initial_pool_size: 1 << 20,
        retain_bytes: 0,
        ..ManagerConfig::default()
    })
    .unwrap();
    let p = m.allocate(PoolKind::F64, 4 << 20, 0, "").unwrap();
    // SAFETY: freed once.
    unsafe { m.free(p.as_ptr()).unwrap() };
    assert_eq!(m.stats().footprint_bytes, 0);
}

#[test]
fn zeroed_allocations_are_zero_whether_fresh_or_reused() {
    let m = MemoryManager::new(ManagerConfig {
        initial_pool_size: 1 << 20,
        ..ManagerConfig::default()
    })
    .unwrap();
    for size in [100usize, 200 << 10, 3 << 20] {
        for round in 0..2 {
            // Round 0 gets fresh memory, round 1 the block (or kept mapping) dirtied below.
            let p = m.allocate_zeroed(PoolKind::Bytes, size, 0, "").unwrap();
            // SAFETY: `size` bytes, ours.
            let bytes = unsafe { std::slice::from_raw_parts_mut(p.as_ptr(), size) };
            assert!(bytes.iter().all(|&b| b == 0), "size {size}, round {round}");
            bytes.fill(0xA5);
            // SAFETY: freed once.
            unsafe { m.free(p.as_ptr()).unwrap() };
        }
    }
}
