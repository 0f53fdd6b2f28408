/* The manager's debug mode (red zones) from C, and what valgrind's memcheck sees of pool blocks.
 *
 *   test_debug             the debug mode: a one-element overrun and an underrun of a pool block
 *                          are reported by qdsim_manager_check and qdsim_manager_free
 *                          (QDSIM_ERR_MEMORY_CORRUPTED, with the tag and the offset), the block
 *                          is freed all the same; QDSIM_MEM_DEBUG turns the mode on; a clean
 *                          block passes. Writes only inside the red zones the manager owns.
 *   test_debug overrun     under valgrind: writes one double past the end of a pool block from a
 *                          manager with the default configuration (red zones on by themselves
 *                          under valgrind); memcheck must report the invalid write.
 *   test_debug use-after-free   under valgrind: reads a pool block after freeing it.
 *
 * The last two modes are run only under valgrind, by CTest, which checks memcheck's output. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

static qdsim_manager *create(int32_t red_zones) {
    qdsim_manager_config config;
    CHECK_OK(qdsim_manager_config_default(&config));
    config.red_zones = red_zones;
    config.report_leaks_on_destroy = 0;
    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(&config, &m));
    return m;
}

static uint64_t live_blocks(const qdsim_manager *m) {
    qdsim_stats stats;
    CHECK_OK(qdsim_manager_stats(m, &stats));
    return stats.live_allocations;
}

/* A write one element past the end, found by the check and by the free, which still frees. */
static void overrun_is_reported(qdsim_manager *m) {
    double *psi = NULL;
    CHECK_OK(qdsim_manager_alloc_f64(m, 10, "psi", &psi));
    CHECK((uintptr_t)psi % 64 == 0);
    for (int i = 0; i < 10; ++i) psi[i] = i;
    CHECK_OK(qdsim_manager_check(m));
    psi[10] = 1.0; /* the bug: element 10 of a 10-element array (bytes 80..87) */
    CHECK_FAILS(qdsim_manager_check(m), QDSIM_ERR_MEMORY_CORRUPTED, "tag \"psi\"");
    CHECK_FAILS(qdsim_manager_check(m), QDSIM_ERR_MEMORY_CORRUPTED, "offset +80");
    CHECK_FAILS(qdsim_manager_free(m, psi), QDSIM_ERR_MEMORY_CORRUPTED, "0 bytes past its end");
    CHECK(live_blocks(m) == 0);
    CHECK_OK(qdsim_manager_check(m));
}

/* A write just before the start (index −1). */
static void underrun_is_reported(qdsim_manager *m) {
    int32_t *idx = NULL;
    CHECK_OK(qdsim_manager_alloc_i32(m, 7, "csr.indices", &idx));
    idx[-1] = 5;
    CHECK_FAILS(qdsim_manager_check(m), QDSIM_ERR_MEMORY_CORRUPTED, "4 bytes before its start");
    CHECK_FAILS(qdsim_manager_free(m, idx), QDSIM_ERR_MEMORY_CORRUPTED, "tag \"csr.indices\"");
    CHECK(live_blocks(m) == 0);
}

/* Blocks used within their bounds, of every size class and a large one, pass every check, and
 * a freed block's memory is reused cleanly. */
static void clean_blocks_pass(qdsim_manager *m) {
    size_t sizes[] = {1, 8, 63, 64, 65, 1000, 300000, 3u << 20};
    void *blocks[8];
    for (int i = 0; i < 8; ++i) {
        CHECK_OK(qdsim_manager_alloc_bytes(m, sizes[i], "clean", &blocks[i]));
        memset(blocks[i], 0xAB, sizes[i]);
    }
    CHECK_OK(qdsim_manager_check(m));
    for (int i = 0; i < 8; ++i) CHECK_OK(qdsim_manager_free(m, blocks[i]));
    CHECK(live_blocks(m) == 0);
    CHECK_OK(qdsim_manager_check(m));
}

int main(int argc, char **argv) {
    if (argc > 1) {
        /* Default configuration: under valgrind the red zones are on by themselves. */
        qdsim_manager *m = create(0);
        double *a = NULL;
        CHECK_OK(qdsim_manager_alloc_f64(m, 10, "valgrind", &a));
        for (int i = 0; i < 10; ++i) a[i] = i;
        int status = 0;
        if (strcmp(argv[1], "overrun") == 0) {
            a[10] = 1.0; /* memcheck: "Invalid write of size 8" */
            status = qdsim_manager_free(m, a) == QDSIM_ERR_MEMORY_CORRUPTED ? 0 : 1;
        } else if (strcmp(argv[1], "use-after-free") == 0) {
            CHECK_OK(qdsim_manager_free(m, a));
            volatile double seen = a[3]; /* memcheck: "Invalid read of size 8" */
            (void)seen;
        } else {
            fprintf(stderr, "unknown mode %s\n", argv[1]);
            status = 2;
        }
        CHECK_OK(qdsim_manager_destroy(m));
        return status;
    }

    qdsim_manager *m = create(1);
    qdsim_manager_config seen;
    CHECK_OK(qdsim_manager_get_config(m, &seen));
    CHECK(seen.red_zones == 1 && seen.thread_cache == 0);
    overrun_is_reported(m);
    underrun_is_reported(m);
    clean_blocks_pass(m);
    CHECK_OK(qdsim_manager_destroy(m));

    /* The environment variable turns the mode on for a manager that leaves it open, and a
     * configuration that says off wins over it. */
    CHECK(setenv("QDSIM_MEM_DEBUG", "red-zones", 1) == 0);
    m = create(0);
    overrun_is_reported(m);
    CHECK_OK(qdsim_manager_destroy(m));
    m = create(-1);
    CHECK_OK(qdsim_manager_get_config(m, &seen));
    CHECK(seen.red_zones == -1 && seen.thread_cache == 1);
    CHECK_OK(qdsim_manager_destroy(m));
    CHECK(setenv("QDSIM_MEM_DEBUG", "loud", 1) == 0);
    qdsim_manager_config config;
    CHECK_OK(qdsim_manager_config_default(&config));
    qdsim_manager *none = NULL;
    CHECK_FAILS(qdsim_manager_create(&config, &none), QDSIM_ERR_INVALID_ARGUMENT,
                "QDSIM_MEM_DEBUG=\"loud\"");
    CHECK(none == NULL);
    CHECK(unsetenv("QDSIM_MEM_DEBUG") == 0);
    printf("debug mode: overrun and underrun reported with tag and offset\n");
    return 0;
}
