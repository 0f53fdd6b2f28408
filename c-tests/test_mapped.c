/* Memory-mapped matrices and matrix files from C: a dense block written through the mapping
 * and by columns, finalized, reopened read-only (every write refused), grown; a CSR matrix to a
 * mapped file and back; PETSc binary and MatrixMarket files written and read back; damaged,
 * unfinalized and missing files; NULL arguments, wrong and destroyed handles. Issue 16: untrusted
 * files (a FIFO, endless lines, overflowing sizes, impossible event-log entries); a mapped CSR
 * file changed after it was opened (copy and solve report QDSIM_ERR_CORRUPT_FILE, no crash);
 * data checksums (qdsim_mapped_verify, qdsim_mapped_open_verified, version-1 files "not
 * checksummed"); a failed or abandoned create keeps the old file and leaves no temporary one. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static char paths[64][512];
static int n_paths = 0;

/* A unique path in the temporary directory, removed at the end. */
static const char *temp_path(const char *name) {
    const char *dir = getenv("TMPDIR");
    CHECK(n_paths < 64);
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

/* Writes `len` bytes at `at` in place (no truncation: the file may be mapped). */
static void poke(const char *path, long at, const void *bytes, size_t len) {
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    CHECK(fseek(f, at, SEEK_SET) == 0);
    CHECK(fwrite(bytes, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

/* Issue 16, item 2: another writer changes a validated mapped CSR file. */
static void changed_under_us(qdsim_manager *m) {
    const size_t n = 40;
    qdsim_csr_builder *b = NULL;
    CHECK_OK(qdsim_csr_builder_create(m, QDSIM_SCALAR_REAL, n, n, "tri", &b));
    for (size_t i = 0; i < n; ++i) {
        CHECK_OK(qdsim_csr_builder_add(b, i, i, 2.0 + (double)i)); /* well separated */
        if (i > 0) CHECK_OK(qdsim_csr_builder_add(b, i, i - 1, -1.0));
        if (i + 1 < n) CHECK_OK(qdsim_csr_builder_add(b, i, i + 1, -1.0));
    }
    qdsim_csr *h = NULL;
    CHECK_OK(qdsim_csr_builder_finalize(b, &h));
    CHECK_OK(qdsim_csr_builder_destroy(b));
    const char *path = temp_path("changed.qdm");
    qdsim_mapped *a = NULL;
    CHECK_OK(qdsim_mapped_from_csr(h, path, &a));
    CHECK_OK(qdsim_mapped_destroy(a));
    CHECK_OK(qdsim_csr_destroy(h));

    CHECK_OK(qdsim_mapped_open(path, 0, &a)); /* validated here */
    /* row 10 holds entries 29, 30, 31 (columns 9, 10, 11); column indices start at 8192 */
    const int32_t bad = INT32_MAX, good = 11;
    poke(path, 8192 + 4 * 31, &bad, sizeof bad);
    qdsim_csr *copy = (qdsim_csr *)0x5e5e;
    CHECK_FAILS(qdsim_mapped_to_csr(a, m, "copy", &copy), QDSIM_ERR_CORRUPT_FILE,
                "column index 2147483647 of entry 31 (row 10) is out of range for 40 columns");
    CHECK(strstr(qdsim_last_error_message(), path) != NULL);
    CHECK(copy == (qdsim_csr *)0x5e5e);
    qdsim_eigen_options opts;
    CHECK_OK(qdsim_eigen_options_default(&opts));
    opts.k = 2;
    qdsim_eigen_result *res = (qdsim_eigen_result *)0x5e5e;
    CHECK_FAILS(qdsim_mapped_solve_lowest(m, a, &opts, &res), QDSIM_ERR_CORRUPT_FILE,
                "row 10: column index 2147483647 of entry 31 is out of range for 40 columns");
    CHECK(strstr(qdsim_last_error_message(), path) != NULL);
    CHECK(res == (qdsim_eigen_result *)0x5e5e);
    /* a row pointer past the entries */
    poke(path, 8192 + 4 * 31, &good, sizeof good);
    const int32_t far = 1000000;
    poke(path, 4096 + 4 * 20, &far, sizeof far);
    CHECK_FAILS(qdsim_mapped_to_csr(a, m, "copy", &copy), QDSIM_ERR_CORRUPT_FILE, "row_ptr[20]");
    CHECK_FAILS(qdsim_mapped_solve_lowest(m, a, &opts, &res), QDSIM_ERR_CORRUPT_FILE,
                "row pointers");
    CHECK(copy == (qdsim_csr *)0x5e5e && res == (qdsim_eigen_result *)0x5e5e);
    /* restored: both work again */
    const int32_t rp20 = 2 + 3 * 19;
    poke(path, 4096 + 4 * 20, &rp20, sizeof rp20);
    CHECK_OK(qdsim_mapped_to_csr(a, m, "copy", &copy));
    CHECK_OK(qdsim_csr_destroy(copy));
    CHECK_OK(qdsim_mapped_solve_lowest(m, a, &opts, &res));
    CHECK_OK(qdsim_eigen_result_destroy(res));
    CHECK_OK(qdsim_mapped_destroy(a));
}

static uint64_t fnv1a64(const unsigned char *b, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* A version-1 (unchecksummed) real dense 2×1 file, as earlier releases wrote it. */
static void version_1_file(const char *path) {
    unsigned char b[4096 + 64] = {0};
    memcpy(b, "QDSIMMAT", 8);
    const uint32_t u32s[4] = {1, 0x4C4E4946u /* FINL */, 1, 1};
    memcpy(b + 8, u32s, sizeof u32s);
    const uint64_t u64s[11] = {2, 1, 0, 8, 4096, 64, 0, 0, 0, 0, 4096 + 64};
    memcpy(b + 32, u64s, sizeof u64s);
    const uint64_t sum = fnv1a64(b, 120);
    memcpy(b + 120, &sum, 8);
    const double v[2] = {1.5, -2.5};
    memcpy(b + 4096, v, sizeof v);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(b, 1, sizeof b, f) == sizeof b);
    CHECK(fclose(f) == 0);
}

/* Issue 16, item 9: data checksums. */
static void checksums(void) {
    const char *path = temp_path("sums.qdm");
    qdsim_mapped *a = NULL, *r = NULL;
    CHECK_OK(qdsim_mapped_create_dense(path, QDSIM_SCALAR_REAL, 100, 3, &a));
    double *d = NULL;
    size_t ld = 0;
    CHECK_OK(qdsim_mapped_data_mut(a, (void **)&d, &ld));
    for (size_t i = 0; i < 3 * ld; ++i) d[i] = (double)i;
    CHECK_FAILS(qdsim_mapped_verify(a), QDSIM_ERR_INVALID_ARGUMENT, "finalize it before verifying");
    CHECK_OK(qdsim_mapped_finalize(a));
    CHECK_OK(qdsim_mapped_verify(a));
    CHECK_OK(qdsim_mapped_destroy(a));
    CHECK_OK(qdsim_mapped_open_verified(path, 0, &r));
    CHECK_OK(qdsim_mapped_destroy(r));

    /* a byte of data changed after the open: only an explicit verify finds it */
    CHECK_OK(qdsim_mapped_open(path, 0, &r));
    flip_byte(path, 4096 + 8 * 7 + 3);
    CHECK_FAILS(qdsim_mapped_verify(r), QDSIM_ERR_CORRUPT_FILE,
                "data block 0 (bytes 4096..8192) fails its checksum");
    CHECK(strstr(qdsim_last_error_message(), path) != NULL);
    qdsim_mapped *never = (qdsim_mapped *)0x5e5e;
    CHECK_FAILS(qdsim_mapped_open_verified(path, 0, &never), QDSIM_ERR_CORRUPT_FILE,
                "data block 0");
    CHECK(never == (qdsim_mapped *)0x5e5e);
    flip_byte(path, 4096 + 8 * 7 + 3);
    CHECK_OK(qdsim_mapped_verify(r));
    CHECK_OK(qdsim_mapped_destroy(r));
    /* the checksum table (at 8192) is covered too */
    flip_byte(path, 8192);
    CHECK_FAILS(qdsim_mapped_open_verified(path, 1, &never), QDSIM_ERR_CORRUPT_FILE,
                "checksum table");
    flip_byte(path, 8192);

    /* version 1: still read, but not checksummed (never reported as verified) */
    const char *old = temp_path("v1.qdm");
    version_1_file(old);
    CHECK_OK(qdsim_mapped_open(old, 0, &r));
    const double *rd = NULL;
    CHECK_OK(qdsim_mapped_data(r, (const void **)&rd, &ld));
    CHECK(ld == 8 && rd[0] == 1.5 && rd[1] == -2.5);
    CHECK_FAILS(qdsim_mapped_verify(r), QDSIM_ERR_INVALID_ARGUMENT, "not checksummed");
    CHECK_OK(qdsim_mapped_destroy(r));
    CHECK_FAILS(qdsim_mapped_open_verified(old, 0, &never), QDSIM_ERR_INVALID_ARGUMENT,
                "format version 1, which has no data checksums");
    CHECK(never == (qdsim_mapped *)0x5e5e);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) ++n;
    closedir(d);
    return n;
}

/* Issue 16, item 10: a failed or abandoned create never destroys the old file. */
static void create_over(void) {
    const char *tmp = getenv("TMPDIR");
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/qdsim-c-create-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/a.qdm", dir);
    qdsim_mapped *a = NULL;
    CHECK_OK(qdsim_mapped_create_dense(path, QDSIM_SCALAR_REAL, 3, 2, &a));
    CHECK(access(path, F_OK) != 0); /* a temporary name until finalize */
    CHECK(count_entries(dir) == 1);
    const double col[3] = {1.0, 2.0, 3.0};
    CHECK_OK(qdsim_mapped_write_columns(a, QDSIM_SCALAR_REAL, 1, 1, col, 3));
    CHECK_OK(qdsim_mapped_finalize(a));
    CHECK_OK(qdsim_mapped_destroy(a));
    CHECK(count_entries(dir) == 1);

    /* 8 PiB cannot be reserved: an I/O error, the old file intact, nothing left behind */
    qdsim_mapped *never = (qdsim_mapped *)0x5e5e;
    CHECK_FAILS(qdsim_mapped_create_dense(path, QDSIM_SCALAR_REAL, (size_t)1 << 30,
                                          (size_t)1 << 20, &never),
                QDSIM_ERR_IO, "reserve the file's space");
    CHECK(strstr(qdsim_last_error_message(), path) != NULL);
    CHECK(never == (qdsim_mapped *)0x5e5e);
    CHECK(count_entries(dir) == 1);
    /* created, written and destroyed before finalize: the same */
    CHECK_OK(qdsim_mapped_create_dense(path, QDSIM_SCALAR_COMPLEX, 4, 4, &a));
    CHECK(count_entries(dir) == 2);
    CHECK_OK(qdsim_mapped_destroy(a));
    CHECK(count_entries(dir) == 1);
    CHECK_OK(qdsim_mapped_open_verified(path, 0, &a));
    double back[3];
    CHECK_OK(qdsim_mapped_read_columns(a, QDSIM_SCALAR_REAL, 1, 1, back, 3));
    CHECK(back[0] == 1.0 && back[2] == 3.0);
    CHECK_OK(qdsim_mapped_destroy(a));
    CHECK(remove(path) == 0);
    CHECK(rmdir(dir) == 0);
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
    /* the functions of issue 16 */
    CHECK_FAILS(qdsim_mapped_verify(NULL), QDSIM_ERR_NULL_ARGUMENT, "mapped is NULL");
    CHECK_FAILS(qdsim_mapped_verify((qdsim_mapped *)m), QDSIM_ERR_INVALID_HANDLE,
                "is a qdsim_manager, not a qdsim_mapped");
    CHECK_FAILS(qdsim_mapped_verify(a), QDSIM_ERR_INVALID_HANDLE, "not a live qdsim_mapped");
    qdsim_mapped *never = (qdsim_mapped *)0x5e5e;
    CHECK_FAILS(qdsim_mapped_open_verified(NULL, 0, &never), QDSIM_ERR_NULL_ARGUMENT,
                "path is NULL");
    CHECK_FAILS(qdsim_mapped_open_verified(path, 0, NULL), QDSIM_ERR_NULL_ARGUMENT,
                "out is NULL");
    CHECK_FAILS(qdsim_mapped_open_verified(temp_path("missing2.qdm"), 0, &never), QDSIM_ERR_IO,
                "cannot open");
    CHECK(never == (qdsim_mapped *)0x5e5e);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fputs(text, f) >= 0);
    CHECK(fclose(f) == 0);
}

/* Issue 16: what a reader of untrusted files must survive, each refused at once with a status
 * its documentation names and a message saying what is wrong. */
static void untrusted_files(qdsim_manager *m) {
    qdsim_mapped *map = NULL;
    qdsim_csr *a = NULL;
    qdsim_replay_summary sum;

    /* A FIFO with no writer: refused, not waited on forever. */
    const char *fifo = temp_path("fifo");
    remove(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK_FAILS(qdsim_mapped_open(fifo, 0, &map), QDSIM_ERR_IO, "is a FIFO (named pipe), not a regular file");
    CHECK_FAILS(qdsim_mapped_open(fifo, 1, &map), QDSIM_ERR_IO, "FIFO");
    CHECK_FAILS(qdsim_csr_read_matrix_market(m, fifo, NULL, &a), QDSIM_ERR_IO, "FIFO");
    CHECK_FAILS(qdsim_csr_read_petsc(m, fifo, NULL, &a), QDSIM_ERR_IO, "FIFO");
    CHECK_FAILS(qdsim_replay_event_log(fifo, &sum, NULL), QDSIM_ERR_IO, "FIFO");
    CHECK_FAILS(qdsim_csr_read_matrix_market(m, "/dev/zero", NULL, &a), QDSIM_ERR_IO, "a character device");

    /* A comment line that never ends: refused at the line limit, not read into memory. */
    const char *mtx = temp_path("untrusted.mtx");
    FILE *f = fopen(mtx, "wb");
    CHECK(f != NULL);
    fputs("%%MatrixMarket matrix coordinate real general\n%", f);
    for (long i = 0; i < (2L << 20); ++i) fputc('x', f);
    CHECK(fclose(f) == 0);
    CHECK_FAILS(qdsim_csr_read_matrix_market(m, mtx, NULL, &a), QDSIM_ERR_CORRUPT_FILE,
                "line 2 is longer than the limit of 1048576 bytes");

    /* Sizes whose product overflows, sizes beyond 64-bit indices, sizes beyond memory. */
    write_text(mtx, "%%MatrixMarket matrix array real general\n4294967296 4294967296\n1.0\n");
    CHECK_FAILS(qdsim_csr_read_matrix_market(m, mtx, NULL, &a), QDSIM_ERR_CORRUPT_FILE,
                "a 4294967296×4294967296 array file would list more than");
    write_text(mtx, "%%MatrixMarket matrix coordinate real general\n18446744073709551615 1 0\n");
    CHECK_FAILS(qdsim_csr_read_matrix_market(m, mtx, NULL, &a), QDSIM_ERR_CORRUPT_FILE,
                "rows and columns are at most 9223372036854775806");
    write_text(mtx, "%%MatrixMarket matrix coordinate real general\n1000000000000000 2 0\n");
    CHECK_FAILS(qdsim_csr_read_matrix_market(m, mtx, NULL, &a), QDSIM_ERR_OUT_OF_MEMORY,
                "bytes of memory the system has available");

    /* A PETSc header announcing far more than the file holds. */
    const char *petsc = temp_path("untrusted.petsc");
    const unsigned char header[16] = {0, 0x12, 0x7b, 0x50, 0x7f, 0xff, 0xff, 0xff,
                                      0, 0, 0, 3, 0x7f, 0xff, 0xff, 0xff};
    f = fopen(petsc, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(header, 1, sizeof header, f) == sizeof header);
    CHECK(fclose(f) == 0);
    CHECK_FAILS(qdsim_csr_read_petsc(m, petsc, NULL, &a), QDSIM_ERR_CORRUPT_FILE,
                "the file is 16 bytes, but a 2147483647×3 matrix");

    /* Event-log entries no manager could accept are a corrupt log, not a bad argument. */
    const char *log = temp_path("untrusted.csv");
    write_text(log, "seq,op,id,bytes,pool,tag\n0,alloc,1,4611686018427387904,bytes,\"x\"\n");
    CHECK_FAILS(qdsim_replay_event_log(log, &sum, NULL), QDSIM_ERR_CORRUPT_FILE,
                "event 0: allocation of 4611686018427387904 bytes");
    write_text(log, "seq,op,id,bytes,pool,tag\n0,alloc,1,8,bytes,"
                    "\"tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt\"\n");
    CHECK_FAILS(qdsim_replay_event_log(log, &sum, NULL), QDSIM_ERR_CORRUPT_FILE, "tag is 96 bytes long");
}

int main(void) {
    qdsim_manager *m = NULL;
    CHECK_OK(qdsim_manager_create(NULL, &m));
    dense(m);
    sparse(m);
    changed_under_us(m);
    checksums();
    create_over();
    misuse(m);
    untrusted_files(m);
    CHECK_OK(qdsim_manager_destroy(m));
    for (int i = 0; i < n_paths; ++i) remove(paths[i]);
    puts("test_mapped: ok");
    return 0;
}
