/* Leak reporting from C: the leak summary and report name what is still live, and destroying a
 * manager with live allocations frees them and prints how many and how large they were to
 * stderr (captured here through a temporary file). */
#include <stdint.h>
#include <unistd.h>

#include "check.h"

/* Destroys `m` with stderr redirected into `out` (NUL-terminated). */
static void destroy_capturing_stderr(qdsim_manager *m, char *out, size_t size) {
    FILE *capture = tmpfile();
    CHECK(capture != NULL);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    CHECK(saved >= 0 && dup2(fileno(capture), STDERR_FILENO) >= 0);
    CHECK_OK(qdsim_manager_destroy(m));
    fflush(stderr);
    CHECK(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(capture);
    size_t got = fread(out, 1, size - 1, capture);
    out[got] = '\0';
    fclose(capture);
}

int main(void) {
    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(NULL, &m));
    double *kept = NULL, *leaked = NULL;
    int64_t *indices = NULL;
    CHECK_OK(qdsim_manager_alloc_f64(m, 1000, "kept", &kept));
    CHECK_OK(qdsim_manager_alloc_f64(m, 500, "solver.work", &leaked));
    CHECK_OK(qdsim_manager_alloc_i64(m, 30, "csr.indptr", &indices));
    CHECK_OK(qdsim_manager_free(m, kept));

    qdsim_leak_summary leaks;
    CHECK_OK(qdsim_manager_leak_summary(m, &leaks));
    CHECK(leaks.count == 2 && leaks.bytes == 500 * 8 + 30 * 8);
    char *text = NULL;
    CHECK_OK(qdsim_manager_leak_report(m, &text));
    CHECK(strstr(text, "2 live allocation(s), 4240 bytes") != NULL);
    CHECK(strstr(text, "solver.work") != NULL && strstr(text, "csr.indptr") != NULL);
    CHECK(strstr(text, "kept") == NULL);
    char address[32];
    snprintf(address, sizeof address, "%#llx", (unsigned long long)(uintptr_t)leaked);
    CHECK(strstr(text, address) != NULL);
    CHECK_OK(qdsim_string_free(text));

    char printed[4096];
    destroy_capturing_stderr(m, printed, sizeof printed);
    fputs(printed, stdout);
    CHECK(strstr(printed, "2 live allocation(s), 4240 bytes") != NULL);
    CHECK(strstr(printed, "solver.work") != NULL && strstr(printed, address) != NULL);

    /* Reporting on by default, and it can be switched off. */
    qdsim_manager_config quiet;
    CHECK_OK(qdsim_manager_config_default(&quiet));
    CHECK(quiet.report_leaks_on_destroy == 1);
    quiet.report_leaks_on_destroy = 0;
    CHECK_OK(qdsim_manager_create(&quiet, &m));
    CHECK_OK(qdsim_manager_alloc_f64(m, 10, "silent", &leaked));
    destroy_capturing_stderr(m, printed, sizeof printed);
    CHECK(printed[0] == '\0');
    printf("test_leaks: ok\n");
    return 0;
}
