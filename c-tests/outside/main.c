/* Outside-project check (C): the installed header and library work together. */
#include <stdio.h>

#include "qdsim_mem.h"

int main(void) {
    if (qdsim_abi_version() != QDSIM_MEM_ABI_VERSION) return 1;
    qdsim_manager *m = NULL;
    double *v = NULL;
    if (qdsim_manager_create(NULL, &m) != QDSIM_OK) return 1;
    if (qdsim_manager_alloc_f64(m, 1000, "outside", &v) != QDSIM_OK) return 1;
    v[999] = 1.0;
    if (qdsim_manager_free(m, v) != QDSIM_OK || qdsim_manager_destroy(m) != QDSIM_OK) return 1;
    printf("outside C: ok (qdsim-mem %s)\n", qdsim_version_string());
    return 0;
}
