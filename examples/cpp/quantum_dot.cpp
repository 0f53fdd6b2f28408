// The quantum-dot example in C++17 (twin of examples/c/quantum_dot.c): RAII handles from
// qdsim_mem.hpp, errors as qdsim::error, the potential in a qdsim::pool_array.
//
//   ./quantum_dot_cpp [points-per-axis (1000)] [states (10)] [--bits]
// With --bits every energy is also printed as its IEEE-754 bit pattern (the CTest compares the C,
// C++ and Fortran twins bit for bit).
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "qdsim_mem.hpp"

int main(int argc, char **argv) try {
    const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000;
    const std::size_t k = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 10;
    const bool bits = argc > 3 && std::strcmp(argv[3], "--bits") == 0;
    const double hw = 0.010, length = 120.0, mass = qdsim::mass_gaas;
    qdsim::check_abi();

    qdsim::manager m;
    qdsim_grid grid = qdsim::box_grid({length, length}, {n, n});
    auto v = m.alloc<double>(n * n, "potential");
    qdsim::parabolic_potential(grid, mass, hw, v.view());  // (hw)^2 r^2 / (4 hbar^2/2m*)
    qdsim_hamiltonian_desc d = qdsim::hamiltonian_desc(grid, v.data());
    d.mass = mass;

    qdsim::eigen_options options;
    options.c.k = k;
    options.progress = [](const qdsim_progress &p) {
        std::fprintf(stderr, "\r  level %zu/%zu  iteration %3zu  %2zu/%zu converged  residual %.1e   ",
                     p.levels - p.level, p.levels, p.iteration, p.converged, p.wanted, p.max_residual);
        return false;  // true would cancel
    };
    std::printf("2D GaAs parabolic dot: hw = 10 meV, 120 nm box, %zu x %zu grid, lowest %zu states\n", n, n, k);
    qdsim::eigen_result r = qdsim::solve_lowest(m, d, options);
    std::fprintf(stderr, "\n");

    std::vector<double> e = r.values(), res = r.residuals();
    std::printf("%4s %14s %12s %12s %12s\n", "n", "E (meV)", "exact (meV)", "error (meV)", "residual");
    std::size_t shell = 0, in_shell = 0;
    for (std::size_t i = 0; i < e.size(); ++i) {
        double exact = hw * double(shell + 1);
        std::printf("%4zu %14.6f %12.3f %12.2e %12.2e\n", i, e[i] * 1e3, exact * 1e3, (e[i] - exact) * 1e3, res[i]);
        if (++in_shell == shell + 1) { ++shell; in_shell = 0; }
    }
    if (bits)
        for (double x : e) {
            std::uint64_t b;
            std::memcpy(&b, &x, sizeof b);
            std::printf("bits %016" PRIX64 "\n", b);
        }
    const qdsim_eigen_info &info = r.info();
    std::printf("multigrid LOBPCG in %.2f s: %zu iterations, %zu/%zu converged\n", info.seconds, info.iterations,
                info.converged, info.count);
    std::printf("peak pool memory during the solve: %.1f MiB\n\n", double(info.peak_pool_bytes) / 1048576.0);
    std::cout << m.allocation_report();
    return r.converged() ? 0 : 1;
} catch (const qdsim::error &e) {
    std::cerr << "\nqdsim error: " << e.what() << "\n";
    return 1;
}
