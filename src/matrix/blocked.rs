//! Cache-blocked dense kernels: copy, transpose and conjugate transpose between strided
//! column-major views (the seed's "cache-friendly layout").
//!
//! A naive transpose walks one of the two matrices across its columns, touching one element per
//! cache line; working on `TILE × TILE` tiles keeps both tiles in L1 and uses every line fully.

use super::scalar::Scalar;
use crate::error::{Error, Result};
use faer::reborrow::ReborrowMut;
use faer::{MatMut, MatRef};

/// Tile edge in elements. 16×16 complex values are 4 KiB, so a source tile, a destination
/// tile and the lines around them stay in L1; 8, 32 and 64 were measured slower
/// (`cargo bench --bench dense_layout`).
pub const TILE: usize = 16;

fn check_dims(what: &str, src: (usize, usize), dst: (usize, usize)) -> Result<()> {
    if src != dst {
        return Err(Error::invalid_argument(format!(
            "{what}: the destination is {}×{} but must be {}×{}",
            dst.0, dst.1, src.0, src.1
        )));
    }
    Ok(())
}

/// `dst = src` (same shape).
pub fn copy<T: Scalar>(src: MatRef<'_, T>, mut dst: MatMut<'_, T>) -> Result<()> {
    check_dims(
        "copy",
        (src.nrows(), src.ncols()),
        (dst.nrows(), dst.ncols()),
    )?;
    if src.row_stride() == 1 && dst.row_stride() == 1 {
        for j in 0..src.ncols() {
            let from = src.col(j).try_as_col_major().expect("unit row stride");
            let to = dst
                .rb_mut()
                .col_mut(j)
                .try_as_col_major_mut()
                .expect("unit row stride");
            to.as_slice_mut().copy_from_slice(from.as_slice());
        }
        return Ok(());
    }
    tiled(src, dst, |x| x);
    Ok(())
}

/// `dst = srcᵀ` (`dst` has the transposed shape).
pub fn transpose<T: Scalar>(src: MatRef<'_, T>, dst: MatMut<'_, T>) -> Result<()> {
    check_dims(
        "transpose",
        (src.ncols(), src.nrows()),
        (dst.nrows(), dst.ncols()),
    )?;
    tiled(src.transpose(), dst, |x| x);
    Ok(())
}

/// `dst = srcᴴ` (conjugate transpose; equal to the transpose for real matrices).
pub fn adjoint<T: Scalar>(src: MatRef<'_, T>, dst: MatMut<'_, T>) -> Result<()> {
    check_dims(
        "adjoint",
        (src.ncols(), src.nrows()),
        (dst.nrows(), dst.ncols()),
    )?;
    tiled(src.transpose(), dst, T::conj_value);
    Ok(())
}

/// `dst[i, j] = op(src[i, j])` tile by tile, whatever the strides of the two views. Inside a tile
/// the inner loop runs along j: for a transposed column-major source that reads contiguous
/// memory and writes one element into each of 16 destination columns, whose lines stay in L1
/// until the tile fills them.
fn tiled<T: Scalar>(src: MatRef<'_, T>, dst: MatMut<'_, T>, op: impl Fn(T) -> T) {
    let (m, n) = (src.nrows(), src.ncols());
    let (s_rs, s_cs) = (src.row_stride(), src.col_stride());
    let (d_rs, d_cs) = (dst.row_stride(), dst.col_stride());
    let s = src.as_ptr();
    let d = dst.as_ptr_mut();
    for jb in (0..n).step_by(TILE) {
        for ib in (0..m).step_by(TILE) {
            for i in ib..(ib + TILE).min(m) {
                for j in jb..(jb + TILE).min(n) {
                    // SAFETY: i < nrows and j < ncols of both views (same shape, checked by the
                    // callers), so both offsets stay inside the views' memory; the views do not
                    // overlap because `dst` is a unique borrow.
                    unsafe {
                        let v = *s.offset(i as isize * s_rs + j as isize * s_cs);
                        *d.offset(i as isize * d_rs + j as isize * d_cs) = op(v);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;
    use num_complex::Complex64;

    #[test]
    fn transpose_and_adjoint_match_faer() {
        for (m, n) in [(1, 1), (3, 70), (65, 33), (100, 100)] {
            let a =
                Mat::<Complex64>::from_fn(m, n, |i, j| Complex64::new(i as f64, j as f64 + 0.5));
            let mut t = Mat::<Complex64>::zeros(n, m);
            transpose(a.as_ref(), t.as_mut()).unwrap();
            assert_eq!(t, a.transpose().to_owned());
            adjoint(a.as_ref(), t.as_mut()).unwrap();
            assert_eq!(t, a.adjoint().to_owned());
            let mut c = Mat::<Complex64>::zeros(m, n);
            copy(a.as_ref(), c.as_mut()).unwrap();
            assert_eq!(c, a);
            // a strided (row-major) source goes through the tiled path
            copy(t.transpose(), c.as_mut()).unwrap();
            assert_eq!(c, a.conjugate().to_owned());
        }
    }

    #[test]
    fn shapes_are_checked() {
        let a = Mat::<f64>::zeros(3, 4);
        let mut b = Mat::<f64>::zeros(3, 4);
        let err = transpose(a.as_ref(), b.as_mut()).unwrap_err();
        assert!(err.message().contains("must be 4×3"), "{}", err.message());
    }
}
