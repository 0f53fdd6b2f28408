/* The eigensolvers from C: docs/validation.md case 1 through qdsim_solve_lowest and qdsim_csr_solve_lowest,
 * a resonance through qdsim_csr_solve_resonances and qdsim_solve_resonances, the dense solvers, the progress callback with
 * cancellation, NOT_CONVERGED with a partial result, and bad input. */
#include <math.h>
#include <stdint.h>

#include "check.h"

static int calls = 0;
static int32_t count_calls(void *user, const qdsim_progress *p) {
    CHECK(user == &calls && p->wanted == 6 && p->iteration >= 1);
    ++calls;
    return 0;
}
static int32_t cancel_at_3(void *user, const qdsim_progress *p) {
    (void)user;
    return p->iteration >= 3;
}

static const double box_mev[6] = {28.05272, 70.07645, 70.07645, 112.10018, 139.93169, 139.93169};

static void check_box(qdsim_eigen_result *r) {
    qdsim_eigen_info info;
    CHECK_OK(qdsim_eigen_result_info(r, &info));
    CHECK(info.count == 6 && info.converged == 6 && info.dim == 49 * 49 && info.complex_values == 0);
    double e[6], res[6];
    CHECK_OK(qdsim_eigen_result_values(r, e));
    CHECK_OK(qdsim_eigen_result_residuals(r, res));
    for (int i = 0; i < 6; ++i) {
        CHECK(fabs(e[i] * 1e3 - box_mev[i]) < 1e-5); /* docs/validation.md quotes 5 decimals */
        CHECK(res[i] <= 1e-6 * e[i] * 1.0001);
    }
    const double *v = NULL;
    size_t ld = 0;
    CHECK_OK(qdsim_eigen_result_vectors(r, (const void **)&v, &ld));
    CHECK(ld >= info.dim);
    double norm = 0, overlap = 0;
    for (size_t i = 0; i < info.dim; ++i) {
        norm += v[i] * v[i];
        overlap += v[i] * v[i + ld];
    }
    CHECK(fabs(norm - 1) < 1e-10 && fabs(overlap) < 1e-10); /* orthonormal */
}

int main(void) {
    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(NULL, &m));
    static double zero[49 * 49];
    qdsim_hamiltonian_desc d;
    CHECK_OK(qdsim_hamiltonian_desc_default(&d));
    const double l[2] = {20.0, 20.0};
    const size_t pts[2] = {49, 49};
    CHECK_OK(qdsim_grid_box(2, l, pts, &d.grid));
    d.potential = zero;

    qdsim_eigen_options o;
    CHECK_OK(qdsim_eigen_options_default(&o));
    CHECK(o.k == 10 && o.tolerance == 1e-6 && o.method == QDSIM_METHOD_AUTO && o.progress == NULL);
    o.k = 6;
    o.progress = count_calls;
    o.progress_user = &calls;
    qdsim_eigen_result *r = NULL;
    CHECK_OK(qdsim_solve_lowest(m, &d, QDSIM_SCALAR_AUTO, &o, &r));
    CHECK(calls > 0);
    check_box(r);
    qdsim_eigen_info info;
    CHECK_OK(qdsim_eigen_result_info(r, &info));
    CHECK(info.method == QDSIM_METHOD_LOBPCG && info.levels >= 2 && info.vector_scalar == QDSIM_SCALAR_REAL);
    CHECK_OK(qdsim_eigen_result_destroy(r));

    /* The number of solver threads (issue 18): one thread gives the same states; too many is
     * refused and changes nothing; 0 goes back to the default. */
    size_t threads = 0, default_threads = 0;
    CHECK_OK(qdsim_solver_threads(&default_threads));
    CHECK(default_threads >= 1);
    CHECK_OK(qdsim_set_solver_threads(1));
    CHECK_OK(qdsim_solver_threads(&threads));
    CHECK(threads == 1);
    CHECK_FAILS(qdsim_set_solver_threads(4097), QDSIM_ERR_INVALID_ARGUMENT, "at most 4096");
    CHECK_OK(qdsim_solver_threads(&threads));
    CHECK(threads == 1);
    o.progress = NULL;
    CHECK_OK(qdsim_solve_lowest(m, &d, QDSIM_SCALAR_AUTO, &o, &r));
    check_box(r);
    CHECK_OK(qdsim_eigen_result_destroy(r));
    CHECK_OK(qdsim_set_solver_threads(0));
    CHECK_OK(qdsim_solver_threads(&threads));
    CHECK(threads == default_threads);
    CHECK_FAILS(qdsim_solver_threads(NULL), QDSIM_ERR_NULL_ARGUMENT, "threads");

    /* Shift-invert through the same entry point, and the CSR entry point. */
    o.method = QDSIM_METHOD_SHIFT_INVERT;
    o.progress = NULL;
    CHECK_OK(qdsim_solve_lowest(m, &d, QDSIM_SCALAR_AUTO, &o, &r));
    check_box(r);
    CHECK_OK(qdsim_eigen_result_destroy(r));
    qdsim_csr *h = NULL;
    CHECK_OK(qdsim_hamiltonian_csr(m, &d, QDSIM_SCALAR_AUTO, "h", &h));
    o.method = QDSIM_METHOD_AUTO;
    CHECK_OK(qdsim_csr_solve_lowest(h, &o, &r));
    check_box(r);
    CHECK_OK(qdsim_eigen_result_destroy(r));
    o.method = QDSIM_METHOD_LOBPCG;
    CHECK_OK(qdsim_csr_solve_lowest(h, &o, &r));
    check_box(r);
    CHECK_OK(qdsim_eigen_result_destroy(r));

    /* Cancellation and non-convergence. */
    o.method = QDSIM_METHOD_AUTO;
    o.progress = cancel_at_3;
    r = (qdsim_eigen_result *)0x5e5e;
    CHECK_FAILS(qdsim_solve_lowest(m, &d, QDSIM_SCALAR_AUTO, &o, &r), QDSIM_ERR_CANCELLED, "cancelled");
    CHECK(r == (qdsim_eigen_result *)0x5e5e);
    o.progress = NULL;
    o.max_iterations = 1;
    o.coarse_to_fine = 0;
    CHECK_FAILS(qdsim_solve_lowest(m, &d, QDSIM_SCALAR_AUTO, &o, &r), QDSIM_ERR_NOT_CONVERGED, "partial result");
    CHECK_OK(qdsim_eigen_result_info(r, &info)); /* the partial result is there */
    CHECK(info.count == 6 && info.converged < 6);
    CHECK_OK(qdsim_eigen_result_destroy(r));
    CHECK_OK(qdsim_eigen_options_default(&o));

    /* Bad input. */
    o.k = 0;
    CHECK_FAILS(qdsim_solve_lowest(m, &d, QDSIM_SCALAR_AUTO, &o, &r), QDSIM_ERR_INVALID_ARGUMENT, "k = 0");
    o.k = 49 * 49;
    CHECK_FAILS(qdsim_solve_lowest(m, &d, QDSIM_SCALAR_AUTO, &o, &r), QDSIM_ERR_INVALID_ARGUMENT,
                "must be smaller than the dimension 2401");
    o.k = 4;
    o.tolerance = -1e-3;
    CHECK_FAILS(qdsim_solve_lowest(m, &d, QDSIM_SCALAR_AUTO, &o, &r), QDSIM_ERR_INVALID_ARGUMENT, "tolerance -0.001");
    o.tolerance = 1e-6;
    o.method = 9;
    CHECK_FAILS(qdsim_solve_lowest(m, &d, QDSIM_SCALAR_AUTO, &o, &r), QDSIM_ERR_INVALID_ARGUMENT, "method 9");
    o.method = QDSIM_METHOD_AUTO;
    CHECK_FAILS(qdsim_solve_lowest(m, NULL, QDSIM_SCALAR_AUTO, &o, &r), QDSIM_ERR_NULL_ARGUMENT, "desc is NULL");
    CHECK_FAILS(qdsim_solve_lowest(m, &d, QDSIM_SCALAR_AUTO, &o, NULL), QDSIM_ERR_NULL_ARGUMENT, "out is NULL");
    d.magnetic_field = 1.0;
    CHECK_FAILS(qdsim_solve_lowest(m, &d, QDSIM_SCALAR_REAL, &o, &r), QDSIM_ERR_INVALID_ARGUMENT,
                "magnetic field makes H complex");
    d.magnetic_field = 0.0;
    CHECK_OK(qdsim_solve_lowest(m, &d, QDSIM_SCALAR_AUTO, NULL, &r)); /* NULL options: defaults */
    CHECK_FAILS(qdsim_eigen_result_values(r, NULL), QDSIM_ERR_NULL_ARGUMENT, "values is NULL");
    CHECK_FAILS(qdsim_eigen_result_vectors(r, NULL, NULL), QDSIM_ERR_NULL_ARGUMENT, "data is NULL");
    CHECK_FAILS(qdsim_eigen_result_info((qdsim_eigen_result *)h, &info), QDSIM_ERR_INVALID_HANDLE,
                "is a qdsim_csr, not a qdsim_eigen_result");
    qdsim_complex zc[10];
    CHECK_OK(qdsim_eigen_result_complex_values(r, zc));
    CHECK(zc[0].im == 0.0 && fabs(zc[0].re * 1e3 - box_mev[0]) < 1e-5);
    CHECK_OK(qdsim_eigen_result_destroy(r));
    CHECK_FAILS(qdsim_eigen_result_destroy(r), QDSIM_ERR_INVALID_HANDLE, "not a live qdsim_eigen_result");
    CHECK_OK(qdsim_eigen_result_destroy(NULL));
    CHECK_FAILS(qdsim_csr_solve_resonances(h, (qdsim_complex){0.03, 0}, 2, 1e-8, 1, &r), QDSIM_ERR_INVALID_ARGUMENT,
                "the matrix is real");

    /* A resonance: 1D double barrier (0.3 eV x 3 nm, 6 nm well, 100 nm leads), CAP on both ends. */
    enum { N1 = 4239 };
    static double v1[N1];
    qdsim_hamiltonian_desc o1;
    CHECK_OK(qdsim_hamiltonian_desc_default(&o1));
    const double total = 212.0;
    const size_t n1 = N1;
    CHECK_OK(qdsim_grid_box(1, &total, &n1, &o1.grid));
    for (int i = 0; i < N1; ++i) {
        double x = (i + 1) * o1.grid.axes[0].spacing;
        v1[i] = ((x >= 100 && x < 103) || (x >= 109 && x < 112)) ? 0.3 : 0.0;
    }
    o1.potential = v1;
    o1.absorber = (qdsim_absorber){QDSIM_FACE_X_MIN | QDSIM_FACE_X_MAX, 2, 90.0, 0.1};
    qdsim_csr *ho = NULL;
    CHECK_OK(qdsim_hamiltonian_csr(m, &o1, QDSIM_SCALAR_AUTO, "open", &ho));
    CHECK_OK(qdsim_csr_solve_resonances(ho, (qdsim_complex){0.0704, 0.0}, 8, 1e-10, 7, &r));
    CHECK_OK(qdsim_eigen_result_info(r, &info));
    CHECK(info.complex_values == 1 && info.count == 8);
    qdsim_complex e[8];
    CHECK_OK(qdsim_eigen_result_complex_values(r, e));
    CHECK_FAILS(qdsim_eigen_result_values(r, (double *)e), QDSIM_ERR_INVALID_ARGUMENT, "complex");
    /* The transfer-matrix peak is 0.070375 eV with FWHM 2.813 meV (tests/suite/solver_validation.rs). */
    int found = 0;
    for (int i = 0; i < 8; ++i)
        if (fabs(e[i].re - 0.070375) < 0.0004 && fabs(-2 * e[i].im - 0.002813) < 0.0001) found = 1;
    CHECK(found);
    CHECK_OK(qdsim_eigen_result_destroy(r));

    /* The same resonances from the grid description: qdsim_solve_resonances. */
    qdsim_eigen_options ro;
    CHECK_OK(qdsim_eigen_options_default(&ro));
    ro.k = 8;
    ro.tolerance = 1e-10;
    ro.seed = 7;
    CHECK_OK(qdsim_solve_resonances(m, &o1, (qdsim_complex){0.0704, 0.0}, &ro, &r));
    CHECK_OK(qdsim_eigen_result_info(r, &info));
    CHECK(info.complex_values == 1 && info.count == 8 && info.converged == 8 && info.dim == N1);
    qdsim_complex g[8];
    CHECK_OK(qdsim_eigen_result_complex_values(r, g));
    for (int i = 0; i < 8; ++i) { /* both solves meet 1e-10: the same eigenvalues to ~1e-10 */
        int twin = 0;
        for (int j = 0; j < 8; ++j)
            if (hypot(g[i].re - e[j].re, g[i].im - e[j].im) < 1e-9 * hypot(e[j].re, e[j].im)) twin = 1;
        CHECK(twin);
    }
    CHECK_OK(qdsim_eigen_result_destroy(r));
    r = NULL;
    ro.method = QDSIM_METHOD_LOBPCG;
    CHECK_FAILS(qdsim_solve_resonances(m, &o1, (qdsim_complex){0.0704, 0.0}, &ro, &r), QDSIM_ERR_INVALID_ARGUMENT,
                "LOBPCG");
    /* Out of core: the factor of shift-invert stays in core (refused); the matrix-free solver accepts it,
     * and a 1D grid, its own bottom grid, is solved by sparse LU in core (no scratch file). */
    ro.method = QDSIM_METHOD_SHIFT_INVERT;
    ro.placement = QDSIM_PLACEMENT_OUT_OF_CORE;
    CHECK_FAILS(qdsim_solve_resonances(m, &o1, (qdsim_complex){0.0704, 0.0}, &ro, &r), QDSIM_ERR_INVALID_ARGUMENT,
                "out-of-core");
    ro.method = QDSIM_METHOD_AUTO;
    CHECK_OK(qdsim_solve_resonances(m, &o1, (qdsim_complex){0.0704, 0.0}, &ro, &r));
    CHECK_OK(qdsim_eigen_result_info(r, &info));
    CHECK(info.converged == 8 && info.scratch_bytes == 0);
    CHECK_OK(qdsim_eigen_result_destroy(r));
    r = NULL;
    ro.placement = QDSIM_PLACEMENT_AUTO;
    CHECK_FAILS(qdsim_solve_resonances(m, &o1, (qdsim_complex){NAN, 0.0}, &ro, &r), QDSIM_ERR_INVALID_ARGUMENT,
                "not finite");
    CHECK_FAILS(qdsim_solve_resonances(m, &o1, (qdsim_complex){0.0704, 0.0}, &ro, NULL), QDSIM_ERR_NULL_ARGUMENT,
                "out");
    CHECK_FAILS(qdsim_solve_resonances((qdsim_manager *)ho, &o1, (qdsim_complex){0.0704, 0.0}, &ro, &r),
                QDSIM_ERR_INVALID_HANDLE, "is a qdsim_csr, not a qdsim_manager");
    CHECK_FAILS(qdsim_solve_resonances(m, NULL, (qdsim_complex){0.0704, 0.0}, &ro, &r), QDSIM_ERR_NULL_ARGUMENT,
                "desc");
    CHECK(r == NULL);

    /* Dense: a 3x3 Hermitian and a general matrix. */
    qdsim_matrix *a = NULL;
    CHECK_OK(qdsim_matrix_create(m, QDSIM_SCALAR_REAL, 3, 3, "a", &a));
    double *ad;
    qdsim_matrix_info mi;
    CHECK_OK(qdsim_matrix_data(a, (void **)&ad));
    CHECK_OK(qdsim_matrix_get_info(a, &mi));
    const double tri[3][3] = {{2, -1, 0}, {-1, 2, -1}, {0, -1, 2}};
    for (int j = 0; j < 3; ++j)
        for (int i = 0; i < 3; ++i) ad[i + j * mi.ld] = tri[i][j];
    CHECK_OK(qdsim_matrix_eigen_hermitian(a, 0, &r));
    double w[3];
    CHECK_OK(qdsim_eigen_result_values(r, w));
    CHECK(fabs(w[0] - (2 - sqrt(2))) < 1e-14 && fabs(w[1] - 2) < 1e-14 && fabs(w[2] - (2 + sqrt(2))) < 1e-14);
    CHECK_OK(qdsim_eigen_result_destroy(r));
    ad[0 + 2 * mi.ld] = 5.0; /* not symmetric any more */
    CHECK_OK(qdsim_matrix_eigen_general(a, &r));
    CHECK_OK(qdsim_eigen_result_info(r, &info));
    CHECK(info.complex_values == 1 && info.count == 3);
    CHECK_OK(qdsim_eigen_result_destroy(r));

    CHECK_OK(qdsim_matrix_destroy(a));
    CHECK_OK(qdsim_csr_destroy(h));
    CHECK_OK(qdsim_csr_destroy(ho));
    qdsim_stats s;
    CHECK_OK(qdsim_manager_stats(m, &s));
    CHECK(s.live_allocations == 0);
    CHECK_OK(qdsim_manager_destroy(m));
    printf("test_solver: ok\n");
    return 0;
}
