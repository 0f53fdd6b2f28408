//! numpy arrays whose memory is a pool block: [`Block`] owns the block (a `PoolBuffer`) and is
//! the array's base object, so the block goes back to the pool when numpy drops the last array
//! (or view) over it. A block keeps its manager alive by a Rust reference, never a Python one:
//! no reference cycle, nothing for the cycle collector to find.

use crate::errors::{IntoPyResult, InvalidArgument};
use crate::tracemalloc;
use ndarray::{ArrayViewD, IxDyn, ShapeBuilder};
use num_complex::Complex64;
use numpy::{Element, PyArray};
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyTuple};
use qdsim_mem::memory::{MemoryManager, PoolBuffer, PoolElement};

/// The element types a pool array can hold, by numpy dtype name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DType {
    F64,
    C128,
    I32,
    I64,
    U8,
}

impl DType {
    /// `numpy.dtype(dtype)` as one of ours (float64 when `dtype` is None).
    pub(crate) fn parse(py: Python<'_>, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let Some(dtype) = dtype else {
            return Ok(DType::F64);
        };
        let name: String = numpy_module(py)?
            .call_method1("dtype", (dtype,))?
            .getattr("name")?
            .extract()?;
        match name.as_str() {
            "float64" => Ok(DType::F64),
            "complex128" => Ok(DType::C128),
            "int32" => Ok(DType::I32),
            "int64" => Ok(DType::I64),
            "uint8" => Ok(DType::U8),
            other => Err(InvalidArgument::new_err(format!(
                "dtype {other} has no pool: use float64, complex128, int32, int64 or uint8"
            ))),
        }
    }
}

pub(crate) fn numpy_module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("numpy")
}

/// The pool buffer behind a [`Block`], by element type.
enum Storage {
    F64(PoolBuffer<f64>),
    C128(PoolBuffer<Complex64>),
    I32(PoolBuffer<i32>),
    I64(PoolBuffer<i64>),
    U8(PoolBuffer<u8>),
}

macro_rules! each_storage {
    ($storage:expr, $b:ident => $body:expr) => {
        match $storage {
            Storage::F64($b) => $body,
            Storage::C128($b) => $body,
            Storage::I32($b) => $body,
            Storage::I64($b) => $body,
            Storage::U8($b) => $body,
        }
    };
}

/// A pool block owned by Python: the base object of the numpy arrays over it.
#[pyclass(module = "qdsim_mem", frozen)]
pub struct Block {
    storage: Storage,
    tag: String,
}

impl Block {
    fn start(&self) -> usize {
        each_storage!(&self.storage, b => b.as_raw_ptr() as usize)
    }

    fn bytes(&self) -> usize {
        each_storage!(&self.storage, b => b.size_bytes())
    }
}

#[pymethods]
impl Block {
    /// Bytes the block holds.
    #[getter]
    fn nbytes(&self) -> usize {
        self.bytes()
    }

    /// The block's tag in the manager's statistics.
    #[getter]
    fn tag(&self) -> &str {
        &self.tag
    }

    /// The block's address (64-byte aligned).
    #[getter]
    fn address(&self) -> usize {
        self.start()
    }

    fn __repr__(&self) -> String {
        format!(
            "<qdsim_mem.Block {} bytes at {:#x}, tag {:?}>",
            self.bytes(),
            self.start(),
            self.tag
        )
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        tracemalloc::untrack(self.start());
    }
}

/// How a new array's elements start.
pub(crate) enum Fill<'a, 'py> {
    Zero,
    Uninit,
    Value(&'a Bound<'py, PyAny>),
}

/// The element count of `shape` (an int or a sequence of ints).
pub(crate) fn parse_shape(shape: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    if let Ok(n) = shape.extract::<usize>() {
        return Ok(vec![n]);
    }
    shape.extract::<Vec<usize>>().map_err(|_| {
        InvalidArgument::new_err(format!(
            "shape must be a non-negative int or a sequence of them, not {shape}"
        ))
    })
}

/// A new numpy array of `shape` over a block of `manager`'s pool for `dtype`, tagged `tag`,
/// C order or Fortran order (`fortran`).
pub(crate) fn new_array<'py>(
    py: Python<'py>,
    manager: &MemoryManager,
    shape: &[usize],
    dtype: DType,
    fortran: bool,
    tag: &str,
    fill: Fill<'_, 'py>,
) -> PyResult<Bound<'py, PyAny>> {
    match dtype {
        DType::F64 => typed::<f64>(py, manager, shape, fortran, tag, fill, Storage::F64),
        DType::C128 => typed::<Complex64>(py, manager, shape, fortran, tag, fill, Storage::C128),
        DType::I32 => typed::<i32>(py, manager, shape, fortran, tag, fill, Storage::I32),
        DType::I64 => typed::<i64>(py, manager, shape, fortran, tag, fill, Storage::I64),
        DType::U8 => typed::<u8>(py, manager, shape, fortran, tag, fill, Storage::U8),
    }
}

fn typed<'py, T>(
    py: Python<'py>,
    manager: &MemoryManager,
    shape: &[usize],
    fortran: bool,
    tag: &str,
    fill: Fill<'_, 'py>,
    wrap: fn(PoolBuffer<T>) -> Storage,
) -> PyResult<Bound<'py, PyAny>>
where
    T: PoolElement + Element + for<'a> FromPyObject<'a, 'py>,
    for<'a> <T as FromPyObject<'a, 'py>>::Error: Into<PyErr>,
{
    let len = shape
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b))
        .ok_or_else(|| InvalidArgument::new_err(format!("shape {shape:?} overflows")))?;
    let value = match fill {
        Fill::Value(v) => Some(v.extract::<T>().map_err(|e| {
            let e: PyErr = e.into();
            InvalidArgument::new_err(format!("fill value {v} does not fit the dtype: {e}"))
        })?),
        _ => None,
    };
    let zero = matches!(fill, Fill::Zero);
    // An empty array still gets a (one-element) block: numpy needs an aligned, non-null
    // pointer, and the block shows up in the statistics like any other.
    let elements = len.max(1);
    let buffer = py
        .detach(|| match value {
            Some(v) => PoolBuffer::filled(manager, elements, v, tag),
            None if zero => PoolBuffer::zeroed(manager, elements, tag),
            None => PoolBuffer::uninit_values(manager, elements, tag),
        })
        .py()?;
    let ptr = buffer.as_raw_ptr();
    let bytes = buffer.size_bytes();
    let block = Bound::new(
        py,
        Block {
            storage: wrap(buffer),
            tag: tag.to_owned(),
        },
    )?;
    tracemalloc::track(ptr as usize, bytes);
    let dims = IxDyn(shape);
    // SAFETY: `ptr` is the start of a block of at least `len` initialised elements of `T`,
    // aligned to 64 bytes, owned by `block`; the view's layout (C or Fortran strides) stays
    // inside it.
    let view = unsafe { ArrayViewD::from_shape_ptr(dims.set_f(fortran), ptr.cast_const()) };
    // SAFETY: `block` becomes the array's base object: numpy keeps it (and so the block) alive
    // as long as the array or any view of it, and the block is never reallocated.
    let array = unsafe { PyArray::borrow_from_array(&view, block.into_any()) };
    Ok(array.into_any())
}

/// A read-only numpy view of the `nrows × ncols` column-major matrix at `ptr` (leading
/// dimension `ld`), kept alive by `owner`, reshaped to `shape` per column when given
/// (`(*grid_shape, ncols)` in Fortran order).
///
/// # Safety
/// `ptr` must point to `ld × (ncols − 1) + nrows` initialised elements that stay valid and
/// unmoved while `owner` lives.
pub(crate) unsafe fn matrix_view<'py, T: Element>(
    owner: Bound<'py, PyAny>,
    ptr: *const T,
    nrows: usize,
    ncols: usize,
    ld: usize,
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: per the function's contract.
    let view = unsafe { ndarray::ArrayView2::from_shape_ptr((nrows, ncols).strides((1, ld)), ptr) };
    // SAFETY: per the function's contract, `owner` keeps the memory.
    let array = unsafe { PyArray::borrow_from_array(&view, owner) };
    array.call_method(
        "setflags",
        (),
        Some(&[("write", false)].into_py_dict(array.py())?),
    )?;
    Ok(array.into_any())
}

/// `array` (a column of a result, Fortran-ordered over the grid) reshaped to `shape` without a
/// copy.
pub(crate) fn reshape_fortran<'py>(
    array: Bound<'py, PyAny>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyAny>> {
    let py = array.py();
    let shape = PyTuple::new(py, shape)?;
    let kwargs = [("order", "F")].into_py_dict(py)?;
    array.call_method("reshape", (shape,), Some(&kwargs))
}
