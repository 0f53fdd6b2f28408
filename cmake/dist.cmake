# cmake -P script, run after cargo has built the libraries: makes the files that are installed.
#
#   libqdsim_mem.so.<VERSION>         the shared library without debug info (SONAME
#                                     libqdsim_mem.so.<ABI>, set by build.rs), linked by
#                                     .gnu_debuglink to
#   debug/libqdsim_mem.so.<VERSION>.debug   its debug info (for gdb; installed beside)
#   libqdsim_mem.so.<ABI> -> libqdsim_mem.so.<VERSION>, libqdsim_mem.so -> libqdsim_mem.so.<ABI>
#   libqdsim_mem.a                    the static library as one relocatable object whose only
#                                     global symbols are the C API's (the Rust standard library,
#                                     compiler_builtins' __muldc3 & co. are local: they cannot
#                                     clash with the program's), without debug info
#
# Variables: SHARED, STATIC (cargo's outputs), OUT (folder), VERSION, ABI, OBJCOPY, NM, LINKER, AR.
cmake_minimum_required(VERSION 3.25)
foreach(var SHARED STATIC OUT VERSION ABI OBJCOPY NM LINKER AR)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "dist.cmake: ${var} is not set")
    endif()
endforeach()

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "dist.cmake: ${ARGN} failed (${rc}): ${err}")
    endif()
    set(run_output "${out}" PARENT_SCOPE)
endfunction()

file(MAKE_DIRECTORY "${OUT}/debug")
set(real "libqdsim_mem.so.${VERSION}")
run(${OBJCOPY} --only-keep-debug "${SHARED}" "${OUT}/debug/${real}.debug")
file(REMOVE "${OUT}/${real}")
run(${OBJCOPY} --strip-debug "--add-gnu-debuglink=${OUT}/debug/${real}.debug" "${SHARED}" "${OUT}/${real}")
file(CREATE_LINK "${real}" "${OUT}/libqdsim_mem.so.${ABI}" SYMBOLIC)
file(CREATE_LINK "libqdsim_mem.so.${ABI}" "${OUT}/libqdsim_mem.so" SYMBOLIC)

# The C API: the qdsim_* functions the shared library exports.
run(${NM} -D --defined-only "${SHARED}")
string(REGEX MATCHALL "[^\n]+" lines "${run_output}")
set(api "")
foreach(line IN LISTS lines)
    if(line MATCHES " T (qdsim_[A-Za-z0-9_]+)$")
        string(APPEND api "${CMAKE_MATCH_1}\n")
    endif()
endforeach()
if(api STREQUAL "")
    message(FATAL_ERROR "dist.cmake: no qdsim_* function exported by ${SHARED}")
endif()
file(WRITE "${OUT}/api-symbols.txt" "${api}")

# One object from the whole archive, only the API global, no debug info and no embedded LLVM
# bitcode (binutils' LLVM plugin may not read a newer LLVM's bitcode and abort ar and nm).
run(${LINKER} -r --whole-archive "${STATIC}" -o "${OUT}/qdsim_mem_all.o")
run(${OBJCOPY} --strip-unneeded --remove-section=.llvmbc --remove-section=.llvmcmd
    "--keep-global-symbols=${OUT}/api-symbols.txt" "${OUT}/qdsim_mem_all.o" "${OUT}/qdsim_mem.o")
file(REMOVE "${OUT}/qdsim_mem_all.o" "${OUT}/libqdsim_mem.a")
run(${AR} rcs "${OUT}/libqdsim_mem.a" "${OUT}/qdsim_mem.o")
file(REMOVE "${OUT}/qdsim_mem.o")
