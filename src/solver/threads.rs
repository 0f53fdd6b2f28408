//! How many threads a solve uses: the process-wide setting behind
//! [`set_solver_threads`] / `qdsim_set_solver_threads`.
//!
//! By default (0) a solve runs on rayon's global pool: one thread per core, or
//! `RAYON_NUM_THREADS` when that is set before the first solve. A positive count makes every
//! solve started afterwards run on a pool of exactly that many threads (created once per count
//! and kept), so that an MPI rank can use the cores it was given and an OpenMP program can keep
//! its own threads apart from ours. The kernels, faer's dense algebra and the out-of-core chunk
//! sizes all see the count (`rayon::current_num_threads()` inside the pool). The progress
//! callback keeps running on the calling thread ([`on_solver_threads`]).

use super::progress::{Progress, ProgressFn};
use crate::error::{Error, Result};
use parking_lot::RwLock;
use std::sync::{Arc, mpsc};

/// The most threads a solve may be given.
pub const MAX_SOLVER_THREADS: usize = 4096;

/// The pool of the current setting (`None`: rayon's global pool).
static POOL: RwLock<Option<Arc<rayon::ThreadPool>>> = RwLock::new(None);

/// Makes every solve started from now on (on any thread) use `threads` threads; 0 goes back to
/// the default (rayon's global pool: all cores, or `RAYON_NUM_THREADS`). Solves already running
/// keep the pool they started on. More than [`MAX_SOLVER_THREADS`] is `InvalidArgument`; a
/// pool the system cannot start (thread limit) is `OutOfMemory`, and the setting is unchanged.
pub fn set_solver_threads(threads: usize) -> Result<()> {
    if threads > MAX_SOLVER_THREADS {
        return Err(Error::invalid_argument(format!(
            "{threads} solver threads asked for, at most {MAX_SOLVER_THREADS}"
        )));
    }
    let pool = if threads == 0 {
        None
    } else if POOL
        .read()
        .as_ref()
        .is_some_and(|p| p.current_num_threads() == threads)
    {
        return Ok(());
    } else {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("qdsim-solver-{i}"))
            .build()
            .map_err(|e| {
                Error::new(
                    crate::error::ErrorKind::OutOfMemory,
                    format!("cannot start a pool of {threads} solver threads: {e}"),
                )
            })?;
        Some(Arc::new(pool))
    };
    *POOL.write() = pool;
    Ok(())
}

/// The number of threads a solve started now uses.
pub fn solver_threads() -> usize {
    POOL.read()
        .as_ref()
        .map_or_else(rayon::current_num_threads, |p| p.current_num_threads())
}

/// Runs `solve` on the pool of the current setting (on the calling thread's pool by default),
/// handing it the caller's progress callback. With a pool of its own the solve runs on that
/// pool's threads, but the callback still runs on the calling thread: each report is sent back
/// here and the answer returned, so user code keeps its thread (its thread-locals, re-entrant
/// calls on the handles this call holds, a Python GIL), as without the setting.
pub(crate) fn on_solver_threads<R: Send>(
    progress: Option<&mut ProgressFn<'_>>,
    solve: impl FnOnce(Option<&mut ProgressFn<'_>>) -> R + Send,
) -> R {
    let pool = POOL
        .read()
        .clone()
        .filter(|pool| pool.current_thread_index().is_none());
    let Some(pool) = pool else {
        return solve(progress);
    };
    let Some(callback) = progress else {
        return pool.install(|| solve(None));
    };
    let (reports, incoming) = mpsc::channel::<Progress>();
    let (answers, answer) = mpsc::channel::<bool>();
    // `move`: if the callback panics, unwinding drops `answers`, the relay then reads "cancel"
    // and the solve ends before the scope joins it.
    std::thread::scope(move |scope| {
        let worker = scope.spawn(move || {
            // A lost caller (its side dropped) cancels the solve.
            let mut relay = move |report: &Progress| {
                reports.send(*report).is_err() || answer.recv().unwrap_or(true)
            };
            pool.install(|| solve(Some(&mut relay)))
        });
        for report in incoming {
            let _ = answers.send(callback(&report));
        }
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
