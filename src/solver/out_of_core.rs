//! Out-of-core solves: the LOBPCG blocks (`n × m` each), and the resonance solver's search
//! space, either in the manager's pool or in memory-mapped scratch files, and the residency
//! control that keeps the process's resident memory near a budget when they are in files (the
//! resonance solver's own: `resonance/residency.rs`).
//!
//! A scratch file is created with a unique name in the scratch directory and **unlinked at
//! once**: it has no name while the solve runs, so nothing is left behind whatever happens
//! afterwards (success, error, cancellation, panic unwind, even a killed process); its space
//! goes back to the file system when the mapping and the descriptor are dropped. Its size is
//! reserved with `posix_fallocate`, so a full disk is reported up front (`ErrorKind::Io`) rather
//! than as SIGBUS on first touch. The mapping is `MAP_SHARED`: pages dropped from the process
//! with `MADV_DONTNEED` stay in the page cache (written back to the file under memory pressure)
//! and are read back on the next touch.
//!
//! Residency: the row-chunked kernels (`block.rs`) call [`advise`] on the rows they are about to
//! use (`MADV_WILLNEED`: read-ahead) and on the rows they have finished (`msync(MS_ASYNC)` +
//! `MADV_DONTNEED`), in chunks whose height comes from the budget; whole blocks are dropped
//! after every kernel, so operator halos read from neighbouring chunks do not accumulate.

use super::options::{EigenOptions, Placement};
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{ManagedMatrix, Scalar, aligned_ld};
use crate::memory::MemoryManager;
use crate::memory::os::{page_size, reserve_file_space};
use crate::solver::scratch_faults::GuardedRange;
use faer::MatMut;
use memmap2::{MmapMut, MmapOptions};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a solve keeps its blocks, decided from the options and the in-core estimate.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum BlockPlan {
    /// In the manager's pool.
    InCore,
    /// In scratch files in `dir`; the kernels' chunks of all threads together hold about
    /// `budget` bytes of the blocks. `room` is what the caller's memory budget leaves beside
    /// what stays in core (0 without a budget): blocks smaller than that, a coarse level's,
    /// may stay in core instead.
    OutOfCore {
        dir: PathBuf,
        budget: u64,
        room: u64,
    },
}

impl BlockPlan {
    /// The plan for `options`: out of core when forced, or under `Placement::Auto` when a
    /// memory budget is set and `estimate` (the whole in-core solve) exceeds it.
    pub(crate) fn choose(options: &EigenOptions, estimate: u64, resident_bytes: u64) -> Self {
        let spill = match options.placement {
            Placement::InCore => false,
            Placement::OutOfCore => true,
            Placement::Auto => options.memory_budget.is_some_and(|b| estimate > b),
        };
        if !spill {
            return Self::InCore;
        }
        let dir = options
            .scratch_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        // What the blocks' working set may use: the budget less what must stay in core
        // (operator, multigrid, result), but never less than a few chunks' worth.
        let room = options
            .memory_budget
            .map_or(0, |b| b.saturating_sub(resident_bytes));
        let budget = options
            .memory_budget
            .unwrap_or(estimate)
            .saturating_sub(resident_bytes)
            .max(MIN_CHUNK_BUDGET);
        Self::OutOfCore { dir, budget, room }
    }
}

/// The smallest working-set budget used for the chunks of an out-of-core block.
const MIN_CHUNK_BUDGET: u64 = 4 << 20;

/// Bytes of one `n × m` block of `T` as stored (aligned leading dimension).
pub(crate) fn block_bytes<T: Scalar>(n: usize, m: usize) -> u64 {
    aligned_ld::<T>(n).map_or(u64::MAX, |ld| {
        (ld as u64)
            .saturating_mul(m as u64)
            .saturating_mul(size_of::<T>() as u64)
    })
}

/// Rows per kernel chunk for out-of-core blocks of width `m`: every thread holds a chunk of
/// rows of the blocks' scratch pages (`[X, W, P]`, up to three blocks' columns) and of its
/// work buffers (the Rayleigh–Ritz product's `[S HS]`, six blocks' columns in `T`, the most
/// any kernel holds: `block.rs`), all threads together within `budget`; at least 256 rows, at
/// most 65536.
fn chunk_limit<T: Scalar>(budget: u64, m: usize) -> usize {
    let threads = rayon::current_num_threads().max(1) as u64;
    let per_row = (9 * m.max(1) * size_of::<T>()) as u64 * threads;
    (budget / per_row).clamp(256, 65536) as usize
}

/// A `n × m` block in a scratch file (unlinked), mapped shared; read faults on the mapping are
/// recorded by `guard` (dropped, i.e. unregistered, before the mapping is removed).
pub(crate) struct ScratchBlock<T: Scalar> {
    guard: GuardedRange,
    map: MmapMut,
    file: File,
    nrows: usize,
    ncols: usize,
    ld: usize,
    chunk_rows: usize,
    _scalar: std::marker::PhantomData<T>,
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

pub(crate) fn scratch_error(path: &Path, bytes: u64, doing: &str, e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!(
            "scratch file {} ({bytes} bytes, {:.1} MiB): cannot {doing}: {e}",
            path.display(),
            bytes as f64 / (1u64 << 20) as f64
        ),
    )
}

/// Creates an empty file with a fresh name (`qdsim-<what>-…`, mode 0600) in `dir` and returns it
/// open for reading and writing, with its name. The caller unlinks it.
pub(crate) fn create_unique(dir: &Path, what: &str, bytes: u64) -> Result<(File, PathBuf)> {
    let pid = std::process::id();
    for _ in 0..16 {
        let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!("qdsim-{what}-{pid}-{seq}-{nanos:08x}"));
        let mut open = OpenOptions::new();
        open.read(true).write(true).create_new(true);
        {
            use std::os::unix::fs::OpenOptionsExt;
            open.mode(0o600);
        }
        match open.open(&path) {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(scratch_error(
                    &path,
                    bytes,
                    &format!("create it in the scratch directory {}", dir.display()),
                    e,
                ));
            }
        }
    }
    Err(Error::new(
        ErrorKind::Io,
        format!(
            "scratch directory {}: no free file name after 16 tries ({bytes} bytes wanted)",
            dir.display()
        ),
    ))
}

/// Creates a file with a fresh name in `dir`, unlinks it and returns it open for reading and
/// writing (with the name it had, for messages).
fn create_unlinked(dir: &Path, bytes: u64) -> Result<(File, PathBuf)> {
    let (file, path) = create_unique(dir, "scratch", bytes)?;
    // No name from here on: nothing can be left behind.
    std::fs::remove_file(&path)
        .map_err(|e| scratch_error(&path, bytes, "unlink the new file", e))?;
    Ok((file, path))
}

impl<T: Scalar> ScratchBlock<T> {
    /// A zero `nrows × ncols` block in a new scratch file in `dir`; its kernel chunks hold at
    /// most a `budget`'s worth of rows over all threads.
    pub(crate) fn new(dir: &Path, nrows: usize, ncols: usize, budget: u64) -> Result<Self> {
        let too_big = || {
            Error::invalid_argument(format!(
                "a {nrows}×{ncols} block does not fit in the address space"
            ))
        };
        let ld = aligned_ld::<T>(nrows).ok_or_else(too_big)?;
        let elements = ld.checked_mul(ncols.max(1)).ok_or_else(too_big)?;
        let bytes = elements.checked_mul(size_of::<T>()).ok_or_else(too_big)?;
        let bytes = bytes.next_multiple_of(page_size());
        let len = bytes as u64;
        let (file, path) = create_unlinked(dir, len)?;
        reserve_file_space(&file, len)
            .map_err(|e| scratch_error(&path, len, "reserve its space (posix_fallocate)", e))?;
        // SAFETY: the file is ours and unlinked: no other program can truncate or rewrite it.
        let map = unsafe { MmapOptions::new().len(bytes).map_mut(&file) }
            .map_err(|e| scratch_error(&path, len, "map it", e))?;
        // No kernel read-ahead on faults: it would read in more than the chunk being used; the
        // kernels read ahead themselves (MADV_WILLNEED on the next chunk).
        // SAFETY: advice on our own live mapping; it does not change the contents.
        unsafe {
            libc::madvise(map.as_ptr().cast_mut().cast(), map.len(), libc::MADV_RANDOM);
        }
        Ok(Self {
            guard: GuardedRange::new(map.as_ptr(), map.len(), &path),
            map,
            file,
            nrows,
            ncols,
            ld,
            chunk_rows: chunk_limit::<T>(budget, ncols),
            _scalar: std::marker::PhantomData,
        })
    }

    fn data_ptr(&self) -> *const T {
        self.map.as_ptr().cast()
    }

    fn data_ptr_mut(&mut self) -> *mut T {
        self.map.as_mut_ptr().cast()
    }

    /// Bytes of the file.
    fn file_bytes(&self) -> u64 {
        self.map.len() as u64
    }
}

/// `posix_madvise`-style advice on a range of a scratch mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Advice {
    /// Read ahead: the range is about to be used.
    WillNeed,
    /// Done with the range: write it back asynchronously and drop it from the process.
    Release,
}

/// Gives the whole pages inside `[ptr, ptr + bytes)` back to the system: they read as zeros on
/// the next touch. For a pool block about to be freed, or columns of one whose contents no one
/// reads again.
///
/// # Safety
/// `[ptr, ptr + bytes)` lies inside one live pool block (private anonymous memory) of the
/// caller's, and no one reads that range again before writing it.
pub(crate) unsafe fn discard_pages(ptr: *mut u8, bytes: usize) {
    let page = page_size();
    let start = (ptr as usize).next_multiple_of(page);
    let end = (ptr as usize + bytes) & !(page - 1);
    if end > start {
        // SAFETY: [start, end) lies inside the caller's live pool block (rounded inwards, so no
        // neighbouring block, red zone or pool metadata is touched), whose range no one reads
        // again before writing it (the function's contract); on private anonymous memory
        // MADV_DONTNEED only replaces the pages by zero pages, which contents that are undefined
        // allow. Failure is harmless (the pages stay) and ignored.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// Applies `advice` to the pages covering `[ptr, ptr + bytes)`, which lie inside one scratch
/// mapping (whose start and length are page multiples, so the rounded range stays inside it).
/// Advice never changes the data of a shared file mapping: dropped pages are read back from the
/// page cache or the file on the next touch, also when another thread touches them meanwhile.
pub(crate) fn advise(ptr: *const u8, bytes: usize, advice: Advice) {
    if bytes == 0 {
        return;
    }
    let page = page_size();
    let start = ptr as usize & !(page - 1);
    let end = (ptr as usize + bytes).next_multiple_of(page);
    let (addr, len) = (start as *mut libc::c_void, end - start);
    // SAFETY: the range is inside a live shared file mapping (caller's contract); msync and
    // madvise do not change its contents. Failures are harmless (advice only) and ignored.
    unsafe {
        match advice {
            Advice::WillNeed => {
                libc::madvise(addr, len, libc::MADV_WILLNEED);
            }
            Advice::Release => {
                libc::msync(addr, len, libc::MS_ASYNC);
                libc::madvise(addr, len, libc::MADV_DONTNEED);
            }
        }
    }
}

/// An `n × m` block of the solver: in the pool or in a scratch file.
pub(crate) enum Block<T: Scalar> {
    InCore(ManagedMatrix<T>),
    Mapped(ScratchBlock<T>),
}

impl<T: Scalar> Block<T> {
    /// A block for `plan`: pool memory tagged `tag` (contents undefined) or a zero scratch file.
    pub(crate) fn new(
        manager: &MemoryManager,
        plan: &BlockPlan,
        nrows: usize,
        ncols: usize,
        tag: &str,
    ) -> Result<Self> {
        Ok(match plan {
            BlockPlan::InCore => {
                Self::InCore(ManagedMatrix::uninit_values(manager, nrows, ncols, tag)?)
            }
            BlockPlan::OutOfCore { dir, budget, .. } => {
                Self::Mapped(ScratchBlock::new(dir, nrows, ncols, *budget)?)
            }
        })
    }

    /// Frees the block, its pages given back to the system first: a pool block's pages would
    /// otherwise stay resident in the pool (free, but touched) beside blocks made afterwards; a
    /// scratch file is unlinked as on drop.
    pub(crate) fn discard(mut self) {
        if let Self::InCore(m) = &mut self {
            let bytes = m.ld() * m.ncols() * size_of::<T>();
            // SAFETY: the block's own storage, freed right after without being read.
            unsafe { discard_pages(m.data_ptr().cast(), bytes) };
        }
    }

    /// Rows.
    pub(crate) fn nrows(&self) -> usize {
        match self {
            Self::InCore(m) => m.nrows(),
            Self::Mapped(s) => s.nrows,
        }
    }

    /// Columns.
    pub(crate) fn ncols(&self) -> usize {
        match self {
            Self::InCore(m) => m.ncols(),
            Self::Mapped(s) => s.ncols,
        }
    }

    /// Leading dimension.
    pub(crate) fn ld(&self) -> usize {
        match self {
            Self::InCore(m) => m.ld(),
            Self::Mapped(s) => s.ld,
        }
    }

    /// The first element (columns `ld` apart).
    pub(crate) fn data_ptr(&mut self) -> *mut T {
        match self {
            Self::InCore(m) => m.data_ptr(),
            Self::Mapped(s) => s.data_ptr_mut(),
        }
    }

    /// The whole block as a faer view (columns `ld` apart).
    pub(crate) fn as_mat_mut(&mut self) -> MatMut<'_, T> {
        let (n, m, ld) = (self.nrows(), self.ncols(), self.ld());
        // SAFETY: the block holds `m` columns of `n` elements `ld` apart (pool matrix or
        // mapping), borrowed mutably for the view's life.
        unsafe { MatMut::from_raw_parts_mut(self.data_ptr(), n, m, 1, ld as isize) }
    }

    /// The byte addresses `[start, end)` of a scratch-file block's mapping (`None` in core).
    pub(crate) fn mapped_range(&self) -> Option<(usize, usize)> {
        match self {
            Self::InCore(_) => None,
            Self::Mapped(s) => {
                let start = s.data_ptr() as usize;
                Some((start, start + s.map.len()))
            }
        }
    }

    /// True for a scratch-file block (residency advice applies).
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self, Self::Mapped(_))
    }

    /// Rows per kernel chunk at most (`usize::MAX`: the kernels' default).
    pub(crate) fn chunk_rows(&self) -> usize {
        match self {
            Self::InCore(_) => usize::MAX,
            Self::Mapped(s) => s.chunk_rows,
        }
    }

    /// `ErrorKind::Io` when the system failed to read back part of the scratch file since it
    /// was created (see `scratch_faults.rs`); always `Ok` in core.
    pub(crate) fn check_faults(&self) -> Result<()> {
        match self {
            Self::InCore(_) => Ok(()),
            Self::Mapped(s) => s.guard.check(),
        }
    }

    /// Bytes of scratch file (0 in core).
    pub(crate) fn scratch_bytes(&self) -> u64 {
        match self {
            Self::InCore(_) => 0,
            Self::Mapped(s) => s.file_bytes(),
        }
    }

    /// Column `j`, writable.
    pub(crate) fn col_mut(&mut self, j: usize) -> &mut [T] {
        assert!(j < self.ncols(), "column {j} of {}", self.ncols());
        match self {
            Self::InCore(m) => m.col_mut(j),
            Self::Mapped(s) => {
                let (n, ld) = (s.nrows, s.ld);
                // SAFETY: j < ncols: the column lies inside the mapping; `&mut self` is unique.
                unsafe { std::slice::from_raw_parts_mut(s.data_ptr_mut().add(j * ld), n) }
            }
        }
    }

    /// Column `j`.
    pub(crate) fn col(&self, j: usize) -> &[T] {
        assert!(j < self.ncols(), "column {j} of {}", self.ncols());
        match self {
            Self::InCore(m) => m.col(j),
            Self::Mapped(s) => {
                // SAFETY: j < ncols: the column lies inside the mapping.
                unsafe { std::slice::from_raw_parts(s.data_ptr().add(j * s.ld), s.nrows) }
            }
        }
    }

    /// The file holding a scratch-file block and the byte offset of column `j` in it (`None`
    /// in core).
    pub(crate) fn col_in_file(&self, j: usize) -> Option<(&File, u64)> {
        assert!(j < self.ncols(), "column {j} of {}", self.ncols());
        match self {
            Self::InCore(_) => None,
            Self::Mapped(s) => Some((&s.file, (j * s.ld * size_of::<T>()) as u64)),
        }
    }

    /// Drops column `j` from the resident memory (no-op in core).
    pub(crate) fn release_col(&self, j: usize) {
        if let Self::Mapped(s) = self {
            advise(
                self.col(j).as_ptr().cast(),
                s.nrows * size_of::<T>(),
                Advice::Release,
            );
        }
    }

    /// The first `k` columns as a pool matrix tagged `tag` (the block itself when in core;
    /// copied column by column, each dropped from the resident memory after, when mapped).
    pub(crate) fn into_managed(
        self,
        manager: &MemoryManager,
        k: usize,
        tag: &str,
    ) -> Result<ManagedMatrix<T>> {
        match self {
            Self::InCore(mut m) => {
                m.truncate_cols(k);
                Ok(m)
            }
            block @ Self::Mapped(_) => {
                let mut out = ManagedMatrix::uninit_values(manager, block.nrows(), k, tag)?;
                for j in 0..k {
                    out.col_mut(j).copy_from_slice(block.col(j));
                    block.release_col(j);
                }
                block.check_faults()?;
                Ok(out)
            }
        }
    }
}
