//! Exact phase tools on a manager: scoped statistics, checkpoints with `leaks_since`, and the
//! allocation event log with `replay` (which must reproduce the peak and counts exactly).

use qdsim_mem::ErrorKind;
use qdsim_mem::memory::{
    Event, EventOp, MemoryManager, PoolBuffer, PoolKind, events_from_csv, events_to_csv, replay,
};
use std::collections::HashMap;

#[test]
fn scopes_measure_one_phase_and_nest() {
    let manager = MemoryManager::with_defaults().unwrap();
    let before = PoolBuffer::<f64>::zeroed(&manager, 1000, "before").unwrap();
    manager.push_scope("assembly");
    let a = PoolBuffer::<f64>::zeroed(&manager, 2000, "a").unwrap();
    manager.push_scope("inner");
    let b = PoolBuffer::<i32>::zeroed(&manager, 500, "b").unwrap();
    drop(b);
    let inner = manager.pop_scope().unwrap();
    assert_eq!(
        (inner.name.as_str(), inner.allocations, inner.frees),
        ("inner", 1, 1)
    );
    assert_eq!(inner.bytes_allocated, 2000);
    assert_eq!(inner.net_bytes, 0);
    assert_eq!(inner.bytes_in_use_at_start, 8000 + 16000);
    assert_eq!(inner.peak_bytes_in_use, 8000 + 16000 + 2000);
    drop(before);
    let outer = manager.pop_scope().unwrap();
    assert_eq!(
        (outer.name.as_str(), outer.allocations, outer.frees),
        ("assembly", 2, 2)
    );
    assert_eq!(outer.bytes_allocated, 16000 + 2000);
    assert_eq!(outer.net_bytes, 16000 - 8000);
    assert_eq!(outer.peak_bytes_in_use, 8000 + 16000 + 2000);
    assert!(outer.seconds >= inner.seconds);
    assert_eq!(manager.scope_depth(), 0);
    let err = manager.pop_scope().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("push_scope"), "{err}");
    drop(a);
}

#[test]
fn leaks_since_lists_exactly_what_is_still_live() {
    let manager = MemoryManager::with_defaults().unwrap();
    let _old = PoolBuffer::<f64>::zeroed(&manager, 1 << 18, "old").unwrap();
    let checkpoint = manager.checkpoint();
    let mut kept = Vec::new();
    let mut expected: HashMap<&str, (u64, u64)> = HashMap::new();
    for i in 0..30usize {
        let tag = ["psi", "hamiltonian", "work"][i % 3];
        let len = 1000 + 977 * i;
        let b = PoolBuffer::<f64>::zeroed(&manager, len, tag).unwrap();
        if i % 4 == 0 {
            drop(b); // freed: not a leak
        } else {
            let e = expected.entry(tag).or_default();
            e.0 += 1;
            e.1 += 8 * len as u64;
            kept.push(b);
        }
    }
    let check = manager.leaks_since(checkpoint, 1 << 20);
    let found: HashMap<&str, (u64, u64)> = check
        .groups
        .iter()
        .map(|(t, c, b)| (t.as_str(), (*c, *b)))
        .collect();
    assert_eq!(found, expected);
    assert_eq!(check.count, kept.len() as u64);
    let total: u64 = expected.values().map(|e| e.1).sum();
    assert_eq!(check.bytes, total);
    assert!(
        check.groups.windows(2).all(|w| w[0].2 >= w[1].2),
        "most bytes first"
    );
    assert_eq!(check.is_leak(), total >= 1 << 20);
    assert!(check.text().contains("hamiltonian"));
    drop(kept);
    let clean = manager.leaks_since(checkpoint, 0);
    assert_eq!((clean.count, clean.bytes, clean.is_leak()), (0, 0, false));
    assert!(
        manager
            .leaks_since(qdsim_mem::memory::Checkpoint(0), 0)
            .groups
            .iter()
            .any(|g| g.0 == "old")
    );
}

/// A deterministic workload: random sizes across pools and tags, shuffled frees.
fn workload(manager: &MemoryManager) {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut rand = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut live = Vec::new();
    for _ in 0..3000 {
        if live.is_empty() || rand(3) != 0 {
            let pool = PoolKind::ALL[rand(5) as usize];
            let range = if rand(50) == 0 { 1 << 22 } else { 1 << 14 };
            let bytes = 1 + rand(range) as usize;
            let tag = ["a", "b", "", "long tag, with \"quotes\""][rand(4) as usize];
            live.push(manager.allocate(pool, bytes, 0, tag).unwrap());
        } else {
            let p = live.swap_remove(rand(live.len() as u64) as usize);
            // SAFETY: allocated above by this manager, freed once.
            unsafe { manager.free(p.as_ptr()).unwrap() };
        }
    }
    for p in live.drain(..live.len() / 2) {
        // SAFETY: as above.
        unsafe { manager.free(p.as_ptr()).unwrap() };
    }
    std::mem::forget(live); // the rest stays live: the log ends with live allocations
}

#[test]
fn replay_reproduces_peak_and_counts_exactly() {
    let manager = MemoryManager::new(qdsim_mem::memory::ManagerConfig {
        report_leaks_on_destroy: false,
        ..Default::default()
    })
    .unwrap();
    manager.set_event_log(true);
    workload(&manager);
    manager.set_event_log(false);
    let stats = manager.stats();
    let events = manager.event_log();
    assert_eq!(
        events.len() as u64,
        stats.allocation_count + stats.free_count
    );
    assert!(events.iter().enumerate().all(|(i, e)| e.seq == i as u64));

    let csv = events_to_csv(&events);
    let parsed = events_from_csv(&csv).unwrap();
    assert_eq!(parsed, events, "CSV round trip");

    let report = replay(&parsed).unwrap();
    assert_eq!(report.allocations, stats.allocation_count);
    assert_eq!(report.frees, stats.free_count);
    assert_eq!(report.peak_bytes_in_use, stats.peak_bytes_in_use);
    assert_eq!(report.live_at_end, stats.live_allocations);
    assert_eq!(
        report.histogram.iter().map(|b| b.1).sum::<u64>(),
        stats.allocation_count
    );
    for &(upper, count) in &report.histogram {
        let expected = events
            .iter()
            .filter(|e| {
                e.op == EventOp::Alloc && e.bytes <= upper && (upper == 1 || e.bytes > upper / 2)
            })
            .count() as u64;
        assert_eq!(count, expected, "bucket ≤ {upper}");
    }
    assert!(
        report
            .text()
            .contains(&format!("peak {} bytes", stats.peak_bytes_in_use))
    );
    manager.clear_event_log();
    assert!(manager.event_log().is_empty());
}

#[test]
fn the_complex_pool_is_complex128_and_old_logs_saying_complex64_still_read() {
    assert_eq!(PoolKind::Complex128.name(), "complex128");
    assert_eq!(
        PoolKind::Complex128.index(),
        1,
        "QDSIM_POOL_COMPLEX stays 1"
    );
    for kind in PoolKind::ALL {
        assert_eq!(PoolKind::from_name(kind.name()), Some(kind));
    }
    let text = "seq,op,id,bytes,pool,tag\n\
                0,alloc,1,32,complex64,\"old\"\n\
                1,alloc,2,32,complex128,\"new\"\n";
    let events = events_from_csv(text).unwrap();
    assert!(events.iter().all(|e| e.pool == PoolKind::Complex128));
    assert!(events_to_csv(&events).contains(",complex128,\"old\""));
}

#[test]
fn event_log_is_off_by_default() {
    let manager = MemoryManager::with_defaults().unwrap();
    drop(PoolBuffer::<f64>::zeroed(&manager, 10, "x").unwrap());
    assert!(manager.event_log().is_empty());
}

#[test]
fn corrupt_logs_are_refused_with_the_line() {
    let cases = [
        ("", "header"),
        (
            "seq,op,id,bytes,pool,tag\n0,alloc,0,8,f64\n",
            "line 2: missing field tag",
        ),
        (
            "seq,op,id,bytes,pool,tag\n0,grow,0,8,f64,\"\"\n",
            "line 2: op \"grow\"",
        ),
        (
            "seq,op,id,bytes,pool,tag\n0,alloc,0,8,f32,\"\"\n",
            "unknown pool",
        ),
        (
            "seq,op,id,bytes,pool,tag\n0,alloc,x,8,f64,\"\"\n",
            "id is not a number",
        ),
        (
            "seq,op,id,bytes,pool,tag\n0,alloc,0,8,f64,unquoted\n",
            "not quoted",
        ),
    ];
    for (text, needle) in cases {
        let err = events_from_csv(text).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CorruptFile);
        assert!(
            err.to_string().contains(needle),
            "{err} should mention {needle}"
        );
    }
    let event = |seq, op, id| Event {
        seq,
        op,
        id,
        bytes: 64,
        pool: PoolKind::F64,
        tag: String::new(),
    };
    let err = replay(&[event(0, EventOp::Free, 7)]).unwrap_err();
    assert!(err.to_string().contains("free of id 7"), "{err}");
    let err = replay(&[event(0, EventOp::Alloc, 1), event(1, EventOp::Alloc, 1)]).unwrap_err();
    assert!(err.to_string().contains("allocated twice"), "{err}");
}
