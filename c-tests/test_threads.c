/* Several pthreads allocate and free concurrently from one manager, each block filled with an
 * owner-specific canary verified before it is freed; half of each thread's blocks are freed by
 * the next thread. Small blocks go through the per-thread caches; each thread exits with freed
 * blocks still cached and a few live ones that the main thread frees after the join. Statistics
 * are exact at the end, trim hands every cache and slab back, and nothing leaks (valgrind). */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

enum { THREADS = 4, ROUNDS = 40, PER_ROUND = 32, LEFT = 8 };

typedef struct {
    qdsim_manager *m;
    int id;
    uint64_t *left[LEFT];
    uint64_t *blocks[ROUNDS][PER_ROUND];
    size_t words[ROUNDS][PER_ROUND];
} worker;

static worker workers[THREADS];
static pthread_barrier_t barrier;

static size_t element_size(qdsim_pool pool) {
    switch (pool) {
        case QDSIM_POOL_COMPLEX: return sizeof(qdsim_complex);
        case QDSIM_POOL_I32: return sizeof(int32_t);
        case QDSIM_POOL_BYTES: return 1;
        default: return 8;
    }
}

static uint64_t canary(int thread, int round, int i) {
    return ((uint64_t)thread << 48) ^ ((uint64_t)round << 24) ^ (uint64_t)i ^ 0xC0FFEEull;
}

static void verify_and_free(qdsim_manager *m, const worker *owner, int round, int i) {
    uint64_t *b = owner->blocks[round][i];
    for (size_t w = 0; w < owner->words[round][i]; ++w) CHECK(b[w] == (canary(owner->id, round, i) ^ w));
    CHECK_OK(qdsim_manager_free(m, b));
}

static void *run(void *arg) {
    worker *self = arg;
    const worker *prev = &workers[(self->id + THREADS - 1) % THREADS];
    uint32_t rng = 2463534242u + (uint32_t)self->id;
    for (int r = 0; r < ROUNDS; ++r) {
        for (int i = 0; i < PER_ROUND; ++i) {
            rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
            size_t words = 1 + rng % 512;
            qdsim_pool pool = (qdsim_pool)(rng % QDSIM_POOL_COUNT);
            void *p = NULL;
            size_t count = (words * 8 + element_size(pool) - 1) / element_size(pool);
            CHECK_OK(qdsim_manager_alloc(self->m, pool, count, 0, "threads", &p));
            uint64_t *b = p;
            for (size_t w = 0; w < words; ++w) b[w] = canary(self->id, r, i) ^ w;
            self->blocks[r][i] = b;
            self->words[r][i] = words;
        }
        /* Everyone has written round r: free our odd blocks and the previous thread's even ones. */
        pthread_barrier_wait(&barrier);
        for (int i = 1; i < PER_ROUND; i += 2) verify_and_free(self->m, self, r, i);
        for (int i = 0; i < PER_ROUND; i += 2) verify_and_free(self->m, prev, r, i);
        pthread_barrier_wait(&barrier);
    }
    /* Exit with live blocks (freed by the main thread) and freed ones in this thread's cache. */
    for (int i = 0; i < LEFT; ++i) {
        void *p = NULL;
        CHECK_OK(qdsim_manager_alloc(self->m, QDSIM_POOL_F64, 16, 0, "left", &p));
        ((uint64_t *)p)[15] = canary(self->id, ROUNDS, i);
        self->left[i] = p;
    }
    return NULL;
}

int main(void) {
    qdsim_manager *m = NULL;
    qdsim_manager_config config;
    CHECK_OK(qdsim_manager_config_default(&config));
    config.initial_pool_size = 1 << 20;
    config.red_zones = -1; /* this test is about the thread cache, which red zones turn off */
    CHECK_OK(qdsim_manager_create(&config, &m));
    pthread_barrier_init(&barrier, NULL, THREADS);
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; ++t) {
        workers[t].m = m;
        workers[t].id = t;
        CHECK(pthread_create(&threads[t], NULL, run, &workers[t]) == 0);
    }
    for (int t = 0; t < THREADS; ++t) CHECK(pthread_join(threads[t], NULL) == 0);
    pthread_barrier_destroy(&barrier);

    qdsim_stats s;
    CHECK_OK(qdsim_manager_stats(m, &s));
    const uint64_t blocks = (uint64_t)THREADS * ROUNDS * PER_ROUND;
    const uint64_t left = (uint64_t)THREADS * LEFT;
    CHECK(s.allocation_count == blocks + left && s.free_count == blocks);
    CHECK(s.live_allocations == left && s.bytes_in_use == left * 16 * sizeof(double));
    CHECK(s.cached_bytes > 0);
    CHECK_OK(qdsim_manager_check(m));
    for (int t = 0; t < THREADS; ++t)
        for (int i = 0; i < LEFT; ++i) {
            CHECK(workers[t].left[i][15] == canary(t, ROUNDS, i));
            CHECK_OK(qdsim_manager_free(m, workers[t].left[i]));
        }
    CHECK_OK(qdsim_manager_stats(m, &s));
    CHECK(s.allocation_count == blocks + left && s.free_count == blocks + left);
    CHECK(s.bytes_in_use == 0 && s.live_allocations == 0);
    /* Every block is free: trim returns the slabs, then the chunks. */
    uint64_t released = 0;
    CHECK_OK(qdsim_manager_trim(m, &released));
    CHECK_OK(qdsim_manager_stats(m, &s));
    CHECK(released > 0 && s.footprint_bytes == 0 && s.cached_bytes == 0);
    qdsim_tag_stats tag;
    CHECK_OK(qdsim_manager_tag_stats(m, "threads", &tag));
    CHECK(tag.allocation_count == blocks && tag.live_allocations == 0);
    CHECK_OK(qdsim_manager_check(m));
    CHECK_OK(qdsim_manager_destroy(m));
    printf("test_threads: ok (%llu blocks)\n", (unsigned long long)blocks);
    return 0;
}
