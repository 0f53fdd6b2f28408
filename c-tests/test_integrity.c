/* The seed's integrity test from C: 100 complex 100x100 matrices from one manager, a distinct
 * pattern written to each, all verified, all freed, statistics back to zero. */
#include "check.h"

enum { MATRICES = 100, N = 100 };

int main(void) {
    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(NULL, &m));
    qdsim_complex *mat[MATRICES];
    for (int k = 0; k < MATRICES; ++k) {
        CHECK_OK(qdsim_manager_alloc_complex(m, (size_t)N * N, "integrity", &mat[k]));
        for (int j = 0; j < N; ++j)
            for (int i = 0; i < N; ++i) {
                mat[k][i + (size_t)j * N].re = k + 0.5 * i;
                mat[k][i + (size_t)j * N].im = -k - 0.25 * j;
            }
    }
    qdsim_stats s;
    CHECK_OK(qdsim_manager_stats(m, &s));
    CHECK(s.live_allocations == MATRICES);
    CHECK(s.bytes_in_use == (uint64_t)MATRICES * N * N * sizeof(qdsim_complex));
    for (int k = 0; k < MATRICES; ++k)
        for (int j = 0; j < N; ++j)
            for (int i = 0; i < N; ++i) {
                CHECK(mat[k][i + (size_t)j * N].re == k + 0.5 * i);
                CHECK(mat[k][i + (size_t)j * N].im == -k - 0.25 * j);
            }
    for (int k = 0; k < MATRICES; ++k) CHECK_OK(qdsim_manager_free(m, mat[k]));
    CHECK_OK(qdsim_manager_stats(m, &s));
    CHECK(s.bytes_in_use == 0 && s.live_allocations == 0);
    CHECK(s.allocation_count == MATRICES && s.free_count == MATRICES);
    /* All free: the footprint is free chunk space plus the size-class slabs (100² complex
     * matrices, 156 KiB, are served from slabs). */
    CHECK(s.free_bytes + s.cached_bytes == s.footprint_bytes && s.fragmentation == 0.0);
    CHECK_OK(qdsim_manager_check(m));
    CHECK_OK(qdsim_manager_destroy(m));
    printf("test_integrity: ok\n");
    return 0;
}
