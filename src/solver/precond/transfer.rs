//! Grid transfer for multigrid and for the coarse-to-fine start: linear interpolation between
//! two grids over the same box, one axis at a time (tensor product), and its scaled transpose
//! (full-weighting restriction). Works for any pair of point counts, Dirichlet or periodic.
//! Vectors may be stored in `T` or in single precision ([`Store`]): the sums are in `T` and
//! each output value is rounded once.
//!
//! On 2D and 3D grids the V-cycle's transfers stream slabs along the outermost axis (x-lines,
//! xy-planes): [`Transfer::restrict_streamed`] restricts a fine function made slab by slab
//! (the residual, never stored) and [`Transfer::prolong_add`] adds the interpolated correction
//! in place, each holding a few slabs per thread instead of vectors of the grids' size.

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

/// The shape of an array of `shape` after `map` along axis `axis`.
fn shape_after(map: &Map1d, axis: usize, shape: [usize; 3]) -> [usize; 3] {
    let mut out_shape = shape;
    out_shape[axis] = map.n_out();
    out_shape
}

/// Applies `map` along axis `axis` of an array of `shape` (x fastest) into `output` (resized);
/// returns the new shape (see [`apply_along_into`]).
fn apply_along<T: Scalar, X: Load<T>, Y: Store<T> + Default>(
    map: &Map1d,
    axis: usize,
    shape: [usize; 3],
    input: &[X],
    output: &mut Vec<Y>,
) -> [usize; 3] {
    output.clear();
    resize_exact(output, shape_after(map, axis, shape).iter().product());
    apply_along_into::<T, X, Y>(map, axis, shape, input, output)
}

/// Applies `map` along axis `axis` of an array of `shape` (x fastest) into `output` (as long
/// as the result, every value written); returns the new shape. Parallel over whole x-lines
/// (axis > 0) or over slabs (axis 0). The sums are in `T`, each output value rounded once to
/// `Y`.
fn apply_along_into<T: Scalar, X: Load<T>, Y: Store<T>>(
    map: &Map1d,
    axis: usize,
    shape: [usize; 3],
    input: &[X],
    output: &mut [Y],
) -> [usize; 3] {
    debug_assert_eq!(shape[axis], map.n_in);
    let out_shape = shape_after(map, axis, shape);
    assert_eq!(output.len(), out_shape.iter().product::<usize>());
    let inner: usize = shape[..axis].iter().product();
    let (n_in, n_out) = (map.n_in, map.n_out());
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

    /// Applies `maps` axis after axis into `output` (resized); `temp` holds the intermediate
    /// arrays (kept for reuse).
    fn apply<T: Scalar, S: Store<T> + Default>(
        maps: &[Map1d],
        shape: [usize; 3],
        input: &[S],
        output: &mut Vec<S>,
        temp: &mut [Vec<S>; 2],
    ) {
        let len = maps
            .iter()
            .enumerate()
            .fold(shape, |shape, (a, map)| shape_after(map, a, shape))
            .iter()
            .product();
        output.clear();
        resize_exact(output, len);
        Self::apply_into::<T, S>(maps, shape, input, output, temp);
    }

    /// [`apply`](Self::apply) into `output`, as long as the result (the last axis writes it
    /// directly).
    fn apply_into<T: Scalar, S: Store<T> + Default>(
        maps: &[Map1d],
        shape: [usize; 3],
        input: &[S],
        output: &mut [S],
        temp: &mut [Vec<S>; 2],
    ) {
        let last = maps.len() - 1;
        if last == 0 {
            apply_along_into::<T, S, S>(&maps[0], 0, shape, input, output);
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
            shape = if a == last {
                apply_along_into::<T, S, S>(map, a, shape, src, output)
            } else {
                apply_along::<T, S, S>(map, a, shape, src, next)
            };
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

    /// Coarse → fine (linear interpolation) into `fine`, as long as the fine grid; `temp`
    /// holds intermediate arrays between calls.
    pub(crate) fn prolong_into<T: Scalar>(
        &self,
        coarse: &[T],
        fine: &mut [T],
        temp: &mut [Vec<T>; 2],
    ) {
        Self::apply_into::<T, T>(&self.prolong, self.coarse_shape, coarse, fine, temp);
    }

    /// Elements `prolong_into` (and `prolong`) hold in `temp`: the array after each axis's
    /// pass but the last (which writes the result).
    pub(crate) fn prolong_temp_len(&self) -> usize {
        let last = self.prolong.len() - 1;
        self.prolong[..last]
            .iter()
            .enumerate()
            .scan(self.coarse_shape, |shape, (a, map)| {
                *shape = shape_after(map, a, *shape);
                Some(shape.iter().product::<usize>())
            })
            .sum()
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

/// Output slabs of one task of a streamed transfer, of `slabs` in all: one run per thread, so
/// that the only fine slabs made twice are those two runs share at their border (a shorter
/// run per task was measured 5 % slower per application in 3D at 100³).
fn slabs_per_task(slabs: usize) -> usize {
    slabs.div_ceil(rayon::current_num_threads()).max(1)
}

/// Slabs of a streamed transfer a task keeps (a coarse slab sums at most three fine ones, a
/// fine slab interpolates at most two coarse ones; the next slab reuses the last).
const STREAM_CACHE: usize = 4;

/// `shape` with the axes from `axis` on set to 1: the shape of one slab along `axis`.
fn slab_shape(shape: [usize; 3], axis: usize) -> [usize; 3] {
    let mut slab = shape;
    slab[axis..].fill(1);
    slab
}

/// [`apply_along`] on one slab, sequentially, in `T` (a streamed transfer's inner axes):
/// `output[(o·n_out + i)·inner + x] = Σ_t weight[t]·input[(o·n_in + index[t])·inner + x]`.
/// Inlined into the caller's [`vectorized`] kernel (11 % of a 1000² solve's time when it was
/// not, at 1000² in 2D, most of it along x).
#[inline(always)]
fn apply_along_serial<T: Scalar>(
    map: &Map1d,
    axis: usize,
    shape: [usize; 3],
    input: &[T],
    output: &mut Vec<T>,
) -> [usize; 3] {
    let (n_in, n_out) = (map.n_in, map.n_out());
    let inner: usize = shape[..axis].iter().product();
    let outer: usize = shape[axis + 1..].iter().product();
    resize_exact(output, inner * n_out * outer);
    if inner == 1 {
        // Along x: each output value is a short gather from one input line, summed in a
        // register (from 0, the terms in map order) and written once.
        for (src, dst) in input.chunks_exact(n_in).zip(output.chunks_exact_mut(n_out)) {
            for (i, d) in dst.iter_mut().enumerate() {
                let mut acc = T::ZERO_VALUE;
                for t in map.offsets[i]..map.offsets[i + 1] {
                    acc += src[map.index[t]].scale(map.weight[t]);
                }
                *d = acc;
            }
        }
        let mut out_shape = shape;
        out_shape[axis] = n_out;
        return out_shape;
    }
    // Each output line is written by its first term and added to by the others (a line
    // without terms is zero).
    for o in 0..outer {
        for i in 0..n_out {
            let dst = &mut output[(o * n_out + i) * inner..][..inner];
            let terms = map.offsets[i]..map.offsets[i + 1];
            if terms.is_empty() {
                dst.fill(T::ZERO_VALUE);
            }
            for t in terms.clone() {
                let src = &input[(o * n_in + map.index[t]) * inner..][..inner];
                add_term(dst, src, map.weight[t], t == terms.start);
            }
        }
    }
    let mut out_shape = shape;
    out_shape[axis] = n_out;
    out_shape
}

/// One term `w·src` of a sum of lines into `dst`: written when it is the `first`, added
/// otherwise (so a sum needs no zero-fill before its first term).
#[inline(always)]
fn add_term<T: Scalar>(dst: &mut [T], src: &[T], w: f64, first: bool) {
    if first {
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = v.scale(w);
        }
    } else {
        for (d, &v) in dst.iter_mut().zip(src) {
            *d += v.scale(w);
        }
    }
}

/// `maps` applied to one slab of `shape`, into `output` (`temp` between). With two axes the
/// one that shrinks the slab more goes first: the pass along x gathers each value from its
/// line (a scalar loop), the pass along y adds whole lines (vectorised), so a restriction
/// (fine to coarse) runs along y first and gathers along x on the shorter lines, and an
/// interpolation runs along x first, on the coarse lines.
#[inline(always)]
fn apply_slab<T: Scalar>(
    maps: &[Map1d],
    shape: [usize; 3],
    input: &[T],
    output: &mut Vec<T>,
    temp: &mut Vec<T>,
) {
    match maps {
        [x] => {
            apply_along_serial(x, 0, shape, input, output);
        }
        [x, y] if y.n_out() < y.n_in => {
            let shape = apply_along_serial(y, 1, shape, input, temp);
            apply_along_serial(x, 0, shape, temp, output);
        }
        [x, y] => {
            let shape = apply_along_serial(x, 0, shape, input, temp);
            apply_along_serial(y, 1, shape, temp, output);
        }
        _ => unreachable!("a streamed transfer has one or two inner axes"),
    }
}

/// The slabs a task of a streamed transfer made last, by index along the outer axis.
struct SlabCache<T> {
    slabs: [(usize, Vec<T>); STREAM_CACHE],
    next: usize,
}

impl<T: Scalar> SlabCache<T> {
    fn new() -> Self {
        Self {
            slabs: std::array::from_fn(|_| (usize::MAX, Vec::new())),
            next: 0,
        }
    }

    /// Slab `k`, made by `make` into an evicted entry unless it is cached.
    fn get(&mut self, k: usize, make: impl FnOnce(&mut Vec<T>)) -> &[T] {
        let i = match self.slabs.iter().position(|(key, _)| *key == k) {
            Some(i) => i,
            None => {
                let i = self.next;
                self.next = (i + 1) % STREAM_CACHE;
                self.slabs[i].0 = k;
                make(&mut self.slabs[i].1);
                i
            }
        };
        &self.slabs[i].1
    }
}

impl Transfer {
    /// True when the grids have two or three axes: the transfers can then stream slabs along
    /// the outermost axis ([`restrict_streamed`](Self::restrict_streamed),
    /// [`prolong_add`](Self::prolong_add)) with no work vector of the grids' size.
    pub(crate) fn streams(&self) -> bool {
        self.restrict.len() >= 2
    }

    /// Points of one fine slab (an x-line in 2D, an xy-plane in 3D).
    pub(crate) fn fine_slab_len(&self) -> usize {
        let a = self.restrict.len() - 1;
        self.fine_shape[..a].iter().product()
    }

    /// Bytes of `T` a thread's streamed transfer holds at most: the fine slab, the cached
    /// slabs, a sum and the inner axes' intermediate, each at most a fine slab long.
    pub(crate) fn stream_bytes<T: Scalar>(&self) -> u64 {
        ((STREAM_CACHE + 3) * self.fine_slab_len() * size_of::<T>()) as u64
    }

    /// Full weighting of a fine-grid function that is never stored: `fine_slab(k, out)` writes
    /// the values of fine slab `k` (in `T`). Each coarse slab sums the full weighting of at
    /// most three fine slabs in `T` and is rounded once into `coarse` (resized).
    pub(crate) fn restrict_streamed<T: Scalar, S: Store<T> + Default>(
        &self,
        coarse: &mut Vec<S>,
        fine_slab: impl Fn(usize, &mut [T]) + Sync,
    ) {
        let a = self.restrict.len() - 1;
        let (fine_len, shape) = (self.fine_slab_len(), slab_shape(self.fine_shape, a));
        let coarse_len: usize = self.coarse_shape[..a].iter().product();
        resize_exact(coarse, coarse_len * self.coarse_shape[a]);
        let inner = &self.restrict[..a];
        stream_slabs(
            &self.restrict[a],
            coarse,
            coarse_len,
            |k, [fine, temp], out| {
                resize_exact(fine, fine_len);
                fine_slab(k, fine);
                apply_slab(inner, shape, fine, out, temp);
            },
            |dst, sum| {
                for (d, &s) in dst.iter_mut().zip(sum) {
                    *d = S::store(s);
                }
            },
        );
    }

    /// `fine += P·coarse` (linear interpolation added in place), each fine slab summed in `T`
    /// from at most two interpolated coarse slabs and rounded once; no work vector of the
    /// grids' size.
    pub(crate) fn prolong_add<T: Scalar, S: Store<T>>(&self, coarse: &[S], fine: &mut [S]) {
        let a = self.prolong.len() - 1;
        let coarse_len: usize = self.coarse_shape[..a].iter().product();
        let shape = slab_shape(self.coarse_shape, a);
        debug_assert_eq!(fine.len(), self.fine_slab_len() * self.fine_shape[a]);
        let inner = &self.prolong[..a];
        stream_slabs(
            &self.prolong[a],
            fine,
            self.fine_slab_len(),
            |k, [wide, temp], out| {
                wide.clear();
                wide.extend(
                    coarse[k * coarse_len..][..coarse_len]
                        .iter()
                        .map(|v| v.load()),
                );
                apply_slab(inner, shape, wide, out, temp);
            },
            |dst, sum| {
                for (d, &s) in dst.iter_mut().zip(sum) {
                    *d = S::store(d.load() + s);
                }
            },
        );
    }
}

/// The pass both streamed transfers make: output slab `i` of `out` (slabs `out_len` long) gets
/// `write(slab, Σ_t weight[t]·input(index[t]))` over row `i` of `map` (the outer axis), the
/// input slabs made by `make(k, buffers, into)` and cached per task; in parallel over one run
/// of output slabs per thread ([`slabs_per_task`]).
fn stream_slabs<T: Scalar, S: Send>(
    map: &Map1d,
    out: &mut [S],
    out_len: usize,
    make: impl Fn(usize, &mut [Vec<T>; 2], &mut Vec<T>) + Sync,
    write: impl Fn(&mut [S], &[T]) + Sync,
) {
    let per_task = slabs_per_task(map.n_out());
    out.par_chunks_mut(out_len * per_task)
        .enumerate()
        .for_each(|(c, run)| {
            vectorized(
                #[inline(always)]
                || {
                    let mut cache = SlabCache::<T>::new();
                    let mut buffers = [Vec::new(), Vec::new()];
                    let mut sum = vec![T::ZERO_VALUE; out_len];
                    for (j, dst) in run.chunks_mut(out_len).enumerate() {
                        let i = c * per_task + j;
                        // The first term writes the sum, the others add to it.
                        let terms = map.offsets[i]..map.offsets[i + 1];
                        if terms.is_empty() {
                            sum.fill(T::ZERO_VALUE);
                        }
                        for t in terms.clone() {
                            let k = map.index[t];
                            let slab = cache.get(k, |into| make(k, &mut buffers, into));
                            add_term(&mut sum, slab, map.weight[t], t == terms.start);
                        }
                        write(dst, &sum);
                    }
                },
            )
        });
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

    /// The streamed transfers (2D and 3D, hard walls and periodic axes, odd and even counts,
    /// more slabs than one task takes) against the axis-by-axis ones: the same sums in another
    /// order, so equal to rounding (1e-13 relative to values of order 1).
    #[test]
    fn streamed_transfers_equal_the_stored_ones() {
        let grids = [
            (
                Grid::dirichlet_box(&[10.0, 6.0], &[301, 129]).unwrap(),
                Grid::dirichlet_box(&[10.0, 6.0], &[150, 64]).unwrap(),
            ),
            (
                Grid::new(&[Axis::periodic(8.0, 40), Axis::dirichlet_box(5.0, 33)]).unwrap(),
                Grid::new(&[Axis::periodic(8.0, 20), Axis::dirichlet_box(5.0, 16)]).unwrap(),
            ),
            (
                Grid::dirichlet_box(&[4.0, 5.0, 6.0], &[23, 40, 71]).unwrap(),
                Grid::dirichlet_box(&[4.0, 5.0, 6.0], &[11, 20, 35]).unwrap(),
            ),
        ];
        for (fine, coarse) in &grids {
            let t = Transfer::new(fine, coarse);
            assert!(t.streams());
            let u: Vec<f64> = (0..fine.len())
                .map(|p| ((p * 7919) % 101) as f64 / 50.0 - 1.0)
                .collect();
            let c: Vec<f64> = (0..coarse.len())
                .map(|p| ((p * 104729) % 97) as f64 / 48.0 - 1.0)
                .collect();
            let mut stored = Vec::new();
            t.restrict(&u, &mut stored, &mut [Vec::new(), Vec::new()]);
            let slab = t.fine_slab_len();
            let mut streamed = Vec::new();
            t.restrict_streamed::<f64, f64>(&mut streamed, |k, out| {
                out.copy_from_slice(&u[k * slab..(k + 1) * slab]);
            });
            assert_eq!(streamed.len(), stored.len());
            for (a, b) in streamed.iter().zip(&stored) {
                assert!((a - b).abs() < 1e-13, "restriction {a} vs {b}");
            }
            t.prolong(&c, &mut stored, &mut [Vec::new(), Vec::new()]);
            // Into a caller's vector (whatever it held): the same values, to the bit.
            let mut into = vec![f64::NAN; fine.len()];
            t.prolong_into(&c, &mut into, &mut [Vec::new(), Vec::new()]);
            assert!(
                into.iter()
                    .zip(&stored)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
            let mut added = u.clone();
            t.prolong_add::<f64, f64>(&c, &mut added);
            for ((a, b), v) in added.iter().zip(&stored).zip(&u) {
                assert!((a - (b + v)).abs() < 1e-13, "prolongation {a} vs {}", b + v);
            }
        }
        let line = Grid::dirichlet_box(&[10.0], &[31]).unwrap();
        let half = Grid::dirichlet_box(&[10.0], &[15]).unwrap();
        assert!(!Transfer::new(&line, &half).streams());
    }

    /// What interpolation holds between its axes' passes is what `prolong_temp_len` counts
    /// (the solvers' accounts of interpolation use it).
    #[test]
    fn the_intermediates_of_interpolation_are_counted_exactly() {
        let grids = [
            (
                Grid::dirichlet_box(&[10.0], &[19]).unwrap(),
                Grid::dirichlet_box(&[10.0], &[9]).unwrap(),
            ),
            (
                Grid::dirichlet_box(&[10.0, 6.0], &[301, 129]).unwrap(),
                Grid::dirichlet_box(&[10.0, 6.0], &[150, 64]).unwrap(),
            ),
            (
                Grid::dirichlet_box(&[4.0, 5.0, 6.0], &[23, 40, 71]).unwrap(),
                Grid::dirichlet_box(&[4.0, 5.0, 6.0], &[11, 20, 35]).unwrap(),
            ),
        ];
        for (fine, coarse) in &grids {
            let t = Transfer::new(fine, coarse);
            let c = vec![1.0f64; coarse.len()];
            let mut f = vec![0.0f64; fine.len()];
            let mut temp = [Vec::new(), Vec::new()];
            t.prolong_into(&c, &mut f, &mut temp);
            let held: usize = temp.iter().map(Vec::capacity).sum();
            assert_eq!(held, t.prolong_temp_len(), "{} axes", fine.dims());
            // One axis: no pass before the last; two and three: a half, then a quarter and a
            // half (of the fine grid, roughly) between them.
            assert!(held < fine.len(), "{held} of {}", fine.len());
        }
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
