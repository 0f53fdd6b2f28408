//! The `qdsim_manager` handle: configuration, creation and destruction, typed allocation and
//! freeing, trimming and the consistency check.
//!
//! Thread safety: a manager may be used from any number of threads at once; every function
//! here is safe to call concurrently on the same handle. Destroying a manager while another
//! thread still allocates from it is a logic error in the program, but not a crash: the other
//! thread's call either completes before the destroy or fails with `QDSIM_ERR_INVALID_HANDLE`.

use super::boundary::{guard, in_param, out_param, write_out};
use super::csr::qdsim_csr;
use super::handle_cache;
use super::handles::{self, HandleKind};
use super::manager_lane;
use super::matrix::qdsim_matrix;
use super::solver::qdsim_eigen_result;
use super::status::qdsim_status;
use super::types::{pool_kind, qdsim_complex, qdsim_pool};
use crate::error::{Error, ErrorKind, Result};
use crate::memory::{
    DEFAULT_INITIAL_POOL_SIZE, MIN_ALIGNMENT, ManagerConfig, MemoryManager, PoolKind, TagText,
};
use std::ffi::{CStr, c_char, c_void};
use std::sync::Arc;

/// Default size of each pool's first chunk in bytes (100 MiB).
pub const QDSIM_DEFAULT_INITIAL_POOL_SIZE: usize = 104857600;
/// Every block is aligned to at least this many bytes.
pub const QDSIM_MIN_ALIGNMENT: usize = 64;
/// Largest alignment a request may ask for (1 GiB).
pub const QDSIM_MAX_ALIGNMENT: usize = 1073741824;
const _: () = assert!(QDSIM_DEFAULT_INITIAL_POOL_SIZE == DEFAULT_INITIAL_POOL_SIZE);
const _: () = assert!(QDSIM_MIN_ALIGNMENT == MIN_ALIGNMENT);
const _: () = assert!(QDSIM_MAX_ALIGNMENT == crate::memory::MAX_ALIGNMENT);

/// A memory manager: typed pools, a limit, statistics and reports. Create it with
/// `qdsim_manager_create`, destroy it with `qdsim_manager_destroy`.
#[allow(non_camel_case_types)]
pub struct qdsim_manager {
    pub(crate) manager: MemoryManager,
}

/// Settings for `qdsim_manager_create`. Fill it with `qdsim_manager_config_default` and change
/// what you need; a zero field takes its default.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct qdsim_manager_config {
    /// Bytes of each pool's first chunk (default 100 MiB).
    pub initial_pool_size: usize,
    /// Bytes of each further chunk; 0 means `initial_pool_size`. Requests larger than a chunk
    /// get a mapping of their own.
    pub chunk_size: usize,
    /// Hard limit on the bytes in use over all pools; 0 means no limit.
    pub memory_limit: u64,
    /// Alignment of every block in bytes: a power of two; 0 or anything below 64 means 64.
    pub alignment: usize,
    /// Non-zero: map each pool's first chunk at creation instead of at first use.
    pub eager: i32,
    /// Non-zero: touch every page of a new chunk when it is mapped.
    pub prefault: i32,
    /// Non-zero: advise transparent huge pages for chunks (default off: measured slower to
    /// first-touch on the reference VM).
    pub huge_pages: i32,
    /// Non-zero: print the leak report to stderr when the manager is destroyed with live
    /// allocations (default on).
    pub report_leaks_on_destroy: i32,
    /// Non-zero: serve requests up to 256 KiB (at the default alignment) from lock-free
    /// per-thread caches of size-class slabs (default on).
    pub thread_cache: i32,
    /// With `prefault`, touch new chunks' pages from this many threads (first touch places
    /// pages on the toucher's NUMA node); 0 or 1: the kernel populates them.
    pub prefault_threads: u32,
    /// Bytes of freed direct mappings (blocks larger than a chunk) each pool keeps for reuse
    /// (default 1 GiB); 0 unmaps them at once. `qdsim_manager_trim` returns them.
    pub retain_bytes: u64,
    /// The debug mode: positive guards every block with red zones, checked by
    /// `qdsim_manager_free` and `qdsim_manager_check` (`QDSIM_ERR_MEMORY_CORRUPTED`, naming the
    /// block's tag and the offset written), and under valgrind makes pool overruns and use
    /// after free visible to memcheck; the thread cache is then off. Negative: off. 0 (default):
    /// as the environment variable `QDSIM_MEM_DEBUG` says (`red-zones` or `off`), else on
    /// exactly when the program runs under valgrind.
    pub red_zones: i32,
}

impl From<&ManagerConfig> for qdsim_manager_config {
    fn from(c: &ManagerConfig) -> Self {
        Self {
            initial_pool_size: c.initial_pool_size,
            chunk_size: c.chunk_size,
            memory_limit: c.memory_limit.unwrap_or(0),
            alignment: c.alignment,
            eager: c.eager.into(),
            prefault: c.prefault.into(),
            huge_pages: c.huge_pages.into(),
            report_leaks_on_destroy: c.report_leaks_on_destroy.into(),
            thread_cache: c.thread_cache.into(),
            prefault_threads: u32::try_from(c.prefault_threads).unwrap_or(u32::MAX),
            retain_bytes: c.retain_bytes,
            red_zones: match c.red_zones {
                None => 0,
                Some(true) => 1,
                Some(false) => -1,
            },
        }
    }
}

impl From<&qdsim_manager_config> for ManagerConfig {
    fn from(c: &qdsim_manager_config) -> Self {
        Self {
            initial_pool_size: if c.initial_pool_size == 0 {
                DEFAULT_INITIAL_POOL_SIZE
            } else {
                c.initial_pool_size
            },
            chunk_size: c.chunk_size,
            memory_limit: (c.memory_limit != 0).then_some(c.memory_limit),
            alignment: if c.alignment == 0 {
                MIN_ALIGNMENT
            } else {
                c.alignment
            },
            eager: c.eager != 0,
            prefault: c.prefault != 0,
            huge_pages: c.huge_pages != 0,
            report_leaks_on_destroy: c.report_leaks_on_destroy != 0,
            thread_cache: c.thread_cache != 0,
            prefault_threads: c.prefault_threads as usize,
            retain_bytes: c.retain_bytes,
            red_zones: (c.red_zones != 0).then_some(c.red_zones > 0),
        }
    }
}

/// The manager behind handle `manager`.
pub(crate) fn manager_arg(manager: *const qdsim_manager) -> Result<Arc<qdsim_manager>> {
    handles::lookup(manager as usize, HandleKind::Manager, "manager")
}

/// Runs `f` with the manager behind handle `manager`, through the calling thread's handle cache
/// (no lock, no shared write on a hit; see [`handle_cache`]).
#[inline]
pub(crate) fn with_manager<R>(
    manager: *const qdsim_manager,
    f: impl FnOnce(&MemoryManager) -> Result<R>,
) -> Result<R> {
    handle_cache::with_handle(
        manager as usize,
        HandleKind::Manager,
        "manager",
        |handle: &qdsim_manager| f(&handle.manager),
    )
}

/// Writes the default settings into `*config`.
///
/// # Safety
/// `config` points to writable memory for a `qdsim_manager_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_config_default(
    config: *mut qdsim_manager_config,
) -> qdsim_status {
    guard("qdsim_manager_config_default", || {
        let out = out_param(config, "config")?;
        // SAFETY: checked non-null and aligned; writable per the contract.
        unsafe { write_out(out, (&ManagerConfig::default()).into()) };
        Ok(())
    })
}

/// Creates a manager with `config` (NULL for the defaults) and writes its handle to `*out`.
///
/// Errors: `QDSIM_ERR_NULL_ARGUMENT` (out is NULL); `QDSIM_ERR_INVALID_ARGUMENT` for a
/// configuration on which every allocation would fail, with a message naming the field:
/// alignment not a power of two up to `QDSIM_MAX_ALIGNMENT`, `initial_pool_size` or
/// `chunk_size` larger than half the address space, whose rounding to pages and the alignment
/// overflows, or that the system can never map (`SIZE_MAX`, say), `prefault_threads` above
/// 1024; `QDSIM_ERR_OUT_OF_MEMORY` (eager mapping refused). A `memory_limit` below
/// `initial_pool_size` is allowed (the limit counts live blocks, chunks are address space).
///
/// # Safety
/// `config` is NULL or points to a valid `qdsim_manager_config`; `out` points to writable memory
/// for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_create(
    config: *const qdsim_manager_config,
    out: *mut *mut qdsim_manager,
) -> qdsim_status {
    guard("qdsim_manager_create", || {
        let out = out_param(out, "out")?;
        let config = if config.is_null() {
            ManagerConfig::default()
        } else {
            // SAFETY: non-null; valid per the contract.
            ManagerConfig::from(unsafe { in_param(config, "config")? })
        };
        let ptr = handles::new_handle(
            HandleKind::Manager,
            qdsim_manager {
                manager: MemoryManager::new(config)?,
            },
        );
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    })
}

/// Destroys a manager: frees every pool and every allocation still live (printing the leak
/// report to stderr when configured) and invalidates the handle. NULL is a no-op.
///
/// Every pointer allocated from the manager becomes invalid. Destroying a handle twice returns
/// `QDSIM_ERR_INVALID_HANDLE`.
///
/// # Safety
/// No memory from this manager is used after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_destroy(manager: *mut qdsim_manager) -> qdsim_status {
    guard("qdsim_manager_destroy", || {
        if manager.is_null() {
            return Ok(());
        }
        let handle: Arc<qdsim_manager> =
            handles::unregister(manager as usize, HandleKind::Manager, "manager")?;
        handle.manager.close();
        Ok(())
    })
}

/// The body of every `qdsim_manager_alloc*`: the lane's fast path when it serves the request
/// (kept small, so that the common call saves few registers), else [`allocate_general`].
#[inline(always)]
fn allocate(
    manager: *mut qdsim_manager,
    kind: PoolKind,
    count: usize,
    alignment: usize,
    zeroed: bool,
    tag: *const c_char,
    out: *mut *mut c_void,
) -> Result<()> {
    if alignment == 0 && !out.is_null() && out.is_aligned() {
        if let Some(bytes) = count.checked_mul(kind.element_size()) {
            // SAFETY: `tag` is NULL or NUL-terminated per the caller's contract.
            let fast = unsafe { manager_lane::fast_allocate(manager as usize, kind, bytes, tag) };
            if let Some(ptr) = fast {
                if zeroed {
                    // SAFETY: a fresh block of at least `bytes` writable bytes, ours alone.
                    unsafe { ptr.as_ptr().write_bytes(0, bytes) };
                }
                // SAFETY: not NULL and aligned (checked above); writable per the contract.
                unsafe { out.write(ptr.as_ptr().cast()) };
                return Ok(());
            }
        }
    }
    allocate_general(manager, kind, count, alignment, zeroed, tag, out)
}

/// [`allocate`] through the general path, which also reports every error.
#[inline(never)]
fn allocate_general(
    manager: *mut qdsim_manager,
    kind: PoolKind,
    count: usize,
    alignment: usize,
    zeroed: bool,
    tag: *const c_char,
    out: *mut *mut c_void,
) -> Result<()> {
    let out = out_param(out, "out")?;
    let ptr = manager_lane::with_manager_heap(manager as usize, |manager, heap| {
        let tag = if tag.is_null() {
            TagText::Str("")
        } else {
            // SAFETY: not NULL, so NUL-terminated per the caller's contract. Its bytes are
            // checked to be UTF-8 unless they equal a tag this thread used recently.
            TagText::Bytes(unsafe { CStr::from_ptr(tag) }.to_bytes())
        };
        let bytes = count.checked_mul(kind.element_size()).ok_or_else(|| {
            Error::invalid_argument(format!(
                "{count} elements of pool {kind} ({} bytes each) overflow size_t",
                kind.element_size()
            ))
        })?;
        manager.allocate_tagged(kind, bytes, alignment, tag, zeroed, heap)
    })?;
    // SAFETY: checked by out_param; writable per the contract.
    unsafe { write_out(out, ptr.as_ptr().cast()) };
    Ok(())
}

/// Allocates `count` elements from `pool` (element size: 8 for F64, 16 for COMPLEX, 4 for I32,
/// 8 for I64, 1 for BYTES), aligned to `alignment` bytes (0 for the manager's default; never
/// less than 64), tagged `tag` (NULL or "" for untagged; at most 63 bytes), and writes the
/// address to `*out`.
///
/// The contents are unspecified (fresh pages read as zero; reused blocks keep old values). Zero
/// elements give a valid, unique pointer that must be freed like any other.
///
/// Errors: `QDSIM_ERR_NULL_ARGUMENT`, `QDSIM_ERR_INVALID_HANDLE`, `QDSIM_ERR_INVALID_ARGUMENT`
/// (unknown pool, alignment not a power of two, size overflow, tag too long or not UTF-8),
/// `QDSIM_ERR_LIMIT_EXCEEDED` (nothing changes), `QDSIM_ERR_OUT_OF_MEMORY`.
///
/// # Safety
/// `tag` is NULL or NUL-terminated; `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_alloc(
    manager: *mut qdsim_manager,
    pool: qdsim_pool,
    count: usize,
    alignment: usize,
    tag: *const c_char,
    out: *mut *mut c_void,
) -> qdsim_status {
    guard("qdsim_manager_alloc", || {
        allocate(manager, pool_kind(pool)?, count, alignment, false, tag, out)
    })
}

/// Like `qdsim_manager_alloc`, with every byte set to zero.
///
/// # Safety
/// As for `qdsim_manager_alloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_alloc_zeroed(
    manager: *mut qdsim_manager,
    pool: qdsim_pool,
    count: usize,
    alignment: usize,
    tag: *const c_char,
    out: *mut *mut c_void,
) -> qdsim_status {
    guard("qdsim_manager_alloc_zeroed", || {
        allocate(manager, pool_kind(pool)?, count, alignment, true, tag, out)
    })
}

/// Allocates `count` doubles from the F64 pool (default alignment); see `qdsim_manager_alloc`.
///
/// # Safety
/// As for `qdsim_manager_alloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_alloc_f64(
    manager: *mut qdsim_manager,
    count: usize,
    tag: *const c_char,
    out: *mut *mut f64,
) -> qdsim_status {
    guard("qdsim_manager_alloc_f64", || {
        allocate(manager, PoolKind::F64, count, 0, false, tag, out.cast())
    })
}

/// Allocates `count` complex numbers from the COMPLEX pool; see `qdsim_manager_alloc`.
///
/// # Safety
/// As for `qdsim_manager_alloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_alloc_complex(
    manager: *mut qdsim_manager,
    count: usize,
    tag: *const c_char,
    out: *mut *mut qdsim_complex,
) -> qdsim_status {
    guard("qdsim_manager_alloc_complex", || {
        allocate(
            manager,
            PoolKind::Complex128,
            count,
            0,
            false,
            tag,
            out.cast(),
        )
    })
}

/// Allocates `count` `int32_t` from the I32 pool; see `qdsim_manager_alloc`.
///
/// # Safety
/// As for `qdsim_manager_alloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_alloc_i32(
    manager: *mut qdsim_manager,
    count: usize,
    tag: *const c_char,
    out: *mut *mut i32,
) -> qdsim_status {
    guard("qdsim_manager_alloc_i32", || {
        allocate(manager, PoolKind::I32, count, 0, false, tag, out.cast())
    })
}

/// Allocates `count` `int64_t` from the I64 pool; see `qdsim_manager_alloc`.
///
/// # Safety
/// As for `qdsim_manager_alloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_alloc_i64(
    manager: *mut qdsim_manager,
    count: usize,
    tag: *const c_char,
    out: *mut *mut i64,
) -> qdsim_status {
    guard("qdsim_manager_alloc_i64", || {
        allocate(manager, PoolKind::I64, count, 0, false, tag, out.cast())
    })
}

/// Allocates `size` bytes from the BYTES pool; see `qdsim_manager_alloc`.
///
/// # Safety
/// As for `qdsim_manager_alloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_alloc_bytes(
    manager: *mut qdsim_manager,
    size: usize,
    tag: *const c_char,
    out: *mut *mut c_void,
) -> qdsim_status {
    guard("qdsim_manager_alloc_bytes", || {
        allocate(manager, PoolKind::Bytes, size, 0, false, tag, out)
    })
}

/// Gives the allocation that starts at `ptr` back to the manager. NULL is a no-op.
///
/// A pointer that is not the start of a live allocation of this manager — freed already, from
/// another manager, from malloc or the stack, or pointing inside an allocation — returns
/// `QDSIM_ERR_NOT_OWNED` with a message saying which, and changes nothing. So does the array of
/// a library object (`qdsim_matrix_data`, `qdsim_csr_arrays`, `qdsim_eigen_result_vectors`, an
/// operator's or builder's storage): the message names the owning handle when it can; destroy
/// that handle instead.
///
/// In the debug mode (`red_zones` in `qdsim_manager_config`) a block whose red zones were
/// written (an overrun or underrun) is freed all the same and reported with
/// `QDSIM_ERR_MEMORY_CORRUPTED`: the message names its tag and the offset of the first byte
/// written outside it.
///
/// # Safety
/// The memory is not used after a successful call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_free(
    manager: *mut qdsim_manager,
    ptr: *mut c_void,
) -> qdsim_status {
    guard("qdsim_manager_free", || {
        // SAFETY: the caller promises not to use the memory after a successful free.
        if !ptr.is_null() && unsafe { manager_lane::fast_free(manager as usize, ptr.cast()) } {
            return Ok(());
        }
        free_general(manager, ptr)
    })
}

/// `qdsim_manager_free` through the general path, which also reports every error.
#[inline(never)]
fn free_general(manager: *mut qdsim_manager, ptr: *mut c_void) -> Result<()> {
    manager_lane::with_manager_heap(manager as usize, |manager, heap| {
        // SAFETY: the caller promises not to use the memory after a successful free.
        unsafe { manager.free_kept(ptr.cast(), heap) }
    })
    .map_err(|e| name_block_owner(e, ptr as usize))
}

/// A refused free of `addr` whose block a live handle owns: the message names that handle.
fn name_block_owner(error: Error, addr: usize) -> Error {
    if error.kind() != ErrorKind::NotOwned {
        return error;
    }
    let owner = handles::find(
        &[HandleKind::Matrix, HandleKind::Csr, HandleKind::EigenResult],
        |object| {
            let any = object as &dyn std::any::Any;
            if let Some(m) = any.downcast_ref::<qdsim_matrix>() {
                m.owns_block(addr)
            } else if let Some(c) = any.downcast_ref::<qdsim_csr>() {
                c.owns_block(addr)
            } else if let Some(r) = any.downcast_ref::<qdsim_eigen_result>() {
                r.owns_block(addr)
            } else {
                false
            }
        },
    );
    match owner {
        Some((kind, key)) => Error::new(
            ErrorKind::NotOwned,
            format!(
                "block {addr:#x} belongs to a {kind} (handle {key:#x}), which frees it when \
                 destroyed: destroy that handle instead ({})",
                error.message()
            ),
        ),
        None => error,
    }
}

/// Gives every entirely free chunk back to the operating system and writes the number of bytes
/// released to `*released` (when `released` is not NULL).
///
/// # Safety
/// `released` is NULL or points to writable memory for a `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_trim(
    manager: *mut qdsim_manager,
    released: *mut u64,
) -> qdsim_status {
    guard("qdsim_manager_trim", || {
        let out = if released.is_null() {
            None
        } else {
            Some(out_param(released, "released")?)
        };
        let bytes = with_manager(manager, |manager| Ok(manager.trim()))?;
        if let Some(out) = out {
            // SAFETY: checked by out_param; writable per the contract.
            unsafe { write_out(out, bytes) };
        }
        Ok(())
    })
}

/// Verifies the manager's internal invariants (blocks and free space tile every chunk, counters
/// agree). Returns `QDSIM_ERR_INTERNAL` with a description if they do not: a bug in qdsim-mem to
/// report (the bookkeeping lives outside the pools, so a program writing past the end of its
/// arrays cannot cause it). In the debug mode (`red_zones` in `qdsim_manager_config`) it also
/// checks the red zones of every live block: `QDSIM_ERR_MEMORY_CORRUPTED` names the first block
/// written outside its bounds, its tag and the offset. Meant for tests; it locks every pool
/// while it runs.
///
/// # Safety
/// Always safe to call; `manager` is checked.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_check(manager: *const qdsim_manager) -> qdsim_status {
    guard("qdsim_manager_check", || {
        with_manager(manager, MemoryManager::check_consistency)
    })
}

/// Writes the configuration `manager` runs with to `*out`: what it was created with, defaults
/// filled in and the debug mode decided (`red_zones` 1 or −1; `thread_cache` 0 with red zones).
///
/// # Safety
/// `out` points to writable memory for a `qdsim_manager_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_get_config(
    manager: *const qdsim_manager,
    out: *mut qdsim_manager_config,
) -> qdsim_status {
    guard("qdsim_manager_get_config", || {
        let out = out_param(out, "out")?;
        let config = qdsim_manager_config::from(manager_arg(manager)?.manager.config());
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, config) };
        Ok(())
    })
}
