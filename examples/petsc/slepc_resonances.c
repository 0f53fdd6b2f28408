/* The open 2D GaAs dot of examples/open_dot.rs (a 20 nm disc well inside a 4 nm, 150 meV ring
 * barrier, in a 240 nm box whose faces absorb: a quadratic complex potential of 0.05 eV over the
 * outer 60 nm) on an n × n grid, distributed over the MPI ranks. Its Hamiltonian is complex
 * symmetric (H = Hᵀ ≠ Hᴴ) and its states are resonances E − iΓ/2. Each rank assembles its own
 * rows with qdsim_hamiltonian_assemble_rows (complex scalars) into a complex PETSc MPIAIJ matrix,
 * PETSc allocates from a qdsim manager (include/qdsim_mem_petsc.h), and SLEPc finds the k
 * resonances nearest the target: Krylov–Schur, non-Hermitian (EPS_NHEP), shift-and-invert at the
 * target factored by MUMPS. Every one of the k resonances of qdsim's own solver,
 * qdsim_solve_resonances, run on every rank, must have a SLEPc resonance within 1e-8 relative
 * (paired as multisets, nearest first, so degenerate pairs match); the run fails (exit 1)
 * otherwise, or when PETSc leaves a block live after PetscFinalize.
 *
 * Needs PETSc and SLEPc built with complex scalars (Debian: libpetsc-complex-dev
 * libslepc-complex3.18-dev; CMake finds them as described in cmake/petsc.cmake).
 *
 *   mpirun -n 2 slepc_resonances [--n 80] [--k 6] [--target-mev 15]
 *                                [--petsc-own-malloc FILE | --compare-petsc-usage FILE]
 *
 * --petsc-own-malloc and --compare-petsc-usage compare PETSc's own count of its memory with the
 * manager's, as in slepc_dot.c (qdsim_petsc_accounting.h). */
#include <slepceps.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qdsim_mem_petsc.h"
#include "qdsim_petsc_accounting.h"
#include "qdsim_petsc_common.h"
#include "qdsim_petsc_slepc.h"

#if !defined(PETSC_USE_COMPLEX)
#error "slepc_resonances needs PETSc and SLEPc built with complex scalars (PetscScalar complex)"
#endif

/* The geometry (nm, eV), that of examples/open_dot.rs and examples/c/open_dot.c. */
static const double BOX = 240.0, RADIUS = 20.0, BARRIER = 4.0, HEIGHT = 0.150;
static const double ABSORBER_WIDTH = 60.0, ABSORBER_STRENGTH = 0.05;
static const int32_t ABSORBER_ORDER = 2;

/* Both solvers are asked for a relative residual of 1e-11 (SLEPc's Krylov–Schur by its error
 * estimate; qdsim: ‖Hx − Ex‖ ≤ 1e-11·max(|E|, 10⁻³‖H‖) with ‖x‖ = 1, and 10⁻³‖H‖ < 1 meV is
 * below |E| here). H is not Hermitian, so an eigenvalue's error is first order in the residual,
 * not second as in slepc_dot: |δE| ≲ κ·‖Hx − Ex‖/‖x‖, where κ = ‖x‖²/|xᵀx| is the condition
 * number of E (the left eigenvector of a complex symmetric H is x̄). The two results then differ
 * by at most about κ·(r_qdsim + r_SLEPc)·|E|, with r the relative residuals; the run prints κ
 * (from qdsim's vectors, normalised so that xᵀx = 1: κ = ‖x‖²) and both residuals as computed
 * after the solves, so the margin of the 1e-8 tolerance can be read off every line (on the
 * CTest's 60² grid κ ≤ 12 and r ≤ 1.3e-11: a bound below 1e-9; measured differences ≤ 3e-12).
 * Γ is compared through E − iΓ/2, so its absolute error is within the same 1e-8·|E|. */
#define RESIDUAL_TOL 1e-11
#define ENERGY_RTOL 1e-8
/* SLEPc computes this many more pairs than qdsim, so that a pair straddling the k-th distance
 * from the target (a degenerate pair, or two states nearly as far) is still found. */
#define EXTRA_PAIRS 4

/* The run's settings. */
typedef struct {
    size_t n;
    long k;
    double target; /* eV */
    const char *own_malloc, *compare; /* --petsc-own-malloc / --compare-petsc-usage FILE */
} args;

/* Resonances E − iΓ/2 (eV) from one solver, `count` of them up to `capacity`, with their
 * relative residuals ‖Hx − Ex‖/(|E|·‖x‖) and (qdsim's only) their condition numbers κ. */
typedef struct {
    qdsim_complex *values;
    double *residual, *kappa;
    size_t capacity, count;
} resonances;

/* Reads the arguments; 0 on success, 2 (after a message) on a bad one. */
static int parse_args(int argc, char **argv, args *a)
{
    *a = (args){.n = 80, .k = 6, .target = 0.015};
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) a->n = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--k") && i + 1 < argc) a->k = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--target-mev") && i + 1 < argc) a->target = 1e-3 * atof(argv[++i]);
        else if (!strcmp(argv[i], "--petsc-own-malloc") && i + 1 < argc) a->own_malloc = argv[++i];
        else if (!strcmp(argv[i], "--compare-petsc-usage") && i + 1 < argc) a->compare = argv[++i];
    }
    if (a->n < 16 || a->k < 1 || (a->own_malloc && a->compare) || !isfinite(a->target)) {
        fprintf(stderr, "usage: slepc_resonances [--n N>=16] [--k K>=1] [--target-mev meV] "
                        "[--petsc-own-malloc FILE | --compare-petsc-usage FILE]\n");
        return 2;
    }
    return 0;
}

/* The open dot's description on an n × n grid, absorbing at all four faces; the potential
 * comes from `m` (every rank holds it). */
static qdsim_status make_open_dot(qdsim_manager *m, size_t n, qdsim_hamiltonian_desc *d, double **v)
{
    const double lengths[2] = {BOX, BOX};
    const size_t points[2] = {n, n};
    qdsim_status st = qdsim_hamiltonian_desc_default(d);
    if (st == QDSIM_OK) st = qdsim_grid_box(2, lengths, points, &d->grid);
    if (st == QDSIM_OK) st = qdsim_manager_alloc_f64(m, n * n, "potential", v);
    if (st == QDSIM_OK) st = qdsim_open_dot_potential(&d->grid, RADIUS, BARRIER, HEIGHT, *v, n * n);
    d->mass = QDSIM_MASS_GAAS;
    d->potential = *v;
    d->absorber.faces = QDSIM_FACE_X_MIN | QDSIM_FACE_X_MAX | QDSIM_FACE_Y_MIN | QDSIM_FACE_Y_MAX;
    d->absorber.width = ABSORBER_WIDTH;
    d->absorber.strength = ABSORBER_STRENGTH;
    d->absorber.order = ABSORBER_ORDER;
    return st;
}

/* Arrays for `capacity` resonances, from `m`; free them with resonances_free. */
static qdsim_status resonances_alloc(qdsim_manager *m, size_t capacity, resonances *r)
{
    qdsim_status st = qdsim_manager_alloc_complex(m, capacity, "resonances", &r->values);
    if (st == QDSIM_OK) st = qdsim_manager_alloc_f64(m, 2 * capacity, "residuals and kappa", &r->residual);
    r->kappa = r->residual ? r->residual + capacity : NULL;
    r->capacity = capacity;
    r->count = 0;
    return st;
}

static void resonances_free(qdsim_manager *m, resonances *r)
{
    qdsim_manager_free(m, r->values);
    qdsim_manager_free(m, r->residual);
}

/* A new EPS for the `nev` eigenvalues of the complex symmetric `A` nearest `target`:
 * Krylov–Schur on (A − target)⁻¹, non-Hermitian, factored by MUMPS (options prefix "res_"). */
static PetscErrorCode resonance_solver(Mat A, PetscInt nev, double target, EPS *out)
{
    EPS eps;
    PetscCall(EPSCreate(PetscObjectComm((PetscObject)A), &eps));
    PetscCall(EPSSetOptionsPrefix(eps, "res_"));
    PetscCall(EPSSetOperators(eps, A, NULL));
    PetscCall(EPSSetProblemType(eps, EPS_NHEP));
    PetscCall(EPSSetType(eps, EPSKRYLOVSCHUR));
    /* A search space of nev + 40 vectors rather than SLEPc's default max(2·nev, nev + 15): the
     * absorbing box's continuum crowds the target, and on 80² with k = 6 the default took about
     * 300 solves with the LU factor, nev + 40 about 160 (-res_eps_ncv overrides it). */
    PetscCall(EPSSetDimensions(eps, nev, nev + 40, PETSC_DEFAULT));
    PetscCall(EPSSetTolerances(eps, RESIDUAL_TOL, 1000));
    PetscCall(EPSSetTarget(eps, (PetscScalar)target));
    PetscCall(EPSSetWhichEigenpairs(eps, EPS_TARGET_MAGNITUDE));
    PetscCall(qdsim_petsc_shift_invert_mumps(eps));
    PetscCall(EPSSetFromOptions(eps));
    *out = eps;
    return 0;
}

/* Every PETSc call of the run: this rank's rows as a complex MPIAIJ matrix, the SLEPc solve for
 * k + EXTRA_PAIRS resonances nearest `target`, its converged values into `out`, and everything
 * destroyed again. */
static PetscErrorCode slepc_solve(qdsim_manager *m, const qdsim_hamiltonian_desc *d, PetscInt k,
                                  double target, resonances *out)
{
    Mat A;
    EPS eps;
    PetscInt nconv;
    PetscCall(qdsim_petsc_hamiltonian(PETSC_COMM_WORLD, m, d, &A));
    PetscCall(resonance_solver(A, k + EXTRA_PAIRS, target, &eps));
    PetscCall(EPSSolve(eps));
    PetscCall(EPSGetConverged(eps, &nconv));
    PetscCheck(nconv >= k, PETSC_COMM_WORLD, PETSC_ERR_NOT_CONVERGED,
               "SLEPc: only %" PetscInt_FMT " of %" PetscInt_FMT " resonances converged", nconv, k);
    out->count = 0;
    for (PetscInt i = 0; i < nconv && out->count < out->capacity; ++i) {
        PetscScalar e;
        PetscCall(EPSGetEigenvalue(eps, i, &e, NULL));
        PetscCall(EPSComputeError(eps, i, EPS_ERROR_RELATIVE, &out->residual[out->count]));
        out->values[out->count++] = (qdsim_complex){PetscRealPart(e), PetscImaginaryPart(e)};
    }
    PetscCall(EPSDestroy(&eps));
    PetscCall(MatDestroy(&A));
    return 0;
}

static double distance(qdsim_complex a, qdsim_complex b)
{
    return hypot(a.re - b.re, a.im - b.im);
}

/* Pairs every reference value with a different found value, the closest remaining pair first
 * (so two nearly equal values, a degenerate pair, match as a multiset): match[i] is the index
 * in `found` paired with ref[i]. Needs count_found >= k. */
static void pair_nearest(const qdsim_complex *ref, size_t k, const qdsim_complex *found,
                         size_t count_found, size_t *match, unsigned char *used_ref,
                         unsigned char *used_found)
{
    memset(used_ref, 0, k);
    memset(used_found, 0, count_found);
    for (size_t step = 0; step < k; ++step) {
        size_t bi = 0, bj = 0;
        double best = INFINITY;
        for (size_t i = 0; i < k; ++i)
            for (size_t j = 0; j < count_found; ++j)
                if (!used_ref[i] && !used_found[j] && distance(ref[i], found[j]) < best) {
                    best = distance(ref[i], found[j]);
                    bi = i;
                    bj = j;
                }
        used_ref[bi] = used_found[bj] = 1;
        match[bi] = bj;
    }
}

/* κ = ‖x‖² of each of qdsim's k vectors (normalised by xᵀx = 1): the eigenvalue's condition. */
static PetscErrorCode conditions(const qdsim_eigen_result *r, size_t k, size_t dim, double *kappa)
{
    const void *data = NULL;
    size_t ld = 0;
    QCALL(qdsim_eigen_result_vectors(r, &data, &ld));
    const qdsim_complex *x = data; /* column j from element j·ld */
    for (size_t j = 0; j < k; ++j) {
        double s = 0.0;
        for (size_t i = 0; i < dim; ++i) {
            const qdsim_complex z = x[j * ld + i];
            s += z.re * z.re + z.im * z.im;
        }
        kappa[j] = s;
    }
    return 0;
}

/* qdsim_solve_resonances on the whole grid (this rank, one thread): k values, residuals and
 * condition numbers into `ref`. */
static PetscErrorCode reference(qdsim_manager *m, const qdsim_hamiltonian_desc *d, size_t k,
                                double target, resonances *ref)
{
    qdsim_eigen_options o;
    qdsim_eigen_result *r = NULL;
    qdsim_eigen_info info;
    QCALL(qdsim_eigen_options_default(&o));
    o.k = k;
    o.tolerance = RESIDUAL_TOL;
    QCALL(qdsim_solve_resonances(m, d, (qdsim_complex){target, 0.0}, &o, &r));
    QCALL(qdsim_eigen_result_info(r, &info));
    PetscCheck(info.converged >= k, PETSC_COMM_SELF, PETSC_ERR_NOT_CONVERGED,
               "qdsim: %zu of %zu resonances converged", info.converged, k);
    QCALL(qdsim_eigen_result_complex_values(r, ref->values));
    QCALL(qdsim_eigen_result_residuals(r, ref->residual)); /* ‖Hx − Ex‖/‖x‖, eV */
    for (size_t j = 0; j < k; ++j) ref->residual[j] /= hypot(ref->values[j].re, ref->values[j].im);
    PetscCall(conditions(r, k, info.dim, ref->kappa));
    ref->count = k;
    QCALL(qdsim_eigen_result_destroy(r));
    return 0;
}

/* Pairs qdsim's values with SLEPc's, prints both per state (rank 0) and sets `*mismatch` when
 * a pair differs by more than ENERGY_RTOL relative to |E|. */
static PetscErrorCode compare(qdsim_manager *m, const args *a, const resonances *ref,
                              const resonances *f, int *mismatch)
{
    size_t k = ref->count, *match = NULL;
    unsigned char *used = NULL;
    PetscMPIInt rank, size;
    double worst = 0.0;
    PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
    PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
    QCALL(qdsim_manager_alloc_bytes(m, k * sizeof *match + k + f->count, "pairing", (void **)&match));
    used = (unsigned char *)(match + k);
    pair_nearest(ref->values, k, f->values, f->count, match, used, used + k);
    if (rank == 0) {
        printf("slepc_resonances: open dot, %zu x %zu grid, %d ranks, %zu resonances nearest %g meV "
               "(E, Γ in meV; r: relative residuals)\n", a->n, a->n, (int)size, k, 1e3 * a->target);
        printf("  %2s %13s %13s %13s %13s %9s %6s %8s %8s\n", "i", "E qdsim", "Γ qdsim", "E SLEPc",
               "Γ SLEPc", "|ΔE|/|E|", "κ", "r qdsim", "r SLEPc");
    }
    for (size_t i = 0; i < k; ++i) {
        const qdsim_complex q = ref->values[i], s = f->values[match[i]];
        const double rel = distance(s, q) / hypot(q.re, q.im);
        if (!(rel <= worst)) worst = rel; /* NaN counts as worst */
        if (rank == 0)
            printf("  %2zu %13.8f %13.8f %13.8f %13.8f %9.1e %6.2f %8.1e %8.1e\n", i, 1e3 * q.re,
                   -2e3 * q.im, 1e3 * s.re, -2e3 * s.im, rel, ref->kappa[i], ref->residual[i],
                   f->residual[match[i]]);
    }
    *mismatch = !(worst <= ENERGY_RTOL);
    if (rank == 0)
        printf("  worst relative difference %.2e (tolerance %.0e): %s\n", worst, ENERGY_RTOL,
               *mismatch ? "MISMATCH" : "ok");
    QCALL(qdsim_manager_free(m, match));
    return 0;
}

/* The run's name in the accounting file: the same work gives the same counts. */
static void run_name(char *out, size_t len, const args *a)
{
    snprintf(out, len, "slepc_resonances n=%zu k=%ld target=%.17g", a->n, a->k, a->target);
}

/* The whole run after SlepcInitialize: the SLEPc solve, then (unless --petsc-own-malloc) the
 * reference, the comparison and the manager's accounting. */
static PetscErrorCode run(qdsim_manager *m, qdsim_manager *pm, const args *a,
                          const qdsim_hamiltonian_desc *d, resonances *f, int *mismatch)
{
    char name[256];
    qdsim_petsc_usage ours = {0};
    size_t k = (size_t)a->k;
    run_name(name, sizeof name, a);
    PetscCall(slepc_solve(m, d, (PetscInt)k, a->target, f));
    if (a->own_malloc) {
        PetscCall(qdsim_petsc_usage_save(PETSC_COMM_WORLD, "slepc_resonances", name, a->own_malloc));
        *mismatch = 0;
        return 0;
    }
    PetscCall(qdsim_petsc_usage_manager(pm, &ours));

    resonances ref;
    QCALL(resonances_alloc(m, k, &ref));
    PetscCall(reference(m, d, k, a->target, &ref));
    PetscCall(compare(m, a, &ref, f, mismatch));
    resonances_free(m, &ref);
    if (a->compare)
        PetscCall(qdsim_petsc_usage_check(PETSC_COMM_WORLD, "slepc_resonances", name, a->compare,
                                          &ours, mismatch));
    PetscCall(qdsim_petsc_malloc_report(PETSC_COMM_WORLD, pm));
    return 0;
}

int main(int argc, char **argv)
{
    args a;
    int bad = parse_args(argc, argv, &a);
    if (bad) return bad;
    qdsim_set_solver_threads(1); /* one core per rank */

    /* One manager for qdsim's own arrays, one for PETSc alone (its statistics are PETSc's). */
    qdsim_manager *m = NULL, *pm = NULL;
    qdsim_manager_config cfg;
    qdsim_manager_config_default(&cfg);
    cfg.initial_pool_size = 8u << 20;
    if (qdsim_manager_create(&cfg, &m) != QDSIM_OK || qdsim_manager_create(&cfg, &pm) != QDSIM_OK)
        return 1;
    qdsim_hamiltonian_desc d;
    double *v = NULL;
    resonances f;
    /* SLEPc may converge more pairs than it was asked for: room for some. */
    if (make_open_dot(m, a.n, &d, &v) != QDSIM_OK ||
        resonances_alloc(m, (size_t)a.k + EXTRA_PAIRS + 16, &f) != QDSIM_OK) {
        fprintf(stderr, "slepc_resonances: %s\n", qdsim_last_error_message());
        return 1;
    }

    if (qdsim_petsc_allocator_install(a.own_malloc, pm)) return 1;
    PetscCall(SlepcInitialize(&argc, &argv, NULL, NULL));
    int mismatch = 1;
    PetscErrorCode err = run(m, pm, &a, &d, &f, &mismatch);
    if (err) PetscCallMPI(MPI_Abort(PETSC_COMM_WORLD, (int)err)); /* the error is printed */
    PetscCall(SlepcFinalize());

    unsigned long long leaked = 0;
    if (!a.own_malloc && (qdsim_petsc_malloc_finish(pm, &leaked) || leaked)) mismatch = 1;
    resonances_free(m, &f);
    qdsim_manager_free(m, v);
    qdsim_manager_destroy(pm);
    qdsim_manager_destroy(m);
    return mismatch ? 1 : 0;
}
