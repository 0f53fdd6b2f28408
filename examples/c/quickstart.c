/* Quick start from C: a memory manager for the arrays of a 2D quantum-dot calculation, tagged by
 * what they hold; prints the statistics and the allocation report, then the leak report of an
 * array deliberately left live, and destroys the manager (which frees it).
 *
 * Build (after `cargo build --release`):
 *   cc -std=c11 -Iinclude examples/c/quickstart.c -Ltarget/release -lqdsim_mem \
 *      -Wl,-rpath,$PWD/target/release -o quickstart && ./quickstart
 */
#include <stdio.h>
#include <stdlib.h>

#include "qdsim_mem.h"

#define TRY(call)                                                                             \
    do {                                                                                      \
        qdsim_status s_ = (call);                                                             \
        if (s_ != QDSIM_OK) {                                                                 \
            fprintf(stderr, "%s failed: %s: %s\n", #call, qdsim_status_string(s_),            \
                    qdsim_last_error_message());                                              \
            return 1;                                                                         \
        }                                                                                     \
    } while (0)

int main(void) {
    if (qdsim_abi_version() != QDSIM_MEM_ABI_VERSION) {
        fprintf(stderr, "libqdsim_mem ABI %u, header ABI %u\n", qdsim_abi_version(), QDSIM_MEM_ABI_VERSION);
        return 1;
    }
    qdsim_manager_config config;
    TRY(qdsim_manager_config_default(&config));
    config.memory_limit = (uint64_t)1 << 30; /* 1 GiB */
    qdsim_manager *m = NULL;
    TRY(qdsim_manager_create(&config, &m));

    const size_t nx = 400, ny = 400, n = nx * ny, states = 10;
    const size_t nnz = 5 * n - 2 * nx - 2 * ny;
    double *potential, *values;
    qdsim_complex *psi;
    int32_t *columns, *row_ptr;
    TRY(qdsim_manager_alloc_f64(m, n, "potential", &potential));
    TRY(qdsim_manager_alloc_complex(m, n * states, "wavefunctions", &psi));
    TRY(qdsim_manager_alloc_f64(m, nnz, "hamiltonian.values", &values));
    TRY(qdsim_manager_alloc_i32(m, nnz, "hamiltonian.columns", &columns));
    TRY(qdsim_manager_alloc_i32(m, n + 1, "hamiltonian.row_ptr", &row_ptr));

    /* Parabolic confinement, GaAs, hbar omega = 10 meV on a 120 nm box:
     * V = (hbar omega)^2 r^2 / (4 hbar^2/2m*) at every grid point. */
    const double lengths[2] = {120.0, 120.0};
    const size_t points[2] = {nx, ny};
    qdsim_grid grid;
    TRY(qdsim_grid_box(2, lengths, points, &grid));
    TRY(qdsim_parabolic_potential(&grid, QDSIM_MASS_GAAS, 0.010, potential, n));

    qdsim_stats s;
    TRY(qdsim_manager_stats(m, &s));
    printf("bytes in use %llu, peak %llu, footprint %llu, live %llu, fragmentation %.4f\n",
           (unsigned long long)s.bytes_in_use, (unsigned long long)s.peak_bytes_in_use,
           (unsigned long long)s.footprint_bytes, (unsigned long long)s.live_allocations, s.fragmentation);
    qdsim_tag_stats t;
    TRY(qdsim_manager_tag_stats(m, "wavefunctions", &t));
    printf("tag %s: %llu bytes in %llu allocation(s)\n", t.name, (unsigned long long)t.bytes_in_use,
           (unsigned long long)t.live_allocations);

    char *report = NULL;
    TRY(qdsim_manager_allocation_report(m, &report));
    fputs(report, stdout);
    TRY(qdsim_string_free(report));

    TRY(qdsim_manager_free(m, psi));
    TRY(qdsim_manager_free(m, values));
    TRY(qdsim_manager_free(m, columns));
    TRY(qdsim_manager_free(m, row_ptr));

    /* `potential` is still live: the leak report names it. */
    qdsim_leak_summary leaks;
    TRY(qdsim_manager_leak_summary(m, &leaks));
    char *leak_text = NULL;
    TRY(qdsim_manager_leak_report(m, &leak_text));
    fputs(leak_text, stdout);
    TRY(qdsim_string_free(leak_text));
    if (leaks.count != 1 || leaks.bytes != n * sizeof(double)) return 1;

    TRY(qdsim_manager_free(m, potential));
    TRY(qdsim_manager_destroy(m));
    return 0;
}
