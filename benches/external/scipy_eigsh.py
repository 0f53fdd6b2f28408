#!/usr/bin/env python3
"""External baseline for benches/solver.rs: scipy's shift-invert Lanczos (ARPACK eigsh with
sigma=0, SuperLU factor of H) on the same 2D GaAs dot and the same finite-difference
Hamiltonian as qdsim-mem (N x N interior points of a 120 nm hard-wall box, 5-point stencil,
V = (hw)^2 r^2 / (4 hbar^2/2m*)).

Usage: scipy_eigsh.py N [DIMS]  -> prints "seconds applications max_error_meV converged", like the
bench's own child processes (applications: ARPACK's operator applications are not exposed: 0).
The time covers the solve (factorisation + Lanczos), not the matrix assembly or the imports.
"""
import sys
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

HBAR2_OVER_2M0 = 0.0380998212  # eV nm^2
MASS = 0.067
HW = 0.010  # eV
LENGTH = 120.0  # nm
K = 10


def main():
    n = int(sys.argv[1])
    if len(sys.argv) > 2 and sys.argv[2] != "2":
        sys.exit("scipy_eigsh.py: 2D only")
    c = HBAR2_OVER_2M0 / MASS
    h = LENGTH / (n + 1)
    t = c / h**2
    x = (np.arange(n) + 1.0) * h - LENGTH / 2
    # Point p = i + n*j has x index i (fastest) and y index j, as in qdsim-mem.
    xx, yy = np.meshgrid(x, x, indexing="xy")
    v = HW**2 * (xx**2 + yy**2) / (4 * c)
    one = np.ones(n)
    t1 = sp.diags([-t * one[:-1], 2 * t * one, -t * one[:-1]], [-1, 0, 1], format="csr")
    eye = sp.identity(n, format="csr")
    hamiltonian = (sp.kron(eye, t1) + sp.kron(t1, eye) + sp.diags(v.ravel())).tocsc()
    start = time.perf_counter()
    values = sla.eigsh(hamiltonian, k=K, sigma=0.0, which="LM", return_eigenvectors=True)[0]
    seconds = time.perf_counter() - start
    values = np.sort(values)
    exact = []
    shell = 0
    while len(exact) < K:
        exact += [HW * (shell + 1)] * (shell + 1)
        shell += 1
    max_error = max(abs(e - x) for e, x in zip(values, exact[:K]))
    print(f"{seconds} 0 {max_error * 1e3} {K}")


if __name__ == "__main__":
    main()
