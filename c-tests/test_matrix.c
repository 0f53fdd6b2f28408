/* Dense matrices and the CSR builder from C: layout (ld, alignment), blocked transpose and
 * adjoint, duplicate summation, SpMV against a hand computation, index/scalar reporting, and
 * bad input (shapes, scalar types, out-of-range entries, non-finite values, wrong handles,
 * objects outliving their manager). */
#include <math.h>
#include <stdint.h>

#include "check.h"

static void dense(qdsim_manager *m) {
    qdsim_matrix *a = NULL, *t = NULL, *z = NULL, *zh = NULL;
    CHECK_OK(qdsim_matrix_create(m, QDSIM_SCALAR_REAL, 5, 3, "dense.a", &a));
    qdsim_matrix_info info;
    CHECK_OK(qdsim_matrix_get_info(a, &info));
    CHECK(info.rows == 5 && info.cols == 3 && info.ld == 8 && info.scalar == QDSIM_SCALAR_REAL);
    CHECK(info.bytes == 8 * 3 * sizeof(double));
    double *ad = NULL;
    CHECK_OK(qdsim_matrix_data(a, (void **)&ad));
    CHECK((uintptr_t)ad % 64 == 0 && (uintptr_t)(ad + info.ld) % 64 == 0);
    for (size_t j = 0; j < 3; ++j)
        for (size_t i = 0; i < 5; ++i) CHECK(ad[i + j * info.ld] == 0.0); /* created zeroed */
    for (size_t j = 0; j < 3; ++j)
        for (size_t i = 0; i < 5; ++i) ad[i + j * info.ld] = 10.0 * i + j;
    CHECK_OK(qdsim_matrix_create(m, QDSIM_SCALAR_REAL, 3, 5, "dense.t", &t));
    CHECK_OK(qdsim_matrix_transpose(a, t));
    double *td = NULL;
    qdsim_matrix_info tinfo;
    CHECK_OK(qdsim_matrix_data(t, (void **)&td));
    CHECK_OK(qdsim_matrix_get_info(t, &tinfo));
    for (size_t j = 0; j < 5; ++j)
        for (size_t i = 0; i < 3; ++i) CHECK(td[i + j * tinfo.ld] == 10.0 * j + i);

    CHECK_OK(qdsim_matrix_create(m, QDSIM_SCALAR_COMPLEX, 40, 37, "dense.z", &z));
    CHECK_OK(qdsim_matrix_create(m, QDSIM_SCALAR_COMPLEX, 37, 40, "dense.zh", &zh));
    qdsim_complex *zd = NULL, *zhd = NULL;
    qdsim_matrix_info zi, zhi;
    CHECK_OK(qdsim_matrix_data(z, (void **)&zd));
    CHECK_OK(qdsim_matrix_get_info(z, &zi));
    CHECK(zi.ld == 40); /* 40 complex = 640 bytes, already a multiple of 64 */
    for (size_t j = 0; j < 37; ++j)
        for (size_t i = 0; i < 40; ++i) zd[i + j * zi.ld] = (qdsim_complex){(double)i, (double)j + 0.5};
    CHECK_OK(qdsim_matrix_adjoint(z, zh));
    CHECK_OK(qdsim_matrix_data(zh, (void **)&zhd));
    CHECK_OK(qdsim_matrix_get_info(zh, &zhi));
    for (size_t j = 0; j < 40; ++j)
        for (size_t i = 0; i < 37; ++i) {
            CHECK(zhd[i + j * zhi.ld].re == (double)j);
            CHECK(zhd[i + j * zhi.ld].im == -((double)i + 0.5));
        }

    /* bad input */
    qdsim_matrix *never = (qdsim_matrix *)0x5e5e;
    CHECK_FAILS(qdsim_matrix_create(m, 7, 2, 2, "x", &never), QDSIM_ERR_INVALID_ARGUMENT, "scalar 7");
    CHECK_FAILS(qdsim_matrix_create(m, QDSIM_SCALAR_AUTO, 2, 2, "x", &never), QDSIM_ERR_INVALID_ARGUMENT, "scalar 2");
    CHECK_FAILS(qdsim_matrix_create(m, QDSIM_SCALAR_REAL, SIZE_MAX / 2, 4, "x", &never),
                QDSIM_ERR_INVALID_ARGUMENT, "does not fit");
    CHECK(never == (qdsim_matrix *)0x5e5e);
    CHECK_FAILS(qdsim_matrix_transpose(a, a), QDSIM_ERR_INVALID_ARGUMENT, "same matrix");
    CHECK_FAILS(qdsim_matrix_copy(a, t), QDSIM_ERR_INVALID_ARGUMENT, "must be 5×3");
    CHECK_FAILS(qdsim_matrix_transpose(a, zh), QDSIM_ERR_INVALID_ARGUMENT, "source is real");
    CHECK_FAILS(qdsim_matrix_get_info(NULL, &info), QDSIM_ERR_NULL_ARGUMENT, "matrix is NULL");
    CHECK_FAILS(qdsim_matrix_data(a, NULL), QDSIM_ERR_NULL_ARGUMENT, "data is NULL");
    CHECK_FAILS(qdsim_matrix_get_info((qdsim_matrix *)m, &info), QDSIM_ERR_INVALID_HANDLE,
                "is a qdsim_manager, not a qdsim_matrix");

    CHECK_OK(qdsim_matrix_destroy(a));
    CHECK_FAILS(qdsim_matrix_destroy(a), QDSIM_ERR_INVALID_HANDLE, "not a live qdsim_matrix");
    CHECK_OK(qdsim_matrix_destroy(NULL));
    CHECK_OK(qdsim_matrix_destroy(t));
    CHECK_OK(qdsim_matrix_destroy(z));
    CHECK_OK(qdsim_matrix_destroy(zh));
}

static void sparse(qdsim_manager *m) {
    /* A = [[4, -1, 0], [-1, 4, -1], [0, -1, 4]] entered out of order with a split duplicate. */
    qdsim_csr_builder *b = NULL;
    CHECK_OK(qdsim_csr_builder_create(m, QDSIM_SCALAR_REAL, 3, 3, "tri", &b));
    CHECK_OK(qdsim_csr_builder_add(b, 2, 2, 4.0));
    CHECK_OK(qdsim_csr_builder_add(b, 0, 1, -1.0));
    CHECK_OK(qdsim_csr_builder_add(b, 1, 1, 1.5));
    CHECK_OK(qdsim_csr_builder_add(b, 1, 0, -1.0));
    CHECK_OK(qdsim_csr_builder_add(b, 0, 0, 4.0));
    CHECK_OK(qdsim_csr_builder_add(b, 1, 1, 2.5));
    CHECK_OK(qdsim_csr_builder_add(b, 2, 1, -1.0));
    CHECK_OK(qdsim_csr_builder_add_complex(b, 1, 2, (qdsim_complex){-1.0, 0.0}));
    CHECK_FAILS(qdsim_csr_builder_add(b, 3, 0, 1.0), QDSIM_ERR_INVALID_ARGUMENT, "entry (3, 0) is outside the 3×3");
    CHECK_FAILS(qdsim_csr_builder_add(b, 0, 5, 1.0), QDSIM_ERR_INVALID_ARGUMENT, "outside");
    CHECK_FAILS(qdsim_csr_builder_add(b, 0, 0, NAN), QDSIM_ERR_INVALID_ARGUMENT, "non-finite");
    CHECK_FAILS(qdsim_csr_builder_add(b, 0, 0, INFINITY), QDSIM_ERR_INVALID_ARGUMENT, "non-finite");
    CHECK_FAILS(qdsim_csr_builder_add_complex(b, 0, 0, (qdsim_complex){1.0, 2.0}), QDSIM_ERR_INVALID_ARGUMENT,
                "builder is real");
    qdsim_csr *a = NULL;
    CHECK_OK(qdsim_csr_builder_finalize(b, &a));
    qdsim_csr_info info;
    CHECK_OK(qdsim_csr_get_info(a, &info));
    CHECK(info.rows == 3 && info.cols == 3 && info.nnz == 7 && info.index_bits == 32);
    CHECK(info.scalar == QDSIM_SCALAR_REAL);
    CHECK(info.bytes == 7 * 8 + 7 * 4 + 4 * 4);
    const int32_t *rp, *ci;
    const double *v;
    CHECK_OK(qdsim_csr_arrays(a, (const void **)&rp, (const void **)&ci, (const void **)&v));
    const int32_t rp_expect[4] = {0, 2, 5, 7}, ci_expect[7] = {0, 1, 0, 1, 2, 1, 2};
    const double v_expect[7] = {4, -1, -1, 4, -1, -1, 4};
    for (int k = 0; k < 4; ++k) CHECK(rp[k] == rp_expect[k]);
    for (int k = 0; k < 7; ++k) CHECK(ci[k] == ci_expect[k] && v[k] == v_expect[k]);

    double x[3] = {1, 2, 3}, y[3] = {100, 100, 100};
    CHECK_OK(qdsim_csr_spmv(a, 2.0, x, 0.5, y)); /* y = 2·A·x + 0.5·y */
    CHECK(y[0] == 2 * 2 + 50 && y[1] == 2 * 4 + 50 && y[2] == 2 * 10 + 50);
    qdsim_complex zx[3] = {{1, 1}, {0, 2}, {3, 0}}, zy[3];
    CHECK_OK(qdsim_csr_spmv_complex(a, (qdsim_complex){1, 0}, zx, (qdsim_complex){0, 0}, zy));
    CHECK(zy[0].re == 4 && zy[0].im == 2 && zy[1].re == -4 && zy[1].im == 7);
    CHECK_FAILS(qdsim_csr_spmv(a, 1.0, x, 0.0, x), QDSIM_ERR_INVALID_ARGUMENT, "overlap");
    CHECK_FAILS(qdsim_csr_spmv(a, 1.0, NULL, 0.0, y), QDSIM_ERR_NULL_ARGUMENT, "x is NULL");

    /* The builder is empty and reusable after finalize. */
    qdsim_csr *empty = NULL;
    CHECK_OK(qdsim_csr_builder_finalize(b, &empty));
    CHECK_OK(qdsim_csr_get_info(empty, &info));
    CHECK(info.nnz == 0);

    /* Complex builder; complex matrix refuses real SpMV. */
    qdsim_csr_builder *cb = NULL;
    qdsim_csr *c = NULL;
    CHECK_OK(qdsim_csr_builder_create(m, QDSIM_SCALAR_COMPLEX, 2, 2, "herm", &cb));
    CHECK_OK(qdsim_csr_builder_add_complex(cb, 0, 1, (qdsim_complex){0, -1}));
    CHECK_OK(qdsim_csr_builder_add_complex(cb, 1, 0, (qdsim_complex){0, 1}));
    CHECK_OK(qdsim_csr_builder_finalize(cb, &c));
    CHECK_FAILS(qdsim_csr_spmv(c, 1.0, x, 0.0, y), QDSIM_ERR_INVALID_ARGUMENT, "qdsim_csr_spmv_complex");
    CHECK_FAILS(qdsim_csr_builder_create(m, QDSIM_SCALAR_REAL, SIZE_MAX, 2, "x", &cb), QDSIM_ERR_INVALID_ARGUMENT,
                "too large");
    CHECK_FAILS(qdsim_csr_get_info((qdsim_csr *)b, &info), QDSIM_ERR_INVALID_HANDLE,
                "is a qdsim_csr_builder, not a qdsim_csr");

    CHECK_OK(qdsim_csr_destroy(a));
    CHECK_OK(qdsim_csr_destroy(empty));
    CHECK_OK(qdsim_csr_destroy(c));
    CHECK_OK(qdsim_csr_destroy(NULL));
    CHECK_OK(qdsim_csr_builder_destroy(b));
    CHECK_OK(qdsim_csr_builder_destroy(cb));
    CHECK_OK(qdsim_csr_builder_destroy(NULL));
}

int main(void) {
    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(NULL, &m));
    dense(m);
    sparse(m);
    qdsim_stats s;
    CHECK_OK(qdsim_manager_stats(m, &s));
    CHECK(s.live_allocations == 0 && s.bytes_in_use == 0);

    /* An object that outlives its manager reports it instead of touching freed memory. */
    qdsim_matrix *orphan = NULL;
    CHECK_OK(qdsim_matrix_create(m, QDSIM_SCALAR_REAL, 4, 4, "orphan", &orphan));
    qdsim_manager_config quiet;
    CHECK_OK(qdsim_manager_config_default(&quiet));
    CHECK_OK(qdsim_manager_destroy(m));
    qdsim_matrix_info info;
    CHECK_FAILS(qdsim_matrix_get_info(orphan, &info), QDSIM_ERR_INVALID_HANDLE, "manager of this qdsim_matrix was destroyed");
    CHECK_OK(qdsim_matrix_destroy(orphan));
    printf("test_matrix: ok\n");
    return 0;
}
