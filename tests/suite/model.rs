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

/// The shrunk input of a failure of `random_sequences_match_the_model` (proptest seed
/// `cc 8a29e5bbc161874d28510688f1e1db69a10c5d9b32fae75ac32951d20ebea649`): `check` saw
/// `footprint_bytes < bytes_in_use + free_bytes + cached_bytes + retained_bytes`. The cause was
/// timing, not the sequence: after a `FreeElsewhere` the exiting thread's cache is flushed by its
/// thread-local destructor, which may overlap the next `stats` (see the test below), and a block
/// moved from the heap's magazine to its slab in between was counted twice. The sequence is
/// replayed a number of times.
#[rustfmt::skip]
fn regression_8a29e5bb_ops() -> Vec<Op> {
    vec![
        Op::Free { pick: 10356525456087502362 },
        Op::Free { pick: 6772465776769356398 },
        Op::Free { pick: 14420577062558590111 },
        Op::Alloc { pool: 0, size: 1, align_log2: 11, tag: 1 },
        Op::Trim,
        Op::Free { pick: 5048265223120660938 },
        Op::Free { pick: 10799920702668109814 },
        Op::Alloc { pool: 0, size: 252, align_log2: 13, tag: 0 },
        Op::Alloc { pool: 3, size: 247, align_log2: 3, tag: 3 },
        Op::Alloc { pool: 3, size: 446, align_log2: 2, tag: 2 },
        Op::Alloc { pool: 3, size: 12095, align_log2: 12, tag: 1 },
        Op::Alloc { pool: 1, size: 1001, align_log2: 1, tag: 2 },
        Op::Alloc { pool: 1, size: 55562, align_log2: 10, tag: 2 },
        Op::FreeInterior { pick: 8026751093791287056, offset: 40 },
        Op::Alloc { pool: 1, size: 328251, align_log2: 13, tag: 1 },
        Op::Free { pick: 3216624784712121579 },
        Op::Free { pick: 1383540017274628946 },
        Op::Free { pick: 2833982647583650235 },
        Op::Alloc { pool: 1, size: 7, align_log2: 9, tag: 1 },
        Op::Trim,
        Op::Free { pick: 15111690461337914666 },
        Op::Alloc { pool: 2, size: 207, align_log2: 13, tag: 1 },
        Op::Trim,
        Op::Free { pick: 15523725029428078671 },
        Op::Free { pick: 4414517952576465556 },
        Op::Alloc { pool: 1, size: 402, align_log2: 9, tag: 1 },
        Op::Alloc { pool: 1, size: 306, align_log2: 5, tag: 0 },
        Op::Alloc { pool: 2, size: 247, align_log2: 4, tag: 2 },
        Op::Free { pick: 6700169339852905525 },
        Op::DoubleFree { pick: 9851169945562082744 },
        Op::FreeElsewhere { pick: 4260794382011165950 },
        Op::Free { pick: 2483123668705042239 },
        Op::FreeInterior { pick: 9831597129809360098, offset: 43 },
        Op::Alloc { pool: 1, size: 414, align_log2: 10, tag: 3 },
        Op::Trim,
        Op::Free { pick: 6399040134418142780 },
        Op::Free { pick: 7008214757827427183 },
        Op::Alloc { pool: 0, size: 383, align_log2: 11, tag: 3 },
        Op::Alloc { pool: 2, size: 49165, align_log2: 10, tag: 3 },
        Op::Free { pick: 14074778517236199905 },
        Op::Alloc { pool: 4, size: 172, align_log2: 0, tag: 2 },
        Op::Alloc { pool: 3, size: 294, align_log2: 9, tag: 2 },
        Op::Alloc { pool: 1, size: 19826, align_log2: 6, tag: 1 },
        Op::Alloc { pool: 4, size: 32230, align_log2: 12, tag: 3 },
        Op::FreeElsewhere { pick: 6081670460553215652 },
        Op::FreeElsewhere { pick: 4792259919484739551 },
        Op::Alloc { pool: 4, size: 5, align_log2: 11, tag: 3 },
        Op::FreeElsewhere { pick: 6077047136032017399 },
        Op::Alloc { pool: 3, size: 11721, align_log2: 6, tag: 0 },
        Op::Free { pick: 11590506096277376384 },
        Op::Free { pick: 3262397537690072469 },
        Op::Alloc { pool: 4, size: 279, align_log2: 11, tag: 0 },
        Op::Alloc { pool: 0, size: 441101, align_log2: 11, tag: 2 },
        Op::Alloc { pool: 0, size: 385, align_log2: 10, tag: 3 },
        Op::Free { pick: 13089566099291379584 },
        Op::Trim,
        Op::Free { pick: 15656312946470743446 },
        Op::Alloc { pool: 3, size: 222, align_log2: 12, tag: 1 },
        Op::FreeElsewhere { pick: 5626455325932086713 },
        Op::Alloc { pool: 4, size: 12139, align_log2: 3, tag: 0 },
        Op::Alloc { pool: 1, size: 10740, align_log2: 8, tag: 0 },
        Op::FreeElsewhere { pick: 17400484492959583948 },
        Op::Alloc { pool: 2, size: 408, align_log2: 12, tag: 1 },
        Op::Free { pick: 12152066543339948792 },
        Op::Free { pick: 18307237152506655185 },
        Op::FreeInterior { pick: 3174329588643632423, offset: 49 },
        Op::Alloc { pool: 0, size: 17809, align_log2: 10, tag: 2 },
        Op::Alloc { pool: 3, size: 208, align_log2: 7, tag: 2 },
        Op::Alloc { pool: 3, size: 288468, align_log2: 7, tag: 0 },
        Op::Alloc { pool: 1, size: 184, align_log2: 3, tag: 1 },
        Op::Free { pick: 17089983112327294820 },
        Op::Alloc { pool: 0, size: 425, align_log2: 9, tag: 0 },
        Op::Free { pick: 7242782744433036090 },
        Op::Alloc { pool: 3, size: 175, align_log2: 5, tag: 2 },
        Op::Alloc { pool: 1, size: 10143, align_log2: 8, tag: 2 },
        Op::Free { pick: 11082753441182165162 },
        Op::FreeElsewhere { pick: 6876204593397788879 },
        Op::Free { pick: 11201998427850071176 },
        Op::Alloc { pool: 3, size: 40880, align_log2: 1, tag: 1 },
        Op::Alloc { pool: 4, size: 278, align_log2: 1, tag: 1 },
        Op::Alloc { pool: 2, size: 43574, align_log2: 11, tag: 1 },
        Op::Alloc { pool: 3, size: 315, align_log2: 9, tag: 3 },
        Op::DoubleFree { pick: 15952738889902814356 },
        Op::DoubleFree { pick: 10713636281087741097 },
        Op::Free { pick: 15224941386102857743 },
        Op::DoubleFree { pick: 40555123261722029 },
        Op::Alloc { pool: 2, size: 4, align_log2: 3, tag: 2 },
        Op::Alloc { pool: 4, size: 171, align_log2: 1, tag: 1 },
        Op::Alloc { pool: 1, size: 27079, align_log2: 3, tag: 1 },
        Op::Alloc { pool: 3, size: 255, align_log2: 7, tag: 2 },
        Op::Alloc { pool: 4, size: 483809, align_log2: 0, tag: 0 },
        Op::Alloc { pool: 2, size: 285, align_log2: 9, tag: 0 },
        Op::Free { pick: 16689253296033258375 },
        Op::Alloc { pool: 3, size: 421, align_log2: 8, tag: 2 },
        Op::DoubleFree { pick: 3258367659148541122 },
        Op::Free { pick: 17576304049137817076 },
        Op::Free { pick: 7582958055328388587 },
        Op::Free { pick: 6774151616344891561 },
        Op::Alloc { pool: 1, size: 14836, align_log2: 0, tag: 2 },
        Op::FreeElsewhere { pick: 1390380660556170898 },
        Op::Free { pick: 12497262565765648055 },
        Op::Alloc { pool: 3, size: 273, align_log2: 0, tag: 1 },
        Op::Alloc { pool: 0, size: 7667, align_log2: 9, tag: 2 },
        Op::Alloc { pool: 4, size: 23528, align_log2: 10, tag: 1 },
        Op::Alloc { pool: 4, size: 346, align_log2: 3, tag: 0 },
        Op::Alloc { pool: 3, size: 187, align_log2: 5, tag: 1 },
        Op::Alloc { pool: 4, size: 313, align_log2: 12, tag: 1 },
        Op::Free { pick: 14686619148145108427 },
        Op::Trim,
        Op::Alloc { pool: 1, size: 15872, align_log2: 12, tag: 1 },
        Op::DoubleFree { pick: 13792350281664599916 },
        Op::Alloc { pool: 1, size: 59855, align_log2: 0, tag: 0 },
        Op::Alloc { pool: 1, size: 43955, align_log2: 3, tag: 1 },
        Op::Free { pick: 11726040899502257270 },
        Op::Free { pick: 16997166355591617201 },
        Op::Alloc { pool: 1, size: 52185, align_log2: 3, tag: 0 },
        Op::Free { pick: 15189053579689520240 },
        Op::Alloc { pool: 3, size: 23778, align_log2: 3, tag: 1 },
        Op::Free { pick: 182917908418321810 },
        Op::FreeElsewhere { pick: 5531358061941894458 },
        Op::Alloc { pool: 4, size: 233, align_log2: 1, tag: 2 },
        Op::DoubleFree { pick: 12114710105251694899 },
        Op::Free { pick: 15571229661300789527 },
        Op::Alloc { pool: 3, size: 275412, align_log2: 2, tag: 1 },
        Op::Alloc { pool: 3, size: 57112, align_log2: 1, tag: 0 },
        Op::Free { pick: 1968470840086497153 },
        Op::Free { pick: 426248236364459378 },
        Op::Alloc { pool: 1, size: 95, align_log2: 13, tag: 1 },
        Op::Alloc { pool: 1, size: 199, align_log2: 2, tag: 2 },
        Op::DoubleFree { pick: 18362026594197997206 },
        Op::DoubleFree { pick: 16513156290343498101 },
        Op::Free { pick: 14375019842786355472 },
        Op::Alloc { pool: 3, size: 48, align_log2: 5, tag: 1 },
        Op::Trim,
        Op::FreeElsewhere { pick: 13080890689500278778 },
        Op::Free { pick: 14956176052268883990 },
        Op::Alloc { pool: 3, size: 5319, align_log2: 1, tag: 1 },
        Op::Free { pick: 2215744827155596884 },
        Op::Alloc { pool: 1, size: 493797, align_log2: 6, tag: 1 },
        Op::Trim,
        Op::Free { pick: 17008126859847514055 },
        Op::Alloc { pool: 2, size: 14, align_log2: 4, tag: 1 },
        Op::Free { pick: 8812498347546172286 },
        Op::Alloc { pool: 3, size: 435161, align_log2: 7, tag: 3 },
        Op::Alloc { pool: 2, size: 96, align_log2: 0, tag: 1 },
        Op::Alloc { pool: 4, size: 316, align_log2: 1, tag: 2 },
        Op::FreeElsewhere { pick: 16570223467394385949 },
        Op::Alloc { pool: 0, size: 9048, align_log2: 10, tag: 2 },
        Op::Free { pick: 7761817471379235864 },
        Op::Trim,
        Op::Trim,
        Op::Trim,
        Op::Free { pick: 7558084137181853106 },
        Op::Free { pick: 17759110514782488723 },
        Op::Trim,
        Op::Free { pick: 10267938963118114484 },
        Op::Trim,
        Op::Alloc { pool: 4, size: 59667, align_log2: 7, tag: 1 },
        Op::Free { pick: 11803760826833859273 },
        Op::Alloc { pool: 0, size: 30164, align_log2: 0, tag: 3 },
        Op::Alloc { pool: 0, size: 44717, align_log2: 8, tag: 3 },
        Op::Free { pick: 10616907233913325438 },
        Op::DoubleFree { pick: 12650870283444650057 },
        Op::Alloc { pool: 1, size: 421, align_log2: 3, tag: 0 },
        Op::Free { pick: 743070066558188505 },
        Op::Free { pick: 1415572770170591867 },
        Op::Free { pick: 18335419855809114361 },
        Op::Alloc { pool: 1, size: 409, align_log2: 10, tag: 1 },
        Op::Free { pick: 9477696337704149393 },
        Op::FreeElsewhere { pick: 4236645768983456243 },
        Op::FreeInterior { pick: 839495130544378461, offset: 24 },
        Op::Alloc { pool: 0, size: 199, align_log2: 9, tag: 2 },
        Op::Free { pick: 4406983264325277286 },
        Op::Alloc { pool: 1, size: 30786, align_log2: 0, tag: 2 },
        Op::Alloc { pool: 2, size: 305, align_log2: 3, tag: 2 },
        Op::Free { pick: 713053801523538277 },
        Op::Free { pick: 5297827476852213686 },
        Op::Alloc { pool: 4, size: 19039, align_log2: 8, tag: 0 },
        Op::Alloc { pool: 1, size: 14, align_log2: 9, tag: 0 },
        Op::Alloc { pool: 3, size: 211, align_log2: 6, tag: 2 },
        Op::Trim,
        Op::Alloc { pool: 3, size: 480, align_log2: 1, tag: 2 },
        Op::Alloc { pool: 1, size: 19, align_log2: 2, tag: 3 },
        Op::Free { pick: 1953599477395999792 },
        Op::Alloc { pool: 1, size: 336, align_log2: 0, tag: 0 },
        Op::Free { pick: 8620056196758428293 },
        Op::Alloc { pool: 0, size: 350, align_log2: 9, tag: 1 },
        Op::Alloc { pool: 1, size: 6, align_log2: 8, tag: 3 },
    ]
}

#[test]
fn regression_footprint_covers_cached_blocks_of_exiting_threads() {
    for _ in 0..20 {
        run(regression_8a29e5bb_ops(), None, true);
    }
}

/// Frees from a thread that exits at once, then reads the statistics at once: the thread's
/// cache is flushed by its thread-local destructor, which `std::thread::scope` does not wait for
/// (rust-lang/rust#116179), so the flush runs while the statistics are read. The sum of the
/// parts must stay within the footprint whatever the interleaving.
#[test]
fn statistics_stay_consistent_while_an_exiting_thread_flushes_its_cache() {
    let manager = MemoryManager::new(ManagerConfig {
        initial_pool_size: CHUNK,
        huge_pages: false,
        thread_cache: true,
        ..ManagerConfig::default()
    })
    .unwrap();
    for _ in 0..300 {
        let blocks: Vec<usize> = (0..60)
            .map(|i| {
                let p = manager.allocate(PoolKind::ALL[i % 5], 64 * (1 + i % 12), 0, "");
                p.unwrap().as_ptr() as usize
            })
            .collect();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for &addr in &blocks {
                    // SAFETY: a live block of this manager, not used after this.
                    unsafe { manager.free(addr as *mut u8) }.unwrap();
                }
            });
        });
        for _ in 0..20 {
            let stats = manager.stats();
            assert_eq!(stats.bytes_in_use, 0);
            assert!(
                stats.footprint_bytes
                    >= stats.free_bytes + stats.cached_bytes + stats.retained_bytes,
                "{stats:?}"
            );
            for pool in PoolKind::ALL {
                let s = manager.pool_stats(pool);
                assert!(
                    s.footprint_bytes >= s.free_bytes + s.cached_bytes + s.retained_bytes,
                    "pool {pool}: {s:?}"
                );
            }
        }
    }
    // Once every exiting thread is done, the slabs hold nothing but free blocks and tails.
    manager.check_consistency().unwrap();
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
