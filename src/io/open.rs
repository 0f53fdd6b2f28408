//! What every reader of untrusted files shares: opening only regular files (a FIFO with no
//! writer would block `open` forever, a character device such as `/dev/zero` never ends),
//! reading text lines of bounded length into fallibly grown buffers, and checking that a size
//! announced by a file can be held in memory before anything of that size is allocated.
//!
//! Errors follow the crate's convention: the operating system refusing is
//! [`ErrorKind::Io`], content that breaks a limit is [`ErrorKind::CorruptFile`], memory that
//! cannot be had is [`ErrorKind::OutOfMemory`]; every message names the file.

use crate::error::{Error, ErrorKind, Result};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, ErrorKind as IoKind};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// The longest text line (bytes, line end included) a reader accepts: far above any line of a
/// MatrixMarket file or an event log, far below what could exhaust memory.
pub(crate) const MAX_LINE_BYTES: usize = 1 << 20;

/// A word for what kind of non-regular file `t` is, for messages.
fn type_name(t: std::fs::FileType) -> &'static str {
    if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Opens `path` (writable too when `writable`) for reading `what` ("the MatrixMarket file", …),
/// refusing anything that is not a regular file with an [`ErrorKind::Io`] error naming the path
/// and its type. The open itself never blocks: it uses `O_NONBLOCK` (so a FIFO without a writer
/// opens at once instead of waiting forever), checks the descriptor with `fstat`, and clears
/// `O_NONBLOCK` again before returning the file.
pub(crate) fn open_regular_file(path: &Path, what: &str, writable: bool) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(writable)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("{}: cannot open {what}: {e}", path.display()),
            )
        })?;
    let file_type = file
        .metadata()
        .map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("{}: cannot inspect {what} (fstat): {e}", path.display()),
            )
        })?
        .file_type();
    if !file_type.is_file() {
        return Err(Error::new(
            ErrorKind::Io,
            format!(
                "{}: cannot read {what}: it is {}, not a regular file",
                path.display(),
                type_name(file_type)
            ),
        ));
    }
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is the open descriptor owned by `file`, alive for this call; F_GETFL only
    // reads its flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above; F_SETFL changes only the descriptor's status flags.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(Error::new(
            ErrorKind::Io,
            format!(
                "{}: cannot clear O_NONBLOCK on {what}: {}",
                path.display(),
                std::io::Error::last_os_error()
            ),
        ));
    }
    Ok(file)
}

/// Reads one line (up to and including `\n`, or to the end of the input) into `line`, which is
/// cleared first; returns the number of bytes read (0 at the end of the input). A line longer
/// than `max` bytes is [`ErrorKind::CorruptFile`] (naming `line_number`) and is never held in
/// memory whole; bytes that are not UTF-8 are `CorruptFile` too; a read failure is
/// [`ErrorKind::Io`]; a buffer that cannot grow is [`ErrorKind::OutOfMemory`].
pub(crate) fn read_bounded_line<R: BufRead>(
    reader: &mut R,
    line: &mut String,
    max: usize,
    line_number: usize,
) -> Result<usize> {
    line.clear();
    let mut bytes = std::mem::take(line).into_bytes();
    let mut done = false;
    while !done {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == IoKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("cannot read line {line_number}: {e}"),
                ));
            }
        };
        if chunk.is_empty() {
            break;
        }
        let take = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => {
                done = true;
                i + 1
            }
            None => chunk.len(),
        };
        if bytes.len() + take > max {
            return Err(Error::new(
                ErrorKind::CorruptFile,
                format!(
                    "line {line_number} is longer than the limit of {max} bytes (no line end \
                     within the first {max} bytes)"
                ),
            ));
        }
        bytes.try_reserve(take).map_err(|_| {
            Error::new(
                ErrorKind::OutOfMemory,
                format!(
                    "line {line_number}: cannot grow the line buffer to {} bytes",
                    bytes.len() + take
                ),
            )
        })?;
        bytes.extend_from_slice(&chunk[..take]);
        reader.consume(take);
    }
    let n = bytes.len();
    *line = String::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorKind::CorruptFile,
            format!(
                "line {line_number} is not UTF-8 text (invalid byte at column {})",
                e.utf8_error().valid_up_to() + 1
            ),
        )
    })?;
    Ok(n)
}

/// Refuses, with [`ErrorKind::OutOfMemory`], to go on when `bytes` (what a file's sizes imply
/// will be allocated for `what`) exceed the memory the system has available: anonymous
/// mappings are not reserved up front, so an absurd size would otherwise succeed and be killed
/// by the operating system later, when the pages are touched.
pub(crate) fn check_memory_for(bytes: u128, what: &str) -> Result<()> {
    let available = u128::from(crate::memory::os::system_available_memory());
    if bytes > available {
        return Err(Error::new(
            ErrorKind::OutOfMemory,
            format!(
                "{what} needs {bytes} bytes, more than the {available} bytes of memory the \
                 system has available"
            ),
        ));
    }
    Ok(())
}

/// An [`ErrorKind::OutOfMemory`] error for a `Vec` of `what` that could not grow.
pub(crate) fn vec_grow_error(what: &str, len: usize) -> Error {
    Error::new(
        ErrorKind::OutOfMemory,
        format!("cannot grow the list of {what} beyond {len} elements"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_refused_without_being_held() {
        let mut text = String::new();
        let data = "a".repeat(100);
        let mut r = std::io::Cursor::new(data.as_bytes());
        let e = read_bounded_line(&mut r, &mut text, 10, 3).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CorruptFile);
        assert!(e.message().contains("line 3") && e.message().contains("10 bytes"));
        let mut r = std::io::Cursor::new(&b"ab\ncd"[..]);
        assert_eq!(read_bounded_line(&mut r, &mut text, 10, 1).unwrap(), 3);
        assert_eq!(text, "ab\n");
        assert_eq!(read_bounded_line(&mut r, &mut text, 10, 2).unwrap(), 2);
        assert_eq!(text, "cd");
        assert_eq!(read_bounded_line(&mut r, &mut text, 10, 3).unwrap(), 0);
    }
}
