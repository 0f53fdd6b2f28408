//! The library's error type: a kind (which maps one-to-one onto a C status code) and a
//! human-readable message that says what was asked, what limit applied and what value was seen.

use std::fmt;

/// What went wrong, coarsely. Each kind is one `qdsim_status` code in the C API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A required pointer argument was NULL (C API only).
    NullArgument,
    /// An argument was out of range or inconsistent (size overflow, bad alignment, …).
    InvalidArgument,
    /// The operating system refused to provide memory.
    OutOfMemory,
    /// The request would cross the manager's hard memory limit.
    LimitExceeded,
    /// A handle was NULL-free but not a live handle of the expected type (C API only).
    InvalidHandle,
    /// A pointer handed back to a manager is not a live allocation of that manager.
    NotOwned,
    /// An I/O operation failed.
    Io,
    /// A file's contents are not what the format requires.
    CorruptFile,
    /// An iterative method stopped before meeting its tolerance.
    NotConverged,
    /// No usable accelerator device.
    NoDevice,
    /// A progress callback asked to stop.
    Cancelled,
    /// A caller-provided buffer cannot hold the result.
    BufferTooSmall,
    /// A named item (tag, …) does not exist.
    NotFound,
    /// A bug in this library (including a caught panic).
    Internal,
    /// Memory outside a block's bounds was written (the debug mode's red zones changed).
    MemoryCorrupted,
}

/// An error with its kind and a message meant for the person running the program.
///
/// Boxed: an `Error` is one pointer, so a `Result<()>` or `Result<NonNull<u8>>` comes back in
/// registers. Errors are rare; the allocation and free paths return `Result`s millions of times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(Box<Details>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Details {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// An error of `kind` with `message`.
    #[cold]
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self(Box::new(Details {
            kind,
            message: message.into(),
        }))
    }

    /// Shorthand for [`ErrorKind::InvalidArgument`].
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The human-readable explanation.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The same error with `context: ` put in front of its message.
    pub fn context(mut self, context: &str) -> Self {
        self.0.message = format!("{context}: {}", self.0.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?})", self.0.message, self.0.kind)
    }
}

impl std::error::Error for Error {}

/// `Result` with this library's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
