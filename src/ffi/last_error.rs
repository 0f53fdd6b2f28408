//! `qdsim_set_last_error_message`: lets a language binding (the Fortran module) report a call it
//! refuses itself, before reaching the library, through the same `qdsim_last_error_message()`.
//!
//! Thread safety: any thread; like the message itself, it is per thread.

use super::boundary::{guard, set_last_error};
use super::status::qdsim_status;
use crate::error::{Error, ErrorKind};
use std::ffi::{CStr, c_char};

/// Makes `message` (NUL-terminated; invalid UTF-8 is replaced by U+FFFD) this thread's last-error
/// message, as if a `qdsim_*` call had just failed with it. For bindings in other languages that
/// refuse a call on their side (a wrong array shape, an unsupported kind): their users then read
/// the reason where they read every other one. Returns `QDSIM_OK`, or
/// `QDSIM_ERR_NULL_ARGUMENT` (and that message instead) for a NULL `message`.
///
/// # Safety
/// `message` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_set_last_error_message(message: *const c_char) -> qdsim_status {
    guard("qdsim_set_last_error_message", || {
        if message.is_null() {
            return Err(Error::new(ErrorKind::NullArgument, "message is NULL"));
        }
        // SAFETY: non-null and NUL-terminated per the caller's contract.
        let text = unsafe { CStr::from_ptr(message) };
        set_last_error(&text.to_string_lossy());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::boundary::qdsim_last_error_message;

    fn last_error() -> String {
        // SAFETY: the pointer is this thread's NUL-terminated message, read before the next call.
        unsafe { CStr::from_ptr(qdsim_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn the_message_becomes_the_last_error_and_null_is_refused() {
        // SAFETY: a NUL-terminated literal.
        let status = unsafe { qdsim_set_last_error_message(c"binding: wrong shape".as_ptr()) };
        assert_eq!(status, qdsim_status::QDSIM_OK);
        assert_eq!(last_error(), "binding: wrong shape");
        // SAFETY: NULL is allowed (and refused).
        let status = unsafe { qdsim_set_last_error_message(std::ptr::null()) };
        assert_eq!(status, qdsim_status::QDSIM_ERR_NULL_ARGUMENT);
        assert_eq!(
            last_error(),
            "qdsim_set_last_error_message: message is NULL"
        );
        // SAFETY: NUL-terminated bytes that are not UTF-8.
        let status = unsafe { qdsim_set_last_error_message(c"bad \xff byte".as_ptr()) };
        assert_eq!(status, qdsim_status::QDSIM_OK);
        assert_eq!(last_error(), "bad \u{fffd} byte");
    }
}
