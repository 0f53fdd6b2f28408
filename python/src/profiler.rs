//! `qdsim_mem.Profiler`: the sampling memory profiler of a manager (`Manager.profiler()`):
//! start/stop (or `with`), marks, and the history as CSV, JSON or an SVG plot.

use crate::errors::{IntoPyResult, InvalidArgument};
use pyo3::prelude::*;
use qdsim_mem::memory::MemoryManager;
use qdsim_mem::profiler::{ExportFormat, Profiler as RustProfiler, ProfilerConfig};
use std::path::PathBuf;
use std::time::Duration;

/// Samples a manager's bytes in use (total and per tag) on a background thread.
#[pyclass(module = "qdsim_mem", frozen)]
pub struct Profiler {
    inner: RustProfiler,
}

impl Profiler {
    pub(crate) fn create(
        manager: &MemoryManager,
        interval: f64,
        capacity: usize,
    ) -> PyResult<Self> {
        if !(interval.is_finite() && interval > 0.0) {
            return Err(InvalidArgument::new_err(format!(
                "sampling interval {interval} s must be positive"
            )));
        }
        let config = ProfilerConfig {
            interval: Duration::from_secs_f64(interval),
            capacity,
            ..ProfilerConfig::default()
        };
        Ok(Self {
            inner: RustProfiler::new(manager, config).py()?,
        })
    }
}

fn format_named(name: &str) -> PyResult<ExportFormat> {
    match name.to_ascii_lowercase().as_str() {
        "csv" => Ok(ExportFormat::Csv),
        "json" => Ok(ExportFormat::Json),
        "svg" => Ok(ExportFormat::Svg),
        other => Err(InvalidArgument::new_err(format!(
            "export format {other:?}: use \"csv\", \"json\" or \"svg\""
        ))),
    }
}

#[pymethods]
impl Profiler {
    /// Starts sampling (a first sample at once).
    fn start(&self) -> PyResult<()> {
        self.inner.start().py()
    }

    /// Stops sampling (a last sample first); the history stays.
    fn stop(&self, py: Python<'_>) {
        py.detach(|| self.inner.stop());
    }

    /// True while sampling.
    #[getter]
    fn running(&self) -> bool {
        self.inner.is_running()
    }

    /// Takes one sample now.
    fn sample_now(&self) {
        self.inner.sample_now();
    }

    /// Records a labelled instant ("assembly done") in the history.
    fn mark(&self, label: &str) -> PyResult<()> {
        self.inner.mark(label).py()
    }

    /// The history as text: `"csv"`, `"json"` or `"svg"`.
    #[pyo3(signature = (format="csv"))]
    fn export(&self, format: &str) -> PyResult<String> {
        Ok(self.inner.history().export(format_named(format)?))
    }

    /// Writes the history to `path`, in `format` or the one its extension names.
    #[pyo3(signature = (path, format=None))]
    fn write(&self, path: PathBuf, format: Option<&str>) -> PyResult<()> {
        let format = match format {
            Some(f) => format_named(f)?,
            None => format_named(path.extension().and_then(|e| e.to_str()).ok_or_else(|| {
                InvalidArgument::new_err(format!(
                    "{}: no extension to choose the format by (csv, json, svg)",
                    path.display()
                ))
            })?)?,
        };
        self.inner.history().write(format, &path).py()
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().inner.start().py()?;
        Ok(slf)
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        py.detach(|| self.inner.stop());
        false
    }
}
