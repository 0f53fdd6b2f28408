/* The GPU C API (qdsim_gpu_*). Passes on every machine:
 *  - library built without the gpu feature: every call is QDSIM_ERR_NO_DEVICE with
 *    "built without the gpu feature";
 *  - built with it, no driver or device: QDSIM_ERR_NO_DEVICE with the reason, plus the NULL and
 *    invalid-handle checks; the device part prints "skipped: <reason>";
 *  - with a device: allocations, copies, limit, statistics, tags, pinned memory, leak report,
 *    and qdsim_gpu_solve_lowest on the 2D GaAs dot against qdsim_solve_lowest (the CPU). */
#include <math.h>
#include <stdint.h>

#include "check.h"

static const uint64_t SENTINEL = 0x5e5e5e5e;

static void without_feature(void) {
    const char *why = "built without the gpu feature";
    qdsim_gpu_pool *fake = (qdsim_gpu_pool *)(uintptr_t)0x1000;
    uint64_t address = SENTINEL;
    unsigned char buffer[8] = {0};
    qdsim_stats stats;
    qdsim_tag_stats tag;
    char *report = NULL;
    void *pinned = NULL;
    CHECK_FAILS(qdsim_gpu_pool_destroy(fake), QDSIM_ERR_NO_DEVICE, why);
    CHECK_FAILS(qdsim_gpu_alloc(fake, 64, "x", &address), QDSIM_ERR_NO_DEVICE, why);
    CHECK_FAILS(qdsim_gpu_free(fake, 0x10), QDSIM_ERR_NO_DEVICE, why);
    CHECK_FAILS(qdsim_gpu_copy_to_host(fake, buffer, 0x10, 8), QDSIM_ERR_NO_DEVICE, why);
    CHECK_FAILS(qdsim_gpu_copy_to_device(fake, 0x10, buffer, 8), QDSIM_ERR_NO_DEVICE, why);
    CHECK_FAILS(qdsim_gpu_pool_stats(fake, &stats), QDSIM_ERR_NO_DEVICE, why);
    CHECK_FAILS(qdsim_gpu_pool_pinned_stats(fake, &stats), QDSIM_ERR_NO_DEVICE, why);
    CHECK_FAILS(qdsim_gpu_pool_tag_stats(fake, "x", &tag), QDSIM_ERR_NO_DEVICE, why);
    CHECK_FAILS(qdsim_gpu_pool_leak_report(fake, &report), QDSIM_ERR_NO_DEVICE, why);
    CHECK_FAILS(qdsim_gpu_pinned_alloc(fake, 64, NULL, &pinned), QDSIM_ERR_NO_DEVICE, why);
    CHECK_FAILS(qdsim_gpu_pinned_free(fake, buffer), QDSIM_ERR_NO_DEVICE, why);
    qdsim_eigen_result *result = NULL;
    CHECK_FAILS(qdsim_gpu_solve_lowest(fake, NULL, NULL, QDSIM_SCALAR_AUTO, NULL, &result),
                QDSIM_ERR_NO_DEVICE, "qdsim_gpu_solve_lowest: built without the gpu feature");
    CHECK(address == SENTINEL && report == NULL && pinned == NULL && result == NULL);
}

static void argument_checks(void) {
    CHECK_FAILS(qdsim_gpu_device_count(NULL), QDSIM_ERR_NULL_ARGUMENT, "out is NULL");
    CHECK_FAILS(qdsim_gpu_pool_create(0, 0, NULL), QDSIM_ERR_NULL_ARGUMENT, "out is NULL");
    qdsim_gpu_pool *pool = NULL;
    CHECK_FAILS(qdsim_gpu_pool_create(-1, 0, &pool), QDSIM_ERR_INVALID_ARGUMENT, "device is -1");
    CHECK(pool == NULL);
    uint64_t address = SENTINEL;
    CHECK_FAILS(qdsim_gpu_alloc(NULL, 64, "x", &address), QDSIM_ERR_NULL_ARGUMENT, "pool is NULL");
    CHECK(address == SENTINEL);
    qdsim_stats stats;
    CHECK_FAILS(qdsim_gpu_pool_stats(NULL, &stats), QDSIM_ERR_NULL_ARGUMENT, "pool is NULL");
    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(NULL, &m));
    CHECK_FAILS(qdsim_gpu_alloc((qdsim_gpu_pool *)m, 64, "x", &address), QDSIM_ERR_INVALID_HANDLE,
                "is a qdsim_manager, not a qdsim_gpu_pool");
    CHECK_FAILS(qdsim_gpu_pool_destroy((qdsim_gpu_pool *)m), QDSIM_ERR_INVALID_HANDLE,
                "not a qdsim_gpu_pool");
    qdsim_eigen_result *result = NULL;
    CHECK_FAILS(qdsim_gpu_solve_lowest(NULL, m, NULL, QDSIM_SCALAR_AUTO, NULL, NULL),
                QDSIM_ERR_NULL_ARGUMENT, "out is NULL");
    CHECK_FAILS(qdsim_gpu_solve_lowest(NULL, m, NULL, QDSIM_SCALAR_AUTO, NULL, &result),
                QDSIM_ERR_NULL_ARGUMENT, "pool is NULL");
    CHECK_FAILS(qdsim_gpu_solve_lowest((qdsim_gpu_pool *)m, m, NULL, QDSIM_SCALAR_AUTO, NULL,
                                       &result),
                QDSIM_ERR_INVALID_HANDLE, "is a qdsim_manager, not a qdsim_gpu_pool");
    CHECK(result == NULL);
    CHECK_OK(qdsim_manager_destroy(m));
    qdsim_gpu_pool *fake = (qdsim_gpu_pool *)(uintptr_t)0x1000;
    CHECK_FAILS(qdsim_gpu_free(fake, 0x10), QDSIM_ERR_INVALID_HANDLE, "not a live qdsim_gpu_pool");
    char *report = NULL;
    CHECK_FAILS(qdsim_gpu_pool_leak_report(fake, &report), QDSIM_ERR_INVALID_HANDLE,
                "not a live qdsim_gpu_pool");
    CHECK(report == NULL);
}

static void on_a_device(void) {
    enum { N = 1 << 20 };
    qdsim_gpu_pool *pool = NULL;
    CHECK_OK(qdsim_gpu_pool_create(0, 16u << 20, &pool));
    uint64_t d = 0;
    CHECK_OK(qdsim_gpu_alloc(pool, N, "c.psi", &d));
    CHECK(d != 0);
    uint64_t refused = SENTINEL;
    CHECK_FAILS(qdsim_gpu_alloc(pool, 16u << 20, "c.big", &refused), QDSIM_ERR_LIMIT_EXCEEDED,
                "would exceed the memory limit of 16777216 bytes");
    CHECK(refused == SENTINEL);

    unsigned char *host = NULL;
    CHECK_OK(qdsim_gpu_pinned_alloc(pool, N, "c.staging", (void **)&host));
    for (int i = 0; i < N; i++) host[i] = (unsigned char)(i * 7 + i / 251);
    CHECK_OK(qdsim_gpu_copy_to_device(pool, d, host, N));
    unsigned char *back = malloc(N);
    CHECK(back != NULL);
    CHECK_OK(qdsim_gpu_copy_to_host(pool, back, d, N));
    CHECK(memcmp(host, back, N) == 0);
    CHECK_FAILS(qdsim_gpu_copy_to_host(pool, back, d + 1, N), QDSIM_ERR_INVALID_ARGUMENT,
                "run past the end");
    free(back);

    qdsim_stats stats;
    CHECK_OK(qdsim_gpu_pool_stats(pool, &stats));
    CHECK(stats.bytes_in_use == N && stats.live_allocations == 1 && stats.failed_allocations == 1);
    CHECK(stats.limit_bytes == 16u << 20 && stats.available_bytes == (16u << 20) - N);
    CHECK(stats.footprint_bytes >= N);
    CHECK_OK(qdsim_gpu_pool_pinned_stats(pool, &stats));
    CHECK(stats.bytes_in_use == N && stats.live_allocations == 1);
    qdsim_tag_stats tag;
    CHECK_OK(qdsim_gpu_pool_tag_stats(pool, "c.psi", &tag));
    CHECK(tag.bytes_in_use == N && strcmp(tag.name, "c.psi") == 0);
    CHECK_FAILS(qdsim_gpu_pool_tag_stats(pool, "nobody", &tag), QDSIM_ERR_NOT_FOUND, "nobody");

    char *report = NULL;
    CHECK_OK(qdsim_gpu_pool_leak_report(pool, &report));
    CHECK(strstr(report, "2 live allocation(s)") != NULL && strstr(report, "c.staging") != NULL);
    CHECK_OK(qdsim_string_free(report));

    CHECK_OK(qdsim_gpu_pinned_free(pool, host));
    CHECK_OK(qdsim_gpu_free(pool, d));
    CHECK_FAILS(qdsim_gpu_free(pool, d), QDSIM_ERR_NOT_OWNED, "freed already");
    CHECK_OK(qdsim_gpu_free(pool, 0));
    CHECK_OK(qdsim_gpu_pinned_free(pool, NULL));
    CHECK_OK(qdsim_gpu_pool_stats(pool, &stats));
    CHECK(stats.bytes_in_use == 0 && stats.peak_bytes_in_use == N && stats.free_count == 1);
    CHECK_OK(qdsim_gpu_pool_destroy(pool));
    CHECK_FAILS(qdsim_gpu_pool_destroy(pool), QDSIM_ERR_INVALID_HANDLE, "not a live qdsim_gpu_pool");
    printf("c_gpu: device part passed\n");
}

/* The 2D GaAs dot (hbar omega = 10 meV, 120 nm box, 63^2 points) on the GPU and on the CPU. */
static void solve_on_a_device(void) {
    enum { P = 63 };
    static double v[P * P];
    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(NULL, &m));
    qdsim_hamiltonian_desc d;
    CHECK_OK(qdsim_hamiltonian_desc_default(&d));
    const double l[2] = {120.0, 120.0};
    const size_t pts[2] = {P, P};
    CHECK_OK(qdsim_grid_box(2, l, pts, &d.grid));
    /* V = (hbar omega)^2 r^2 / (4 hbar^2/2m*), r from the box centre (docs/validation.md, units). */
    CHECK_OK(qdsim_parabolic_potential(&d.grid, QDSIM_MASS_GAAS, 0.010, v, P * P));
    d.potential = v;
    qdsim_eigen_options o;
    CHECK_OK(qdsim_eigen_options_default(&o));
    o.k = 6;
    qdsim_gpu_pool *pool = NULL;
    CHECK_OK(qdsim_gpu_pool_create(0, 0, &pool));
    qdsim_eigen_result *gpu = NULL, *cpu = NULL;
    CHECK_OK(qdsim_gpu_solve_lowest(pool, m, &d, QDSIM_SCALAR_AUTO, &o, &gpu));
    CHECK_OK(qdsim_solve_lowest(m, &d, QDSIM_SCALAR_AUTO, &o, &cpu));
    qdsim_eigen_info info;
    CHECK_OK(qdsim_eigen_result_info(gpu, &info));
    CHECK(info.count == 6 && info.converged == 6 && info.dim == P * P);
    CHECK(info.method == QDSIM_METHOD_LOBPCG && info.vector_scalar == QDSIM_SCALAR_REAL);
    double eg[6], ec[6];
    CHECK_OK(qdsim_eigen_result_values(gpu, eg));
    CHECK_OK(qdsim_eigen_result_values(cpu, ec));
    for (int i = 0; i < 6; ++i) {
        /* Both certified ||r|| <= 1e-6 max(|E|, s): eigenvalue errors ~||r||^2/gap << 1e-9 eV. */
        CHECK(fabs(eg[i] - ec[i]) < 1e-9);
    }
    /* 10, 20 (x2), 30 (x3) meV up to the discretisation error, which grows as h^2: <= 0.065 meV
     * for the 30 meV shell at 99^2 (docs/validation.md case 2), so <= 0.16 meV at 63^2. */
    CHECK(fabs(eg[0] * 1e3 - 10) < 0.3 && fabs(eg[2] * 1e3 - 20) < 0.3 && fabs(eg[5] * 1e3 - 30) < 0.3);
    const double *vec = NULL;
    size_t ld = 0;
    CHECK_OK(qdsim_eigen_result_vectors(gpu, (const void **)&vec, &ld));
    double norm = 0, overlap = 0;
    for (size_t i = 0; i < info.dim; ++i) {
        norm += vec[i] * vec[i];
        overlap += vec[i] * vec[i + ld];
    }
    CHECK(fabs(norm - 1) < 1e-10 && fabs(overlap) < 1e-10); /* orthonormal */
    o.method = QDSIM_METHOD_SHIFT_INVERT;
    qdsim_eigen_result *refused = NULL;
    CHECK_FAILS(qdsim_gpu_solve_lowest(pool, m, &d, QDSIM_SCALAR_AUTO, &o, &refused),
                QDSIM_ERR_INVALID_ARGUMENT, "shift-invert is not available on the GPU");
    CHECK(refused == NULL);
    CHECK_OK(qdsim_eigen_result_destroy(gpu));
    CHECK_OK(qdsim_eigen_result_destroy(cpu));
    qdsim_stats stats;
    CHECK_OK(qdsim_gpu_pool_stats(pool, &stats));
    CHECK(stats.live_allocations == 0 && stats.peak_bytes_in_use > 0);
    CHECK_OK(qdsim_gpu_pool_destroy(pool));
    CHECK_OK(qdsim_manager_destroy(m));
    printf("c_gpu: GPU solve agrees with the CPU: %.6f %.6f %.6f meV\n", eg[0] * 1e3, eg[1] * 1e3,
           eg[5] * 1e3);
}

int main(void) {
    CHECK_OK(qdsim_gpu_pool_destroy(NULL));
    int32_t count = -7;
    qdsim_status status = qdsim_gpu_device_count(&count);
    if (status == QDSIM_ERR_NO_DEVICE) {
        CHECK(count == -7);
        char reason[1024];
        snprintf(reason, sizeof reason, "%s", qdsim_last_error_message());
        qdsim_gpu_pool *pool = NULL;
        if (strstr(reason, "built without the gpu feature") != NULL) {
            CHECK(strcmp(reason, "qdsim_gpu_device_count: built without the gpu feature") == 0);
            CHECK_FAILS(qdsim_gpu_pool_create(0, 0, &pool), QDSIM_ERR_NO_DEVICE,
                        "qdsim_gpu_pool_create: built without the gpu feature");
            without_feature();
        } else {
            CHECK(strstr(reason, "qdsim_gpu_device_count: no usable CUDA device: ") == reason);
            CHECK_FAILS(qdsim_gpu_pool_create(0, 0, &pool), QDSIM_ERR_NO_DEVICE,
                        "qdsim_gpu_pool_create: no usable CUDA device: ");
            argument_checks();
        }
        CHECK(pool == NULL);
        printf("skipped: device part: %s\n", reason);
        return 0;
    }
    CHECK_OK(status);
    CHECK(count >= 1);
    printf("c_gpu: %d CUDA device(s)\n", count);
    argument_checks();
    on_a_device();
    solve_on_a_device();
    return 0;
}
