/*
 * Small-object churn through the C API, against glibc and mimalloc in the same run.
 *
 * Each thread keeps 10 000 live objects of 8 B - 4 KiB (log-uniform sizes) and makes 2 million
 * steps of free-a-random-one + allocate-a-new-one (the first 8 bytes of each new block are
 * written). With 2 threads a quarter of the frees are handed to the other thread in batches of
 * 256 (cross-thread frees). The random sequences are drawn before the clock starts and are the
 * same for every allocator. Prints ns per alloc + free pair (per thread), the median of 5
 * interleaved runs, and mimalloc's time divided by each allocator's; then the per-call cost of
 * a trivial entry point (qdsim_manager_stats).
 *
 * mimalloc is loaded with dlopen (libmimalloc.so.2, Debian's libmimalloc2.0): when it is
 * missing its row says so and the ratios are against glibc instead.
 *
 * Build and run (not a test: timings are noisy on shared machines):
 *   cmake --build build --target bench_alloc_churn_c && build/bench_alloc_churn_c [steps]
 * Instructions per pair instead of time (exact, not noisy; valgrind's callgrind):
 *   benches/c/instructions.sh build
 */
#define _POSIX_C_SOURCE 200809L
#include "qdsim_mem.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { LIVE = 10000, RUNS = 5, BATCH = 256, MAX_THREADS = 2 };

typedef struct {
    const char *name;
    void *(*alloc)(void *ctx, size_t size);
    void (*release)(void *ctx, void *p);
    void *ctx;
    const char *missing; /* why it cannot run, or NULL */
} allocator;

static void *glibc_alloc(void *ctx, size_t size) {
    (void)ctx;
    return malloc(size);
}

static void glibc_free(void *ctx, void *p) {
    (void)ctx;
    free(p);
}

typedef void *(*mi_malloc_fn)(size_t);
typedef void (*mi_free_fn)(void *);
static mi_malloc_fn mi_malloc_ptr;
static mi_free_fn mi_free_ptr;

static void *mi_alloc(void *ctx, size_t size) {
    (void)ctx;
    return mi_malloc_ptr(size);
}

static void mi_release(void *ctx, void *p) {
    (void)ctx;
    mi_free_ptr(p);
}

static void *qdsim_alloc(void *ctx, size_t size) {
    void *p = NULL;
    if (qdsim_manager_alloc_bytes((qdsim_manager *)ctx, size, "bench.churn", &p) != QDSIM_OK) {
        fprintf(stderr, "qdsim_manager_alloc_bytes: %s\n", qdsim_last_error_message());
        exit(1);
    }
    return p;
}

static void qdsim_release(void *ctx, void *p) {
    if (qdsim_manager_free((qdsim_manager *)ctx, p) != QDSIM_OK) {
        fprintf(stderr, "qdsim_manager_free: %s\n", qdsim_last_error_message());
        exit(1);
    }
}

/* The per-thread random sequence: which slot to free, and the new block's size. */
typedef struct {
    uint32_t *slot;
    uint32_t *size;
    size_t steps;
} sequence;

static uint64_t next_random(uint64_t *state) {
    /* SplitMix64 */
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t log_uniform_size(uint64_t *state) {
    double u = (double)(next_random(state) >> 11) / 9007199254740992.0;
    return (uint32_t)(8.0 * pow(2.0, 9.0 * u)); /* 8 B .. 4 KiB */
}

static sequence make_sequence(size_t steps, uint64_t seed) {
    sequence s = {malloc(steps * sizeof(uint32_t)), malloc((steps + LIVE) * sizeof(uint32_t)), steps};
    if (s.slot == NULL || s.size == NULL) {
        fprintf(stderr, "no memory for the random sequence\n");
        exit(1);
    }
    uint64_t state = seed;
    for (size_t i = 0; i < steps; i++) {
        s.slot[i] = (uint32_t)(next_random(&state) % LIVE);
    }
    for (size_t i = 0; i < steps + LIVE; i++) {
        s.size[i] = log_uniform_size(&state);
    }
    return s;
}

/* Batches of pointers handed to a thread for freeing. */
typedef struct {
    pthread_mutex_t lock;
    void **items;
    size_t count, capacity;
} mailbox;

typedef struct {
    const allocator *a;
    const sequence *seq;
    int threads, index;
    mailbox *boxes; /* one per thread */
    pthread_barrier_t *start;
    double seconds;
} worker;

static void post(mailbox *box, void **batch, size_t n) {
    pthread_mutex_lock(&box->lock);
    if (box->count + n > box->capacity) {
        size_t cap = box->capacity ? box->capacity * 2 : 4096;
        while (cap < box->count + n) {
            cap *= 2;
        }
        void **grown = realloc(box->items, cap * sizeof(void *));
        if (grown == NULL) {
            fprintf(stderr, "no memory for a mailbox\n");
            exit(1);
        }
        box->items = grown;
        box->capacity = cap;
    }
    memcpy(box->items + box->count, batch, n * sizeof(void *));
    box->count += n;
    pthread_mutex_unlock(&box->lock);
}

/* Frees what other threads handed to this one. */
static void drain(const allocator *a, mailbox *box, void **scratch) {
    for (;;) {
        pthread_mutex_lock(&box->lock);
        size_t n = box->count < BATCH ? box->count : BATCH;
        box->count -= n;
        memcpy(scratch, box->items + box->count, n * sizeof(void *));
        pthread_mutex_unlock(&box->lock);
        if (n == 0) {
            return;
        }
        for (size_t i = 0; i < n; i++) {
            a->release(a->ctx, scratch[i]);
        }
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *churn(void *arg) {
    worker *w = arg;
    const allocator *a = w->a;
    const sequence *s = w->seq;
    void **live = malloc(LIVE * sizeof(void *));
    void *outbox[BATCH], *scratch[BATCH];
    size_t queued = 0;
    if (live == NULL) {
        fprintf(stderr, "no memory for the live table\n");
        exit(1);
    }
    for (size_t i = 0; i < LIVE; i++) {
        live[i] = a->alloc(a->ctx, s->size[s->steps + i]);
        memset(live[i], 1, 8);
    }
    mailbox *mine = &w->boxes[w->index];
    mailbox *other = &w->boxes[(w->index + 1) % w->threads];
    pthread_barrier_wait(w->start);
    double t0 = now();
    for (size_t i = 0; i < s->steps; i++) {
        uint32_t slot = s->slot[i];
        if (w->threads > 1 && (i & 3) == 0) {
            outbox[queued++] = live[slot];
            if (queued == BATCH) {
                post(other, outbox, queued);
                queued = 0;
                drain(a, mine, scratch);
            }
        } else {
            a->release(a->ctx, live[slot]);
        }
        live[slot] = a->alloc(a->ctx, s->size[i]);
        memset(live[slot], 1, 8);
    }
    w->seconds = now() - t0;
    if (queued > 0) {
        post(other, outbox, queued);
    }
    pthread_barrier_wait(w->start); /* every thread has posted its last batch */
    drain(a, mine, scratch);
    for (size_t i = 0; i < LIVE; i++) {
        a->release(a->ctx, live[i]);
    }
    free(live);
    return NULL;
}

/* ns per alloc + free pair per thread (the slowest thread's). */
static double run(const allocator *a, sequence *seqs, int threads) {
    pthread_t tid[MAX_THREADS];
    worker w[MAX_THREADS];
    mailbox boxes[MAX_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    for (int t = 0; t < threads; t++) {
        pthread_mutex_init(&boxes[t].lock, NULL);
        boxes[t].items = NULL;
        boxes[t].count = boxes[t].capacity = 0;
    }
    for (int t = 0; t < threads; t++) {
        w[t] = (worker){a, &seqs[t], threads, t, boxes, &start, 0.0};
        pthread_create(&tid[t], NULL, churn, &w[t]);
    }
    double worst = 0.0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        if (w[t].seconds > worst) {
            worst = w[t].seconds;
        }
    }
    for (int t = 0; t < threads; t++) {
        free(boxes[t].items);
        pthread_mutex_destroy(&boxes[t].lock);
    }
    pthread_barrier_destroy(&start);
    return 1e9 * worst / (double)seqs[0].steps;
}

static int compare(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv) {
    /* --only NAME PASSES STEPS: PASSES untimed 1-thread passes of the allocator whose name starts
     * with NAME (glibc, mimalloc, qdsim), for instruction counts under callgrind
     * (benches/c/instructions.sh). */
    const char *only = NULL;
    int passes = 0;
    if (argc > 1 && strcmp(argv[1], "--only") == 0) {
        if (argc != 5 || (passes = atoi(argv[3])) <= 0) {
            fprintf(stderr, "usage: %s --only glibc|mimalloc|qdsim passes steps\n", argv[0]);
            return 2;
        }
        only = argv[2];
        argv += 3;
        argc -= 3;
    }
    size_t steps = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 2000000;
    if (steps == 0) {
        fprintf(stderr, "usage: %s [steps per thread > 0]\n", argv[0]);
        return 2;
    }
    qdsim_manager_config config;
    qdsim_manager *manager = NULL;
    if (qdsim_manager_config_default(&config) != QDSIM_OK || qdsim_manager_create(&config, &manager) != QDSIM_OK) {
        fprintf(stderr, "qdsim_manager_create: %s\n", qdsim_last_error_message());
        return 1;
    }
    void *mi = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);
    const char *mi_missing = NULL;
    if (mi != NULL) {
        mi_malloc_ptr = (mi_malloc_fn)(uintptr_t)dlsym(mi, "mi_malloc");
        mi_free_ptr = (mi_free_fn)(uintptr_t)dlsym(mi, "mi_free");
    }
    if (mi_malloc_ptr == NULL || mi_free_ptr == NULL) {
        mi_missing = "skipped: libmimalloc.so.2 not found (apt-get install libmimalloc2.0)";
    }
    allocator all[] = {
        {"glibc malloc/free", glibc_alloc, glibc_free, NULL, NULL},
        {"mimalloc mi_malloc/mi_free", mi_alloc, mi_release, NULL, mi_missing},
        {"qdsim_manager_alloc_bytes/free", qdsim_alloc, qdsim_release, manager, NULL},
    };
    enum { COUNT = sizeof all / sizeof all[0] };
    sequence seqs[MAX_THREADS];
    for (int t = 0; t < MAX_THREADS; t++) {
        seqs[t] = make_sequence(steps, 0x5eed + (uint64_t)t);
    }
    if (only != NULL) {
        for (int i = 0; i < COUNT; i++) {
            if (strncmp(all[i].name, only, strlen(only)) == 0) {
                if (all[i].missing != NULL) {
                    printf("%s %s\n", all[i].name, all[i].missing);
                    return 3;
                }
                for (int p = 0; p < passes; p++) {
                    run(&all[i], seqs, 1);
                }
                qdsim_manager_destroy(manager);
                return 0;
            }
        }
        fprintf(stderr, "no allocator called %s (glibc, mimalloc, qdsim)\n", only);
        return 2;
    }
    double ns[2][COUNT][RUNS];
    for (int r = 0; r < RUNS; r++) {
        for (int threads = 1; threads <= MAX_THREADS; threads++) {
            for (int i = 0; i < COUNT; i++) {
                if (all[i].missing == NULL) {
                    ns[threads - 1][i][r] = run(&all[i], seqs, threads);
                }
            }
        }
    }
    double median[2][COUNT];
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < COUNT; i++) {
            qsort(ns[t][i], RUNS, sizeof(double), compare);
            median[t][i] = ns[t][i][RUNS / 2];
        }
    }
    int base = mi_missing == NULL ? 1 : 0;
    printf("small-object churn through the C API: %d live objects of 8 B - 4 KiB (log-uniform), %zu steps of "
           "free-a-random-one + allocate-a-new-one per thread; 2 threads hand a quarter of their frees to the "
           "other; median of %d\n",
           LIVE, steps, RUNS);
    printf("%-32s %12s %8s %20s %8s\n", "allocator", "1 thread ns", base ? "vs mi" : "vs glibc",
           "2 threads ns/thread", base ? "vs mi" : "vs glibc");
    for (int i = 0; i < COUNT; i++) {
        if (all[i].missing != NULL) {
            printf("%-32s %s\n", all[i].name, all[i].missing);
            continue;
        }
        printf("%-32s %12.1f %7.2fx %20.1f %7.2fx\n", all[i].name, median[0][i], median[0][base] / median[0][i],
               median[1][i], median[1][base] / median[1][i]);
    }
    printf("vs %s: its time divided by the allocator's (> 1: faster)\n", base ? "mi" : "glibc");

    /* Per-call cost of a trivial entry point. */
    qdsim_stats stats;
    enum { CALLS = 1000000 };
    double best = INFINITY;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        for (int i = 0; i < CALLS; i++) {
            if (qdsim_manager_stats(manager, &stats) != QDSIM_OK) {
                fprintf(stderr, "qdsim_manager_stats: %s\n", qdsim_last_error_message());
                return 1;
            }
        }
        double per = 1e9 * (now() - t0) / CALLS;
        best = per < best ? per : best;
    }
    printf("qdsim_manager_stats: %.1f ns per call (best of %d x %d calls)\n", best, RUNS, CALLS);

    for (int t = 0; t < MAX_THREADS; t++) {
        free(seqs[t].slot);
        free(seqs[t].size);
    }
    qdsim_manager_destroy(manager);
    if (mi != NULL) {
        dlclose(mi);
    }
    return 0;
}
