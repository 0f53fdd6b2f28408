//! Hands a solve's progress reports from the pool thread running it to the thread that called
//! it, and the callback's answers back ([`super::threads::on_solver_threads`]).
//!
//! A one-slot rendezvous on a `parking_lot` mutex and condition variable rather than `std`'s
//! channels: a `std` channel blocking on the program's main thread registers that thread with
//! `std` (`thread::current`), and memcheck reports the handle it allocates as "possibly lost"
//! at exit, in every C program that passes a progress callback.

use super::progress::Progress;
use parking_lot::{Condvar, Mutex};

#[derive(Default)]
struct State {
    /// A report waiting for the caller.
    report: Option<Progress>,
    /// The caller's answer to the last report (true: cancel).
    answer: Option<bool>,
    /// The solve has ended: no more reports.
    done: bool,
    /// The caller stopped listening (its callback panicked): every later report cancels.
    caller_gone: bool,
}

/// The rendezvous between the solving thread and the calling thread.
#[derive(Default)]
pub(crate) struct ProgressRelay {
    state: Mutex<State>,
    changed: Condvar,
}

impl ProgressRelay {
    /// On the solving thread: hands `report` to the caller and waits for its answer (true:
    /// cancel the solve).
    pub(crate) fn report(&self, report: &Progress) -> bool {
        let mut state = self.state.lock();
        if state.caller_gone {
            return true;
        }
        state.report = Some(*report);
        state.answer = None;
        self.changed.notify_all();
        while state.answer.is_none() && !state.caller_gone {
            self.changed.wait(&mut state);
        }
        state.answer.take().unwrap_or(true)
    }

    /// On the solving thread, when the solve has ended (also by a panic: call it from a drop
    /// guard, see [`SolveEnds`]).
    fn finish(&self) {
        self.state.lock().done = true;
        self.changed.notify_all();
    }

    /// On the calling thread: answers every report with `callback` until the solve ends. If the
    /// callback panics, the solve is told to cancel before the panic goes on.
    pub(crate) fn serve(&self, mut callback: impl FnMut(&Progress) -> bool) {
        let _gone = CallerGone(self);
        loop {
            let report = {
                let mut state = self.state.lock();
                while state.report.is_none() && !state.done {
                    self.changed.wait(&mut state);
                }
                match state.report.take() {
                    Some(report) => report,
                    None => return,
                }
            };
            let answer = callback(&report);
            self.state.lock().answer = Some(answer);
            self.changed.notify_all();
        }
    }
}

/// Marks the solve ended when dropped (on the solving thread, also when it unwinds).
pub(crate) struct SolveEnds<'a>(pub(crate) &'a ProgressRelay);

impl Drop for SolveEnds<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// Marks the caller gone when [`ProgressRelay::serve`] returns or unwinds.
struct CallerGone<'a>(&'a ProgressRelay);

impl Drop for CallerGone<'_> {
    fn drop(&mut self) {
        self.0.state.lock().caller_gone = true;
        self.0.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_arrive_in_order_and_answers_go_back() {
        let relay = ProgressRelay::default();
        let mut answers = Vec::new();
        std::thread::scope(|s| {
            s.spawn(|| {
                let _end = SolveEnds(&relay);
                for i in 0..5 {
                    let report = Progress {
                        iteration: i,
                        ..Progress::default()
                    };
                    answers.push(relay.report(&report));
                }
            });
            let mut seen = Vec::new();
            relay.serve(|p| {
                seen.push(p.iteration);
                p.iteration == 3
            });
            assert_eq!(seen, [0, 1, 2, 3, 4]);
        });
        assert_eq!(answers, [false, false, false, true, false]);
    }

    #[test]
    fn a_panicking_callback_cancels_the_solve() {
        let relay = ProgressRelay::default();
        std::thread::scope(|s| {
            let solver = s.spawn(|| {
                let _end = SolveEnds(&relay);
                let first = relay.report(&Progress::default());
                let second = relay.report(&Progress::default());
                (first, second)
            });
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                relay.serve(|_| panic!("callback failed"))
            }));
            assert!(caught.is_err());
            assert_eq!(solver.join().unwrap(), (true, true));
        });
    }
}
