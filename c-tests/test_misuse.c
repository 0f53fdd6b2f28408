/* Bad input through the C API: every failure returns the right status with a clear message,
 * leaves out-parameters untouched and changes nothing in the manager. */
#include <stdint.h>

#include "check.h"

static const void *SENTINEL = (const void *)0x5e5e5e5e;

static void stats_of(qdsim_manager *m, qdsim_stats *s) { CHECK_OK(qdsim_manager_stats(m, s)); }

int main(void) {
    qdsim_manager_config config;
    CHECK_OK(qdsim_manager_config_default(&config));
    config.initial_pool_size = 1 << 20;
    config.report_leaks_on_destroy = 0;
    qdsim_manager *m = NULL, *other = NULL;
    CHECK_OK(qdsim_manager_create(&config, &m));
    CHECK_OK(qdsim_manager_create(&config, &other));

    /* ---- NULL arguments ---- */
    CHECK_FAILS(qdsim_manager_config_default(NULL), QDSIM_ERR_NULL_ARGUMENT, "config is NULL");
    CHECK_FAILS(qdsim_manager_create(&config, NULL), QDSIM_ERR_NULL_ARGUMENT, "out is NULL");
    void *out = (void *)SENTINEL;
    CHECK_FAILS(qdsim_manager_alloc(NULL, QDSIM_POOL_F64, 10, 0, "x", &out), QDSIM_ERR_NULL_ARGUMENT,
                "manager is NULL");
    CHECK(out == SENTINEL);
    CHECK_FAILS(qdsim_manager_alloc(m, QDSIM_POOL_F64, 10, 0, "x", NULL), QDSIM_ERR_NULL_ARGUMENT,
                "out is NULL");
    CHECK_FAILS(qdsim_manager_alloc_f64(m, 10, "x", NULL), QDSIM_ERR_NULL_ARGUMENT, "out is NULL");
    CHECK_FAILS(qdsim_manager_free(NULL, (void *)SENTINEL), QDSIM_ERR_NULL_ARGUMENT, "manager is NULL");
    CHECK_FAILS(qdsim_manager_stats(m, NULL), QDSIM_ERR_NULL_ARGUMENT, "out is NULL");
    CHECK_FAILS(qdsim_manager_stats(NULL, NULL), QDSIM_ERR_NULL_ARGUMENT, "is NULL");
    CHECK_FAILS(qdsim_manager_pool_stats(m, QDSIM_POOL_F64, NULL), QDSIM_ERR_NULL_ARGUMENT, "out is NULL");
    CHECK_FAILS(qdsim_manager_tag_stats(m, "x", NULL), QDSIM_ERR_NULL_ARGUMENT, "out is NULL");
    CHECK_FAILS(qdsim_manager_tag_count(m, NULL), QDSIM_ERR_NULL_ARGUMENT, "count is NULL");
    CHECK_FAILS(qdsim_manager_tag_list(m, NULL, 0, NULL), QDSIM_ERR_NULL_ARGUMENT, "written is NULL");
    CHECK_FAILS(qdsim_manager_find(m, SENTINEL, NULL), QDSIM_ERR_NULL_ARGUMENT, "out is NULL");
    CHECK_FAILS(qdsim_manager_leak_summary(m, NULL), QDSIM_ERR_NULL_ARGUMENT, "out is NULL");
    CHECK_FAILS(qdsim_manager_leak_report(m, NULL), QDSIM_ERR_NULL_ARGUMENT, "text is NULL");
    CHECK_FAILS(qdsim_manager_allocation_report(m, NULL), QDSIM_ERR_NULL_ARGUMENT, "text is NULL");
    CHECK_FAILS(qdsim_manager_trim(NULL, NULL), QDSIM_ERR_NULL_ARGUMENT, "manager is NULL");
    CHECK_FAILS(qdsim_manager_check(NULL), QDSIM_ERR_NULL_ARGUMENT, "manager is NULL");
    CHECK_OK(qdsim_string_free(NULL));

    /* ---- invalid arguments ---- */
    CHECK_FAILS(qdsim_manager_alloc(m, 7, 10, 0, "x", &out), QDSIM_ERR_INVALID_ARGUMENT,
                "pool 7 is not a QDSIM_POOL_* value");
    CHECK_FAILS(qdsim_manager_alloc(m, -1, 10, 0, "x", &out), QDSIM_ERR_INVALID_ARGUMENT, "pool -1");
    CHECK_FAILS(qdsim_manager_alloc(m, QDSIM_POOL_F64, 10, 48, "x", &out), QDSIM_ERR_INVALID_ARGUMENT,
                "alignment 48 is not a power of two");
    CHECK_FAILS(qdsim_manager_alloc(m, QDSIM_POOL_COMPLEX, SIZE_MAX / 4, 0, "x", &out),
                QDSIM_ERR_INVALID_ARGUMENT, "overflow");
    CHECK_FAILS(qdsim_manager_alloc_bytes(m, SIZE_MAX - 5, "x", &out), QDSIM_ERR_INVALID_ARGUMENT,
                "larger than the address space");
    CHECK_FAILS(qdsim_manager_alloc_f64(m, 4, "a-tag-that-is-much-too-long-to-be-the-short-name-of-an-array-in-a-report",
                                        (double **)&out),
                QDSIM_ERR_INVALID_ARGUMENT, "at most 63 bytes");
    CHECK_FAILS(qdsim_manager_alloc_f64(m, 4, "bad\xff", (double **)&out), QDSIM_ERR_INVALID_ARGUMENT,
                "not valid UTF-8");
    qdsim_stats unused;
    CHECK_FAILS(qdsim_manager_pool_stats(m, 5, &unused), QDSIM_ERR_INVALID_ARGUMENT, "pool 5");
    qdsim_manager_config bad = config;
    bad.alignment = 100;
    qdsim_manager *never = (qdsim_manager *)SENTINEL;
    CHECK_FAILS(qdsim_manager_create(&bad, &never), QDSIM_ERR_INVALID_ARGUMENT, "alignment 100");
    CHECK(never == (qdsim_manager *)SENTINEL);
    CHECK(out == SENTINEL);

    /* ---- not found / buffer too small ---- */
    qdsim_tag_stats tag;
    CHECK_FAILS(qdsim_manager_tag_stats(m, "nobody", &tag), QDSIM_ERR_NOT_FOUND, "\"nobody\"");
    double *a = NULL, *b = NULL;
    CHECK_OK(qdsim_manager_alloc_f64(m, 100, "a", &a));
    CHECK_OK(qdsim_manager_alloc_f64(m, 100, "b", &b));
    qdsim_tag_stats one[1];
    size_t written = 777;
    CHECK_FAILS(qdsim_manager_tag_list(m, one, 1, &written), QDSIM_ERR_BUFFER_TOO_SMALL,
                "2 tags do not fit in capacity 1");
    CHECK(written == 777);
    qdsim_allocation_info info;
    CHECK_FAILS(qdsim_manager_find(m, a + 1, &info), QDSIM_ERR_NOT_FOUND, "not the start of a live");

    /* ---- pointers the manager does not own: refused, nothing changes ---- */
    qdsim_stats before, after;
    stats_of(m, &before);
    CHECK_FAILS(qdsim_manager_free(m, a + 3), QDSIM_ERR_NOT_OWNED, "24 bytes into the 800-byte allocation");
    double on_stack[4];
    CHECK_FAILS(qdsim_manager_free(m, on_stack), QDSIM_ERR_NOT_OWNED, "not allocated by any qdsim");
    double *heap = malloc(64 * sizeof(double));
    CHECK_FAILS(qdsim_manager_free(m, heap), QDSIM_ERR_NOT_OWNED, "not allocated by any qdsim");
    free(heap);
    double *theirs = NULL;
    CHECK_OK(qdsim_manager_alloc_f64(other, 10, "theirs", &theirs));
    CHECK_FAILS(qdsim_manager_free(m, theirs), QDSIM_ERR_NOT_OWNED, "belongs to memory manager");
    CHECK_OK(qdsim_manager_free(m, b));
    CHECK_FAILS(qdsim_manager_free(m, b), QDSIM_ERR_NOT_OWNED, "double free");
    stats_of(m, &after);
    CHECK(after.bytes_in_use == before.bytes_in_use - 800);
    CHECK(after.free_count == before.free_count + 1);
    CHECK(after.live_allocations == 1);
    CHECK_OK(qdsim_manager_check(m));
    for (int i = 0; i < 100; ++i) a[i] = i; /* `a` is still ours and usable */

    /* ---- the memory limit ---- */
    qdsim_manager_config limited = config;
    limited.memory_limit = 10000;
    qdsim_manager *lim = NULL;
    CHECK_OK(qdsim_manager_create(&limited, &lim));
    double *x = NULL;
    CHECK_OK(qdsim_manager_alloc_f64(lim, 1000, "x", &x));
    double *y = (double *)SENTINEL;
    stats_of(lim, &before);
    CHECK_FAILS(qdsim_manager_alloc_f64(lim, 251, "y", &y), QDSIM_ERR_LIMIT_EXCEEDED,
                "allocation of 2008 bytes (tag \"y\", pool f64) would exceed the memory limit of 10000 bytes: "
                "8000 bytes are in use");
    CHECK(y == (double *)SENTINEL);
    stats_of(lim, &after);
    CHECK(after.bytes_in_use == before.bytes_in_use && after.live_allocations == before.live_allocations);
    CHECK(after.failed_allocations == before.failed_allocations + 1);
    CHECK(after.available_bytes == 2000 && after.limit_bytes == 10000);
    CHECK_OK(qdsim_manager_alloc_f64(lim, 250, "y", &y)); /* exactly up to the limit */
    CHECK_OK(qdsim_manager_free(lim, x));
    CHECK_OK(qdsim_manager_free(lim, y));
    CHECK_OK(qdsim_manager_destroy(lim));

    /* ---- invalid handles ---- */
    char *report = NULL;
    CHECK_OK(qdsim_manager_allocation_report(m, &report));
    CHECK_FAILS(qdsim_manager_stats((qdsim_manager *)report, &before), QDSIM_ERR_INVALID_HANDLE,
                "is a string returned by qdsim, not a qdsim_manager");
    CHECK_FAILS(qdsim_string_free((char *)m), QDSIM_ERR_INVALID_HANDLE, "is a qdsim_manager, not a string");
    CHECK_OK(qdsim_string_free(report));
    CHECK_FAILS(qdsim_string_free(report), QDSIM_ERR_INVALID_HANDLE, "not a live string");
    CHECK_FAILS(qdsim_manager_stats((qdsim_manager *)on_stack, &before), QDSIM_ERR_INVALID_HANDLE,
                "not a live qdsim_manager");
    CHECK_FAILS(qdsim_manager_stats((qdsim_manager *)SENTINEL, &before), QDSIM_ERR_INVALID_HANDLE,
                "never created by qdsim");

    /* Destroy with a live allocation: frees it; later use of the handle is refused. */
    qdsim_manager *gone = lim;
    CHECK_FAILS(qdsim_manager_destroy(gone), QDSIM_ERR_INVALID_HANDLE, "destroyed already");
    CHECK_FAILS(qdsim_manager_alloc_f64(gone, 1, "x", &x), QDSIM_ERR_INVALID_HANDLE, "not a live qdsim_manager");
    CHECK_OK(qdsim_manager_destroy(m)); /* `a` is still live: destroy frees it */
    CHECK_FAILS(qdsim_manager_free(m, a), QDSIM_ERR_INVALID_HANDLE, "not a live qdsim_manager");
    CHECK_FAILS(qdsim_manager_free(other, a), QDSIM_ERR_NOT_OWNED, "not allocated by any qdsim");
    CHECK_OK(qdsim_manager_free(other, theirs));
    CHECK_OK(qdsim_manager_destroy(other));
    printf("test_misuse: ok\n");
    return 0;
}
