/* The quantum-dot example from C (twin of examples/quantum_dot.rs): a 2D GaAs parabolic dot,
 * ħω = 10 meV, 120 nm box, lowest states by qdsim_solve_lowest with a progress bar, printed
 * against the exact levels ħω(n+1), with residuals, time and the memory report.
 *
 *   ./quantum_dot [points-per-axis (1000)] [states (10)] [--bits]
 * With --bits every energy is also printed as its IEEE-754 bit pattern (the CTest compares the C,
 * C++ and Fortran twins bit for bit).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qdsim_mem.h"

#define TRY(call)                                                                             \
    do {                                                                                      \
        qdsim_status s_ = (call);                                                             \
        if (s_ != QDSIM_OK) {                                                                 \
            fprintf(stderr, "\n%s failed: %s: %s\n", #call, qdsim_status_string(s_),          \
                    qdsim_last_error_message());                                              \
            return 1;                                                                         \
        }                                                                                     \
    } while (0)

static int32_t show_progress(void *user, const qdsim_progress *p) {
    (void)user;
    const size_t width = 20, done = width * p->converged / (p->wanted ? p->wanted : 1);
    char bar[32];
    for (size_t i = 0; i < width; ++i) bar[i] = i < done ? '#' : '-';
    bar[width] = '\0';
    fprintf(stderr, "\r  level %zu/%zu  iteration %3zu  [%s] %2zu/%zu converged  residual %.1e   ",
            p->levels - p->level, p->levels, p->iteration, bar, p->converged, p->wanted, p->max_residual);
    return 0; /* non-zero would cancel the solve */
}

int main(int argc, char **argv) {
    const size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 1000;
    const size_t k = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 10;
    const int bits = argc > 3 && strcmp(argv[3], "--bits") == 0;
    const double hw = 0.010, length = 120.0, mass = QDSIM_MASS_GAAS;
    if (qdsim_abi_version() != QDSIM_MEM_ABI_VERSION) return 1;

    qdsim_manager *m = NULL;
    TRY(qdsim_manager_create(NULL, &m));
    qdsim_hamiltonian_desc d;
    TRY(qdsim_hamiltonian_desc_default(&d));
    const double lengths[2] = {length, length};
    const size_t points[2] = {n, n};
    TRY(qdsim_grid_box(2, lengths, points, &d.grid));
    d.mass = mass;
    double *v = NULL; /* the potential, from the manager's pool */
    TRY(qdsim_manager_alloc_f64(m, n * n, "potential", &v));
    /* V = (hw)^2 r^2 / (4 hbar^2/2m*), r from the box's centre ((n+1)h/2: the Fortran twin's
     * own loop, with L/2, writes the same bits wherever (n+1)h == L exactly, as at n = 120). */
    TRY(qdsim_parabolic_potential(&d.grid, mass, hw, v, n * n));
    d.potential = v;

    qdsim_eigen_options opt;
    TRY(qdsim_eigen_options_default(&opt));
    opt.k = k;
    opt.progress = show_progress;
    printf("2D GaAs parabolic dot: hw = 10 meV, 120 nm box, %zu x %zu grid, lowest %zu states\n", n, n, k);
    qdsim_eigen_result *r = NULL;
    qdsim_status st = qdsim_solve_lowest(m, &d, QDSIM_SCALAR_AUTO, &opt, &r);
    fprintf(stderr, "\n");
    if (st != QDSIM_OK && st != QDSIM_ERR_NOT_CONVERGED) TRY(st);

    qdsim_eigen_info info;
    TRY(qdsim_eigen_result_info(r, &info));
    double *e = malloc(info.count * sizeof *e), *res = malloc(info.count * sizeof *res);
    TRY(qdsim_eigen_result_values(r, e));
    TRY(qdsim_eigen_result_residuals(r, res));
    printf("%4s %14s %12s %12s %12s\n", "n", "E (meV)", "exact (meV)", "error (meV)", "residual");
    size_t shell = 0, in_shell = 0;
    for (size_t i = 0; i < info.count; ++i) {
        double exact = hw * (double)(shell + 1);
        printf("%4zu %14.6f %12.3f %12.2e %12.2e\n", i, e[i] * 1e3, exact * 1e3, (e[i] - exact) * 1e3, res[i]);
        if (++in_shell == shell + 1) { ++shell; in_shell = 0; }
    }
    for (size_t i = 0; bits && i < info.count; ++i) {
        uint64_t b;
        memcpy(&b, &e[i], sizeof b);
        printf("bits %016" PRIX64 "\n", b);
    }
    printf("%s in %.2f s: %zu iterations over %d grid levels, %llu operator applications, %zu/%zu converged\n",
           info.method == QDSIM_METHOD_SHIFT_INVERT ? "shift-invert" : "multigrid LOBPCG", info.seconds,
           info.iterations, info.levels, (unsigned long long)info.applications, info.converged, info.count);
    printf("peak pool memory during the solve: %.1f MiB\n\n", (double)info.peak_pool_bytes / 1048576.0);
    char *report = NULL;
    TRY(qdsim_manager_allocation_report(m, &report));
    fputs(report, stdout);
    TRY(qdsim_string_free(report));

    free(e);
    free(res);
    TRY(qdsim_eigen_result_destroy(r));
    TRY(qdsim_manager_free(m, v));
    TRY(qdsim_manager_destroy(m));
    return st == QDSIM_OK ? 0 : 1;
}
