/* qdsim's PETSc binary export read by PETSc: rank 0 writes the 2D parabolic dot's Hamiltonian
 * with qdsim_csr_write_petsc, every rank loads its share with MatLoad, and
 *   1. the loaded matrix must equal, entry for entry (MatEqual), the one each rank assembles
 *      itself with qdsim_hamiltonian_assemble_rows;
 *   2. its lowest k states from SLEPc (Krylov–Schur, shift-and-invert, MUMPS) must agree with
 *      qdsim_solve_lowest within 1e-8 relative.
 * Exit 1 on a mismatch.
 *
 *   mpirun -n 2 petsc_file [--n 60] [--k 6] [--file dot.petsc] */
#include <slepceps.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qdsim_petsc_common.h"
#include "qdsim_petsc_slepc.h"

/* Residual tolerance of both solvers and the energy comparison: see slepc_dot.c. */
#define RESIDUAL_TOL 1e-11
#define ENERGY_RTOL 1e-8

static PetscErrorCode run(qdsim_manager *m, size_t n, PetscInt k, const char *path, int *mismatch)
{
    PetscMPIInt rank;
    PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
    qdsim_hamiltonian_desc d;
    QCALL(qdsim_hamiltonian_desc_default(&d));
    const double lengths[2] = {120.0, 120.0};
    const size_t points[2] = {n, n};
    QCALL(qdsim_grid_box(2, lengths, points, &d.grid));
    double *v = NULL;
    QCALL(qdsim_manager_alloc_f64(m, n * n, "potential", &v));
    QCALL(qdsim_parabolic_potential(&d.grid, QDSIM_MASS_GAAS, 0.010, v, n * n));
    d.potential = v;

    if (rank == 0) { /* the file as a serial qdsim program writes it */
        qdsim_csr *h = NULL;
        QCALL(qdsim_hamiltonian_csr(m, &d, QDSIM_SCALAR_REAL, "hamiltonian", &h));
        QCALL(qdsim_csr_write_petsc(h, path));
        QCALL(qdsim_csr_destroy(h));
    }
    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));

    Mat loaded, assembled;
    PetscViewer viewer;
    PetscCall(PetscViewerBinaryOpen(PETSC_COMM_WORLD, path, FILE_MODE_READ, &viewer));
    PetscCall(MatCreate(PETSC_COMM_WORLD, &loaded));
    PetscCall(MatSetType(loaded, MATAIJ));
    PetscCall(MatLoad(loaded, viewer));
    PetscCall(PetscViewerDestroy(&viewer));
    PetscCall(qdsim_petsc_hamiltonian(PETSC_COMM_WORLD, m, &d, &assembled));
    PetscBool equal;
    PetscCall(MatEqual(loaded, assembled, &equal));
    PetscCall(MatDestroy(&assembled));

    qdsim_eigen_options o;
    QCALL(qdsim_eigen_options_default(&o));
    o.k = (size_t)k;
    o.tolerance = RESIDUAL_TOL;
    qdsim_eigen_result *r = NULL;
    QCALL(qdsim_solve_lowest(m, &d, QDSIM_SCALAR_REAL, &o, &r));
    double *ref, *e, seconds, worst = 0.0;
    PetscCall(PetscMalloc2(k, &ref, k, &e));
    QCALL(qdsim_eigen_result_values(r, ref));
    QCALL(qdsim_eigen_result_destroy(r));
    EPS eps;
    PetscCall(qdsim_petsc_krylov_schur(loaded, k, RESIDUAL_TOL, &eps));
    PetscCall(qdsim_petsc_solve(eps, k, e, &seconds));
    PetscCall(EPSDestroy(&eps));
    PetscCall(MatDestroy(&loaded));
    for (PetscInt i = 0; i < k; ++i) {
        double rel = fabs(e[i] - ref[i]) / fabs(ref[i]);
        if (rel > worst) worst = rel;
    }
    *mismatch = !equal || !(worst <= ENERGY_RTOL);
    if (rank == 0) {
        printf("petsc_file: %s (%zu x %zu dot) loaded by MatLoad: %s the rank-assembled matrix\n",
               path, n, n, equal ? "equal to" : "DIFFERENT FROM");
        for (PetscInt i = 0; i < k; ++i)
            printf("  %2" PetscInt_FMT " qdsim %.10f meV, SLEPc %.10f meV\n", i, 1e3 * ref[i], 1e3 * e[i]);
        printf("  worst relative difference %.2e (tolerance %.0e): %s\n", worst, ENERGY_RTOL,
               *mismatch ? "MISMATCH" : "ok");
    }
    PetscCall(PetscFree2(ref, e));
    QCALL(qdsim_manager_free(m, v));
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = 60;
    long k = 6;
    const char *path = "qdsim_dot.petsc";
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) n = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--k") && i + 1 < argc) k = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--file") && i + 1 < argc) path = argv[++i];
    }
    if (n < 8 || k < 1) {
        fprintf(stderr, "usage: petsc_file [--n N>=8] [--k K>=1] [--file PATH]\n");
        return 2;
    }
    qdsim_set_solver_threads(1);
    qdsim_manager *m = NULL;
    if (qdsim_manager_create(NULL, &m) != QDSIM_OK) return 1;
    PetscCall(SlepcInitialize(&argc, &argv, NULL, NULL));
    int mismatch = 1;
    PetscErrorCode err = run(m, n, (PetscInt)k, path, &mismatch);
    if (err) PetscCallMPI(MPI_Abort(PETSC_COMM_WORLD, (int)err));
    PetscCall(SlepcFinalize());
    qdsim_manager_destroy(m);
    return mismatch ? 1 : 0;
}
