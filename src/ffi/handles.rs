//! The registry of live C handles. Every handle the library gives out is recorded here with its
//! type, so a NULL, destroyed, foreign or wrong-type handle is reported as
//! `QDSIM_ERR_INVALID_HANDLE` without ever being dereferenced.
//!
//! The registry holds the objects themselves (behind `Arc`); a handle's address is only a key.
//! A call that looks a handle up gets its own `Arc`, so destroying a handle on one thread while
//! another thread is inside a call on it is safe.

use crate::error::{Error, ErrorKind, Result};
use parking_lot::RwLock;
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The types of handle the C API gives out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HandleKind {
    Manager,
    String,
    Matrix,
    CsrBuilder,
    Csr,
    Operator,
    EigenResult,
    Profiler,
    Mapped,
    #[cfg(feature = "gpu")]
    GpuPool,
}

impl HandleKind {
    fn c_name(self) -> &'static str {
        match self {
            HandleKind::Manager => "qdsim_manager",
            HandleKind::String => "string returned by qdsim",
            HandleKind::Matrix => "qdsim_matrix",
            HandleKind::CsrBuilder => "qdsim_csr_builder",
            HandleKind::Csr => "qdsim_csr",
            HandleKind::Operator => "qdsim_operator",
            HandleKind::EigenResult => "qdsim_eigen_result",
            HandleKind::Profiler => "qdsim_profiler",
            HandleKind::Mapped => "qdsim_mapped",
            #[cfg(feature = "gpu")]
            HandleKind::GpuPool => "qdsim_gpu_pool",
        }
    }
}

struct Entry {
    kind: HandleKind,
    object: Arc<dyn Any + Send + Sync>,
}

// A BTreeMap rather than a HashMap: its nodes are referenced from their start, so valgrind sees
// the registry (a process-lifetime static) as reachable, not as "possibly lost".
static HANDLES: RwLock<BTreeMap<usize, Entry>> = RwLock::new(BTreeMap::new());

/// Records `object` as a live handle of `kind` under address `key`.
pub(crate) fn register<T: Any + Send + Sync>(key: usize, kind: HandleKind, object: Arc<T>) {
    let previous = HANDLES.write().insert(key, Entry { kind, object });
    debug_assert!(previous.is_none(), "handle {key:#x} registered twice");
}

fn check<'a>(
    entry: Option<&'a Entry>,
    key: usize,
    kind: HandleKind,
    name: &str,
) -> Result<&'a Entry> {
    if key == 0 {
        return Err(Error::new(
            ErrorKind::NullArgument,
            format!("{name} is NULL"),
        ));
    }
    match entry {
        Some(entry) if entry.kind == kind => Ok(entry),
        Some(entry) => Err(Error::new(
            ErrorKind::InvalidHandle,
            format!(
                "{name} ({key:#x}) is a {}, not a {}",
                entry.kind.c_name(),
                kind.c_name()
            ),
        )),
        None => Err(Error::new(
            ErrorKind::InvalidHandle,
            format!(
                "{name} ({key:#x}) is not a live {} (destroyed already, or never created by qdsim)",
                kind.c_name()
            ),
        )),
    }
}

/// The object behind live handle `key` of `kind`; `name` is the argument's name for messages.
pub(crate) fn lookup<T: Any + Send + Sync>(
    key: usize,
    kind: HandleKind,
    name: &str,
) -> Result<Arc<T>> {
    let handles = HANDLES.read();
    let entry = check(handles.get(&key), key, kind, name)?;
    Ok(downcast(entry.object.clone()))
}

/// Registers `object` under its own address and returns that address as the C handle.
pub(crate) fn new_handle<H: Any + Send + Sync>(kind: HandleKind, object: H) -> *mut H {
    let object = Arc::new(object);
    let ptr = Arc::as_ptr(&object).cast_mut();
    register(ptr as usize, kind, object);
    ptr
}

/// Removes live handle `key` of `kind` and returns its object.
pub(crate) fn unregister<T: Any + Send + Sync>(
    key: usize,
    kind: HandleKind,
    name: &str,
) -> Result<Arc<T>> {
    let mut handles = HANDLES.write();
    check(handles.get(&key), key, kind, name)?;
    let entry = handles.remove(&key).expect("checked above");
    Ok(downcast(entry.object))
}

fn downcast<T: Any + Send + Sync>(object: Arc<dyn Any + Send + Sync>) -> Arc<T> {
    object
        .downcast::<T>()
        .unwrap_or_else(|_| panic!("handle registry holds a wrong object type"))
}
