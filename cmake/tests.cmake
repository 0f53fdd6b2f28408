# The tests, examples and benchmarks of CMakeLists.txt (included when QDSIM_BUILD_TESTS is ON):
# C/C++/Fortran programs run as CTest tests and under valgrind memcheck, the installed tree used
# by outside projects (find_package and pkg-config), and `cargo test` with the style gates.

enable_testing()

if(QDSIM_MEMCHECK)
    find_program(VALGRIND_EXECUTABLE valgrind)
    if(NOT VALGRIND_EXECUTABLE)
        message(FATAL_ERROR "valgrind not found: install it (apt-get install valgrind) "
                            "or configure with -DQDSIM_MEMCHECK=OFF")
    endif()
    set(QDSIM_MEMCHECK_COMMAND ${VALGRIND_EXECUTABLE} --tool=memcheck --error-exitcode=1
        --leak-check=full --show-leak-kinds=definite,indirect,possible
        --errors-for-leak-kinds=definite,indirect,possible --track-origins=yes)
endif()

# qdsim_add_program(<name> <source> <library target> [ARGS <arg>...] [VALGRIND_ARGS <arg>...]):
# builds a C/C++/Fortran program against the library, runs it (with ARGS) as a test and, with
# QDSIM_MEMCHECK, again under valgrind (with VALGRIND_ARGS added to its options).
function(qdsim_add_program name source library)
    cmake_parse_arguments(PARSE_ARGV 3 QDSIM "" "" "ARGS;VALGRIND_ARGS")
    add_executable(${name} ${source})
    target_link_libraries(${name} PRIVATE ${library} Threads::Threads m)
    target_include_directories(${name} PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}/c-tests")
    target_compile_options(${name} PRIVATE -Wall -Wextra -Werror $<$<COMPILE_LANGUAGE:Fortran>:-std=f2008>)
    add_test(NAME ${name} COMMAND ${name} ${QDSIM_ARGS})
    if(QDSIM_MEMCHECK)
        add_test(NAME memcheck.${name} COMMAND ${QDSIM_MEMCHECK_COMMAND} ${QDSIM_VALGRIND_ARGS}
            $<TARGET_FILE:${name}> ${QDSIM_ARGS})
    endif()
endfunction()

set(CMAKE_C_STANDARD 11)
set(CMAKE_C_STANDARD_REQUIRED ON)
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)

qdsim_add_program(c_basic c-tests/test_basic.c qdsim_mem::shared)
qdsim_add_program(c_misuse c-tests/test_misuse.c qdsim_mem::shared)
qdsim_add_program(c_hardening c-tests/test_hardening.c qdsim_mem::shared)
qdsim_add_program(c_integrity c-tests/test_integrity.c qdsim_mem::shared)
qdsim_add_program(c_integrity_static c-tests/test_integrity.c qdsim_mem::static)
qdsim_add_program(c_threads c-tests/test_threads.c qdsim_mem::shared)
qdsim_add_program(c_leaks c-tests/test_leaks.c qdsim_mem::shared)
qdsim_add_program(c_matrix c-tests/test_matrix.c qdsim_mem::shared)
qdsim_add_program(c_mapped c-tests/test_mapped.c qdsim_mem::shared)
qdsim_add_program(c_hamiltonian c-tests/test_hamiltonian.c qdsim_mem::shared)
qdsim_add_program(c_solver c-tests/test_solver.c qdsim_mem::shared)
# The test recovers from SIGBUS on scratch pages (the handler returns and the faulting access
# runs again): valgrind restarts it correctly only with precise registers at memory accesses.
qdsim_add_program(c_out_of_core c-tests/test_out_of_core.c qdsim_mem::shared
    VALGRIND_ARGS --vex-iropt-register-updates=allregs-at-mem-access)
qdsim_add_program(c_profiler c-tests/test_profiler.c qdsim_mem::shared)
qdsim_add_program(c_gpu c-tests/test_gpu.c qdsim_mem::shared)
qdsim_add_program(cxx_wrappers c-tests/test_hpp.cpp qdsim_mem::shared)
qdsim_add_program(example_threads_cxx examples/cpp/threads.cpp qdsim_mem::shared)
# The quantum-dot examples run as tests on a small grid (their default, 1000², is for users),
# printing the bit patterns of the energies, which must agree across the three languages.
qdsim_add_program(example_quantum_dot_c examples/c/quantum_dot.c qdsim_mem::shared ARGS 120 10 --bits)
qdsim_add_program(example_quantum_dot_cxx examples/cpp/quantum_dot.cpp qdsim_mem::shared ARGS 120 10 --bits)
set(QDSIM_DOT_PROGRAMS example_quantum_dot_c example_quantum_dot_cxx)
if(QDSIM_FORTRAN)
    qdsim_add_program(fortran_module c-tests/test_fortran.f90 qdsim_mem::fortran)
    qdsim_add_program(fortran_api c-tests/test_fortran_api.f90 qdsim_mem::fortran)
    qdsim_add_program(example_arrays_fortran examples/fortran/arrays.f90 qdsim_mem::fortran)
    qdsim_add_program(example_quantum_dot_fortran examples/fortran/quantum_dot.f90 qdsim_mem::fortran
                      ARGS 120 10 --bits)
    list(APPEND QDSIM_DOT_PROGRAMS example_quantum_dot_fortran)
endif()
# Benchmarks in C: built on demand (`cmake --build build --target bench_alloc_churn_c`), never
# run as tests (timings are noisy). mimalloc is loaded at run time when present.
add_executable(bench_alloc_churn_c EXCLUDE_FROM_ALL benches/c/alloc_churn.c)
target_link_libraries(bench_alloc_churn_c PRIVATE qdsim_mem::shared Threads::Threads ${CMAKE_DL_LIBS} m)
target_compile_options(bench_alloc_churn_c PRIVATE -Wall -Wextra -Werror)
if(QDSIM_FORTRAN)
    # The same churn through the Fortran module, against allocate/deallocate (1 thread).
    add_executable(bench_alloc_churn_fortran EXCLUDE_FROM_ALL benches/fortran/alloc_churn.f90)
    target_link_libraries(bench_alloc_churn_fortran PRIVATE qdsim_mem::fortran)
    target_compile_options(bench_alloc_churn_fortran PRIVATE -std=f2008 -Wall -Wextra -Werror)
endif()

set(QDSIM_DOT_COMMANDS "")
# The debug mode (red zones): a one-element overrun and an underrun of a pool block are reported
# by qdsim_manager_check and qdsim_manager_free with the tag and offset. The program writes into
# red zones on purpose, so it has no plain memcheck run; instead memcheck, with no suppression
# file and the default configuration (red zones on by themselves under valgrind), must report
# the overrun and the use after free of a pool block as it does for malloc's.
add_executable(c_debug c-tests/test_debug.c)
target_link_libraries(c_debug PRIVATE qdsim_mem::shared Threads::Threads m)
target_include_directories(c_debug PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}/c-tests")
target_compile_options(c_debug PRIVATE -Wall -Wextra -Werror)
add_test(NAME debug_red_zones COMMAND c_debug)
if(QDSIM_MEMCHECK)
    add_test(NAME memcheck_sees_pool_overrun
        COMMAND ${VALGRIND_EXECUTABLE} --tool=memcheck $<TARGET_FILE:c_debug> overrun)
    set_tests_properties(memcheck_sees_pool_overrun PROPERTIES PASS_REGULAR_EXPRESSION
        "Invalid write of size 8.*is 0 bytes after a block of size 80 alloc'd")
    add_test(NAME memcheck_sees_pool_use_after_free
        COMMAND ${VALGRIND_EXECUTABLE} --tool=memcheck $<TARGET_FILE:c_debug> use-after-free)
    set_tests_properties(memcheck_sees_pool_use_after_free PROPERTIES PASS_REGULAR_EXPRESSION
        "Invalid read of size 8.*is 24 bytes inside a block of size 80 free'd")
endif()
foreach(program IN LISTS QDSIM_DOT_PROGRAMS)
    list(APPEND QDSIM_DOT_COMMANDS "$<TARGET_FILE:${program}>")
endforeach()
add_test(NAME bit_for_bit_c_cxx_fortran
    COMMAND ${CMAKE_COMMAND} "-DPROGRAMS=${QDSIM_DOT_COMMANDS}" -DARGS=120\;10\;--bits
            -P "${CMAKE_CURRENT_SOURCE_DIR}/c-tests/compare_bits.cmake")
# The open-dot example (resonances) runs as a test on a 60² grid with the dot's two states (its
# default, 120² and 4 states, is for users): 13 s under memcheck, where 60² with 4 states took
# 62 s (the two continuum states need many more iterations).
qdsim_add_program(example_open_dot_c examples/c/open_dot.c qdsim_mem::shared ARGS --n 60 --k 2)

# The installed tree, used by an outside project through find_package only, and by pkg-config.
set(QDSIM_INSTALL_TREE "${CMAKE_CURRENT_BINARY_DIR}/install-tree")
add_test(NAME install_tree COMMAND ${CMAKE_COMMAND} --install "${CMAKE_CURRENT_BINARY_DIR}" --prefix "${QDSIM_INSTALL_TREE}")
set_tests_properties(install_tree PROPERTIES FIXTURES_SETUP installed)
add_test(NAME outside_project
    COMMAND ${CMAKE_CTEST_COMMAND} --build-and-test "${CMAKE_CURRENT_SOURCE_DIR}/c-tests/outside"
            "${CMAKE_CURRENT_BINARY_DIR}/outside" --build-generator "${CMAKE_GENERATOR}"
            --build-options "-DCMAKE_PREFIX_PATH=${QDSIM_INSTALL_TREE}" -DCMAKE_BUILD_TYPE=Release
            --test-command ${CMAKE_CTEST_COMMAND} --output-on-failure)
add_test(NAME install_layout
    COMMAND ${CMAKE_COMMAND} "-DLIBDIR=${QDSIM_INSTALL_TREE}/${CMAKE_INSTALL_LIBDIR}"
            "-DVERSION=${PROJECT_VERSION}" "-DABI=${QDSIM_ABI_VERSION}"
            "-DREADELF=${CMAKE_READELF}" "-DNM=${CMAKE_NM}"
            -P "${CMAKE_CURRENT_SOURCE_DIR}/c-tests/check_install.cmake")
set_tests_properties(install_layout PROPERTIES FIXTURES_REQUIRED installed)
# pkg-config as the README writes it: shared (with the rpath variable), static, Fortran.
find_program(PKG_CONFIG_EXECUTABLE pkg-config)
if(PKG_CONFIG_EXECUTABLE)
    set(QDSIM_OUTSIDE "${CMAKE_CURRENT_SOURCE_DIR}/c-tests/outside")
    add_test(NAME pkg_config
        COMMAND sh -c "cc -std=c11 \"${QDSIM_OUTSIDE}/main.c\" $(pkg-config --cflags --libs qdsim_mem) $(pkg-config --variable=rpath qdsim_mem) -o pkg_config_check && ./pkg_config_check"
        WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
    add_test(NAME pkg_config_static
        COMMAND sh -c "cc -std=c11 \"${QDSIM_OUTSIDE}/main.c\" $(pkg-config --cflags --libs qdsim_mem-static) -o pkg_config_static_check && ./pkg_config_static_check && ! readelf -d pkg_config_static_check | grep -q libqdsim_mem"
        WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
    set(QDSIM_PKG_CONFIG_TESTS pkg_config pkg_config_static)
    if(QDSIM_MEMCHECK)
        # The program pkg_config built, under memcheck as a user would run it: no suppressions.
        add_test(NAME memcheck.pkg_config
            COMMAND ${VALGRIND_EXECUTABLE} --error-exitcode=1 --leak-check=full
                    --errors-for-leak-kinds=definite,indirect,possible ./pkg_config_check
            WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
        set_tests_properties(memcheck.pkg_config PROPERTIES DEPENDS pkg_config)
        list(APPEND QDSIM_PKG_CONFIG_TESTS memcheck.pkg_config)
    endif()
    if(QDSIM_FORTRAN)
        add_test(NAME pkg_config_fortran
            COMMAND sh -c "\"${CMAKE_Fortran_COMPILER}\" \"${QDSIM_OUTSIDE}/main.f90\" $(pkg-config --cflags --libs qdsim_mem-fortran) $(pkg-config --variable=rpath qdsim_mem) -o pkg_config_fortran_check && ./pkg_config_fortran_check"
            WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
        list(APPEND QDSIM_PKG_CONFIG_TESTS pkg_config_fortran)
    endif()
    set_tests_properties(${QDSIM_PKG_CONFIG_TESTS} PROPERTIES FIXTURES_REQUIRED installed
        ENVIRONMENT "PKG_CONFIG_PATH=${QDSIM_INSTALL_TREE}/${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endif()
set_tests_properties(outside_project PROPERTIES FIXTURES_REQUIRED installed)
qdsim_add_program(cxx_header c-tests/test_header_cxx.cpp qdsim_mem::shared)
qdsim_add_program(example_quickstart_c examples/c/quickstart.c qdsim_mem::shared)

# qdsim_add_cargo_test(<name> <cargo subcommand> [<cargo option>...] [TARGET_DIR <dir>]
#                      [ARGS <arg>...]): a test that runs
#   cargo --locked <subcommand> --release <option>... --manifest-path <this tree>/Cargo.toml
#         --target-dir <dir> [-- <arg>...]
# in the source tree, the target directory QDSIM_CARGO_TARGET_DIR unless TARGET_DIR is given.
# Each builds what it runs, in a target directory shared with the others: TIMEOUT 1800, RUN_SERIAL.
function(qdsim_add_cargo_test name subcommand)
    cmake_parse_arguments(PARSE_ARGV 2 QDSIM "" "TARGET_DIR" "ARGS")
    if(NOT QDSIM_TARGET_DIR)
        set(QDSIM_TARGET_DIR "${QDSIM_CARGO_TARGET_DIR}")
    endif()
    set(separator "")
    if(QDSIM_ARGS)
        set(separator --)
    endif()
    add_test(NAME ${name}
        COMMAND ${QDSIM_CARGO} ${subcommand} --release ${QDSIM_UNPARSED_ARGUMENTS}
                --manifest-path "${CMAKE_CURRENT_SOURCE_DIR}/Cargo.toml"
                --target-dir "${QDSIM_TARGET_DIR}" ${separator} ${QDSIM_ARGS}
        WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}")
    set_tests_properties(${name} PROPERTIES TIMEOUT 1800 RUN_SERIAL TRUE)
endfunction()

if(QDSIM_CARGO_TESTS)
    # The Rust test suite (tests/suite, one binary, with the header drift test, and tests/gpu.rs),
    # in the same release profile as the library (shared build artifacts).
    # Every cargo build in the shared target directory uses the library build's features: the
    # library is a cdylib (its file name has no hash), so a build with other features would
    # replace it and the next build would compile it again (about 2 minutes each).
    qdsim_add_cargo_test(cargo_test test ${QDSIM_CARGO_FEATURES})
    qdsim_add_cargo_test(example_quickstart_rust run --example quickstart ${QDSIM_CARGO_FEATURES})
    qdsim_add_cargo_test(example_quantum_dot_rust run --example quantum_dot ${QDSIM_CARGO_FEATURES}
        ARGS --n 200)
    # The profiler example on a small grid; its SVG is rendered with headless Chromium when one
    # is installed (scripts/render-svg.sh; Debian package `chromium`).
    qdsim_add_cargo_test(example_profile_solve_rust run --example profile_solve ${QDSIM_CARGO_FEATURES}
        ARGS --n 100 --out "${CMAKE_CURRENT_BINARY_DIR}/profile")
    set_tests_properties(example_profile_solve_rust PROPERTIES FIXTURES_SETUP profile_svg)
    find_program(QDSIM_CHROMIUM NAMES chromium chromium-browser google-chrome)
    if(QDSIM_CHROMIUM)
        add_test(NAME profile_svg_renders
            COMMAND "${CMAKE_CURRENT_SOURCE_DIR}/scripts/render-svg.sh"
                    "${CMAKE_CURRENT_BINARY_DIR}/profile/profile.svg" "${CMAKE_CURRENT_BINARY_DIR}/profile/profile.png")
        set_tests_properties(profile_svg_renders PROPERTIES FIXTURES_REQUIRED profile_svg)
    endif()
    # Style gates: rustfmt and clippy with warnings as errors.
    add_test(NAME cargo_fmt
        COMMAND ${CARGO_EXECUTABLE} fmt --all --check --manifest-path "${CMAKE_CURRENT_SOURCE_DIR}/Cargo.toml")
    qdsim_add_cargo_test(cargo_clippy clippy --all-targets ${QDSIM_CARGO_FEATURES} ARGS -D warnings)
    # The API documentation builds without a warning (broken or private intra-doc links).
    qdsim_add_cargo_test(cargo_doc doc --no-deps ${QDSIM_CARGO_FEATURES})
    set_tests_properties(cargo_doc PROPERTIES ENVIRONMENT "RUSTDOCFLAGS=-D warnings")
    if(QDSIM_GPU)
        # The build without the feature has its own (NO_DEVICE) code path: lint it too. Clippy
        # only checks, so it leaves the feature build's libqdsim_mem.so in place.
        qdsim_add_cargo_test(cargo_clippy_without_gpu clippy --all-targets ARGS -D warnings)
        # ... and run its GPU tests (every entry point NO_DEVICE, never a panic), in a target
        # directory of its own so that the feature build's libqdsim_mem.so stays in place.
        qdsim_add_cargo_test(cargo_test_gpu_without_feature test --test gpu
            TARGET_DIR "${QDSIM_CARGO_TARGET_DIR}-without-gpu")
    endif()
endif()

# The Python package (python/, docs/python.md): a venv with the PyPI packages the tests use and
# the package installed by `pip install ./python` (scripts/python-venv.sh; needs PyPI), then
# pytest, the example, and clippy over the extension's Rust code.
find_package(Python3 3.9 COMPONENTS Interpreter)
if(Python3_FOUND AND QDSIM_PYTHON_TESTS)
    set(QDSIM_PYTHON_VENV "${CMAKE_CURRENT_BINARY_DIR}/python-venv")
    add_test(NAME python_install
        COMMAND "${CMAKE_CURRENT_SOURCE_DIR}/scripts/python-venv.sh" "${QDSIM_PYTHON_VENV}")
    # The extension is built in the target directory of the builds without the `gpu` feature
    # (its dependency graph differs from the library build's; in the shared one it would
    # replace libqdsim_mem.so and make the next cargo build compile the library again).
    set_tests_properties(python_install PROPERTIES FIXTURES_SETUP python_venv TIMEOUT 1800
        RUN_SERIAL TRUE ENVIRONMENT
        "QDSIM_PYTHON=${Python3_EXECUTABLE};CARGO_TARGET_DIR=${QDSIM_CARGO_TARGET_DIR}-without-gpu")
    add_test(NAME python_pytest
        COMMAND "${QDSIM_PYTHON_VENV}/bin/python" -m pytest -q -p no:cacheprovider python/tests
        WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}")
    add_test(NAME example_quantum_dot_python
        COMMAND "${QDSIM_PYTHON_VENV}/bin/python" "${CMAKE_CURRENT_SOURCE_DIR}/examples/python/quantum_dot.py"
                --n 200 --no-progress --png "${CMAKE_CURRENT_BINARY_DIR}/quantum_dot.png"
        WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
    set_tests_properties(python_pytest example_quantum_dot_python PROPERTIES
        FIXTURES_REQUIRED python_venv TIMEOUT 900)
    if(QDSIM_CARGO_TESTS)
        qdsim_add_cargo_test(cargo_clippy_python clippy -p qdsim-mem-python ARGS -D warnings)
    endif()
endif()

# The PETSc/SLEPc programs, when PETSc and SLEPc are installed (docs/mpi.md).
include(cmake/petsc.cmake)
