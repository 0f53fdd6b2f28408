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

use super::io_error;
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{AnyCsr, CsrBuilder, CsrIndices, CsrMatrix, Scalar, ScalarKind, by_scalar};
use crate::memory::MemoryManager;
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

/// Reads big-endian numbers, counting bytes for messages.
struct Reader<R> {
    inner: R,
    offset: u64,
    int_bits: u32,
}

impl<R: Read> Reader<R> {
    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.inner.read_exact(&mut b).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Error::new(
                    ErrorKind::CorruptFile,
                    format!(
                        "truncated: the file ends inside the {what} (at byte {})",
                        self.offset
                    ),
                )
            } else {
                Error::new(ErrorKind::Io, format!("cannot read: {e}"))
            }
        })?;
        self.offset += N as u64;
        Ok(b)
    }

    fn int(&mut self, what: &str) -> Result<i64> {
        Ok(if self.int_bits == 32 {
            i64::from(i32::from_be_bytes(self.bytes(what)?))
        } else {
            i64::from_be_bytes(self.bytes(what)?)
        })
    }

    fn double(&mut self, what: &str) -> Result<f64> {
        Ok(f64::from_be_bytes(self.bytes(what)?))
    }
}

fn corrupt(message: String) -> Error {
    Error::new(ErrorKind::CorruptFile, message)
}

/// Reads a PETSc binary matrix file; its scalar type (real or complex) is decided by the file's
/// length, its integer width (32 or 64 bits) by the class id.
pub fn read_petsc(manager: &MemoryManager, path: impl AsRef<Path>, tag: &str) -> Result<AnyCsr> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| io_error(path, "open the file", e))?;
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
    let scalar = match scalar {
        Ok(kind) => kind,
        Err(file_len) => {
            let ib = u128::from(r.int_bits / 8);
            let (rows, nnz) = (rows as u128, nnz as u128);
            let base = 4 * ib + rows * ib + nnz * ib;
            let (real, complex) = (base + nnz * 8, base + nnz * 16);
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
    let (nrows, ncols) = (rows as usize, cols as usize);
    let mut lengths = Vec::with_capacity(nrows.min(1 << 24));
    let mut total: i64 = 0;
    for row in 0..nrows {
        let n = r.int("row lengths")?;
        if n < 0 || n > nnz - total {
            return Err(corrupt(format!(
                "row {row} has length {n}, but only {} of the {nnz} entries are left",
                nnz - total
            )));
        }
        total += n;
        lengths.push(n as usize);
    }
    if total != nnz {
        return Err(corrupt(format!(
            "the row lengths add up to {total}, but the header says {nnz} entries"
        )));
    }
    let mut columns = Vec::with_capacity((nnz as usize).min(1 << 24));
    for k in 0..nnz {
        let c = r.int("column indices")?;
        if c < 0 || c >= cols {
            return Err(corrupt(format!(
                "column index {c} of entry {k} is out of range for {cols} columns"
            )));
        }
        columns.push(c as usize);
    }
    fn fill<T: Scalar, R: Read>(
        b: &mut CsrBuilder<T>,
        r: &mut Reader<R>,
        lengths: &[usize],
        columns: &[usize],
    ) -> Result<()> {
        let mut k = 0;
        for (row, &n) in lengths.iter().enumerate() {
            for &col in &columns[k..k + n] {
                let re = r.double("values")?;
                let z = if T::KIND == ScalarKind::Complex {
                    Complex64::new(re, r.double("values")?)
                } else {
                    Complex64::new(re, 0.0)
                };
                let v = T::from_complex(z).expect("real only for real T");
                if !v.is_finite_value() {
                    return Err(corrupt(format!(
                        "entry {k} (row {row}, column {col}) is not finite: {v:?}"
                    )));
                }
                b.add_element(row, col, v)?;
                k += 1;
            }
        }
        Ok(())
    }
    Ok(by_scalar!(new scalar, T => {
        let mut b = CsrBuilder::<T>::new(manager, nrows, ncols, tag)?;
        fill(&mut b, &mut r, &lengths, &columns)?;
        b.finalize()?
    }))
}
