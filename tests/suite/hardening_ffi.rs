//! Issue 16 ("never crash, never hang, never lie") for the C API's handles and the manager:
//! calls on a handle from inside the progress callback of a solve on it return instead of
//! waiting for themselves; a solve never returns `NOT_CONVERGED` without a result; the
//! consistency check is exact while other threads allocate; the raw free refuses blocks that a
//! library object owns; impossible manager configurations are refused at creation.

use crate::common::TempFile;
use qdsim_mem::ErrorKind;
use qdsim_mem::ffi::csr::{
    qdsim_csr, qdsim_csr_arrays, qdsim_csr_builder_add, qdsim_csr_builder_create,
    qdsim_csr_builder_destroy, qdsim_csr_builder_finalize, qdsim_csr_destroy, qdsim_csr_get_info,
    qdsim_csr_info,
};
use qdsim_mem::ffi::hamiltonian::{
    qdsim_grid_box, qdsim_hamiltonian_desc, qdsim_hamiltonian_desc_default,
};
use qdsim_mem::ffi::manager::{
    qdsim_manager, qdsim_manager_alloc_f64, qdsim_manager_check, qdsim_manager_config,
    qdsim_manager_config_default, qdsim_manager_create, qdsim_manager_destroy, qdsim_manager_free,
};
use qdsim_mem::ffi::mapped::{
    qdsim_mapped, qdsim_mapped_csr_arrays, qdsim_mapped_destroy, qdsim_mapped_finalize,
    qdsim_mapped_flush, qdsim_mapped_from_csr, qdsim_mapped_get_info, qdsim_mapped_info,
    qdsim_mapped_open,
};
use qdsim_mem::ffi::matrix::{qdsim_matrix_create, qdsim_matrix_data, qdsim_matrix_destroy};
use qdsim_mem::ffi::solver::{
    qdsim_csr_solve_lowest, qdsim_eigen_options, qdsim_eigen_options_default, qdsim_eigen_result,
    qdsim_eigen_result_destroy, qdsim_eigen_result_vectors, qdsim_mapped_solve_lowest,
    qdsim_solve_lowest,
};
use qdsim_mem::ffi::status::qdsim_status::{self, *};
use qdsim_mem::ffi::types::{QDSIM_SCALAR_AUTO, QDSIM_SCALAR_REAL};
use qdsim_mem::matrix::mapped::MappedCsr;
use qdsim_mem::memory::{ManagerConfig, MemoryManager, PoolBuffer, PoolKind};
use qdsim_mem::solver::Progress;
use std::ffi::{CStr, c_void};
use std::ptr::null_mut;
use std::sync::mpsc;
use std::time::Duration;

fn last_error() -> String {
    // SAFETY: this thread's NUL-terminated message, copied before the next call.
    unsafe { CStr::from_ptr(qdsim_mem::ffi::boundary::qdsim_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// Runs `f` on its own thread and fails the test if it takes more than a minute (a deadlock).
fn within_a_minute<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the call panicked (see above) or did not return within a minute (deadlock)")
}

fn new_manager() -> *mut qdsim_manager {
    let mut m = null_mut();
    // SAFETY: NULL config (defaults) and a valid out-pointer.
    assert_eq!(
        unsafe { qdsim_manager_create(std::ptr::null(), &mut m) },
        QDSIM_OK
    );
    m
}

/// The n×n tridiagonal (−1, d_i, −1) matrix with `diag(i)` on the diagonal.
fn tridiagonal(m: *mut qdsim_manager, n: usize, diag: impl Fn(usize) -> f64) -> *mut qdsim_csr {
    banded(m, n, diag, -1.0)
}

/// The n×n (off, d_i, off) matrix with `diag(i)` on the diagonal (diagonal when `off` is 0).
fn banded(
    m: *mut qdsim_manager,
    n: usize,
    diag: impl Fn(usize) -> f64,
    off: f64,
) -> *mut qdsim_csr {
    // SAFETY: live manager, valid out-pointers.
    unsafe {
        let mut b = null_mut();
        assert_eq!(
            qdsim_csr_builder_create(m, QDSIM_SCALAR_REAL, n, n, c"h".as_ptr(), &mut b),
            QDSIM_OK
        );
        for i in 0..n {
            assert_eq!(qdsim_csr_builder_add(b, i, i, diag(i)), QDSIM_OK);
            if i + 1 < n && off != 0.0 {
                assert_eq!(qdsim_csr_builder_add(b, i, i + 1, off), QDSIM_OK);
                assert_eq!(qdsim_csr_builder_add(b, i + 1, i, off), QDSIM_OK);
            }
        }
        let mut h = null_mut();
        assert_eq!(qdsim_csr_builder_finalize(b, &mut h), QDSIM_OK);
        assert_eq!(qdsim_csr_builder_destroy(b), QDSIM_OK);
        h
    }
}

fn options(k: usize) -> qdsim_eigen_options {
    let mut o = std::mem::MaybeUninit::uninit();
    // SAFETY: a valid out-pointer; the call fills every field.
    unsafe {
        assert_eq!(qdsim_eigen_options_default(o.as_mut_ptr()), QDSIM_OK);
        let mut o = o.assume_init();
        o.k = k;
        o
    }
}

/// What the progress callbacks below saw: the statuses of their calls and the messages.
#[derive(Default)]
struct Seen {
    manager: usize,
    handle: usize,
    calls: usize,
    statuses: Vec<(&'static str, qdsim_status, String)>,
}

impl Seen {
    fn record(&mut self, name: &'static str, status: qdsim_status) {
        let message = if status == QDSIM_OK {
            String::new()
        } else {
            last_error()
        };
        self.statuses.push((name, status, message));
    }

    fn status(&self, name: &str) -> (qdsim_status, &str) {
        let (_, s, m) = self
            .statuses
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} was not called"));
        (*s, m)
    }
}

/// Reads and tries to finalize the mapped handle from inside its solve, then cancels.
unsafe extern "C" fn on_mapped_progress(user: *mut c_void, _: *const Progress) -> i32 {
    // SAFETY: `user` is the test's `Seen`, alive for the solve.
    let seen = unsafe { &mut *user.cast::<Seen>() };
    let h = seen.handle as *mut qdsim_mapped;
    let m = seen.manager as *mut qdsim_manager;
    seen.calls += 1;
    // SAFETY: live handles; out-pointers to local memory.
    unsafe {
        let mut info = std::mem::MaybeUninit::<qdsim_mapped_info>::uninit();
        seen.record("get_info", qdsim_mapped_get_info(h, info.as_mut_ptr()));
        let (mut rp, mut ci, mut v) = (std::ptr::null(), std::ptr::null(), std::ptr::null());
        seen.record(
            "csr_arrays",
            qdsim_mapped_csr_arrays(h, &mut rp, &mut ci, &mut v),
        );
        seen.record("flush", qdsim_mapped_flush(h));
        seen.record("finalize", qdsim_mapped_finalize(h));
        seen.record("check", qdsim_manager_check(m));
    }
    1
}

#[test]
fn calls_on_the_mapped_handle_from_its_solves_progress_callback_return() {
    let file = TempFile::new("reentrant.qdm");
    let path = std::ffi::CString::new(file.path().to_str().unwrap()).unwrap();
    let statuses = within_a_minute(move || {
        let m = new_manager();
        let h = tridiagonal(m, 300, |_| 2.0);
        let mut seen = Seen {
            manager: m as usize,
            ..Seen::default()
        };
        // SAFETY: live handles, a NUL-terminated path, valid out-pointers; `seen` outlives the
        // solve that passes it to the callback.
        unsafe {
            let mut mapped = null_mut();
            assert_eq!(
                qdsim_mapped_from_csr(h, path.as_ptr(), &mut mapped),
                QDSIM_OK
            );
            seen.handle = mapped as usize;
            let mut o = options(3);
            o.progress = Some(on_mapped_progress);
            o.progress_user = (&mut seen as *mut Seen).cast();
            let mut r: *mut qdsim_eigen_result = null_mut();
            let status = qdsim_mapped_solve_lowest(m, mapped, &o, &mut r);
            assert_eq!(status, QDSIM_ERR_CANCELLED, "{}", last_error());
            assert!(r.is_null());
            // After the solve the handle is free again: finalize works.
            assert_eq!(qdsim_mapped_finalize(mapped), QDSIM_OK, "{}", last_error());
            assert_eq!(qdsim_mapped_destroy(mapped), QDSIM_OK);
            assert_eq!(qdsim_csr_destroy(h), QDSIM_OK);
            assert_eq!(qdsim_manager_destroy(m), QDSIM_OK);
        }
        seen
    });
    assert_eq!(statuses.calls, 1);
    for name in ["get_info", "csr_arrays", "flush", "check"] {
        assert_eq!(statuses.status(name).0, QDSIM_OK, "{name}");
    }
    let (status, message) = statuses.status("finalize");
    assert_eq!(status, QDSIM_ERR_INVALID_ARGUMENT);
    assert!(
        message.contains("qdsim_mapped_finalize") && message.contains("progress callback"),
        "{message}"
    );
}

/// Calls on the CSR matrix and its manager from inside a CSR solve, then cancels.
unsafe extern "C" fn on_csr_progress(user: *mut c_void, _: *const Progress) -> i32 {
    // SAFETY: `user` is the test's `Seen`, alive for the solve.
    let seen = unsafe { &mut *user.cast::<Seen>() };
    let m = seen.manager as *mut qdsim_manager;
    seen.calls += 1;
    // SAFETY: live handles; out-pointers to local memory.
    unsafe {
        if seen.handle != 0 {
            let h = seen.handle as *const qdsim_csr;
            let mut info = std::mem::MaybeUninit::<qdsim_csr_info>::uninit();
            seen.record("csr_get_info", qdsim_csr_get_info(h, info.as_mut_ptr()));
            let (mut rp, mut ci, mut v) = (std::ptr::null(), std::ptr::null(), std::ptr::null());
            seen.record("csr_arrays", qdsim_csr_arrays(h, &mut rp, &mut ci, &mut v));
        }
        let mut p = null_mut();
        seen.record(
            "alloc",
            qdsim_manager_alloc_f64(m, 100, c"cb".as_ptr(), &mut p),
        );
        seen.record("free", qdsim_manager_free(m, p.cast()));
        seen.record("check", qdsim_manager_check(m));
    }
    1
}

#[test]
fn calls_on_the_matrix_and_manager_from_csr_and_grid_solve_callbacks_return() {
    let seen = within_a_minute(|| {
        let m = new_manager();
        let h = tridiagonal(m, 300, |_| 2.0);
        let mut csr_seen = Seen {
            manager: m as usize,
            handle: h as usize,
            ..Seen::default()
        };
        let mut grid_seen = Seen {
            manager: m as usize,
            ..Seen::default()
        };
        // SAFETY: live handles, valid out-pointers; the `Seen`s outlive the solves.
        unsafe {
            let mut o = options(3);
            o.progress = Some(on_csr_progress);
            o.progress_user = (&mut csr_seen as *mut Seen).cast();
            let mut r = null_mut();
            assert_eq!(qdsim_csr_solve_lowest(h, &o, &mut r), QDSIM_ERR_CANCELLED);
            let mut desc = std::mem::MaybeUninit::<qdsim_hamiltonian_desc>::uninit();
            assert_eq!(qdsim_hamiltonian_desc_default(desc.as_mut_ptr()), QDSIM_OK);
            let mut desc = desc.assume_init();
            let (lengths, points) = ([50.0, 50.0], [40usize, 40]);
            assert_eq!(
                qdsim_grid_box(2, lengths.as_ptr(), points.as_ptr(), &mut desc.grid),
                QDSIM_OK
            );
            let potential = vec![0.0; 40 * 40];
            desc.potential = potential.as_ptr();
            o.progress_user = (&mut grid_seen as *mut Seen).cast();
            assert_eq!(
                qdsim_solve_lowest(m, &desc, QDSIM_SCALAR_AUTO, &o, &mut r),
                QDSIM_ERR_CANCELLED
            );
            assert!(r.is_null());
            assert_eq!(qdsim_csr_destroy(h), QDSIM_OK);
            assert_eq!(qdsim_manager_destroy(m), QDSIM_OK);
        }
        (csr_seen, grid_seen)
    });
    for s in [&seen.0, &seen.1] {
        assert_eq!(s.calls, 1);
        for (name, status, message) in &s.statuses {
            assert_eq!(*status, QDSIM_OK, "{name}: {message}");
        }
    }
    assert_eq!(seen.0.statuses.len(), 5);
}

#[test]
fn a_solve_that_breaks_down_never_claims_a_partial_result() {
    let m = new_manager();
    for off in [0.0, -1.0] {
        // Legal, finite entries whose products overflow: the projected eigenproblem of
        // diag(1e308, 3, 4, …) breaks down (the harness's case); whatever the solver makes of
        // a matrix, NOT_CONVERGED comes with a result.
        let h = banded(m, 40, |i| if i == 0 { 1e308 } else { 2.0 + i as f64 }, off);
        // SAFETY: live handles, valid out-pointers.
        unsafe {
            let o = options(3);
            let mut r: *mut qdsim_eigen_result = null_mut();
            let status = qdsim_csr_solve_lowest(h, &o, &mut r);
            match status {
                QDSIM_OK | QDSIM_ERR_NOT_CONVERGED => {
                    assert!(!r.is_null(), "{status:?} without *out");
                    assert_eq!(qdsim_eigen_result_destroy(r), QDSIM_OK);
                }
                _ => {
                    assert!(r.is_null(), "{status:?} wrote *out");
                    assert_eq!(status, QDSIM_ERR_INVALID_ARGUMENT, "{}", last_error());
                    let message = last_error();
                    assert!(message.contains("*out is untouched"), "{message}");
                    assert!(message.contains("projected matrix"), "{message}");
                }
            }
            if off == 0.0 {
                assert_eq!(status, QDSIM_ERR_INVALID_ARGUMENT, "the breakdown is gone?");
            }
            assert_eq!(qdsim_csr_destroy(h), QDSIM_OK);
        }
    }
    // SAFETY: a live manager.
    unsafe { assert_eq!(qdsim_manager_destroy(m), QDSIM_OK) };
}

#[test]
fn a_mapped_matrix_holding_infinity_is_refused_before_the_solve() {
    let manager = MemoryManager::with_defaults().unwrap();
    let n = 30;
    let mut b = qdsim_mem::matrix::CsrBuilder::<f64>::new(&manager, n, n, "h").unwrap();
    for i in 0..n {
        b.add_element(i, i, 2.0).unwrap();
    }
    let csr = b.finalize().unwrap();
    let file = TempFile::new("inf.qdm");
    drop(MappedCsr::from_csr(file.path(), &csr).unwrap());
    {
        let mut rw = MappedCsr::<f64>::open_rw(file.path()).unwrap();
        rw.values_mut().unwrap()[7] = f64::INFINITY;
        rw.finalize().unwrap();
    }
    let path = std::ffi::CString::new(file.path().to_str().unwrap()).unwrap();
    let m = new_manager();
    // SAFETY: a NUL-terminated path, live handles, valid out-pointers.
    unsafe {
        let mut mapped = null_mut();
        assert_eq!(qdsim_mapped_open(path.as_ptr(), 0, &mut mapped), QDSIM_OK);
        let o = options(2);
        let mut r: *mut qdsim_eigen_result = null_mut();
        assert_eq!(
            qdsim_mapped_solve_lowest(m, mapped, &o, &mut r),
            QDSIM_ERR_INVALID_ARGUMENT
        );
        assert!(r.is_null());
        assert!(
            last_error().contains("non-finite value inf"),
            "{}",
            last_error()
        );
        assert_eq!(qdsim_mapped_destroy(mapped), QDSIM_OK);
        assert_eq!(qdsim_manager_destroy(m), QDSIM_OK);
    }
}

#[test]
fn the_consistency_check_is_exact_while_other_threads_allocate_and_free() {
    for thread_cache in [true, false] {
        let manager = MemoryManager::new(ManagerConfig {
            initial_pool_size: 4 << 20,
            thread_cache,
            ..ManagerConfig::default()
        })
        .unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            for t in 0..2usize {
                let (manager, stop) = (&manager, &stop);
                scope.spawn(move || {
                    let mut kept: Vec<*mut u8> = Vec::new();
                    let mut i = t;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        i += 1;
                        let size = [24, 200, 4096, 70_000, 300_000][i % 5];
                        let p = manager
                            .allocate(PoolKind::Bytes, size, 0, "stress")
                            .unwrap();
                        kept.push(p.as_ptr());
                        let buffer = PoolBuffer::<f64>::zeroed(manager, i % 100 + 1, "buf");
                        drop(buffer);
                        if kept.len() > 16 {
                            // Free from the other end: blocks of every age.
                            let p = kept.remove(i % kept.len());
                            // SAFETY: a live block of this manager, not used again.
                            unsafe { manager.free(p) }.unwrap();
                        }
                    }
                    for p in kept {
                        // SAFETY: as above.
                        unsafe { manager.free(p) }.unwrap();
                    }
                });
            }
            for i in 0..3000 {
                if let Err(e) = manager.check_consistency() {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    panic!("check {i} (thread cache {thread_cache}) failed: {e}");
                }
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        manager.check_consistency().unwrap();
        assert_eq!(manager.stats().live_allocations, 0);
    }
}

#[test]
fn the_raw_free_refuses_blocks_that_library_objects_own() {
    let manager = MemoryManager::with_defaults().unwrap();
    for len in [3, 1000, 100_000] {
        let buffer = PoolBuffer::<f64>::zeroed(&manager, len, "owned").unwrap();
        // SAFETY: refused, so nothing is freed.
        let e = unsafe { manager.free(buffer.as_raw_ptr().cast()) }.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotOwned);
        assert!(e.message().contains("belongs to a library object"), "{e}");
        drop(buffer);
    }
    manager.check_consistency().unwrap();
    assert_eq!(manager.stats().live_allocations, 0);

    let m = new_manager();
    // SAFETY: live handles, valid out-pointers; every refused free changes nothing.
    unsafe {
        let mut a = null_mut();
        assert_eq!(
            qdsim_matrix_create(m, QDSIM_SCALAR_REAL, 8, 8, c"a".as_ptr(), &mut a),
            QDSIM_OK
        );
        let mut data = null_mut();
        assert_eq!(qdsim_matrix_data(a, &mut data), QDSIM_OK);
        assert_eq!(qdsim_manager_free(m, data), QDSIM_ERR_NOT_OWNED);
        assert!(
            last_error().contains("belongs to a qdsim_matrix"),
            "{}",
            last_error()
        );

        let h = tridiagonal(m, 50, |_| 2.0);
        let (mut rp, mut ci, mut v) = (std::ptr::null(), std::ptr::null(), std::ptr::null());
        assert_eq!(qdsim_csr_arrays(h, &mut rp, &mut ci, &mut v), QDSIM_OK);
        for p in [rp, ci, v] {
            assert_eq!(qdsim_manager_free(m, p.cast_mut()), QDSIM_ERR_NOT_OWNED);
            assert!(
                last_error().contains("belongs to a qdsim_csr"),
                "{}",
                last_error()
            );
        }
        let o = options(2);
        let mut r = null_mut();
        assert_eq!(qdsim_csr_solve_lowest(h, &o, &mut r), QDSIM_OK);
        let (mut x, mut ld) = (std::ptr::null(), 0);
        assert_eq!(qdsim_eigen_result_vectors(r, &mut x, &mut ld), QDSIM_OK);
        assert_eq!(qdsim_manager_free(m, x.cast_mut()), QDSIM_ERR_NOT_OWNED);
        assert!(
            last_error().contains("belongs to a qdsim_eigen_result"),
            "{}",
            last_error()
        );

        assert_eq!(qdsim_manager_check(m), QDSIM_OK);
        assert_eq!(qdsim_eigen_result_destroy(r), QDSIM_OK);
        assert_eq!(qdsim_csr_destroy(h), QDSIM_OK);
        assert_eq!(qdsim_matrix_destroy(a), QDSIM_OK);
        assert_eq!(qdsim_manager_check(m), QDSIM_OK);
        assert_eq!(qdsim_manager_destroy(m), QDSIM_OK);
    }
}

#[test]
fn impossible_manager_configurations_are_refused() {
    let refused = |config: ManagerConfig, needle: &str| {
        let e = MemoryManager::new(config.clone()).err().unwrap_or_else(|| {
            panic!("{config:?} was accepted");
        });
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.message().contains(needle), "{needle:?} not in {e}");
    };
    let base = ManagerConfig::default;
    refused(
        ManagerConfig {
            initial_pool_size: usize::MAX,
            ..base()
        },
        "initial_pool_size",
    );
    refused(
        ManagerConfig {
            initial_pool_size: usize::MAX - 4095,
            ..base()
        },
        "initial_pool_size",
    );
    refused(
        ManagerConfig {
            chunk_size: usize::MAX / 2,
            ..base()
        },
        "chunk_size",
    );
    refused(
        ManagerConfig {
            initial_pool_size: 1 << 60,
            ..base()
        },
        "can never be mapped",
    );
    refused(
        ManagerConfig {
            memory_limit: Some(0),
            ..base()
        },
        "memory_limit",
    );
    refused(
        ManagerConfig {
            prefault_threads: 1 << 20,
            ..base()
        },
        "prefault_threads",
    );
    refused(
        ManagerConfig {
            alignment: 96,
            ..base()
        },
        "alignment",
    );
    // A limit below the first chunk is fine: chunks are address space, the limit live bytes.
    let small_limit = MemoryManager::new(ManagerConfig {
        memory_limit: Some(10_000),
        ..base()
    })
    .unwrap();
    let p = small_limit.allocate(PoolKind::Bytes, 5000, 0, "x").unwrap();
    // SAFETY: a live block of this manager, not used again.
    unsafe { small_limit.free(p.as_ptr()) }.unwrap();

    // SAFETY: a valid config and out-pointer.
    unsafe {
        let mut config = std::mem::MaybeUninit::<qdsim_manager_config>::uninit();
        assert_eq!(qdsim_manager_config_default(config.as_mut_ptr()), QDSIM_OK);
        let mut config = config.assume_init();
        config.initial_pool_size = usize::MAX;
        let mut m: *mut qdsim_manager = null_mut();
        assert_eq!(
            qdsim_manager_create(&config, &mut m),
            QDSIM_ERR_INVALID_ARGUMENT
        );
        assert!(m.is_null());
        assert!(
            last_error().contains("initial_pool_size"),
            "{}",
            last_error()
        );
    }
}
