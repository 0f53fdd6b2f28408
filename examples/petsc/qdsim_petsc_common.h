/* Shared by the PETSc/SLEPc examples: checking qdsim calls inside PETSc code, building this
 * rank's rows of a grid Hamiltonian as a PETSc MPIAIJ matrix with qdsim_hamiltonian_assemble_rows
 * (no global matrix anywhere), and the per-rank peak RSS. */
#ifndef QDSIM_PETSC_COMMON_H
#define QDSIM_PETSC_COMMON_H

#include <petscmat.h>
#include <sys/resource.h>

#include "qdsim_mem.h"

#if defined(PETSC_USE_COMPLEX)
/* A complex build hands qdsim's complex values to PETSc as PetscScalar arrays: qdsim_complex is
 * {double re, im}; PetscScalar is C99's double _Complex, which has "the same representation and
 * alignment as an array of two" doubles, real part first (C11 6.2.5p13). Only the size and the
 * alignment can differ by configuration (a single- or quad-precision PETSc): check them. */
_Static_assert(sizeof(qdsim_complex) == sizeof(PetscScalar),
               "qdsim_complex and PetscScalar differ in size: PETSc must use double precision");
_Static_assert(_Alignof(qdsim_complex) == _Alignof(PetscScalar),
               "qdsim_complex and PetscScalar differ in alignment");
#endif

/* A failed qdsim call becomes a PETSc error carrying the library's message. */
#define QCALL(call)                                                                            \
    do {                                                                                       \
        qdsim_status qst_ = (call);                                                            \
        if (qst_ != QDSIM_OK)                                                                  \
            SETERRQ(PETSC_COMM_SELF, PETSC_ERR_LIB, "%s: %s: %s", #call,                       \
                    qdsim_status_string(qst_), qdsim_last_error_message());                    \
    } while (0)

/* This rank's rows of the Hamiltonian of `d` (PETSc's default split of N rows), assembled by
 * qdsim into the manager `m` and copied by PETSc into a new MPIAIJ matrix `*A`; the slab is
 * destroyed before returning, so qdsim holds nothing afterwards. */
static inline PetscErrorCode qdsim_petsc_hamiltonian(MPI_Comm comm, qdsim_manager *m,
                                              const qdsim_hamiltonian_desc *d, Mat *A)
{
    PetscInt N = 1, local = PETSC_DECIDE, begin = 0;
    for (int a = 0; a < d->grid.dims; ++a) N *= (PetscInt)d->grid.axes[a].points;
    PetscCall(PetscSplitOwnership(comm, &local, &N));
    PetscCallMPI(MPI_Scan(&local, &begin, 1, MPIU_INT, MPI_SUM, comm));
    begin -= local;
    qdsim_csr *slab = NULL;
    QCALL(qdsim_hamiltonian_assemble_rows(m, d, PetscDefined(USE_COMPLEX) ? QDSIM_SCALAR_COMPLEX
                                                                          : QDSIM_SCALAR_REAL,
                                          (size_t)begin, (size_t)(begin + local),
                                          (int32_t)(8 * sizeof(PetscInt)), "slab", &slab));
    const void *rp = NULL, *ci = NULL, *v = NULL;
    QCALL(qdsim_csr_arrays(slab, &rp, &ci, &v));
    /* qdsim_complex is layout-compatible with PetscScalar in a complex build, double in a real
     * one; the index width was asked to be PetscInt's. */
    PetscCall(MatCreateMPIAIJWithArrays(comm, local, local, N, N, (const PetscInt *)rp,
                                        (const PetscInt *)ci, (const PetscScalar *)v, A));
    QCALL(qdsim_csr_destroy(slab));
    return 0;
}

/* Peak resident set size of this process, MiB. */
static inline double qdsim_peak_rss_mib(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0;
}

#endif
