/* Issue 16 from C: calls on a mapped handle from the progress callback of a solve on it return
 * (reads work, a finalize is refused at once) instead of deadlocking; a CSR solve on diag(1e308,
 * 2, 3, ...) never returns QDSIM_ERR_NOT_CONVERGED without *out; qdsim_manager_check is always OK
 * while two threads allocate and free on the same manager; qdsim_manager_free refuses the arrays
 * of a qdsim_matrix and a qdsim_csr, naming the owner; impossible manager configurations are
 * refused at creation. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"

/* (−1, d_i, −1) with d_0 = first, d_i = 2 + i; diagonal only when `off` is 0. */
static qdsim_csr *banded(qdsim_manager *m, size_t n, double first, double off) {
    qdsim_csr_builder *b = NULL;
    CHECK_OK(qdsim_csr_builder_create(m, QDSIM_SCALAR_REAL, n, n, "h", &b));
    for (size_t i = 0; i < n; i++) {
        CHECK_OK(qdsim_csr_builder_add(b, i, i, i == 0 ? first : 2.0 + (double)i));
        if (i + 1 < n && off != 0.0) {
            CHECK_OK(qdsim_csr_builder_add(b, i, i + 1, off));
            CHECK_OK(qdsim_csr_builder_add(b, i + 1, i, off));
        }
    }
    qdsim_csr *h = NULL;
    CHECK_OK(qdsim_csr_builder_finalize(b, &h));
    CHECK_OK(qdsim_csr_builder_destroy(b));
    return h;
}

typedef struct {
    qdsim_mapped *mapped;
    qdsim_manager *manager;
    int calls;
    qdsim_status info, arrays, check, finalize;
    char finalize_message[512];
} reentry;

static int32_t call_back_into_the_handle(void *user, const qdsim_progress *p) {
    (void)p;
    reentry *r = user;
    qdsim_mapped_info info;
    const void *rp, *ci, *v;
    r->calls++;
    r->info = qdsim_mapped_get_info(r->mapped, &info);
    r->arrays = qdsim_mapped_csr_arrays(r->mapped, &rp, &ci, &v);
    r->check = qdsim_manager_check(r->manager);
    r->finalize = qdsim_mapped_finalize(r->mapped);
    snprintf(r->finalize_message, sizeof r->finalize_message, "%s", qdsim_last_error_message());
    return 1; /* cancel */
}

static void reentrant_calls_from_the_progress_callback(qdsim_manager *m) {
    char path[512];
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/qdsim-c-hardening-%ld.qdm", dir && *dir ? dir : "/tmp",
             (long)getpid());
    qdsim_csr *h = banded(m, 300, 2.0, -1.0);
    qdsim_mapped *mapped = NULL;
    CHECK_OK(qdsim_mapped_from_csr(h, path, &mapped));
    reentry r = {mapped, m, 0, 0, 0, 0, 0, ""};
    qdsim_eigen_options o;
    CHECK_OK(qdsim_eigen_options_default(&o));
    o.k = 3;
    o.progress = call_back_into_the_handle;
    o.progress_user = &r;
    qdsim_eigen_result *res = NULL;
    CHECK_FAILS(qdsim_mapped_solve_lowest(m, mapped, &o, &res), QDSIM_ERR_CANCELLED, "cancelled by the progress callback");
    CHECK(res == NULL);
    CHECK(r.calls == 1);
    CHECK(r.info == QDSIM_OK && r.arrays == QDSIM_OK && r.check == QDSIM_OK);
    CHECK(r.finalize == QDSIM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(r.finalize_message, "progress callback") != NULL);
    CHECK_OK(qdsim_mapped_finalize(mapped)); /* free again after the solve */
    CHECK_OK(qdsim_mapped_destroy(mapped));
    CHECK_OK(qdsim_csr_destroy(h));
    unlink(path);
}

/* diag(1e308, 3, 4, ...) (the harness's case: its 4×4 projected matrix overflows) and the same
 * with off-diagonals: whatever the solver makes of them, NOT_CONVERGED comes with *out. */
static void breakdown_keeps_the_status_contract(qdsim_manager *m) {
    for (int banded_case = 0; banded_case < 2; banded_case++) {
        qdsim_csr *h = banded(m, 40, 1e308, banded_case ? -1.0 : 0.0);
        qdsim_eigen_options o;
        CHECK_OK(qdsim_eigen_options_default(&o));
        o.k = 3;
        qdsim_eigen_result *r = NULL;
        qdsim_status st = qdsim_csr_solve_lowest(h, &o, &r);
        printf("%s(1e308, 3, 4, ...): %s %s\n", banded_case ? "tridiag" : "diag",
               qdsim_status_string(st), st == QDSIM_OK ? "" : qdsim_last_error_message());
        if (st == QDSIM_OK || st == QDSIM_ERR_NOT_CONVERGED) {
            CHECK(r != NULL); /* NOT_CONVERGED promises *out */
            CHECK_OK(qdsim_eigen_result_destroy(r));
        } else {
            CHECK(st == QDSIM_ERR_INVALID_ARGUMENT);
            CHECK(r == NULL);
            CHECK(strstr(qdsim_last_error_message(), "*out is untouched") != NULL);
        }
        CHECK_OK(qdsim_csr_destroy(h));
    }
}

typedef struct {
    qdsim_manager *m;
    atomic_int *stop;
    int seed;
} worker_arg;

static void *allocate_and_free(void *p) {
    worker_arg *a = p;
    void *kept[32] = {0};
    static const size_t sizes[] = {24, 200, 4096, 70000, 300000};
    for (unsigned i = (unsigned)a->seed; !atomic_load(a->stop); i++) {
        unsigned slot = (i * 7u) % 32u;
        if (kept[slot] != NULL)
            CHECK_OK(qdsim_manager_free(a->m, kept[slot]));
        kept[slot] = NULL;
        CHECK_OK(qdsim_manager_alloc_bytes(a->m, sizes[i % 5], "stress", &kept[slot]));
    }
    for (int i = 0; i < 32; i++)
        CHECK_OK(qdsim_manager_free(a->m, kept[i]));
    return NULL;
}

static void check_is_exact_under_concurrency(void) {
    qdsim_manager_config c;
    CHECK_OK(qdsim_manager_config_default(&c));
    c.initial_pool_size = 4u << 20;
    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(&c, &m));
    atomic_int stop = 0;
    worker_arg args[2] = {{m, &stop, 1}, {m, &stop, 2}};
    pthread_t threads[2];
    for (int t = 0; t < 2; t++)
        CHECK(pthread_create(&threads[t], NULL, allocate_and_free, &args[t]) == 0);
    for (int i = 0; i < 2000; i++)
        CHECK_OK(qdsim_manager_check(m));
    atomic_store(&stop, 1);
    for (int t = 0; t < 2; t++)
        CHECK(pthread_join(threads[t], NULL) == 0);
    CHECK_OK(qdsim_manager_check(m));
    qdsim_stats s;
    CHECK_OK(qdsim_manager_stats(m, &s));
    CHECK(s.live_allocations == 0);
    CHECK_OK(qdsim_manager_destroy(m));
}

static void free_refuses_handle_arrays(qdsim_manager *m) {
    qdsim_matrix *a = NULL;
    CHECK_OK(qdsim_matrix_create(m, QDSIM_SCALAR_REAL, 8, 8, "a", &a));
    void *data = NULL;
    CHECK_OK(qdsim_matrix_data(a, &data));
    CHECK_FAILS(qdsim_manager_free(m, data), QDSIM_ERR_NOT_OWNED, "belongs to a qdsim_matrix");
    qdsim_csr *h = banded(m, 50, 2.0, -1.0);
    const void *rp, *ci, *v;
    CHECK_OK(qdsim_csr_arrays(h, &rp, &ci, &v));
    CHECK_FAILS(qdsim_manager_free(m, (void *)v), QDSIM_ERR_NOT_OWNED, "belongs to a qdsim_csr");
    CHECK_FAILS(qdsim_manager_free(m, (void *)rp), QDSIM_ERR_NOT_OWNED, "belongs to a qdsim_csr");
    CHECK_OK(qdsim_manager_check(m));
    /* The blocks were not given away: writing to the matrix and destroying both is fine. */
    ((double *)data)[0] = 1.0;
    CHECK_OK(qdsim_csr_destroy(h));
    CHECK_OK(qdsim_matrix_destroy(a));
    CHECK_OK(qdsim_manager_check(m));
}

static void impossible_configs_are_refused(void) {
    qdsim_manager_config c;
    CHECK_OK(qdsim_manager_config_default(&c));
    c.initial_pool_size = SIZE_MAX;
    qdsim_manager *m = NULL;
    CHECK_FAILS(qdsim_manager_create(&c, &m), QDSIM_ERR_INVALID_ARGUMENT, "initial_pool_size");
    CHECK(m == NULL);
    CHECK_OK(qdsim_manager_config_default(&c));
    c.chunk_size = SIZE_MAX / 2;
    CHECK_FAILS(qdsim_manager_create(&c, &m), QDSIM_ERR_INVALID_ARGUMENT, "chunk_size");
    CHECK_OK(qdsim_manager_config_default(&c));
    c.prefault_threads = 1000000;
    CHECK_FAILS(qdsim_manager_create(&c, &m), QDSIM_ERR_INVALID_ARGUMENT, "prefault_threads");
    CHECK(m == NULL);
}

int main(void) {
    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(NULL, &m));
    reentrant_calls_from_the_progress_callback(m);
    breakdown_keeps_the_status_contract(m);
    free_refuses_handle_arrays(m);
    CHECK_OK(qdsim_manager_destroy(m));
    check_is_exact_under_concurrency();
    impossible_configs_are_refused();
    printf("test_hardening: ok\n");
    return 0;
}
