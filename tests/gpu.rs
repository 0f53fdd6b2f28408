//! The GPU layer (issue 9, foundation): detection, the device pool, pinned host memory and the
//! `qdsim_gpu_*` C functions.
//!
//! Without the `gpu` feature the C functions must report `QDSIM_ERR_NO_DEVICE` ("built without
//! the gpu feature"). With it, the pool's bookkeeping (limit, statistics, tags, leak report) is
//! tested everywhere, detection must report a missing driver as `NoDevice` (not a panic), and
//! the tests that need a device print `skipped: <reason>` and return where there is none.

use qdsim_mem::ffi::gpu::*;
use qdsim_mem::ffi::manager_report::qdsim_tag_stats;
use qdsim_mem::ffi::status::qdsim_status::{self, *};
use qdsim_mem::memory::Stats;
use std::ffi::{CStr, c_char, c_void};
use std::ptr::{null, null_mut};

fn last_error() -> String {
    // SAFETY: this thread's NUL-terminated message, read before the next call.
    unsafe { CStr::from_ptr(qdsim_mem::ffi::boundary::qdsim_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

fn expect_status(status: qdsim_status, expected: qdsim_status, needle: &str) {
    assert_eq!(status, expected, "message: {}", last_error());
    let message = last_error();
    assert!(
        message.contains(needle),
        "{needle:?} not in the message {message:?}"
    );
}

#[cfg(not(feature = "gpu"))]
#[test]
fn without_the_feature_every_entry_point_is_no_device() {
    const WHY: &str = "built without the gpu feature";
    let mut count = -7;
    // SAFETY: valid out-pointer.
    expect_status(
        unsafe { qdsim_gpu_device_count(&mut count) },
        QDSIM_ERR_NO_DEVICE,
        WHY,
    );
    assert_eq!(count, -7, "out-parameter written on failure");
    assert!(last_error().starts_with("qdsim_gpu_device_count: "));
    let mut pool: *mut qdsim_gpu_pool = null_mut();
    // SAFETY: valid out-pointer.
    expect_status(
        unsafe { qdsim_gpu_pool_create(0, 0, &mut pool) },
        QDSIM_ERR_NO_DEVICE,
        WHY,
    );
    assert!(pool.is_null());
    // SAFETY: NULL is a no-op.
    assert_eq!(unsafe { qdsim_gpu_pool_destroy(null_mut()) }, QDSIM_OK);
    let fake = 0x1000 as *mut qdsim_gpu_pool;
    let mut address = 5u64;
    let mut buffer = [0u8; 8];
    let mut stats = Stats::default();
    // SAFETY: qdsim_tag_stats is plain data; all zeros is a valid value.
    let mut tag_stats: qdsim_tag_stats = unsafe { std::mem::zeroed() };
    let mut report: *mut c_char = null_mut();
    let mut pinned: *mut c_void = null_mut();
    let mut result: *mut qdsim_mem::ffi::solver::qdsim_eigen_result = null_mut();
    // SAFETY: every call is refused before any pointer is used.
    let statuses = unsafe {
        [
            qdsim_gpu_pool_destroy(fake),
            qdsim_gpu_alloc(fake, 64, c"x".as_ptr(), &mut address),
            qdsim_gpu_free(fake, 0x10),
            qdsim_gpu_copy_to_host(fake, buffer.as_mut_ptr().cast(), 0x10, 8),
            qdsim_gpu_copy_to_device(fake, 0x10, buffer.as_ptr().cast(), 8),
            qdsim_gpu_pool_stats(fake, &mut stats),
            qdsim_gpu_pool_pinned_stats(fake, &mut stats),
            qdsim_gpu_pool_tag_stats(fake, c"x".as_ptr(), &mut tag_stats),
            qdsim_gpu_pool_leak_report(fake, &mut report),
            qdsim_gpu_pinned_alloc(fake, 64, null(), &mut pinned),
            qdsim_gpu_pinned_free(fake, buffer.as_mut_ptr().cast()),
            qdsim_mem::ffi::solver_gpu::qdsim_gpu_solve_lowest(
                fake,
                null_mut(),
                null(),
                qdsim_mem::ffi::types::QDSIM_SCALAR_AUTO,
                null(),
                &mut result,
            ),
        ]
    };
    assert!(result.is_null(), "out-parameter written on failure");
    for (i, status) in statuses.into_iter().enumerate() {
        assert_eq!(status, QDSIM_ERR_NO_DEVICE, "call {i}");
    }
    assert!(last_error().ends_with(WHY), "{}", last_error());
    assert_eq!(address, 5);
    assert!(report.is_null() && pinned.is_null());
    assert_eq!(stats, Stats::default());
}

// The suite's helpers (tests/suite/common.rs), of which this binary uses a few.
#[cfg(feature = "gpu")]
#[path = "suite/common.rs"]
#[allow(dead_code)]
mod common;

#[cfg(feature = "gpu")]
#[path = "gpu/operators.rs"]
mod operators;

#[cfg(feature = "gpu")]
mod with_feature {
    use super::*;
    use qdsim_mem::ErrorKind;
    use qdsim_mem::ffi::string::qdsim_string_free;
    use qdsim_mem::gpu::ledger::{Ledger, leak_report};
    use qdsim_mem::gpu::{Device, DevicePool, MemoryKind, device_count};
    use std::time::Instant;

    // ---- detection: works on every machine ----------------------------------------------

    #[test]
    fn device_count_is_a_count_or_no_device_with_the_reason() {
        match device_count() {
            Ok(n) => {
                assert!(n >= 1);
                eprintln!("device_count: {n} CUDA device(s)");
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::NoDevice, "{e}");
                assert!(e.message().starts_with("no usable CUDA device: "), "{e}");
                // What was looked for and what failed, or what the driver said.
                let m = e.message();
                assert!(
                    m.contains("libcuda.so.1") || m.contains("cuInit") || m.contains("0 devices"),
                    "{m}"
                );
                eprintln!("device_count: {m}");
            }
        }
        // Cached: the same answer again, and no panic either time.
        assert_eq!(device_count().is_ok(), device_count().is_ok());
    }

    #[test]
    fn opening_a_device_past_the_count_is_no_device() {
        let err = Device::open(1 << 20).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoDevice, "{err}");
    }

    #[test]
    fn c_device_count_and_pool_create_agree_with_detection() {
        let mut count = -7;
        // SAFETY: valid out-pointer.
        let status = unsafe { qdsim_gpu_device_count(&mut count) };
        let mut pool: *mut qdsim_gpu_pool = null_mut();
        match device_count() {
            Ok(n) => {
                assert_eq!(status, QDSIM_OK);
                assert_eq!(count as usize, n);
            }
            Err(e) => {
                expect_status(status, QDSIM_ERR_NO_DEVICE, e.message());
                assert_eq!(count, -7, "out-parameter written on failure");
                // SAFETY: valid out-pointer.
                let status = unsafe { qdsim_gpu_pool_create(0, 0, &mut pool) };
                expect_status(
                    status,
                    QDSIM_ERR_NO_DEVICE,
                    "qdsim_gpu_pool_create: no usable CUDA device",
                );
                assert!(pool.is_null());
            }
        }
    }

    #[test]
    fn c_api_checks_null_arguments_and_handles() {
        // SAFETY: every call below is refused before any pointer is dereferenced.
        unsafe {
            expect_status(
                qdsim_gpu_device_count(null_mut()),
                QDSIM_ERR_NULL_ARGUMENT,
                "out is NULL",
            );
            expect_status(
                qdsim_gpu_pool_create(0, 0, null_mut()),
                QDSIM_ERR_NULL_ARGUMENT,
                "out is NULL",
            );
            let mut pool: *mut qdsim_gpu_pool = null_mut();
            expect_status(
                qdsim_gpu_pool_create(-1, 0, &mut pool),
                QDSIM_ERR_INVALID_ARGUMENT,
                "device is -1",
            );
            assert!(pool.is_null());
            assert_eq!(qdsim_gpu_pool_destroy(null_mut()), QDSIM_OK);
            let mut address = 5u64;
            expect_status(
                qdsim_gpu_alloc(null_mut(), 64, null(), &mut address),
                QDSIM_ERR_NULL_ARGUMENT,
                "pool is NULL",
            );
            let mut stats = Stats::default();
            expect_status(
                qdsim_gpu_pool_stats(null(), &mut stats),
                QDSIM_ERR_NULL_ARGUMENT,
                "pool is NULL",
            );
            // A handle of another type, and an address that was never a handle.
            let mut manager = null_mut();
            assert_eq!(
                qdsim_mem::ffi::manager::qdsim_manager_create(null(), &mut manager),
                QDSIM_OK
            );
            let wrong = manager.cast::<qdsim_gpu_pool>();
            expect_status(
                qdsim_gpu_alloc(wrong, 64, null(), &mut address),
                QDSIM_ERR_INVALID_HANDLE,
                "is a qdsim_manager, not a qdsim_gpu_pool",
            );
            expect_status(
                qdsim_gpu_pool_destroy(wrong),
                QDSIM_ERR_INVALID_HANDLE,
                "not a qdsim_gpu_pool",
            );
            assert_eq!(
                qdsim_mem::ffi::manager::qdsim_manager_destroy(manager),
                QDSIM_OK
            );
            let fake = 0x1000 as *mut qdsim_gpu_pool;
            expect_status(
                qdsim_gpu_free(fake, 0x10),
                QDSIM_ERR_INVALID_HANDLE,
                "not a live qdsim_gpu_pool",
            );
            let mut report: *mut c_char = null_mut();
            expect_status(
                qdsim_gpu_pool_leak_report(fake, &mut report),
                QDSIM_ERR_INVALID_HANDLE,
                "not a live qdsim_gpu_pool",
            );
            assert!(report.is_null());
            assert_eq!(address, 5);
        }
    }

    // ---- the ledger: the pool's bookkeeping, without a device ----------------------------

    fn fake_addresses() -> impl FnMut() -> qdsim_mem::Result<u64> {
        let mut next = 0x7f00_0000_0000u64;
        move || {
            next += 1 << 20;
            Ok(next)
        }
    }

    #[test]
    fn ledger_counts_exactly_and_keeps_the_peak() {
        let ledger = Ledger::new(None);
        let mut next = fake_addresses();
        let a = ledger
            .allocate(MemoryKind::Device, 1000, "psi", &mut next)
            .unwrap();
        let b = ledger
            .allocate(MemoryKind::Device, 24, "psi", &mut next)
            .unwrap();
        let c = ledger
            .allocate(MemoryKind::Device, 500, "h.values", &mut next)
            .unwrap();
        let p = ledger
            .allocate(MemoryKind::Pinned, 4096, "staging", &mut next)
            .unwrap();
        let s = ledger.stats(MemoryKind::Device);
        assert_eq!(
            (s.bytes_in_use, s.peak_bytes_in_use, s.live_allocations),
            (1524, 1524, 3)
        );
        assert_eq!(
            (s.allocation_count, s.free_count, s.total_allocated_bytes),
            (3, 0, 1524)
        );
        assert_eq!((s.limit_bytes, s.failed_allocations), (0, 0));
        let pinned = ledger.stats(MemoryKind::Pinned);
        assert_eq!((pinned.bytes_in_use, pinned.live_allocations), (4096, 1));
        ledger
            .release(MemoryKind::Device, a, |x| {
                assert_eq!(x.size, 1000);
                Ok(())
            })
            .unwrap();
        let s = ledger.stats(MemoryKind::Device);
        assert_eq!(
            (s.bytes_in_use, s.peak_bytes_in_use, s.live_allocations),
            (524, 1524, 2)
        );
        assert_eq!((s.free_count, s.total_allocated_bytes), (1, 1524));
        let psi = ledger.tag_stats("psi").unwrap();
        assert_eq!((psi.bytes_in_use, psi.peak_bytes_in_use), (24, 1024));
        assert_eq!(
            (psi.allocation_count, psi.free_count, psi.live_allocations),
            (2, 1, 1)
        );
        assert_eq!(ledger.tag_stats("staging").unwrap().bytes_in_use, 4096);
        assert!(ledger.tag_stats("nobody").is_none());
        let order: Vec<String> = ledger.all_tag_stats().into_iter().map(|t| t.name).collect();
        assert_eq!(order, ["staging", "h.values", "psi"]);
        for (kind, x) in [
            (MemoryKind::Device, b),
            (MemoryKind::Device, c),
            (MemoryKind::Pinned, p),
        ] {
            ledger.release(kind, x, |_| Ok(())).unwrap();
        }
        assert_eq!(ledger.stats(MemoryKind::Device).bytes_in_use, 0);
        assert!(ledger.live().is_empty());
    }

    #[test]
    fn ledger_limit_refuses_with_the_usual_message_and_counts_the_failure() {
        let ledger = Ledger::new(Some(1000));
        let mut next = fake_addresses();
        let a = ledger
            .allocate(MemoryKind::Device, 600, "a", &mut next)
            .unwrap();
        let mut called = false;
        let err = ledger
            .allocate(MemoryKind::Device, 401, "b", || {
                called = true;
                Ok(1)
            })
            .unwrap_err();
        assert!(!called, "the driver must not be asked past the limit");
        assert_eq!(err.kind(), ErrorKind::LimitExceeded);
        assert_eq!(
            err.message(),
            "allocation of 401 bytes (tag \"b\", pool gpu) would exceed the memory limit of 1000 \
             bytes: 600 bytes are in use, 400 available"
        );
        let s = ledger.stats(MemoryKind::Device);
        assert_eq!(
            (s.failed_allocations, s.bytes_in_use, s.allocation_count),
            (1, 600, 1)
        );
        assert_eq!((s.limit_bytes, s.available_bytes), (1000, 400));
        // Exactly up to the limit is fine; pinned memory is not under it.
        ledger
            .allocate(MemoryKind::Device, 400, "b", &mut next)
            .unwrap();
        ledger
            .allocate(MemoryKind::Pinned, 1 << 20, "host", &mut next)
            .unwrap();
        ledger.release(MemoryKind::Device, a, |_| Ok(())).unwrap();
        assert_eq!(ledger.stats(MemoryKind::Device).available_bytes, 600);
        // A driver refusal counts as failed and changes nothing else.
        let err = ledger
            .allocate(MemoryKind::Device, 10, "c", || {
                Err(qdsim_mem::Error::new(ErrorKind::OutOfMemory, "device full"))
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutOfMemory);
        let s = ledger.stats(MemoryKind::Device);
        assert_eq!(
            (s.failed_allocations, s.bytes_in_use, s.live_allocations),
            (2, 400, 1)
        );
        assert!(ledger.tag_stats("c").is_none());
        // Zero bytes and over-long tags are refused before anything else.
        let zero = ledger
            .allocate(MemoryKind::Device, 0, "z", &mut next)
            .unwrap_err();
        assert_eq!(zero.kind(), ErrorKind::InvalidArgument);
        let long = "t".repeat(64);
        let err = ledger
            .allocate(MemoryKind::Device, 1, &long, &mut next)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn ledger_refuses_foreign_double_and_interior_frees_and_bad_ranges() {
        let ledger = Ledger::new(None);
        let mut next = fake_addresses();
        let a = ledger
            .allocate(MemoryKind::Device, 256, "a", &mut next)
            .unwrap();
        let p = ledger
            .allocate(MemoryKind::Pinned, 64, "p", &mut next)
            .unwrap();
        let refused = |kind, address, needle: &str| {
            let err = ledger
                .release(kind, address, |_| panic!("the driver must not be asked"))
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotOwned);
            assert!(err.message().contains(needle), "{needle:?} not in {err}");
        };
        refused(
            MemoryKind::Device,
            a + 16,
            "points 16 bytes inside the device allocation",
        );
        refused(MemoryKind::Device, 0x10, "not a live device allocation");
        refused(
            MemoryKind::Device,
            p,
            "is pinned memory of this pool, not device memory",
        );
        // A driver failure on free leaves the allocation live.
        let err = ledger
            .release(MemoryKind::Device, a, |_| {
                Err(qdsim_mem::Error::new(ErrorKind::Internal, "driver says no"))
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert_eq!(ledger.stats(MemoryKind::Device).live_allocations, 1);
        // Ranges: inside is fine (also at an offset), past the end and outside are refused.
        assert_eq!(
            ledger
                .check_range(MemoryKind::Device, a, 256)
                .unwrap()
                .address,
            a
        );
        assert_eq!(
            ledger
                .check_range(MemoryKind::Device, a + 200, 56)
                .unwrap()
                .address,
            a
        );
        let past = ledger
            .check_range(MemoryKind::Device, a + 200, 57)
            .unwrap_err();
        assert_eq!(past.kind(), ErrorKind::InvalidArgument);
        assert!(past.message().contains("run past the end"), "{past}");
        let outside = ledger
            .check_range(MemoryKind::Device, a + 256, 1)
            .unwrap_err();
        assert_eq!(outside.kind(), ErrorKind::NotOwned);
        assert!(ledger.check_range(MemoryKind::Device, p, 1).is_err());
        ledger.release(MemoryKind::Device, a, |_| Ok(())).unwrap();
        refused(MemoryKind::Device, a, "freed already");
        assert_eq!(ledger.stats(MemoryKind::Device).free_count, 1);
        // A driver that hands out a live address again is refused without touching the books.
        let b = ledger
            .allocate(MemoryKind::Device, 8, "b", &mut next)
            .unwrap();
        let before = ledger.stats(MemoryKind::Device);
        let err = ledger
            .allocate(MemoryKind::Device, 16, "c", || Ok(b))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert!(err.message().contains("already live"), "{err}");
        assert_eq!(ledger.stats(MemoryKind::Device), before);
        assert_eq!(ledger.live().len(), 2);
    }

    #[test]
    fn leak_report_lists_tag_size_and_address() {
        let ledger = Ledger::new(None);
        let mut next = fake_addresses();
        let a = ledger
            .allocate(MemoryKind::Device, 3 << 20, "wavefunctions", &mut next)
            .unwrap();
        ledger
            .allocate(MemoryKind::Device, 100, "", &mut next)
            .unwrap();
        ledger
            .allocate(MemoryKind::Pinned, 4096, "staging", &mut next)
            .unwrap();
        let report = ledger.leak_report("GPU pool #1");
        assert!(
            report.starts_with("GPU pool #1: 3 live allocation(s), 3149924 bytes"),
            "{report}"
        );
        assert!(report.contains(&format!("{a:#x}")), "{report}");
        for needle in [
            "wavefunctions",
            "(untagged)",
            "staging",
            "pinned",
            "device",
            "3145728",
        ] {
            assert!(report.contains(needle), "{needle:?} not in\n{report}");
        }
        let lines: Vec<&str> = report.lines().collect();
        let first_allocation = lines
            .iter()
            .position(|l| l.trim_start().starts_with("address"))
            .unwrap();
        assert!(
            lines[first_allocation + 1].contains("wavefunctions"),
            "largest first:\n{report}"
        );
        assert_eq!(
            leak_report("empty", &[]),
            "empty: 0 live allocation(s), 0 bytes (0 B)\n"
        );
    }

    #[test]
    fn ledger_stays_exact_under_threads() {
        let ledger = Ledger::new(Some(64 * 1000));
        let next = std::sync::atomic::AtomicU64::new(0x1000);
        std::thread::scope(|s| {
            for t in 0..4 {
                let (ledger, next) = (&ledger, &next);
                s.spawn(move || {
                    let tag = format!("t{t}");
                    for _ in 0..500 {
                        let address = ledger
                            .allocate(MemoryKind::Device, 64, &tag, || {
                                Ok(next.fetch_add(64, std::sync::atomic::Ordering::Relaxed))
                            })
                            .unwrap();
                        ledger
                            .release(MemoryKind::Device, address, |_| Ok(()))
                            .unwrap();
                    }
                });
            }
        });
        let s = ledger.stats(MemoryKind::Device);
        assert_eq!(
            (
                s.allocation_count,
                s.free_count,
                s.bytes_in_use,
                s.live_allocations
            ),
            (2000, 2000, 0, 0)
        );
        assert!(s.peak_bytes_in_use <= 4 * 64);
        assert_eq!(ledger.tag_stats("t3").unwrap().allocation_count, 500);
    }

    // ---- with a device ----------------------------------------------------------------------

    fn device_or_skip(test: &str) -> Option<Device> {
        match Device::open(0) {
            Ok(device) => {
                eprintln!("{test}: device 0: {device:?}");
                Some(device)
            }
            Err(e) if e.kind() == ErrorKind::NoDevice => {
                eprintln!("skipped: {test}: {}", e.message());
                None
            }
            // A driver and device that are there but fail to open are a failure, not a skip.
            Err(e) => panic!("{test}: opening device 0 failed: {e}"),
        }
    }

    #[test]
    fn device_alloc_free_round_trips_with_exact_stats_and_reuse() {
        let Some(device) = device_or_skip("device_alloc_free_round_trips") else {
            return;
        };
        let pool = DevicePool::new(device, None).unwrap();
        eprintln!("own CUDA memory pool: {}", pool.has_own_mempool());
        let sizes = [1usize, 100, 4096, 1 << 20, 37 << 20];
        let mut addresses = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            addresses.push(
                pool.alloc(size, if i % 2 == 0 { "even" } else { "odd" })
                    .unwrap(),
            );
        }
        pool.synchronize().unwrap();
        let total: u64 = sizes.iter().map(|&s| s as u64).sum();
        let s = pool.stats().unwrap();
        assert_eq!(
            (s.bytes_in_use, s.peak_bytes_in_use, s.live_allocations),
            (total, total, 5)
        );
        assert!(
            s.footprint_bytes >= total,
            "footprint {} < in use {total}",
            s.footprint_bytes
        );
        assert_eq!(pool.tag_stats("odd").unwrap().bytes_in_use, 100 + (1 << 20));
        for a in addresses.drain(..) {
            pool.free(a).unwrap();
        }
        pool.synchronize().unwrap();
        let s = pool.stats().unwrap();
        assert_eq!(
            (s.bytes_in_use, s.peak_bytes_in_use, s.free_count),
            (0, total, 5)
        );
        // The release threshold keeps what was freed.
        assert!(
            s.footprint_bytes >= 37 << 20,
            "freed memory was released: {s:?}"
        );
        assert_eq!(s.free_bytes, s.footprint_bytes);
        let err = pool.free(0x1234).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotOwned);
        assert!(pool.leak_report().contains("0 live allocation(s)"));
    }

    #[test]
    fn device_limit_is_enforced() {
        let Some(device) = device_or_skip("device_limit_is_enforced") else {
            return;
        };
        let pool = DevicePool::new(device, Some(10 << 20)).unwrap();
        let a = pool.alloc(6 << 20, "a").unwrap();
        let err = pool.alloc(5 << 20, "b").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded);
        assert!(
            err.message()
                .contains("would exceed the memory limit of 10485760 bytes"),
            "{err}"
        );
        let s = pool.stats().unwrap();
        assert_eq!(
            (s.failed_allocations, s.bytes_in_use, s.available_bytes),
            (1, 6 << 20, 4 << 20)
        );
        pool.free(a).unwrap();
        let b = pool.alloc(10 << 20, "b").unwrap();
        pool.free(b).unwrap();
    }

    #[test]
    fn device_copies_round_trip_and_ranges_are_checked() {
        let Some(device) = device_or_skip("device_copies_round_trip") else {
            return;
        };
        let pool = DevicePool::new(device, None).unwrap();
        let n = 3 << 20;
        let data: Vec<u8> = (0..n).map(|i| (i * 7 + i / 251) as u8).collect();
        let d = pool.alloc(n, "copy").unwrap();
        pool.copy_to_device(d, &data).unwrap();
        let mut back = vec![0u8; n];
        pool.copy_to_host(&mut back, d).unwrap();
        assert!(back == data, "device round trip changed the data");
        // Interior ranges.
        let mut part = vec![0u8; 1000];
        pool.copy_to_host(&mut part, d + 12345).unwrap();
        assert_eq!(part[..], data[12345..13345]);
        pool.copy_to_device(d + 10, &[9u8; 5]).unwrap();
        let mut head = [0u8; 20];
        pool.copy_to_host(&mut head, d).unwrap();
        assert_eq!(head[10..15], [9u8; 5]);
        assert_eq!(head[..10], data[..10]);
        // Through pinned memory.
        let pinned = pool.alloc_pinned(n, "staging").unwrap();
        // SAFETY: n bytes of live pinned memory, freed below after its last use.
        let staging = unsafe { std::slice::from_raw_parts_mut(pinned, n) };
        staging.copy_from_slice(&data);
        pool.copy_to_device(d, staging).unwrap();
        staging.fill(0);
        pool.copy_to_host(staging, d).unwrap();
        assert!(
            staging[..] == data[..],
            "pinned round trip changed the data"
        );
        assert_eq!(pool.pinned_stats().bytes_in_use, n as u64);
        // Out of range.
        let err = pool.copy_to_host(&mut part, d + n as u64 - 10).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        // SAFETY: not used after this.
        unsafe { pool.free_pinned(pinned).unwrap() };
        pool.free(d).unwrap();
        let err = pool.copy_to_device(d, &[1]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotOwned);
        assert_eq!(pool.pinned_stats().live_allocations, 0);
    }

    #[test]
    fn device_leak_report_shows_outstanding_allocations() {
        let Some(device) = device_or_skip("device_leak_report") else {
            return;
        };
        let pool = DevicePool::new(device, None).unwrap();
        let a = pool.alloc(123_456, "leaky.psi").unwrap();
        let p = pool.alloc_pinned(4096, "leaky.host").unwrap();
        let report = pool.leak_report();
        assert!(report.contains("2 live allocation(s)"), "{report}");
        assert!(report.contains(&format!("{a:#x}")), "{report}");
        assert!(report.contains(&format!("{:#x}", p as u64)), "{report}");
        assert!(
            report.contains("leaky.psi") && report.contains("123456"),
            "{report}"
        );
        // Dropping the pool prints the report and frees both.
        drop(pool);
    }

    #[test]
    fn device_pooled_alloc_free_timing() {
        let Some(device) = device_or_skip("device_pooled_alloc_free_timing") else {
            return;
        };
        let pool = DevicePool::new(device.clone(), None).unwrap();
        for &size in &[4096usize, 1 << 20, 64 << 20] {
            let rounds = 2000;
            let warm = pool.alloc(size, "warm").unwrap();
            pool.free(warm).unwrap();
            pool.synchronize().unwrap();
            let start = Instant::now();
            for _ in 0..rounds {
                let a = pool.alloc(size, "t").unwrap();
                pool.free(a).unwrap();
            }
            pool.synchronize().unwrap();
            let pooled = start.elapsed().as_secs_f64() / rounds as f64;
            // Baseline: plain cuMemAlloc / cuMemFree on the same device.
            let start = Instant::now();
            for _ in 0..rounds / 10 {
                // SAFETY: allocated and freed at once; the context is current (pool calls bound it).
                unsafe {
                    let a = cudarc::driver::result::malloc_sync(size).unwrap();
                    cudarc::driver::result::free_sync(a).unwrap();
                }
            }
            let plain = start.elapsed().as_secs_f64() / (rounds / 10) as f64;
            eprintln!(
                "alloc+free {size:>10} B: pool {:>8.2} µs, cuMemAlloc/cuMemFree {:>8.2} µs ({:.1}x)",
                pooled * 1e6,
                plain * 1e6,
                plain / pooled
            );
        }
        let s = pool.stats().unwrap();
        assert_eq!((s.bytes_in_use, s.live_allocations), (0, 0));
        assert_eq!(s.allocation_count, s.free_count);
    }

    #[test]
    fn c_api_on_a_device() {
        if device_or_skip("c_api_on_a_device").is_none() {
            return;
        }
        // SAFETY: a plain C API sequence with valid pointers throughout.
        unsafe {
            let mut pool: *mut qdsim_gpu_pool = null_mut();
            assert_eq!(
                qdsim_gpu_pool_create(0, 1 << 20, &mut pool),
                QDSIM_OK,
                "{}",
                last_error()
            );
            let mut d = 0u64;
            assert_eq!(
                qdsim_gpu_alloc(pool, 1000, c"c.x".as_ptr(), &mut d),
                QDSIM_OK
            );
            assert_ne!(d, 0);
            let mut again = 7u64;
            expect_status(
                qdsim_gpu_alloc(pool, 1 << 20, c"c.y".as_ptr(), &mut again),
                QDSIM_ERR_LIMIT_EXCEEDED,
                "would exceed the memory limit",
            );
            assert_eq!(again, 7);
            let src: Vec<u8> = (0..1000).map(|i| i as u8).collect();
            let mut dst = vec![0u8; 1000];
            assert_eq!(
                qdsim_gpu_copy_to_device(pool, d, src.as_ptr().cast(), 1000),
                QDSIM_OK
            );
            assert_eq!(
                qdsim_gpu_copy_to_host(pool, dst.as_mut_ptr().cast(), d, 1000),
                QDSIM_OK
            );
            assert_eq!(src, dst);
            expect_status(
                qdsim_gpu_copy_to_host(pool, dst.as_mut_ptr().cast(), d + 1, 1000),
                QDSIM_ERR_INVALID_ARGUMENT,
                "run past the end",
            );
            let mut stats = Stats::default();
            assert_eq!(qdsim_gpu_pool_stats(pool, &mut stats), QDSIM_OK);
            assert_eq!(
                (
                    stats.bytes_in_use,
                    stats.failed_allocations,
                    stats.limit_bytes
                ),
                (1000, 1, 1 << 20)
            );
            let mut tag: qdsim_tag_stats = std::mem::zeroed();
            assert_eq!(
                qdsim_gpu_pool_tag_stats(pool, c"c.x".as_ptr(), &mut tag),
                QDSIM_OK
            );
            assert_eq!(tag.bytes_in_use, 1000);
            let mut host: *mut c_void = null_mut();
            assert_eq!(
                qdsim_gpu_pinned_alloc(pool, 8192, null(), &mut host),
                QDSIM_OK
            );
            assert_eq!(qdsim_gpu_pool_pinned_stats(pool, &mut stats), QDSIM_OK);
            assert_eq!(stats.bytes_in_use, 8192);
            let mut report: *mut c_char = null_mut();
            assert_eq!(qdsim_gpu_pool_leak_report(pool, &mut report), QDSIM_OK);
            let text = CStr::from_ptr(report).to_string_lossy().into_owned();
            assert!(
                text.contains("2 live allocation(s)") && text.contains("c.x"),
                "{text}"
            );
            assert_eq!(qdsim_string_free(report), QDSIM_OK);
            assert_eq!(qdsim_gpu_pinned_free(pool, host), QDSIM_OK);
            assert_eq!(qdsim_gpu_free(pool, d), QDSIM_OK);
            expect_status(
                qdsim_gpu_free(pool, d),
                QDSIM_ERR_NOT_OWNED,
                "freed already",
            );
            assert_eq!(qdsim_gpu_pool_destroy(pool), QDSIM_OK);
            expect_status(
                qdsim_gpu_pool_destroy(pool),
                QDSIM_ERR_INVALID_HANDLE,
                "not a live qdsim_gpu_pool",
            );
        }
    }
}
