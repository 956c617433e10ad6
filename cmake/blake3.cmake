# BLAKE3 from the official C sources that Debian's librust-blake3-dev installs
# (never copied into this repository). x86-64 builds use the upstream SIMD
# assembly (SSE2/SSE4.1/AVX2/AVX-512) with runtime dispatch.
file(GLOB _blake3_dirs LIST_DIRECTORIES true /usr/share/cargo/registry/blake3-*/c)
list(SORT _blake3_dirs)
list(REVERSE _blake3_dirs)
list(GET _blake3_dirs 0 BLAKE3_C_DIR)
if(NOT EXISTS "${BLAKE3_C_DIR}/blake3.c")
  message(FATAL_ERROR "BLAKE3 C sources not found: run scripts/install-deps.sh (librust-blake3-dev)")
endif()
message(STATUS "BLAKE3 sources: ${BLAKE3_C_DIR}")

set(_b3_srcs ${BLAKE3_C_DIR}/blake3.c ${BLAKE3_C_DIR}/blake3_dispatch.c
    ${BLAKE3_C_DIR}/blake3_portable.c)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64" AND NOT HUBFS_SANITIZE AND NOT HUBFS_FUZZ)
  list(APPEND _b3_srcs
       ${BLAKE3_C_DIR}/blake3_sse2_x86-64_unix.S
       ${BLAKE3_C_DIR}/blake3_sse41_x86-64_unix.S
       ${BLAKE3_C_DIR}/blake3_avx2_x86-64_unix.S
       ${BLAKE3_C_DIR}/blake3_avx512_x86-64_unix.S)
  set(_b3_defs "")
else()
  # Sanitizer/fuzzer builds: portable C only (the assembly is not instrumented).
  set(_b3_defs BLAKE3_NO_SSE2 BLAKE3_NO_SSE41 BLAKE3_NO_AVX2 BLAKE3_NO_AVX512)
endif()
add_library(blake3 STATIC ${_b3_srcs})
target_include_directories(blake3 SYSTEM PUBLIC ${BLAKE3_C_DIR})
target_compile_definitions(blake3 PRIVATE ${_b3_defs})
set_target_properties(blake3 PROPERTIES POSITION_INDEPENDENT_CODE ON)
