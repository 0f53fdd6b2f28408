//! Out-of-core solves (issue 6): the LOBPCG blocks in memory-mapped scratch files give the same
//! states as in core; the placement rule; scratch files never outlive the solve (success, I/O
//! error, cancellation); I/O errors name the path and the size.
//!
//! Scratch files are unlinked as soon as they are created, so besides counting directory
//! entries the tests count the process's open descriptors that point into the scratch
//! directory (`/proc/self/fd`): three (X, W, P) during an out-of-core solve, none after it.

use crate::common::dot_potential;
use qdsim_mem::physics::constants::GAAS_MASS;
use qdsim_mem::physics::*;
use qdsim_mem::solver::*;
use qdsim_mem::{ErrorKind, memory::MemoryManager};
use std::path::{Path, PathBuf};

/// A fresh, empty scratch directory for one test, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "qdsim-ooc-test-{name}-{}-{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn entries(&self) -> usize {
        std::fs::read_dir(&self.0).unwrap().count()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Open descriptors of this process whose target lies in `dir` (unlinked files show as
/// "`path` (deleted)").
fn open_files_in(dir: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(dir))
        .count()
}

/// The parabolic dot of docs/validation.md case 2 (ħω = 10 meV, 120 nm box) on `points²`.
fn dot(points: usize) -> (Grid, Vec<f64>) {
    let grid = Grid::dirichlet_box(&[120.0, 120.0], &[points, points]).unwrap();
    let v = dot_potential(&grid, 0.010);
    (grid, v)
}

fn options(dir: &ScratchDir, placement: Placement) -> EigenOptions {
    EigenOptions {
        k: 10,
        // Tight, so that both runs end at the eigenvalues to rounding: the eigenvalue error is
        // below ‖r‖²/gap ≈ (1e-9·λ)²/gap ≈ 1e-18·λ here, far under the 1e-10 compared below.
        tol: 1e-9,
        placement,
        scratch_dir: Some(dir.0.clone()),
        ..EigenOptions::default()
    }
}

#[test]
fn out_of_core_equals_in_core_with_multiplicities() {
    let dir = ScratchDir::new("equal");
    let (grid, v) = dot(99);
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
    let m = MemoryManager::with_defaults().unwrap();
    let in_core = lowest_states::<f64>(&m, &spec, &options(&dir, Placement::InCore), None).unwrap();
    assert!(in_core.is_converged(), "{in_core:?}");
    assert_eq!(in_core.scratch_bytes, 0);

    let mut seen_open = 0;
    let mut watch = |_: &Progress| {
        seen_open = seen_open.max(open_files_in(&dir.0));
        false
    };
    let ooc = lowest_states::<f64>(
        &m,
        &spec,
        &EigenOptions {
            // Tiny: the chunks get the smallest working set.
            memory_budget: Some(1 << 20),
            ..options(&dir, Placement::OutOfCore)
        },
        Some(&mut watch),
    )
    .unwrap();
    assert!(ooc.is_converged(), "{ooc:?}");
    // X, 9801 × 10 doubles (leading dimension 9808; the finest grid drops the 11th column:
    // the 10th state ends the 40 meV shell), W and P of the wider of its two groups (the
    // 30 meV shell ends at the 6th state: 6 and 4 columns) in single precision (9801 floats
    // per column: 4901 doubles' worth, leading dimension 4904), each a whole number of pages, and
    // — the 1 MiB budget cannot hold the 10 result vectors beside the multigrid — the result's
    // own scratch file (10 such columns and a header page).
    let block = (9808 * 10 * 8usize).next_multiple_of(4096) as u64;
    let single = (4904 * 6 * 8usize).next_multiple_of(4096) as u64;
    let result = (9808 * 10 * 8 + 4096) as u64;
    let expected = block + 2 * single + result;
    assert!(ooc.vectors.is_mapped() && ooc.vectors.file_path().is_none());
    assert!(
        ooc.scratch_bytes >= expected && ooc.scratch_bytes < expected + 4 * 65536,
        "{}",
        ooc.scratch_bytes
    );
    assert_eq!(seen_open, 3, "X, W and P in scratch files during the solve");
    assert_eq!(
        open_files_in(&dir.0),
        1,
        "the result's unlinked file, while it lives"
    );
    assert_eq!(dir.entries(), 0);

    // Same arithmetic (W and P in single precision both ways); only the row chunks (and so
    // the order of the partial sums of the reductions) differ, and both runs converge to
    // residuals far below the eigenvalue tolerance: 1e-10 relative is rounding plus a wide
    // margin.
    assert_eq!(ooc.values.len(), in_core.values.len());
    for (a, b) in ooc.values.iter().zip(&in_core.values) {
        assert!((a - b).abs() <= 1e-10 * b.abs(), "{a} vs {b}");
    }
    // docs/validation.md case 2: 10, 20 (×2), 30 (×3), 40 (×4) meV; the 99² grid's
    // discretisation error grows with the level (9.9921, 19.9762, 29.95, 39.90 meV): within
    // 0.5 %.
    let mut levels: Vec<(f64, usize)> = Vec::new();
    for &e in &ooc.values {
        let mev = e * 1e3;
        match levels.last_mut() {
            Some((first, count)) if (mev - *first).abs() < 0.1 => *count += 1,
            _ => levels.push((mev, 1)),
        }
    }
    let counts: Vec<usize> = levels.iter().map(|l| l.1).collect();
    assert_eq!(counts, [1, 2, 3, 4], "{levels:?}");
    for ((mev, _), exact) in levels.iter().zip([10.0, 20.0, 30.0, 40.0]) {
        assert!((mev - exact).abs() < 0.005 * exact, "{mev} meV vs {exact}");
    }
    // The vectors come back in the pool, orthonormal and equal up to sign within the
    // non-degenerate level (the ground state).
    let (a, b) = (ooc.vectors.col(0), in_core.vectors.col(0));
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    assert!((dot.abs() - 1.0).abs() < 1e-9, "{dot}");
    drop(ooc);
    assert_eq!(open_files_in(&dir.0), 0, "the result's file goes with it");
}

/// Out of core with a memory budget, the coarser levels whose blocks fit beside what stays in
/// core run in the pool (their scratch-file pages would cost faults the budget need not pay);
/// the finest level's blocks go to files, and the energies are the in-core ones.
#[test]
fn coarse_levels_that_fit_the_budget_run_in_core() {
    let dir = ScratchDir::new("coarse");
    let (grid, v) = dot(99);
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
    let in_core = {
        let m = MemoryManager::with_defaults().unwrap();
        lowest_states::<f64>(&m, &spec, &options(&dir, Placement::InCore), None).unwrap()
    };
    let run = |budget: u64| {
        let m = MemoryManager::with_defaults().unwrap();
        // Scratch files open on each level (the coarsest level reports first).
        let mut open: Vec<(usize, usize)> = Vec::new();
        let mut watch = |p: &Progress| {
            open.push((p.level, open_files_in(&dir.0)));
            false
        };
        let r = lowest_states::<f64>(
            &m,
            &spec,
            &EigenOptions {
                memory_budget: Some(budget),
                ..options(&dir, Placement::OutOfCore)
            },
            Some(&mut watch),
        )
        .unwrap();
        assert!(r.is_converged(), "{r:?}");
        for (a, b) in r.values.iter().zip(&in_core.values) {
            // As in out_of_core_equals_in_core_with_multiplicities.
            assert!((a - b).abs() <= 1e-10 * b.abs(), "{a} vs {b}");
        }
        // What the pool served under the blocks' tag over the solve (the tag's peak would
        // not do: blocks under 256 KiB take the small-block path, whose per-tag peak is
        // sampled, docs/memory.md).
        let block_bytes = m
            .tag_stats("solver.block")
            .map_or(0, |t| t.total_allocated_bytes);
        (open, block_bytes, r.scratch_bytes)
    };
    // 64 MiB holds the coarse blocks (level 1, 49², is 2401 rows × 11 columns) beside the
    // hierarchy and the result, not the finest level's blocks (forced out of core).
    let (open, block_bytes, scratch) = run(64 << 20);
    let coarse = open.iter().filter(|(level, _)| *level > 0);
    assert!(
        coarse.clone().count() > 0 && coarse.clone().all(|&(_, files)| files == 0),
        "{open:?}"
    );
    let finest = open.iter().filter(|(level, _)| *level == 0);
    assert!(
        finest.clone().all(|&(_, files)| files >= 2),
        "X and W in files: {open:?}"
    );
    // The coarse X, W (single) and P (single): 2401 rows (leading dimension 2408), 11 columns.
    assert!(
        block_bytes >= 2408 * 11 * 8 + 2 * 1208 * 11 * 8,
        "{block_bytes}"
    );
    assert!(scratch > 0);
    // 1 MiB has no room for them: every level's blocks in files, none in the pool.
    let (open, block_bytes, _) = run(1 << 20);
    assert!(open.iter().all(|&(_, files)| files >= 2), "{open:?}");
    assert_eq!(block_bytes, 0);
    assert_eq!(dir.entries(), 0);
}

#[test]
fn vectors_file_holds_the_result_and_opens_again() {
    let dir = ScratchDir::new("vectors-file");
    let (grid, v) = dot(63);
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
    let m = MemoryManager::with_defaults().unwrap();
    let path = dir.0.join("psi.qdm");
    let base = EigenOptions {
        k: 6,
        ..options(&dir, Placement::InCore)
    };
    let pooled = lowest_states::<f64>(&m, &spec, &base, None).unwrap();
    assert!(!pooled.vectors.is_mapped());
    for placement in [Placement::InCore, Placement::OutOfCore] {
        let filed = lowest_states::<f64>(
            &m,
            &spec,
            &EigenOptions {
                vectors_file: Some(path.clone()),
                placement,
                ..base.clone()
            },
            None,
        )
        .unwrap();
        assert!(filed.is_converged(), "{filed:?}");
        assert_eq!(filed.vectors.file_path(), Some(path.as_path()));
        assert_eq!(filed.vectors.ncols(), 6);
        // A named file is the user's, not scratch.
        let blocks_only = if placement == Placement::InCore { 0 } else { 1 };
        assert_eq!(filed.scratch_bytes > 0, blocks_only == 1);
        for (a, b) in filed.values.iter().zip(&pooled.values) {
            // In core: the same arithmetic, bit for bit; out of core: other chunking (see
            // out_of_core_equals_in_core_with_multiplicities).
            assert!((a - b).abs() <= 1e-10 * b.abs(), "{a} vs {b}");
        }
        drop(filed);
        // Finalized: it opens again, read-only, and holds the same vectors (up to rounding and
        // to rotations within the degenerate levels: compare the ground state up to sign).
        let file = qdsim_mem::matrix::mapped::MappedDense::<f64>::open(&path).unwrap();
        assert_eq!((file.nrows(), file.ncols()), (63 * 63, 6));
        let dot: f64 = file
            .col(0)
            .iter()
            .zip(pooled.vectors.col(0))
            .map(|(x, y)| x * y)
            .sum();
        assert!((dot.abs() - 1.0).abs() < 1e-9, "{dot}");
        // Every column where it belongs (out of core they are copied file to file by the
        // kernel, at offsets we compute): an orthonormal set, to rounding (the solver
        // orthonormalises X to ~1e-15; 1e-12 leaves room for the 3969-term sums).
        for i in 0..6 {
            for j in 0..=i {
                let g: f64 = file
                    .col(i)
                    .iter()
                    .zip(file.col(j))
                    .map(|(x, y)| x * y)
                    .sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((g - expected).abs() < 1e-12, "({i}, {j}): {g}");
            }
        }
        if placement == Placement::InCore {
            assert_eq!(
                file.col(5),
                pooled.vectors.col(5),
                "a copy of the same block"
            );
        }
    }
    assert_eq!(dir.entries(), 1, "the vectors file, and no scratch file");

    // A file that cannot be created: I/O error naming it, nothing kept in the pool.
    let before = m.stats().bytes_in_use;
    let bad = dir.0.join("no-such-dir").join("psi.qdm");
    let err = lowest_states::<f64>(
        &m,
        &spec,
        &EigenOptions {
            vectors_file: Some(bad.clone()),
            ..base.clone()
        },
        None,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(
        err.to_string().contains(&bad.display().to_string()),
        "{err}"
    );
    assert_eq!(m.stats().bytes_in_use, before);
}

/// `lowest_states` of `spec` with `base`'s options under `budget`.
fn solve_within(
    m: &MemoryManager,
    spec: &HamiltonianSpec<'_>,
    base: &EigenOptions,
    budget: Option<u64>,
) -> EigenResult<f64> {
    let options = EigenOptions {
        memory_budget: budget,
        ..base.clone()
    };
    lowest_states::<f64>(m, spec, &options, None).unwrap()
}

#[test]
fn auto_placement_follows_the_budget() {
    let dir = ScratchDir::new("auto");
    let (grid, v) = dot(63);
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
    let m = MemoryManager::with_defaults().unwrap();
    let base = EigenOptions {
        k: 4,
        ..options(&dir, Placement::Auto)
    };
    let estimate = lowest_states_memory_estimate::<f64>(&m, &spec, &base).unwrap();
    // At least the three blocks of 63² × 5 doubles.
    assert!(estimate >= 3 * 3976 * 5 * 8, "{estimate}");
    let run = |budget| solve_within(&m, &spec, &base, budget);
    assert_eq!(run(None).scratch_bytes, 0, "no budget: in core");
    assert_eq!(run(Some(estimate)).scratch_bytes, 0, "fits: in core");
    let spilled = run(Some(estimate / 3));
    assert!(spilled.scratch_bytes > 0, "over the budget: out of core");
    assert!(spilled.is_converged());
    // The result vectors stay in the pool when the budget holds them beside the hierarchy
    // (which stays in core); one byte less and they go to a scratch file.
    let resident = Multigrid::<f64>::new(&m, &spec).unwrap().memory_bytes();
    let held = resident + (base.k * spec.grid.len() * size_of::<f64>()) as u64;
    assert!(held < estimate / 3, "{held} {estimate}");
    assert!(!spilled.vectors.is_mapped());
    drop(spilled);
    let spilled = run(Some(held - 1));
    assert!(spilled.scratch_bytes > 0, "over the budget: out of core");
    assert!(spilled.is_converged());
    // The plain operator entry point follows the same rule.
    let op = StencilOperator::<f64>::new(&m, &spec, "h").unwrap();
    let r = lowest_eigenpairs(
        &m,
        &op,
        None,
        &EigenOptions {
            memory_budget: Some(1),
            ..base.clone()
        },
        None,
    )
    .unwrap();
    assert!(r.scratch_bytes > 0 && r.is_converged(), "{r:?}");
    // Neither budget holds the result beside what stays in core: both keep their vectors in an
    // unlinked scratch file (one descriptor each) until they are dropped.
    assert!(spilled.vectors.is_mapped() && r.vectors.is_mapped());
    assert_eq!(open_files_in(&dir.0), 2);
    drop((spilled, r));
    assert_eq!(dir.entries(), 0);
    assert_eq!(open_files_in(&dir.0), 0);
}

#[test]
fn auto_placement_keeps_the_finest_blocks_in_core_when_their_groups_fit() {
    // The 3D dot's lowest 20 (shells of 1, 3, 6, 10): the finest block settles at 20 columns
    // and runs in two groups of 10, so its W and P need 10 columns where the estimate counts
    // the full block's 22. A budget one byte under the estimate chooses scratch files before
    // the solve; once level 1's values show the groups, the finest blocks fit in core.
    let dir = ScratchDir::new("groups");
    let grid = Grid::dirichlet_box(&[120.0; 3], &[31; 3]).unwrap();
    let v = dot_potential(&grid, 0.010);
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
    let m = MemoryManager::with_defaults().unwrap();
    let base = EigenOptions {
        k: 20,
        ..options(&dir, Placement::Auto)
    };
    let estimate = lowest_states_memory_estimate::<f64>(&m, &spec, &base).unwrap();
    let run = |budget| solve_within(&m, &spec, &base, budget);
    let free = run(None);
    let tight = run(Some(estimate - 1));
    assert!(free.is_converged() && tight.is_converged());
    assert_eq!(
        tight.scratch_bytes, 0,
        "the finest blocks and the result in core"
    );
    assert!(!tight.vectors.is_mapped());
    // The same solve: only the coarse levels' chunks differ (out-of-core plans size them by the
    // budget), which changes rounding, not the converged values (tolerance 10⁻⁹ relative).
    for (a, b) in free.values.iter().zip(&tight.values) {
        assert!((a - b).abs() <= 1e-9 * a.abs(), "{a} {b}");
    }
    // Far below the estimate the finest blocks stay in scratch files.
    let spilled = run(Some(estimate / 3));
    assert!(spilled.scratch_bytes > 0 && spilled.is_converged());
    drop((free, tight, spilled));
    assert_eq!(open_files_in(&dir.0), 0);
}

#[test]
fn missing_or_invalid_scratch_directory_is_an_io_error_naming_path_and_size() {
    let dir = ScratchDir::new("missing");
    let (grid, v) = dot(49);
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
    let m = MemoryManager::with_defaults().unwrap();
    let missing = dir.0.join("does-not-exist");
    let not_a_dir = dir.0.join("plain-file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    for bad in [&missing, &not_a_dir] {
        let options = EigenOptions {
            k: 4,
            placement: Placement::OutOfCore,
            scratch_dir: Some(bad.clone()),
            ..EigenOptions::default()
        };
        let before = m.stats().bytes_in_use;
        let err = lowest_states::<f64>(&m, &spec, &options, None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
        let message = err.to_string();
        assert!(message.contains(&bad.display().to_string()), "{message}");
        // The first scratch file holds a block of the coarser levels: level 1 of the 49² grid is
        // 24², so 576 × 5 doubles, rounded up to pages.
        let bytes = (576 * 5 * 8usize).next_multiple_of(4096);
        assert!(message.contains(&format!("{bytes} bytes")), "{message}");
        assert_eq!(m.stats().bytes_in_use, before, "nothing kept in the pool");
    }
    assert!(!missing.exists());
    // Only the plain file the test made.
    assert_eq!(dir.entries(), 1);
    assert_eq!(open_files_in(&dir.0), 0);
}

#[test]
fn cancellation_leaves_no_scratch_file() {
    let dir = ScratchDir::new("cancel");
    let (grid, v) = dot(99);
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
    let m = MemoryManager::with_defaults().unwrap();
    let mut open_during = 0;
    let mut calls = 0;
    let mut cancel = |_: &Progress| {
        calls += 1;
        open_during = open_files_in(&dir.0);
        calls == 3
    };
    let err = lowest_states::<f64>(
        &m,
        &spec,
        &options(&dir, Placement::OutOfCore),
        Some(&mut cancel),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert_eq!(calls, 3);
    assert_eq!(open_during, 3);
    assert_eq!(open_files_in(&dir.0), 0);
    assert_eq!(dir.entries(), 0);
}

#[test]
fn complex_hamiltonian_out_of_core() {
    // A magnetic field makes H complex: the scratch blocks hold Complex64.
    let dir = ScratchDir::new("complex");
    let (grid, v) = dot(49);
    let spec = HamiltonianSpec {
        magnetic_field: 2.0,
        ..HamiltonianSpec::new(grid, GAAS_MASS, Some(&v))
    };
    let m = MemoryManager::with_defaults().unwrap();
    let opts = |placement| EigenOptions {
        k: 6,
        ..options(&dir, placement)
    };
    let a =
        lowest_states::<num_complex::Complex64>(&m, &spec, &opts(Placement::InCore), None).unwrap();
    let b = lowest_states::<num_complex::Complex64>(&m, &spec, &opts(Placement::OutOfCore), None)
        .unwrap();
    assert!(a.is_converged() && b.is_converged());
    assert!(b.scratch_bytes > 0);
    for (x, y) in a.values.iter().zip(&b.values) {
        // As in the real case: same arithmetic, other chunking.
        assert!((x - y).abs() <= 1e-10 * y.abs(), "{x} vs {y}");
    }
    assert_eq!(dir.entries(), 0);
}

#[test]
fn mapped_csr_hamiltonian_solves_where_it_lies() {
    // A user's CSR Hamiltonian in a mapped file (as MatrixMarket/PETSc import or
    // `MappedCsr::from_csr` writes it), solved without copying it into memory, blocks and
    // vectors out of core too.
    let dir = ScratchDir::new("mapped-csr");
    let (grid, v) = dot(49);
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
    let m = MemoryManager::with_defaults().unwrap();
    let csr = StencilOperator::<f64>::new(&m, &spec, "h")
        .unwrap()
        .to_csr("h")
        .unwrap();
    let base = EigenOptions {
        k: 6,
        method: Method::Lobpcg,
        ..options(&dir, Placement::InCore)
    };
    let reference = csr_lowest(&m, &csr, &base, None).unwrap();
    assert!(reference.is_converged());
    let file = dir.0.join("h.qdm");
    let mapped = qdsim_mem::matrix::mapped::MappedCsr::from_csr(&file, &csr).unwrap();
    drop(csr);
    let in_use = m.stats().bytes_in_use;
    let vectors = dir.0.join("psi.qdm");
    let r = mapped_csr_lowest(
        &m,
        &mapped,
        &EigenOptions {
            placement: Placement::OutOfCore,
            vectors_file: Some(vectors.clone()),
            ..base.clone()
        },
        None,
    )
    .unwrap();
    assert!(r.is_converged(), "{r:?}");
    assert!(r.scratch_bytes > 0);
    assert_eq!(r.vectors.file_path(), Some(vectors.as_path()));
    // The same Jacobi-preconditioned LOBPCG from the same seed: only the row chunking differs
    // (see out_of_core_equals_in_core_with_multiplicities for the 1e-10).
    for (a, b) in r.values.iter().zip(&reference.values) {
        assert!((a - b).abs() <= 1e-10 * b.abs(), "{a} vs {b}");
    }
    drop(r);
    // Nothing of the matrix, blocks or vectors stayed in the pool (the diagonal for Jacobi and
    // the small projected matrices come and go).
    assert_eq!(m.stats().bytes_in_use, in_use);

    // A rectangular matrix is refused, naming the file.
    let mut b = qdsim_mem::matrix::CsrBuilder::<f64>::new(&m, 3, 4, "rect").unwrap();
    b.add_element(0, 0, 1.0).unwrap();
    let rect_file = dir.0.join("rect.qdm");
    let rect =
        qdsim_mem::matrix::mapped::MappedCsr::from_csr(&rect_file, &b.finalize().unwrap()).unwrap();
    let err = mapped_csr_lowest(&m, &rect, &base, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("rect.qdm"), "{err}");
}

/// Truncates every file of this process open in `dir` (the unlinked scratch files) to 0 bytes
/// through `/proc/self/fd`, as another program could: the pages of their mappings can no
/// longer be read back (the same signal as a disk error). Returns how many it truncated.
fn truncate_open_files_in(dir: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let link = e.ok()?.path();
            std::fs::read_link(&link)
                .ok()?
                .starts_with(dir)
                .then_some(link)
        })
        .filter(|link| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(link)
                .and_then(|f| f.set_len(0))
                .is_ok()
        })
        .count()
}

/// Issue 16 item 14: a scratch file that can no longer be read back mid-solve (here truncated
/// under the solver; a failing disk gives the same SIGBUS) is an `Io` error naming the file,
/// not a dead process; nothing is left behind, and the process (and the next solve) goes on.
#[test]
fn unreadable_scratch_pages_are_an_io_error_not_sigbus() {
    let dir = ScratchDir::new("sigbus");
    let (grid, v) = dot(99);
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
    let m = MemoryManager::with_defaults().unwrap();
    let mut truncated = 0;
    let mut calls = 0;
    let mut truncate = |_: &Progress| {
        calls += 1;
        if calls == 3 {
            truncated = truncate_open_files_in(&dir.0);
        }
        false
    };
    let err = lowest_states::<f64>(
        &m,
        &spec,
        &options(&dir, Placement::OutOfCore),
        Some(&mut truncate),
    )
    .unwrap_err();
    assert_eq!(truncated, 3, "X, W and P are in scratch files");
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    let message = err.message();
    assert!(
        message.contains("qdsim-scratch-") && message.contains("SIGBUS"),
        "{message}"
    );
    // Only what the solve itself cannot use is lost: at most one iteration ran on the bad
    // pages before the error (the callback saw no more than one more report).
    assert!(calls <= 4, "{calls} progress reports");
    assert_eq!(open_files_in(&dir.0), 0);
    assert_eq!(dir.entries(), 0);
    assert_eq!(m.stats().bytes_in_use, 0, "the solve freed its pool memory");
    // The same process solves again, out of core, to the in-core energies.
    let again =
        lowest_states::<f64>(&m, &spec, &options(&dir, Placement::OutOfCore), None).unwrap();
    let in_core = lowest_states::<f64>(&m, &spec, &options(&dir, Placement::InCore), None).unwrap();
    for (a, b) in again.values.iter().zip(&in_core.values) {
        // Both runs converge to 1e-9 relative residual: eigenvalues agree far below 1e-10.
        assert!((a - b).abs() <= 1e-10 * b.abs(), "{a} vs {b}");
    }
}

/// A SIGBUS outside the scratch mappings is not ours: it still ends the process (checked in a
/// child process, since it kills it), after an out-of-core solve installed the handler.
#[test]
fn a_foreign_sigbus_still_ends_the_process() {
    if let Some(parent_dir) = std::env::var_os("QDSIM_FOREIGN_SIGBUS_CHILD") {
        // The parent's directory: the signal ends this process before any destructor runs,
        // so the parent, which outlives it, removes the directory.
        let dir = ScratchDir(PathBuf::from(parent_dir));
        let (grid, v) = dot(39);
        let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
        let m = MemoryManager::with_defaults().unwrap();
        let mut o = options(&dir, Placement::OutOfCore);
        o.k = 2;
        lowest_states::<f64>(&m, &spec, &o, None).unwrap();
        // A mapping of our own (not qdsim's) whose file is then truncated: reading it faults.
        let path = dir.0.join("foreign");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.set_len(4096).unwrap();
        // SAFETY: the file is ours; the read below is meant to fault (that is the test).
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        file.set_len(0).unwrap();
        // SAFETY: in bounds of the mapping; the volatile read is not optimised away.
        let byte = unsafe { std::ptr::read_volatile(map.as_ptr()) };
        println!("read {byte} from a truncated mapping: SIGBUS expected");
        std::process::exit(0);
    }
    let dir = ScratchDir::new("foreign");
    let exe = std::env::current_exe().unwrap();
    let status = std::process::Command::new(exe)
        .args([
            "--exact",
            "out_of_core::a_foreign_sigbus_still_ends_the_process",
            "--test-threads=1",
            "--nocapture",
        ])
        .env("QDSIM_FOREIGN_SIGBUS_CHILD", &dir.0)
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGBUS), "{status:?}");
}

/// The stencil without its in-place single-precision product: the solvers keep W and P in
/// double for it.
struct DoubleOnly<'a>(&'a StencilOperator<f64>);

impl Operator<f64> for DoubleOnly<'_> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn row_granularity(&self) -> usize {
        Operator::row_granularity(self.0)
    }
    fn apply_rows(&self, x: &[f64], rows: std::ops::Range<usize>, y: &mut [f64]) {
        Operator::apply_rows(self.0, x, rows, y)
    }
    fn diagonal(&self) -> Vec<f64> {
        Operator::diagonal(self.0)
    }
    fn gershgorin_bounds(&self) -> (f64, f64) {
        Operator::gershgorin_bounds(self.0)
    }
}

#[test]
fn single_precision_search_blocks_keep_full_precision_results() {
    // LOBPCG keeps W and P in single precision for operators that read them in place (the
    // Rayleigh–Ritz step solves the pencil with their Gram matrix) and X in double; for other
    // operators all three are double. The same solve both ways (one level, the same multigrid
    // V-cycle as preconditioner), at a tolerance far below single precision: both must reach
    // it, measured here independently of the solver (‖Hx − λx‖ with the stencil's own
    // product), and agree.
    let (grid, v) = dot(99);
    let spec = HamiltonianSpec::new(grid.clone(), GAAS_MASS, Some(&v));
    let m = MemoryManager::with_defaults().unwrap();
    let op = StencilOperator::<f64>::new(&m, &spec, "h").unwrap();
    let mg = Multigrid::<f64>::new(&m, &spec).unwrap();
    let prec = mg.preconditioner(0);
    let tight = EigenOptions {
        k: 10,
        tol: 1e-11,
        ..EigenOptions::default()
    };
    let single = lowest_eigenpairs(&m, &op, Some(&prec), &tight, None).unwrap();
    let double = lowest_eigenpairs(&m, &DoubleOnly(&op), Some(&prec), &tight, None).unwrap();
    assert!(single.is_converged() && double.is_converged());
    let n = grid.len();
    let mut hx = vec![0.0; n];
    for (j, &lambda) in single.values.iter().enumerate() {
        let x = single.vectors.col(j);
        op.apply(1.0, x, 0.0, &mut hx).unwrap();
        let r: f64 = hx
            .iter()
            .zip(x)
            .map(|(h, xi)| (h - lambda * xi).powi(2))
            .sum::<f64>()
            .sqrt();
        let norm: f64 = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        // The solver's criterion is ‖r‖ ≤ 1e-11·|λ| for unit x: twice that allows for the
        // rounding of this independent product.
        assert!(r <= 2e-11 * lambda.abs() * norm, "state {j}: ‖r‖ = {r:e}");
        assert!((norm - 1.0).abs() < 1e-12, "state {j}: ‖x‖ = {norm}");
    }
    for (a, b) in single.values.iter().zip(&double.values) {
        // Both converged far below the tolerance's eigenvalue error (‖r‖²/gap ≈ 1e-24 eV):
        // rounding only.
        assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
    }

    // The grid solver in core: X in double and W, P in single, so the finest workspace is
    // about two X blocks (three in double).
    let fresh = MemoryManager::with_defaults().unwrap();
    let grid_solve = lowest_states::<f64>(&fresh, &spec, &tight, None).unwrap();
    assert!(grid_solve.is_converged());
    let peak = fresh.tag_stats("solver.block").unwrap().peak_bytes_in_use;
    let x_block = (n * 10 * 8) as u64;
    assert!(
        peak < 2 * x_block + x_block / 5,
        "peak of the blocks {peak} for X blocks of {x_block}"
    );
}
