/* PETSc's own memory accounting against the qdsim manager's, for the SLEPc examples.
 *
 * PETSc counts its allocations only inside its tracing allocator — the one that -malloc_view,
 * -malloc_debug, -malloc_dump and -log_view_memory install — and PetscMallocSet, which
 * qdsim_mem_petsc.h uses, replaces that allocator: with the qdsim manager installed
 * PetscMallocGetCurrentUsage and PetscMallocGetMaximumUsage read 0, and -malloc_view or
 * -malloc_debug make PetscInitialize fail (PetscMallocSet: "cannot call multiple times").
 * One run cannot be counted by both.
 *
 * Nor can two PETSc sessions of one process: PetscFinalize does not reset everything (the
 * composed-data ids of PetscObjectComposedDataRegister keep growing, so every later session's
 * objects carry longer arrays; the first session registers a few functions that later ones do
 * not), so a second session's counts differ from the first's.
 *
 * So the examples compare two processes that do the same work: one run with PETSc's tracing
 * allocator (what -malloc_view installs, counting requested bytes as -malloc_requested_size
 * does) writes every rank's counts to a file, and the run with the qdsim manager reads them and
 * compares rank by rank. Both count the requested bytes of the same PetscMalloc and PetscFree
 * calls, so they must agree to the byte. "The same" up to rounding: on 2 ranks the Krylov–Schur
 * + MUMPS energies differ in their last bits from run to run, so an iteration can come and go
 * and with it a few short-lived allocations (the manager's allocation count varies by a
 * handful); those are freed before the checkpoint and have stayed below the peak in every run
 * measured (docs/mpi.md).
 */
#ifndef QDSIM_PETSC_ACCOUNTING_H
#define QDSIM_PETSC_ACCOUNTING_H

#include <petscsys.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "qdsim_mem.h"
#include "qdsim_mem_petsc.h"

/* Bytes PETSc holds at a checkpoint, and the most it held at once up to it. */
typedef struct {
    double in_use;
    double peak;
} qdsim_petsc_usage;

/* Call before PetscInitialize / SlepcInitialize instead of qdsim_petsc_malloc_install: PETSc's
 * tracing allocator (PetscMallocSetDebug, as -malloc_view sets it up, without the heap check at
 * every call), counting requested bytes rather than bytes rounded up to PETSC_MEMALIGN. */
static inline PetscErrorCode qdsim_petsc_own_accounting(void)
{
    PetscCall(PetscMallocSetDebug(PETSC_FALSE, PETSC_FALSE));
    PetscCall(PetscMallocLogRequestedSizeSet(PETSC_TRUE));
    return 0;
}

/* Before PetscInitialize / SlepcInitialize: PETSc's own tracing allocator when the run writes
 * its counts (`own_malloc_file` set, --petsc-own-malloc), else the manager `pm`. */
static inline PetscErrorCode qdsim_petsc_allocator_install(const char *own_malloc_file,
                                                           qdsim_manager *pm)
{
    return own_malloc_file ? qdsim_petsc_own_accounting() : qdsim_petsc_malloc_install(pm);
}

/* PETSc's own counts (after qdsim_petsc_own_accounting): the bytes in use now and the high-water
 * mark, the "Maximum memory PetscMalloc()ed" that -malloc_view prints. */
static inline PetscErrorCode qdsim_petsc_usage_petsc(qdsim_petsc_usage *u)
{
    PetscLogDouble in_use, peak;
    PetscCall(PetscMallocGetCurrentUsage(&in_use));
    PetscCall(PetscMallocGetMaximumUsage(&peak));
    u->in_use = (double)in_use;
    u->peak = (double)peak;
    return 0;
}

/* The same counts from the manager PETSc allocates from (a manager for PETSc alone). */
static inline PetscErrorCode qdsim_petsc_usage_manager(const qdsim_manager *pm, qdsim_petsc_usage *u)
{
    qdsim_stats s;
    if (qdsim_manager_stats(pm, &s) != QDSIM_OK)
        SETERRQ(PETSC_COMM_SELF, PETSC_ERR_LIB, "qdsim_manager_stats: %s", qdsim_last_error_message());
    u->in_use = (double)s.bytes_in_use;
    u->peak = (double)s.peak_bytes_in_use;
    return 0;
}

/* Rank 0 writes every rank's counts to `path`: a line naming the run (`run`, e.g.
 * "slepc_dot n=60 k=10", and the number of ranks), then "<rank> <peak> <in use>" per rank.
 * Collective. */
static inline PetscErrorCode qdsim_petsc_usage_write(MPI_Comm comm, const char *path, const char *run,
                                                     const qdsim_petsc_usage *u)
{
    PetscMPIInt rank, size;
    double mine[2] = {u->peak, u->in_use}, *all = NULL;
    int failed = 0;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    PetscCallMPI(MPI_Comm_size(comm, &size));
    if (rank == 0) PetscCall(PetscMalloc1(2 * (size_t)size, &all));
    PetscCallMPI(MPI_Gather(mine, 2, MPI_DOUBLE, all, 2, MPI_DOUBLE, 0, comm));
    if (rank == 0) {
        FILE *f = fopen(path, "w");
        if (f) {
            fprintf(f, "%s ranks=%d\n", run, (int)size);
            for (PetscMPIInt r = 0; r < size; ++r)
                fprintf(f, "%d %.0f %.0f\n", (int)r, all[2 * r], all[2 * r + 1]);
            failed = fclose(f) != 0;
        } else {
            failed = 1;
        }
        PetscCall(PetscFree(all));
    }
    PetscCallMPI(MPI_Bcast(&failed, 1, MPI_INT, 0, comm));
    PetscCheck(!failed, comm, PETSC_ERR_FILE_WRITE, "cannot write %s", path);
    return 0;
}

/* Rank 0's part of qdsim_petsc_usage_read: 0 with the counts in `all`, 1 when there is no file,
 * 2 when it is of another run or unreadable. */
static inline int qdsim_petsc_usage_load_(const char *path, const char *run, int size, double *all)
{
    char line[512], want[512];
    FILE *f = fopen(path, "r");
    if (!f) return 1;
    snprintf(want, sizeof want, "%s ranks=%d\n", run, size);
    int bad = !fgets(line, sizeof line, f) || strcmp(line, want) != 0;
    for (int r = 0; r < size && !bad; ++r) {
        int got = -1;
        bad = fscanf(f, "%d %lf %lf", &got, &all[2 * r], &all[2 * r + 1]) != 3 || got != r;
    }
    fclose(f);
    return bad ? 2 : 0;
}

/* Reads what qdsim_petsc_usage_write wrote for the same `run` on as many ranks: this rank's counts
 * into `*u`. No file: `*found` false and a printed reason. A file of another run or number of
 * ranks is an error. Collective. */
static inline PetscErrorCode qdsim_petsc_usage_read(MPI_Comm comm, const char *path, const char *run,
                                                    qdsim_petsc_usage *u, PetscBool *found)
{
    PetscMPIInt rank, size;
    double mine[2] = {0, 0}, *all = NULL;
    int status = 0;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    PetscCallMPI(MPI_Comm_size(comm, &size));
    if (rank == 0) {
        PetscCall(PetscMalloc1(2 * (size_t)size, &all));
        status = qdsim_petsc_usage_load_(path, run, (int)size, all);
    }
    PetscCallMPI(MPI_Bcast(&status, 1, MPI_INT, 0, comm));
    PetscCheck(status != 2, comm, PETSC_ERR_FILE_UNEXPECTED,
               "%s is not PETSc's accounting of \"%s\" on %d ranks (rerun with --petsc-own-malloc)",
               path, run, (int)size);
    *found = status == 0 ? PETSC_TRUE : PETSC_FALSE;
    if (*found) {
        PetscCallMPI(MPI_Scatter(all, 2, MPI_DOUBLE, mine, 2, MPI_DOUBLE, 0, comm));
        u->peak = mine[0];
        u->in_use = mine[1];
    } else {
        PetscCall(PetscPrintf(comm, "no %s: PETSc's own accounting not compared (write it first with "
                                    "--petsc-own-malloc %s)\n", path, path));
    }
    if (rank == 0) PetscCall(PetscFree(all));
    return 0;
}

/* Prints PETSc's counts and the manager's per rank, in rank order, and sets `*mismatch` unless
 * they agree within QDSIM_PETSC_USAGE_TOLERANCE. They are expected equal to the byte (measured:
 * equal in every repetition here) because both count the requested bytes of
 * the same PetscMalloc/PetscFree sequence (PETSc's tracer adds a header and a trailer to every
 * block, but counts neither with -malloc_requested_size; the manager's 64-byte alignment is not
 * counted either). What could separate them: PETSc doing different work at the high-water mark
 * in the two processes (see the top of this file), and a PetscRealloc at the high-water mark — qdsim_mem_petsc.h allocates the new block before it
 * frees the old one, PETSc's tracer drops the old size first — which would raise the manager's
 * peak (never its bytes in use) by the old block's size. Collective. */
/* Two processes may differ by a few short-lived allocations at the high-water mark: the
 * comparison allows 1 % (a block PETSc allocated outside the manager would show as far more:
 * the smallest run's in-use count is ~0.5 MB, its peak ~4 MB). */
#define QDSIM_PETSC_USAGE_TOLERANCE 0.01

static inline PetscErrorCode qdsim_petsc_usage_compare(MPI_Comm comm, const char *program,
                                                       const qdsim_petsc_usage *petsc,
                                                       const qdsim_petsc_usage *ours, int *mismatch)
{
    PetscMPIInt rank;
    double d_in_use = fabs(petsc->in_use - ours->in_use), d_peak = fabs(petsc->peak - ours->peak);
    int bad = d_in_use > QDSIM_PETSC_USAGE_TOLERANCE * fmax(petsc->in_use, 1.0) ||
              d_peak > QDSIM_PETSC_USAGE_TOLERANCE * fmax(petsc->peak, 1.0);
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    PetscCall(PetscSynchronizedPrintf(
        comm,
        "%s [rank %d] PETSc memory: PETSc's own count (-malloc_view's tracer, requested bytes) "
        "peak %.0f B, in use %.0f B; qdsim manager peak %.0f B, in use %.0f B: %s\n",
        program, (int)rank, petsc->peak, petsc->in_use, ours->peak, ours->in_use,
        bad ? "MISMATCH" : (d_in_use == 0 && d_peak == 0) ? "equal" : "within 1 %"));
    PetscCall(PetscSynchronizedFlush(comm, PETSC_STDOUT));
    if (bad) *mismatch = 1;
    return 0;
}

/* --petsc-own-malloc FILE at the checkpoint: PETSc's own counts, printed per rank and written to
 * `path` for the run `run`. Collective. */
static inline PetscErrorCode qdsim_petsc_usage_save(MPI_Comm comm, const char *program, const char *run,
                                                    const char *path)
{
    qdsim_petsc_usage theirs = {0};
    PetscMPIInt rank;
    PetscCall(qdsim_petsc_usage_petsc(&theirs));
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    PetscCall(PetscSynchronizedPrintf(comm,
                                      "%s [rank %d] PETSc's own count of its memory: peak %.0f B, "
                                      "in use %.0f B\n",
                                      program, (int)rank, theirs.peak, theirs.in_use));
    PetscCall(PetscSynchronizedFlush(comm, PETSC_STDOUT));
    PetscCall(qdsim_petsc_usage_write(comm, path, run, &theirs));
    return 0;
}

/* --compare-petsc-usage FILE: PETSc's counts of the run `run` from `path` (when there) against
 * the manager's `ours`, per rank; `*mismatch` set when they differ. Collective. */
static inline PetscErrorCode qdsim_petsc_usage_check(MPI_Comm comm, const char *program, const char *run,
                                                     const char *path, const qdsim_petsc_usage *ours,
                                                     int *mismatch)
{
    qdsim_petsc_usage theirs = {0};
    PetscBool found = PETSC_FALSE;
    PetscCall(qdsim_petsc_usage_read(comm, path, run, &theirs, &found));
    if (found) PetscCall(qdsim_petsc_usage_compare(comm, program, &theirs, ours, mismatch));
    return 0;
}

#endif
