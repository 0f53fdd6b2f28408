// The C header compiles as C++17 (extern "C", the enum with a fixed underlying type) and its
// types are layout-compatible with the C++ types users pass: std::complex<double>.
#include <complex>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "qdsim_mem.h"

static_assert(sizeof(qdsim_complex) == sizeof(std::complex<double>), "qdsim_complex layout");
static_assert(alignof(qdsim_complex) == alignof(std::complex<double>), "qdsim_complex alignment");
static_assert(std::is_same<std::underlying_type<qdsim_status>::type, int32_t>::value, "status is int32_t");
static_assert(std::is_standard_layout<qdsim_stats>::value, "qdsim_stats is plain data");

int main() {
    if (qdsim_abi_version() != QDSIM_MEM_ABI_VERSION) return 1;
    qdsim_manager *m = nullptr;
    if (qdsim_manager_create(nullptr, &m) != QDSIM_OK) return 1;
    qdsim_complex *z = nullptr;
    if (qdsim_manager_alloc_complex(m, 64, "cxx", &z) != QDSIM_OK) return 1;
    auto *w = reinterpret_cast<std::complex<double> *>(z);
    for (int i = 0; i < 64; ++i) w[i] = {double(i), -double(i)};
    if (z[10].re != 10.0 || z[10].im != -10.0) return 1;
    qdsim_status st = qdsim_manager_free(m, z);
    if (st != QDSIM_OK) return 1;
    st = qdsim_manager_free(m, z);
    if (st != QDSIM_ERR_NOT_OWNED || std::strstr(qdsim_last_error_message(), "double free") == nullptr) return 1;
    if (qdsim_manager_destroy(m) != QDSIM_OK) return 1;
    std::printf("test_header_cxx: ok\n");
    return 0;
}
