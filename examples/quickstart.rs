//! Quick start: allocate the arrays of a small 2D quantum-dot calculation from a memory manager,
//! tagged by what they hold, and print the statistics and the allocation report.
//!
//! Run with `cargo run --release --example quickstart`.

use num_complex::Complex64;
use qdsim_mem::memory::{ManagerConfig, MemoryManager, PoolBuffer, PoolKind};

fn main() -> qdsim_mem::Result<()> {
    let manager = MemoryManager::new(ManagerConfig {
        memory_limit: Some(1 << 30),
        ..ManagerConfig::default()
    })?;

    // A 400×400 grid: potential, 10 complex wavefunctions, and a 5-point CSR Hamiltonian.
    let (nx, ny, states) = (400usize, 400usize, 10usize);
    let n = nx * ny;
    let nnz = 5 * n - 2 * nx - 2 * ny;
    let mut potential = PoolBuffer::<f64>::zeroed(&manager, n, "potential")?;
    let psi = PoolBuffer::<Complex64>::zeroed(&manager, n * states, "wavefunctions")?;
    let values = PoolBuffer::<f64>::zeroed(&manager, nnz, "hamiltonian.values")?;
    let columns = PoolBuffer::<i32>::zeroed(&manager, nnz, "hamiltonian.columns")?;
    let row_ptr = PoolBuffer::<i32>::zeroed(&manager, n + 1, "hamiltonian.row_ptr")?;
    let scratch = PoolBuffer::<u8>::uninit_values(&manager, 3 << 20, "scratch")?;

    // Parabolic confinement, GaAs, ħω = 10 meV on a 120 nm box: V = (ħω)² r² / (4 ħ²/2m*).
    let hbar2_2m = 0.0380998212 / 0.067;
    let h = 120.0 / (nx + 1) as f64;
    for j in 0..ny {
        for i in 0..nx {
            let (x, y) = ((i + 1) as f64 * h - 60.0, (j + 1) as f64 * h - 60.0);
            potential[i + j * nx] = 0.010f64.powi(2) * (x * x + y * y) / (4.0 * hbar2_2m);
        }
    }

    let stats = manager.stats();
    let live: u64 = manager
        .live_allocations()
        .iter()
        .map(|a| a.size as u64)
        .sum();
    println!(
        "bytes in use        {:>12}  (sum of live blocks {live})",
        stats.bytes_in_use
    );
    println!("peak bytes in use   {:>12}", stats.peak_bytes_in_use);
    println!("footprint           {:>12}", stats.footprint_bytes);
    println!("live allocations    {:>12}", stats.live_allocations);
    println!("fragmentation       {:>12.4}", stats.fragmentation);
    println!("available (limit)   {:>12}", stats.available_bytes);
    println!(
        "complex pool        {:>12}  bytes in use",
        manager.pool_stats(PoolKind::Complex128).bytes_in_use
    );
    assert_eq!(stats.bytes_in_use, live);
    assert!(stats.peak_bytes_in_use >= stats.bytes_in_use);
    assert!((0.0..=1.0).contains(&stats.fragmentation));
    println!();
    print!("{}", manager.allocation_report());

    drop((psi, values, columns, row_ptr, scratch));
    println!();
    print!("{}", manager.leak_report());
    drop(potential);
    println!(
        "after freeing everything: {} bytes in use, {} bytes released by trim",
        manager.stats().bytes_in_use,
        manager.trim()
    );
    Ok(())
}
