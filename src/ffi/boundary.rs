//! What every C entry point goes through: the panic boundary, the thread-local last-error
//! message, and checked reading of pointer arguments and writing of out-parameters.

use super::status::qdsim_status;
use crate::error::{Error, ErrorKind, Result};
use std::any::Any;
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error.
pub(crate) fn set_last_error(message: &str) {
    let text = CString::new(message.replace('\0', "\\0")).expect("NULs were escaped");
    LAST_ERROR.with(|last| *last.borrow_mut() = text);
}

/// The message of the most recent failed `qdsim_*` call on the calling thread, or "" if none
/// has failed.
///
/// The text says what was asked, which limit applied and what value was seen. The pointer stays
/// valid until the next failing `qdsim_*` call on the same thread; copy the text to keep it.
/// Never free it. Thread safety: each thread has its own message.
#[unsafe(no_mangle)]
pub extern "C" fn qdsim_last_error_message() -> *const c_char {
    catch_unwind(|| LAST_ERROR.with(|last| last.borrow().as_ptr())).unwrap_or(c"".as_ptr())
}

/// Runs the body of C function `function`, turning its error or panic into a status code and
/// the thread's last-error message (prefixed with the function's name). On success it costs
/// nothing beyond the body: no allocation, no thread-local access (unwinding is zero-cost until
/// a panic).
#[inline]
pub(crate) fn guard(function: &str, body: impl FnOnce() -> Result<()>) -> qdsim_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => qdsim_status::QDSIM_OK,
        Ok(Err(error)) => report_error(function, error),
        Err(payload) => report_panic(function, payload),
    }
}

/// Records `error` of C function `function` as the thread's last error; its status code.
#[cold]
#[inline(never)]
fn report_error(function: &str, error: Error) -> qdsim_status {
    set_last_error(&format!("{function}: {}", error.message()));
    error.kind().into()
}

/// Records a panic in C function `function` as the thread's last error.
#[cold]
#[inline(never)]
fn report_panic(function: &str, payload: Box<dyn Any + Send>) -> qdsim_status {
    set_last_error(&format!(
        "{function}: internal error (panic: {}); please report this",
        panic_text(payload.as_ref())
    ));
    qdsim_status::QDSIM_ERR_INTERNAL
}

fn panic_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown payload")
}

/// A non-null, aligned out-parameter `name`, or the error to report.
pub(crate) fn out_param<T>(ptr: *mut T, name: &str) -> Result<NonNull<T>> {
    let ptr = NonNull::new(ptr)
        .ok_or_else(|| Error::new(ErrorKind::NullArgument, format!("{name} is NULL")))?;
    if !ptr.as_ptr().is_aligned() {
        return Err(Error::invalid_argument(format!(
            "{name} ({:p}) is not aligned to {} bytes",
            ptr.as_ptr(),
            align_of::<T>()
        )));
    }
    Ok(ptr)
}

/// Writes `value` through out-parameter `ptr` (checked by [`out_param`]).
///
/// # Safety
/// `ptr` must point to writable memory for a `T` that the caller owns.
pub(crate) unsafe fn write_out<T>(ptr: NonNull<T>, value: T) {
    // SAFETY: non-null and aligned (checked by `out_param`); writable per the caller's contract.
    // `write` does not drop the old contents, which may be uninitialized.
    unsafe { ptr.as_ptr().write(value) }
}

/// A non-null, aligned input pointer `name`, as a reference.
///
/// # Safety
/// When not NULL, `ptr` must point to a valid, initialized `T` that outlives `'a`.
pub(crate) unsafe fn in_param<'a, T>(ptr: *const T, name: &str) -> Result<&'a T> {
    let ptr = out_param(ptr.cast_mut(), name)?;
    // SAFETY: non-null and aligned (checked above), valid per the caller's contract.
    Ok(unsafe { ptr.as_ref() })
}

/// `len` elements at `ptr` (argument `name`) as a slice; NULL is refused unless `len` is 0.
///
/// # Safety
/// When `len > 0`, `ptr` must point to `len` initialized elements that stay valid and unmodified
/// for `'a`.
pub(crate) unsafe fn in_slice<'a, T>(ptr: *const T, len: usize, name: &str) -> Result<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    let ptr = out_param(ptr.cast_mut(), name)?;
    // SAFETY: non-null and aligned (checked), `len` valid elements per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr.as_ptr(), len) })
}

/// `len` writable elements at `ptr` (argument `name`) as a mutable slice.
///
/// # Safety
/// When `len > 0`, `ptr` must point to `len` writable elements used by nothing else for `'a`.
pub(crate) unsafe fn out_slice<'a, T>(ptr: *mut T, len: usize, name: &str) -> Result<&'a mut [T]> {
    if len == 0 {
        return Ok(&mut []);
    }
    let ptr = out_param(ptr, name)?;
    // SAFETY: non-null and aligned (checked), `len` writable elements per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), len) })
}

/// Refuses an input array `x` that overlaps the output array `y` (results would be garbage).
pub(crate) fn check_disjoint<T>(
    x: *const T,
    x_len: usize,
    y: *const T,
    y_len: usize,
) -> Result<()> {
    let (x_bytes, y_bytes) = (x_len * size_of::<T>(), y_len * size_of::<T>());
    let (x, y) = (x as usize, y as usize);
    if x_len > 0 && y_len > 0 && x < y + y_bytes && y < x + x_bytes {
        return Err(Error::invalid_argument(format!(
            "x ({x:#x}) and y ({y:#x}) overlap; the product needs separate arrays"
        )));
    }
    Ok(())
}

/// The UTF-8 text of C string `ptr` named `name`; NULL gives `None`.
///
/// # Safety
/// When not NULL, `ptr` must point to a NUL-terminated string.
pub(crate) unsafe fn optional_str<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null and NUL-terminated per the caller's contract.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str()
        .map(Some)
        .map_err(|e| Error::invalid_argument(format!("{name} is not valid UTF-8: {e}")))
}

/// Copies `text` into a fixed-size C character array, NUL-terminated (text must fit).
pub(crate) fn copy_to_char_array<const N: usize>(text: &str) -> [c_char; N] {
    let mut out = [0 as c_char; N];
    for (dst, &src) in out.iter_mut().zip(text.as_bytes().iter().take(N - 1)) {
        *dst = src as c_char;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        // SAFETY: the pointer is this thread's NUL-terminated message, read before the next call.
        unsafe { CStr::from_ptr(qdsim_last_error_message()) }
            .to_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_panic_becomes_internal_with_its_text() {
        let status = guard("qdsim_test_fn", || panic!("boom {}", 42));
        assert_eq!(status, qdsim_status::QDSIM_ERR_INTERNAL);
        let message = last_error();
        assert!(
            message.starts_with("qdsim_test_fn: internal error (panic: boom 42)"),
            "{message}"
        );
    }

    #[test]
    fn an_error_sets_status_and_message_and_success_keeps_it() {
        let status = guard("qdsim_x", || {
            Err(Error::new(ErrorKind::NotFound, "no such tag"))
        });
        assert_eq!(status, qdsim_status::QDSIM_ERR_NOT_FOUND);
        assert_eq!(last_error(), "qdsim_x: no such tag");
        assert_eq!(guard("qdsim_y", || Ok(())), qdsim_status::QDSIM_OK);
        assert_eq!(last_error(), "qdsim_x: no such tag");
    }

    #[test]
    fn messages_are_per_thread() {
        guard("main", || Err(Error::invalid_argument("here")));
        std::thread::spawn(|| assert_eq!(last_error(), ""))
            .join()
            .unwrap();
        assert_eq!(last_error(), "main: here");
    }

    #[test]
    fn out_params_are_checked() {
        let mut x = 0u64;
        assert!(out_param(&mut x as *mut u64, "out").is_ok());
        let err = out_param(std::ptr::null_mut::<u64>(), "out").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NullArgument);
        let misaligned = (&mut x as *mut u64 as usize + 1) as *mut u64;
        assert_eq!(
            out_param(misaligned, "out").unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn char_arrays_are_terminated() {
        let a: [c_char; 4] = copy_to_char_array("abcdef");
        assert_eq!(a, [b'a' as c_char, b'b' as c_char, b'c' as c_char, 0]);
    }
}
