//! Helpers shared by the modules of the test suite (and by `tests/gpu.rs`, which includes this
//! file with `#[path]`).

use qdsim_mem::memory::{ManagerConfig, MemoryManager};
use qdsim_mem::physics::constants::GAAS_MASS;
use qdsim_mem::physics::{Grid, parabolic_potential};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A manager with the default configuration.
pub fn manager() -> MemoryManager {
    MemoryManager::with_defaults().unwrap()
}

/// A manager whose first chunk is 1 MiB (the default configuration otherwise).
pub fn small_manager() -> MemoryManager {
    MemoryManager::new(ManagerConfig {
        initial_pool_size: 1 << 20,
        ..ManagerConfig::default()
    })
    .unwrap()
}

/// λ of the discrete Dirichlet Laplacian mode `p` (1-based) on `n` points of spacing `h`.
pub fn mode(n: usize, h: f64, p: usize) -> f64 {
    let s = (p as f64 * std::f64::consts::PI / (2.0 * (n as f64 + 1.0))).sin();
    4.0 / (h * h) * s * s
}

/// The parabolic potential of a GaAs dot with level spacing `hw` (eV) on `grid`.
pub fn dot_potential(grid: &Grid, hw: f64) -> Vec<f64> {
    let mut v = vec![0.0; grid.len()];
    parabolic_potential(grid, GAAS_MASS, hw, &mut v).unwrap();
    v
}

/// A file under the temporary directory with a unique name, removed on drop.
pub struct TempFile(PathBuf);

impl TempFile {
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        TempFile(std::env::temp_dir().join(format!("qdsim-test-{}-{n}-{name}", std::process::id())))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
