//! Where a solve's eigenvectors live: [`Eigenvectors`] — in the manager's pool (the usual
//! case), in a file the caller named (`EigenOptions::vectors_file`), or in an unlinked scratch
//! file when an out-of-core solve's result is larger than its memory budget — and the copy of
//! the solver's block into that place, column by column, so that a result larger than memory
//! never has to be resident at once.

use super::options::EigenOptions;
use super::out_of_core::{
    Advice, Block, BlockPlan, advise, block_bytes, create_unique, scratch_error,
};
use crate::error::Result;
use crate::matrix::mapped::MappedDense;
use crate::matrix::{ManagedMatrix, Scalar};
use crate::memory::MemoryManager;
use faer::MatRef;
use std::path::{Path, PathBuf};

/// Eigenvectors, one column per eigenvalue (column-major, columns `ld()` elements apart).
pub enum Eigenvectors<T: Scalar> {
    /// In the manager's pool.
    Pool(ManagedMatrix<T>),
    /// In the finalized mapped file that `EigenOptions::vectors_file` named (it stays on disk
    /// after the result is dropped; open it again with [`MappedDense::open`]).
    File(MappedDense<T>),
    /// In a mapped scratch file that was unlinked at once (its space goes back to the file system
    /// when the result is dropped): an out-of-core result larger than the memory budget.
    Scratch(MappedDense<T>),
}

impl<T: Scalar> Eigenvectors<T> {
    /// Length of every eigenvector.
    pub fn nrows(&self) -> usize {
        match self {
            Self::Pool(m) => m.nrows(),
            Self::File(m) | Self::Scratch(m) => m.nrows(),
        }
    }

    /// Number of eigenvectors.
    pub fn ncols(&self) -> usize {
        match self {
            Self::Pool(m) => m.ncols(),
            Self::File(m) | Self::Scratch(m) => m.ncols(),
        }
    }

    /// Distance between the starts of two columns, in elements.
    pub fn ld(&self) -> usize {
        match self {
            Self::Pool(m) => m.ld(),
            Self::File(m) | Self::Scratch(m) => m.ld(),
        }
    }

    /// Eigenvector `j` (panics when `j ≥ ncols()`).
    pub fn col(&self, j: usize) -> &[T] {
        match self {
            Self::Pool(m) => m.col(j),
            Self::File(m) | Self::Scratch(m) => m.col(j),
        }
    }

    /// A faer view of all of them (no copy).
    pub fn as_ref(&self) -> MatRef<'_, T> {
        match self {
            Self::Pool(m) => m.as_ref(),
            Self::File(m) | Self::Scratch(m) => m.as_ref(),
        }
    }

    /// The first element (valid while `self` lives; read-only).
    pub fn data_ptr(&self) -> *const T {
        self.as_ref().as_ptr()
    }

    /// The file that holds them, for [`Eigenvectors::File`].
    pub fn file_path(&self) -> Option<&Path> {
        match self {
            Self::File(m) => Some(m.path()),
            Self::Pool(_) | Self::Scratch(_) => None,
        }
    }

    /// True when they live in a mapped file (named or scratch) rather than in the pool.
    pub fn is_mapped(&self) -> bool {
        !matches!(self, Self::Pool(_))
    }

    /// Bytes of the unlinked scratch file holding them (0 otherwise).
    pub fn scratch_bytes(&self) -> u64 {
        match self {
            Self::Scratch(m) => m.header().file_len,
            Self::Pool(_) | Self::File(_) => 0,
        }
    }

    /// The vectors in `manager`'s pool, tagged `tag` (no copy when they already are).
    pub fn into_pool(self, manager: &MemoryManager, tag: &str) -> Result<ManagedMatrix<T>> {
        match self {
            Self::Pool(m) => Ok(m),
            Self::File(m) | Self::Scratch(m) => m.to_managed(manager, tag),
        }
    }
}

impl<T: Scalar> From<ManagedMatrix<T>> for Eigenvectors<T> {
    fn from(m: ManagedMatrix<T>) -> Self {
        Self::Pool(m)
    }
}

/// Where the `k` result vectors of `n` rows go: the named `options.vectors_file`; else, out of
/// core with a budget that cannot hold them beside `resident` bytes (what stays in core
/// anyway), an unlinked scratch file; else the pool.
pub(crate) fn destination<T: Scalar>(
    options: &EigenOptions,
    plan: &BlockPlan,
    n: usize,
    resident: u64,
) -> Destination {
    if let Some(path) = &options.vectors_file {
        return Destination::File(path.clone());
    }
    match (plan, options.memory_budget) {
        (BlockPlan::OutOfCore { dir, .. }, Some(budget))
            if resident.saturating_add(block_bytes::<T>(n, options.k)) > budget =>
        {
            Destination::Scratch(dir.clone())
        }
        _ => Destination::Pool,
    }
}

/// Where [`store`] puts the first `k` columns of the solver's X block.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Destination {
    /// The pool (no copy for an in-core block).
    Pool,
    /// A named file, finalized.
    File(PathBuf),
    /// An unlinked scratch file in this directory.
    Scratch(PathBuf),
}

/// The first `k` columns of `x` at `destination`. A mapped source or target column is dropped
/// from the resident memory once copied, so the copy's working set is two columns.
pub(crate) fn store<T: Scalar>(
    manager: &MemoryManager,
    x: Block<T>,
    k: usize,
    destination: &Destination,
) -> Result<Eigenvectors<T>> {
    let n = x.nrows();
    let (mut out, file) = match destination {
        Destination::Pool => return Ok(x.into_managed(manager, k, "solver.vectors")?.into()),
        Destination::File(path) => (MappedDense::<T>::create(path, n, k)?, true),
        Destination::Scratch(dir) => {
            let bytes = block_bytes::<T>(n, k);
            let (name_holder, path) = create_unique(dir, "vectors", bytes)?;
            drop(name_holder);
            let created = MappedDense::<T>::create_scratch(&path, n, k);
            // Unlinked at once, whatever happened: nothing is left behind (the mapping keeps
            // the data reachable until the result is dropped).
            let removed = std::fs::remove_file(&path);
            let created = created?;
            removed.map_err(|e| scratch_error(&path, bytes, "unlink the new file", e))?;
            (created, false)
        }
    };
    // From a scratch-file block, file to file inside the kernel while it can: a mapped copy
    // faults both columns into the process and zero-fills each fresh target page before it
    // overwrites it (2000², 10 vectors: most of the 0.8 s after the last iteration).
    let mut in_kernel = true;
    for j in 0..k {
        if in_kernel {
            if let Some((file, offset)) = x.col_in_file(j) {
                in_kernel = out.copy_col_from_file(j, file, offset)?.is_ok();
                if in_kernel {
                    continue;
                }
            }
        }
        let column = out.col_mut(j)?;
        column.copy_from_slice(x.col(j));
        advise(column.as_ptr().cast(), n * size_of::<T>(), Advice::Release);
        x.release_col(j);
    }
    x.check_faults()?;
    drop(x);
    if file {
        out.finalize()?;
        Ok(Eigenvectors::File(out))
    } else {
        Ok(Eigenvectors::Scratch(out))
    }
}
