// The C++ wrappers (qdsim_mem.hpp): RAII release, move semantics, errors as qdsim::error with
// status and message, typed arrays, matrices, CSR, the Hamiltonian and a solve with a callback
// (including an exception thrown inside it, which must cancel the solve and come back out).
#include <cmath>
#include <cstdio>
#include <cstring>

#include "qdsim_mem.hpp"

#define EXPECT(cond)                                                                  \
    do {                                                                              \
        if (!(cond)) {                                                                \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            return 1;                                                                 \
        }                                                                             \
    } while (0)

template <typename F>
static bool throws(qdsim_status status, const char *needle, F f) {
    try {
        f();
    } catch (const qdsim::error &e) {
        return e.status() == status && std::strstr(e.what(), needle) != nullptr;
    }
    return false;
}

int main() {
    qdsim::check_abi();
    qdsim_manager_config cfg = qdsim::manager::default_config();
    cfg.memory_limit = 1 << 20;
    qdsim::manager m(cfg);
    {
        auto a = m.alloc<double>(1000, "a");
        auto z = m.alloc_zeroed<std::complex<double>>(100, "z");
        EXPECT(reinterpret_cast<std::uintptr_t>(a.data()) % 64 == 0);
        EXPECT(z[7] == std::complex<double>(0, 0));
        qdsim::pool_array<double> moved = std::move(a);
        EXPECT(a.data() == nullptr && moved.size() == 1000);
        EXPECT(m.stats().live_allocations == 2);
        EXPECT(m.tag_stats("z").bytes_in_use == 1600);
        EXPECT(throws(QDSIM_ERR_LIMIT_EXCEEDED, "would exceed the memory limit", [&] { m.alloc<double>(200000, "big"); }));
        EXPECT(throws(QDSIM_ERR_NOT_FOUND, "nobody", [&] { m.tag_stats("nobody"); }));
        EXPECT(m.tags().size() == 3);
    }
    EXPECT(m.stats().live_allocations == 0);  // RAII gave everything back

    // Matrices and CSR.
    qdsim::matrix<std::complex<double>> A(m, 3, 2, "A"), B(m, 2, 3, "B");
    A(2, 1) = {1.0, 2.0};
    B.adjoint_from(A);
    EXPECT(B(1, 2) == std::complex<double>(1.0, -2.0));
    EXPECT(throws(QDSIM_ERR_INVALID_ARGUMENT, "same matrix", [&] { B.transpose_from(B); }));
    qdsim::csr_builder builder(m, QDSIM_SCALAR_REAL, 2, 2, "t");
    builder.add(0, 0, 2.0);
    builder.add(1, 1, 3.0);
    builder.add(0, 1, -1.0);
    builder.add(1, 0, -1.0);
    qdsim::csr t = builder.finalize();
    double x[2] = {1, 1}, y[2];
    t.spmv(1.0, {x, 2}, 0.0, {y, 2});
    EXPECT(y[0] == 1.0 && y[1] == 2.0);
    EXPECT(throws(QDSIM_ERR_INVALID_ARGUMENT, "x must have 2", [&] { t.spmv(1.0, {x, 1}, 0.0, {y, 2}); }));
    // The same matrix through MatrixMarket and PETSc files and back.
    t.write_matrix_market("cxx_wrappers_t.mtx");
    t.write_petsc("cxx_wrappers_t.petsc");
    auto same_as_t = [&](const qdsim::csr &u) {
        double z[2];
        u.spmv(1.0, {x, 2}, 0.0, {z, 2});
        return z[0] == y[0] && z[1] == y[1] && u.info().nnz == 4;
    };
    EXPECT(same_as_t(qdsim::read_matrix_market(m, "cxx_wrappers_t.mtx")));
    EXPECT(same_as_t(qdsim::read_petsc(m, "cxx_wrappers_t.petsc")));
    std::remove("cxx_wrappers_t.mtx");
    std::remove("cxx_wrappers_t.petsc");
    EXPECT(throws(QDSIM_ERR_IO, "no_such", [&] { qdsim::read_petsc(m, "no_such.petsc"); }));
    // The same matrix in a mapped file: opened with its checksums verified, verified again.
    {
        qdsim_mapped *raw = nullptr;
        qdsim::check(qdsim_mapped_from_csr(t.get(), "cxx_wrappers_t.qdm", &raw));
        qdsim::mapped written(raw);
        written.verify();
        qdsim::mapped opened = qdsim::mapped::open_verified("cxx_wrappers_t.qdm");
        EXPECT(opened.info().nnz == 4 && opened.info().writable == 0);
        opened.verify();
        EXPECT(qdsim::mapped::open("cxx_wrappers_t.qdm", true).info().writable == 1);
        EXPECT(throws(QDSIM_ERR_IO, "no_such", [&] { qdsim::mapped::open_verified("no_such.qdm"); }));
        EXPECT(throws(QDSIM_ERR_NULL_ARGUMENT, "mapped is NULL", [&] { qdsim::mapped(nullptr).verify(); }));
    }
    std::remove("cxx_wrappers_t.qdm");

    // The physics helpers: the vector and the span forms write the same potential; errors throw.
    {
        const qdsim_grid g = qdsim::box_grid({60.0, 40.0}, {30, 20});
        EXPECT(qdsim::grid_points(g) == 600 && qdsim::mass_gaas == QDSIM_MASS_GAAS);
        std::vector<double> v = qdsim::parabolic_potential(g, qdsim::mass_inas, 0.02);
        auto p = m.alloc<double>(600, "V");
        qdsim::parabolic_potential(g, qdsim::mass_inas, 0.02, p.view());
        EXPECT(v.size() == 600 && std::memcmp(v.data(), p.data(), 600 * sizeof(double)) == 0);
        // (0,0) is at (60/31 - 30, 40/21 - 20) nm from the centre.
        const double x = 60.0 / 31 - 30, y = 40.0 / 21 - 20;
        const double expected = 0.02 * 0.02 * (x * x + y * y) / (4 * qdsim::hbar2_over_2m0 / qdsim::mass_inas);
        EXPECT(std::fabs(v[0] - expected) <= 1e-13 * expected);
        std::vector<double> dot = qdsim::open_dot_potential(g, 8.0, 3.0, 0.3);
        EXPECT(dot.size() == 600 && dot[0] == 0.0);
        EXPECT(throws(QDSIM_ERR_INVALID_ARGUMENT, "mass -1", [&] { qdsim::parabolic_potential(g, -1.0, 0.02); }));
        EXPECT(throws(QDSIM_ERR_INVALID_ARGUMENT, "out needs 600 values",
                      [&] { qdsim::parabolic_potential(g, 0.067, 0.02, qdsim::span<double>(p.data(), 599)); }));
        qdsim_grid bad = g;
        bad.dims = 7;
        EXPECT(qdsim::grid_points(bad) == 0);
        EXPECT(throws(QDSIM_ERR_INVALID_ARGUMENT, "grid.dims 7", [&] { qdsim::open_dot_potential(bad, 8.0, 3.0, 0.3); }));
    }

    // A solve: the 49x49 box of docs/validation.md case 1.
    auto zero = m.alloc_zeroed<double>(49 * 49, "V");
    qdsim_hamiltonian_desc d = qdsim::hamiltonian_desc(qdsim::box_grid({20.0, 20.0}, {49, 49}), zero.data());
    qdsim::eigen_options o;
    o.c.k = 3;
    int calls = 0;
    o.progress = [&](const qdsim_progress &) { return ++calls < 0; };
    qdsim_manager_config big = qdsim::manager::default_config();
    qdsim::manager m2(big);
    qdsim::eigen_result r = qdsim::solve_lowest(m2, d, o);
    std::vector<double> e = r.values();
    EXPECT(r.converged() && calls > 0);
    EXPECT(std::fabs(e[0] * 1e3 - 28.05272) < 1e-5 && std::fabs(e[1] * 1e3 - 70.07645) < 1e-5);
    EXPECT(r.vector<double>(0).size() == 49 * 49);
    EXPECT(throws(QDSIM_ERR_INVALID_ARGUMENT, "element type", [&] { r.vector<std::complex<double>>(0); }));
    // The same box on the GPU where there is one; elsewhere NO_DEVICE with its reason.
    try {
        qdsim::gpu_pool pool(0);
        qdsim::eigen_options og;
        og.c.k = 3;
        qdsim::eigen_result g = qdsim::gpu_solve_lowest(pool, m2, d, og);
        std::vector<double> eg = g.values();
        /* Both certified ||r|| <= 1e-6 max(|E|, s): eigenvalue errors ~||r||^2/gap << 1e-9 eV. */
        EXPECT(g.converged() && std::fabs(eg[0] - e[0]) < 1e-9 && std::fabs(eg[2] - e[2]) < 1e-9);
        EXPECT(pool.stats().live_allocations == 0);
    } catch (const qdsim::error &ex) {
        EXPECT(ex.status() == QDSIM_ERR_NO_DEVICE);
        std::printf("skipped: GPU solve: %s\n", ex.what());
    }
    // Resonances of the same box made open (an absorber on both x faces): the grid solver and the
    // CSR solver on the assembled matrix give the same values (both to residual 1e-9 |E| on
    // well-separated eigenvalues: agreement ~1e-9 relative, checked at 1e-7).
    {
        qdsim_hamiltonian_desc od = d;
        od.absorber = qdsim_absorber{QDSIM_FACE_X_MIN | QDSIM_FACE_X_MAX, 2, 5.0, 0.05};
        qdsim::eigen_options ro;
        ro.c.k = 2;
        ro.c.tolerance = 1e-9;
        qdsim::eigen_result g = qdsim::solve_resonances(m2, od, {0.05, 0.0}, ro);
        EXPECT(g.converged() && g.info().complex_values == 1 && g.info().count == 2);
        qdsim::csr oh = qdsim::hamiltonian_csr(m2, od);
        qdsim::eigen_result c = qdsim::solve_resonances(oh, {0.05, 0.0}, 2, 1e-9);
        std::vector<std::complex<double>> eg = g.complex_values(), ec = c.complex_values();
        EXPECT(c.converged() && std::abs(eg[0] - ec[0]) < 1e-7 * std::abs(ec[0]) &&
               std::abs(eg[1] - ec[1]) < 1e-7 * std::abs(ec[1]) && eg[0].imag() < 0.0);
    }
    // An exception inside the callback cancels the solve and is rethrown to the caller.
    o.progress = [](const qdsim_progress &) -> bool { throw std::runtime_error("stop here"); };
    bool rethrown = false;
    try {
        qdsim::solve_lowest(m2, d, o);
    } catch (const std::runtime_error &ex) {
        rethrown = std::strcmp(ex.what(), "stop here") == 0;
    }
    EXPECT(rethrown);

    // Profiler, scopes and leak checks.
    {
        qdsim::profiler prof(m2, 0.005);
        prof.start();
        std::uint64_t checkpoint = m2.checkpoint();
        qdsim::scope phase(m2, "phase");
        auto kept = m2.alloc<double>(4096, "kept");
        { auto freed = m2.alloc<double>(1024, "freed"); }
        prof.mark("allocated");
        qdsim_scope_stats st = phase.finish();
        EXPECT(std::strcmp(st.name, "phase") == 0 && st.allocations == 2 && st.frees == 1);
        EXPECT(st.net_bytes == 4096 * 8 && st.peak_bytes_in_use >= st.bytes_in_use_at_start + 5120 * 8);
        EXPECT(throws(QDSIM_ERR_INVALID_ARGUMENT, "finished twice", [&] { phase.finish(); }));
        std::string report;
        qdsim_leak_check leaks = m2.leaks_since(checkpoint, 1, &report);
        EXPECT(leaks.count == 1 && leaks.bytes == 4096 * 8 && leaks.is_leak == 1);
        EXPECT(report.find("kept") != std::string::npos);
        prof.stop();
        qdsim_profile_summary ps = prof.summary();
        EXPECT(ps.marks == 1 && ps.samples >= 1 && ps.running == 0);
        EXPECT(prof.to_string(QDSIM_FORMAT_SVG).find("allocated") != std::string::npos);
        EXPECT(throws(QDSIM_ERR_INVALID_ARGUMENT, "format 9", [&] { prof.to_string(9); }));
        { qdsim::scope unfinished(m2, "unfinished"); }  // the destructor pops it
        EXPECT(throws(QDSIM_ERR_INVALID_ARGUMENT, "push_scope first", [&] { m2.pop_scope(); }));
    }
    std::printf("test_hpp: ok\n");
    return 0;
}
