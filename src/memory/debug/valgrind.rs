//! Valgrind client requests: tell memcheck which pool bytes are blocks, red zones or free, so
//! that it reports overruns and use after free of pool blocks as it does for `malloc`.
//!
//! The requests come from `valgrind_requests.c`, compiled with valgrind's own headers when
//! build.rs finds them (cfg `qdsim_valgrind`); without them every function here does nothing
//! and [`running`] is false. Under valgrind the manager turns on its red zones by default
//! ([`super::resolve`]), and only then sends these requests: the small-block path keeps
//! bookkeeping inside its slabs and is never used with red zones.

#[cfg(qdsim_valgrind)]
mod requests {
    unsafe extern "C" {
        pub fn qdsim_vg_running() -> u32;
        pub fn qdsim_vg_malloclike(addr: *const u8, len: usize, zeroed: i32);
        pub fn qdsim_vg_freelike(addr: *const u8);
        pub fn qdsim_vg_no_access(addr: *const u8, len: usize);
        pub fn qdsim_vg_undefined(addr: *const u8, len: usize);
        pub fn qdsim_vg_defined(addr: *const u8, len: usize);
    }
}

/// True when the program runs under valgrind (and the requests were compiled in).
pub(crate) fn running() -> bool {
    #[cfg(qdsim_valgrind)]
    // SAFETY: a client request: reads no memory of ours, has no precondition.
    return unsafe { requests::qdsim_vg_running() } != 0;
    #[cfg(not(qdsim_valgrind))]
    false
}

/// Declares `[addr, addr + len)` a live heap block (contents undefined unless `zeroed`).
pub(crate) fn malloclike(addr: usize, len: usize, zeroed: bool) {
    #[cfg(qdsim_valgrind)]
    // SAFETY: client requests only change memcheck's shadow state; they never touch the bytes.
    unsafe {
        requests::qdsim_vg_malloclike(addr as *const u8, len, i32::from(zeroed))
    };
    #[cfg(not(qdsim_valgrind))]
    let _ = (addr, len, zeroed);
}

/// Declares the block at `addr` (from [`malloclike`]) freed: its bytes become inaccessible.
pub(crate) fn freelike(addr: usize) {
    #[cfg(qdsim_valgrind)]
    // SAFETY: as in `malloclike`.
    unsafe {
        requests::qdsim_vg_freelike(addr as *const u8)
    };
    #[cfg(not(qdsim_valgrind))]
    let _ = addr;
}

/// Makes `[addr, addr + len)` inaccessible to the program.
pub(crate) fn no_access(addr: usize, len: usize) {
    #[cfg(qdsim_valgrind)]
    // SAFETY: as in `malloclike`.
    unsafe {
        requests::qdsim_vg_no_access(addr as *const u8, len)
    };
    #[cfg(not(qdsim_valgrind))]
    let _ = (addr, len);
}

/// Makes `[addr, addr + len)` accessible with undefined contents (before the manager writes it).
pub(crate) fn undefined(addr: usize, len: usize) {
    #[cfg(qdsim_valgrind)]
    // SAFETY: as in `malloclike`.
    unsafe {
        requests::qdsim_vg_undefined(addr as *const u8, len)
    };
    #[cfg(not(qdsim_valgrind))]
    let _ = (addr, len);
}

/// Makes `[addr, addr + len)` accessible and defined (before the manager reads it).
pub(crate) fn defined(addr: usize, len: usize) {
    #[cfg(qdsim_valgrind)]
    // SAFETY: as in `malloclike`.
    unsafe {
        requests::qdsim_vg_defined(addr as *const u8, len)
    };
    #[cfg(not(qdsim_valgrind))]
    let _ = (addr, len);
}
