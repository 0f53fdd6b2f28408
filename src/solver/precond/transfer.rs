//! Grid transfer for multigrid and for the coarse-to-fine start: linear interpolation between
//! two grids over the same box, one axis at a time (tensor product), and its scaled transpose
//! (full-weighting restriction). Works for any pair of point counts, Dirichlet or periodic.
//! Vectors may be stored in `T` or in single precision ([`Store`]): the sums are in `T` and
//! each output value is rounded once.

use crate::matrix::{Load, Scalar, Store, vectorized};
use crate::physics::{Axis, Boundary, Grid};
use rayon::prelude::*;

/// Makes `v` `n` long, allocating exactly `n` when it must grow: the V-cycles' work vectors
/// (these transfers' outputs among them) are counted in the manager by their lengths, and
/// amortised growth could double a capacity.
pub(super) fn resize_exact<V: Copy + Default>(v: &mut Vec<V>, n: usize) {
    v.reserve_exact(n.saturating_sub(v.len()));
    v.resize(n, V::default());
}

/// Output values a transfer sums in `T` before it rounds them to their storage (a stack array).
const SUM_BLOCK: usize = 64;

/// A sparse 1D linear map `out[i] = Σ weight · in[index]`.
#[derive(Clone, Debug)]
pub(crate) struct Map1d {
    offsets: Vec<usize>,
    index: Vec<usize>,
    weight: Vec<f64>,
    n_in: usize,
}

impl Map1d {
    /// Values of a grid function on `src` interpolated (linearly) at the points of `dst`. A hard
    /// wall contributes its value 0; a periodic axis wraps around.
    pub(crate) fn interpolation(src: &Axis, dst: &Axis) -> Self {
        let mut map = Self {
            offsets: vec![0],
            index: Vec::new(),
            weight: Vec::new(),
            n_in: src.points,
        };
        for i in 0..dst.points {
            let x = dst.coordinate(i);
            match src.boundary {
                Boundary::Dirichlet => {
                    // src point I sits at (I+1)·h.
                    let t = x / src.spacing - 1.0;
                    let i0 = t.floor();
                    let w = t - i0;
                    for (j, wj) in [(i0, 1.0 - w), (i0 + 1.0, w)] {
                        if j >= 0.0 && (j as usize) < src.points && wj > 1e-14 {
                            map.index.push(j as usize);
                            map.weight.push(wj);
                        }
                    }
                }
                Boundary::Periodic => {
                    let t = x / src.spacing;
                    let i0 = t.floor();
                    let w = t - i0;
                    let n = src.points as i64;
                    for (j, wj) in [(i0 as i64, 1.0 - w), (i0 as i64 + 1, w)] {
                        if wj > 1e-14 {
                            map.index.push(j.rem_euclid(n) as usize);
                            map.weight.push(wj);
                        }
                    }
                }
            }
            map.offsets.push(map.index.len());
        }
        map
    }

    /// `scale · Mᵀ`.
    pub(crate) fn transpose(&self, scale: f64) -> Self {
        let n_out = self.offsets.len() - 1;
        let mut rows: Vec<Vec<(usize, f64)>> = vec![Vec::new(); self.n_in];
        for i in 0..n_out {
            for t in self.offsets[i]..self.offsets[i + 1] {
                rows[self.index[t]].push((i, scale * self.weight[t]));
            }
        }
        let mut map = Self {
            offsets: vec![0],
            index: Vec::new(),
            weight: Vec::new(),
            n_in: n_out,
        };
        for row in rows {
            for (j, w) in row {
                map.index.push(j);
                map.weight.push(w);
            }
            map.offsets.push(map.index.len());
        }
        map
    }

    fn n_out(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The map's arrays `(offsets, index, weight)`: output `i` (of `offsets.len() − 1`) is
    /// `Σ weight[t]·in[index[t]]` over `t ∈ offsets[i]..offsets[i+1]` (the GPU copies them).
    #[cfg(feature = "gpu")]
    pub(crate) fn parts(&self) -> (&[usize], &[usize], &[f64]) {
        (&self.offsets, &self.index, &self.weight)
    }
}

/// One unit of [`apply_along`] on an axis above x: output index `i` along the axis for one
/// value `o` of the outer indices (`u = o·n_out + i`), `inner` contiguous values, summed
/// [`SUM_BLOCK`] at a time in `T` (from 0, the terms in map order) and rounded once.
#[inline(always)]
fn sum_unit<T: Scalar, X: Load<T>, Y: Store<T>>(
    map: &Map1d,
    input: &[X],
    inner: usize,
    u: usize,
    dst: &mut [Y],
) {
    let (n_in, n_out) = (map.n_in, map.n_out());
    let (o, i) = (u / n_out, u % n_out);
    let in_slab = &input[o * inner * n_in..(o + 1) * inner * n_in];
    let mut sums = [T::ZERO_VALUE; SUM_BLOCK];
    for (b, dst) in dst.chunks_mut(SUM_BLOCK).enumerate() {
        let sums = &mut sums[..dst.len()];
        sums.fill(T::ZERO_VALUE);
        for t in map.offsets[i]..map.offsets[i + 1] {
            let start = map.index[t] * inner + b * SUM_BLOCK;
            let w = map.weight[t];
            for (a, &s) in sums.iter_mut().zip(&in_slab[start..start + dst.len()]) {
                *a += s.load().scale(w);
            }
        }
        for (d, &a) in dst.iter_mut().zip(sums.iter()) {
            *d = Y::store(a);
        }
    }
}

/// Applies `map` along axis `axis` of an array of `shape` (x fastest) into `output` (resized);
/// returns the new shape. Parallel over whole x-lines (axis > 0) or over slabs (axis 0). The
/// sums are in `T`, each output value rounded once to `Y`.
fn apply_along<T: Scalar, X: Load<T>, Y: Store<T> + Default>(
    map: &Map1d,
    axis: usize,
    shape: [usize; 3],
    input: &[X],
    output: &mut Vec<Y>,
) -> [usize; 3] {
    debug_assert_eq!(shape[axis], map.n_in);
    let mut out_shape = shape;
    out_shape[axis] = map.n_out();
    let inner: usize = shape[..axis].iter().product();
    let (n_in, n_out) = (map.n_in, map.n_out());
    output.clear();
    resize_exact(output, out_shape.iter().product());
    let unit = |u: usize, dst: &mut [Y]| sum_unit::<T, X, Y>(map, input, inner, u, dst);
    if inner == 1 {
        // Along x: each output line is a short gather from one input line.
        output
            .par_chunks_mut(n_out)
            .enumerate()
            .for_each(|(o, dst)| {
                vectorized(
                    #[inline(always)]
                    || {
                        let src = &input[o * n_in..(o + 1) * n_in];
                        for (i, d) in dst.iter_mut().enumerate() {
                            let mut acc = T::ZERO_VALUE;
                            for t in map.offsets[i]..map.offsets[i + 1] {
                                acc += src[map.index[t]].load().scale(map.weight[t]);
                            }
                            *d = Y::store(acc);
                        }
                    },
                )
            });
    } else if inner >= 64 {
        output
            .par_chunks_mut(inner)
            .enumerate()
            .for_each(|(u, dst)| {
                vectorized(
                    #[inline(always)]
                    || unit(u, dst),
                )
            });
    } else {
        output
            .par_chunks_mut(inner * n_out)
            .enumerate()
            .for_each(|(o, slab)| {
                vectorized(
                    #[inline(always)]
                    || {
                        for (i, dst) in slab.chunks_mut(inner).enumerate() {
                            unit(o * n_out + i, dst);
                        }
                    },
                )
            });
    }
    out_shape
}

/// Linear maps between a fine and a coarse grid over the same box.
#[derive(Clone, Debug)]
pub(crate) struct Transfer {
    prolong: Vec<Map1d>,
    restrict: Vec<Map1d>,
    coarse_shape: [usize; 3],
    fine_shape: [usize; 3],
}

impl Transfer {
    /// Transfers between `fine` and `coarse` (same dimension and extents).
    pub(crate) fn new(fine: &Grid, coarse: &Grid) -> Self {
        let prolong: Vec<Map1d> = fine
            .axes()
            .iter()
            .zip(coarse.axes())
            .map(|(f, c)| Map1d::interpolation(c, f))
            .collect();
        // Restriction = (h_f / h_c)·Pᵀ per axis: full weighting, the adjoint of P in the
        // grid-scaled inner product, which keeps the V-cycle symmetric.
        let restrict = prolong
            .iter()
            .zip(fine.axes().iter().zip(coarse.axes()))
            .map(|(p, (f, c))| p.transpose(f.spacing / c.spacing))
            .collect();
        Self {
            prolong,
            restrict,
            coarse_shape: coarse.shape(),
            fine_shape: fine.shape(),
        }
    }

    /// Applies `maps` axis after axis; `temp` holds the intermediate arrays (kept for reuse).
    fn apply<T: Scalar, S: Store<T> + Default>(
        maps: &[Map1d],
        shape: [usize; 3],
        input: &[S],
        output: &mut Vec<S>,
        temp: &mut [Vec<S>; 2],
    ) {
        let last = maps.len() - 1;
        if last == 0 {
            apply_along::<T, S, S>(&maps[0], 0, shape, input, output);
            return;
        }
        let mut shape = apply_along::<T, S, S>(&maps[0], 0, shape, input, &mut temp[0]);
        for (a, map) in maps.iter().enumerate().skip(1) {
            let (t0, t1) = temp.split_at_mut(1);
            let (src, next) = if a % 2 == 1 {
                (&t0[0], &mut t1[0])
            } else {
                (&t1[0], &mut t0[0])
            };
            let dst = if a == last { &mut *output } else { next };
            shape = apply_along::<T, S, S>(map, a, shape, src, dst);
        }
    }

    /// The per-axis maps of the prolongation and the restriction, and the (fine, coarse) shapes
    /// (for the GPU multigrid, which applies the same maps on the device).
    #[cfg(feature = "gpu")]
    pub(crate) fn maps(&self) -> (&[Map1d], &[Map1d], [usize; 3], [usize; 3]) {
        (
            &self.prolong,
            &self.restrict,
            self.fine_shape,
            self.coarse_shape,
        )
    }

    /// Coarse → fine (linear interpolation); `temp` holds intermediate arrays between calls.
    pub(crate) fn prolong<T: Scalar>(
        &self,
        coarse: &[T],
        fine: &mut Vec<T>,
        temp: &mut [Vec<T>; 2],
    ) {
        self.prolong_stored::<T, T>(coarse, fine, temp);
    }

    /// Fine → coarse (full weighting); `temp` holds intermediate arrays between calls.
    #[cfg(test)]
    pub(crate) fn restrict<T: Scalar>(
        &self,
        fine: &[T],
        coarse: &mut Vec<T>,
        temp: &mut [Vec<T>; 2],
    ) {
        self.restrict_stored::<T, T>(fine, coarse, temp);
    }

    /// [`prolong`](Self::prolong) of vectors stored as `S` (`T` or its single precision).
    pub(crate) fn prolong_stored<T: Scalar, S: Store<T> + Default>(
        &self,
        coarse: &[S],
        fine: &mut Vec<S>,
        temp: &mut [Vec<S>; 2],
    ) {
        Self::apply::<T, S>(&self.prolong, self.coarse_shape, coarse, fine, temp);
    }

    /// [`restrict`](Self::restrict) of vectors stored as `S` (`T` or its single precision).
    pub(crate) fn restrict_stored<T: Scalar, S: Store<T> + Default>(
        &self,
        fine: &[S],
        coarse: &mut Vec<S>,
        temp: &mut [Vec<S>; 2],
    ) {
        Self::apply::<T, S>(&self.restrict, self.fine_shape, fine, coarse, temp);
    }
}

/// `values` (one per point of `src`) interpolated at the points of `dst` (same box).
pub(crate) fn interpolate_field(src: &Grid, dst: &Grid, values: &[f64]) -> Vec<f64> {
    let maps: Vec<Map1d> = src
        .axes()
        .iter()
        .zip(dst.axes())
        .map(|(s, d)| Map1d::interpolation(s, d))
        .collect();
    let mut out = Vec::new();
    Transfer::apply(
        &maps,
        src.shape(),
        values,
        &mut out,
        &mut [Vec::new(), Vec::new()],
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_functions_are_interpolated_exactly_inside() {
        let fine = Grid::dirichlet_box(&[10.0, 6.0], &[19, 11]).unwrap();
        let coarse = Grid::dirichlet_box(&[10.0, 6.0], &[9, 5]).unwrap();
        let t = Transfer::new(&fine, &coarse);
        let f = |x: f64, y: f64| 2.0 * x - 3.0 * y + 1.0;
        let (cx, cy) = (coarse.axes()[0], coarse.axes()[1]);
        let coarse_values: Vec<f64> = (0..45)
            .map(|p| f(cx.coordinate(p % 9), cy.coordinate(p / 9)))
            .collect();
        let mut fine_values = Vec::new();
        t.prolong(
            &coarse_values,
            &mut fine_values,
            &mut [Vec::new(), Vec::new()],
        );
        assert_eq!(fine_values.len(), 19 * 11);
        let (fx, fy) = (fine.axes()[0], fine.axes()[1]);
        // Fine points between coarse points (not next to a wall) reproduce the linear function.
        for j in 1..10 {
            for i in 1..18 {
                let v = fine_values[i + 19 * j];
                assert!(
                    (v - f(fx.coordinate(i), fy.coordinate(j))).abs() < 1e-12,
                    "({i},{j})"
                );
            }
        }
        // Restriction is the scaled transpose: <R u, v>_c·H² = <u, P v>_f·h² for all u, v.
        let u: Vec<f64> = (0..19 * 11).map(|p| ((p * 7) % 5) as f64).collect();
        let mut ru = Vec::new();
        t.restrict(&u, &mut ru, &mut [Vec::new(), Vec::new()]);
        let lhs: f64 = ru
            .iter()
            .zip(&coarse_values)
            .map(|(a, b)| a * b)
            .sum::<f64>()
            * (cx.spacing * cy.spacing);
        let rhs: f64 =
            u.iter().zip(&fine_values).map(|(a, b)| a * b).sum::<f64>() * (fx.spacing * fy.spacing);
        assert!((lhs - rhs).abs() < 1e-9 * rhs.abs());
    }

    #[test]
    fn periodic_axes_wrap() {
        let fine = Grid::new(&[Axis::periodic(8.0, 8)]).unwrap();
        let coarse = Grid::new(&[Axis::periodic(8.0, 4)]).unwrap();
        let t = Transfer::new(&fine, &coarse);
        let mut out = Vec::new();
        t.prolong(
            &[1.0, 3.0, 5.0, 7.0],
            &mut out,
            &mut [Vec::new(), Vec::new()],
        );
        assert_eq!(out, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 4.0]);
    }
}
