//! Allocation benchmark (the seed's "Matrix Allocation" / "Memory Deallocation" table, measured):
//! allocate, touch every page of, and free a complex N×N matrix, from a qdsim pool and from
//! glibc (`malloc`/`free` and `posix_memalign(64)`), all in the same run. Prints median times
//! and the pool's speed-up over `malloc`.
//!
//! Run with `cargo bench --bench alloc_matrix`.

use num_complex::Complex64;
use qdsim_mem::memory::{ManagerConfig, MemoryManager, PoolKind, os::page_size};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The three phases of one allocate / first-touch / free cycle.
#[derive(Clone, Copy, Default)]
struct Cycle {
    alloc: Duration,
    touch: Duration,
    free: Duration,
}

trait Allocator {
    fn name(&self) -> &'static str;
    fn alloc(&self, bytes: usize) -> *mut u8;
    fn free(&self, ptr: *mut u8);
}

struct Pool(MemoryManager, &'static str);
struct Malloc;
struct Memalign;

impl Allocator for Pool {
    fn name(&self) -> &'static str {
        self.1
    }
    fn alloc(&self, bytes: usize) -> *mut u8 {
        self.0
            .allocate(PoolKind::Complex64, bytes, 0, "bench")
            .unwrap()
            .as_ptr()
    }
    fn free(&self, ptr: *mut u8) {
        // SAFETY: `ptr` came from `alloc` above and is not used afterwards.
        unsafe { self.0.free(ptr).unwrap() }
    }
}

impl Allocator for Malloc {
    fn name(&self) -> &'static str {
        "glibc malloc"
    }
    fn alloc(&self, bytes: usize) -> *mut u8 {
        // SAFETY: malloc has no preconditions; the result is checked.
        let p = unsafe { libc::malloc(bytes) } as *mut u8;
        assert!(!p.is_null());
        p
    }
    fn free(&self, ptr: *mut u8) {
        // SAFETY: `ptr` came from malloc and is freed once.
        unsafe { libc::free(ptr.cast()) }
    }
}

impl Allocator for Memalign {
    fn name(&self) -> &'static str {
        "posix_memalign(64)"
    }
    fn alloc(&self, bytes: usize) -> *mut u8 {
        let mut p = std::ptr::null_mut();
        // SAFETY: `p` is a valid out-pointer; 64 is a power of two multiple of sizeof(void*).
        assert_eq!(unsafe { libc::posix_memalign(&mut p, 64, bytes) }, 0);
        p as *mut u8
    }
    fn free(&self, ptr: *mut u8) {
        // SAFETY: `ptr` came from posix_memalign and is freed once.
        unsafe { libc::free(ptr.cast()) }
    }
}

fn cycle(a: &dyn Allocator, bytes: usize) -> Cycle {
    let page = page_size();
    let t0 = Instant::now();
    let p = black_box(a.alloc(bytes));
    let t1 = Instant::now();
    let mut offset = 0;
    while offset < bytes {
        // SAFETY: `p` holds `bytes` writable bytes.
        unsafe { p.add(offset).write_volatile(1) };
        offset += page;
    }
    let t2 = Instant::now();
    a.free(p);
    let t3 = Instant::now();
    Cycle {
        alloc: t1 - t0,
        touch: t2 - t1,
        free: t3 - t2,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn measure(a: &dyn Allocator, bytes: usize, reps: usize) -> Cycle {
    cycle(a, bytes); // warm-up: maps the pool's chunk, lets glibc adapt its mmap threshold
    let cycles: Vec<Cycle> = (0..reps).map(|_| cycle(a, bytes)).collect();
    Cycle {
        alloc: median(cycles.iter().map(|c| c.alloc).collect()),
        touch: median(cycles.iter().map(|c| c.touch).collect()),
        free: median(cycles.iter().map(|c| c.free).collect()),
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let pool = Pool(
        MemoryManager::new(ManagerConfig::default()).unwrap(),
        "qdsim pool",
    );
    let huge = ManagerConfig {
        huge_pages: true,
        ..ManagerConfig::default()
    };
    let pool_thp = Pool(MemoryManager::new(huge).unwrap(), "qdsim pool + THP");
    let allocators: [&dyn Allocator; 4] = [&Malloc, &Memalign, &pool, &pool_thp];
    println!(
        "allocate + touch every page + free of a complex N×N matrix; median of the repetitions"
    );
    println!(
        "{:>6} {:>10} {:<20} {:>12} {:>12} {:>12} {:>12} {:>9} {:>9} {:>9}",
        "N",
        "MiB",
        "allocator",
        "alloc µs",
        "touch µs",
        "free µs",
        "total µs",
        "alloc ×",
        "free ×",
        "total ×"
    );
    for (n, reps) in [(100usize, 200usize), (1000, 30), (5000, 5)] {
        let bytes = n * n * size_of::<Complex64>();
        let results: Vec<Cycle> = allocators
            .iter()
            .map(|a| measure(*a, bytes, reps))
            .collect();
        let base = results[0];
        for (a, c) in allocators.iter().zip(&results) {
            let total = c.alloc + c.touch + c.free;
            let base_total = base.alloc + base.touch + base.free;
            println!(
                "{:>6} {:>10.1} {:<20} {:>12.2} {:>12.1} {:>12.2} {:>12.1} {:>9.1} {:>9.1} {:>9.2}",
                n,
                bytes as f64 / (1 << 20) as f64,
                a.name(),
                us(c.alloc),
                us(c.touch),
                us(c.free),
                us(total),
                us(base.alloc) / us(c.alloc),
                us(base.free) / us(c.free),
                us(base_total) / us(total)
            );
        }
    }
    println!(
        "ratios (×) are glibc malloc's time divided by the allocator's: > 1 means faster than malloc"
    );
}
