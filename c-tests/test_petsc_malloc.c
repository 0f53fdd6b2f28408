/* The PETSc allocator adapter (include/qdsim_mem_petsc.h) against a real PETSc: every PETSc
 * allocation lands in the manager under a "petsc:<function>" tag (cut to 63 bytes), calloc
 * zeroes, realloc keeps the contents, a request over the manager's limit is PETSC_ERR_MEM with
 * the manager's message and changes nothing, and after PetscFinalize no PETSc block is live.
 * Run as `mpirun -n 1 test_petsc_malloc` (CTest petsc_malloc_adapter). */
#include <petscvec.h>

#include "qdsim_mem_petsc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

/* Bytes in use under tags that start with `prefix`. */
static unsigned long long tag_bytes(const qdsim_manager *m, const char *prefix)
{
    size_t count = 0, written = 0;
    unsigned long long sum = 0;
    CHECK(qdsim_manager_tag_count(m, &count) == QDSIM_OK);
    qdsim_tag_stats *tags = malloc((count + 1) * sizeof *tags);
    CHECK(tags);
    CHECK(qdsim_manager_tag_list(m, tags, count + 1, &written) == QDSIM_OK);
    for (size_t i = 0; i < written; ++i)
        if (strncmp(tags[i].name, prefix, strlen(prefix)) == 0) sum += tags[i].bytes_in_use;
    free(tags);
    return sum;
}

/* Asks PETSc for 800 MiB. Not in main: PETSc aborts on an error raised in a function named main. */
static PetscErrorCode allocate_too_much(PetscScalar **big)
{
    return PetscMalloc1((size_t)100 << 20, big);
}

int main(int argc, char **argv)
{
    qdsim_manager_config cfg;
    qdsim_manager *pm = NULL;
    CHECK(qdsim_manager_config_default(&cfg) == QDSIM_OK);
    cfg.initial_pool_size = 4u << 20;
    cfg.memory_limit = 64u << 20; /* 64 MiB for PETSc */
    cfg.report_leaks_on_destroy = 0;
    CHECK(qdsim_manager_create(&cfg, &pm) == QDSIM_OK);
    CHECK(qdsim_petsc_malloc_install(pm) == 0);
    CHECK(PetscInitialize(&argc, &argv, NULL, NULL) == 0);
    qdsim_stats s0;
    CHECK(qdsim_manager_stats(pm, &s0) == QDSIM_OK);
    CHECK(s0.allocation_count > 0); /* PetscInitialize itself allocated through the manager */

    /* A vector of 1000 doubles: its array is counted under a Vec function's tag. */
    Vec x;
    CHECK(VecCreateSeq(PETSC_COMM_SELF, 1000, &x) == 0);
    CHECK(tag_bytes(pm, "petsc:Vec") >= 1000 * sizeof(PetscScalar));

    /* The tag is PETSc's function name, cut to the 63-byte limit. */
    char long_name[101];
    memset(long_name, 'f', 100);
    long_name[100] = '\0';
    long_name[0] = 'G';
    void *p = NULL;
    CHECK(PetscMallocA(1, PETSC_TRUE, __LINE__, long_name, __FILE__, (size_t)4096, &p) == 0);
    qdsim_allocation_info info;
    CHECK(qdsim_manager_find(pm, p, &info) == QDSIM_OK);
    CHECK(info.size == 4096 && strlen(info.tag) == 63 && strncmp(info.tag, "petsc:Gfff", 10) == 0);
    for (size_t i = 0; i < 4096; ++i) CHECK(((unsigned char *)p)[i] == 0); /* calloc zeroes */

    /* 0 bytes give NULL, as PETSc's own allocators do. */
    void *empty = &empty;
    CHECK(PetscMallocA(1, PETSC_FALSE, __LINE__, "zero", __FILE__, (size_t)0, &empty) == 0);
    CHECK(empty == NULL);

    /* Realloc keeps the contents and the manager sees the new size. */
    memset(p, 0x5a, 4096);
    CHECK(PetscRealloc((size_t)1 << 20, &p) == 0);
    CHECK(qdsim_manager_find(pm, p, &info) == QDSIM_OK && info.size == (1u << 20));
    for (size_t i = 0; i < 4096; ++i) CHECK(((unsigned char *)p)[i] == 0x5a);
    CHECK(PetscFree(p) == 0 && p == NULL);

    /* Over the limit: PETSC_ERR_MEM with the manager's message; nothing changes. */
    qdsim_stats before, after;
    CHECK(qdsim_manager_stats(pm, &before) == QDSIM_OK);
    CHECK(PetscPushErrorHandler(PetscReturnErrorHandler, NULL) == 0);
    PetscScalar *big = NULL;
    PetscErrorCode err = allocate_too_much(&big); /* 800 MiB > 64 MiB */
    CHECK(PetscPopErrorHandler() == 0);
    CHECK(err == PETSC_ERR_MEM && big == NULL);
    const char *text = NULL;
    char *specific = NULL;
    CHECK(PetscErrorMessage(err, &text, &specific) == 0);
    printf("PETSc error %d: %s | %s\n", (int)err, text ? text : "", specific ? specific : "");
    CHECK(specific && strstr(specific, "QDSIM_ERR_LIMIT_EXCEEDED") && strstr(specific, "memory limit of 67108864 bytes") && strstr(specific, "petsc:allocate_too_much"));
    CHECK(qdsim_manager_stats(pm, &after) == QDSIM_OK);
    CHECK(after.bytes_in_use == before.bytes_in_use);
    CHECK(after.failed_allocations == before.failed_allocations + 1);

    CHECK(VecDestroy(&x) == 0);
    CHECK(qdsim_petsc_malloc_report(PETSC_COMM_WORLD, pm) == 0);
    CHECK(PetscFinalize() == 0);
    unsigned long long leaked = 1;
    CHECK(qdsim_petsc_malloc_finish(pm, &leaked) == 0);
    CHECK(leaked == 0);
    CHECK(qdsim_manager_destroy(pm) == QDSIM_OK);
    printf("petsc malloc adapter: ok\n");
    return 0;
}
