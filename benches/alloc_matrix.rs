//! Allocation benchmark (the seed's "Matrix Allocation" / "Memory Deallocation" table, measured):
//! allocate, touch every page of, and free a complex N×N matrix, again and again, from a qdsim
//! pool and from glibc (`malloc`/`free` and `posix_memalign(64)`) and mimalloc, all in the same
//! run. Prints median times and each allocator's speed-up over `malloc`. A matrix allocated
//! again after its free is where a pool pays: glibc returns blocks above its mmap threshold
//! (at most 32 MiB) to the kernel and faults every page in again.
//!
//! Run with `cargo bench --bench alloc_matrix`.

mod allocators;

use allocators::{Allocator, Malloc, Memalign, Mimalloc, Pool};
use num_complex::Complex64;
use qdsim_mem::memory::{ManagerConfig, MemoryManager, os::page_size};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The three phases of one allocate / first-touch / free cycle.
#[derive(Clone, Copy, Default)]
struct Cycle {
    alloc: Duration,
    touch: Duration,
    free: Duration,
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
    a.free(p, bytes);
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
        "qdsim pool".into(),
    );
    let no_reuse = ManagerConfig {
        retain_bytes: 0,
        ..ManagerConfig::default()
    };
    let pool_unmap = Pool(
        MemoryManager::new(no_reuse).unwrap(),
        "qdsim, retain 0".into(),
    );
    let allocators: [&dyn Allocator; 5] = [&Malloc, &Memalign, &Mimalloc, &pool, &pool_unmap];
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
    for (n, reps) in [(100usize, 200usize), (1000, 30), (2000, 15), (5000, 7)] {
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
