/* Memory-mapped matrices and matrix files from C: a dense block written through the mapping
 * and by columns, finalized, reopened read-only (every write refused), grown; a CSR matrix to a
 * mapped file and back; PETSc binary and MatrixMarket files written and read back; damaged,
 * unfinalized and missing files; NULL arguments, wrong and destroyed handles. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <unistd.h>

#include "check.h"

static char paths[8][512];
static int n_paths = 0;

/* A unique path in the temporary directory, removed at the end. */
static const char *temp_path(const char *name) {
    const char *dir = getenv("TMPDIR");
    CHECK(n_paths < 8);
    snprintf(paths[n_paths], sizeof paths[n_paths], "%s/qdsim-c-mapped-%ld-%s",
             dir && *dir ? dir : "/tmp", (long)getpid(), name);
    return paths[n_paths++];
}

static void flip_byte(const char *path, long at) {
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    CHECK(fseek(f, at, SEEK_SET) == 0);
    int c = fgetc(f);
    CHECK(c != EOF);
    CHECK(fseek(f, at, SEEK_SET) == 0);
    CHECK(fputc(c ^ 0x01, f) != EOF);
    CHECK(fclose(f) == 0);
}

static void dense(qdsim_manager *m) {
    const char *path = temp_path("dense.qdm");
    qdsim_mapped *a = NULL;
    CHECK_OK(qdsim_mapped_create_dense(path, QDSIM_SCALAR_REAL, 5, 3, &a));
    qdsim_mapped_info info;
    CHECK_OK(qdsim_mapped_get_info(a, &info));
    CHECK(info.layout == QDSIM_MAPPED_DENSE && info.scalar == QDSIM_SCALAR_REAL);
    CHECK(info.rows == 5 && info.cols == 3 && info.ld == 8 && info.nnz == 0);
    CHECK(info.writable == 1 && info.finalized == 0 && info.index_bits == 0);
    /* the data, then on the next page the checksum table: one CRC-32C per MiB of data */
    CHECK(info.file_bytes == 8192 + 4);
    double *d = NULL;
    size_t ld = 0;
    CHECK_OK(qdsim_mapped_data_mut(a, (void **)&d, &ld));
    CHECK(ld == 8 && (uintptr_t)d % 4096 == 0);
    for (size_t j = 0; j < 2; ++j)
        for (size_t i = 0; i < 5; ++i) d[i + j * ld] = 10.0 * i + j;
    const double col2[5] = {2.0, 12.0, 22.0, 32.0, 42.0};
    CHECK_OK(qdsim_mapped_write_columns(a, QDSIM_SCALAR_REAL, 2, 1, col2, 5));
    CHECK_OK(qdsim_mapped_flush(a));
    CHECK_OK(qdsim_mapped_finalize(a));
    CHECK_OK(qdsim_mapped_get_info(a, &info));
    CHECK(info.finalized == 1);
    CHECK_OK(qdsim_mapped_destroy(a));

    /* read-only: readable, every write refused */
    qdsim_mapped *r = NULL;
    CHECK_OK(qdsim_mapped_open(path, 0, &r));
    CHECK_OK(qdsim_mapped_get_info(r, &info));
    CHECK(info.writable == 0 && info.finalized == 1 && info.cols == 3);
    const double *rd = NULL;
    CHECK_OK(qdsim_mapped_data(r, (const void **)&rd, &ld));
    for (size_t j = 0; j < 3; ++j)
        for (size_t i = 0; i < 5; ++i) CHECK(rd[i + j * ld] == 10.0 * i + j);
    double buf[2 * 6];
    CHECK_OK(qdsim_mapped_read_columns(r, QDSIM_SCALAR_REAL, 1, 2, buf, 6));
    CHECK(buf[0] == 1.0 && buf[4] == 41.0 && buf[6] == 2.0 && buf[10] == 42.0);
    void *never = (void *)0x5e5e;
    size_t never_ld = 77;
    CHECK_FAILS(qdsim_mapped_data_mut(r, &never, &never_ld), QDSIM_ERR_INVALID_ARGUMENT,
                "mapped read-only");
    CHECK(never == (void *)0x5e5e && never_ld == 77);
    CHECK_FAILS(qdsim_mapped_write_columns(r, QDSIM_SCALAR_REAL, 0, 1, col2, 5),
                QDSIM_ERR_INVALID_ARGUMENT, "mapped read-only");
    CHECK_FAILS(qdsim_mapped_write_columns(r, QDSIM_SCALAR_REAL, 0, 0, col2, 5),
                QDSIM_ERR_INVALID_ARGUMENT, "mapped read-only");
    CHECK_FAILS(qdsim_mapped_finalize(r), QDSIM_ERR_INVALID_ARGUMENT, "mapped read-only");
    CHECK_FAILS(qdsim_mapped_grow(r, 4), QDSIM_ERR_INVALID_ARGUMENT, "mapped read-only");
    CHECK_OK(qdsim_mapped_flush(r)); /* nothing to write back */
    /* bad column requests */
    qdsim_complex zbuf[5];
    CHECK_FAILS(qdsim_mapped_read_columns(r, QDSIM_SCALAR_COMPLEX, 0, 1, zbuf, 5),
                QDSIM_ERR_INVALID_ARGUMENT, "the buffer is complex");
    CHECK_FAILS(qdsim_mapped_read_columns(r, QDSIM_SCALAR_REAL, 2, 2, buf, 6),
                QDSIM_ERR_INVALID_ARGUMENT, "outside the 5×3 matrix");
    CHECK_FAILS(qdsim_mapped_read_columns(r, QDSIM_SCALAR_REAL, 0, 1, buf, 4),
                QDSIM_ERR_INVALID_ARGUMENT, "leading dimension 4");
    CHECK_FAILS(qdsim_mapped_read_columns(r, QDSIM_SCALAR_REAL, 0, 1, NULL, 5),
                QDSIM_ERR_NULL_ARGUMENT, "dst is NULL");
    CHECK_FAILS(qdsim_mapped_read_columns(r, QDSIM_SCALAR_REAL, 0, 1, (void *)rd, 5),
                QDSIM_ERR_INVALID_ARGUMENT, "overlap");
    CHECK_OK(qdsim_mapped_destroy(r));

    /* writable: grow the block by two columns, finalize, reopen */
    CHECK_OK(qdsim_mapped_open(path, 1, &a));
    CHECK_OK(qdsim_mapped_grow(a, 5));
    const double col4[5] = {-1, -2, -3, -4, -5};
    CHECK_OK(qdsim_mapped_write_columns(a, QDSIM_SCALAR_REAL, 4, 1, col4, 5));
    CHECK_FAILS(qdsim_mapped_grow(a, 2), QDSIM_ERR_INVALID_ARGUMENT, "fewer");
    CHECK_OK(qdsim_mapped_finalize(a));
    CHECK_OK(qdsim_mapped_destroy(a));
    CHECK_OK(qdsim_mapped_open(path, 0, &r));
    qdsim_matrix *copy = NULL;
    CHECK_OK(qdsim_mapped_to_matrix(r, m, "mapped.copy", &copy));
    qdsim_matrix_info mi;
    CHECK_OK(qdsim_matrix_get_info(copy, &mi));
    CHECK(mi.rows == 5 && mi.cols == 5);
    double *cd = NULL;
    CHECK_OK(qdsim_matrix_data(copy, (void **)&cd));
    CHECK(cd[4 + 4 * mi.ld] == -5.0 && cd[3 + 1 * mi.ld] == 31.0 && cd[0 + 3 * mi.ld] == 0.0);
    CHECK_OK(qdsim_mapped_destroy(r));
    /* and back to a file */
    const char *path2 = temp_path("dense2.qdm");
    CHECK_OK(qdsim_mapped_from_matrix(copy, path2, &a));
    CHECK_OK(qdsim_mapped_get_info(a, &info));
    CHECK(info.finalized == 1 && info.cols == 5);
    CHECK_OK(qdsim_mapped_destroy(a));
    CHECK_OK(qdsim_matrix_destroy(copy));

    /* a new file destroyed before finalize never replaces its path */
    CHECK_OK(qdsim_mapped_create_dense(path2, QDSIM_SCALAR_COMPLEX, 4, 4, &a));
    qdsim_complex *zd = NULL;
    CHECK_OK(qdsim_mapped_data_mut(a, (void **)&zd, &ld));
    zd[0] = (qdsim_complex){1.0, -1.0};
    CHECK_OK(qdsim_mapped_destroy(a));
    CHECK_OK(qdsim_mapped_open(path2, 0, &r));
    CHECK_OK(qdsim_mapped_get_info(r, &info));
    CHECK(info.scalar == QDSIM_SCALAR_REAL && info.cols == 5);
    CHECK_OK(qdsim_mapped_destroy(r));
    /* a writer that changes a file and never finalizes it leaves a file that is refused, as
     * after a crash */
    CHECK_OK(qdsim_mapped_open(path2, 1, &a));
    CHECK_OK(qdsim_mapped_data_mut(a, (void **)&d, &ld));
    d[0] = -7.0;
    CHECK_OK(qdsim_mapped_destroy(a));
    r = (qdsim_mapped *)0x5e5e;
    CHECK_FAILS(qdsim_mapped_open(path2, 0, &r), QDSIM_ERR_CORRUPT_FILE, "never finalized");
    CHECK(r == (qdsim_mapped *)0x5e5e);

    /* damaged files */
    flip_byte(path, 33); /* a bit of the row count: only the checksum can tell */
    CHECK_FAILS(qdsim_mapped_open(path, 0, &r), QDSIM_ERR_CORRUPT_FILE, "checksum mismatch");
    flip_byte(path, 33);
    CHECK_OK(qdsim_mapped_open(path, 0, &r));
    CHECK_OK(qdsim_mapped_destroy(r));
    CHECK(truncate(path, 4096 + 100) == 0);
    CHECK_FAILS(qdsim_mapped_open(path, 0, &r), QDSIM_ERR_CORRUPT_FILE, "truncated");
    flip_byte(path, 0);
    CHECK_FAILS(qdsim_mapped_open(path, 1, &r), QDSIM_ERR_CORRUPT_FILE, "bad magic");
    CHECK_FAILS(qdsim_mapped_open(temp_path("missing.qdm"), 0, &r), QDSIM_ERR_IO, "cannot open");
}

static void sparse(qdsim_manager *m) {
    /* the 3×3 second-difference matrix */
    qdsim_csr_builder *b = NULL;
    CHECK_OK(qdsim_csr_builder_create(m, QDSIM_SCALAR_REAL, 3, 3, "tri", &b));
    for (size_t i = 0; i < 3; ++i) {
        CHECK_OK(qdsim_csr_builder_add(b, i, i, 2.0));
        if (i > 0) CHECK_OK(qdsim_csr_builder_add(b, i, i - 1, -1.0));
        if (i < 2) CHECK_OK(qdsim_csr_builder_add(b, i, i + 1, -1.0));
    }
    qdsim_csr *h = NULL;
    CHECK_OK(qdsim_csr_builder_finalize(b, &h));
    CHECK_OK(qdsim_csr_builder_destroy(b));

    const char *path = temp_path("tri.qdm");
    qdsim_mapped *a = NULL;
    CHECK_OK(qdsim_mapped_from_csr(h, path, &a));
    CHECK_OK(qdsim_mapped_destroy(a));
    CHECK_OK(qdsim_mapped_open(path, 0, &a));
    qdsim_mapped_info info;
    CHECK_OK(qdsim_mapped_get_info(a, &info));
    CHECK(info.layout == QDSIM_MAPPED_CSR && info.nnz == 7 && info.index_bits == 32);
    CHECK(info.rows == 3 && info.cols == 3 && info.ld == 0 && info.writable == 0);
    const int32_t *rp = NULL, *ci = NULL;
    const double *v = NULL;
    CHECK_OK(qdsim_mapped_csr_arrays(a, (const void **)&rp, (const void **)&ci, (const void **)&v));
    CHECK(rp[0] == 0 && rp[1] == 2 && rp[2] == 5 && rp[3] == 7);
    CHECK(ci[2] == 0 && ci[3] == 1 && ci[4] == 2 && v[3] == 2.0 && v[4] == -1.0);
    const void *dv = NULL;
    size_t ld = 0;
    CHECK_FAILS(qdsim_mapped_data(a, &dv, &ld), QDSIM_ERR_INVALID_ARGUMENT, "holds a CSR matrix");
    CHECK_FAILS(qdsim_mapped_grow(a, 4), QDSIM_ERR_INVALID_ARGUMENT, "holds a CSR matrix");
    qdsim_csr *back = NULL;
    CHECK_OK(qdsim_mapped_to_csr(a, m, "tri.back", &back));
    const double x[3] = {1.0, 2.0, 4.0};
    double y[3];
    CHECK_OK(qdsim_csr_spmv(back, 1.0, x, 0.0, y));
    CHECK(y[0] == 0.0 && y[1] == -1.0 && y[2] == 6.0);
    CHECK_OK(qdsim_csr_destroy(back));
    CHECK_OK(qdsim_mapped_destroy(a));
    /* a damaged column index is found on open */
    flip_byte(path, 8192 + 4 * 4 + 1); /* ci[4] = 2 becomes 258 */
    CHECK_FAILS(qdsim_mapped_open(path, 0, &a), QDSIM_ERR_CORRUPT_FILE,
                "column index 258 of entry 4 (row 1) is out of range for 3 columns");

    /* PETSc binary: big-endian class id first, then read back */
    const char *petsc = temp_path("tri.petsc");
    CHECK_OK(qdsim_csr_write_petsc(h, petsc));
    FILE *f = fopen(petsc, "rb");
    CHECK(f != NULL);
    unsigned char head[16];
    CHECK(fread(head, 1, 16, f) == 16);
    fclose(f);
    const unsigned char expected[16] = {0x00, 0x12, 0x7B, 0x50, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 7};
    CHECK(memcmp(head, expected, 16) == 0);
    CHECK_OK(qdsim_csr_read_petsc(m, petsc, "tri.petsc", &back));
    CHECK_OK(qdsim_csr_spmv(back, 1.0, x, 0.0, y));
    CHECK(y[0] == 0.0 && y[1] == -1.0 && y[2] == 6.0);
    CHECK_OK(qdsim_csr_destroy(back));

    /* MatrixMarket: written, read back, and a malformed file with its line */
    const char *mtx = temp_path("tri.mtx");
    CHECK_OK(qdsim_csr_write_matrix_market(h, mtx));
    CHECK_OK(qdsim_csr_read_matrix_market(m, mtx, NULL, &back));
    qdsim_csr_info ci_info;
    CHECK_OK(qdsim_csr_get_info(back, &ci_info));
    CHECK(ci_info.rows == 3 && ci_info.nnz == 7 && ci_info.scalar == QDSIM_SCALAR_REAL);
    CHECK_OK(qdsim_csr_spmv(back, 1.0, x, 0.0, y));
    CHECK(y[0] == 0.0 && y[1] == -1.0 && y[2] == 6.0);
    CHECK_OK(qdsim_csr_destroy(back));
    f = fopen(mtx, "w");
    CHECK(f != NULL);
    fputs("%%MatrixMarket matrix coordinate real general\n3 3 1\n1 4 1.0\n", f);
    fclose(f);
    back = (qdsim_csr *)0x5e5e;
    CHECK_FAILS(qdsim_csr_read_matrix_market(m, mtx, "bad", &back), QDSIM_ERR_CORRUPT_FILE,
                "line 3: column index 4 is out of range 1..=3");
    CHECK(back == (qdsim_csr *)0x5e5e);
    CHECK_FAILS(qdsim_csr_read_petsc(m, mtx, "bad", &back), QDSIM_ERR_CORRUPT_FILE,
                "not a PETSc matrix file");
    CHECK_FAILS(qdsim_csr_write_petsc(h, NULL), QDSIM_ERR_NULL_ARGUMENT, "path is NULL");
    CHECK_FAILS(qdsim_csr_write_matrix_market(NULL, mtx), QDSIM_ERR_NULL_ARGUMENT, "csr is NULL");
    CHECK_OK(qdsim_csr_destroy(h));
}

static void misuse(qdsim_manager *m) {
    qdsim_mapped *a = NULL;
    qdsim_mapped_info info;
    const char *path = temp_path("misuse.qdm");
    CHECK_FAILS(qdsim_mapped_open(NULL, 0, &a), QDSIM_ERR_NULL_ARGUMENT, "path is NULL");
    CHECK_FAILS(qdsim_mapped_open(path, 0, NULL), QDSIM_ERR_NULL_ARGUMENT, "out is NULL");
    CHECK_FAILS(qdsim_mapped_create_dense(path, 5, 2, 2, &a), QDSIM_ERR_INVALID_ARGUMENT,
                "scalar 5");
    CHECK_FAILS(qdsim_mapped_create_dense(path, QDSIM_SCALAR_REAL, SIZE_MAX / 2, 4, &a),
                QDSIM_ERR_INVALID_ARGUMENT, "does not fit");
    CHECK_FAILS(qdsim_mapped_get_info(NULL, &info), QDSIM_ERR_NULL_ARGUMENT, "mapped is NULL");
    CHECK_FAILS(qdsim_mapped_get_info((qdsim_mapped *)m, &info), QDSIM_ERR_INVALID_HANDLE,
                "is a qdsim_manager, not a qdsim_mapped");
    CHECK_FAILS(qdsim_mapped_finalize(NULL), QDSIM_ERR_NULL_ARGUMENT, "mapped is NULL");
    CHECK_OK(qdsim_mapped_destroy(NULL));
    CHECK_OK(qdsim_mapped_create_dense(path, QDSIM_SCALAR_COMPLEX, 2, 2, &a));
    CHECK_FAILS(qdsim_mapped_get_info(a, NULL), QDSIM_ERR_NULL_ARGUMENT, "out is NULL");
    CHECK_OK(qdsim_mapped_finalize(a));
    CHECK_OK(qdsim_mapped_destroy(a));
    CHECK_FAILS(qdsim_mapped_destroy(a), QDSIM_ERR_INVALID_HANDLE, "not a live qdsim_mapped");
    CHECK_FAILS(qdsim_mapped_get_info(a, &info), QDSIM_ERR_INVALID_HANDLE,
                "not a live qdsim_mapped");
}

int main(void) {
    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(NULL, &m));
    dense(m);
    sparse(m);
    misuse(m);
    CHECK_OK(qdsim_manager_destroy(m));
    for (int i = 0; i < n_paths; ++i) remove(paths[i]);
    puts("test_mapped: ok");
    return 0;
}
