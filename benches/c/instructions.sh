#!/usr/bin/env bash
# Instructions per alloc + free pair of the small-object churn (benches/c/alloc_churn.c, 1
# thread) for glibc, mimalloc and qdsim_manager_alloc_bytes/qdsim_manager_free, counted by
# valgrind's callgrind: exact and repeatable where times are noisy. Each allocator runs 3 passes
# and 1 pass over the same random sequence of 100 000 steps; the difference, divided by the
# pairs of two passes (each: 10 000 initial blocks allocated and freed, 100 000 steps), is the
# cost of one pair with the loop's own work (reading the sequence, writing 8 bytes of each new
# block; the same for every allocator), without the setup (drawing the sequence, creating the
# manager).
#
# Usage: benches/c/instructions.sh [build dir]   (default: build, a CMake build directory, where
# it builds bench_alloc_churn_c; a directory without CMakeCache.txt must hold that program)
set -euo pipefail
build=${1:-build}
command -v valgrind > /dev/null || { echo "skipped: valgrind not installed"; exit 0; }
if [[ -f "$build/CMakeCache.txt" ]]; then
    cmake --build "$build" --target bench_alloc_churn_c > /dev/null
fi
bench="$build/bench_alloc_churn_c"
count() { # allocator passes -> instructions
    # QDSIM_MEM_DEBUG=off: under valgrind the manager would turn its red zones on by itself.
    QDSIM_MEM_DEBUG=off valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$bench" --only "$1" "$2" 100000 2>&1 | awk '/Collected/ {print $NF}' | tr -d ','
}
printf '%-32s %18s\n' "allocator (1 thread)" "instructions/pair"
for allocator in glibc mimalloc qdsim; do
    three=$(count "$allocator" 3 || true)
    one=$(count "$allocator" 1 || true)
    if [[ -z "$three" || -z "$one" ]]; then
        printf '%-32s %18s\n' "$allocator" "skipped (not available)"
        continue
    fi
    printf '%-32s %18d\n' "$allocator" $(((three - one) / (2 * (100000 + 10000))))
done
