# Fuzz harnesses (tests/fuzz/README.md). Two ways to build each one:
#  - LUACNN_FUZZ=ON (clang; CI's build-fuzz tree): a libFuzzer executable under ASan+UBSan,
#    and a ctest test fuzz/<name> that fuzzes it for LUACNN_FUZZ_SECONDS from the seed corpus;
#  - otherwise (any compiler; the main and build-asan trees): a replay executable and a test
#    fuzz_replay/<name> that runs the seed corpus and every input that once failed
#    (tests/fuzz/regress/<name>) once, so a fixed bug stays fixed without clang.
set(FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
set(LUACNN_FUZZ_SECONDS 15 CACHE STRING "Seconds each fuzz/<name> test fuzzes for")
# name -> C source; the Lua targets share fuzz_lua.c and differ by script
set(FUZZ_C_TARGETS idx csv image)
set(FUZZ_LUA_TARGETS safetensors checkpoint_optim args sweep_plan)

function(luacnn_fuzz_target name)
  if(name IN_LIST FUZZ_C_TARGETS)
    set(src ${FUZZ_DIR}/fuzz_${name}.c)
  else()
    set(src ${FUZZ_DIR}/fuzz_lua.c)
  endif()
  if(LUACNN_FUZZ)
    set(exe fuzz_${name})
    add_executable(${exe} ${src})
    target_link_options(${exe} PRIVATE -fsanitize=fuzzer)
  else()
    set(exe replay_${name})
    add_executable(${exe} ${src} ${FUZZ_DIR}/replay_main.c)
  endif()
  target_link_libraries(${exe} PRIVATE luacnn_core ${LUA_STATIC_LIB} dl m)
  target_include_directories(${exe} PRIVATE ${LUA_INCLUDE_DIRS})
  target_compile_definitions(${exe} PRIVATE FUZZ_SCRIPT="${name}" LUACNN_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  set_target_properties(${exe} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  if(LUACNN_FUZZ)
    # new inputs go to the build tree's corpus; the committed seeds are read only
    set(work ${CMAKE_BINARY_DIR}/fuzz/corpus-${name})
    file(MAKE_DIRECTORY ${work} ${CMAKE_BINARY_DIR}/fuzz/artifacts)
    add_test(NAME fuzz/${name}
      COMMAND ${exe} -max_total_time=${LUACNN_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048
              -max_len=65536 -print_final_stats=1
              -artifact_prefix=${CMAKE_BINARY_DIR}/fuzz/artifacts/${name}-
              ${work} ${FUZZ_DIR}/corpus/${name} ${FUZZ_DIR}/regress/${name})
    set_tests_properties(fuzz/${name} PROPERTIES LABELS fuzz TIMEOUT 300
      ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1;LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/lsan.supp")
  else()
    add_test(NAME fuzz_replay/${name}
      COMMAND ${exe} ${FUZZ_DIR}/corpus/${name} ${FUZZ_DIR}/regress/${name})
    set_tests_properties(fuzz_replay/${name} PROPERTIES LABELS fuzz_replay)
  endif()
endfunction()

foreach(t ${FUZZ_C_TARGETS} ${FUZZ_LUA_TARGETS})
  luacnn_fuzz_target(${t})
endforeach()
