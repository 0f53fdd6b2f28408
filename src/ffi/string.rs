//! Strings the library returns to C (reports): registered so that freeing one twice, or freeing
//! a pointer that is not one, is reported instead of corrupting the heap.

use super::boundary::guard;
use super::handles::{self, HandleKind};
use super::status::qdsim_status;
use crate::error::{Error, Result};
use std::ffi::{CString, c_char};
use std::sync::Arc;

/// Hands `text` to C as a newly allocated NUL-terminated string to be freed with
/// `qdsim_string_free`.
pub(crate) fn new_c_string(text: String) -> Result<*mut c_char> {
    let text = CString::new(text)
        .map_err(|e| Error::invalid_argument(format!("text contains a NUL byte: {e}")))?;
    let text = Arc::new(text);
    let ptr = text.as_ptr().cast_mut();
    handles::register(ptr as usize, HandleKind::String, text);
    Ok(ptr)
}

/// Frees a string returned by a `qdsim_*` function (reports). NULL is a no-op.
///
/// Returns `QDSIM_ERR_INVALID_HANDLE` (and frees nothing) when `text` is not a live string
/// returned by this library, e.g. when it was freed already. Thread safety: any thread.
///
/// # Safety
/// `text` is not used after a successful call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_string_free(text: *mut c_char) -> qdsim_status {
    guard("qdsim_string_free", || {
        if text.is_null() {
            return Ok(());
        }
        handles::unregister::<CString>(text as usize, HandleKind::String, "text")?;
        Ok(())
    })
}
