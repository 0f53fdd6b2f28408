//! The manager's debug mode through the Rust API: red zones report overruns and underruns of
//! every kind of block (pool path, chunk-sized, direct mapping) with the tag and offset, the
//! damaged block is freed all the same, and clean blocks, statistics and the limit behave as
//! without the mode.

use qdsim_mem::ErrorKind;
use qdsim_mem::memory::{ManagerConfig, MemoryManager, PoolKind};

fn debug_manager(limit: Option<u64>) -> MemoryManager {
    MemoryManager::new(ManagerConfig {
        initial_pool_size: 1 << 20,
        memory_limit: limit,
        red_zones: Some(true),
        report_leaks_on_destroy: false,
        ..ManagerConfig::default()
    })
    .unwrap()
}

#[test]
fn the_mode_is_decided_at_creation_and_turns_the_thread_cache_off() {
    let m = debug_manager(None);
    assert_eq!(m.config().red_zones, Some(true));
    assert!(!m.config().thread_cache);
    let plain = MemoryManager::new(ManagerConfig {
        red_zones: Some(false),
        ..ManagerConfig::default()
    })
    .unwrap();
    assert_eq!(plain.config().red_zones, Some(false));
    assert!(plain.config().thread_cache);
}

/// One element past the end, for a small block, one larger than a chunk (a direct mapping) and
/// one at a large alignment.
#[test]
fn an_overrun_is_reported_with_tag_and_offset_and_the_block_is_freed() {
    let m = debug_manager(None);
    for (count, align) in [(10usize, 0usize), (300_000, 0), (33, 4096)] {
        let bytes = count * 8;
        let p = m
            .allocate(PoolKind::F64, bytes, align, "psi")
            .unwrap()
            .as_ptr();
        assert_eq!(p as usize % align.max(64), 0);
        // SAFETY: the block has `count` doubles; index `count` lies in the red zone after it,
        // which the manager owns (the write is the bug under test).
        unsafe { p.cast::<f64>().add(count).write(1.0) };
        let error = m.check_consistency().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MemoryCorrupted);
        let text = error.message();
        assert!(text.contains("tag \"psi\""), "{text}");
        assert!(text.contains(&format!("offset +{bytes}")), "{text}");
        // SAFETY: the block is live; nothing uses it afterwards.
        let error = unsafe { m.free(p) }.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MemoryCorrupted);
        assert!(error.message().contains("the block was freed"), "{error:?}");
        assert_eq!(m.stats().live_allocations, 0);
        assert_eq!(m.stats().bytes_in_use, 0);
        m.check_consistency().unwrap();
    }
}

#[test]
fn an_underrun_names_the_bytes_before_the_start() {
    let m = debug_manager(None);
    let p = m
        .allocate(PoolKind::Bytes, 100, 0, "header")
        .unwrap()
        .as_ptr();
    // SAFETY: 3 bytes before the block, inside its front red zone.
    unsafe { p.sub(3).write(0) };
    let error = m.check_consistency().unwrap_err();
    assert!(
        error
            .message()
            .contains("offset -3, 3 bytes before its start"),
        "{error:?}"
    );
    // SAFETY: live block, unused afterwards.
    assert!(unsafe { m.free(p) }.is_err());
    m.check_consistency().unwrap();
}

/// Pointers into a red zone or the middle of a block are refused as before, and nothing is
/// freed; the limit and statistics count the bytes requested, not the red zones.
#[test]
fn misuse_and_accounting_are_unchanged() {
    let m = debug_manager(Some(4096));
    let p = m.allocate(PoolKind::F64, 4096, 0, "all").unwrap().as_ptr();
    assert_eq!(m.stats().bytes_in_use, 4096);
    let refused = m.allocate(PoolKind::F64, 8, 0, "more").unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::LimitExceeded);
    // SAFETY: refused pointers are only compared, never dereferenced.
    let before = unsafe { m.free(p.wrapping_sub(8)) }.unwrap_err();
    assert_eq!(before.kind(), ErrorKind::NotOwned);
    assert!(before.message().contains("red zone"), "{before:?}");
    // SAFETY: as above.
    let inside = unsafe { m.free(p.wrapping_add(8)) }.unwrap_err();
    assert_eq!(inside.kind(), ErrorKind::NotOwned);
    assert_eq!(m.allocation_info(p).unwrap().size, 4096);
    assert_eq!(m.live_allocations()[0].address, p as usize);
    // SAFETY: live block, unused afterwards.
    unsafe { m.free(p) }.unwrap();
    // SAFETY: freed just now: the second free is refused, not undefined.
    let twice = unsafe { m.free(p) }.unwrap_err();
    assert_eq!(twice.kind(), ErrorKind::NotOwned);
    m.check_consistency().unwrap();
}
