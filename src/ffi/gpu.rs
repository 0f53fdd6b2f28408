//! The GPU C API: device count, the `qdsim_gpu_pool` handle (device memory with statistics,
//! limit, tags and a leak report), copies, and pinned host buffers.
//!
//! These functions exist in every build, so the header is the same with and without the cargo
//! feature `gpu`. Built without it, each returns `QDSIM_ERR_NO_DEVICE` with the message "built
//! without the gpu feature" (destroying NULL is still a no-op). Built with it, a machine
//! without a CUDA driver or device gives `QDSIM_ERR_NO_DEVICE` with what was looked for and what
//! failed.
//!
//! Device addresses cross the ABI as `uint64_t` (a `CUdeviceptr`), usable in the caller's own
//! kernels and CUDA libraries on the same device.
//!
//! Thread safety: a pool may be used from any number of threads at once; its allocations and
//! frees are serialised inside. Freeing memory that a kernel on another stream still uses is the
//! caller's error (synchronize first).

use super::boundary::guard;
use super::manager_report::qdsim_tag_stats;
use super::status::qdsim_status;
use crate::memory::Stats;
use std::ffi::{c_char, c_void};

/// A pool of device memory on one GPU, with statistics, a limit, tags and a leak report, plus
/// pinned host buffers. Create it with `qdsim_gpu_pool_create`, destroy it with
/// `qdsim_gpu_pool_destroy`.
#[allow(non_camel_case_types)]
pub struct qdsim_gpu_pool {
    #[cfg(feature = "gpu")]
    pub(super) pool: crate::gpu::DevicePool,
    #[cfg(not(feature = "gpu"))]
    _never: std::convert::Infallible,
}

/// Writes the number of CUDA devices (at least 1) to `*out`. `QDSIM_ERR_NO_DEVICE` when there
/// is no CUDA driver library, the driver fails to initialise, it sees no device, or the library
/// was built without the gpu feature; the message says which.
///
/// # Safety
/// `out` points to writable memory for an `int32_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_gpu_device_count(out: *mut i32) -> qdsim_status {
    guard("qdsim_gpu_device_count", || imp::device_count(out))
}

/// Opens GPU `device` (0-based) and creates a pool on it with a hard limit of `limit_bytes`
/// device bytes in use (0: no limit); writes the handle to `*out`.
///
/// Errors: `QDSIM_ERR_NULL_ARGUMENT` (out), `QDSIM_ERR_INVALID_ARGUMENT` (negative device),
/// `QDSIM_ERR_NO_DEVICE` (no driver, no device, no device with that number).
///
/// # Safety
/// `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_gpu_pool_create(
    device: i32,
    limit_bytes: u64,
    out: *mut *mut qdsim_gpu_pool,
) -> qdsim_status {
    guard("qdsim_gpu_pool_create", || {
        imp::pool_create(device, limit_bytes, out)
    })
}

/// Destroys a pool: prints the leak report to stderr when allocations are still live, frees
/// them and returns the pool's memory to the device. NULL is a no-op. Every device address and
/// pinned buffer from the pool becomes invalid.
///
/// # Safety
/// No memory from this pool is used after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_gpu_pool_destroy(pool: *mut qdsim_gpu_pool) -> qdsim_status {
    guard("qdsim_gpu_pool_destroy", || {
        if pool.is_null() {
            return Ok(());
        }
        imp::pool_destroy(pool)
    })
}

/// Allocates `bytes` of device memory tagged `tag` (NULL: untagged) and writes its device
/// address to `*device_ptr`. The memory is uninitialised and ready for use on any stream when
/// the call returns.
///
/// Errors: `QDSIM_ERR_INVALID_ARGUMENT` (0 bytes, tag over 63 bytes),
/// `QDSIM_ERR_LIMIT_EXCEEDED` (the pool's limit), `QDSIM_ERR_OUT_OF_MEMORY` (the device is full).
///
/// # Safety
/// `tag` is NULL or NUL-terminated; `device_ptr` points to writable memory for a `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_gpu_alloc(
    pool: *mut qdsim_gpu_pool,
    bytes: usize,
    tag: *const c_char,
    device_ptr: *mut u64,
) -> qdsim_status {
    guard("qdsim_gpu_alloc", || {
        imp::alloc(pool, bytes, tag, device_ptr)
    })
}

/// Frees the device allocation that starts at `device_ptr`. 0 is a no-op. Any other address
/// that is not the start of a live allocation of this pool (freed already, inside an
/// allocation, from another pool) returns `QDSIM_ERR_NOT_OWNED` and changes nothing.
///
/// # Safety
/// The memory is not used after a successful call (kernels using it have finished).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_gpu_free(
    pool: *mut qdsim_gpu_pool,
    device_ptr: u64,
) -> qdsim_status {
    guard("qdsim_gpu_free", || imp::free(pool, device_ptr))
}

/// Copies `bytes` from device address `src` (inside a live allocation of this pool) to host
/// memory `dst`; complete on return. A range that runs past its allocation is refused with
/// `QDSIM_ERR_INVALID_ARGUMENT`, an address outside every allocation with `QDSIM_ERR_NOT_OWNED`.
///
/// # Safety
/// `dst` points to `bytes` writable bytes (may be NULL when `bytes` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_gpu_copy_to_host(
    pool: *mut qdsim_gpu_pool,
    dst: *mut c_void,
    src: u64,
    bytes: usize,
) -> qdsim_status {
    guard("qdsim_gpu_copy_to_host", || {
        imp::copy_to_host(pool, dst, src, bytes)
    })
}

/// Copies `bytes` from host memory `src` to device address `dst` (inside a live allocation of
/// this pool); complete on return. Range checks as for `qdsim_gpu_copy_to_host`.
///
/// # Safety
/// `src` points to `bytes` readable bytes (may be NULL when `bytes` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_gpu_copy_to_device(
    pool: *mut qdsim_gpu_pool,
    dst: u64,
    src: *const c_void,
    bytes: usize,
) -> qdsim_status {
    guard("qdsim_gpu_copy_to_device", || {
        imp::copy_to_device(pool, dst, src, bytes)
    })
}

/// Writes the pool's device memory statistics to `*out`: bytes in use, peak, totals, counts,
/// live and failed allocations and the limit exactly; `footprint_bytes` is what the CUDA memory
/// pool holds and `free_bytes` the part of it not in use; `available_bytes` is `limit − in use`
/// with a limit, otherwise the device's free memory. The chunk and fragmentation fields are 0.
///
/// # Safety
/// `out` points to writable memory for a `qdsim_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_gpu_pool_stats(
    pool: *const qdsim_gpu_pool,
    out: *mut Stats,
) -> qdsim_status {
    guard("qdsim_gpu_pool_stats", || imp::stats(pool, out, false))
}

/// Writes the statistics of the pool's pinned host buffers to `*out` (not under the limit;
/// `footprint_bytes` equals `bytes_in_use`).
///
/// # Safety
/// `out` points to writable memory for a `qdsim_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_gpu_pool_pinned_stats(
    pool: *const qdsim_gpu_pool,
    out: *mut Stats,
) -> qdsim_status {
    guard("qdsim_gpu_pool_pinned_stats", || {
        imp::stats(pool, out, true)
    })
}

/// Writes the statistics of tag `tag` ("" or NULL: untagged) in this pool, device and pinned
/// memory together, to `*out`. `QDSIM_ERR_NOT_FOUND` when no allocation of the pool used it.
///
/// # Safety
/// `tag` is NULL or NUL-terminated; `out` points to writable memory for a `qdsim_tag_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_gpu_pool_tag_stats(
    pool: *const qdsim_gpu_pool,
    tag: *const c_char,
    out: *mut qdsim_tag_stats,
) -> qdsim_status {
    guard("qdsim_gpu_pool_tag_stats", || {
        imp::tag_stats(pool, tag, out)
    })
}

/// Writes the pool's leak report (live device and pinned allocations by tag, then each with
/// its address, size and tag) as a new string to `*report`. Free it with `qdsim_string_free`.
///
/// # Safety
/// `report` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_gpu_pool_leak_report(
    pool: *const qdsim_gpu_pool,
    report: *mut *mut c_char,
) -> qdsim_status {
    guard("qdsim_gpu_pool_leak_report", || {
        imp::leak_report(pool, report)
    })
}

/// Allocates `bytes` of page-locked host memory tagged `tag` (NULL: untagged) for fast copies
/// to and from the pool's device, and writes its address to `*out`. Counted in
/// `qdsim_gpu_pool_pinned_stats`, the tags and the leak report; not under the limit.
///
/// # Safety
/// `tag` is NULL or NUL-terminated; `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_gpu_pinned_alloc(
    pool: *mut qdsim_gpu_pool,
    bytes: usize,
    tag: *const c_char,
    out: *mut *mut c_void,
) -> qdsim_status {
    guard("qdsim_gpu_pinned_alloc", || {
        imp::pinned_alloc(pool, bytes, tag, out)
    })
}

/// Frees pinned host memory from `qdsim_gpu_pinned_alloc`. NULL is a no-op; any other pointer
/// that is not a live pinned buffer of this pool returns `QDSIM_ERR_NOT_OWNED`.
///
/// # Safety
/// The memory is not used after a successful call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_gpu_pinned_free(
    pool: *mut qdsim_gpu_pool,
    ptr: *mut c_void,
) -> qdsim_status {
    guard("qdsim_gpu_pinned_free", || imp::pinned_free(pool, ptr))
}

#[cfg(feature = "gpu")]
mod imp {
    use super::super::boundary::{in_slice, optional_str, out_param, out_slice, write_out};
    use super::super::handles::{self, HandleKind};
    use super::super::manager_report::qdsim_tag_stats;
    use super::super::string::new_c_string;
    use super::qdsim_gpu_pool;
    use crate::error::{Error, ErrorKind, Result};
    use crate::gpu::{Device, DevicePool, device_count as count};
    use crate::memory::Stats;
    use std::ffi::{c_char, c_void};
    use std::sync::Arc;

    fn pool_arg(pool: *const qdsim_gpu_pool) -> Result<Arc<qdsim_gpu_pool>> {
        handles::lookup(pool as usize, HandleKind::GpuPool, "pool")
    }

    pub(super) fn device_count(out: *mut i32) -> Result<()> {
        let out = out_param(out, "out")?;
        let n = count()?;
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, i32::try_from(n).unwrap_or(i32::MAX)) };
        Ok(())
    }

    pub(super) fn pool_create(
        device: i32,
        limit_bytes: u64,
        out: *mut *mut qdsim_gpu_pool,
    ) -> Result<()> {
        let out = out_param(out, "out")?;
        let ordinal = usize::try_from(device).map_err(|_| {
            Error::invalid_argument(format!("device is {device}; devices are numbered from 0"))
        })?;
        let pool = DevicePool::new(
            Device::open(ordinal)?,
            (limit_bytes != 0).then_some(limit_bytes),
        )?;
        let ptr = handles::new_handle(HandleKind::GpuPool, qdsim_gpu_pool { pool });
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    }

    pub(super) fn pool_destroy(pool: *mut qdsim_gpu_pool) -> Result<()> {
        handles::unregister::<qdsim_gpu_pool>(pool as usize, HandleKind::GpuPool, "pool")?;
        Ok(())
    }

    pub(super) fn alloc(
        pool: *mut qdsim_gpu_pool,
        bytes: usize,
        tag: *const c_char,
        device_ptr: *mut u64,
    ) -> Result<()> {
        let out = out_param(device_ptr, "device_ptr")?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let tag = unsafe { optional_str(tag, "tag")? }.unwrap_or("");
        let handle = pool_arg(pool)?;
        let address = handle.pool.alloc(bytes, tag)?;
        if let Err(e) = handle.pool.synchronize() {
            let _ = handle.pool.free(address);
            return Err(e);
        }
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, address) };
        Ok(())
    }

    pub(super) fn free(pool: *mut qdsim_gpu_pool, device_ptr: u64) -> Result<()> {
        let handle = pool_arg(pool)?;
        if device_ptr == 0 {
            return Ok(());
        }
        handle.pool.free(device_ptr)
    }

    pub(super) fn copy_to_host(
        pool: *mut qdsim_gpu_pool,
        dst: *mut c_void,
        src: u64,
        bytes: usize,
    ) -> Result<()> {
        let handle = pool_arg(pool)?;
        // SAFETY: `bytes` writable bytes at dst per the contract.
        let dst = unsafe { out_slice(dst.cast::<u8>(), bytes, "dst")? };
        handle.pool.copy_to_host(dst, src)
    }

    pub(super) fn copy_to_device(
        pool: *mut qdsim_gpu_pool,
        dst: u64,
        src: *const c_void,
        bytes: usize,
    ) -> Result<()> {
        let handle = pool_arg(pool)?;
        // SAFETY: `bytes` readable bytes at src per the contract.
        let src = unsafe { in_slice(src.cast::<u8>(), bytes, "src")? };
        handle.pool.copy_to_device(dst, src)
    }

    pub(super) fn stats(pool: *const qdsim_gpu_pool, out: *mut Stats, pinned: bool) -> Result<()> {
        let out = out_param(out, "out")?;
        let handle = pool_arg(pool)?;
        let stats = if pinned {
            handle.pool.pinned_stats()
        } else {
            handle.pool.stats()?
        };
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, stats) };
        Ok(())
    }

    pub(super) fn tag_stats(
        pool: *const qdsim_gpu_pool,
        tag: *const c_char,
        out: *mut qdsim_tag_stats,
    ) -> Result<()> {
        let out = out_param(out, "out")?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let tag = unsafe { optional_str(tag, "tag")? }.unwrap_or("");
        let stats = pool_arg(pool)?.pool.tag_stats(tag).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("no allocation of this GPU pool has used tag {tag:?}"),
            )
        })?;
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, (&stats).into()) };
        Ok(())
    }

    pub(super) fn leak_report(pool: *const qdsim_gpu_pool, report: *mut *mut c_char) -> Result<()> {
        let out = out_param(report, "report")?;
        let text = new_c_string(pool_arg(pool)?.pool.leak_report())?;
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, text) };
        Ok(())
    }

    pub(super) fn pinned_alloc(
        pool: *mut qdsim_gpu_pool,
        bytes: usize,
        tag: *const c_char,
        out: *mut *mut c_void,
    ) -> Result<()> {
        let out = out_param(out, "out")?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let tag = unsafe { optional_str(tag, "tag")? }.unwrap_or("");
        let ptr = pool_arg(pool)?.pool.alloc_pinned(bytes, tag)?;
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr.cast()) };
        Ok(())
    }

    pub(super) fn pinned_free(pool: *mut qdsim_gpu_pool, ptr: *mut c_void) -> Result<()> {
        let handle = pool_arg(pool)?;
        if ptr.is_null() {
            return Ok(());
        }
        // SAFETY: the caller promises not to use the memory after a successful free.
        unsafe { handle.pool.free_pinned(ptr.cast()) }
    }
}

/// Built without the `gpu` feature: every call reports `QDSIM_ERR_NO_DEVICE`.
#[cfg(not(feature = "gpu"))]
mod imp {
    use super::qdsim_gpu_pool;
    use super::qdsim_tag_stats;
    use crate::error::{Error, ErrorKind, Result};
    use crate::memory::Stats;
    use std::ffi::{c_char, c_void};

    fn without_gpu() -> Error {
        Error::new(ErrorKind::NoDevice, "built without the gpu feature")
    }

    pub(super) fn device_count(_out: *mut i32) -> Result<()> {
        Err(without_gpu())
    }
    pub(super) fn pool_create(_: i32, _: u64, _: *mut *mut qdsim_gpu_pool) -> Result<()> {
        Err(without_gpu())
    }
    pub(super) fn pool_destroy(_: *mut qdsim_gpu_pool) -> Result<()> {
        Err(without_gpu())
    }
    pub(super) fn alloc(
        _: *mut qdsim_gpu_pool,
        _: usize,
        _: *const c_char,
        _: *mut u64,
    ) -> Result<()> {
        Err(without_gpu())
    }
    pub(super) fn free(_: *mut qdsim_gpu_pool, _: u64) -> Result<()> {
        Err(without_gpu())
    }
    pub(super) fn copy_to_host(
        _: *mut qdsim_gpu_pool,
        _: *mut c_void,
        _: u64,
        _: usize,
    ) -> Result<()> {
        Err(without_gpu())
    }
    pub(super) fn copy_to_device(
        _: *mut qdsim_gpu_pool,
        _: u64,
        _: *const c_void,
        _: usize,
    ) -> Result<()> {
        Err(without_gpu())
    }
    pub(super) fn stats(_: *const qdsim_gpu_pool, _: *mut Stats, _: bool) -> Result<()> {
        Err(without_gpu())
    }
    pub(super) fn tag_stats(
        _: *const qdsim_gpu_pool,
        _: *const c_char,
        _: *mut qdsim_tag_stats,
    ) -> Result<()> {
        Err(without_gpu())
    }
    pub(super) fn leak_report(_: *const qdsim_gpu_pool, _: *mut *mut c_char) -> Result<()> {
        Err(without_gpu())
    }
    pub(super) fn pinned_alloc(
        _: *mut qdsim_gpu_pool,
        _: usize,
        _: *const c_char,
        _: *mut *mut c_void,
    ) -> Result<()> {
        Err(without_gpu())
    }
    pub(super) fn pinned_free(_: *mut qdsim_gpu_pool, _: *mut c_void) -> Result<()> {
        Err(without_gpu())
    }
}
