//! What watching costs: allocation + free pairs on a manager with nothing attached, with the
//! sampling profiler at its default 100 ms interval and at an aggressive 1 ms, with the event
//! log on, and with an open scope — on 1 and 2 threads. Each configuration is measured in
//! interleaved rounds (the best round counts) so that machine noise hits all of them alike;
//! the table prints ns per pair and the ratio to the bare manager in the same run.
//!
//! Run with `cargo bench --bench profiler_overhead`.

use qdsim_mem::memory::{MemoryManager, PoolKind};
use qdsim_mem::profiler::{Profiler, ProfilerConfig};
use std::time::{Duration, Instant};

const PAIRS: usize = 200_000;
const ROUNDS: usize = 5;

#[derive(Clone, Copy, PartialEq)]
enum Watch {
    Nothing,
    Profiler100ms,
    Profiler1ms,
    EventLog,
    Scope,
}

impl Watch {
    fn name(self) -> &'static str {
        match self {
            Watch::Nothing => "nothing attached",
            Watch::Profiler100ms => "profiler, 100 ms",
            Watch::Profiler1ms => "profiler, 1 ms",
            Watch::EventLog => "event log on",
            Watch::Scope => "open scope",
        }
    }
}

/// `PAIRS` allocate/free pairs per thread (sizes 64 B – 64 KiB, a few live at a time so the
/// pool's free list is exercised), in ns per pair.
fn churn(manager: &MemoryManager, threads: usize) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let mut live = [std::ptr::null_mut::<u8>(); 8];
                for i in 0..PAIRS {
                    let slot = i % live.len();
                    if !live[slot].is_null() {
                        // SAFETY: allocated below by this manager, freed once.
                        unsafe { manager.free(live[slot]).unwrap() };
                    }
                    let bytes = 64 << ((i * 7 + t) % 11);
                    live[slot] = manager
                        .allocate(PoolKind::Bytes, bytes, 0, "churn")
                        .unwrap()
                        .as_ptr();
                }
                for p in live {
                    // SAFETY: as above.
                    unsafe { manager.free(p).unwrap() };
                }
            });
        }
    });
    start.elapsed().as_nanos() as f64 / (PAIRS * threads) as f64
}

fn measure(watch: Watch, threads: usize) -> f64 {
    let manager = MemoryManager::with_defaults().unwrap();
    let interval = if watch == Watch::Profiler1ms { 1 } else { 100 };
    let profiler = Profiler::new(
        &manager,
        ProfilerConfig {
            interval: Duration::from_millis(interval),
            ..ProfilerConfig::default()
        },
    )
    .unwrap();
    match watch {
        Watch::Profiler100ms | Watch::Profiler1ms => profiler.start().unwrap(),
        Watch::EventLog => manager.set_event_log(true),
        Watch::Scope => manager.push_scope("bench"),
        Watch::Nothing => {}
    }
    let ns = churn(&manager, threads);
    if watch == Watch::Scope {
        manager.pop_scope().unwrap();
    }
    ns
}

fn main() {
    let watches = [
        Watch::Nothing,
        Watch::Profiler100ms,
        Watch::Profiler1ms,
        Watch::EventLog,
        Watch::Scope,
    ];
    println!(
        "allocation + free pairs (64 B – 64 KiB), best of {ROUNDS} interleaved rounds of {PAIRS} pairs per thread"
    );
    println!(
        "{:<20} {:>8} {:>14} {:>10}",
        "watching", "threads", "ns per pair", "ratio"
    );
    for threads in [1, 2] {
        let mut best = [f64::MAX; 5];
        for _ in 0..ROUNDS {
            for (i, &w) in watches.iter().enumerate() {
                best[i] = best[i].min(measure(w, threads));
            }
        }
        for (i, &w) in watches.iter().enumerate() {
            println!(
                "{:<20} {:>8} {:>14.1} {:>10.3}",
                w.name(),
                threads,
                best[i],
                best[i] / best[0]
            );
        }
    }
}
