//! Pointers a manager does not own are refused with `NotOwned` and a message saying what the
//! pointer is, and nothing changes.

use crate::common::small_manager;
use qdsim_mem::ErrorKind;
use qdsim_mem::memory::{MemoryManager, PoolKind, Stats};

fn refused(manager: &MemoryManager, ptr: *mut u8, needle: &str) {
    let before: Stats = manager.stats();
    // SAFETY: every pointer given here is refused, so nothing is freed.
    let err = unsafe { manager.free(ptr) }.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotOwned, "{err}");
    assert!(
        err.message().contains(needle),
        "{needle:?} not in {:?}",
        err.message()
    );
    let after = manager.stats();
    assert_eq!(before.bytes_in_use, after.bytes_in_use);
    assert_eq!(before.free_count, after.free_count);
    manager.check_consistency().unwrap();
}

#[test]
fn double_free_is_refused() {
    let m = small_manager();
    let p = m.allocate(PoolKind::F64, 100, 0, "x").unwrap().as_ptr();
    let keep = m.allocate(PoolKind::F64, 100, 0, "keep").unwrap();
    // SAFETY: live block, freed once here.
    unsafe { m.free(p).unwrap() };
    refused(&m, p, "double free");
    assert_eq!(m.allocation_info(keep.as_ptr()).unwrap().tag, "keep");
}

#[test]
fn interior_pointer_is_refused() {
    let m = small_manager();
    let p = m
        .allocate(PoolKind::Complex128, 1600, 0, "psi")
        .unwrap()
        .as_ptr();
    // SAFETY: stays inside the 1600-byte block.
    refused(
        &m,
        unsafe { p.add(16) },
        "16 bytes into the 1600-byte allocation",
    );
    // SAFETY: live block, freed once here.
    unsafe { m.free(p).unwrap() };
}

#[test]
fn pointer_of_another_manager_is_refused() {
    let a = small_manager();
    let b = small_manager();
    let p = a.allocate(PoolKind::I32, 40, 0, "").unwrap().as_ptr();
    refused(&b, p, &format!("belongs to memory manager #{}", a.id()));
    // SAFETY: live block of `a`, freed once here.
    unsafe { a.free(p).unwrap() };
}

#[test]
fn foreign_pointers_are_refused() {
    let m = small_manager();
    let mut on_stack = [0u8; 16];
    refused(
        &m,
        on_stack.as_mut_ptr(),
        "not allocated by any qdsim memory manager",
    );
    let mut boxed = Box::new([0u8; 64]);
    refused(
        &m,
        boxed.as_mut_ptr(),
        "not allocated by any qdsim memory manager",
    );
}

#[test]
fn free_of_null_is_a_no_op() {
    let m = small_manager();
    // SAFETY: null is a no-op.
    unsafe { m.free(std::ptr::null_mut()).unwrap() };
    assert_eq!(m.stats().free_count, 0);
}
