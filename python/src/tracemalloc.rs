//! Pool blocks handed to Python, reported to `tracemalloc` under their own domain
//! ([`DOMAIN`]), so `tracemalloc` users see them (`tracemalloc.DomainFilter(True, DOMAIN)`).
//!
//! `PyTraceMalloc_Track` / `_Untrack` are not part of the limited API that the abi3 wheel is
//! compiled against, but every CPython since 3.6 exports them: they are looked up once with
//! `dlsym` in the running interpreter, and the reports are skipped where they are missing.

use std::ffi::{c_int, c_uint};
use std::sync::OnceLock;

/// The tracemalloc domain of qdsim pool blocks ("qdsm" in ASCII).
pub(crate) const DOMAIN: c_uint = 0x7164_736d;

type Track = unsafe extern "C" fn(c_uint, usize, usize) -> c_int;
type Untrack = unsafe extern "C" fn(c_uint, usize) -> c_int;

struct Api {
    track: Track,
    untrack: Untrack,
}

fn api() -> Option<&'static Api> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    API.get_or_init(|| {
        // SAFETY: dlsym with RTLD_DEFAULT and NUL-terminated names only reads the loaded
        // objects' symbol tables.
        let (track, untrack) = unsafe {
            (
                libc::dlsym(libc::RTLD_DEFAULT, c"PyTraceMalloc_Track".as_ptr()),
                libc::dlsym(libc::RTLD_DEFAULT, c"PyTraceMalloc_Untrack".as_ptr()),
            )
        };
        if track.is_null() || untrack.is_null() {
            return None;
        }
        // SAFETY: both symbols are CPython's functions with these signatures
        // (`int PyTraceMalloc_Track(unsigned int, uintptr_t, size_t)` and
        // `int PyTraceMalloc_Untrack(unsigned int, uintptr_t)`, Include/cpython/tracemalloc.h).
        unsafe {
            Some(Api {
                track: std::mem::transmute::<*mut libc::c_void, Track>(track),
                untrack: std::mem::transmute::<*mut libc::c_void, Untrack>(untrack),
            })
        }
    })
    .as_ref()
}

/// Reports a block of `bytes` at `address` (a no-op unless tracemalloc is tracing).
pub(crate) fn track(address: usize, bytes: usize) {
    if let Some(api) = api() {
        // SAFETY: CPython's function; it takes the GIL itself and only records the numbers
        // (returns -2 when tracemalloc is not tracing).
        unsafe { (api.track)(DOMAIN, address, bytes) };
    }
}

/// Withdraws the report of the block at `address` (a no-op when there is none).
pub(crate) fn untrack(address: usize) {
    if let Some(api) = api() {
        // SAFETY: as in `track`.
        unsafe { (api.untrack)(DOMAIN, address) };
    }
}
