//! The library's errors as Python exceptions: one class per [`ErrorKind`], all under
//! `qdsim_mem.QdsimError`, each carrying the library's message unchanged.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use qdsim_mem::{Error, ErrorKind};

create_exception!(
    qdsim_mem,
    QdsimError,
    PyException,
    "Base class of every error the library raises."
);
create_exception!(
    qdsim_mem,
    InvalidArgument,
    QdsimError,
    "An argument is out of range or inconsistent with the others."
);
create_exception!(
    qdsim_mem,
    OutOfMemory,
    QdsimError,
    "The operating system refused to provide memory."
);
create_exception!(
    qdsim_mem,
    LimitExceeded,
    QdsimError,
    "The request would cross the manager's memory limit (a solve that cannot fit is refused up front with its estimated need)."
);
create_exception!(
    qdsim_mem,
    NotOwned,
    QdsimError,
    "A block handed back to a manager is not one of its live allocations."
);
create_exception!(qdsim_mem, IoError, QdsimError, "A file operation failed.");
create_exception!(
    qdsim_mem,
    CorruptFile,
    QdsimError,
    "A file's contents are not what its format requires."
);
create_exception!(
    qdsim_mem,
    NotConverged,
    QdsimError,
    "A solve stopped before every requested pair met the tolerance; `args[1]` (also `.result`) holds the partial result, converged pairs first."
);
create_exception!(qdsim_mem, NoDevice, QdsimError, "No usable GPU.");
create_exception!(
    qdsim_mem,
    Cancelled,
    QdsimError,
    "The progress callback asked the solve to stop."
);
create_exception!(
    qdsim_mem,
    NotFound,
    QdsimError,
    "A named item (a tag, a checkpoint) does not exist."
);
create_exception!(
    qdsim_mem,
    MemoryCorrupted,
    QdsimError,
    "Memory outside a block's bounds was written (debug mode's red zones)."
);
create_exception!(
    qdsim_mem,
    InternalError,
    QdsimError,
    "A bug in qdsim-mem (please report it with the message)."
);

/// The Python exception for `error`, with its message.
pub(crate) fn to_py(error: Error) -> PyErr {
    let message = error.message().to_owned();
    match error.kind() {
        ErrorKind::NullArgument
        | ErrorKind::InvalidArgument
        | ErrorKind::InvalidHandle
        | ErrorKind::BufferTooSmall => InvalidArgument::new_err(message),
        ErrorKind::OutOfMemory => OutOfMemory::new_err(message),
        ErrorKind::LimitExceeded => LimitExceeded::new_err(message),
        ErrorKind::NotOwned => NotOwned::new_err(message),
        ErrorKind::Io => IoError::new_err(message),
        ErrorKind::CorruptFile => CorruptFile::new_err(message),
        ErrorKind::NotConverged => NotConverged::new_err(message),
        ErrorKind::NoDevice => NoDevice::new_err(message),
        ErrorKind::Cancelled => Cancelled::new_err(message),
        ErrorKind::NotFound => NotFound::new_err(message),
        ErrorKind::MemoryCorrupted => MemoryCorrupted::new_err(message),
        ErrorKind::Internal => InternalError::new_err(message),
        _ => QdsimError::new_err(message),
    }
}

/// `.map_err(to_py)` spelled as a method: `manager.stats().py()?`.
pub(crate) trait IntoPyResult<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for qdsim_mem::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// Registers the exception classes in module `m`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("QdsimError", py.get_type::<QdsimError>())?;
    m.add("InvalidArgument", py.get_type::<InvalidArgument>())?;
    m.add("OutOfMemory", py.get_type::<OutOfMemory>())?;
    m.add("LimitExceeded", py.get_type::<LimitExceeded>())?;
    m.add("NotOwned", py.get_type::<NotOwned>())?;
    m.add("IoError", py.get_type::<IoError>())?;
    m.add("CorruptFile", py.get_type::<CorruptFile>())?;
    m.add("NotConverged", py.get_type::<NotConverged>())?;
    m.add("NoDevice", py.get_type::<NoDevice>())?;
    m.add("Cancelled", py.get_type::<Cancelled>())?;
    m.add("NotFound", py.get_type::<NotFound>())?;
    m.add("MemoryCorrupted", py.get_type::<MemoryCorrupted>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    Ok(())
}
