/* Shared by the SLEPc examples: shift-and-invert through MUMPS, Krylov–Schur with it at 0, and
 * running a solve into an ascending array of the lowest real parts. */
#ifndef QDSIM_PETSC_SLEPC_H
#define QDSIM_PETSC_SLEPC_H

#include <slepceps.h>

#include <stdlib.h>
#include <string.h>

/* Sets `eps`'s spectral transformation to shift-and-invert at its target, (A − σ) factored by
 * MUMPS's LU (no Krylov iterations inside). */
static inline PetscErrorCode qdsim_petsc_shift_invert_mumps(EPS eps)
{
    ST st;
    KSP ksp;
    PC pc;
    PetscCall(EPSGetST(eps, &st));
    PetscCall(STSetType(st, STSINVERT));
    PetscCall(STGetKSP(st, &ksp));
    PetscCall(KSPSetType(ksp, KSPPREONLY));
    PetscCall(KSPGetPC(ksp, &pc));
    PetscCall(PCSetType(pc, PCLU));
    PetscCall(PCFactorSetMatSolverType(pc, MATSOLVERMUMPS));
    return 0;
}

/* A new EPS (options prefix "ks_") for the `k` eigenvalues of the Hermitian `A` nearest 0 (the
 * lowest, for a positive spectrum): Krylov–Schur on (A − 0)⁻¹, factored by MUMPS. */
static inline PetscErrorCode qdsim_petsc_krylov_schur(Mat A, PetscInt k, PetscReal tol, EPS *out)
{
    EPS eps;
    PetscCall(EPSCreate(PetscObjectComm((PetscObject)A), &eps));
    PetscCall(EPSSetOptionsPrefix(eps, "ks_"));
    PetscCall(EPSSetOperators(eps, A, NULL));
    PetscCall(EPSSetProblemType(eps, EPS_HEP));
    PetscCall(EPSSetType(eps, EPSKRYLOVSCHUR));
    PetscCall(EPSSetDimensions(eps, k, PETSC_DEFAULT, PETSC_DEFAULT));
    PetscCall(EPSSetTolerances(eps, tol, 1000));
    PetscCall(EPSSetTarget(eps, 0.0));
    PetscCall(EPSSetWhichEigenpairs(eps, EPS_TARGET_MAGNITUDE));
    PetscCall(qdsim_petsc_shift_invert_mumps(eps));
    PetscCall(EPSSetFromOptions(eps));
    *out = eps;
    return 0;
}

static inline int qdsim_compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Solves with `eps` (configured by the caller), writes the lowest k values ascending to `e`. */
static inline PetscErrorCode qdsim_petsc_solve(EPS eps, PetscInt k, double *e, double *seconds)
{
    PetscInt nconv;
    PetscLogDouble t0, t1;
    PetscCall(PetscTime(&t0));
    PetscCall(EPSSolve(eps));
    PetscCall(PetscTime(&t1));
    *seconds = t1 - t0;
    PetscCall(EPSGetConverged(eps, &nconv));
    PetscCheck(nconv >= k, PETSC_COMM_WORLD, PETSC_ERR_NOT_CONVERGED,
               "only %" PetscInt_FMT " of %" PetscInt_FMT " pairs converged", nconv, k);
    double *all;
    PetscCall(PetscMalloc1(nconv, &all));
    for (PetscInt i = 0; i < nconv; ++i) {
        PetscScalar v;
        PetscCall(EPSGetEigenvalue(eps, i, &v, NULL));
        all[i] = (double)PetscRealPart(v);
    }
    qsort(all, (size_t)nconv, sizeof *all, qdsim_compare_doubles);
    memcpy(e, all, (size_t)k * sizeof *e);
    PetscCall(PetscFree(all));
    return 0;
}

#endif
