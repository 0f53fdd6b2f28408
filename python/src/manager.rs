//! `qdsim_mem.Manager`: a memory manager — numpy arrays in its pools, its statistics, reports,
//! checkpoints and leak checks, scoped statistics as a context manager, the profiler, and the
//! solvers (which allocate every byte they hold from it).

use crate::arrays::{DType, Fill, new_array, parse_shape};
use crate::errors::{IntoPyResult, InvalidArgument};
use crate::profiler::Profiler;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use qdsim_mem::memory::{Checkpoint, ManagerConfig, MemoryManager, ScopeStats, Stats, TagStats};

/// A memory manager: typed, 64-byte-aligned pools with exact statistics and an optional limit.
///
/// `Manager(limit=None, *, thread_cache=True, red_zones=None)`: `limit` in bytes (requests
/// that would cross it raise `LimitExceeded`); `red_zones` turns the debug mode's guard bytes on
/// or off (None: on under valgrind or with `QDSIM_MEM_DEBUG=1`).
#[pyclass(module = "qdsim_mem", frozen)]
pub struct Manager {
    pub(crate) inner: MemoryManager,
}

#[pymethods]
impl Manager {
    #[new]
    #[pyo3(signature = (limit=None, *, thread_cache=true, red_zones=None))]
    fn new(limit: Option<u64>, thread_cache: bool, red_zones: Option<bool>) -> PyResult<Self> {
        let inner = MemoryManager::new(ManagerConfig {
            memory_limit: limit,
            thread_cache,
            red_zones,
            ..ManagerConfig::default()
        })
        .py()?;
        Ok(Self { inner })
    }

    /// A new array of zeros in the pool: `zeros(shape, dtype=float64, tag="", order="C")`.
    #[pyo3(signature = (shape, dtype=None, *, tag="", order="C"))]
    fn zeros<'py>(
        &self,
        py: Python<'py>,
        shape: &Bound<'py, PyAny>,
        dtype: Option<&Bound<'py, PyAny>>,
        tag: &str,
        order: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, shape, dtype, tag, order, Fill::Zero)
    }

    /// A new array whose values are whatever the block held (zero for fresh pages): the fastest
    /// for arrays written before they are read. Same arguments as `zeros`.
    #[pyo3(signature = (shape, dtype=None, *, tag="", order="C"))]
    fn empty<'py>(
        &self,
        py: Python<'py>,
        shape: &Bound<'py, PyAny>,
        dtype: Option<&Bound<'py, PyAny>>,
        tag: &str,
        order: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, shape, dtype, tag, order, Fill::Uninit)
    }

    /// A new array filled with `fill_value`.
    #[pyo3(signature = (shape, fill_value, dtype=None, *, tag="", order="C"))]
    fn full<'py>(
        &self,
        py: Python<'py>,
        shape: &Bound<'py, PyAny>,
        fill_value: &Bound<'py, PyAny>,
        dtype: Option<&Bound<'py, PyAny>>,
        tag: &str,
        order: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, shape, dtype, tag, order, Fill::Value(fill_value))
    }

    /// A copy of `obj` (anything `numpy.asarray` takes) in the pool, same shape, `dtype`
    /// defaulting to the source's.
    #[pyo3(signature = (obj, dtype=None, *, tag="", order="C"))]
    fn asarray<'py>(
        &self,
        py: Python<'py>,
        obj: &Bound<'py, PyAny>,
        dtype: Option<&Bound<'py, PyAny>>,
        tag: &str,
        order: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let np = crate::arrays::numpy_module(py)?;
        let source = np.call_method1("asarray", (obj,))?;
        let dtype = match dtype {
            Some(d) => d.clone(),
            None => source.getattr("dtype")?,
        };
        let shape = source.getattr("shape")?;
        let out = self.array(py, &shape, Some(&dtype), tag, order, Fill::Uninit)?;
        np.call_method1("copyto", (&out, &source))?;
        Ok(out)
    }

    /// The manager's statistics as a dict (bytes in use, peak, footprint, counts, limit, …).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        stats_dict(py, &self.inner.stats())
    }

    /// Statistics per tag: a dict from tag to a dict of counters, or the dict of one tag
    /// (`NotFound` when no allocation ever had it).
    #[pyo3(signature = (tag=None))]
    fn tag_stats<'py>(&self, py: Python<'py>, tag: Option<&str>) -> PyResult<Bound<'py, PyDict>> {
        match tag {
            Some(tag) => match self.inner.tag_stats(tag) {
                Some(t) => tag_dict(py, &t),
                None => Err(crate::errors::NotFound::new_err(format!(
                    "no allocation was ever tagged {tag:?}"
                ))),
            },
            None => {
                let out = PyDict::new(py);
                for t in self.inner.tags() {
                    out.set_item(&t.name, tag_dict(py, &t)?)?;
                }
                Ok(out)
            }
        }
    }

    /// The live allocation that starts at `address` (an int, or a numpy array: its data
    /// pointer) as a dict (`address`, `size`, `pool`, `tag`), or None when no block of this
    /// manager starts there.
    fn allocation_info<'py>(
        &self,
        py: Python<'py>,
        address: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let address: usize = match address.extract() {
            Ok(a) => a,
            Err(_) => address
                .getattr("__array_interface__")?
                .get_item("data")?
                .get_item(0)?
                .extract()?,
        };
        let Some(info) = self.inner.allocation_info(address as *const u8) else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("address", info.address)?;
        d.set_item("size", info.size)?;
        d.set_item("pool", info.pool.name())?;
        d.set_item("tag", info.tag)?;
        Ok(Some(d))
    }

    /// The allocation report (statistics, pools, tags, largest live blocks) as text.
    fn report(&self) -> String {
        self.inner.allocation_report()
    }

    /// The live allocations grouped by tag, as text.
    fn leak_report(&self) -> String {
        self.inner.leak_report()
    }

    /// A point in the allocation history, for `leaks_since`.
    fn checkpoint(&self) -> u64 {
        self.inner.checkpoint().0
    }

    /// Allocations made after `checkpoint` and still live, grouped by tag: a dict with `count`,
    /// `bytes`, `groups` (a list of (tag, count, bytes), most bytes first), `is_leak` (bytes ≥
    /// `threshold` and at least one block) and `text`.
    #[pyo3(signature = (checkpoint, threshold=1))]
    fn leaks_since<'py>(
        &self,
        py: Python<'py>,
        checkpoint: u64,
        threshold: u64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let checkpoint = Checkpoint(checkpoint);
        self.inner.validate_checkpoint(checkpoint).py()?;
        let check = self.inner.leaks_since(checkpoint, threshold);
        let out = PyDict::new(py);
        out.set_item("count", check.count)?;
        out.set_item("bytes", check.bytes)?;
        out.set_item("threshold", check.threshold)?;
        out.set_item("is_leak", check.is_leak())?;
        out.set_item("groups", PyList::new(py, &check.groups)?)?;
        out.set_item("text", check.text())?;
        Ok(out)
    }

    /// A context manager that records what happens inside it: `with mgr.scope("assembly") as s:`
    /// … then `s.stats` (allocations, frees, bytes allocated, net bytes, peak, seconds).
    fn scope(slf: Bound<'_, Self>, name: String) -> Scope {
        Scope {
            manager: slf.unbind(),
            name,
            stats: parking::Mutex::new(None),
        }
    }

    /// Gives cached free memory back to the operating system; returns the bytes released.
    fn trim(&self, py: Python<'_>) -> u64 {
        py.detach(|| self.inner.trim())
    }

    /// Checks the pools' internal consistency (and the debug mode's red zones).
    fn check(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.check_consistency()).py()
    }

    /// A sampling profiler of this manager (not started): `interval` seconds between samples.
    #[pyo3(signature = (interval=0.1, capacity=10_000))]
    fn profiler(&self, interval: f64, capacity: usize) -> PyResult<Profiler> {
        Profiler::create(&self.inner, interval, capacity)
    }

    fn __repr__(&self) -> String {
        let s = self.inner.stats();
        format!(
            "<qdsim_mem.Manager {} bytes in use in {} blocks, peak {}, limit {}>",
            s.bytes_in_use,
            s.live_allocations,
            s.peak_bytes_in_use,
            if s.limit_bytes == 0 || s.limit_bytes == u64::MAX {
                "none".to_owned()
            } else {
                s.limit_bytes.to_string()
            }
        )
    }
}

impl Manager {
    fn array<'py>(
        &self,
        py: Python<'py>,
        shape: &Bound<'py, PyAny>,
        dtype: Option<&Bound<'py, PyAny>>,
        tag: &str,
        order: &str,
        fill: Fill<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let fortran = match order {
            "C" | "c" => false,
            "F" | "f" => true,
            other => {
                return Err(InvalidArgument::new_err(format!(
                    "order {other:?}: use \"C\" or \"F\""
                )));
            }
        };
        let shape = parse_shape(shape)?;
        let dtype = DType::parse(py, dtype)?;
        new_array(py, &self.inner, &shape, dtype, fortran, tag, fill)
    }
}

fn stats_dict<'py>(py: Python<'py>, s: &Stats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("bytes_in_use", s.bytes_in_use)?;
    d.set_item("peak_bytes_in_use", s.peak_bytes_in_use)?;
    d.set_item("footprint_bytes", s.footprint_bytes)?;
    d.set_item("total_allocated_bytes", s.total_allocated_bytes)?;
    d.set_item("allocation_count", s.allocation_count)?;
    d.set_item("free_count", s.free_count)?;
    d.set_item("live_allocations", s.live_allocations)?;
    d.set_item("failed_allocations", s.failed_allocations)?;
    d.set_item("free_bytes", s.free_bytes)?;
    d.set_item("largest_free_block", s.largest_free_block)?;
    d.set_item("fragmentation", s.fragmentation)?;
    d.set_item("available_bytes", s.available_bytes)?;
    d.set_item("limit_bytes", s.limit_bytes)?;
    d.set_item("chunk_count", s.chunk_count)?;
    d.set_item("direct_allocations", s.direct_allocations)?;
    d.set_item("direct_bytes", s.direct_bytes)?;
    d.set_item("cached_bytes", s.cached_bytes)?;
    d.set_item("retained_bytes", s.retained_bytes)?;
    Ok(d)
}

fn tag_dict<'py>(py: Python<'py>, t: &TagStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("bytes_in_use", t.bytes_in_use)?;
    d.set_item("peak_bytes_in_use", t.peak_bytes_in_use)?;
    d.set_item("total_allocated_bytes", t.total_allocated_bytes)?;
    d.set_item("allocation_count", t.allocation_count)?;
    d.set_item("free_count", t.free_count)?;
    d.set_item("live_allocations", t.live_allocations)?;
    Ok(d)
}

fn scope_dict<'py>(py: Python<'py>, s: &ScopeStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &s.name)?;
    d.set_item("allocations", s.allocations)?;
    d.set_item("frees", s.frees)?;
    d.set_item("bytes_allocated", s.bytes_allocated)?;
    d.set_item("bytes_in_use_at_start", s.bytes_in_use_at_start)?;
    d.set_item("net_bytes", s.net_bytes)?;
    d.set_item("peak_bytes_in_use", s.peak_bytes_in_use)?;
    d.set_item("seconds", s.seconds)?;
    Ok(d)
}

use parking_lot as parking;

/// A scope of a manager's statistics (`Manager.scope`): opened by `with`, closed at its end;
/// `stats` holds what happened inside once it closed.
#[pyclass(module = "qdsim_mem", frozen)]
pub struct Scope {
    manager: Py<Manager>,
    name: String,
    stats: parking::Mutex<Option<ScopeStats>>,
}

#[pymethods]
impl Scope {
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        let this = slf.get();
        this.manager.get().inner.push_scope(&this.name);
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        let stats = self.manager.get().inner.pop_scope().py()?;
        *self.stats.lock() = Some(stats);
        Ok(false)
    }

    /// What happened inside the scope (None while it is open).
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.stats
            .lock()
            .as_ref()
            .map(|s| scope_dict(py, s))
            .transpose()
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }
}
