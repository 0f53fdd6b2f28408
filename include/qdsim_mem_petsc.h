/*
 * qdsim_mem_petsc.h: PETSc's (and SLEPc's) memory from a qdsim manager — header-only, C99.
 *
 * Every PetscMalloc/PetscCalloc/PetscRealloc/PetscFree of the program then goes to one
 * qdsim_manager: counted in its statistics, tagged "petsc:<PETSc function>" (cut to the 63-byte
 * tag limit), and held under its memory_limit. A request over the limit makes PETSc fail with
 * PETSC_ERR_MEM, the manager's explanation attached to the error message.
 *
 *   qdsim_manager *pm = NULL;                    // a manager for PETSc alone: its statistics
 *   qdsim_manager_create(&cfg, &pm);              // are then PETSc's
 *   qdsim_petsc_malloc_install(pm);               // BEFORE PetscInitialize / SlepcInitialize
 *   PetscInitialize(&argc, &argv, NULL, NULL);
 *   ...
 *   qdsim_petsc_malloc_report(PETSC_COMM_WORLD, pm);   // one line per rank, in rank order
 *   PetscFinalize();
 *   qdsim_petsc_malloc_finish(pm, &leaked);       // after PetscFinalize: live PETSc blocks
 *   qdsim_manager_destroy(pm);
 *
 * The library itself does not link PETSc or MPI: include this header in the one file of your
 * program that installs the allocator (the state is static to that translation unit), and link
 * PETSc and qdsim_mem as usual. PETSc's own tracing allocator cannot run beside it: with the
 * adapter installed, -malloc_debug, -malloc_view, -malloc_dump or -log_view_memory make
 * PetscInitialize fail (PetscMallocSet: "cannot call multiple times"), and PETSc's counters
 * (PetscMallocGetCurrentUsage, PetscMallocGetMaximumUsage) read 0: the manager's statistics count
 * instead. A PETSc configured --with-debugging turns that tracer on by default; run it with
 * -malloc_debug no. Optimized builds (Debian's) are fine.
 * PETSc is not thread-safe here: the manager is (any thread may allocate), so nothing more is
 * needed. A failed allocation requested directly from a function named main aborts the run:
 * PETSc's rule for errors raised in main.
 */
#ifndef QDSIM_MEM_PETSC_H
#define QDSIM_MEM_PETSC_H

#include <petscsys.h>
#include <string.h>

#include "qdsim_mem.h"

/* PETSc 3.19 names the success code; 3.18 returns 0. */
#ifndef PETSC_SUCCESS
#define PETSC_SUCCESS 0
#endif

/* The manager PETSc allocates from (NULL until installed). */
static qdsim_manager *qdsim_petsc_manager_ = NULL;

/* "petsc:<function>", cut to the manager's tag limit (QDSIM_TAG_CAPACITY − 1 bytes). */
static void qdsim_petsc_tag_(const char *function, char tag[QDSIM_TAG_CAPACITY])
{
    static const char prefix[] = "petsc:";
    size_t room = QDSIM_TAG_CAPACITY - sizeof prefix; /* bytes left for the name */
    size_t len = function ? strlen(function) : 0;
    if (len > room) len = room;
    memcpy(tag, prefix, sizeof prefix - 1);
    if (len) memcpy(tag + sizeof prefix - 1, function, len);
    tag[sizeof prefix - 1 + len] = '\0';
}

/* PETSc's malloc: `size` bytes (zeroed when `clear`), 64-byte aligned (PETSc asks 16); NULL for 0. */
static PetscErrorCode qdsim_petsc_malloc_(size_t size, PetscBool clear, int line,
                                          const char function[], const char file[],
                                          void **result)
{
    char tag[QDSIM_TAG_CAPACITY];
    void *p = NULL;
    qdsim_status st;
    if (!size) { /* PETSc's own allocators give NULL for 0 bytes, and its code relies on it */
        *result = NULL;
        return PETSC_SUCCESS;
    }
    qdsim_petsc_tag_(function, tag);
    st = clear ? qdsim_manager_alloc_zeroed(qdsim_petsc_manager_, QDSIM_POOL_BYTES, size, 0, tag, &p)
               : qdsim_manager_alloc_bytes(qdsim_petsc_manager_, size, tag, &p);
    if (st != QDSIM_OK)
        return PetscError(PETSC_COMM_SELF, line, function, file, PETSC_ERR_MEM, PETSC_ERROR_INITIAL,
                          "qdsim manager refused %zu bytes (%s): %s", size,
                          qdsim_status_string(st), qdsim_last_error_message());
    *result = p;
    return PETSC_SUCCESS;
}

/* PETSc's free: a pointer the manager does not own (or a damaged block) is PETSC_ERR_MEMC. */
static PetscErrorCode qdsim_petsc_free_(void *ptr, int line, const char function[],
                                        const char file[])
{
    qdsim_status st = qdsim_manager_free(qdsim_petsc_manager_, ptr);
    if (st != QDSIM_OK)
        return PetscError(PETSC_COMM_SELF, line, function, file, PETSC_ERR_MEMC, PETSC_ERROR_INITIAL,
                          "qdsim manager refused to free %p (%s): %s", ptr,
                          qdsim_status_string(st), qdsim_last_error_message());
    return PETSC_SUCCESS;
}

/* PETSc's realloc, as C's: NULL allocates, size 0 frees (and gives NULL); on failure the old
 * block stays valid and unchanged. The old size comes from the manager (qdsim_manager_find). */
static PetscErrorCode qdsim_petsc_realloc_(size_t size, int line, const char function[],
                                           const char file[], void **result)
{
    qdsim_allocation_info old;
    void *fresh = NULL;
    qdsim_status st;
    if (!*result) return qdsim_petsc_malloc_(size, PETSC_FALSE, line, function, file, result);
    if (!size) {
        PetscErrorCode err = qdsim_petsc_free_(*result, line, function, file);
        if (!err) *result = NULL;
        return err;
    }
    st = qdsim_manager_find(qdsim_petsc_manager_, *result, &old);
    if (st != QDSIM_OK)
        return PetscError(PETSC_COMM_SELF, line, function, file, PETSC_ERR_MEMC, PETSC_ERROR_INITIAL,
                          "qdsim manager cannot reallocate %p (%s): %s", *result,
                          qdsim_status_string(st), qdsim_last_error_message());
    if (qdsim_petsc_malloc_(size, PETSC_FALSE, line, function, file, &fresh)) return PETSC_ERR_MEM;
    memcpy(fresh, *result, old.size < size ? (size_t)old.size : size);
    if (qdsim_petsc_free_(*result, line, function, file)) {
        (void)qdsim_manager_free(qdsim_petsc_manager_, fresh);
        return PETSC_ERR_MEMC;
    }
    *result = fresh;
    return PETSC_SUCCESS;
}

/* Makes `manager` PETSc's allocator. Call once, before PetscInitialize (or SlepcInitialize). */
static inline PetscErrorCode qdsim_petsc_malloc_install(qdsim_manager *manager)
{
    if (!manager) return PETSC_ERR_ARG_NULL;
    qdsim_petsc_manager_ = manager;
    return PetscMallocSet(qdsim_petsc_malloc_, qdsim_petsc_free_, qdsim_petsc_realloc_);
}

/* Prints one line per rank of `comm`, in rank order: the bytes PETSc holds now, its peak, its
 * allocations and the manager's limit. Collective; call before PetscFinalize. */
static inline PetscErrorCode qdsim_petsc_malloc_report(MPI_Comm comm, const qdsim_manager *manager)
{
    qdsim_stats s;
    qdsim_manager_config c;
    PetscMPIInt rank;
    if (qdsim_manager_stats(manager, &s) != QDSIM_OK || qdsim_manager_get_config(manager, &c) != QDSIM_OK)
        SETERRQ(comm, PETSC_ERR_LIB, "qdsim_petsc_malloc_report: %s", qdsim_last_error_message());
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    PetscCall(PetscSynchronizedPrintf(
        comm,
        "[rank %d] PETSc memory in the qdsim manager: %.2f MiB in use, peak %.2f MiB, "
        "%llu allocations, limit %.0f MiB (0: none)\n",
        (int)rank, s.bytes_in_use / 1048576.0, s.peak_bytes_in_use / 1048576.0,
        (unsigned long long)s.allocation_count, c.memory_limit / 1048576.0));
    PetscCall(PetscSynchronizedFlush(comm, PETSC_STDOUT));
    return PETSC_SUCCESS;
}

/* After PetscFinalize: writes the number of PETSc blocks still live to `*leaked` (0 when PETSc
 * freed everything) and prints the leak report to stderr when there are any. Returns 0, or the
 * qdsim status of a failed query. */
static inline int qdsim_petsc_malloc_finish(const qdsim_manager *manager, unsigned long long *leaked)
{
    qdsim_leak_summary l;
    qdsim_status st = qdsim_manager_leak_summary(manager, &l);
    if (st != QDSIM_OK) return (int)st;
    *leaked = (unsigned long long)l.count;
    if (l.count) {
        char *text = NULL;
        if (qdsim_manager_leak_report(manager, &text) == QDSIM_OK) {
            fprintf(stderr, "PETSc blocks still live after PetscFinalize:\n%s\n", text);
            qdsim_string_free(text);
        }
    }
    return 0;
}

#endif /* QDSIM_MEM_PETSC_H */
