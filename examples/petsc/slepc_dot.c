/* The 2D GaAs parabolic dot (ħω = 10 meV, 120 nm box) on an n × n grid, distributed over the MPI
 * ranks: each rank assembles only its own rows with qdsim_hamiltonian_assemble_rows, PETSc
 * allocates from a qdsim manager (include/qdsim_mem_petsc.h), and SLEPc finds the lowest k
 * states twice — Krylov–Schur with shift-and-invert (MUMPS LU) and LOBPCG preconditioned by
 * GAMG. Both are compared with qdsim's own solver, qdsim_solve_lowest, on every rank: the run
 * fails (exit 1) when an energy differs by more than 1e-8 relative, or when PETSc leaves a
 * block live after PetscFinalize.
 *
 *   mpirun -n 2 slepc_dot [--n 80] [--k 10] [--petsc-limit-mib 0] [--bench]
 *                         [--petsc-own-malloc FILE | --compare-petsc-usage FILE]
 *
 * --petsc-own-malloc FILE leaves PETSc its own tracing allocator (the one -malloc_view reports
 * from), runs only the SLEPc part and writes PETSc's count of its memory, per rank, to FILE.
 * --compare-petsc-usage FILE then compares the manager's count of the same run with it, rank by
 * rank, to the byte (qdsim_petsc_accounting.h says why it takes two runs).
 *
 * --bench prints one line per rank: wall time of the assembly and each solve, peak RSS and the
 * PETSc bytes counted by the manager, both measured before the reference solve (docs/mpi.md). */
#include <slepceps.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qdsim_mem_petsc.h"
#include "qdsim_petsc_accounting.h"
#include "qdsim_petsc_common.h"
#include "qdsim_petsc_slepc.h"

/* Both SLEPc solves stop at a relative residual of 1e-11: for a Hermitian matrix the eigenvalue
 * error is then below ‖r‖²/gap ≈ (1e-11·E)²/(10 meV), far inside the 1e-8 comparison; qdsim's
 * solver runs at 1e-11 too. 1e-8 relative is 1e-10 eV on a 10 meV level. */
#define RESIDUAL_TOL 1e-11
#define ENERGY_RTOL 1e-8

/* The lowest k energies from each SLEPc solver, and the wall times of the PETSc work. */
typedef struct {
    double *ks, *lob;
    double t_assemble, t_ks, t_lob;
} slepc_results;

/* The largest relative difference between `e` and the reference `ref`. */
static double worst(const double *e, const double *ref, PetscInt k)
{
    double w = 0.0;
    for (PetscInt i = 0; i < k; ++i) {
        double r = fabs(e[i] - ref[i]) / fabs(ref[i]);
        if (r > w) w = r;
    }
    return w;
}

/* The dot's description on an n × n grid; the potential comes from `m` (every rank holds it). */
static qdsim_status make_dot(qdsim_manager *m, size_t n, qdsim_hamiltonian_desc *d, double **v)
{
    const double lengths[2] = {120.0, 120.0};
    const size_t points[2] = {n, n};
    qdsim_status st = qdsim_hamiltonian_desc_default(d);
    if (st == QDSIM_OK) st = qdsim_grid_box(2, lengths, points, &d->grid);
    if (st == QDSIM_OK) st = qdsim_manager_alloc_f64(m, n * n, "potential", v);
    if (st == QDSIM_OK) st = qdsim_parabolic_potential(&d->grid, QDSIM_MASS_GAAS, 0.010, *v, n * n);
    d->potential = *v;
    return st;
}

/* Every PETSc call of the run, the same with either allocator: this rank's rows as an MPIAIJ matrix,
 * Krylov–Schur (shift-and-invert at 0, below the spectrum, MUMPS LU) and LOBPCG (GAMG), the
 * lowest k energies of each into `out`, and everything destroyed again. */
static PetscErrorCode slepc_solves(qdsim_manager *m, const qdsim_hamiltonian_desc *d, PetscInt k,
                                   slepc_results *out)
{
    PetscLogDouble t0, t1;
    Mat A;
    EPS eps;
    ST st;
    KSP ksp;
    PC pc;
    PetscCall(PetscTime(&t0));
    PetscCall(qdsim_petsc_hamiltonian(PETSC_COMM_WORLD, m, d, &A));
    PetscCall(PetscTime(&t1));
    out->t_assemble = t1 - t0;

    PetscCall(qdsim_petsc_krylov_schur(A, k, RESIDUAL_TOL, &eps));
    PetscCall(qdsim_petsc_solve(eps, k, out->ks, &out->t_ks));
    PetscCall(EPSDestroy(&eps));

    PetscCall(EPSCreate(PETSC_COMM_WORLD, &eps));
    PetscCall(EPSSetOptionsPrefix(eps, "lobpcg_"));
    PetscCall(EPSSetOperators(eps, A, NULL));
    PetscCall(EPSSetProblemType(eps, EPS_HEP));
    PetscCall(EPSSetType(eps, EPSLOBPCG));
    PetscCall(EPSSetDimensions(eps, k, PETSC_DEFAULT, PETSC_DEFAULT));
    PetscCall(EPSSetTolerances(eps, RESIDUAL_TOL, 5000));
    PetscCall(EPSSetWhichEigenpairs(eps, EPS_SMALLEST_REAL));
    PetscCall(EPSGetST(eps, &st));
    PetscCall(STSetType(st, STPRECOND));
    PetscCall(STGetKSP(st, &ksp));
    PetscCall(KSPGetPC(ksp, &pc));
    PetscCall(PCSetType(pc, PCGAMG));
    PetscCall(EPSSetFromOptions(eps));
    PetscCall(qdsim_petsc_solve(eps, k, out->lob, &out->t_lob));
    PetscCall(EPSDestroy(&eps));
    PetscCall(MatDestroy(&A));
    return 0;
}

/* The SLEPc solves with PETSc in the manager `pm` (its counts into `usage`), then the
 * reference, qdsim_solve_lowest on the whole grid on every rank (one thread each). */
static PetscErrorCode run(qdsim_manager *m, qdsim_manager *pm, const qdsim_hamiltonian_desc *d,
                          PetscInt k, PetscBool bench, slepc_results *sr, qdsim_petsc_usage *usage,
                          int *mismatch)
{
    PetscMPIInt rank, size;
    size_t n = d->grid.axes[0].points;
    PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
    PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
    PetscCall(slepc_solves(m, d, k, sr));
    PetscCall(qdsim_petsc_usage_manager(pm, usage));
    /* Measured before the reference solve, which is not part of the distributed run. */
    double rss = qdsim_peak_rss_mib();
    qdsim_stats ps;
    QCALL(qdsim_manager_stats(pm, &ps));

    qdsim_eigen_options o;
    QCALL(qdsim_eigen_options_default(&o));
    o.k = (size_t)k;
    o.tolerance = RESIDUAL_TOL;
    qdsim_eigen_result *r = NULL;
    double *ref = NULL;
    PetscLogDouble t0, t1;
    QCALL(qdsim_manager_alloc_f64(m, (size_t)k, "reference", &ref));
    PetscCall(PetscTime(&t0));
    QCALL(qdsim_solve_lowest(m, d, QDSIM_SCALAR_REAL, &o, &r));
    PetscCall(PetscTime(&t1));
    QCALL(qdsim_eigen_result_values(r, ref));
    QCALL(qdsim_eigen_result_destroy(r));

    double w_ks = worst(sr->ks, ref, k), w_lob = worst(sr->lob, ref, k);
    *mismatch = !(w_ks <= ENERGY_RTOL && w_lob <= ENERGY_RTOL);
    if (rank == 0) {
        printf("slepc_dot: %zu x %zu grid, %d ranks, lowest %" PetscInt_FMT " states (meV)\n", n, n,
               (int)size, k);
        printf("  %2s %16s %16s %16s\n", "i", "qdsim", "Krylov-Schur+MUMPS", "LOBPCG+GAMG");
        for (PetscInt i = 0; i < k; ++i)
            printf("  %2" PetscInt_FMT " %16.10f %16.10f %16.10f\n", i, 1e3 * ref[i], 1e3 * sr->ks[i],
                   1e3 * sr->lob[i]);
        printf("  worst relative difference: Krylov-Schur %.2e, LOBPCG %.2e (tolerance %.0e): %s\n",
               w_ks, w_lob, ENERGY_RTOL, *mismatch ? "MISMATCH" : "ok");
    }
    if (bench) {
        PetscCall(PetscSynchronizedPrintf(
            PETSC_COMM_WORLD,
            "bench rank %d/%d n %zu: assemble %.3f s, krylov-schur+mumps %.3f s, lobpcg+gamg %.3f s, "
            "qdsim %.3f s, peak RSS %.1f MiB, PETSc peak %.1f MiB (%llu allocations)\n",
            (int)rank, (int)size, n, sr->t_assemble, sr->t_ks, sr->t_lob, t1 - t0, rss,
            ps.peak_bytes_in_use / 1048576.0, (unsigned long long)ps.allocation_count));
        PetscCall(PetscSynchronizedFlush(PETSC_COMM_WORLD, PETSC_STDOUT));
    }
    QCALL(qdsim_manager_free(m, ref));
    return 0;
}

/* What this run does with PETSc's memory: the qdsim manager (optionally compared with a file
 * of PETSc's own counts), or PETSc's own tracing allocator writing its counts to a file. */
typedef struct {
    const char *own_malloc; /* --petsc-own-malloc FILE */
    const char *compare;    /* --compare-petsc-usage FILE */
} accounting;

/* The run's name in the accounting file: the same work gives the same counts. */
static void run_name(char *out, size_t len, size_t n, long k)
{
    snprintf(out, len, "slepc_dot n=%zu k=%ld", n, k);
}

/* Everything between SlepcInitialize and SlepcFinalize. --petsc-own-malloc: the SLEPc part only,
 * PETSc's own counts written to the file. Otherwise the whole run with PETSc in `pm`, its counts
 * compared with the file's (--compare-petsc-usage), and the manager's report. */
static PetscErrorCode session(qdsim_manager *m, qdsim_manager *pm, const qdsim_hamiltonian_desc *d,
                              PetscInt k, PetscBool bench, const accounting *acc, slepc_results *sr,
                              int *mismatch)
{
    char name[128];
    qdsim_petsc_usage ours = {0};
    run_name(name, sizeof name, d->grid.axes[0].points, (long)k);
    if (acc->own_malloc) {
        PetscCall(slepc_solves(m, d, k, sr));
        PetscCall(qdsim_petsc_usage_save(PETSC_COMM_WORLD, "slepc_dot", name, acc->own_malloc));
        *mismatch = 0;
        return 0;
    }
    PetscCall(run(m, pm, d, k, bench, sr, &ours, mismatch));
    if (acc->compare)
        PetscCall(qdsim_petsc_usage_check(PETSC_COMM_WORLD, "slepc_dot", name, acc->compare, &ours,
                                          mismatch));
    PetscCall(qdsim_petsc_malloc_report(PETSC_COMM_WORLD, pm));
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = 80;
    long k = 10;
    double limit_mib = 0;
    PetscBool bench = PETSC_FALSE;
    accounting acc = {NULL, NULL};
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) n = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--k") && i + 1 < argc) k = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--petsc-limit-mib") && i + 1 < argc) limit_mib = atof(argv[++i]);
        else if (!strcmp(argv[i], "--bench")) bench = PETSC_TRUE;
        else if (!strcmp(argv[i], "--petsc-own-malloc") && i + 1 < argc) acc.own_malloc = argv[++i];
        else if (!strcmp(argv[i], "--compare-petsc-usage") && i + 1 < argc) acc.compare = argv[++i];
    }
    if (n < 8 || k < 1 || (acc.own_malloc && (acc.compare || limit_mib > 0 || bench))) {
        fprintf(stderr, "usage: slepc_dot [--n N>=8] [--k K>=1] [--petsc-limit-mib M] [--bench] "
                        "[--compare-petsc-usage FILE]\n"
                        "       slepc_dot [--n N>=8] [--k K>=1] --petsc-own-malloc FILE\n");
        return 2;
    }
    qdsim_set_solver_threads(1); /* one core per rank */

    /* Two managers: one for qdsim's own arrays, one for PETSc alone (its statistics are then
     * PETSc's), with the optional limit. */
    qdsim_manager *m = NULL, *pm = NULL;
    qdsim_manager_config cfg;
    qdsim_manager_config_default(&cfg);
    cfg.initial_pool_size = 8u << 20;
    if (qdsim_manager_create(&cfg, &m) != QDSIM_OK) return 1;
    cfg.memory_limit = (uint64_t)(limit_mib * 1048576.0);
    if (qdsim_manager_create(&cfg, &pm) != QDSIM_OK) return 1;
    qdsim_hamiltonian_desc d;
    double *v = NULL;
    slepc_results sr = {0};
    if (make_dot(m, n, &d, &v) != QDSIM_OK ||
        qdsim_manager_alloc_f64(m, (size_t)k, "ks", &sr.ks) != QDSIM_OK ||
        qdsim_manager_alloc_f64(m, (size_t)k, "lobpcg", &sr.lob) != QDSIM_OK) {
        fprintf(stderr, "slepc_dot: %s\n", qdsim_last_error_message());
        return 1;
    }

    if (qdsim_petsc_allocator_install(acc.own_malloc, pm)) return 1;
    PetscCall(SlepcInitialize(&argc, &argv, NULL, NULL));
    int mismatch = 1;
    PetscErrorCode err = session(m, pm, &d, (PetscInt)k, bench, &acc, &sr, &mismatch);
    if (err) {
        /* The error (with qdsim's message for a limit hit) is already printed; stop every rank. */
        PetscCallMPI(MPI_Abort(PETSC_COMM_WORLD, (int)err));
    }
    PetscCall(SlepcFinalize());

    unsigned long long leaked = 0;
    if (!acc.own_malloc && (qdsim_petsc_malloc_finish(pm, &leaked) || leaked)) mismatch = 1;
    qdsim_manager_free(m, sr.ks);
    qdsim_manager_free(m, sr.lob);
    qdsim_manager_free(m, v);
    qdsim_manager_destroy(pm);
    qdsim_manager_destroy(m);
    return mismatch ? 1 : 0;
}
