/* Valgrind client requests for the memory manager's debug mode (src/memory/debug/valgrind.rs).
 *
 * Compiled by build.rs only when valgrind's headers are installed (Debian: the `valgrind`
 * package); the requests are the official macros of <valgrind/memcheck.h>, which cost a few
 * instructions and do nothing when the program does not run under valgrind. */
#include <stddef.h>
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

unsigned qdsim_vg_running(void) { return (unsigned)RUNNING_ON_VALGRIND; }

void qdsim_vg_malloclike(const void *addr, size_t len, int zeroed) {
    VALGRIND_MALLOCLIKE_BLOCK(addr, len, 0, zeroed);
}

void qdsim_vg_freelike(const void *addr) { VALGRIND_FREELIKE_BLOCK(addr, 0); }

void qdsim_vg_no_access(const void *addr, size_t len) { VALGRIND_MAKE_MEM_NOACCESS(addr, len); }

void qdsim_vg_undefined(const void *addr, size_t len) { VALGRIND_MAKE_MEM_UNDEFINED(addr, len); }

void qdsim_vg_defined(const void *addr, size_t len) { VALGRIND_MAKE_MEM_DEFINED(addr, len); }
