//! MatrixMarket exchange format (NIST): text, 1-based indices.
//!
//! Writing produces `%%MatrixMarket matrix coordinate real general` (or `complex`), one entry
//! per line, numbers in Rust's shortest round-trip notation (`{:e}`), so reading the file back
//! gives bit-identical values.
//!
//! Reading accepts `coordinate` (`real`, `double`, `integer`, `complex`, `pattern`) and `array`
//! (not `pattern`) files with `general`, `symmetric`, `skew-symmetric` or `hermitian` symmetry;
//! the stored triangle is expanded to the full matrix (mirrored, negated or conjugated). Keywords
//! are case-insensitive; comment lines (`%`) and blank lines are skipped; duplicate coordinate
//! entries are summed; zeros of an `array` file are not stored. As the format requires, a
//! symmetric file stores only the lower triangle (a skew-symmetric one without the diagonal),
//! and a Hermitian diagonal is real. Any deviation is refused with the line number.

use super::io_error;
use super::open::{MAX_LINE_BYTES, check_memory_for, open_regular_file, read_bounded_line};
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{AnyCsr, CsrBuilder, CsrMatrix, Scalar, ScalarKind, by_scalar, require_square};
use crate::memory::MemoryManager;
use num_complex::Complex64;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

/// Writes `matrix` to `path` (replacing it) as a coordinate MatrixMarket file.
pub fn write_matrix_market<T: Scalar>(matrix: &CsrMatrix<T>, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let file = File::create(path).map_err(|e| io_error(path, "create the file", e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    write_matrix_market_to(matrix, &mut w).map_err(|e| e.context(&path.display().to_string()))?;
    w.flush().map_err(|e| io_error(path, "write", e))
}

/// Writes `matrix` as a coordinate MatrixMarket file to `w`.
pub fn write_matrix_market_to<T: Scalar, W: Write>(matrix: &CsrMatrix<T>, mut w: W) -> Result<()> {
    let complex = T::KIND == ScalarKind::Complex;
    let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("cannot write: {e}"));
    writeln!(
        w,
        "%%MatrixMarket matrix coordinate {} general\n% written by qdsim-mem {}\n{} {} {}",
        if complex { "complex" } else { "real" },
        env!("CARGO_PKG_VERSION"),
        matrix.nrows(),
        matrix.ncols(),
        matrix.nnz()
    )
    .map_err(io)?;
    for r in 0..matrix.nrows() {
        for (c, v) in matrix.row(r) {
            let z = v.to_complex();
            if complex {
                writeln!(w, "{} {} {:e} {:e}", r + 1, c + 1, z.re, z.im)
            } else {
                writeln!(w, "{} {} {:e}", r + 1, c + 1, z.re)
            }
            .map_err(io)?;
        }
    }
    Ok(())
}

/// Reads a MatrixMarket file into a CSR matrix (real unless the file's field is `complex`),
/// arrays tagged `tag.*`.
pub fn read_matrix_market(
    manager: &MemoryManager,
    path: impl AsRef<Path>,
    tag: &str,
) -> Result<AnyCsr> {
    let path = path.as_ref();
    let file = open_regular_file(path, "the MatrixMarket file", false)?;
    read_matrix_market_from(manager, BufReader::with_capacity(1 << 20, file), tag)
        .map_err(|e| e.context(&path.display().to_string()))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Real,
    Integer,
    Complex,
    Pattern,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Symmetry {
    General,
    Symmetric,
    SkewSymmetric,
    Hermitian,
}

/// Lines of the input with their numbers, skipping comments and blank lines.
struct Lines<R> {
    reader: R,
    number: usize,
    text: String,
}

impl<R: BufRead> Lines<R> {
    /// Moves to the next line that carries data; false at the end of the input.
    fn next_data(&mut self) -> Result<bool> {
        loop {
            let n = read_bounded_line(
                &mut self.reader,
                &mut self.text,
                MAX_LINE_BYTES,
                self.number + 1,
            )?;
            if n == 0 {
                return Ok(false);
            }
            self.number += 1;
            let t = self.text.trim();
            if !t.is_empty() && !t.starts_with('%') {
                return Ok(true);
            }
        }
    }

    /// The current line without surrounding white space.
    fn current(&self) -> &str {
        self.text.trim()
    }
}

fn at(line: usize, message: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::CorruptFile, format!("line {line}: {message}"))
}

fn parse_header(line: &str) -> Result<(bool, Field, Symmetry)> {
    let words: Vec<String> = line.split_whitespace().map(str::to_lowercase).collect();
    if words.first().map(String::as_str) != Some("%%matrixmarket") {
        return Err(at(
            1,
            format!(
                "not a MatrixMarket file: the first line must start with %%MatrixMarket, found {line:?}"
            ),
        ));
    }
    if words.len() != 5 {
        return Err(at(
            1,
            format!(
                "the header needs 4 words after %%MatrixMarket (matrix, format, field, symmetry), \
                 found {}",
                words.len() - 1
            ),
        ));
    }
    if words[1] != "matrix" {
        return Err(at(
            1,
            format!("object {:?} is not supported (only \"matrix\")", words[1]),
        ));
    }
    let coordinate = match words[2].as_str() {
        "coordinate" => true,
        "array" => false,
        other => {
            return Err(at(
                1,
                format!("format {other:?} is not \"coordinate\" or \"array\""),
            ));
        }
    };
    let field = match words[3].as_str() {
        "real" | "double" => Field::Real,
        "integer" => Field::Integer,
        "complex" => Field::Complex,
        "pattern" if coordinate => Field::Pattern,
        "pattern" => return Err(at(1, "an array file cannot have the field \"pattern\"")),
        other => {
            return Err(at(
                1,
                format!("field {other:?} is not real, double, integer, complex or pattern"),
            ));
        }
    };
    let symmetry = match words[4].as_str() {
        "general" => Symmetry::General,
        "symmetric" => Symmetry::Symmetric,
        "skew-symmetric" => Symmetry::SkewSymmetric,
        "hermitian" if field == Field::Complex => Symmetry::Hermitian,
        "hermitian" => return Err(at(1, "a Hermitian file must have the field \"complex\"")),
        other => {
            return Err(at(
                1,
                format!(
                    "symmetry {other:?} is not general, symmetric, skew-symmetric or hermitian"
                ),
            ));
        }
    };
    Ok((coordinate, field, symmetry))
}

fn parse_index(word: &str, line: usize, what: &str, max: usize) -> Result<usize> {
    let i: usize = word.parse().map_err(|_| {
        at(
            line,
            format!("{what} {word:?} is not a non-negative integer"),
        )
    })?;
    if i == 0 || i > max {
        return Err(at(
            line,
            format!("{what} {i} is out of range 1..={max} (indices are 1-based)"),
        ));
    }
    Ok(i - 1)
}

fn parse_value(words: &[&str], field: Field, line: usize) -> Result<Complex64> {
    let real = |w: &str| -> Result<f64> {
        let x = if field == Field::Integer {
            w.parse::<i64>()
                .map(|i| i as f64)
                .map_err(|_| at(line, format!("{w:?} is not an integer")))?
        } else {
            w.parse::<f64>()
                .map_err(|_| at(line, format!("{w:?} is not a real number")))?
        };
        if !x.is_finite() {
            return Err(at(line, format!("value {w:?} is not finite")));
        }
        Ok(x)
    };
    Ok(match field {
        Field::Pattern => Complex64::new(1.0, 0.0),
        Field::Complex => Complex64::new(real(words[0])?, real(words[1])?),
        Field::Real | Field::Integer => Complex64::new(real(words[0])?, 0.0),
    })
}

fn values_per_entry(field: Field) -> usize {
    match field {
        Field::Pattern => 0,
        Field::Real | Field::Integer => 1,
        Field::Complex => 2,
    }
}

/// Adds `(r, c, v)` and its mirror image under `symmetry` (`line` for messages).
fn add<T: Scalar>(
    b: &mut CsrBuilder<T>,
    symmetry: Symmetry,
    (r, c, v): (usize, usize, Complex64),
    line: usize,
) -> Result<()> {
    let to_t = |z: Complex64| T::from_complex(z).expect("a real field gives real values");
    match symmetry {
        Symmetry::General => {}
        _ if r < c => {
            return Err(at(
                line,
                format!(
                    "entry ({}, {}) is above the diagonal; a symmetric, skew-symmetric or \
                     Hermitian file stores only the lower triangle",
                    r + 1,
                    c + 1
                ),
            ));
        }
        Symmetry::SkewSymmetric if r == c => {
            return Err(at(
                line,
                format!(
                    "entry ({}, {}) is on the diagonal, which a skew-symmetric file does not store",
                    r + 1,
                    c + 1
                ),
            ));
        }
        Symmetry::Hermitian if r == c && v.im != 0.0 => {
            return Err(at(
                line,
                format!(
                    "diagonal entry ({}, {}) of a Hermitian matrix has the imaginary part {}",
                    r + 1,
                    c + 1,
                    v.im
                ),
            ));
        }
        _ if r == c => {}
        Symmetry::Symmetric => b.add_element(c, r, to_t(v))?,
        Symmetry::SkewSymmetric => b.add_element(c, r, to_t(-v))?,
        Symmetry::Hermitian => b.add_element(c, r, to_t(v.conj()))?,
    }
    b.add_element(r, c, to_t(v))
}

fn read_entries<T: Scalar, R: BufRead>(
    lines: &mut Lines<R>,
    b: &mut CsrBuilder<T>,
    (coordinate, field, symmetry): (bool, Field, Symmetry),
    expected: usize,
    size_line: usize,
) -> Result<()> {
    let (rows, cols) = (b.nrows(), b.ncols());
    let per = values_per_entry(field);
    // Array files list column by column: all rows (general), the lower triangle with the
    // diagonal (symmetric, Hermitian) or without it (skew-symmetric).
    let first_row = |j: usize| match symmetry {
        Symmetry::General => 0,
        Symmetry::SkewSymmetric => j + 1,
        _ => j,
    };
    let (mut col, mut row) = (0usize, first_row(0));
    for k in 0..expected {
        if !lines.next_data()? {
            return Err(at(
                lines.number,
                format!(
                    "the input ends after {k} of the {expected} entries announced by the size \
                     line (line {size_line})"
                ),
            ));
        };
        let line = lines.number;
        let words: Vec<&str> = lines.current().split_whitespace().collect();
        if coordinate {
            if words.len() != 2 + per {
                return Err(at(
                    line,
                    format!(
                        "an entry needs {} numbers (row, column{}), found {}",
                        2 + per,
                        ["", ", value", ", real part, imaginary part"][per],
                        words.len()
                    ),
                ));
            }
            let r = parse_index(words[0], line, "row index", rows)?;
            let c = parse_index(words[1], line, "column index", cols)?;
            let v = parse_value(&words[2..], field, line)?;
            add(b, symmetry, (r, c, v), line)?;
        } else {
            if words.len() != per {
                return Err(at(
                    line,
                    format!(
                        "an array entry needs {per} number{}, found {}",
                        if per == 1 { "" } else { "s" },
                        words.len()
                    ),
                ));
            }
            while row >= rows {
                col += 1;
                row = first_row(col);
            }
            let v = parse_value(&words, field, line)?;
            if v != Complex64::new(0.0, 0.0) {
                add(b, symmetry, (row, col, v), line)?;
            }
            row += 1;
        }
    }
    if lines.next_data()? {
        return Err(at(
            lines.number,
            format!(
                "unexpected data {:?} after the {expected} entries announced by the size \
                 line (line {size_line})",
                lines.current()
            ),
        ));
    }
    Ok(())
}

/// Entries an array file of `rows × cols` lists: all of them (general), the lower triangle with
/// the diagonal (symmetric, Hermitian; square) or without it (skew-symmetric); `None` when the
/// count does not fit `usize`.
fn array_entries(rows: usize, cols: usize, symmetry: Symmetry) -> Option<usize> {
    let (r, c) = (rows as u128, cols as u128);
    let n = match symmetry {
        Symmetry::General => r * c,
        Symmetry::Symmetric | Symmetry::Hermitian => r * (r + 1) / 2,
        Symmetry::SkewSymmetric => r * r.saturating_sub(1) / 2,
    };
    usize::try_from(n).ok()
}

/// Bytes per row that building the CSR matrix takes at its peak (counting sort offsets, cursors,
/// kept counts and the final row pointers, all 64-bit at worst).
const BUILD_BYTES_PER_ROW: u128 = 32;

/// Reads a MatrixMarket matrix from `reader` (see the module documentation for what is accepted).
pub fn read_matrix_market_from<R: BufRead>(
    manager: &MemoryManager,
    reader: R,
    tag: &str,
) -> Result<AnyCsr> {
    let mut lines = Lines {
        reader,
        number: 0,
        text: String::new(),
    };
    let n = read_bounded_line(&mut lines.reader, &mut lines.text, MAX_LINE_BYTES, 1)?;
    if n == 0 {
        return Err(at(1, "the input is empty"));
    }
    lines.number = 1;
    let kind = parse_header(lines.text.trim())?;
    let (coordinate, field, symmetry) = kind;
    if !lines.next_data()? {
        return Err(at(lines.number, "the input ends before the size line"));
    }
    let size_line = lines.number;
    let size = lines.current().to_string();
    let words: Vec<&str> = size.split_whitespace().collect();
    let want = if coordinate { 3 } else { 2 };
    if words.len() != want {
        return Err(at(
            size_line,
            format!(
                "the size line needs {want} integers ({}), found {:?}",
                if coordinate {
                    "rows, columns, entries"
                } else {
                    "rows, columns"
                },
                size
            ),
        ));
    }
    let mut sizes = [0usize; 3];
    for (s, w) in sizes.iter_mut().zip(&words) {
        *s = w.parse().map_err(|_| {
            at(
                size_line,
                format!("size {w:?} is not a non-negative integer"),
            )
        })?;
    }
    let [rows, cols, nnz] = sizes;
    let max_dim = i64::MAX as usize - 1;
    if rows > max_dim || cols > max_dim {
        return Err(at(
            size_line,
            format!(
                "a {rows}×{cols} matrix is too large: rows and columns are at most {max_dim} \
                 (64-bit indices)"
            ),
        ));
    }
    if symmetry != Symmetry::General {
        require_square(
            rows,
            cols,
            "a symmetric, skew-symmetric or Hermitian matrix",
        )
        .map_err(|e| at(size_line, e.message()))?;
    }
    // Entries the file announces (an array file: all the matrix, or its stored triangle).
    let expected = if coordinate {
        nnz
    } else {
        array_entries(rows, cols, symmetry).ok_or_else(|| {
            at(
                size_line,
                format!(
                    "a {rows}×{cols} array file would list more than {} entries",
                    usize::MAX
                ),
            )
        })?
    };
    check_memory_for(
        (rows as u128 + 1) * BUILD_BYTES_PER_ROW,
        &format!("line {size_line}: building a matrix of {rows} rows"),
    )?;
    let scalar = if field == Field::Complex {
        ScalarKind::Complex
    } else {
        ScalarKind::Real
    };
    Ok(by_scalar!(new scalar, T => {
        let mut b = CsrBuilder::<T>::new(manager, rows, cols, tag)?;
        read_entries(&mut lines, &mut b, kind, expected, size_line)?;
        b.finalize()?
    }))
}
