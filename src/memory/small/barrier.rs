//! An asymmetric memory barrier for the quiescence handshake of [`super::SmallArena`]: the side
//! that runs on every small allocation and free pays only a compiler fence, the rare side (a
//! consistency check) pays a process-wide barrier — Linux
//! `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which makes every running thread of the
//! process execute a full memory barrier before it returns (threads not running pass one when
//! they are switched out). Together the two sides order a store before a load as a pair of
//! sequentially consistent fences would (the scheme of Linux's `sys_membarrier` users, liburcu
//! and folly's `asymmetricHeavyBarrier`).
//!
//! The process registers its intent once ([`available`]); where the call is missing (another
//! OS, an old kernel, a seccomp filter, valgrind) the arena keeps its symmetric scheme.

use std::sync::OnceLock;
use std::sync::atomic::{Ordering, compiler_fence};

#[cfg(target_os = "linux")]
mod sys {
    // From <linux/membarrier.h>.
    const MEMBARRIER_CMD_QUERY: libc::c_long = 0;
    const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    fn membarrier(cmd: libc::c_long) -> libc::c_long {
        // SAFETY: membarrier takes two integer arguments and touches no user memory.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                cmd,
                0 as libc::c_long,
                0 as libc::c_long,
            )
        }
    }

    /// Registers the process for private expedited barriers; false when unsupported.
    pub fn register() -> bool {
        let supported = membarrier(MEMBARRIER_CMD_QUERY);
        supported >= 0
            && supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED != 0
            && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0
            && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0
    }

    /// A full barrier on every running thread of the process.
    pub fn expedited() -> bool {
        membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    pub fn register() -> bool {
        false
    }

    pub fn expedited() -> bool {
        false
    }
}

/// True when the heavy side works in this process (registered on first call; the answer never
/// changes afterwards, so a caller may choose its scheme once).
pub fn available() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(sys::register)
}

/// The fast side: keeps the compiler from moving memory accesses across it (the processor may
/// still; [`heavy`] on the other side takes care of that).
#[inline(always)]
pub fn light() {
    compiler_fence(Ordering::SeqCst);
}

/// The slow side: every thread of the process has passed a full memory barrier when this
/// returns. Call only when [`available`] said so.
pub fn heavy() {
    // Registered and tested by `available`; the kernel documents no later failure for a
    // registered process.
    assert!(
        sys::expedited(),
        "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed after a successful registration: {}",
        std::io::Error::last_os_error()
    );
}
