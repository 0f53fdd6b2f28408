/* Outside-project check (C): the installed header and library work together — a pool block, and
 * the lowest states of a small 2D GaAs parabolic dot with a progress callback (the solver's
 * threads), run as is and under valgrind with no suppression file. */
#include <stdio.h>

#include "qdsim_mem.h"

static double distance(double a, double b) { return a > b ? a - b : b - a; }

static int32_t count_reports(void *user, const qdsim_progress *p) {
    (void)p;
    ++*(int *)user;
    return 0; /* go on */
}

int main(void) {
    if (qdsim_abi_version() != QDSIM_MEM_ABI_VERSION) return 1;
    qdsim_manager *m = NULL;
    double *v = NULL;
    if (qdsim_manager_create(NULL, &m) != QDSIM_OK) return 1;
    if (qdsim_manager_alloc_f64(m, 1000, "outside", &v) != QDSIM_OK) return 1;
    v[999] = 1.0;
    if (qdsim_manager_free(m, v) != QDSIM_OK) return 1;

    /* hbar omega = 10 meV in a 120 nm box on a 40 x 40 grid: E0 = 10 meV within the grid's
     * discretisation error (about 0.05 meV at this spacing; 0.3 meV allowed). */
    const size_t n = 40, points[2] = {n, n};
    const double lengths[2] = {120.0, 120.0}, hw = 0.010;
    qdsim_hamiltonian_desc d;
    qdsim_eigen_options opt;
    qdsim_eigen_result *r = NULL;
    double e[3];
    int reports = 0;
    if (qdsim_hamiltonian_desc_default(&d) != QDSIM_OK ||
        qdsim_grid_box(2, lengths, points, &d.grid) != QDSIM_OK ||
        qdsim_manager_alloc_f64(m, n * n, "potential", &v) != QDSIM_OK ||
        qdsim_parabolic_potential(&d.grid, QDSIM_MASS_GAAS, hw, v, n * n) != QDSIM_OK ||
        qdsim_eigen_options_default(&opt) != QDSIM_OK)
        return 1;
    d.mass = QDSIM_MASS_GAAS;
    d.potential = v;
    opt.k = 3;
    opt.progress = count_reports;
    opt.progress_user = &reports;
    if (qdsim_solve_lowest(m, &d, QDSIM_SCALAR_AUTO, &opt, &r) != QDSIM_OK ||
        qdsim_eigen_result_values(r, e) != QDSIM_OK)
        return 1;
    if (distance(e[0], hw) > 3e-4 || distance(e[1], 2 * hw) > 6e-4 || reports == 0) return 1;
    if (qdsim_eigen_result_destroy(r) != QDSIM_OK || qdsim_manager_free(m, v) != QDSIM_OK ||
        qdsim_manager_destroy(m) != QDSIM_OK)
        return 1;
    printf("outside C: ok (qdsim-mem %s, E0 = %.4f meV)\n", qdsim_version_string(), e[0] * 1e3);
    return 0;
}
