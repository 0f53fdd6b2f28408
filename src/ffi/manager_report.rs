//! What a `qdsim_manager` can tell: statistics in total, per pool and per tag, the description of
//! one allocation, the leak summary, and the text reports.
//!
//! Thread safety: all of these may run while other threads allocate and free; each result is a
//! consistent snapshot taken at one moment.
//!
//! [`Stats`] and [`LeakSummary`] are `#[repr(C)]` and cross the ABI as they are, under their C
//! names `qdsim_stats` and `qdsim_leak_summary` (renamed in `cbindgen.toml`).

use super::boundary::{copy_to_char_array, guard, optional_str, out_param, write_out};
use super::manager::{manager_arg, qdsim_manager, with_manager};
use super::status::qdsim_status;
use super::string::new_c_string;
use super::types::{pool_kind, qdsim_pool};
use crate::error::{Error, ErrorKind};
use crate::memory::{AllocationInfo, LeakSummary, Stats, TagStats};
use std::ffi::{c_char, c_void};

/// Longest tag plus its terminating NUL.
pub const QDSIM_TAG_CAPACITY: usize = 64;
const _: () = assert!(QDSIM_TAG_CAPACITY == crate::memory::MAX_TAG_LEN + 1);

/// Statistics of one tag, over all pools.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct qdsim_tag_stats {
    /// The tag, NUL-terminated ("" for untagged allocations).
    pub name: [c_char; QDSIM_TAG_CAPACITY],
    /// Bytes requested by live allocations with this tag.
    pub bytes_in_use: u64,
    /// Highest `bytes_in_use` ever reached (blocks of up to 256 KiB from the thread caches
    /// count at every pool-path allocation with this tag and every statistics read).
    pub peak_bytes_in_use: u64,
    /// Bytes requested by all allocations with this tag.
    pub total_allocated_bytes: u64,
    /// Allocations with this tag so far.
    pub allocation_count: u64,
    /// Frees of allocations with this tag so far.
    pub free_count: u64,
    /// Live allocations with this tag.
    pub live_allocations: u64,
}

impl From<&TagStats> for qdsim_tag_stats {
    fn from(t: &TagStats) -> Self {
        Self {
            name: copy_to_char_array(&t.name),
            bytes_in_use: t.bytes_in_use,
            peak_bytes_in_use: t.peak_bytes_in_use,
            total_allocated_bytes: t.total_allocated_bytes,
            allocation_count: t.allocation_count,
            free_count: t.free_count,
            live_allocations: t.live_allocations,
        }
    }
}

/// One live allocation.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct qdsim_allocation_info {
    /// Start address.
    pub address: *mut c_void,
    /// Bytes requested.
    pub size: u64,
    /// The pool (a `QDSIM_POOL_*` value).
    pub pool: qdsim_pool,
    /// 1 when the allocation has a mapping of its own, 0 when it sits in a chunk.
    pub direct: i32,
    /// Its tag, NUL-terminated.
    pub tag: [c_char; QDSIM_TAG_CAPACITY],
}

impl From<&AllocationInfo> for qdsim_allocation_info {
    fn from(a: &AllocationInfo) -> Self {
        Self {
            address: a.address as *mut c_void,
            size: a.size as u64,
            pool: a.pool.index() as qdsim_pool,
            direct: a.direct.into(),
            tag: copy_to_char_array(&a.tag),
        }
    }
}

/// Writes the totals over all pools to `*out`.
///
/// # Safety
/// `out` points to writable memory for a `qdsim_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_stats(
    manager: *const qdsim_manager,
    out: *mut Stats,
) -> qdsim_status {
    guard("qdsim_manager_stats", || {
        let out = out_param(out, "out")?;
        let stats = with_manager(manager, |manager| Ok(manager.stats()))?;
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, stats) };
        Ok(())
    })
}

/// Writes the counters of pool `pool` to `*out` (the peak is the pool's own).
///
/// # Safety
/// `out` points to writable memory for a `qdsim_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_pool_stats(
    manager: *const qdsim_manager,
    pool: qdsim_pool,
    out: *mut Stats,
) -> qdsim_status {
    guard("qdsim_manager_pool_stats", || {
        let out = out_param(out, "out")?;
        let kind = pool_kind(pool)?;
        let stats = manager_arg(manager)?.manager.pool_stats(kind);
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, stats) };
        Ok(())
    })
}

/// Writes the statistics of tag `tag` ("" or NULL for untagged allocations) to `*out`.
/// `QDSIM_ERR_NOT_FOUND` when no allocation ever used the tag.
///
/// # Safety
/// `tag` is NULL or NUL-terminated; `out` points to writable memory for a `qdsim_tag_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_tag_stats(
    manager: *const qdsim_manager,
    tag: *const c_char,
    out: *mut qdsim_tag_stats,
) -> qdsim_status {
    guard("qdsim_manager_tag_stats", || {
        let out = out_param(out, "out")?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let tag = unsafe { optional_str(tag, "tag")? }.unwrap_or("");
        let stats = manager_arg(manager)?
            .manager
            .tag_stats(tag)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("no allocation has used tag {tag:?}"),
                )
            })?;
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, (&stats).into()) };
        Ok(())
    })
}

/// Writes the number of distinct tags used so far to `*count` (tags are never forgotten, so the
/// number only grows).
///
/// # Safety
/// `count` points to writable memory for a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_tag_count(
    manager: *const qdsim_manager,
    count: *mut usize,
) -> qdsim_status {
    guard("qdsim_manager_tag_count", || {
        let out = out_param(count, "count")?;
        let n = manager_arg(manager)?.manager.tag_count();
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, n) };
        Ok(())
    })
}

/// Writes the statistics of every tag, most bytes in use first, to `out[0 .. n)` and `n` to
/// `*written`. When `capacity` is smaller than the number of tags, returns
/// `QDSIM_ERR_BUFFER_TOO_SMALL` (the message says how many are needed) and writes nothing; ask
/// `qdsim_manager_tag_count` and retry with a larger array.
///
/// # Safety
/// `out` points to `capacity` writable `qdsim_tag_stats` (it may be NULL when `capacity` is 0);
/// `written` points to writable memory for a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_tag_list(
    manager: *const qdsim_manager,
    out: *mut qdsim_tag_stats,
    capacity: usize,
    written: *mut usize,
) -> qdsim_status {
    guard("qdsim_manager_tag_list", || {
        let written = out_param(written, "written")?;
        let tags = manager_arg(manager)?.manager.tags();
        if tags.len() > capacity {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!("{} tags do not fit in capacity {capacity}", tags.len()),
            ));
        }
        if !tags.is_empty() {
            let out = out_param(out, "out")?;
            for (i, tag) in tags.iter().enumerate() {
                // SAFETY: i < tags.len() ≤ capacity, and `out` holds `capacity` writable
                // elements per the contract; the base was checked non-null and aligned.
                unsafe { write_out(out.add(i), tag.into()) };
            }
        }
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(written, tags.len()) };
        Ok(())
    })
}

/// Describes the live allocation that starts at `ptr` (size, pool, tag) in `*out`;
/// `QDSIM_ERR_NOT_FOUND` when `ptr` is not the start of a live allocation of this manager.
///
/// # Safety
/// `out` points to writable memory for a `qdsim_allocation_info`. `ptr` is only compared, never
/// read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_find(
    manager: *const qdsim_manager,
    ptr: *const c_void,
    out: *mut qdsim_allocation_info,
) -> qdsim_status {
    guard("qdsim_manager_find", || {
        let out = out_param(out, "out")?;
        let info = manager_arg(manager)?
            .manager
            .allocation_info(ptr.cast())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("{ptr:p} is not the start of a live allocation of this manager"),
                )
            })?;
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, (&info).into()) };
        Ok(())
    })
}

/// Writes how many allocations are live and how many bytes they hold to `*out`.
///
/// # Safety
/// `out` points to writable memory for a `qdsim_leak_summary`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_leak_summary(
    manager: *const qdsim_manager,
    out: *mut LeakSummary,
) -> qdsim_status {
    guard("qdsim_manager_leak_summary", || {
        let out = out_param(out, "out")?;
        let leaks = manager_arg(manager)?.manager.leak_summary();
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, leaks) };
        Ok(())
    })
}

/// Writes the leak report (live allocations by tag, then each with address, size, pool and tag)
/// as a new string to `*text`. Free it with `qdsim_string_free`.
///
/// # Safety
/// `text` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_leak_report(
    manager: *const qdsim_manager,
    text: *mut *mut c_char,
) -> qdsim_status {
    guard("qdsim_manager_leak_report", || {
        let out = out_param(text, "text")?;
        let report = new_c_string(manager_arg(manager)?.manager.leak_report())?;
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, report) };
        Ok(())
    })
}

/// Writes the allocation report (limit, per-pool table, totals, top tags) as a new string to
/// `*text`. Free it with `qdsim_string_free`.
///
/// # Safety
/// `text` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_allocation_report(
    manager: *const qdsim_manager,
    text: *mut *mut c_char,
) -> qdsim_status {
    guard("qdsim_manager_allocation_report", || {
        let out = out_param(text, "text")?;
        let report = new_c_string(manager_arg(manager)?.manager.allocation_report())?;
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, report) };
        Ok(())
    })
}
