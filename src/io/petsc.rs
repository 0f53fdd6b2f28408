//! PETSc's binary matrix format, as `MatView` writes and `MatLoad` reads it (sequential AIJ):
//! everything big-endian,
//!
//! ```text
//! int    MAT_FILE_CLASSID (1211216), rows, cols, nnz
//! int    row lengths[rows]
//! int    column indices[nnz]        (0-based, row by row)
//! scalar values[nnz]                (double; complex: re, im as two doubles)
//! ```
//!
//! where `int` is `PetscInt`: 32 bits, or 64 bits for a PETSc configured with
//! `--with-64-bit-indices` ([`write_petsc_with_int_bits`]). The file does not say whether its
//! scalars are real or complex: a real matrix must be loaded by a real PETSc build, a complex
//! one by a build with `--with-scalar-type=complex`. [`read_petsc`] tells them apart by the
//! file's length and detects the integer width from the class id.
//!
//! Reading streams: the row lengths, column indices and values are decoded in bounded chunks
//! straight into the final CSR arrays (in the manager's pools), so the peak memory is the matrix
//! itself plus a few hundred KiB of buffers. Rows whose columns are not strictly increasing are
//! sorted (duplicates summed) in place afterwards.

use super::io_error;
use super::open::{check_memory_for, open_regular_file};
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{AnyCsr, CsrIndex, CsrIndices, CsrMatrix, Scalar, ScalarKind, fits_i32};
use crate::memory::{MemoryManager, PoolBuffer};
use num_complex::Complex64;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

/// PETSc's class id of a matrix file (`MAT_FILE_CLASSID` in `petscmat.h`).
pub const MAT_FILE_CLASSID: i32 = 1_211_216;

fn write_error(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("cannot write: {e}"))
}

/// Writes `matrix` to `path` (replacing it) in PETSc binary format with 32-bit integers.
pub fn write_petsc<T: Scalar>(matrix: &CsrMatrix<T>, path: impl AsRef<Path>) -> Result<()> {
    write_petsc_with_int_bits(matrix, path, 32)
}

/// Writes `matrix` to `path` with `int_bits` (32 or 64, for PETSc with 64-bit indices) integers.
pub fn write_petsc_with_int_bits<T: Scalar>(
    matrix: &CsrMatrix<T>,
    path: impl AsRef<Path>,
    int_bits: u32,
) -> Result<()> {
    let path = path.as_ref();
    let file = File::create(path).map_err(|e| io_error(path, "create the file", e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let context = path.display().to_string();
    write_petsc_to(matrix, &mut w, int_bits).map_err(|e| e.context(&context))?;
    w.flush().map_err(|e| io_error(path, "write", e))
}

/// Writes `matrix` in PETSc binary format to `w` with `int_bits` (32 or 64) integers.
pub fn write_petsc_to<T: Scalar, W: Write>(
    matrix: &CsrMatrix<T>,
    mut w: W,
    int_bits: u32,
) -> Result<()> {
    let (rows, cols, nnz) = (matrix.nrows(), matrix.ncols(), matrix.nnz());
    let limit = match int_bits {
        32 => i32::MAX as usize,
        64 => i64::MAX as usize,
        _ => {
            return Err(Error::invalid_argument(format!(
                "PETSc integers are 32 or 64 bits, not {int_bits}"
            )));
        }
    };
    if rows > limit || cols > limit || nnz > limit {
        return Err(Error::invalid_argument(format!(
            "a {rows}×{cols} matrix with {nnz} entries does not fit {int_bits}-bit PETSc \
             integers; write it with 64-bit integers for a PETSc built --with-64-bit-indices"
        )));
    }
    let mut put = |x: usize| -> Result<()> {
        if int_bits == 32 {
            w.write_all(&(x as i32).to_be_bytes())
        } else {
            w.write_all(&(x as i64).to_be_bytes())
        }
        .map_err(write_error)
    };
    for x in [MAT_FILE_CLASSID as usize, rows, cols, nnz] {
        put(x)?;
    }
    fn each_index<I: crate::matrix::CsrIndex>(
        rp: &[I],
        ci: &[I],
        put: &mut impl FnMut(usize) -> Result<()>,
    ) -> Result<()> {
        for r in rp.windows(2) {
            put(r[1].to_usize() - r[0].to_usize())?;
        }
        for c in ci {
            put(c.to_usize())?;
        }
        Ok(())
    }
    match matrix.indices() {
        CsrIndices::I32 { row_ptr, col_idx } => each_index(row_ptr, col_idx, &mut put)?,
        CsrIndices::I64 { row_ptr, col_idx } => each_index(row_ptr, col_idx, &mut put)?,
    }
    for v in matrix.values() {
        let z = v.to_complex();
        w.write_all(&z.re.to_be_bytes()).map_err(write_error)?;
        if T::KIND == ScalarKind::Complex {
            w.write_all(&z.im.to_be_bytes()).map_err(write_error)?;
        }
    }
    Ok(())
}

/// Bytes decoded per chunk while streaming the arrays.
const CHUNK_BYTES: usize = 1 << 16;

/// Reads big-endian numbers, counting bytes for messages.
struct Reader<R> {
    inner: R,
    offset: u64,
    int_bits: u32,
}

impl<R: Read> Reader<R> {
    /// Fills `buf` from the input; the end of the input is a truncated file.
    fn fill(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        self.inner.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Error::new(
                    ErrorKind::CorruptFile,
                    format!(
                        "truncated: the file ends inside the {what} (in bytes {}..{})",
                        self.offset,
                        self.offset + buf.len() as u64
                    ),
                )
            } else {
                Error::new(ErrorKind::Io, format!("cannot read: {e}"))
            }
        })?;
        self.offset += buf.len() as u64;
        Ok(())
    }

    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.fill(&mut b, what)?;
        Ok(b)
    }

    fn int(&mut self, what: &str) -> Result<i64> {
        Ok(if self.int_bits == 32 {
            i64::from(i32::from_be_bytes(self.bytes(what)?))
        } else {
            i64::from_be_bytes(self.bytes(what)?)
        })
    }

    /// Reads `count` items of `N` bytes in bounded chunks, handing each (with its position) to
    /// `f`.
    fn each<const N: usize>(
        &mut self,
        count: usize,
        what: &str,
        mut f: impl FnMut(usize, [u8; N]) -> Result<()>,
    ) -> Result<()> {
        let mut buf = [0u8; CHUNK_BYTES];
        let per_chunk = CHUNK_BYTES / N;
        let mut k = 0;
        while k < count {
            let m = per_chunk.min(count - k);
            let chunk = &mut buf[..m * N];
            self.fill(chunk, what)?;
            for (j, item) in chunk.chunks_exact(N).enumerate() {
                f(k + j, item.try_into().expect("chunks of N bytes"))?;
            }
            k += m;
        }
        Ok(())
    }

    /// Reads `count` PETSc integers (of the file's width) in bounded chunks.
    fn each_int(
        &mut self,
        count: usize,
        what: &str,
        mut f: impl FnMut(usize, i64) -> Result<()>,
    ) -> Result<()> {
        if self.int_bits == 32 {
            self.each::<4>(count, what, |k, b| f(k, i64::from(i32::from_be_bytes(b))))
        } else {
            self.each::<8>(count, what, |k, b| f(k, i64::from_be_bytes(b)))
        }
    }
}

fn corrupt(message: String) -> Error {
    Error::new(ErrorKind::CorruptFile, message)
}

/// Reads a PETSc binary matrix file; its scalar type (real or complex) is decided by the file's
/// length, its integer width (32 or 64 bits) by the class id.
pub fn read_petsc(manager: &MemoryManager, path: impl AsRef<Path>, tag: &str) -> Result<AnyCsr> {
    let path = path.as_ref();
    let file = open_regular_file(path, "the PETSc file", false)?;
    let len = file
        .metadata()
        .map_err(|e| io_error(path, "read the file's size", e))?
        .len();
    let context = path.display().to_string();
    read(
        manager,
        BufReader::with_capacity(1 << 20, file),
        Err(len),
        tag,
    )
    .map_err(|e| e.context(&context))
}

/// Reads a PETSc binary matrix from `reader`, whose scalars are `scalar` (the stream does not
/// say).
pub fn read_petsc_from<R: Read>(
    manager: &MemoryManager,
    reader: R,
    scalar: ScalarKind,
    tag: &str,
) -> Result<AnyCsr> {
    read(manager, reader, Ok(scalar), tag)
}

/// `scalar`: known, or to be decided from the file length.
fn read<R: Read>(
    manager: &MemoryManager,
    reader: R,
    scalar: std::result::Result<ScalarKind, u64>,
    tag: &str,
) -> Result<AnyCsr> {
    let mut r = Reader {
        inner: reader,
        offset: 0,
        int_bits: 32,
    };
    let first = i32::from_be_bytes(r.bytes("header")?);
    if first != MAT_FILE_CLASSID {
        let second = i32::from_be_bytes(r.bytes("header")?);
        if first != 0 || second != MAT_FILE_CLASSID {
            return Err(corrupt(format!(
                "not a PETSc matrix file: it starts with {first:#010x}, not the big-endian class \
                 id {MAT_FILE_CLASSID} (as a 32- or 64-bit integer)"
            )));
        }
        r.int_bits = 64;
    }
    let (rows, cols, nnz) = (r.int("header")?, r.int("header")?, r.int("header")?);
    if rows < 0 || cols < 0 || nnz < 0 {
        return Err(corrupt(format!(
            "negative size in the header: {rows} rows, {cols} columns, {nnz} entries"
        )));
    }
    if rows == i64::MAX {
        return Err(corrupt(format!(
            "{rows} rows: the rows + 1 row pointers overflow a 64-bit count"
        )));
    }
    // Sizes below 2^63 each: every product below fits in u128.
    let ib = u128::from(r.int_bits / 8);
    let (rows_u, nnz_u) = (rows as u128, nnz as u128);
    let base = 4 * ib + rows_u * ib + nnz_u * ib;
    let scalar = match scalar {
        Ok(kind) => kind,
        Err(file_len) => {
            let (real, complex) = (base + nnz_u * 8, base + nnz_u * 16);
            match u128::from(file_len) {
                n if n == real => ScalarKind::Real,
                n if n == complex => ScalarKind::Complex,
                n => {
                    return Err(corrupt(format!(
                        "the file is {n} bytes, but a {rows}×{cols} matrix with {nnz} entries and \
                         {}-bit integers takes {real} bytes (real) or {complex} bytes (complex)",
                        r.int_bits
                    )));
                }
            }
        }
    };
    let (nrows, ncols, nnz) = (rows as usize, cols as usize, nnz as usize);
    let narrow = fits_i32(nnz, ncols);
    let element = match scalar {
        ScalarKind::Real => 8,
        ScalarKind::Complex => 16,
    };
    let index = if narrow { 4 } else { 8 };
    check_memory_for(
        (rows_u + 1) * index + nnz_u * (index + element),
        &format!("a {rows}×{cols} matrix with {nnz} entries"),
    )?;
    let sizes = (nrows, ncols, nnz);
    Ok(match (scalar, narrow) {
        (ScalarKind::Real, true) => {
            AnyCsr::Real(stream::<f64, i32, R>(manager, &mut r, sizes, tag)?)
        }
        (ScalarKind::Real, false) => {
            AnyCsr::Real(stream::<f64, i64, R>(manager, &mut r, sizes, tag)?)
        }
        (ScalarKind::Complex, true) => {
            AnyCsr::Complex(stream::<Complex64, i32, R>(manager, &mut r, sizes, tag)?)
        }
        (ScalarKind::Complex, false) => {
            AnyCsr::Complex(stream::<Complex64, i64, R>(manager, &mut r, sizes, tag)?)
        }
    })
}

/// Reads the row lengths, column indices and values (after the header) straight into the final
/// arrays, checking each number as it arrives, then sorts rows that need it.
fn stream<T: Scalar, I: CsrIndex, R: Read>(
    manager: &MemoryManager,
    r: &mut Reader<R>,
    (nrows, ncols, nnz): (usize, usize, usize),
    tag: &str,
) -> Result<CsrMatrix<T>> {
    let mut row_ptr =
        PoolBuffer::<I>::uninit_values(manager, nrows + 1, &format!("{tag}.row_ptr"))?;
    row_ptr[0] = I::narrow(0);
    let mut total = 0usize;
    r.each_int(nrows, "row lengths", |row, n| {
        let left = nnz - total;
        match usize::try_from(n) {
            Ok(n) if n <= left => {
                total += n;
                row_ptr[row + 1] = I::narrow(total);
                Ok(())
            }
            _ => Err(corrupt(format!(
                "row {row} has length {n}, but only {left} of the {nnz} entries are left"
            ))),
        }
    })?;
    if total != nnz {
        return Err(corrupt(format!(
            "the row lengths add up to {total}, but the header says {nnz} entries"
        )));
    }
    let mut col_idx = PoolBuffer::<I>::uninit_values(manager, nnz, &format!("{tag}.col_idx"))?;
    r.each_int(nnz, "column indices", |k, c| match usize::try_from(c) {
        Ok(c) if c < ncols => {
            col_idx[k] = I::narrow(c);
            Ok(())
        }
        _ => Err(corrupt(format!(
            "column index {c} of entry {k} is out of range for {ncols} columns"
        ))),
    })?;
    let mut values = PoolBuffer::<T>::uninit_values(manager, nnz, &format!("{tag}.values"))?;
    {
        let (row_ptr, col_idx) = (&row_ptr, &col_idx);
        let mut put = |k: usize, z: Complex64| {
            let v = T::from_complex(z).expect("real only for real T");
            if !v.is_finite_value() {
                let row = row_ptr.partition_point(|p| p.to_usize() <= k) - 1;
                return Err(corrupt(format!(
                    "entry {k} (row {row}, column {}) is not finite: {v:?}",
                    col_idx[k].to_usize()
                )));
            }
            values[k] = v;
            Ok(())
        };
        if T::KIND == ScalarKind::Complex {
            r.each::<16>(nnz, "values", |k, b| {
                let re = f64::from_be_bytes(b[..8].try_into().expect("8 bytes"));
                let im = f64::from_be_bytes(b[8..].try_into().expect("8 bytes"));
                put(k, Complex64::new(re, im))
            })?;
        } else {
            r.each::<8>(nnz, "values", |k, b| {
                put(k, Complex64::new(f64::from_be_bytes(b), 0.0))
            })?;
        }
    }
    let kept = sort_rows(&mut row_ptr, &mut col_idx, &mut values)?;
    if kept < nnz {
        // Duplicates were summed: move the kept entries to arrays of the right length.
        let mut c = PoolBuffer::<I>::uninit_values(manager, kept, &format!("{tag}.col_idx"))?;
        c.copy_from_slice(&col_idx[..kept]);
        col_idx = c;
        let mut v = PoolBuffer::<T>::uninit_values(manager, kept, &format!("{tag}.values"))?;
        v.copy_from_slice(&values[..kept]);
        values = v;
    }
    Ok(CsrMatrix::from_valid_parts(
        nrows,
        ncols,
        I::into_indices(row_ptr, col_idx),
        values,
    ))
}

/// Sorts the columns of every row that is not strictly increasing and sums duplicates, moving
/// rows forward over the removed entries; returns the entries kept (`row_ptr` is updated).
fn sort_rows<I: CsrIndex, T: Scalar>(
    row_ptr: &mut [I],
    col_idx: &mut [I],
    values: &mut [T],
) -> Result<usize> {
    let mut scratch: Vec<(usize, T)> = Vec::new();
    let (mut start, mut w) = (0usize, 0usize);
    for r in 0..row_ptr.len() - 1 {
        let end = row_ptr[r + 1].to_usize();
        let sorted = col_idx[start..end]
            .windows(2)
            .all(|p| p[0].to_usize() < p[1].to_usize());
        if sorted {
            if w != start {
                col_idx.copy_within(start..end, w);
                values.copy_within(start..end, w);
            }
            w += end - start;
        } else {
            scratch.clear();
            scratch.try_reserve(end - start).map_err(|_| {
                Error::new(
                    ErrorKind::OutOfMemory,
                    format!(
                        "cannot allocate room to sort the {} entries of row {r}",
                        end - start
                    ),
                )
            })?;
            scratch.extend((start..end).map(|k| (col_idx[k].to_usize(), values[k])));
            scratch.sort_by_key(|&(c, _)| c);
            let first = w;
            for &(c, v) in &scratch {
                if w > first && col_idx[w - 1].to_usize() == c {
                    values[w - 1] += v;
                } else {
                    col_idx[w] = I::narrow(c);
                    values[w] = v;
                    w += 1;
                }
            }
        }
        row_ptr[r + 1] = I::narrow(w);
        start = end;
    }
    Ok(w)
}
