// Two C++ threads share one qdsim::manager: each allocates, fills and frees its own tagged
// arrays while the other does the same; the statistics add up at the end.
#include <cstdio>
#include <thread>
#include <vector>

#include "qdsim_mem.hpp"

static void worker(qdsim::manager &m, int id, int rounds) {
    const char *tag = id == 0 ? "thread0.work" : "thread1.work";
    for (int r = 0; r < rounds; ++r) {
        auto a = m.alloc<double>(1000 + 37 * r, tag);
        auto z = m.alloc_zeroed<std::complex<double>>(500, tag);
        for (std::size_t i = 0; i < a.size(); ++i) a[i] = id * 1e6 + r + double(i);
        for (std::size_t i = 0; i < a.size(); ++i)
            if (a[i] != id * 1e6 + r + double(i)) throw qdsim::error(QDSIM_ERR_INTERNAL, "canary overwritten");
        for (auto &v : z)
            if (v != std::complex<double>(0, 0)) throw qdsim::error(QDSIM_ERR_INTERNAL, "not zeroed");
    }  // arrays are freed here, every round
}

int main() try {
    qdsim::check_abi();
    qdsim::manager m;
    const int rounds = 200;
    std::thread t0(worker, std::ref(m), 0, rounds), t1(worker, std::ref(m), 1, rounds);
    t0.join();
    t1.join();
    qdsim_stats s = m.stats();
    std::printf("allocations %llu, frees %llu, live %llu, in use %llu bytes, peak %llu bytes\n",
                (unsigned long long)s.allocation_count, (unsigned long long)s.free_count,
                (unsigned long long)s.live_allocations, (unsigned long long)s.bytes_in_use,
                (unsigned long long)s.peak_bytes_in_use);
    for (const qdsim_tag_stats &t : m.tags())
        std::printf("  %-14s %llu allocations, peak %llu bytes\n", t.name, (unsigned long long)t.allocation_count,
                    (unsigned long long)t.peak_bytes_in_use);
    return s.allocation_count == 4u * rounds && s.live_allocations == 0 && s.bytes_in_use == 0 ? 0 : 1;
} catch (const qdsim::error &e) {
    std::fprintf(stderr, "qdsim error: %s\n", e.what());
    return 1;
}
