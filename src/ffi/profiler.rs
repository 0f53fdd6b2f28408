//! The C API of the profiler and the phase tools: `qdsim_profiler` (a sampling thread with
//! marks and CSV/JSON/SVG exports), scoped statistics (`qdsim_manager_push_scope` /
//! `qdsim_manager_pop_scope`), checkpoints with `qdsim_manager_leaks_since`, and the
//! allocation event log with `qdsim_replay_event_log`.
//!
//! Thread safety: every function may be called from any thread. A profiler may be started,
//! stopped, marked and destroyed from different threads; destroying a running profiler stops
//! its thread first. The scope stack is one per manager (not per thread): push and pop from
//! the thread that runs the phase.

use super::boundary::{copy_to_char_array, guard, in_param, optional_str, out_param, write_out};
use super::handles::{self, HandleKind};
use super::manager::{manager_arg, qdsim_manager};
use super::manager_report::QDSIM_TAG_CAPACITY;
use super::status::qdsim_status;
use super::string::new_c_string;
use crate::error::{Error, ErrorKind, Result};
use crate::memory::{Checkpoint, MAX_TAG_LEN, read_event_log, replay};
use crate::profiler::{ExportFormat, Profiler, ProfilerConfig};
use std::ffi::c_char;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A sampling profiler attached to a manager. Create it with `qdsim_profiler_create`, destroy
/// it with `qdsim_profiler_destroy`.
#[allow(non_camel_case_types)]
pub struct qdsim_profiler {
    profiler: Profiler,
}

/// Settings for `qdsim_profiler_create`. Fill it with `qdsim_profiler_config_default`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(non_camel_case_types)]
pub struct qdsim_profiler_config {
    /// Seconds between samples (default 0.1; at least 0.001).
    pub interval_s: f64,
    /// Samples kept; the oldest are dropped first (default 10 000; at least 2).
    pub capacity: usize,
    /// Marks kept; the oldest are dropped first (default 10 000; at least 1).
    pub max_marks: usize,
}

/// What a profiler recorded so far.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(non_camel_case_types)]
pub struct qdsim_profile_summary {
    /// Samples held.
    pub samples: u64,
    /// Marks held.
    pub marks: u64,
    /// Samples dropped because the buffer was full.
    pub dropped_samples: u64,
    /// Marks dropped because the buffer was full.
    pub dropped_marks: u64,
    /// Highest bytes in use seen in a sample.
    pub peak_bytes: u64,
    /// When that sample was taken, seconds since the profiler was created.
    pub peak_time_s: f64,
    /// The manager's exact peak bytes in use (sampling can miss short spikes).
    pub exact_peak_bytes: u64,
    /// 1 while the sampling thread runs, else 0.
    pub running: i32,
}

/// Selects an export format: one of the `QDSIM_FORMAT_*` values.
#[allow(non_camel_case_types)]
pub type qdsim_format = i32;
/// CSV: one row per sample (time, totals, pools, tags); marks as `# mark,<time>,<label>` lines.
pub const QDSIM_FORMAT_CSV: qdsim_format = 0;
/// JSON: the whole history.
pub const QDSIM_FORMAT_JSON: qdsim_format = 1;
/// SVG: the plot (stacked areas by tag, marks, peak), for a browser.
pub const QDSIM_FORMAT_SVG: qdsim_format = 2;

fn export_format(format: qdsim_format) -> Result<ExportFormat> {
    match format {
        QDSIM_FORMAT_CSV => Ok(ExportFormat::Csv),
        QDSIM_FORMAT_JSON => Ok(ExportFormat::Json),
        QDSIM_FORMAT_SVG => Ok(ExportFormat::Svg),
        _ => Err(Error::invalid_argument(format!(
            "format {format} is not QDSIM_FORMAT_CSV (0), QDSIM_FORMAT_JSON (1) or QDSIM_FORMAT_SVG (2)"
        ))),
    }
}

/// Statistics of one phase, from `qdsim_manager_pop_scope`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(non_camel_case_types)]
pub struct qdsim_scope_stats {
    /// The scope's name, NUL-terminated.
    pub name: [c_char; QDSIM_TAG_CAPACITY],
    /// Allocations made inside the scope.
    pub allocations: u64,
    /// Frees done inside the scope.
    pub frees: u64,
    /// Bytes allocated inside the scope.
    pub bytes_allocated: u64,
    /// Bytes in use when the scope was pushed.
    pub bytes_in_use_at_start: u64,
    /// Bytes in use at the pop minus at the push (negative when the phase freed more).
    pub net_bytes: i64,
    /// Highest bytes in use while the scope was open.
    pub peak_bytes_in_use: u64,
    /// Seconds the scope was open.
    pub seconds: f64,
}

/// The result of `qdsim_manager_leaks_since`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct qdsim_leak_check {
    /// Allocations made after the checkpoint that are still live.
    pub count: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Distinct tags among them.
    pub tags: u64,
    /// 1 when `bytes` reaches the threshold (and `count` > 0), else 0.
    pub is_leak: i32,
}

/// What `qdsim_replay_event_log` measured.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct qdsim_replay_summary {
    /// Allocations replayed.
    pub allocations: u64,
    /// Frees replayed.
    pub frees: u64,
    /// Highest bytes in use during the replay.
    pub peak_bytes_in_use: u64,
    /// Allocations still live at the end of the log.
    pub live_at_end: u64,
}

/// The UTF-8 text of required C string `ptr`.
///
/// # Safety
/// When not NULL, `ptr` must point to a NUL-terminated string.
unsafe fn required_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    // SAFETY: forwarded contract.
    unsafe { optional_str(ptr, name) }?
        .ok_or_else(|| Error::new(ErrorKind::NullArgument, format!("{name} is NULL")))
}

fn profiler_arg(profiler: *const qdsim_profiler) -> Result<Arc<qdsim_profiler>> {
    handles::lookup(profiler as usize, HandleKind::Profiler, "profiler")
}

/// Writes the default profiler settings into `*config`.
///
/// # Safety
/// `config` points to writable memory for a `qdsim_profiler_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_profiler_config_default(
    config: *mut qdsim_profiler_config,
) -> qdsim_status {
    guard("qdsim_profiler_config_default", || {
        let out = out_param(config, "config")?;
        let d = ProfilerConfig::default();
        let value = qdsim_profiler_config {
            interval_s: d.interval.as_secs_f64(),
            capacity: d.capacity,
            max_marks: d.max_marks,
        };
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, value) };
        Ok(())
    })
}

/// Creates a profiler for `manager` with `config` (NULL for the defaults), not yet started, and
/// writes its handle to `*out`. The profiler keeps the manager's pools alive until it is
/// destroyed, but destroying the manager first is safe (samples then read the closed manager).
///
/// Errors: `QDSIM_ERR_NULL_ARGUMENT`, `QDSIM_ERR_INVALID_HANDLE`, `QDSIM_ERR_INVALID_ARGUMENT`
/// (interval below 1 ms or not finite, capacity below 2, max_marks 0).
///
/// # Safety
/// `config` is NULL or points to a valid `qdsim_profiler_config`; `out` points to writable
/// memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_profiler_create(
    manager: *const qdsim_manager,
    config: *const qdsim_profiler_config,
    out: *mut *mut qdsim_profiler,
) -> qdsim_status {
    guard("qdsim_profiler_create", || {
        let out = out_param(out, "out")?;
        let manager = manager_arg(manager)?;
        let config = if config.is_null() {
            ProfilerConfig::default()
        } else {
            // SAFETY: non-null; valid per the contract.
            let c = unsafe { in_param(config, "config")? };
            if !c.interval_s.is_finite() || !(0.001..=3600.0).contains(&c.interval_s) {
                return Err(Error::invalid_argument(format!(
                    "interval_s {} must be between 0.001 (1 ms) and 3600 seconds",
                    c.interval_s
                )));
            }
            ProfilerConfig {
                interval: Duration::from_secs_f64(c.interval_s),
                capacity: c.capacity,
                max_marks: c.max_marks,
            }
        };
        let profiler = Profiler::new(&manager.manager, config)?;
        let ptr = handles::new_handle(HandleKind::Profiler, qdsim_profiler { profiler });
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    })
}

/// Starts the sampling thread (no-op when running).
///
/// # Safety
/// `profiler` is a handle or any pointer value (it is validated).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_profiler_start(profiler: *mut qdsim_profiler) -> qdsim_status {
    guard("qdsim_profiler_start", || {
        profiler_arg(profiler)?.profiler.start()
    })
}

/// Stops the sampling thread and waits for it (no-op when stopped). The history stays.
///
/// # Safety
/// `profiler` is a handle or any pointer value (it is validated).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_profiler_stop(profiler: *mut qdsim_profiler) -> qdsim_status {
    guard("qdsim_profiler_stop", || {
        profiler_arg(profiler)?.profiler.stop();
        Ok(())
    })
}

/// Records a sample now, in addition to the periodic ones (works while stopped too).
///
/// # Safety
/// `profiler` is a handle or any pointer value (it is validated).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_profiler_sample(profiler: *mut qdsim_profiler) -> qdsim_status {
    guard("qdsim_profiler_sample", || {
        profiler_arg(profiler)?.profiler.sample_now();
        Ok(())
    })
}

/// Records the named event `label` (1 to 200 bytes of UTF-8) at the current time, with a
/// sample. Marks appear as vertical lines in the SVG and as `# mark` lines in the CSV.
///
/// # Safety
/// `label` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_profiler_mark(
    profiler: *mut qdsim_profiler,
    label: *const c_char,
) -> qdsim_status {
    guard("qdsim_profiler_mark", || {
        let p = profiler_arg(profiler)?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let label = unsafe { required_str(label, "label")? };
        p.profiler.mark(label)
    })
}

/// Writes what the profiler recorded so far to `*out`.
///
/// # Safety
/// `out` points to writable memory for a `qdsim_profile_summary`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_profiler_summary(
    profiler: *const qdsim_profiler,
    out: *mut qdsim_profile_summary,
) -> qdsim_status {
    guard("qdsim_profiler_summary", || {
        let out = out_param(out, "out")?;
        let p = profiler_arg(profiler)?;
        let h = p.profiler.history();
        let value = qdsim_profile_summary {
            samples: h.samples.len() as u64,
            marks: h.marks.len() as u64,
            dropped_samples: h.dropped_samples,
            dropped_marks: h.dropped_marks,
            peak_bytes: h.peak_bytes,
            peak_time_s: h.peak_time,
            exact_peak_bytes: h.exact_peak_bytes,
            running: i32::from(p.profiler.is_running()),
        };
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, value) };
        Ok(())
    })
}

/// Writes the history in `format` (`QDSIM_FORMAT_CSV`, `_JSON` or `_SVG`) to the file `path`
/// (created or replaced). Errors: `QDSIM_ERR_IO` names the path and the reason.
///
/// # Safety
/// `path` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_profiler_write(
    profiler: *const qdsim_profiler,
    format: qdsim_format,
    path: *const c_char,
) -> qdsim_status {
    guard("qdsim_profiler_write", || {
        let p = profiler_arg(profiler)?;
        let format = export_format(format)?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let path = unsafe { required_str(path, "path")? };
        p.profiler.history().write(format, Path::new(path))
    })
}

/// Writes the history in `format` as a new string to `*text` (free it with
/// `qdsim_string_free`).
///
/// # Safety
/// `text` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_profiler_export(
    profiler: *const qdsim_profiler,
    format: qdsim_format,
    text: *mut *mut c_char,
) -> qdsim_status {
    guard("qdsim_profiler_export", || {
        let out = out_param(text, "text")?;
        let p = profiler_arg(profiler)?;
        let s = new_c_string(p.profiler.history().export(export_format(format)?))?;
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, s) };
        Ok(())
    })
}

/// Stops the profiler if it runs and destroys it. NULL is a no-op.
///
/// # Safety
/// `profiler` is not used after a successful call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_profiler_destroy(profiler: *mut qdsim_profiler) -> qdsim_status {
    guard("qdsim_profiler_destroy", || {
        if profiler.is_null() {
            return Ok(());
        }
        let p: Arc<qdsim_profiler> =
            handles::unregister(profiler as usize, HandleKind::Profiler, "profiler")?;
        // Another thread may still be inside a call on this profiler (holding its own Arc);
        // stop now so the thread ends even before the last reference goes.
        p.profiler.stop();
        Ok(())
    })
}

/// Opens a scope named `name` (1 to 63 bytes) on the manager's scope stack: the statistics of
/// everything until the matching `qdsim_manager_pop_scope`. Scopes nest.
///
/// # Safety
/// `name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_push_scope(
    manager: *mut qdsim_manager,
    name: *const c_char,
) -> qdsim_status {
    guard("qdsim_manager_push_scope", || {
        let m = manager_arg(manager)?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let name = unsafe { required_str(name, "name")? };
        if name.is_empty() || name.len() > MAX_TAG_LEN {
            return Err(Error::invalid_argument(format!(
                "scope name must have 1 to {MAX_TAG_LEN} bytes, has {}",
                name.len()
            )));
        }
        m.manager.push_scope(name);
        Ok(())
    })
}

/// Closes the innermost scope and writes its statistics to `*out`. Errors:
/// `QDSIM_ERR_INVALID_ARGUMENT` when no scope is open (nothing changes).
///
/// # Safety
/// `out` points to writable memory for a `qdsim_scope_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_pop_scope(
    manager: *mut qdsim_manager,
    out: *mut qdsim_scope_stats,
) -> qdsim_status {
    guard("qdsim_manager_pop_scope", || {
        let out = out_param(out, "out")?;
        let s = manager_arg(manager)?.manager.pop_scope()?;
        let value = qdsim_scope_stats {
            name: copy_to_char_array(&s.name),
            allocations: s.allocations,
            frees: s.frees,
            bytes_allocated: s.bytes_allocated,
            bytes_in_use_at_start: s.bytes_in_use_at_start,
            net_bytes: s.net_bytes,
            peak_bytes_in_use: s.peak_bytes_in_use,
            seconds: s.seconds,
        };
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, value) };
        Ok(())
    })
}

/// Writes a checkpoint (a point in the manager's allocation history) to `*out`, for
/// `qdsim_manager_leaks_since`.
///
/// # Safety
/// `out` points to writable memory for a `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_checkpoint(
    manager: *const qdsim_manager,
    out: *mut u64,
) -> qdsim_status {
    guard("qdsim_manager_checkpoint", || {
        let out = out_param(out, "out")?;
        let c = manager_arg(manager)?.manager.checkpoint();
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, c.0) };
        Ok(())
    })
}

/// Finds the allocations made after `checkpoint` that are still live; `*out` gets their count
/// and bytes, and `is_leak` = 1 when the bytes reach `threshold_bytes` (the seed used 1 MiB).
/// When `report` is not NULL, `*report` gets the list by tag as a new string (free it with
/// `qdsim_string_free`).
///
/// # Safety
/// `out` points to writable memory for a `qdsim_leak_check`; `report` is NULL or points to
/// writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_leaks_since(
    manager: *const qdsim_manager,
    checkpoint: u64,
    threshold_bytes: u64,
    out: *mut qdsim_leak_check,
    report: *mut *mut c_char,
) -> qdsim_status {
    guard("qdsim_manager_leaks_since", || {
        let out = out_param(out, "out")?;
        let m = manager_arg(manager)?;
        let checkpoint = Checkpoint(checkpoint);
        m.manager.validate_checkpoint(checkpoint)?;
        let check = m.manager.leaks_since(checkpoint, threshold_bytes);
        let text = if report.is_null() {
            None
        } else {
            Some(new_c_string(check.text())?)
        };
        let value = qdsim_leak_check {
            count: check.count,
            bytes: check.bytes,
            tags: check.groups.len() as u64,
            is_leak: i32::from(check.is_leak()),
        };
        if let Some(text) = text {
            // SAFETY: non-null; writable per the contract.
            unsafe { report.write(text) };
        }
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, value) };
        Ok(())
    })
}

/// Turns the allocation event log on (`on` ≠ 0) or off. Off by default; while on, every
/// allocation and free is recorded (about 40 bytes each).
///
/// # Safety
/// `manager` is a handle or any pointer value (it is validated).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_set_event_log(
    manager: *mut qdsim_manager,
    on: i32,
) -> qdsim_status {
    guard("qdsim_manager_set_event_log", || {
        manager_arg(manager)?.manager.set_event_log(on != 0);
        Ok(())
    })
}

/// Writes the events recorded so far to `path` as CSV (`seq,op,id,bytes,pool,tag`).
///
/// # Safety
/// `path` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_manager_write_event_log(
    manager: *const qdsim_manager,
    path: *const c_char,
) -> qdsim_status {
    guard("qdsim_manager_write_event_log", || {
        let m = manager_arg(manager)?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let path = unsafe { required_str(path, "path")? };
        m.manager.write_event_log(Path::new(path))
    })
}

/// Re-runs the event log at `path` against a fresh manager: `*out` gets the counts and the
/// peak; when `report` is not NULL, `*report` gets the text report with the size histogram
/// (free it with `qdsim_string_free`). Errors: `QDSIM_ERR_IO` (cannot read the file, or it is
/// not a regular file: a FIFO, a directory, a device), `QDSIM_ERR_CORRUPT_FILE` (names the
/// line, or the event no manager could accept: a line over 1 MiB, a tag over 63 bytes, a size
/// beyond the address space), `QDSIM_ERR_OUT_OF_MEMORY` (the log's allocations, or the log
/// itself, do not fit in memory).
///
/// # Safety
/// `path` is NULL or NUL-terminated; `out` points to writable memory for a
/// `qdsim_replay_summary`; `report` is NULL or points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_replay_event_log(
    path: *const c_char,
    out: *mut qdsim_replay_summary,
    report: *mut *mut c_char,
) -> qdsim_status {
    guard("qdsim_replay_event_log", || {
        let out = out_param(out, "out")?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let path = unsafe { required_str(path, "path")? };
        let r = replay(&read_event_log(Path::new(path))?)?;
        let text = if report.is_null() {
            None
        } else {
            Some(new_c_string(r.text())?)
        };
        if let Some(text) = text {
            // SAFETY: non-null; writable per the contract.
            unsafe { report.write(text) };
        }
        let value = qdsim_replay_summary {
            allocations: r.allocations,
            frees: r.frees,
            peak_bytes_in_use: r.peak_bytes_in_use,
            live_at_end: r.live_at_end,
        };
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, value) };
        Ok(())
    })
}
