//! I/O errors on out-of-core scratch mappings become `ErrorKind::Io`, not a dead process.
//!
//! A page of a file mapping that the kernel cannot read back (a disk error, a file truncated
//! behind our back through `/proc/<pid>/fd`) is reported to the process as `SIGBUS` on the
//! instruction that touched it; by default that kills the process. Out-of-core solves keep
//! their blocks in such mappings (`out_of_core.rs`), so each scratch block registers its
//! address range here as a [`GuardedRange`] for as long as it is mapped.
//!
//! The first registration installs a `SIGBUS` handler for the process (and only then: programs
//! that never solve out of core are not touched). For a fault inside a registered range the
//! handler maps anonymous zero pages over the whole range (`MAP_FIXED`), records the offset of
//! the fault in the range's slot and returns: the faulting instruction runs again on the zero
//! page, the kernel finishes on meaningless data, and the solver — which asks
//! [`GuardedRange::check`] (through `Cols::check_faults`) after every kernel on scratch blocks —
//! returns `ErrorKind::Io` naming the file and the offset. A fault anywhere else is passed on to
//! the handler that was installed before ours (Rust's stack-overflow handler, the user's, or
//! the default action, which ends the process with `SIGBUS` as before).
//!
//! Async-signal safety: the handler reads a fixed table of atomic slots (no locks, no
//! allocation) and makes only `mmap` and `sigaction` system calls. A range is unregistered
//! (before its mapping is removed) only when no kernel uses it any more, so a fault can never
//! race with the removal of its own slot.
//!
//! Limits: at most [`SLOTS`] ranges are guarded at once (more concurrent scratch blocks run
//! unguarded, as before); a handler installed by the program after ours replaces it.

use crate::error::{Error, ErrorKind, Result};
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many ranges can be guarded at once (a solve holds four: X, W, P and a result copy).
pub(crate) const SLOTS: usize = 256;

/// One guarded range: `start` is 0 when the slot is free and 1 while it is being filled.
struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    /// 0: no fault; otherwise the faulting byte's offset in the range, plus one.
    fault: AtomicUsize,
}

const FREE: usize = 0;
const FILLING: usize = 1;

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    start: AtomicUsize::new(FREE),
    len: AtomicUsize::new(0),
    fault: AtomicUsize::new(0),
};

static TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];

/// The `SIGBUS` disposition found when ours was installed (read by the handler).
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

/// The files of the guarded ranges, by slot, for messages (never touched by the handler).
static PATHS: Mutex<[Option<PathBuf>; SLOTS]> = Mutex::new([const { None }; SLOTS]);

/// A mapped range whose read faults are turned into a recorded error; unregistered on drop.
pub(crate) struct GuardedRange {
    /// Index in the table, or `None` when the table was full (unguarded).
    slot: Option<usize>,
}

impl GuardedRange {
    /// Guards `[start, start + len)`, a live mapping of the file `path` (for messages) that
    /// stays mapped until this value is dropped.
    pub(crate) fn new(start: *const u8, len: usize, path: &Path) -> Self {
        install_handler();
        let slot = (start as usize > FILLING && len > 0)
            .then(|| {
                TABLE.iter().position(|slot| {
                    slot.start
                        .compare_exchange(FREE, FILLING, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                })
            })
            .flatten();
        if let Some(i) = slot {
            PATHS.lock()[i] = Some(path.to_path_buf());
            let entry = &TABLE[i];
            entry.len.store(len, Ordering::Relaxed);
            entry.fault.store(0, Ordering::Relaxed);
            entry.start.store(start as usize, Ordering::Release);
        }
        Self { slot }
    }

    /// `ErrorKind::Io` when a read of the range has failed since it was registered.
    pub(crate) fn check(&self) -> Result<()> {
        self.slot.map_or(Ok(()), check_slot)
    }
}

impl Drop for GuardedRange {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            TABLE[i].len.store(0, Ordering::Relaxed);
            PATHS.lock()[i] = None;
            TABLE[i].start.store(FREE, Ordering::Release);
        }
    }
}

/// `ErrorKind::Io` when the guarded range that contains `addr` (if any) has faulted.
pub(crate) fn check_address(addr: usize) -> Result<()> {
    find(addr).map_or(Ok(()), check_slot)
}

fn check_slot(i: usize) -> Result<()> {
    match TABLE[i].fault.load(Ordering::Acquire) {
        0 => Ok(()),
        offset => {
            let path = PATHS.lock()[i]
                .as_ref()
                .map_or_else(|| "(unknown)".to_string(), |p| p.display().to_string());
            Err(Error::new(
                ErrorKind::Io,
                format!(
                    "scratch file {path}: the system could not read back byte offset {} of its \
                     mapping (SIGBUS: a disk error, or the file was truncated by another \
                     program); the solve's data there is lost",
                    offset - 1
                ),
            ))
        }
    }
}

/// The slot whose range contains `addr` (async-signal-safe: atomic loads only).
fn find(addr: usize) -> Option<usize> {
    TABLE.iter().position(|slot| {
        let start = slot.start.load(Ordering::Acquire);
        start > FILLING && addr.wrapping_sub(start) < slot.len.load(Ordering::Relaxed)
    })
}

/// Installs [`on_sigbus`] once per process, remembering the previous disposition.
fn install_handler() {
    PREVIOUS.get_or_init(|| {
        // SAFETY: sigaction structs are plain data; all-zero is a valid "no handler" value that
        // sigaction overwrites.
        let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut ours: libc::sigaction = unsafe { std::mem::zeroed() };
        ours.sa_sigaction = on_sigbus
            as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
            as usize;
        ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: `ours.sa_mask` is a valid sigset to initialise; sigaction reads `ours` and
        // writes `previous`, both valid for the call. A foreign fault in the instant before
        // PREVIOUS is stored gets the default action (`pass_on`).
        unsafe {
            libc::sigemptyset(&mut ours.sa_mask);
            libc::sigaction(libc::SIGBUS, &ours, &mut previous);
        }
        previous
    });
}

/// The `SIGBUS` handler: absorbs faults in guarded ranges, passes the others on.
extern "C" fn on_sigbus(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler; si_addr is the
    // faulting address when the kernel raised the signal (si_code > 0), not for kill/raise.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    if let Some(i) = find(addr).filter(|_| code > 0) {
        let slot = &TABLE[i];
        let (start, len) = (
            slot.start.load(Ordering::Acquire),
            slot.len.load(Ordering::Relaxed),
        );
        // SAFETY: [start, start + len) is a live mapping of ours (registered ranges stay mapped
        // until unregistered, and no kernel runs on a range being unregistered); replacing it
        // with anonymous memory of the same size keeps every address valid for the code that
        // is running on it, and the owner munmaps the same range later.
        let zeros = unsafe {
            libc::mmap(
                start as *mut libc::c_void,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if zeros != libc::MAP_FAILED {
            let _ = slot.fault.compare_exchange(
                0,
                addr - start + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
            return;
        }
    }
    pass_on(signal, info, context);
}

/// Gives a fault that is not ours to the previous handler, or restores the default action so
/// that the faulting instruction, run again, ends the process as it would have without us.
fn pass_on(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let previous = PREVIOUS.get();
    match previous {
        Some(p) if p.sa_sigaction != libc::SIG_DFL && p.sa_sigaction != libc::SIG_IGN => {
            if p.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: with SA_SIGINFO the previous disposition is a three-argument handler
                // that the program installed for this signal.
                let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(p.sa_sigaction) };
                handler(signal, info, context);
            } else {
                // SAFETY: without SA_SIGINFO it is a one-argument handler.
                let handler: extern "C" fn(libc::c_int) =
                    unsafe { std::mem::transmute(p.sa_sigaction) };
                handler(signal);
            }
        }
        _ => {
            // SAFETY: an all-zero sigaction is SIG_DFL with an empty mask; sigaction is
            // async-signal-safe.
            unsafe {
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(signal, &default, std::ptr::null_mut());
            }
        }
    }
}
