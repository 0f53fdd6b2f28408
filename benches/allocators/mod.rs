//! The allocators the allocation benchmarks compare, behind one trait: a qdsim manager (with
//! or without its thread cache), glibc `malloc` and `posix_memalign(64)`, and mimalloc (called
//! directly through its `GlobalAlloc`, not installed as the program's allocator).

// Each benchmark uses a subset of these.
#![allow(dead_code)]

use mimalloc::MiMalloc;
use qdsim_mem::memory::{MemoryManager, PoolKind};
use std::alloc::{GlobalAlloc, Layout};

/// Something that hands out and takes back raw blocks.
pub trait Allocator: Sync {
    /// The row label.
    fn name(&self) -> &str;
    /// `bytes` bytes, aligned to at least 16.
    fn alloc(&self, bytes: usize) -> *mut u8;
    /// Gives back a block of `bytes` bytes from `alloc`.
    fn free(&self, ptr: *mut u8, bytes: usize);
}

/// A qdsim manager's pool.
pub struct Pool(pub MemoryManager, pub String);

impl Allocator for Pool {
    fn name(&self) -> &str {
        &self.1
    }
    fn alloc(&self, bytes: usize) -> *mut u8 {
        self.0
            .allocate(PoolKind::Complex128, bytes, 0, "bench")
            .unwrap()
            .as_ptr()
    }
    fn free(&self, ptr: *mut u8, _bytes: usize) {
        // SAFETY: `ptr` came from `alloc` above and is not used afterwards.
        unsafe { self.0.free(ptr).unwrap() }
    }
}

/// glibc `malloc` / `free`.
pub struct Malloc;

impl Allocator for Malloc {
    fn name(&self) -> &str {
        "glibc malloc"
    }
    fn alloc(&self, bytes: usize) -> *mut u8 {
        // SAFETY: malloc has no preconditions; the result is checked.
        let p = unsafe { libc::malloc(bytes) } as *mut u8;
        assert!(!p.is_null());
        p
    }
    fn free(&self, ptr: *mut u8, _bytes: usize) {
        // SAFETY: `ptr` came from malloc and is freed once.
        unsafe { libc::free(ptr.cast()) }
    }
}

/// glibc `posix_memalign(64)` / `free`.
pub struct Memalign;

impl Allocator for Memalign {
    fn name(&self) -> &str {
        "posix_memalign(64)"
    }
    fn alloc(&self, bytes: usize) -> *mut u8 {
        let mut p = std::ptr::null_mut();
        // SAFETY: `p` is a valid out-pointer; 64 is a power of two multiple of sizeof(void*).
        assert_eq!(unsafe { libc::posix_memalign(&mut p, 64, bytes) }, 0);
        p as *mut u8
    }
    fn free(&self, ptr: *mut u8, _bytes: usize) {
        // SAFETY: `ptr` came from posix_memalign and is freed once.
        unsafe { libc::free(ptr.cast()) }
    }
}

/// mimalloc, 64-byte aligned like the pool.
pub struct Mimalloc;

fn layout(bytes: usize) -> Layout {
    Layout::from_size_align(bytes.max(1), 64).expect("a valid layout")
}

impl Allocator for Mimalloc {
    fn name(&self) -> &str {
        "mimalloc"
    }
    fn alloc(&self, bytes: usize) -> *mut u8 {
        // SAFETY: the layout has a non-zero size; the result is checked.
        let p = unsafe { MiMalloc.alloc(layout(bytes)) };
        assert!(!p.is_null());
        p
    }
    fn free(&self, ptr: *mut u8, bytes: usize) {
        // SAFETY: `ptr` came from `alloc` with the same layout and is freed once.
        unsafe { MiMalloc.dealloc(ptr, layout(bytes)) }
    }
}
