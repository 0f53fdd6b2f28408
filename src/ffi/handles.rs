//! The registry of live C handles. Every handle the library gives out is recorded here with its
//! type, so a NULL, destroyed, foreign or wrong-type handle is reported as
//! `QDSIM_ERR_INVALID_HANDLE` without ever being dereferenced.
//!
//! The registry holds the objects themselves (behind `Arc`); a handle's address is only a key.
//! A call that looks a handle up gets its own `Arc` (or borrows one from its thread's cache,
//! [`super::handle_cache`]), so destroying a handle on one thread while another thread is
//! inside a call on it is safe: the object lives until that call returns.

use crate::error::{Error, ErrorKind, Result};
use parking_lot::RwLock;
use std::any::Any;
use std::cell::RefCell;
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
    /// The C type name ("qdsim_matrix").
    pub(crate) fn c_name(self) -> &'static str {
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

/// The first live handle of one of `kinds` whose object `owns` accepts: its C type name and its
/// address. `owns` runs with the registry read-locked: it must not block nor create or destroy
/// handles.
pub(crate) fn find(
    kinds: &[HandleKind],
    owns: impl Fn(&(dyn Any + Send + Sync)) -> bool,
) -> Option<(&'static str, usize)> {
    HANDLES
        .read()
        .iter()
        .filter(|(_, entry)| kinds.contains(&entry.kind))
        .find(|(_, entry)| owns(entry.object.as_ref()))
        .map(|(&key, entry)| (entry.kind.c_name(), key))
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
    let entry = {
        let mut handles = HANDLES.write();
        check(handles.get(&key), key, kind, name)?;
        handles.remove(&key).expect("checked above")
    };
    // After the removal: a thread that sees the new epoch finds the handle gone.
    super::handle_cache::forget(key);
    super::manager_lane::forget(key);
    Ok(downcast(entry.object))
}

fn downcast<T: Any + Send + Sync>(object: Arc<dyn Any + Send + Sync>) -> Arc<T> {
    object
        .downcast::<T>()
        .unwrap_or_else(|_| panic!("handle registry holds a wrong object type"))
}

thread_local! {
    /// Handles a call on this thread holds while it runs user code (a solve calling its
    /// progress callback), innermost last.
    static HELD_HERE: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Marks handle `key` as held by a call on this thread until dropped (see [`held_here`]).
pub(crate) struct HeldHere(usize);

impl HeldHere {
    pub(crate) fn new(key: usize) -> Self {
        HELD_HERE.with(|held| held.borrow_mut().push(key));
        HeldHere(key)
    }
}

impl Drop for HeldHere {
    fn drop(&mut self) {
        HELD_HERE.with(|held| {
            let mut held = held.borrow_mut();
            if let Some(i) = held.iter().rposition(|&k| k == self.0) {
                held.remove(i);
            }
        });
    }
}

/// True when a call further up this thread's stack holds handle `key` (this call comes from a
/// callback that call runs): waiting for the handle would wait for ourselves.
pub(crate) fn held_here(key: usize) -> bool {
    HELD_HERE
        .try_with(|held| held.borrow().contains(&key))
        .unwrap_or(false)
}
