# Helpers that build each library and unit test twice: once plainly and, when
# VNET_ASAN_TESTS is on, once with AddressSanitizer + UndefinedBehaviorSanitizer
# ("<name>-asan"), so one ctest run covers both.

set(VNET_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
    -fno-omit-frame-pointer)

# A fuzzing build (-DVNET_FUZZ=ON, clang): every library is built with ASan+UBSan
# and libFuzzer's coverage instrumentation, and tests/fuzz links the fuzz targets.
if(VNET_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "VNET_FUZZ=ON needs clang (-DCMAKE_C_COMPILER=clang)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link ${VNET_SANITIZE_FLAGS})
  add_link_options(-fsanitize=address,undefined)
endif()

# vnet_library(NAME SOURCES src... [VNET_LIBS our-libs...] [LIBS external...])
function(vnet_library name)
  cmake_parse_arguments(A "" "" "SOURCES;VNET_LIBS;LIBS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_link_libraries(${name} PUBLIC ${A_VNET_LIBS} ${A_LIBS})
  if(VNET_ASAN_TESTS)
    add_library(${name}-asan STATIC EXCLUDE_FROM_ALL ${A_SOURCES})
    target_compile_options(${name}-asan PRIVATE ${VNET_SANITIZE_FLAGS})
    set(asan_libs)
    foreach(l ${A_VNET_LIBS})
      list(APPEND asan_libs ${l}-asan)
    endforeach()
    target_link_libraries(${name}-asan PUBLIC ${asan_libs} ${A_LIBS})
  endif()
endfunction()

# vnet_unit_test(NAME SOURCES src... [VNET_LIBS ...] [LIBS ...] [NO_ASAN])
# Registers ctest tests "NAME" (label unit) and "NAME-asan" (labels unit;asan).
function(vnet_unit_test name)
  cmake_parse_arguments(A "NO_ASAN" "" "SOURCES;VNET_LIBS;LIBS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_VNET_LIBS} ${A_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 300)
  if(VNET_ASAN_TESTS AND NOT A_NO_ASAN)
    add_executable(${name}-asan ${A_SOURCES})
    target_compile_options(${name}-asan PRIVATE ${VNET_SANITIZE_FLAGS})
    target_link_options(${name}-asan PRIVATE -fsanitize=address,undefined)
    set(asan_libs)
    foreach(l ${A_VNET_LIBS})
      list(APPEND asan_libs ${l}-asan)
    endforeach()
    target_link_libraries(${name}-asan PRIVATE ${asan_libs} ${A_LIBS} PkgConfig::CMOCKA)
    add_test(NAME ${name}-asan COMMAND ${name}-asan)
    set_tests_properties(${name}-asan PROPERTIES LABELS "unit;asan" TIMEOUT 600
      ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  endif()
endfunction()
