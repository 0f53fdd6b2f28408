/* The C API's normal use: create a manager, allocate tagged typed arrays, read statistics per
 * pool and per tag, read the reports, trim, and destroy. */
#include <stdint.h>

#include "check.h"

int main(void) {
    CHECK(qdsim_abi_version() == QDSIM_MEM_ABI_VERSION);
    CHECK(strlen(qdsim_version_string()) > 0);
    CHECK(strcmp(qdsim_status_string(QDSIM_ERR_LIMIT_EXCEEDED), "QDSIM_ERR_LIMIT_EXCEEDED") == 0);
    CHECK(strcmp(qdsim_status_string(12345), "QDSIM_UNKNOWN_STATUS") == 0);
    CHECK(strcmp(qdsim_pool_name(QDSIM_POOL_COMPLEX), "complex128") == 0);
    CHECK(strcmp(qdsim_pool_name(99), "unknown") == 0);

    qdsim_manager_config config;
    CHECK_OK(qdsim_manager_config_default(&config));
    CHECK(config.initial_pool_size == QDSIM_DEFAULT_INITIAL_POOL_SIZE);
    CHECK(config.alignment == QDSIM_MIN_ALIGNMENT);
    CHECK(config.memory_limit == 0);
    config.initial_pool_size = 1 << 20;

    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(&config, &m));
    CHECK(m != NULL);

    const size_t n = 1000;
    double *v = NULL;
    qdsim_complex *psi = NULL;
    int32_t *idx = NULL;
    int64_t *ptr = NULL;
    void *raw = NULL;
    CHECK_OK(qdsim_manager_alloc_f64(m, n, "potential", &v));
    CHECK_OK(qdsim_manager_alloc_complex(m, n, "psi", &psi));
    CHECK_OK(qdsim_manager_alloc_i32(m, n, "hamiltonian.indices", &idx));
    CHECK_OK(qdsim_manager_alloc_i64(m, n + 1, "hamiltonian.indptr", &ptr));
    CHECK_OK(qdsim_manager_alloc_bytes(m, 100, NULL, &raw));
    CHECK(((uintptr_t)v | (uintptr_t)psi | (uintptr_t)idx | (uintptr_t)ptr | (uintptr_t)raw) % 64 == 0);
    for (size_t i = 0; i < n; ++i) {
        v[i] = (double)i;
        psi[i].re = (double)i;
        psi[i].im = -(double)i;
        idx[i] = (int32_t)i;
        ptr[i] = (int64_t)i;
    }
    memset(raw, 0xAB, 100);

    /* Explicit alignment and zeroing. */
    void *aligned = NULL;
    CHECK_OK(qdsim_manager_alloc_zeroed(m, QDSIM_POOL_F64, 333, 4096, "aligned", &aligned));
    CHECK((uintptr_t)aligned % 4096 == 0);
    for (size_t i = 0; i < 333; ++i) CHECK(((double *)aligned)[i] == 0.0);

    qdsim_stats s;
    CHECK_OK(qdsim_manager_stats(m, &s));
    const uint64_t expect = n * 8 + n * 16 + n * 4 + (n + 1) * 8 + 100 + 333 * 8;
    CHECK(s.bytes_in_use == expect);
    CHECK(s.peak_bytes_in_use == expect);
    CHECK(s.live_allocations == 6);
    CHECK(s.allocation_count == 6);
    CHECK(s.fragmentation >= 0.0 && s.fragmentation <= 1.0);
    CHECK(s.footprint_bytes >= s.bytes_in_use + s.free_bytes);
    CHECK(s.available_bytes > 0);

    qdsim_stats pool;
    CHECK_OK(qdsim_manager_pool_stats(m, QDSIM_POOL_COMPLEX, &pool));
    CHECK(pool.bytes_in_use == n * 16);
    CHECK(pool.chunk_count == 1);

    qdsim_tag_stats tag;
    CHECK_OK(qdsim_manager_tag_stats(m, "psi", &tag));
    CHECK(strcmp(tag.name, "psi") == 0);
    CHECK(tag.bytes_in_use == n * 16 && tag.live_allocations == 1);
    CHECK_OK(qdsim_manager_tag_stats(m, NULL, &tag)); /* untagged */
    CHECK(tag.bytes_in_use == 100);

    size_t count = 0, written = 0;
    CHECK_OK(qdsim_manager_tag_count(m, &count));
    CHECK(count == 6);
    qdsim_tag_stats tags[6];
    CHECK_OK(qdsim_manager_tag_list(m, tags, 6, &written));
    CHECK(written == 6);
    CHECK(strcmp(tags[0].name, "psi") == 0); /* most bytes in use first */

    qdsim_allocation_info info;
    CHECK_OK(qdsim_manager_find(m, idx, &info));
    CHECK(info.address == idx && info.size == n * 4 && info.pool == QDSIM_POOL_I32);
    CHECK(strcmp(info.tag, "hamiltonian.indices") == 0 && info.direct == 0);

    char *report = NULL;
    CHECK_OK(qdsim_manager_allocation_report(m, &report));
    CHECK(strstr(report, "allocation report") != NULL);
    CHECK(strstr(report, "hamiltonian.indptr") != NULL);
    printf("%s", report);
    CHECK_OK(qdsim_string_free(report));

    qdsim_leak_summary leaks;
    CHECK_OK(qdsim_manager_leak_summary(m, &leaks));
    CHECK(leaks.count == 6 && leaks.bytes == expect);
    char *leak_text = NULL;
    CHECK_OK(qdsim_manager_leak_report(m, &leak_text));
    CHECK(strstr(leak_text, "6 live allocation(s)") != NULL);
    CHECK_OK(qdsim_string_free(leak_text));

    for (size_t i = 0; i < n; ++i) {
        CHECK(v[i] == (double)i && psi[i].im == -(double)i && idx[i] == (int32_t)i);
    }
    CHECK_OK(qdsim_manager_free(m, v));
    CHECK_OK(qdsim_manager_free(m, psi));
    CHECK_OK(qdsim_manager_free(m, idx));
    CHECK_OK(qdsim_manager_free(m, ptr));
    CHECK_OK(qdsim_manager_free(m, raw));
    CHECK_OK(qdsim_manager_free(m, aligned));
    CHECK_OK(qdsim_manager_free(m, NULL)); /* like free(NULL) */

    CHECK_OK(qdsim_manager_stats(m, &s));
    CHECK(s.bytes_in_use == 0 && s.live_allocations == 0 && s.free_count == 6);
    CHECK(s.peak_bytes_in_use == expect);
    CHECK_OK(qdsim_manager_check(m));

    uint64_t released = 0;
    CHECK_OK(qdsim_manager_trim(m, &released));
    CHECK(released == s.footprint_bytes);
    CHECK_OK(qdsim_manager_trim(m, NULL));
    CHECK_OK(qdsim_manager_stats(m, &s));
    CHECK(s.footprint_bytes == 0 && s.chunk_count == 0);

    CHECK_OK(qdsim_manager_destroy(m));
    CHECK_OK(qdsim_manager_destroy(NULL));

    /* NULL config means defaults. */
    CHECK_OK(qdsim_manager_create(NULL, &m));
    CHECK_OK(qdsim_manager_destroy(m));
    printf("test_basic: ok\n");
    return 0;
}
