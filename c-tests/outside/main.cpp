// Outside-project check (C++17): the installed qdsim_mem.hpp.
#include <cstdio>

#include "qdsim_mem.hpp"

int main() {
    qdsim::check_abi();
    qdsim::manager m;
    auto z = m.alloc_zeroed<std::complex<double>>(64, "outside");
    z[3] = {1.0, 2.0};
    std::printf("outside C++: ok (%llu bytes in use)\n", (unsigned long long)m.stats().bytes_in_use);
    return m.stats().live_allocations == 1 ? 0 : 1;
}
