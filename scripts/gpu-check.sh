#!/usr/bin/env bash
# GPU checks for a machine with a GPU but no Rust toolchain, in two steps.
#
#   scripts/gpu-check.sh build   # HERE (Rust, no GPU needed): builds the library with the gpu
#                                # feature, the GPU test binary (tests/gpu.rs), the GPU bench
#                                # (benches/gpu.rs) and the C test (c-tests/test_gpu.c), and puts
#                                # them, stripped of debug info, into gpu-out/ (git-ignored).
#   scripts/gpu-check.sh run     # ON THE GPU MACHINE (needs the NVIDIA driver, and libcublas,
#                                # libcusparse and libnvrtc for the operator and solver tests):
#                                # runs every test of gpu-out/ one at a time with --nocapture,
#                                # prints a table (ok / skipped / FAILED, seconds) and the
#                                # measured timing lines, then the bench's table; exits non-zero
#                                # when a test failed. Logs go to $OUT (when set, e.g. on the
#                                # lent device machine) or gpu-out/logs. `run tests` skips the
#                                # bench, `run bench` runs only the bench.
#
# gpu-out/ must travel with the working tree to the GPU machine (it is ignored by git: carry it
# explicitly). Environment: CARGO_TARGET_DIR is honoured by `build`.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=gpu-out

build() {
    local target="${CARGO_TARGET_DIR:-target}"
    cargo build --release --locked --features gpu --lib
    local exe
    exe=$(cargo test --release --locked --features gpu --test gpu --no-run --message-format=json 2>/dev/null \
        | grep -o '"executable":"[^"]*"' | tail -n 1 | cut -d'"' -f4)
    [ -n "$exe" ] && [ -x "$exe" ] || { echo "gpu-check: no test executable found" >&2; exit 1; }
    local bench
    bench=$(cargo bench --locked --features gpu --bench gpu --no-run --message-format=json 2>/dev/null \
        | grep -o '"executable":"[^"]*"' | tail -n 1 | cut -d'"' -f4)
    [ -n "$bench" ] && [ -x "$bench" ] || { echo "gpu-check: no bench executable found" >&2; exit 1; }
    rm -rf "$OUT_DIR"
    mkdir -p "$OUT_DIR"
    cp "$target/release/libqdsim_mem.so" "$OUT_DIR/"
    cp "$exe" "$OUT_DIR/gpu-tests"
    cp "$bench" "$OUT_DIR/gpu-bench"
    cc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude -Ic-tests c-tests/test_gpu.c -lm \
        -L"$OUT_DIR" -lqdsim_mem -Wl,-rpath,'$ORIGIN' -o "$OUT_DIR/c_gpu"
    strip --strip-debug "$OUT_DIR/libqdsim_mem.so" "$OUT_DIR/gpu-tests" "$OUT_DIR/gpu-bench" "$OUT_DIR/c_gpu"
    git rev-parse HEAD > "$OUT_DIR/COMMIT" 2>/dev/null || true
    ls -l "$OUT_DIR"
    du -sh "$OUT_DIR"
}

# The CUDA libraries the operator and solver tests load by name (cudarc dlopens libcublas,
# libcusparse and libnvrtc): when the loader does not know one, look in the toolkit's and the
# Python wheels' usual folders and add the first folder that holds it to LD_LIBRARY_PATH.
add_cuda_libraries() {
    local name found dir roots
    roots="/usr/local/cuda /usr/local/cuda/targets /usr/lib /opt"
    roots="$roots $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null || true)"
    for name in libcublas.so libcusparse.so libnvrtc.so; do
        if ldconfig -p 2>/dev/null | grep -q "$name"; then
            continue
        fi
        # shellcheck disable=SC2086
        found=$(find $roots -maxdepth 6 -name "$name*" 2>/dev/null | head -n 1 || true)
        if [ -n "$found" ]; then
            dir=$(dirname "$found")
            case ":${LD_LIBRARY_PATH:-}:" in
                *":$dir:"*) ;;
                *) export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
            esac
            echo "gpu-check: $name from $dir"
        else
            echo "gpu-check: $name not found (the tests that need it will say so and skip)"
        fi
    done
}

bench() {
    [ -x "$OUT_DIR/gpu-bench" ] || { echo "gpu-check: $OUT_DIR/gpu-bench missing: run 'build' first" >&2; exit 1; }
    local logs="${OUT:-$OUT_DIR/logs}"
    mkdir -p "$logs"
    echo
    echo "bench (benches/gpu.rs):"
    set +e
    "$OUT_DIR/gpu-bench" 2>&1 | tee "$logs/bench.log"
    local status=${PIPESTATUS[0]}
    set -e
    [ "$status" -eq 0 ] || echo "gpu-check: the bench exited with $status"
    return "$status"
}

run() {
    [ -x "$OUT_DIR/gpu-tests" ] || { echo "gpu-check: $OUT_DIR/gpu-tests missing: run 'build' first" >&2; exit 1; }
    local logs="${OUT:-$OUT_DIR/logs}"
    mkdir -p "$logs"
    echo "commit: $(cat "$OUT_DIR/COMMIT" 2>/dev/null || echo unknown)"
    add_cuda_libraries
    command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L || echo "nvidia-smi: not found"
    local failed=0 passed=0 skipped=0
    local table="$logs/table.txt"
    printf '%-72s %-8s %8s\n' "test" "result" "seconds" > "$table"
    local tests
    tests=$("$OUT_DIR/gpu-tests" --list 2>/dev/null | sed -n 's/: test$//p')
    for name in $tests; do
        local log="$logs/${name//::/.}.log" start end status result
        start=$(date +%s.%N)
        set +e
        "$OUT_DIR/gpu-tests" --exact "$name" --nocapture --test-threads=1 > "$log" 2>&1
        status=$?
        set -e
        end=$(date +%s.%N)
        if [ "$status" -ne 0 ]; then
            result=FAILED; failed=$((failed + 1))
        elif grep -q '^.*skipped: ' "$log"; then
            result=skipped; skipped=$((skipped + 1))
        else
            result=ok; passed=$((passed + 1))
        fi
        printf '%-72s %-8s %8.2f\n' "$name" "$result" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" >> "$table"
    done
    local log="$logs/c_gpu.log" start end status result
    start=$(date +%s.%N)
    set +e
    LD_LIBRARY_PATH="$OUT_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$OUT_DIR/c_gpu" > "$log" 2>&1
    status=$?
    set -e
    end=$(date +%s.%N)
    if [ "$status" -ne 0 ]; then
        result=FAILED; failed=$((failed + 1))
    elif grep -q 'skipped: ' "$log"; then
        result=skipped; skipped=$((skipped + 1))
    else
        result=ok; passed=$((passed + 1))
    fi
    printf '%-72s %-8s %8.2f\n' "c_gpu (C API)" "$result" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" >> "$table"
    cat "$table"
    echo
    echo "measured:"
    grep -h 'alloc+free\|device 0:\|own CUDA memory pool\|device_count:\|on the GPU:\|agree with the CPU\|agrees with the CPU' "$logs"/*.log | sort -u || true
    for f in "$logs"/*.log; do
        if grep -q 'FAILED\|panicked\|check failed\|returned QDSIM' "$f"; then
            echo "---- $f"
            tail -n 40 "$f"
        fi
    done
    echo
    echo "gpu-check: $passed passed, $failed failed, $skipped skipped"
    local bench_status=0
    if [ "${1:-}" != "tests" ]; then
        bench || bench_status=$?
    fi
    [ "$failed" -eq 0 ] && [ "$bench_status" -eq 0 ]
}

case "${1:-}" in
    build) build ;;
    run)
        if [ "${2:-}" = "bench" ]; then add_cuda_libraries; bench; else run "${2:-}"; fi ;;
    *) sed -n '2,18p' "$0"; exit 2 ;;
esac
