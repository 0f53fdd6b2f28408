#!/usr/bin/env python3
"""External baseline for benches/solver.rs: SLEPc 3.18 (through slepc4py, one MPI rank) on the
same GaAs harmonic dot and the same finite-difference Hamiltonian as qdsim-mem (N points per
axis inside a 120 nm hard-wall box, 5-point stencil in 2D, 7-point in 3D,
V = (hw)^2 r^2 / (4 hbar^2/2m*)), the lowest K states (10 in 2D, 20 in 3D: whole shells), in
one of three configurations:

  krylovschur-mumps  Krylov-Schur on the shift-and-invert operator (H - 0)^-1, a Cholesky factor
                     by MUMPS (what the SLEPc manual recommends for interior/smallest
                     eigenvalues with a direct solver)
  lobpcg-hypre       LOBPCG preconditioned by one hypre BoomerAMG V-cycle
  lobpcg-gamg        LOBPCG preconditioned by PETSc's GAMG

Usage: slepc_lowest.py METHOD N [DIMS] -> prints "seconds applications max_error_meV converged", like
the bench's own children (applications: not comparable across these methods, 0). The time covers
the solve (EPSSetUp, including the factorisation or AMG setup, and EPSSolve), not the assembly or
the imports. Tolerance 1e-6 on SLEPc's default relative residual ||r|| / |lambda|.
"""
import sys
import time

import numpy as np
import petsc4py

petsc4py.init(sys.argv[:1])
from petsc4py import PETSc  # noqa: E402
import slepc4py  # noqa: E402

slepc4py.init(sys.argv[:1])
from slepc4py import SLEPc  # noqa: E402

HBAR2_OVER_2M0 = 0.0380998212  # eV nm^2
MASS = 0.067
HW = 0.010  # eV
LENGTH = 120.0  # nm


def hamiltonian(n, dims):
    """The CSR arrays of H; point p = i + n*j (+ n*n*k) with x index i fastest, as in
    qdsim-mem."""
    c = HBAR2_OVER_2M0 / MASS
    h = LENGTH / (n + 1)
    t = c / h**2
    x = (np.arange(n) + 1.0) * h - LENGTH / 2
    size = n**dims
    p = np.arange(size)
    index = [(p // n**a) % n for a in range(dims)]  # index[a]: the point's index along axis a
    v = HW**2 * sum(x[i] ** 2 for i in index) / (4 * c)
    # Columns of each row in ascending order: the lower neighbours from the slowest axis down,
    # the point, the upper neighbours from the fastest axis up.
    offsets = [-(n**a) for a in reversed(range(dims))] + [0] + [n**a for a in range(dims)]
    masks = [index[a] > 0 for a in reversed(range(dims))] + [np.ones(size, bool)]
    masks += [index[a] < n - 1 for a in range(dims)]
    cols = np.stack([p + o for o in offsets], axis=1)
    off = -t * np.ones(size)
    vals = np.stack([off] * dims + [2 * dims * t + v] + [off] * dims, axis=1)
    keep = np.stack(masks, axis=1)
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(PETSc.IntType)
    return size, indptr, cols[keep].astype(PETSc.IntType), vals[keep]


def exact_levels(dims, k):
    """hw (s + dims/2), each (s + 1) (s + 2)/2 times in 3D and s + 1 times in 2D."""
    levels = []
    s = 0
    while len(levels) < k:
        degeneracy = s + 1 if dims == 2 else (s + 1) * (s + 2) // 2
        levels += [HW * (s + dims / 2)] * degeneracy
        s += 1
    return levels[:k]


def main():
    method, n = sys.argv[1], int(sys.argv[2])
    dims = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    k = 10 if dims == 2 else 20
    size, indptr, cols, vals = hamiltonian(n, dims)
    a = PETSc.Mat().createAIJ([size, size], csr=(indptr, cols, vals), comm=PETSc.COMM_SELF)
    a.assemble()
    a.setOption(PETSc.Mat.Option.SYMMETRIC, True)
    del indptr, cols, vals
    eps = SLEPc.EPS().create(PETSc.COMM_SELF)
    eps.setOperators(a)
    eps.setProblemType(SLEPc.EPS.ProblemType.HEP)
    eps.setDimensions(nev=k)
    eps.setTolerances(tol=1e-6, max_it=10000)
    st = eps.getST()
    ksp = st.getKSP()
    pc = ksp.getPC()
    if method == "krylovschur-mumps":
        eps.setType(SLEPc.EPS.Type.KRYLOVSCHUR)
        eps.setTarget(0.0)
        eps.setWhichEigenpairs(SLEPc.EPS.Which.TARGET_MAGNITUDE)
        st.setType(SLEPc.ST.Type.SINVERT)
        ksp.setType(PETSc.KSP.Type.PREONLY)
        pc.setType(PETSc.PC.Type.CHOLESKY)
        pc.setFactorSolverType("mumps")
    elif method in ("lobpcg-hypre", "lobpcg-gamg"):
        eps.setType(SLEPc.EPS.Type.LOBPCG)
        eps.setWhichEigenpairs(SLEPc.EPS.Which.SMALLEST_REAL)
        st.setType(SLEPc.ST.Type.PRECOND)
        ksp.setType(PETSc.KSP.Type.PREONLY)
        if method == "lobpcg-hypre":
            pc.setType(PETSc.PC.Type.HYPRE)
            pc.setHYPREType("boomeramg")
        else:
            pc.setType(PETSc.PC.Type.GAMG)
    else:
        sys.exit(f"unknown method {method}")
    start = time.perf_counter()
    eps.setUp()
    eps.solve()
    seconds = time.perf_counter() - start
    converged = min(eps.getConverged(), k)
    values = np.sort([eps.getEigenvalue(i).real for i in range(converged)])
    exact = exact_levels(dims, k)
    max_error = max((abs(e - x) for e, x in zip(values, exact)), default=float("nan"))
    # A level missing from a multiplet shows as an error of a whole shell (~10 meV).
    print(f"{seconds} 0 {max_error * 1e3} {converged}")


if __name__ == "__main__":
    main()
