//! Seeing memory over time: a sampling profiler that records a manager's statistics in a
//! background thread, named marks, and exports (CSV, JSON, an SVG plot).
//!
//! The exact, event-driven tools live with the manager in [`crate::memory`]: scoped statistics
//! (`push_scope`/`pop_scope`), checkpoints and `leaks_since`, and the allocation event log
//! with `replay`.
//!
//! | file | what lives there |
//! |---|---|
//! | `sampler.rs` | [`Profiler`](crate::profiler::Profiler), [`ProfilerConfig`](crate::profiler::ProfilerConfig): the sampling thread and marks |
//! | `history.rs` | [`History`](crate::profiler::History), [`Sample`](crate::profiler::Sample), [`Mark`](crate::profiler::Mark) and the CSV and JSON exports |
//! | `svg.rs` | the SVG plot |
//!
//! ```
//! use qdsim_mem::memory::{MemoryManager, PoolBuffer};
//! use qdsim_mem::profiler::{Profiler, ProfilerConfig};
//! use std::time::Duration;
//!
//! let manager = MemoryManager::with_defaults()?;
//! let profiler = Profiler::new(&manager, ProfilerConfig { interval: Duration::from_millis(5), ..Default::default() })?;
//! profiler.start()?;
//! let h = PoolBuffer::<f64>::zeroed(&manager, 1 << 20, "hamiltonian")?;
//! profiler.mark("assembly done")?;
//! drop(h);
//! profiler.stop();
//! let history = profiler.history();
//! assert_eq!(history.peak_bytes, 8 << 20);
//! assert!(history.to_svg("solve").contains("assembly done"));
//! # Ok::<(), qdsim_mem::Error>(())
//! ```

mod history;
mod sampler;
mod svg;

pub use history::{History, Mark, Sample};
pub use sampler::{MAX_MARK_LEN, Profiler, ProfilerConfig};

use crate::error::Result;
use std::path::Path;

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// One row per sample; marks as `# mark` comment lines.
    Csv,
    /// The whole history.
    Json,
    /// The plot.
    Svg,
}

impl History {
    /// The plot as an SVG document titled `title`.
    pub fn to_svg(&self, title: &str) -> String {
        svg::history_to_svg(self, title)
    }

    /// The history in `format`.
    pub fn export(&self, format: ExportFormat) -> String {
        match format {
            ExportFormat::Csv => self.to_csv(),
            ExportFormat::Json => self.to_json(),
            ExportFormat::Svg => self.to_svg("qdsim-mem memory profile"),
        }
    }

    /// Writes the history in `format` to `path`.
    pub fn write(&self, format: ExportFormat, path: &Path) -> Result<()> {
        history::write_file(path, &self.export(format))
    }
}
