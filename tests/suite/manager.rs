//! Behaviour of the memory manager through its Rust API: the seed's integrity test, alignment,
//! tags, statistics, chunk growth, direct mappings, trim, reports and the memory limit.

use crate::common::small_manager;
use num_complex::Complex64;
use qdsim_mem::ErrorKind;
use qdsim_mem::memory::{ManagerConfig, MemoryManager, PoolBuffer, PoolKind};

/// A manager whose every request takes the best-fit pool path (no thread cache, no kept
/// mappings): for the tests of chunk carving, coalescing and fragmentation.
fn pool_path_manager(initial_pool_size: usize) -> MemoryManager {
    MemoryManager::new(ManagerConfig {
        initial_pool_size,
        thread_cache: false,
        retain_bytes: 0,
        ..ManagerConfig::default()
    })
    .unwrap()
}

/// The seed's integrity test: 100 complex 100×100 matrices from one manager, a distinct pattern
/// in each, all verified, all freed, statistics back to zero.
#[test]
fn seed_integrity_test() {
    let manager = MemoryManager::with_defaults().unwrap();
    let n = 100 * 100;
    let mut matrices: Vec<PoolBuffer<Complex64>> = (0..100)
        .map(|_| PoolBuffer::uninit_values(&manager, n, "integrity").unwrap())
        .collect();
    for (m, matrix) in matrices.iter_mut().enumerate() {
        for (i, z) in matrix.iter_mut().enumerate() {
            *z = Complex64::new(m as f64, i as f64);
        }
    }
    let stats = manager.stats();
    assert_eq!(stats.live_allocations, 100);
    assert_eq!(stats.bytes_in_use, 100 * n as u64 * 16);
    for (m, matrix) in matrices.iter().enumerate() {
        for (i, z) in matrix.iter().enumerate() {
            assert_eq!(
                *z,
                Complex64::new(m as f64, i as f64),
                "matrix {m} element {i}"
            );
        }
    }
    manager.check_consistency().unwrap();
    drop(matrices);
    let stats = manager.stats();
    assert_eq!(stats.bytes_in_use, 0);
    assert_eq!(stats.live_allocations, 0);
    assert_eq!(stats.allocation_count, 100);
    assert_eq!(stats.free_count, 100);
    assert_eq!(stats.peak_bytes_in_use, 100 * n as u64 * 16);
    assert_eq!(manager.tag_stats("integrity").unwrap().live_allocations, 0);
    manager.check_consistency().unwrap();
}

#[test]
fn blocks_are_aligned_as_asked() {
    let manager = small_manager();
    for align in [0, 1, 8, 64, 128, 4096, 1 << 16] {
        for size in [0, 1, 63, 64, 65, 1000] {
            let p = manager.allocate(PoolKind::Bytes, size, align, "a").unwrap();
            assert_eq!(
                p.as_ptr() as usize % align.max(64),
                0,
                "align {align} size {size}"
            );
            // SAFETY: `p` was just allocated by `manager` and is not used afterwards.
            unsafe { manager.free(p.as_ptr()).unwrap() };
        }
    }
    let err = manager.allocate(PoolKind::Bytes, 10, 48, "a").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("48"), "{}", err.message());
    manager.check_consistency().unwrap();
}

#[test]
fn config_alignment_applies_to_every_block() {
    let manager = MemoryManager::new(ManagerConfig {
        alignment: 4096,
        initial_pool_size: 1 << 20,
        ..ManagerConfig::default()
    })
    .unwrap();
    let ptrs: Vec<_> = (0..10)
        .map(|_| manager.allocate(PoolKind::F64, 24, 0, "").unwrap())
        .collect();
    for p in &ptrs {
        assert_eq!(p.as_ptr() as usize % 4096, 0);
    }
    for p in ptrs {
        // SAFETY: allocated above, freed once.
        unsafe { manager.free(p.as_ptr()).unwrap() };
    }
    manager.check_consistency().unwrap();
}

#[test]
fn statistics_per_pool_and_tag_add_up() {
    let manager = pool_path_manager(1 << 20);
    let a = PoolBuffer::<f64>::zeroed(&manager, 1000, "potential").unwrap();
    let b = PoolBuffer::<Complex64>::zeroed(&manager, 500, "psi").unwrap();
    let c = PoolBuffer::<Complex64>::zeroed(&manager, 10, "psi").unwrap();
    let d = PoolBuffer::<i32>::zeroed(&manager, 7, "").unwrap();
    let total = manager.stats();
    assert_eq!(total.bytes_in_use, 8000 + 8000 + 160 + 28);
    assert_eq!(total.live_allocations, 4);
    let complex = manager.pool_stats(PoolKind::Complex128);
    assert_eq!(complex.bytes_in_use, 8160);
    assert_eq!(complex.live_allocations, 2);
    assert_eq!(complex.chunk_count, 1);
    // blocks are granule-rounded: 8000 → 8000, 160 → 192
    assert_eq!(complex.free_bytes, complex.footprint_bytes - 8000 - 192);
    let psi = manager.tag_stats("psi").unwrap();
    assert_eq!((psi.bytes_in_use, psi.live_allocations), (8160, 2));
    assert_eq!(manager.tag_stats("").unwrap().bytes_in_use, 28);
    assert!(manager.tag_stats("nobody").is_none());
    let tags = manager.tags();
    assert_eq!(tags[0].name, "psi", "8160 bytes beat potential's 8000");
    assert_eq!(tags.len(), 3);
    assert!((0.0..=1.0).contains(&total.fragmentation));
    drop((a, b, c, d));
    let psi = manager.tag_stats("psi").unwrap();
    assert_eq!(
        (psi.bytes_in_use, psi.peak_bytes_in_use, psi.free_count),
        (0, 8160, 2)
    );
}

#[test]
fn fragmentation_is_measured_from_the_free_runs() {
    let manager = pool_path_manager(64 * 16);
    // The first chunk is one page (the mapping is rounded up); fill it with 64-byte blocks.
    let page = qdsim_mem::memory::os::page_size();
    let blocks: Vec<_> = (0..page / 64)
        .map(|_| manager.allocate(PoolKind::Bytes, 64, 0, "").unwrap())
        .collect();
    let stats = manager.pool_stats(PoolKind::Bytes);
    assert_eq!((stats.free_bytes, stats.fragmentation), (0, 0.0));
    // Free every other block: free bytes in 64-byte holes, largest hole 64 bytes.
    for p in blocks.iter().step_by(2) {
        // SAFETY: allocated above, freed once.
        unsafe { manager.free(p.as_ptr()).unwrap() };
    }
    let stats = manager.pool_stats(PoolKind::Bytes);
    let holes = (page / 64).div_ceil(2) as u64;
    assert_eq!(stats.free_bytes, 64 * holes);
    assert_eq!(stats.largest_free_block, 64);
    assert!((stats.fragmentation - (1.0 - 1.0 / holes as f64)).abs() < 1e-12);
    for p in blocks.iter().skip(1).step_by(2) {
        // SAFETY: allocated above, freed once.
        unsafe { manager.free(p.as_ptr()).unwrap() };
    }
    // Everything coalesces back into one run: no fragmentation.
    let stats = manager.pool_stats(PoolKind::Bytes);
    assert_eq!(stats.largest_free_block, stats.free_bytes);
    assert_eq!(stats.fragmentation, 0.0);
    manager.check_consistency().unwrap();
}

#[test]
fn pools_grow_by_chunks_and_trim_gives_them_back() {
    let manager = MemoryManager::new(ManagerConfig {
        initial_pool_size: 1 << 20,
        chunk_size: 1 << 20,
        ..ManagerConfig::default()
    })
    .unwrap();
    let blocks: Vec<_> = (0..5)
        .map(|_| {
            manager
                .allocate(PoolKind::F64, 600 << 10, 0, "grow")
                .unwrap()
        })
        .collect();
    let stats = manager.pool_stats(PoolKind::F64);
    assert_eq!(stats.chunk_count, 5, "600 KiB blocks: one per 1 MiB chunk");
    assert_eq!(stats.footprint_bytes, 5 << 20);
    assert_eq!(manager.trim(), 0, "no chunk is free");
    for p in &blocks[1..] {
        // SAFETY: allocated above, freed once.
        unsafe { manager.free(p.as_ptr()).unwrap() };
    }
    assert_eq!(manager.trim(), 4 << 20);
    let stats = manager.pool_stats(PoolKind::F64);
    assert_eq!((stats.chunk_count, stats.footprint_bytes), (1, 1 << 20));
    // SAFETY: allocated above, freed once.
    unsafe { manager.free(blocks[0].as_ptr()).unwrap() };
    assert_eq!(manager.trim(), 1 << 20);
    assert_eq!(manager.stats().footprint_bytes, 0);
    manager.check_consistency().unwrap();
    // The pool works again after being emptied.
    let again = PoolBuffer::<f64>::filled(&manager, 10, 2.5, "again").unwrap();
    assert_eq!(again.iter().sum::<f64>(), 25.0);
}

#[test]
fn requests_larger_than_a_chunk_get_their_own_mapping() {
    let manager = pool_path_manager(1 << 20);
    let big = 3 << 20;
    let p = manager
        .allocate(PoolKind::Complex128, big, 0, "big")
        .unwrap();
    let stats = manager.pool_stats(PoolKind::Complex128);
    assert_eq!(stats.direct_allocations, 1);
    assert_eq!(stats.chunk_count, 0);
    assert!(stats.footprint_bytes >= big as u64);
    assert_eq!(stats.bytes_in_use, big as u64);
    let info = manager.allocation_info(p.as_ptr()).unwrap();
    assert!(info.direct);
    assert_eq!((info.size, info.tag.as_str()), (big, "big"));
    // SAFETY: the block is `big` bytes long and ours.
    unsafe { p.as_ptr().write_bytes(7, big) };
    // SAFETY: allocated above, freed once.
    unsafe { manager.free(p.as_ptr()).unwrap() };
    let stats = manager.pool_stats(PoolKind::Complex128);
    assert_eq!((stats.direct_allocations, stats.footprint_bytes), (0, 0));
}

#[test]
fn eager_pools_are_mapped_at_creation() {
    let manager = MemoryManager::new(ManagerConfig {
        initial_pool_size: 1 << 20,
        eager: true,
        prefault: true,
        ..ManagerConfig::default()
    })
    .unwrap();
    let stats = manager.stats();
    assert_eq!(stats.chunk_count, 5);
    assert_eq!(stats.footprint_bytes, 5 << 20);
    assert_eq!(stats.bytes_in_use, 0);
}

#[test]
fn zeroed_allocations_are_zero_even_when_reused() {
    let manager = small_manager();
    let mut first = PoolBuffer::<i64>::filled(&manager, 256, -1, "x").unwrap();
    first[3] = 42;
    let addr = first.as_ptr();
    drop(first);
    let p = manager
        .allocate_zeroed(PoolKind::I64, 256 * 8, 0, "x")
        .unwrap();
    assert_eq!(
        p.as_ptr() as *const i64,
        addr,
        "best fit reuses the freed block"
    );
    // SAFETY: 256 i64 were just allocated and zeroed.
    let values = unsafe { std::slice::from_raw_parts(p.as_ptr() as *const i64, 256) };
    assert!(values.iter().all(|&v| v == 0));
    // SAFETY: allocated above, freed once.
    unsafe { manager.free(p.as_ptr()).unwrap() };
}

#[test]
fn the_limit_refuses_and_changes_nothing_else() {
    let manager = MemoryManager::new(ManagerConfig {
        initial_pool_size: 1 << 20,
        memory_limit: Some(10_000),
        ..ManagerConfig::default()
    })
    .unwrap();
    let a = PoolBuffer::<f64>::zeroed(&manager, 1000, "a").unwrap(); // 8000 bytes
    let before = manager.stats();
    assert_eq!(before.available_bytes, 2000);
    assert_eq!(before.limit_bytes, 10_000);
    let err = PoolBuffer::<f64>::zeroed(&manager, 251, "too.much").unwrap_err(); // 2008 bytes
    assert_eq!(err.kind(), ErrorKind::LimitExceeded);
    for needle in ["2008", "10000", "8000", "too.much"] {
        assert!(
            err.message().contains(needle),
            "{needle} missing in {}",
            err.message()
        );
    }
    let after = manager.stats();
    assert_eq!(after.failed_allocations, before.failed_allocations + 1);
    assert_eq!(
        after,
        qdsim_mem::memory::Stats {
            failed_allocations: before.failed_allocations + 1,
            ..before
        }
    );
    // Exactly up to the limit is allowed.
    let b = PoolBuffer::<f64>::zeroed(&manager, 250, "b").unwrap();
    assert_eq!(manager.stats().available_bytes, 0);
    drop((a, b));
    assert_eq!(manager.stats().available_bytes, 10_000);
}

#[test]
fn oversized_requests_are_invalid_not_out_of_memory() {
    let manager = small_manager();
    let err = manager
        .allocate_elements::<Complex64>(usize::MAX / 8, "x")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = manager
        .allocate(PoolKind::Bytes, usize::MAX - 10, 0, "x")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let long = "t".repeat(64);
    let err = manager.allocate(PoolKind::Bytes, 10, 0, &long).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(manager.stats().live_allocations, 0);
}

#[test]
fn reports_describe_the_pools_tags_and_leaks() {
    let manager = small_manager();
    let _v = PoolBuffer::<f64>::zeroed(&manager, 4096, "potential").unwrap();
    let leaked = manager
        .allocate(PoolKind::Complex128, 1600, 0, "hamiltonian.values")
        .unwrap();
    let report = manager.allocation_report();
    for needle in [
        "allocation report",
        "complex128",
        "potential",
        "hamiltonian.values",
        "total",
    ] {
        assert!(report.contains(needle), "{needle} missing in\n{report}");
    }
    let leaks = manager.leak_report();
    assert!(
        leaks.contains("2 live allocation(s), 34368 bytes"),
        "{leaks}"
    );
    assert!(
        leaks.contains(&format!("{:#x}", leaked.as_ptr() as usize)),
        "{leaks}"
    );
    let summary = manager.leak_summary();
    assert_eq!((summary.count, summary.bytes), (2, 34368));
    // SAFETY: allocated above, freed once.
    unsafe { manager.free(leaked.as_ptr()).unwrap() };
}

#[test]
fn dropping_a_manager_with_live_allocations_frees_its_mappings() {
    let manager = MemoryManager::new(ManagerConfig {
        initial_pool_size: 1 << 20,
        report_leaks_on_destroy: false,
        ..ManagerConfig::default()
    })
    .unwrap();
    let p = manager.allocate(PoolKind::F64, 800, 0, "leak").unwrap();
    let other = small_manager();
    drop(manager);
    // The range is no longer anyone's: freeing it through another manager says so.
    // SAFETY: the call only looks the address up; it refuses to free it.
    let err = unsafe { other.free(p.as_ptr()) }.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotOwned);
}

#[test]
fn total_fragmentation_measures_each_pool_against_its_own_largest_run() {
    let manager = pool_path_manager(1 << 20);
    let _a = PoolBuffer::<f64>::zeroed(&manager, 10, "").unwrap();
    let _b = PoolBuffer::<i32>::zeroed(&manager, 10, "").unwrap();
    // Two pools, each one chunk with one free run: nothing is fragmented.
    let total = manager.stats();
    assert_eq!(total.fragmentation, 0.0);
    assert_eq!(
        total.largest_free_block,
        manager.pool_stats(PoolKind::I32).largest_free_block,
        "the largest run of all pools: the i32 pool's, with 64 bytes used"
    );
    // Holes in the f64 pool: the total is the free-bytes-weighted mean of the pools' values.
    let blocks: Vec<_> = (0..8)
        .map(|_| PoolBuffer::<f64>::zeroed(&manager, 8, "").unwrap())
        .collect();
    // Free every other block (the others stay live and separate the holes).
    let (_kept, freed): (Vec<_>, Vec<_>) = blocks
        .into_iter()
        .enumerate()
        .partition(|(k, _)| k % 2 == 0);
    drop(freed);
    let (f, i) = (
        manager.pool_stats(PoolKind::F64),
        manager.pool_stats(PoolKind::I32),
    );
    let weighted = (f.fragmentation * f.free_bytes as f64 + i.fragmentation * i.free_bytes as f64)
        / (f.free_bytes + i.free_bytes) as f64;
    assert!(f.fragmentation > 0.0);
    assert!((manager.stats().fragmentation - weighted).abs() < 1e-12);
}

/// External accounts (memory outside the pools, e.g. faer's LU factor): counted in bytes in
/// use, the peak, a peak tracker, availability and the tag; refused over the limit with a
/// message naming the bytes; resized both ways; given back on drop. Counts are exact integers,
/// so every comparison is exact.
/// `check_room`: the up-front refusal for memory measured once made — within the limit Ok,
/// over it `LimitExceeded` naming the request and what is available; it counts nothing, also
/// not in the peak. No limit: always Ok.
#[test]
fn check_room_refuses_over_the_limit_and_counts_nothing() {
    let manager = MemoryManager::new(ManagerConfig {
        memory_limit: Some(1 << 20),
        ..ManagerConfig::default()
    })
    .unwrap();
    let pool = PoolBuffer::<f64>::zeroed(&manager, 1000, "pool").unwrap();
    manager.check_room((1 << 20) - 8000, "a factor").unwrap();
    let e = manager
        .check_room((1 << 20) - 7999, "a factor")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
    assert!(
        e.message().contains("a factor (1040577 bytes")
            && e.message().contains("1040576 available"),
        "{}",
        e.message()
    );
    let stats = manager.stats();
    assert_eq!((stats.bytes_in_use, stats.peak_bytes_in_use), (8000, 8000));
    drop(pool);
    let unlimited = MemoryManager::with_defaults().unwrap();
    unlimited.check_room(u64::MAX, "anything").unwrap();
    assert_eq!(unlimited.stats().peak_bytes_in_use, 0);
}

#[test]
fn external_account_counts_and_limits() {
    let manager = MemoryManager::new(ManagerConfig {
        memory_limit: Some(1 << 20),
        ..ManagerConfig::default()
    })
    .unwrap();
    let pool = PoolBuffer::<f64>::zeroed(&manager, 1000, "pool").unwrap();
    let tracker = manager.track_peak();
    let mut account = manager.external_account("ext.factor", 300_000).unwrap();
    assert_eq!(account.bytes(), 300_000);
    assert_eq!(account.tag(), "ext.factor");
    let stats = manager.stats();
    assert_eq!(stats.bytes_in_use, 8000 + 300_000);
    assert_eq!(stats.available_bytes, (1 << 20) - 308_000);
    assert_eq!(tracker.peak(), 308_000);
    let tag = manager.tag_stats("ext.factor").unwrap();
    assert_eq!((tag.bytes_in_use, tag.live_allocations), (300_000, 1));
    manager.check_consistency().unwrap();
    // Over the limit: refused, nothing changes.
    let e = manager.external_account("ext.other", 800_000).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
    assert!(
        e.message().contains("800000 bytes") && e.message().contains("ext.other"),
        "{}",
        e.message()
    );
    let e = account.resize(1_100_000).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
    assert_eq!(account.bytes(), 300_000);
    assert_eq!(manager.stats().bytes_in_use, 308_000);
    // Growing within the limit raises the peaks; shrinking lowers the use, not the peaks.
    account.resize(500_000).unwrap();
    assert_eq!(manager.stats().bytes_in_use, 508_000);
    assert_eq!(tracker.peak(), 508_000);
    account.resize(100_000).unwrap();
    let tag = manager.tag_stats("ext.factor").unwrap();
    assert_eq!(
        (
            tag.bytes_in_use,
            tag.peak_bytes_in_use,
            tag.total_allocated_bytes
        ),
        (100_000, 500_000, 500_000)
    );
    // A pool allocation now sees the external bytes against the limit.
    let e = PoolBuffer::<f64>::zeroed(&manager, 120_000, "pool").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
    manager.check_consistency().unwrap();
    drop(account);
    let stats = manager.stats();
    assert_eq!(stats.bytes_in_use, 8000);
    assert_eq!(stats.peak_bytes_in_use, 508_000);
    let tag = manager.tag_stats("ext.factor").unwrap();
    assert_eq!((tag.bytes_in_use, tag.live_allocations), (0, 0));
    manager.check_consistency().unwrap();
    drop(pool);
    assert_eq!(manager.stats().bytes_in_use, 0);
}
