//! The GPU layer measured (issue 9's targets), printed as a table:
//!
//! - pooled device alloc+free of 16 MiB (`DevicePool`, stream-ordered) against plain
//!   `cuMemAlloc`/`cuMemFree`;
//! - the NVRTC stencil apply on the 1000² and 4000² dot, f64 and complex, in TB/s of minimal
//!   traffic (x and the diagonal read once, y written once);
//! - cuSPARSE complex SpMV on the same grids, TB/s of minimal traffic (values, column indices and
//!   row pointers once, x and y once);
//! - the lowest 10 states of the 2D GaAs dot (docs/validation.md case 2) at 1000² — and 5000² when the
//!   device has the memory — on the GPU, with the time and the multiplicities of the shells,
//!   and the CPU solver on the 1000² problem in the same run for the ratio (the 5000² CPU solve
//!   runs with `QDSIM_GPU_BENCH_CPU_LARGE=1`).
//!
//! Run with `cargo bench --features gpu --bench gpu` (or `scripts/gpu-check.sh run` on a GPU
//! machine). Without a device, or without the feature, it prints `skipped: <reason>`.

#[cfg(feature = "gpu")]
mod measure {
    use num_complex::Complex64;
    use qdsim_mem::ErrorKind;
    use qdsim_mem::gpu::libraries::{Library, require};
    use qdsim_mem::gpu::{
        Device, DeviceCsr, DeviceOperator, DevicePool, DeviceStencil, DeviceVec, lowest_states,
    };
    use qdsim_mem::matrix::Scalar;
    use qdsim_mem::memory::MemoryManager;
    use qdsim_mem::physics::constants::GAAS_MASS;
    use qdsim_mem::physics::{Grid, HamiltonianSpec, StencilOperator, parabolic_potential};
    use qdsim_mem::solver::{self, EigenOptions, EigenResult};
    use std::time::Instant;

    /// Seconds per call of `f` (after one warm-up call), the device synchronized before the
    /// clock stops.
    fn per_call(pool: &DevicePool, reps: usize, mut f: impl FnMut()) -> f64 {
        f();
        pool.synchronize().unwrap();
        let start = Instant::now();
        for _ in 0..reps {
            f();
        }
        pool.synchronize().unwrap();
        start.elapsed().as_secs_f64() / reps as f64
    }

    fn alloc_free(pool: &DevicePool) {
        let size = 16usize << 20;
        let pooled = per_call(pool, 2000, || {
            let a = pool.alloc(size, "bench").unwrap();
            pool.free(a).unwrap();
        });
        let plain = per_call(pool, 200, || {
            // SAFETY: allocated and freed at once; the pool's calls made the context current.
            unsafe {
                let a = cudarc::driver::result::malloc_sync(size).unwrap();
                cudarc::driver::result::free_sync(a).unwrap();
            }
        });
        println!(
            "{:<44} {:>12.2} µs {:>12.2} µs {:>8.1}x",
            "alloc+free 16 MiB (pool vs cuMemAlloc/Free)",
            pooled * 1e6,
            plain * 1e6,
            plain / pooled
        );
    }

    fn dot(points: usize, v: &mut Vec<f64>) -> HamiltonianSpec<'_> {
        let grid = Grid::dirichlet_box(&[120.0, 120.0], &[points, points]).unwrap();
        v.resize(grid.len(), 0.0);
        parabolic_potential(&grid, GAAS_MASS, 0.010, v).unwrap();
        HamiltonianSpec::new(grid, GAAS_MASS, Some(v))
    }

    fn products<T: Scalar>(pool: &DevicePool, manager: &MemoryManager, points: usize) {
        let mut v = Vec::new();
        let spec = dot(points, &mut v);
        let op = StencilOperator::<T>::new(manager, &spec, "bench.h").unwrap();
        let n = op.dim();
        let x = DeviceVec::from_host(pool, &vec![T::ONE; n], "bench.x").unwrap();
        let y = DeviceVec::<T>::uninit(pool, n, "bench.y").unwrap();
        let stencil = DeviceStencil::new(pool, &op).unwrap();
        let t = per_call(pool, 50, || {
            // SAFETY: x and y are live, distinct arrays of n elements; synchronized before drop.
            unsafe {
                stencil
                    .apply_block((x.address(), n), (y.address(), n), 1)
                    .unwrap()
            }
        });
        let bytes = 3 * n * size_of::<T>();
        let kind = if size_of::<T>() == 8 { "f64" } else { "c64" };
        println!(
            "{:<44} {:>12.3} ms {:>12.2} TB/s",
            format!("stencil apply {points}², {kind}"),
            t * 1e3,
            bytes as f64 / t / 1e12
        );
        let csr = op.to_csr("bench.csr").unwrap();
        drop(op);
        let device_csr = DeviceCsr::new(pool, &csr).unwrap();
        let t = per_call(pool, 50, || {
            // SAFETY: as above.
            unsafe {
                device_csr
                    .spmv(T::ONE, x.address(), T::ZERO_VALUE, y.address())
                    .unwrap()
            }
        });
        println!(
            "{:<44} {:>12.3} ms {:>12.2} TB/s",
            format!("cuSPARSE SpMV {points}², {kind}, {}-bit", csr.index_bits()),
            t * 1e3,
            device_csr.minimal_traffic_bytes() as f64 / t / 1e12
        );
        // y is read back once so that a failed kernel shows here rather than silently.
        let mut first = [T::ZERO_VALUE];
        y.read(0, &mut first).unwrap();
    }

    /// Shells of the spectrum: (mean meV, multiplicity), levels within 0.01 meV grouped.
    fn shells(values: &[f64]) -> String {
        let mut out: Vec<(f64, usize)> = Vec::new();
        for &e in values {
            let mev = e * 1e3;
            match out.last_mut() {
                Some((m, count)) if (mev - *m).abs() < 0.01 => {
                    *m = (*m * *count as f64 + mev) / (*count as f64 + 1.0);
                    *count += 1;
                }
                _ => out.push((mev, 1)),
            }
        }
        out.iter()
            .map(|(m, c)| format!("{m:.4}(×{c})"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn report(what: &str, r: &EigenResult<f64>) {
        println!(
            "{:<44} {:>12.3} s  {:>5} it  {}/{} converged  {}",
            what,
            r.seconds,
            r.iterations,
            r.converged,
            r.values.len(),
            shells(&r.values)
        );
    }

    fn solve(pool: &DevicePool, manager: &MemoryManager, points: usize, cpu: bool) {
        let mut v = Vec::new();
        let spec = dot(points, &mut v);
        let options = EigenOptions {
            k: 10,
            ..EigenOptions::default()
        };
        let block = options.k + (options.k / 10).max(1);
        // X, W, P and the work block (6 blocks), the multigrid's work arrays (≈ 4.7 in 2D).
        let need = 11 * (points * points * block * 8) as u64;
        let free = pool.device().memory_info().unwrap().0;
        if need > free * 9 / 10 {
            println!(
                "{:<44} not run: needs ~{} MiB of device memory, {} MiB free",
                format!("lowest 10, {points}² dot, GPU"),
                need >> 20,
                free >> 20
            );
            return;
        }
        let gpu = lowest_states::<f64>(pool, manager, &spec, &options, None);
        match &gpu {
            Ok(r) => report(&format!("lowest 10, {points}² dot, GPU"), r),
            Err(e) => println!("lowest 10, {points}² dot, GPU: FAILED: {e}"),
        }
        if !cpu {
            println!(
                "{:<44} not run (QDSIM_GPU_BENCH_CPU_LARGE=1 runs it)",
                format!("lowest 10, {points}² dot, CPU")
            );
            return;
        }
        let threads = rayon::current_num_threads();
        let cpu = solver::lowest_states::<f64>(manager, &spec, &options, None).unwrap();
        report(
            &format!("lowest 10, {points}² dot, CPU ({threads} threads)"),
            &cpu,
        );
        if let Ok(g) = gpu {
            let worst = g
                .values
                .iter()
                .zip(&cpu.values)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            println!(
                "{:<44} {:>12.1}x  (max |E_gpu − E_cpu| = {worst:.1e} eV)",
                format!("  GPU speed-up, {points}²"),
                cpu.seconds / g.seconds
            );
        }
    }

    pub fn run() {
        let device = match require(&[Library::Cublas, Library::Cusparse, Library::Nvrtc])
            .and_then(|()| Device::open(0))
        {
            Ok(d) => d,
            Err(e) if e.kind() == ErrorKind::NoDevice => {
                println!("skipped: no device: {}", e.message());
                return;
            }
            Err(e) => panic!("opening device 0: {e}"),
        };
        println!(
            "device 0: {} ({} GiB, compute capability {}.{})",
            device.name(),
            device.total_memory() >> 30,
            device.compute_capability().0,
            device.compute_capability().1
        );
        let pool = DevicePool::new(device, None).unwrap();
        let manager = MemoryManager::with_defaults().unwrap();
        println!(
            "{:<44} {:>15} {:>15}",
            "measurement", "value", "baseline/rate"
        );
        alloc_free(&pool);
        for points in [1000, 4000] {
            products::<f64>(&pool, &manager, points);
            products::<Complex64>(&pool, &manager, points);
        }
        solve(&pool, &manager, 1000, true);
        let large = std::env::var("QDSIM_GPU_BENCH_CPU_LARGE").is_ok_and(|v| v == "1");
        solve(&pool, &manager, 5000, large);
        let s = pool.stats().unwrap();
        println!(
            "device pool: peak {} MiB in use, {} allocations, {} live at the end",
            s.peak_bytes_in_use >> 20,
            s.allocation_count,
            s.live_allocations
        );
    }
}

fn main() {
    #[cfg(feature = "gpu")]
    measure::run();
    #[cfg(not(feature = "gpu"))]
    println!("skipped: built without the gpu feature (cargo bench --features gpu --bench gpu)");
}
