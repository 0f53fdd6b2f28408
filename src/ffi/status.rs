//! `qdsim_status`, the result of every fallible C function, and its mapping from [`ErrorKind`].

use crate::error::ErrorKind;
use std::ffi::{CStr, c_char};

/// Result code of every fallible `qdsim_*` function. `QDSIM_OK` is 0; every other value is a
/// failure, described further by `qdsim_last_error_message()` on the same thread.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum qdsim_status {
    /// Success.
    QDSIM_OK = 0,
    /// A required pointer argument was NULL.
    QDSIM_ERR_NULL_ARGUMENT = 1,
    /// An argument was out of range or inconsistent (size overflow, bad alignment, unknown pool…).
    QDSIM_ERR_INVALID_ARGUMENT = 2,
    /// The operating system could not provide the memory.
    QDSIM_ERR_OUT_OF_MEMORY = 3,
    /// The request would cross the manager's memory limit.
    QDSIM_ERR_LIMIT_EXCEEDED = 4,
    /// The handle is not a live handle of the expected type (destroyed, or another type).
    QDSIM_ERR_INVALID_HANDLE = 5,
    /// The pointer is not a live allocation of this manager (double free, interior pointer,
    /// pointer from another manager or from malloc).
    QDSIM_ERR_NOT_OWNED = 6,
    /// An I/O operation failed.
    QDSIM_ERR_IO = 7,
    /// A file is truncated, corrupted, of the wrong type or of an unknown version.
    QDSIM_ERR_CORRUPT_FILE = 8,
    /// An iterative solver stopped before meeting its tolerance.
    QDSIM_ERR_NOT_CONVERGED = 9,
    /// No usable GPU.
    QDSIM_ERR_NO_DEVICE = 10,
    /// A progress callback asked to stop.
    QDSIM_ERR_CANCELLED = 11,
    /// A caller-provided buffer is too small for the result.
    QDSIM_ERR_BUFFER_TOO_SMALL = 12,
    /// A named item (such as a tag) does not exist.
    QDSIM_ERR_NOT_FOUND = 13,
    /// A bug in qdsim-mem, including a caught panic. Please report it with the message.
    QDSIM_ERR_INTERNAL = 14,
    /// Memory outside a block's bounds was written: the debug mode found its red zones changed
    /// (the message names the block, its tag and the offset of the first changed byte).
    QDSIM_ERR_MEMORY_CORRUPTED = 15,
}

use qdsim_status::*;

impl From<ErrorKind> for qdsim_status {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::NullArgument => QDSIM_ERR_NULL_ARGUMENT,
            ErrorKind::InvalidArgument => QDSIM_ERR_INVALID_ARGUMENT,
            ErrorKind::OutOfMemory => QDSIM_ERR_OUT_OF_MEMORY,
            ErrorKind::LimitExceeded => QDSIM_ERR_LIMIT_EXCEEDED,
            ErrorKind::InvalidHandle => QDSIM_ERR_INVALID_HANDLE,
            ErrorKind::NotOwned => QDSIM_ERR_NOT_OWNED,
            ErrorKind::Io => QDSIM_ERR_IO,
            ErrorKind::CorruptFile => QDSIM_ERR_CORRUPT_FILE,
            ErrorKind::NotConverged => QDSIM_ERR_NOT_CONVERGED,
            ErrorKind::NoDevice => QDSIM_ERR_NO_DEVICE,
            ErrorKind::Cancelled => QDSIM_ERR_CANCELLED,
            ErrorKind::BufferTooSmall => QDSIM_ERR_BUFFER_TOO_SMALL,
            ErrorKind::NotFound => QDSIM_ERR_NOT_FOUND,
            ErrorKind::Internal => QDSIM_ERR_INTERNAL,
            ErrorKind::MemoryCorrupted => QDSIM_ERR_MEMORY_CORRUPTED,
        }
    }
}

/// Names of the status codes, indexed by value.
const STATUS_NAMES: [&CStr; 16] = [
    c"QDSIM_OK",
    c"QDSIM_ERR_NULL_ARGUMENT",
    c"QDSIM_ERR_INVALID_ARGUMENT",
    c"QDSIM_ERR_OUT_OF_MEMORY",
    c"QDSIM_ERR_LIMIT_EXCEEDED",
    c"QDSIM_ERR_INVALID_HANDLE",
    c"QDSIM_ERR_NOT_OWNED",
    c"QDSIM_ERR_IO",
    c"QDSIM_ERR_CORRUPT_FILE",
    c"QDSIM_ERR_NOT_CONVERGED",
    c"QDSIM_ERR_NO_DEVICE",
    c"QDSIM_ERR_CANCELLED",
    c"QDSIM_ERR_BUFFER_TOO_SMALL",
    c"QDSIM_ERR_NOT_FOUND",
    c"QDSIM_ERR_INTERNAL",
    c"QDSIM_ERR_MEMORY_CORRUPTED",
];

/// The name of status code `status` ("QDSIM_OK", "QDSIM_ERR_LIMIT_EXCEEDED", …), or
/// "QDSIM_UNKNOWN_STATUS" for a value that is not a status code.
///
/// The string is static: never free it. Thread safety: may be called from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn qdsim_status_string(status: i32) -> *const c_char {
    usize::try_from(status)
        .ok()
        .and_then(|i| STATUS_NAMES.get(i))
        .copied()
        .unwrap_or(c"QDSIM_UNKNOWN_STATUS")
        .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_own_name() {
        let all = [
            QDSIM_OK,
            QDSIM_ERR_NULL_ARGUMENT,
            QDSIM_ERR_INVALID_ARGUMENT,
            QDSIM_ERR_OUT_OF_MEMORY,
            QDSIM_ERR_LIMIT_EXCEEDED,
            QDSIM_ERR_INVALID_HANDLE,
            QDSIM_ERR_NOT_OWNED,
            QDSIM_ERR_IO,
            QDSIM_ERR_CORRUPT_FILE,
            QDSIM_ERR_NOT_CONVERGED,
            QDSIM_ERR_NO_DEVICE,
            QDSIM_ERR_CANCELLED,
            QDSIM_ERR_BUFFER_TOO_SMALL,
            QDSIM_ERR_NOT_FOUND,
            QDSIM_ERR_INTERNAL,
            QDSIM_ERR_MEMORY_CORRUPTED,
        ];
        assert_eq!(all.len(), STATUS_NAMES.len());
        for status in all {
            // SAFETY: qdsim_status_string returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(qdsim_status_string(status as i32)) };
            assert_eq!(name.to_str().unwrap(), format!("{status:?}"));
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(qdsim_status_string(-1)) };
        assert_eq!(unknown, c"QDSIM_UNKNOWN_STATUS");
    }
}
