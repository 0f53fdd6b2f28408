//! Nested-dissection elimination orders of box grids, for the sparse factors of 3D grid
//! Hamiltonians (`sparse_lu.rs`: the LU, and the symmetric `L·B·Lᵀ` of `symmetric_lblt.rs`).
//!
//! The box is cut across its longest axis by a slab of points (the separator) into two halves
//! that share no matrix coupling; each half is ordered the same way recursively, and the
//! separator comes after both. Eliminating the halves first confines their fill to themselves
//! and the separator. In 3D this beats faer's default for LU, COLAMD, which does not see the
//! geometry (30³: 10.5 s against 17.6 s, see [`grid_column_order`]).
//!
//! For an LU the separator is two points thick: an LU with partial pivoting fills within the
//! pattern of the Cholesky factor of AᵀA, whose graph joins points up to two steps apart along
//! an axis, so a one-point slab would not separate it. A symmetric factorisation fills within
//! A's own pattern, which a one-point slab separates. Periodic axes are cut the same way (the halves
//! then stay coupled across the wrap: valid, with more fill).

/// The elimination orders of the factors of a 3D grid's Hamiltonian (nested dissection of
/// the grid), made when a factor asks; `None` (faer's COLAMD) for 1D and 2D grids. Measured on
/// this project's 2-core machine (7-point complex matrix, faer 0.24's supernodal LU, both
/// orders in the same run): 3D 20³ 1.19 s against COLAMD's 1.53 s, 30³ 10.5 s against 17.6 s;
/// 2D 250² 1.26 s against 1.01 s, where COLAMD already finds a good order.
pub(crate) fn grid_column_order(shape: [usize; 3]) -> Option<GridOrder> {
    (shape[2] > 1).then_some(GridOrder { shape })
}

/// A grid's nested-dissection orders (see [`grid_column_order`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct GridOrder {
    shape: [usize; 3],
}

impl GridOrder {
    /// Points of the grid.
    pub(crate) fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// For an LU with partial pivoting: separators two points thick (see the module notes).
    pub(crate) fn lu(&self) -> Vec<usize> {
        nested_dissection(self.shape, LU_SEPARATOR)
    }

    /// For a symmetric factorisation, which fills within A's own pattern: separators one
    /// point thick. On the 30³ real-equivalent form of a complex symmetric 7-point matrix
    /// (`symmetric_lblt.rs`) its factor took 1.3 s against 2.3 s with the LU's separators and
    /// 2.6 s with faer's AMD, with 254 MiB of values against 376 and 247 MiB.
    pub(crate) fn symmetric(&self) -> Vec<usize> {
        nested_dissection(self.shape, 1)
    }
}

/// Boxes of at most this many points are leaves, in natural order.
const LEAF_POINTS: usize = 64;

/// Separator thickness for an LU, in points (see the module documentation).
const LU_SEPARATOR: usize = 2;

/// The points of a grid of `shape` (x first: point `(i, j, k)` is `i + nx·(j + ny·k)`) in
/// nested-dissection elimination order, with separators `separator` points thick:
/// `order[e]` is the point eliminated `e`-th.
pub(crate) fn nested_dissection(shape: [usize; 3], separator: usize) -> Vec<usize> {
    let n: usize = shape.iter().product();
    let mut order = Vec::with_capacity(n);
    dissect(&mut order, shape, [0; 3], shape, separator);
    debug_assert_eq!(order.len(), n);
    order
}

/// Appends the points of the box `lo..hi` (per axis) in nested-dissection order.
fn dissect(
    order: &mut Vec<usize>,
    shape: [usize; 3],
    lo: [usize; 3],
    hi: [usize; 3],
    separator: usize,
) {
    let extent = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
    let count: usize = extent.iter().product();
    if count == 0 {
        return;
    }
    let axis = (0..3).max_by_key(|&a| (extent[a], a)).expect("three axes");
    if count <= LEAF_POINTS || extent[axis] <= separator + 2 {
        append_box(order, shape, lo, hi);
        return;
    }
    let cut = lo[axis] + (extent[axis] - separator) / 2;
    let (mut left_hi, mut sep_lo, mut sep_hi, mut right_lo) = (hi, lo, hi, lo);
    left_hi[axis] = cut;
    sep_lo[axis] = cut;
    sep_hi[axis] = cut + separator;
    right_lo[axis] = cut + separator;
    dissect(order, shape, lo, left_hi, separator);
    dissect(order, shape, right_lo, hi, separator);
    append_box(order, shape, sep_lo, sep_hi);
}

/// Appends the points of the box `lo..hi` in natural (x fastest) order.
fn append_box(order: &mut Vec<usize>, shape: [usize; 3], lo: [usize; 3], hi: [usize; 3]) {
    for k in lo[2]..hi[2] {
        for j in lo[1]..hi[1] {
            let row = shape[0] * (j + shape[1] * k);
            order.extend((lo[0]..hi[0]).map(|i| row + i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every point exactly once, for 1D, 2D and 3D shapes (odd, even, thin).
    #[test]
    fn orders_every_point_once() {
        for shape in [
            [1, 1, 1],
            [7, 1, 1],
            [300, 1, 1],
            [33, 17, 1],
            [64, 64, 1],
            [9, 10, 11],
        ] {
            for separator in [1, 2] {
                let order = nested_dissection(shape, separator);
                let n: usize = shape.iter().product();
                let mut seen = vec![false; n];
                for &p in &order {
                    assert!(!seen[p], "point {p} twice for {shape:?}");
                    seen[p] = true;
                }
                assert!(seen.iter().all(|&s| s), "a point missing for {shape:?}");
            }
        }
    }

    /// The two halves of the first cut are independent: no point of the first half is within
    /// two steps (along the cut axis) of a point of the second, and the separator comes last.
    #[test]
    fn the_first_cut_separates_the_halves() {
        let shape = [40, 20, 1];
        let order = nested_dissection(shape, LU_SEPARATOR);
        // The cut is across x (the longest axis), at x = 19..21: the last 2·20 points.
        let sep = &order[order.len() - 40..];
        assert!(sep.iter().all(|&p| (19..21).contains(&(p % 40))));
        let first_half = &order[..19 * 20];
        assert!(first_half.iter().all(|&p| p % 40 < 19));
    }
}
