//! Model-based randomized tests: random sequences of allocations, frees, misuse and trims are
//! applied both to a manager and to a simple model (a list of live blocks); after every step the
//! manager's statistics must equal the model's, no two live blocks may overlap, every block must
//! be aligned and keep its contents, and the manager's internal invariants must hold. Every
//! sequence runs with the thread cache on (small blocks through slabs and per-thread caches,
//! including frees from short-lived threads, whose caches are flushed as they exit) and off.

use proptest::prelude::*;
use qdsim_mem::ErrorKind;
use qdsim_mem::memory::{ManagerConfig, MemoryManager, PoolKind};
use std::collections::BTreeMap;

const TAGS: [&str; 4] = ["", "psi", "hamiltonian.values", "work"];
const CHUNK: usize = 256 << 10;

#[derive(Clone, Debug)]
enum Op {
    Alloc {
        pool: usize,
        size: usize,
        align_log2: u32,
        tag: usize,
    },
    Free {
        pick: usize,
    },
    FreeInterior {
        pick: usize,
        offset: usize,
    },
    DoubleFree {
        pick: usize,
    },
    /// Free on a thread spawned for it (it exits at once, with the block in its cache).
    FreeElsewhere {
        pick: usize,
    },
    Trim,
}

fn op() -> impl Strategy<Value = Op> {
    let size = prop_oneof![
        8 => 0usize..512,
        4 => 512usize..(64 << 10),
        1 => (CHUNK - 4096)..(CHUNK + 300_000),
    ];
    prop_oneof![
        10 => (0usize..5, size, 0u32..14, 0usize..TAGS.len())
            .prop_map(|(pool, size, align_log2, tag)| Op::Alloc { pool, size, align_log2, tag }),
        7 => any::<usize>().prop_map(|pick| Op::Free { pick }),
        1 => (any::<usize>(), 1usize..64).prop_map(|(pick, offset)| Op::FreeInterior { pick, offset }),
        1 => any::<usize>().prop_map(|pick| Op::DoubleFree { pick }),
        2 => any::<usize>().prop_map(|pick| Op::FreeElsewhere { pick }),
        1 => Just(Op::Trim),
    ]
}

#[derive(Clone, Debug)]
struct Block {
    size: usize,
    pool: PoolKind,
    tag: usize,
    seed: u8,
}

#[derive(Default)]
struct Model {
    live: BTreeMap<usize, Block>,
    freed: Vec<usize>,
    peak: u64,
    allocs: u64,
    frees: u64,
    failed: u64,
    total: u64,
}

impl Model {
    fn in_use(&self) -> u64 {
        self.live.values().map(|b| b.size as u64).sum()
    }
}

fn fill(addr: usize, block: &Block) {
    // SAFETY: the block is live, `size` bytes long and owned by this test.
    let bytes = unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, block.size) };
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = block.seed.wrapping_add(i as u8);
    }
}

fn verify(addr: usize, block: &Block) {
    // SAFETY: the block is live and `size` bytes long.
    let bytes = unsafe { std::slice::from_raw_parts(addr as *const u8, block.size) };
    for (i, &b) in bytes.iter().enumerate() {
        assert_eq!(
            b,
            block.seed.wrapping_add(i as u8),
            "block {addr:#x} byte {i} overwritten"
        );
    }
}

fn check(manager: &MemoryManager, model: &Model, limit: Option<u64>) {
    manager.check_consistency().unwrap();
    let stats = manager.stats();
    assert_eq!(stats.bytes_in_use, model.in_use());
    assert_eq!(stats.peak_bytes_in_use, model.peak);
    assert_eq!(stats.live_allocations, model.live.len() as u64);
    assert_eq!(stats.allocation_count, model.allocs);
    assert_eq!(stats.free_count, model.frees);
    assert_eq!(stats.failed_allocations, model.failed);
    assert_eq!(stats.total_allocated_bytes, model.total);
    assert!((0.0..=1.0).contains(&stats.fragmentation));
    assert!(stats.largest_free_block <= stats.free_bytes);
    assert!(
        stats.footprint_bytes
            >= stats.bytes_in_use + stats.free_bytes + stats.cached_bytes + stats.retained_bytes
    );
    if let Some(limit) = limit {
        assert_eq!(stats.available_bytes, limit - model.in_use());
    }
    for pool in PoolKind::ALL {
        let per_pool: u64 = model
            .live
            .values()
            .filter(|b| b.pool == pool)
            .map(|b| b.size as u64)
            .sum();
        assert_eq!(
            manager.pool_stats(pool).bytes_in_use,
            per_pool,
            "pool {pool}"
        );
    }
    for (t, name) in TAGS.iter().enumerate() {
        let per_tag: u64 = model
            .live
            .values()
            .filter(|b| b.tag == t)
            .map(|b| b.size as u64)
            .sum();
        let got = manager.tag_stats(name).map_or(0, |s| s.bytes_in_use);
        assert_eq!(got, per_tag, "tag {name:?}");
    }
    // No overlap: each block (at least one granule) ends before the next starts.
    let mut previous_end = 0;
    for (&addr, block) in &model.live {
        assert!(
            addr >= previous_end,
            "block {addr:#x} overlaps its predecessor"
        );
        previous_end = addr + block.size.max(1);
    }
}

fn run(ops: Vec<Op>, limit: Option<u64>, thread_cache: bool) {
    let manager = MemoryManager::new(ManagerConfig {
        initial_pool_size: CHUNK,
        memory_limit: limit,
        huge_pages: false,
        thread_cache,
        ..ManagerConfig::default()
    })
    .unwrap();
    let mut model = Model::default();
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Alloc {
                pool,
                size,
                align_log2,
                tag,
            } => {
                let pool = PoolKind::ALL[pool];
                let align = 1usize << align_log2;
                match manager.allocate(pool, size, align, TAGS[tag]) {
                    Ok(p) => {
                        let addr = p.as_ptr() as usize;
                        assert_eq!(addr % align.max(64), 0);
                        let block = Block {
                            size,
                            pool,
                            tag,
                            seed: step as u8,
                        };
                        fill(addr, &block);
                        model.live.insert(addr, block);
                        model.freed.retain(|&f| f != addr);
                        model.allocs += 1;
                        model.total += size as u64;
                        model.peak = model.peak.max(model.in_use());
                    }
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
                        assert!(model.in_use() + size as u64 > limit.unwrap());
                        model.failed += 1;
                    }
                }
            }
            Op::Free { pick } if !model.live.is_empty() => {
                let addr = *model.live.keys().nth(pick % model.live.len()).unwrap();
                let block = model.live.remove(&addr).unwrap();
                verify(addr, &block);
                // SAFETY: a live block of this manager, not used after this.
                unsafe { manager.free(addr as *mut u8) }.unwrap();
                model.freed.push(addr);
                model.frees += 1;
            }
            Op::FreeElsewhere { pick } if !model.live.is_empty() => {
                let addr = *model.live.keys().nth(pick % model.live.len()).unwrap();
                let block = model.live.remove(&addr).unwrap();
                verify(addr, &block);
                std::thread::scope(|scope| {
                    // SAFETY: a live block of this manager, not used after this.
                    scope.spawn(|| unsafe { manager.free(addr as *mut u8) }.unwrap());
                });
                model.freed.push(addr);
                model.frees += 1;
            }
            Op::FreeInterior { pick, offset } if !model.live.is_empty() => {
                let (&addr, block) = model.live.iter().nth(pick % model.live.len()).unwrap();
                if block.size > offset {
                    // SAFETY: refused (interior pointer); nothing is freed.
                    let err = unsafe { manager.free((addr + offset) as *mut u8) }.unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::NotOwned);
                    assert!(err.message().contains("bytes into"), "{}", err.message());
                }
            }
            Op::DoubleFree { pick } if !model.freed.is_empty() => {
                let addr = model.freed[pick % model.freed.len()];
                // SAFETY: already freed: refused, nothing is freed.
                let err = unsafe { manager.free(addr as *mut u8) }.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::NotOwned);
            }
            Op::Trim => {
                manager.trim();
                // Freed addresses may now be unmapped or remapped: forget them.
                model.freed.clear();
            }
            _ => {}
        }
        check(&manager, &model, limit);
    }
    for (&addr, block) in &model.live {
        verify(addr, block);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_match_the_model(
        ops in prop::collection::vec(op(), 1..200),
        thread_cache in any::<bool>(),
    ) {
        run(ops, None, thread_cache);
    }

    #[test]
    fn random_sequences_under_a_limit_match_the_model(
        ops in prop::collection::vec(op(), 1..200),
        limit in 10_000u64..2_000_000,
        thread_cache in any::<bool>(),
    ) {
        run(ops, Some(limit), thread_cache);
    }
}
