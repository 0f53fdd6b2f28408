//! How many threads a solve uses: the process-wide setting behind
//! [`set_solver_threads`] / `qdsim_set_solver_threads`, and the pool of threads that runs every
//! parallel kernel of the library.
//!
//! The library never uses rayon's global pool: its threads can never be stopped, so every C
//! program run under valgrind would report their thread-local blocks as "possibly lost" at
//! exit. Instead the parallel work runs on a pool of our own ([`in_pool`], [`on_solver_threads`]),
//! created at first use with one thread per core (or `RAYON_NUM_THREADS`), or with the count
//! [`set_solver_threads`] asked for. Its threads are spawned with join handles: when the pool is
//! replaced, or at process exit (an `atexit` handler registered with the first pool), it is
//! shut down and its threads are joined, so none is left running when the program ends. The
//! kernels, faer's dense algebra and the out-of-core chunk sizes all see the count
//! (`rayon::current_num_threads()` inside the pool). The progress callback keeps running on the
//! calling thread ([`on_solver_threads`]).

use super::progress::{Progress, ProgressFn};
use super::progress_relay::{ProgressRelay, SolveEnds};
use crate::error::{Error, Result};
use parking_lot::{Mutex, RwLock};
use std::sync::{Arc, Once};
use std::thread::JoinHandle;

/// The most threads a solve may be given.
pub const MAX_SOLVER_THREADS: usize = 4096;

/// A pool of solver threads that joins them when it goes away.
struct Workers {
    /// `None` once shut down (in `drop`).
    pool: Option<rayon::ThreadPool>,
    handles: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Workers {
    fn pool(&self) -> &rayon::ThreadPool {
        self.pool.as_ref().expect("only taken in drop")
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        let pool = self.pool.take().expect("dropped once");
        // A worker dropping its own pool (a callback that exits the process from a solve)
        // cannot join itself: its threads are then left to the system, as rayon would.
        let inside = pool.current_thread_index().is_some();
        // Dropping the pool tells its threads to finish once idle.
        drop(pool);
        if !inside {
            for handle in self.handles.lock().drain(..) {
                let _ = handle.join();
            }
        }
    }
}

/// The pool of the current setting, once one was needed.
static POOL: RwLock<Option<Arc<Workers>>> = RwLock::new(None);
/// The count asked for by [`set_solver_threads`] (0: the default).
static SETTING: Mutex<usize> = Mutex::new(0);

/// Starts a pool of `threads` threads (0: one per core, or `RAYON_NUM_THREADS`).
fn start(threads: usize) -> Result<Arc<Workers>> {
    static AT_EXIT: Once = Once::new();
    AT_EXIT.call_once(|| {
        // SAFETY: registers a function without arguments that only takes the pool out of its
        // lock and drops it; atexit has no other precondition.
        unsafe { libc::atexit(shut_down_at_exit) };
    });
    let handles = Arc::new(Mutex::new(Vec::new()));
    let spawned = handles.clone();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("qdsim-solver-{i}"))
        .spawn_handler(move |thread| {
            let mut builder = std::thread::Builder::new();
            if let Some(name) = thread.name() {
                builder = builder.name(name.to_owned());
            }
            if let Some(size) = thread.stack_size() {
                builder = builder.stack_size(size);
            }
            spawned.lock().push(builder.spawn(|| thread.run())?);
            Ok(())
        })
        .build()
        .map_err(|e| {
            Error::new(
                crate::error::ErrorKind::OutOfMemory,
                format!("cannot start a pool of {threads} solver threads: {e}"),
            )
        })?;
    Ok(Arc::new(Workers {
        pool: Some(pool),
        handles,
    }))
}

/// At process exit: shuts the pool down and joins its threads (unless a solve still holds it).
extern "C" fn shut_down_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        let workers = POOL.write().take();
        drop(workers);
        release_exited_threads_epoch_records();
    });
}

/// Frees the per-thread records the joined workers left in crossbeam's epoch collector (rayon's
/// work queues use it): an exited thread's record is only marked deleted, and is unlinked and
/// freed by a later collection. Without this, memcheck reports each as "possibly lost" (the
/// list links to it through a tagged pointer). Each pin-and-flush unlinks the marked records
/// and advances the epoch; garbage is freed two epochs after it was retired.
fn release_exited_threads_epoch_records() {
    for _ in 0..4 {
        crossbeam_epoch::pin().flush();
    }
}

/// The pool of the current setting, started now if none runs.
fn current() -> Result<Arc<Workers>> {
    if let Some(workers) = POOL.read().as_ref() {
        return Ok(workers.clone());
    }
    let setting = SETTING.lock();
    let mut pool = POOL.write();
    if let Some(workers) = pool.as_ref() {
        return Ok(workers.clone());
    }
    let workers = start(*setting)?;
    *pool = Some(workers.clone());
    Ok(workers)
}

/// Makes every solve started from now on (on any thread) use `threads` threads; 0 goes back to
/// the default (one per core, or `RAYON_NUM_THREADS`). Solves already running keep the pool
/// they started on; the old pool's threads are joined when the last of them ends. More than
/// [`MAX_SOLVER_THREADS`] is `InvalidArgument`; a pool the system cannot start (thread limit)
/// is `OutOfMemory`, and the setting is unchanged.
pub fn set_solver_threads(threads: usize) -> Result<()> {
    if threads > MAX_SOLVER_THREADS {
        return Err(Error::invalid_argument(format!(
            "{threads} solver threads asked for, at most {MAX_SOLVER_THREADS}"
        )));
    }
    let mut setting = SETTING.lock();
    if *setting == threads {
        return Ok(());
    }
    // Start the new pool before changing anything, so that a failure leaves the setting.
    let workers = start(threads)?;
    *setting = threads;
    let old = POOL.write().replace(workers);
    drop(setting);
    // Joins the old pool's threads here, unless a running solve still holds it.
    drop(old);
    Ok(())
}

/// The number of threads a solve started now uses.
pub fn solver_threads() -> usize {
    match current() {
        Ok(workers) => workers.pool().current_num_threads(),
        // No pool can be started: report what was asked (or what a default pool would have).
        Err(_) => match *SETTING.lock() {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        },
    }
}

/// Runs `work` on the library's pool (directly when already on one of its threads), so that
/// its parallel iterators never start rayon's global pool. When no pool can be started (the
/// system's thread limit) the work runs where it is.
pub(crate) fn in_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    match current() {
        Ok(workers) if workers.pool().current_thread_index().is_none() => {
            workers.pool().install(work)
        }
        Ok(_) | Err(_) => work(),
    }
}

/// Runs `solve` on the library's pool, handing it the caller's progress callback. The solve runs
/// on the pool's threads, but the callback runs on the calling thread: each report is sent
/// back here and the answer returned, so user code keeps its thread (its thread-locals,
/// re-entrant calls on the handles this call holds, a Python GIL).
pub(crate) fn on_solver_threads<R: Send>(
    progress: Option<&mut ProgressFn<'_>>,
    solve: impl FnOnce(Option<&mut ProgressFn<'_>>) -> R + Send,
) -> R {
    let workers = match current() {
        Ok(workers) if workers.pool().current_thread_index().is_none() => workers,
        // Already on a solver thread (a solve inside a solve), or no pool can start (the
        // system's thread limit): the solve runs where it is.
        _ => return solve(progress),
    };
    let Some(callback) = progress else {
        return workers.pool().install(|| solve(None));
    };
    let pool = workers.pool();
    let relay = ProgressRelay::default();
    let mut result = None;
    // The solve is a job on the pool; this thread answers its reports meanwhile (a rayon scope
    // and a parking_lot rendezvous: nothing here registers this thread with std, see
    // progress_relay.rs). If the callback panics, the relay cancels the solve and the scope
    // waits for it to end before the panic goes on.
    let (slot, relay) = (&mut result, &relay);
    pool.in_place_scope(move |scope| {
        scope.spawn(move |_| {
            let _end = SolveEnds(relay);
            let mut report = |progress: &Progress| relay.report(progress);
            *slot = Some(solve(Some(&mut report)));
        });
        relay.serve(callback);
    });
    result.expect("the scope ran the solve to its end (a panic would have resumed)")
}
