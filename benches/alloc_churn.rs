//! Small-object churn (issue 3): a working set of 10 000 live objects of random sizes between
//! 8 B and 4 KiB (log-uniform), where each step frees a randomly chosen object (so frees come
//! in shuffled order) and allocates a new one in its place. Single-threaded, and on 2 threads
//! where a quarter of the frees are handed to the other thread (cross-thread frees, in batches
//! of 256). Reports ns per alloc + free pair (per thread) for glibc malloc, mimalloc and the
//! qdsim pool with and without its thread cache, interleaved in the same run, median of 5; then the
//! pool's fragmentation and slab overhead with the working set still live.
//!
//! Run with `cargo bench --bench alloc_churn`.

mod allocators;

use allocators::{Allocator, Malloc, Mimalloc, Pool};
use qdsim_mem::memory::{ManagerConfig, MemoryManager};
use std::sync::mpsc;
use std::time::Instant;

const SLOTS: usize = 10_000;
const STEPS: usize = 2_000_000;
const BATCH: usize = 256;
const REPS: usize = 5;

/// xorshift64*: deterministic randomness without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// A size between 8 and 4096 bytes, log-uniform.
fn size(r: u64) -> usize {
    let bits = 3 + (r % 10) as u32; // 8 … 4096
    ((1usize << bits) + (r >> 8) as usize % (1 << bits)).min(4096)
}

/// The steps of one thread: (victim slot, new size, hand the victim to the other thread).
fn script(seed: u64, cross: bool) -> Vec<(u32, u32, bool)> {
    let mut rng = seed;
    (0..STEPS)
        .map(|_| {
            let r = next(&mut rng);
            let victim = (r % SLOTS as u64) as u32;
            let s = size(next(&mut rng)) as u32;
            (victim, s, cross && (r >> 40) % 4 == 0)
        })
        .collect()
}

struct Slot {
    ptr: usize,
    bytes: usize,
}

fn alloc_slot(a: &dyn Allocator, bytes: usize) -> Slot {
    let p = a.alloc(bytes);
    // SAFETY: a fresh block of at least one byte.
    unsafe { p.write_volatile(1) };
    Slot {
        ptr: p as usize,
        bytes,
    }
}

/// Runs one thread's script; blocks to free elsewhere go to `outbox`, blocks from the other
/// thread arrive in `inbox`. Returns the seconds spent and the live working set.
fn run_thread(
    a: &dyn Allocator,
    steps: &[(u32, u32, bool)],
    outbox: Option<mpsc::Sender<Vec<Slot>>>,
    inbox: Option<mpsc::Receiver<Vec<Slot>>>,
) -> (f64, Vec<Slot>) {
    let mut rng = 0x5EED;
    let mut slots: Vec<Slot> = (0..SLOTS)
        .map(|_| alloc_slot(a, size(next(&mut rng))))
        .collect();
    let mut pending: Vec<Slot> = Vec::with_capacity(BATCH);
    let t = Instant::now();
    for (n, &(victim, bytes, hand_over)) in steps.iter().enumerate() {
        let old = std::mem::replace(&mut slots[victim as usize], alloc_slot(a, bytes as usize));
        match &outbox {
            Some(out) if hand_over => {
                pending.push(old);
                if pending.len() == BATCH {
                    out.send(std::mem::replace(&mut pending, Vec::with_capacity(BATCH)))
                        .unwrap();
                }
            }
            _ => a.free(old.ptr as *mut u8, old.bytes),
        }
        if n % BATCH == 0 {
            if let Some(inbox) = &inbox {
                while let Ok(batch) = inbox.try_recv() {
                    for s in batch {
                        a.free(s.ptr as *mut u8, s.bytes);
                    }
                }
            }
        }
    }
    let seconds = t.elapsed().as_secs_f64();
    drop(outbox);
    // Whatever is still in flight is freed outside the timing.
    for s in pending {
        a.free(s.ptr as *mut u8, s.bytes);
    }
    if let Some(inbox) = inbox {
        for batch in inbox {
            for s in batch {
                a.free(s.ptr as *mut u8, s.bytes);
            }
        }
    }
    (seconds, slots)
}

fn free_all(a: &dyn Allocator, slots: Vec<Slot>) {
    for s in slots {
        a.free(s.ptr as *mut u8, s.bytes);
    }
}

/// ns per pair on one thread; `after` sees the allocator with the working set live.
fn one_thread(a: &dyn Allocator, steps: &[(u32, u32, bool)], after: &mut dyn FnMut()) -> f64 {
    let (seconds, slots) = run_thread(a, steps, None, None);
    after();
    free_all(a, slots);
    seconds * 1e9 / STEPS as f64
}

/// ns per pair per thread on two threads with cross-thread frees.
fn two_threads(a: &dyn Allocator, steps: &[Vec<(u32, u32, bool)>; 2]) -> f64 {
    let (to_1, from_0) = mpsc::channel();
    let (to_0, from_1) = mpsc::channel();
    let times = std::thread::scope(|scope| {
        let h0 = scope.spawn(|| {
            let (t, slots) = run_thread(a, &steps[0], Some(to_1), Some(from_1));
            free_all(a, slots);
            t
        });
        let h1 = scope.spawn(|| {
            let (t, slots) = run_thread(a, &steps[1], Some(to_0), Some(from_0));
            free_all(a, slots);
            t
        });
        [h0.join().unwrap(), h1.join().unwrap()]
    });
    times[0].max(times[1]) * 1e9 / STEPS as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let pool = |thread_cache: bool, name: &str| {
        Pool(
            MemoryManager::new(ManagerConfig {
                thread_cache,
                report_leaks_on_destroy: false,
                ..ManagerConfig::default()
            })
            .unwrap(),
            name.to_string(),
        )
    };
    let cached = pool(true, "qdsim pool");
    let locked = pool(false, "qdsim, no thread cache");
    let allocators: [&dyn Allocator; 4] = [&Malloc, &Mimalloc, &cached, &locked];
    let single = script(1, false);
    let pair = [script(2, true), script(3, true)];
    println!(
        "small-object churn: {SLOTS} live objects of 8 B – 4 KiB (log-uniform), {STEPS} steps of \
         free-a-random-one + allocate-a-new-one; median of {REPS}"
    );
    println!(
        "{:<24} {:>14} {:>9} {:>20} {:>9}",
        "allocator", "1 thread ns", "vs mi", "2 threads ns/thread", "vs mi"
    );
    // QDSIM_BENCH_ONLY=<substring> runs only the matching allocators (for profiling).
    let only = std::env::var("QDSIM_BENCH_ONLY").unwrap_or_default();
    let chosen: Vec<&dyn Allocator> = allocators
        .into_iter()
        .filter(|a| a.name().contains(&only))
        .collect();
    // Repetitions outermost, allocators innermost: drift of this shared machine hits all alike.
    let mut times: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); chosen.len()];
    for _ in 0..REPS {
        for (a, t) in chosen.iter().zip(&mut times) {
            t.0.push(one_thread(*a, &single, &mut || {}));
            t.1.push(two_threads(*a, &pair));
        }
    }
    let rows: Vec<(String, f64, f64)> = chosen
        .iter()
        .zip(times)
        .map(|(a, (one, two))| (a.name().to_string(), median(one), median(two)))
        .collect();
    let mi = rows.iter().find(|r| r.0 == "mimalloc");
    let (mi1, mi2) = mi.map_or((f64::NAN, f64::NAN), |r| (r.1, r.2));
    for (name, one, two) in &rows {
        println!(
            "{name:<24} {one:>14.1} {:>8.2}× {two:>20.1} {:>8.2}×",
            mi1 / one,
            mi2 / two
        );
    }
    println!("vs mi: mimalloc's time divided by the allocator's (> 1: faster than mimalloc)");

    // Fragmentation with the working set live, after a churn on a fresh manager.
    let fresh = pool(true, "fresh");
    let mut report = String::new();
    one_thread(&fresh, &single, &mut || {
        let s = fresh.0.stats();
        let slab_bytes = s.footprint_bytes - s.free_bytes;
        report = format!(
            "after the churn ({} objects live): {:.1} KiB in use, {:.1} KiB free in size-class \
             slabs and caches, fragmentation of the free runs {:.1} %, slab overhead \
             (free / (free + in use)) {:.1} %, footprint {:.1} MiB ({:.1} MiB in slabs)",
            s.live_allocations,
            s.bytes_in_use as f64 / 1024.0,
            s.cached_bytes as f64 / 1024.0,
            100.0 * s.fragmentation,
            100.0 * s.cached_bytes as f64 / (s.cached_bytes + s.bytes_in_use) as f64,
            s.footprint_bytes as f64 / (1 << 20) as f64,
            slab_bytes as f64 / (1 << 20) as f64,
        );
    });
    println!("{report}");
}
