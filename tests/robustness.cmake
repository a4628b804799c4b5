# Robustness tests (included from tests/CMakeLists.txt), all counted by CTest:
#  c-sandbox           a host without io, os, debug, package.loadlib, load: luagrad works
#                      there and touches none of them (also under valgrind)
#  c-alloc             the Nth allocation fails, for every N, through a Lua host's allocator
#  asan-c-alloc        the same, built with AddressSanitizer + UBSan (leaks and UB fail it)
#  asan-c-hostfn       the host-function host (tests/hostfn_test.lua), likewise
#  valgrind-c-alloc    the same under valgrind, every 23rd N of every sweep (valgrind is ~30x
#                      slower; the module alone has some 5,500 allocation points)
#  asan-<spec>         every busted spec against an ASan + UBSan build of the module
#  asan-c-data         the data readers and their mutated inputs, likewise
#  fuzz-corpus         the committed fuzz corpus, replayed through an ASan + UBSan build
#  fuzz-compile-corpus the differential fuzzer of lg.compile (eager against compiled) over
#                      its committed corpus, likewise
#  fuzz-safetensors-corpus  the safetensors reader and writer (no Lua) over their corpus
# The sanitizer builds use this project's compiler (gcc's libasan, or clang's runtime): the
# module is loaded into the uninstrumented lua5.4, so the runtime is preloaded.

host_test(test_sandbox test_sandbox.c c-sandbox)
host_test(test_alloc test_alloc.c c-alloc)

# lg_testhost: a test-only module that puts a state under a memory budget (hostile_spec).
# Next to luagrad/core.so, so the specs' --cpath finds it; never installed.
add_library(lg_testhost MODULE lg_testhost.c)
target_include_directories(lg_testhost PRIVATE ${LUA_INCLUDE_DIR})
set_target_properties(lg_testhost PROPERTIES PREFIX "" C_VISIBILITY_PRESET default
                      LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lua)

if(VALGRIND)
  add_test(NAME valgrind-c-sandbox COMMAND ${VG} $<TARGET_FILE:test_sandbox>)
  add_test(NAME valgrind-c-alloc COMMAND ${VG} $<TARGET_FILE:test_alloc> 23)
endif()

# ---- sanitizers ----------------------------------------------------------------------------
set(SAN_FLAGS -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined,float-cast-overflow
              -fno-sanitize-recover=all)
include(CheckCSourceCompiles)
set(CMAKE_REQUIRED_FLAGS "-fsanitize=address,undefined,float-cast-overflow")
set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=address,undefined,float-cast-overflow")
check_c_source_compiles("int main (void) { return 0; }" LUAGRAD_HAVE_SANITIZERS)
unset(CMAKE_REQUIRED_FLAGS)
unset(CMAKE_REQUIRED_LINK_OPTIONS)
if(NOT LUAGRAD_HAVE_SANITIZERS)
  message(WARNING "${CMAKE_C_COMPILER} cannot build with -fsanitize=address,undefined: "
                  "the sanitizer tests will not run")
  return()
endif()
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  set(ASAN_RUNTIME_NAME libasan.so)
else()
  set(ASAN_RUNTIME_NAME libclang_rt.asan-${CMAKE_SYSTEM_PROCESSOR}.so)
endif()
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=${ASAN_RUNTIME_NAME}
                OUTPUT_VARIABLE ASAN_RUNTIME OUTPUT_STRIP_TRAILING_WHITESPACE)
# A report ends the run with a failure; leaks are reported when the state is closed (busted
# closes it on exit); ASan's own allocator is what Lua's realloc calls reach.
set(SAN_ENV "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=1:allocator_may_return_null=1"
            "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")

# The Lua parts compiled in, generated again here (a generated file is visible only in the
# directory that generates it)
set(SAN_EMBEDDED ${CMAKE_CURRENT_BINARY_DIR}/lg_embedded_san.c)
add_custom_command(OUTPUT ${SAN_EMBEDDED}
  COMMAND ${CMAKE_COMMAND} -DOUTPUT=${SAN_EMBEDDED} "-DSOURCES=${LUAGRAD_LUA_SOURCE_LIST}"
          -DROOT=${PROJECT_SOURCE_DIR} -P ${PROJECT_SOURCE_DIR}/cmake/embed.cmake
  DEPENDS ${LUAGRAD_LUA_SOURCES} ${PROJECT_SOURCE_DIR}/cmake/embed.cmake VERBATIM)
set(SAN_SOURCES ${LUAGRAD_CORE_SOURCES} ${LUAGRAD_BINDING_SOURCES} ${SAN_EMBEDDED})

# with zlib where the build has it, so that the gzip reader runs sanitized too
function(sanitized target)
  target_compile_options(${target} PRIVATE ${SAN_FLAGS})
  target_link_options(${target} PRIVATE -fsanitize=address,undefined,float-cast-overflow)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/include
                             ${PROJECT_SOURCE_DIR}/src ${LUA_INCLUDE_DIR})
  if(LUAGRAD_HAVE_ZLIB)
    target_compile_definitions(${target} PRIVATE LUAGRAD_HAVE_ZLIB)
    target_include_directories(${target} PRIVATE ${ZLIB_INCLUDE_DIRS})
    target_link_libraries(${target} PRIVATE ${ZLIB_LIBRARIES})
  endif()
endfunction()

# the module, as build/asan/luagrad/core.so, and the test host beside it
add_library(luagrad_module_asan MODULE ${SAN_SOURCES})
sanitized(luagrad_module_asan)
set_target_properties(luagrad_module_asan PROPERTIES PREFIX "" OUTPUT_NAME core
  C_VISIBILITY_PRESET hidden LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/asan/luagrad)
target_link_libraries(luagrad_module_asan PRIVATE m)
add_library(lg_testhost_asan MODULE lg_testhost.c)
sanitized(lg_testhost_asan)
set_target_properties(lg_testhost_asan PROPERTIES PREFIX "" OUTPUT_NAME lg_testhost
  C_VISIBILITY_PRESET default LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/asan)

# the allocation-failure host, with the runtime linked in
add_executable(test_alloc_asan test_alloc.c ${SAN_SOURCES})
sanitized(test_alloc_asan)
target_link_libraries(test_alloc_asan PRIVATE ${LUA_LIBRARIES} m)
add_test(NAME asan-c-alloc COMMAND test_alloc_asan)
set_tests_properties(asan-c-alloc PROPERTIES ENVIRONMENT "${SAN_ENV}")

# the host-function host: host and custom functions, their calls, sweeps and replays
add_executable(test_hostfn_asan test_hostfn.c ${SAN_SOURCES})
sanitized(test_hostfn_asan)
target_link_libraries(test_hostfn_asan PRIVATE ${LUA_LIBRARIES} m)
add_test(NAME asan-c-hostfn COMMAND test_hostfn_asan ${CMAKE_CURRENT_SOURCE_DIR}/hostfn_test.lua)
set_tests_properties(asan-c-hostfn PROPERTIES ENVIRONMENT "${SAN_ENV}")

# the fuzz target with a plain main, over the committed corpus
add_executable(fuzz_replay fuzz/fuzz_luagrad.c fuzz/replay.c ${SAN_SOURCES})
sanitized(fuzz_replay)
target_link_libraries(fuzz_replay PRIVATE ${LUA_LIBRARIES} m)
add_test(NAME fuzz-corpus COMMAND fuzz_replay ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus)
set_tests_properties(fuzz-corpus PROPERTIES ENVIRONMENT "${SAN_ENV}")

# the differential fuzz target of lg.compile, likewise, every op included (the derivatives of
# relu, abs, max, min and pow are built with masks: the same under replays)
add_executable(fuzz_compile_replay fuzz/fuzz_compile.c fuzz/replay.c ${SAN_SOURCES})
sanitized(fuzz_compile_replay)
target_compile_definitions(fuzz_compile_replay PRIVATE
  "LUAGRAD_FUZZ_PROGRAMS=\"${CMAKE_CURRENT_SOURCE_DIR}/fuzz/compile_programs.lua\"")
target_link_libraries(fuzz_compile_replay PRIVATE ${LUA_LIBRARIES} m)
add_test(NAME fuzz-compile-corpus COMMAND fuzz_compile_replay
         ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus_compile)
set_tests_properties(fuzz-compile-corpus PROPERTIES
  ENVIRONMENT "${SAN_ENV};LUAGRAD_FUZZ_MASKS=1;LUAGRAD_FUZZ_STATS=1")

# the safetensors reader and writer, from the core alone, over their committed corpus
add_executable(fuzz_safetensors_replay fuzz/fuzz_safetensors.c fuzz/replay.c
               ${LUAGRAD_CORE_SOURCES})
sanitized(fuzz_safetensors_replay)
target_link_libraries(fuzz_safetensors_replay PRIVATE m)
add_test(NAME fuzz-safetensors-corpus COMMAND fuzz_safetensors_replay
         ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus_safetensors)
set_tests_properties(fuzz-safetensors-corpus PROPERTIES ENVIRONMENT "${SAN_ENV}")

# every spec file against the sanitized module (the #slow ones included)
if(BUSTED AND LUA54)
  foreach(spec IN LISTS SPECS)
    get_filename_component(name ${spec} NAME_WE)
    add_test(NAME asan-${name}
      COMMAND ${LUA54} ${BUSTED}
              "--lpath=${PROJECT_SOURCE_DIR}/lua/?.lua$<SEMICOLON>${PROJECT_SOURCE_DIR}/lua/?/init.lua"
              "--cpath=${PROJECT_BINARY_DIR}/asan/?.so" ${spec}
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(asan-${name} PROPERTIES ENVIRONMENT
      "LD_PRELOAD=${ASAN_RUNTIME};${SAN_ENV};LUAGRAD_BIN=$<TARGET_FILE:luagrad>;LUAGRAD_EXAMPLES=${PROJECT_SOURCE_DIR}/examples;LUAGRAD_HAVE_ZLIB=${LUAGRAD_ZLIB_WORD}")
  endforeach()
endif()

# the tensor kernels under AddressSanitizer + UBSan, built from the sources without CBLAS:
# this run checks lgI_matmul's blocked C loop end to end (c-tensor checks the CBLAS path)
add_executable(test_tensor_asan test_tensor.c ${LUAGRAD_CORE_SOURCES})
sanitized(test_tensor_asan)
target_link_libraries(test_tensor_asan PRIVATE m)
add_test(NAME asan-c-tensor COMMAND test_tensor_asan)
set_tests_properties(asan-c-tensor PROPERTIES ENVIRONMENT "${SAN_ENV}")

# the data readers (CSV, IDX, gzip with zlib where the build has it, and their mutated
# inputs) under AddressSanitizer + UBSan
add_executable(test_data_asan test_data.c ${LUAGRAD_CORE_SOURCES})
sanitized(test_data_asan)
target_link_libraries(test_data_asan PRIVATE m)
add_test(NAME asan-c-data COMMAND test_data_asan)
set_tests_properties(asan-c-data PROPERTIES ENVIRONMENT "${SAN_ENV}")
