# The PETSc/SLEPc programs (included by tests.cmake): the allocator adapter's test
# (c-tests/test_petsc_malloc.c) and the examples in examples/petsc/, run under
# `mpirun -n 2 --oversubscribe` (plus --allow-run-as-root as root). Built only when pkg-config
# finds PETSc and SLEPc (`PETSc.pc`, `SLEPc.pc`, searched under $PETSC_DIR/lib/pkgconfig and
# $SLEPC_DIR/lib/pkgconfig too) and an MPI C compiler; otherwise skipped with a message. The
# library itself never links MPI or PETSc.
#
# slepc_resonances needs PETSc and SLEPc built with complex scalars, a second pair found by
# pkg-config under PETSC_COMPLEX_DIR and SLEPC_COMPLEX_DIR (cache variables, defaulting to the
# environment variables of those names, else to Debian's libpetsc-complex-dev and
# libslepc-complex3.18-dev) and checked to define PETSC_USE_COMPLEX. The real and complex
# libraries have different sonames (libpetsc_real.so.3.18, libpetsc_complex.so.3.18; likewise
# SLEPc), so each program loads its own at run time without an rpath or LD_LIBRARY_PATH.

find_package(PkgConfig QUIET)
find_package(MPI QUIET COMPONENTS C)
find_program(QDSIM_MPIEXEC NAMES mpirun mpiexec)
if(NOT (PKG_CONFIG_FOUND AND MPI_C_FOUND AND QDSIM_MPIEXEC))
    message(STATUS "PETSc/SLEPc examples skipped: needs pkg-config, an MPI C compiler and mpirun "
                   "(Debian: apt-get install pkg-config openmpi-bin libopenmpi-dev)")
    return()
endif()

set(QDSIM_MPIRUN "${QDSIM_MPIEXEC}" --oversubscribe)
execute_process(COMMAND id -u OUTPUT_VARIABLE _qdsim_uid OUTPUT_STRIP_TRAILING_WHITESPACE)
if(_qdsim_uid STREQUAL "0")
    list(APPEND QDSIM_MPIRUN --allow-run-as-root)
endif()

# qdsim_add_petsc_program(<name> <source> <pkg-config target> [ARGS <arg>...] [RANKS <n>]):
# builds an MPI program against PETSc/SLEPc and the library; a test runs it on <n> ranks (2).
function(qdsim_add_petsc_program name source petsc)
    cmake_parse_arguments(PARSE_ARGV 3 QDSIM "" "RANKS" "ARGS")
    if(NOT QDSIM_RANKS)
        set(QDSIM_RANKS 2)
    endif()
    add_executable(${name} ${source})
    target_link_libraries(${name} PRIVATE ${petsc} MPI::MPI_C qdsim_mem::shared m)
    target_include_directories(${name} PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}/examples/petsc")
    target_compile_options(${name} PRIVATE -Wall -Wextra -Werror)
    add_test(NAME ${name} COMMAND ${QDSIM_MPIRUN} -n ${QDSIM_RANKS} $<TARGET_FILE:${name}> ${QDSIM_ARGS})
    set_tests_properties(${name} PROPERTIES TIMEOUT 300 PROCESSORS ${QDSIM_RANKS})
endfunction()

# qdsim_add_petsc_usage_baseline(<name> <file> [ARGS <arg>...]): a test <name>_petsc_own_malloc
# runs <name> with ARGS and --petsc-own-malloc <file> (PETSc's own tracing allocator, the one
# -malloc_view reports from, writing PETSc's count of its memory per rank), set up as a fixture
# of the test <name>, which is to compare it with the qdsim manager's (--compare-petsc-usage
# <file> among its ARGS). See examples/petsc/qdsim_petsc_accounting.h.
function(qdsim_add_petsc_usage_baseline name file)
    cmake_parse_arguments(PARSE_ARGV 2 QDSIM "" "" "ARGS")
    add_test(NAME ${name}_petsc_own_malloc
        COMMAND ${QDSIM_MPIRUN} -n 2 $<TARGET_FILE:${name}> ${QDSIM_ARGS} --petsc-own-malloc "${file}")
    set_tests_properties(${name}_petsc_own_malloc PROPERTIES TIMEOUT 300 PROCESSORS 2
        FIXTURES_SETUP ${name}_petsc_usage)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED ${name}_petsc_usage)
endfunction()

# ---- real scalars: the adapter's test, slepc_dot, petsc_file ----------------------------------
set(QDSIM_PETSC_FOUND OFF)
set(_qdsim_pc_path "$ENV{PKG_CONFIG_PATH}")
foreach(dir IN ITEMS "$ENV{SLEPC_DIR}" "$ENV{PETSC_DIR}")
    if(dir)
        set(ENV{PKG_CONFIG_PATH} "${dir}/lib/pkgconfig:$ENV{PKG_CONFIG_PATH}")
    endif()
endforeach()
pkg_check_modules(QDSIM_PETSC QUIET IMPORTED_TARGET PETSc SLEPc)
set(ENV{PKG_CONFIG_PATH} "${_qdsim_pc_path}")
if(QDSIM_PETSC_FOUND)
    message(STATUS "PETSc/SLEPc examples: PETSc ${QDSIM_PETSC_PETSc_VERSION}, SLEPc ${QDSIM_PETSC_SLEPc_VERSION}, ${QDSIM_MPIEXEC}")
    qdsim_add_petsc_program(petsc_malloc_adapter c-tests/test_petsc_malloc.c PkgConfig::QDSIM_PETSC RANKS 1)
    # The 2D dot on 60² points: the slabs, SLEPc's Krylov–Schur + MUMPS and LOBPCG + GAMG against
    # qdsim_solve_lowest (1e-8 relative), PETSc's memory in a qdsim manager, no block left live,
    # and the manager's count of PETSc's memory equal to PETSc's own (the baseline run's).
    set(_qdsim_usage "${CMAKE_CURRENT_BINARY_DIR}/slepc_dot_petsc_usage.txt")
    qdsim_add_petsc_program(example_slepc_dot examples/petsc/slepc_dot.c PkgConfig::QDSIM_PETSC
        ARGS --n 60 --compare-petsc-usage "${_qdsim_usage}")
    qdsim_add_petsc_usage_baseline(example_slepc_dot "${_qdsim_usage}" ARGS --n 60)
    # The same under a 2 MiB limit for PETSc: PETSc's out-of-memory error carries qdsim's message.
    add_test(NAME example_slepc_dot_petsc_limit
        COMMAND ${QDSIM_MPIRUN} -n 1 $<TARGET_FILE:example_slepc_dot> --n 60 --petsc-limit-mib 2)
    set_tests_properties(example_slepc_dot_petsc_limit PROPERTIES TIMEOUT 120 PASS_REGULAR_EXPRESSION
        "PETSC ERROR: qdsim manager refused [0-9]+ bytes \\(QDSIM_ERR_LIMIT_EXCEEDED\\): [^\n]*memory limit of 2097152 bytes")
    # qdsim's PETSc binary export read by MatLoad: equal to the rank-assembled matrix, solved by SLEPc.
    qdsim_add_petsc_program(example_petsc_file examples/petsc/petsc_file.c PkgConfig::QDSIM_PETSC
        ARGS --n 60 --file "${CMAKE_CURRENT_BINARY_DIR}/qdsim_dot.petsc")
else()
    message(STATUS "PETSc/SLEPc examples skipped: needs pkg-config files PETSc.pc and SLEPc.pc "
                   "(set PETSC_DIR/SLEPC_DIR or PKG_CONFIG_PATH) "
                   "(Debian: apt-get install petsc-dev slepc-dev libslepc-real3.18-dev)")
endif()

# ---- complex scalars: slepc_resonances ---------------------------------------------------------
foreach(_qdsim_pkg IN ITEMS PETSC SLEPC)
    if(DEFINED ENV{${_qdsim_pkg}_COMPLEX_DIR})
        set(_qdsim_default "$ENV{${_qdsim_pkg}_COMPLEX_DIR}")
    elseif(_qdsim_pkg STREQUAL "PETSC")
        set(_qdsim_default "/usr/lib/petscdir/petsc3.18/x86_64-linux-gnu-complex")
    else()
        set(_qdsim_default "/usr/lib/slepcdir/slepc3.18/x86_64-linux-gnu-complex")
    endif()
    set(${_qdsim_pkg}_COMPLEX_DIR "${_qdsim_default}" CACHE PATH
        "${_qdsim_pkg} built with complex scalars (its lib/pkgconfig), for examples/petsc/slepc_resonances")
endforeach()
# Only these two directories, so that a real PETSc.pc elsewhere on the path is not taken for it
# (pkg-config's system directories still follow: the scalar check below catches a real one).
# Like the real pair's, a successful search is cached: configure a fresh build directory after
# changing the directories.
set(ENV{PKG_CONFIG_PATH} "${SLEPC_COMPLEX_DIR}/lib/pkgconfig:${PETSC_COMPLEX_DIR}/lib/pkgconfig")
pkg_check_modules(QDSIM_PETSC_COMPLEX QUIET IMPORTED_TARGET PETSc SLEPc)
set(ENV{PKG_CONFIG_PATH} "${_qdsim_pc_path}")
set(_qdsim_complex_reason "")
set(_qdsim_complex_hint "set PETSC_COMPLEX_DIR, SLEPC_COMPLEX_DIR (now '${PETSC_COMPLEX_DIR}', "
                        "'${SLEPC_COMPLEX_DIR}') to complex builds (Debian: apt-get install "
                        "libpetsc-complex-dev libslepc-complex3.18-dev)")
string(CONCAT _qdsim_complex_hint ${_qdsim_complex_hint})
if(NOT QDSIM_PETSC_COMPLEX_FOUND)
    set(_qdsim_complex_reason "pkg-config finds no PETSc.pc and SLEPc.pc: ${_qdsim_complex_hint}")
else()
    include(CheckSymbolExists)
    unset(QDSIM_PETSC_COMPLEX_SCALARS CACHE) # checked again at every configuration
    set(CMAKE_REQUIRED_INCLUDES ${QDSIM_PETSC_COMPLEX_INCLUDE_DIRS})
    set(CMAKE_REQUIRED_QUIET ON)
    check_symbol_exists(PETSC_USE_COMPLEX "petscconf.h" QDSIM_PETSC_COMPLEX_SCALARS)
    unset(CMAKE_REQUIRED_INCLUDES)
    unset(CMAKE_REQUIRED_QUIET)
    if(NOT QDSIM_PETSC_COMPLEX_SCALARS)
        string(JOIN " " _qdsim_dirs ${QDSIM_PETSC_COMPLEX_INCLUDE_DIRS})
        set(_qdsim_complex_reason "the PETSc pkg-config finds (include: ${_qdsim_dirs}) does not "
                                  "define PETSC_USE_COMPLEX: ${_qdsim_complex_hint}")
    endif()
endif()
if(_qdsim_complex_reason)
    string(CONCAT _qdsim_complex_reason ${_qdsim_complex_reason})
    message(STATUS "complex PETSc/SLEPc example (slepc_resonances) skipped: ${_qdsim_complex_reason}")
    return()
endif()
message(STATUS "complex PETSc/SLEPc example: PETSc ${QDSIM_PETSC_COMPLEX_PETSc_VERSION}, "
               "SLEPc ${QDSIM_PETSC_COMPLEX_SLEPc_VERSION} (${PETSC_COMPLEX_DIR})")
# The open dot on 60² points, complex symmetric: SLEPc's Krylov–Schur (NHEP, shift-and-invert,
# MUMPS) against qdsim_solve_resonances, 6 resonances nearest 15 meV (1e-8 relative), and the
# manager's count of PETSc's memory equal to PETSc's own.
set(_qdsim_usage "${CMAKE_CURRENT_BINARY_DIR}/slepc_resonances_petsc_usage.txt")
qdsim_add_petsc_program(example_slepc_resonances examples/petsc/slepc_resonances.c
    PkgConfig::QDSIM_PETSC_COMPLEX ARGS --n 60 --k 6 --target-mev 15 --compare-petsc-usage "${_qdsim_usage}")
qdsim_add_petsc_usage_baseline(example_slepc_resonances "${_qdsim_usage}" ARGS --n 60 --k 6 --target-mev 15)
