/* The profiler and phase tools from C: a sampling profiler with marks and exports, scoped
 * statistics, checkpoints and leaks_since, the event log and its replay; every bad input gets
 * a clear error and leaves the out-parameters untouched. Runs under valgrind too. */
#include <stdint.h>
#include <unistd.h>

#include "check.h"

/* File names unique to this process: the plain and the valgrind run share a directory and
 * may run at the same time. */
static const char *scratch(const char *name) {
    static char buffers[4][256];
    static int next = 0;
    char *buffer = buffers[next++ % 4];
    snprintf(buffer, sizeof buffers[0], "c_profiler_%ld_%s", (long)getpid(), name);
    return buffer;
}

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    return size;
}

static void profiler_with_marks_and_exports(qdsim_manager *m) {
    qdsim_profiler_config config;
    CHECK_OK(qdsim_profiler_config_default(&config));
    CHECK(config.interval_s == 0.1 && config.capacity == 10000 && config.max_marks == 10000);
    config.interval_s = 0.005;
    qdsim_profiler *p = NULL;
    CHECK_OK(qdsim_profiler_create(m, &config, &p));
    CHECK_OK(qdsim_profiler_start(p));
    CHECK_OK(qdsim_profiler_mark(p, "start"));
    double *h = NULL;
    CHECK_OK(qdsim_manager_alloc_f64(m, 1 << 20, "hamiltonian", &h));
    CHECK_OK(qdsim_profiler_mark(p, "assembly done"));
    usleep(20000);
    CHECK_OK(qdsim_manager_free(m, h));
    CHECK_OK(qdsim_profiler_mark(p, "freed"));
    CHECK_OK(qdsim_profiler_stop(p));

    qdsim_profile_summary s;
    CHECK_OK(qdsim_profiler_summary(p, &s));
    CHECK(s.marks == 3 && s.samples >= 3 && s.running == 0);
    CHECK(s.peak_bytes == 8u << 20 && s.exact_peak_bytes >= s.peak_bytes);

    CHECK_OK(qdsim_profiler_write(p, QDSIM_FORMAT_CSV, scratch("c_profile.csv")));
    CHECK_OK(qdsim_profiler_write(p, QDSIM_FORMAT_JSON, scratch("c_profile.json")));
    CHECK_OK(qdsim_profiler_write(p, QDSIM_FORMAT_SVG, scratch("c_profile.svg")));
    CHECK(file_size(scratch("c_profile.csv")) > 0 && file_size(scratch("c_profile.json")) > 0 && file_size(scratch("c_profile.svg")) > 0);
    char *svg = NULL;
    CHECK_OK(qdsim_profiler_export(p, QDSIM_FORMAT_SVG, &svg));
    CHECK(strncmp(svg, "<svg", 4) == 0 && strstr(svg, "assembly done") && strstr(svg, "hamiltonian"));
    CHECK((long)strlen(svg) == file_size(scratch("c_profile.svg")));
    CHECK_OK(qdsim_string_free(svg));
    remove(scratch("c_profile.csv"));
    remove(scratch("c_profile.json"));
    remove(scratch("c_profile.svg"));

    /* A sample on demand works while stopped and adds one. */
    qdsim_profile_summary before = s;
    CHECK_OK(qdsim_profiler_sample(p));
    CHECK_OK(qdsim_profiler_summary(p, &s));
    CHECK(s.samples == before.samples + 1 && s.running == 0);
    CHECK_FAILS(qdsim_profiler_sample(NULL), QDSIM_ERR_NULL_ARGUMENT, "profiler is NULL");
    CHECK_FAILS(qdsim_profiler_sample((qdsim_profiler *)m), QDSIM_ERR_INVALID_HANDLE, "not a qdsim_profiler");

    /* Bad input: clear errors, out-parameters untouched. */
    qdsim_profile_summary untouched = s;
    CHECK_FAILS(qdsim_profiler_summary(NULL, &s), QDSIM_ERR_NULL_ARGUMENT, "profiler is NULL");
    CHECK_FAILS(qdsim_profiler_summary((qdsim_profiler *)m, &s), QDSIM_ERR_INVALID_HANDLE, "not a qdsim_profiler");
    CHECK(untouched.samples == s.samples && untouched.peak_bytes == s.peak_bytes && untouched.running == s.running);
    CHECK_FAILS(qdsim_profiler_write(p, 7, "x.csv"), QDSIM_ERR_INVALID_ARGUMENT, "QDSIM_FORMAT_CSV");
    CHECK_FAILS(qdsim_profiler_write(p, QDSIM_FORMAT_CSV, NULL), QDSIM_ERR_NULL_ARGUMENT, "path is NULL");
    CHECK_FAILS(qdsim_profiler_write(p, QDSIM_FORMAT_CSV, "no/such/dir/p.csv"), QDSIM_ERR_IO, "no/such/dir/p.csv");
    CHECK_FAILS(qdsim_profiler_mark(p, ""), QDSIM_ERR_INVALID_ARGUMENT, "1 to 200 bytes");
    CHECK_FAILS(qdsim_profiler_mark(p, NULL), QDSIM_ERR_NULL_ARGUMENT, "label is NULL");
    char *text = (char *)0x1;
    CHECK_FAILS(qdsim_profiler_export(p, -1, &text), QDSIM_ERR_INVALID_ARGUMENT, "format -1");
    CHECK(text == (char *)0x1);
    qdsim_profiler *q = (qdsim_profiler *)0x1;
    config.interval_s = 0.0;
    CHECK_FAILS(qdsim_profiler_create(m, &config, &q), QDSIM_ERR_INVALID_ARGUMENT, "interval_s");
    config.interval_s = 0.01;
    config.capacity = 1;
    CHECK_FAILS(qdsim_profiler_create(m, &config, &q), QDSIM_ERR_INVALID_ARGUMENT, "capacity 1");
    CHECK(q == (qdsim_profiler *)0x1);

    CHECK_OK(qdsim_profiler_destroy(p));
    CHECK_FAILS(qdsim_profiler_destroy(p), QDSIM_ERR_INVALID_HANDLE, "not a live qdsim_profiler");
    CHECK_OK(qdsim_profiler_destroy(NULL));
}

static void scopes_and_leaks(qdsim_manager *m) {
    CHECK_OK(qdsim_manager_push_scope(m, "assembly"));
    double *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(qdsim_manager_alloc_f64(m, 1000, "a", &a));
    uint64_t checkpoint = 0;
    CHECK_OK(qdsim_manager_checkpoint(m, &checkpoint));
    CHECK_OK(qdsim_manager_alloc_f64(m, 2000, "b", &b));
    CHECK_OK(qdsim_manager_alloc_f64(m, 300000, "c", &c));
    CHECK_OK(qdsim_manager_free(m, b));
    qdsim_scope_stats scope;
    CHECK_OK(qdsim_manager_pop_scope(m, &scope));
    CHECK(strcmp(scope.name, "assembly") == 0);
    CHECK(scope.allocations == 3 && scope.frees == 1);
    CHECK(scope.bytes_allocated == 8 * (1000 + 2000 + 300000));
    CHECK(scope.net_bytes == 8 * (1000 + 300000));
    CHECK(scope.peak_bytes_in_use == 8 * (1000 + 2000 + 300000));

    qdsim_leak_check leaks;
    char *report = NULL;
    CHECK_OK(qdsim_manager_leaks_since(m, checkpoint, 1 << 20, &leaks, &report));
    CHECK(leaks.count == 1 && leaks.bytes == 8 * 300000 && leaks.tags == 1 && leaks.is_leak == 1);
    CHECK(strstr(report, "c ") != NULL && strstr(report, "potential leak") != NULL);
    CHECK_OK(qdsim_string_free(report));
    CHECK_OK(qdsim_manager_leaks_since(m, checkpoint, 1 << 30, &leaks, NULL));
    CHECK(leaks.count == 1 && leaks.is_leak == 0);

    qdsim_leak_check untouched = leaks;
    CHECK_FAILS(qdsim_manager_leaks_since(m, checkpoint + 1000, 0, &leaks, NULL), QDSIM_ERR_INVALID_ARGUMENT, "future");
    CHECK(untouched.count == leaks.count && untouched.bytes == leaks.bytes && untouched.is_leak == leaks.is_leak);
    qdsim_scope_stats none = scope;
    CHECK_FAILS(qdsim_manager_pop_scope(m, &scope), QDSIM_ERR_INVALID_ARGUMENT, "push_scope first");
    CHECK(memcmp(&none, &scope, sizeof scope) == 0);
    CHECK_FAILS(qdsim_manager_push_scope(m, ""), QDSIM_ERR_INVALID_ARGUMENT, "scope name");
    CHECK_FAILS(qdsim_manager_push_scope(m, NULL), QDSIM_ERR_NULL_ARGUMENT, "name is NULL");
    CHECK_OK(qdsim_manager_free(m, a));
    CHECK_OK(qdsim_manager_free(m, c));
}

static void event_log_and_replay(void) {
    qdsim_manager_config config;
    CHECK_OK(qdsim_manager_config_default(&config));
    config.report_leaks_on_destroy = 0;
    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(&config, &m));
    CHECK_OK(qdsim_manager_set_event_log(m, 1));
    void *live[64] = {0};
    for (int i = 0; i < 400; i++) {
        int slot = (i * 37) % 64;
        if (live[slot]) {
            CHECK_OK(qdsim_manager_free(m, live[slot]));
            live[slot] = NULL;
        } else {
            CHECK_OK(qdsim_manager_alloc(m, i % QDSIM_POOL_COUNT, 1 + (size_t)i * 997 % 50000, 0, i % 3 ? "work" : NULL, &live[slot]));
        }
    }
    CHECK_OK(qdsim_manager_write_event_log(m, scratch("c_events.csv")));
    qdsim_stats stats;
    CHECK_OK(qdsim_manager_stats(m, &stats));
    qdsim_replay_summary replayed;
    char *report = NULL;
    CHECK_OK(qdsim_replay_event_log(scratch("c_events.csv"), &replayed, &report));
    CHECK(replayed.allocations == stats.allocation_count && replayed.frees == stats.free_count);
    CHECK(replayed.peak_bytes_in_use == stats.peak_bytes_in_use);
    CHECK(replayed.live_at_end == stats.live_allocations);
    CHECK(strstr(report, "size") != NULL);
    CHECK_OK(qdsim_string_free(report));

    FILE *f = fopen(scratch("c_events_bad.csv"), "w");
    fputs("seq,op,id,bytes,pool,tag\n0,alloc,0,8,f64,\"\"\n1,free,5,8,f64,\"\"\n", f);
    fclose(f);
    qdsim_replay_summary untouched = replayed;
    CHECK_FAILS(qdsim_replay_event_log(scratch("c_events_bad.csv"), &replayed, NULL), QDSIM_ERR_CORRUPT_FILE, "free of id 5");
    CHECK_FAILS(qdsim_replay_event_log("no_such_log.csv", &replayed, NULL), QDSIM_ERR_IO, "no_such_log.csv");
    CHECK(memcmp(&untouched, &replayed, sizeof replayed) == 0);
    remove(scratch("c_events.csv"));
    remove(scratch("c_events_bad.csv"));
    CHECK_OK(qdsim_manager_destroy(m));
}

static void manager_destroyed_under_a_running_profiler(void) {
    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(NULL, &m));
    qdsim_profiler_config config;
    CHECK_OK(qdsim_profiler_config_default(&config));
    config.interval_s = 0.001;
    qdsim_profiler *p = NULL;
    CHECK_OK(qdsim_profiler_create(m, &config, &p));
    CHECK_OK(qdsim_profiler_start(p));
    usleep(5000);
    CHECK_OK(qdsim_manager_destroy(m));
    usleep(5000);
    CHECK_OK(qdsim_profiler_mark(p, "after the manager"));
    qdsim_profile_summary s;
    CHECK_OK(qdsim_profiler_summary(p, &s));
    CHECK(s.running == 1 && s.marks == 1);
    CHECK_OK(qdsim_profiler_destroy(p)); /* destroy while running */
}

int main(void) {
    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(NULL, &m));
    profiler_with_marks_and_exports(m);
    scopes_and_leaks(m);
    CHECK_OK(qdsim_manager_destroy(m));
    event_log_and_replay();
    manager_destroyed_under_a_running_profiler();
    printf("profiler: ok\n");
    return 0;
}
