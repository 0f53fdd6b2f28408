#!/usr/bin/env python3
"""External baseline for benches/resonance.rs: scipy's shift-invert Arnoldi (ARPACK eigs with
sigma=target, SuperLU factor of A - sigma I) for the resonances E - i Gamma/2 of the open dot,
on the very matrix qdsim-mem solves: the bench assembles it (complex symmetric, absorber
included) and writes it as a MatrixMarket file, so both sides see the same numbers.

Usage: scipy_eigs.py MATRIX.mtx K TARGET_EV TOL
  -> prints "seconds converged re_1 im_1 ... re_c im_c" (eV), the converged eigenvalues only;
     when ARPACK stops short (ArpackNoConvergence) the ones it did converge are printed.
The time covers the solve (factorisation + Arnoldi), not reading the file or the imports, as
for qdsim-mem's CSR solver, whose time does not include the assembly either.
"""
import sys
import time

import scipy.io
import scipy.sparse.linalg as sla


def main():
    path, k, target, tol = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    # eigs factors A - sigma I in CSC form: convert before the clock starts, as the matrix
    # is an input of both solvers.
    a = scipy.io.mmread(path).tocsc()
    start = time.perf_counter()
    try:
        # tol: ARPACK's relative accuracy of the Ritz values of (A - sigma I)^-1. The
        # eigenvectors are computed (and dropped) as qdsim-mem's solvers compute theirs.
        values = sla.eigs(a, k=k, sigma=target, which="LM", tol=tol)[0]
    except sla.ArpackNoConvergence as e:
        values = e.eigenvalues
    seconds = time.perf_counter() - start
    fields = [repr(seconds), str(len(values))]
    for v in values:
        fields += [repr(float(v.real)), repr(float(v.imag))]
    print(" ".join(fields))


if __name__ == "__main__":
    main()
