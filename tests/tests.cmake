# C tests: every tests/c/test_*.c is one executable and one ctest test.
file(GLOB C_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/c/test_*.c)
foreach(src ${C_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE luacnn_core ${LUA_STATIC_LIB} util dl)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME c/${name} COMMAND ${name})
  set_tests_properties(c/${name} PROPERTIES
    ENVIRONMENT "LUACNN_EXE=$<TARGET_FILE:luacnn>;LUACNN_SOURCE=${CMAKE_SOURCE_DIR}"
    SKIP_RETURN_CODE 77)
endforeach()

# Layering (docs/architecture.md): kernels/ include nothing from above, kernels/cuda nothing of
# kernels/cpu, runtime/ nothing of bindings/ or plot/.
add_test(NAME layers COMMAND sh ${CMAKE_SOURCE_DIR}/tests/check_layers.sh ${CMAKE_SOURCE_DIR})
# Inside runtime/: backends never call back into tensor-level code, no call cycles outside the
# tensor/autograd/ops group (checked on the compiled objects).
add_test(NAME runtime_calls COMMAND sh ${CMAKE_SOURCE_DIR}/tests/check_runtime_calls.sh
  ${CMAKE_BINARY_DIR}/CMakeFiles/luacnn_core.dir)
set_tests_properties(runtime_calls PROPERTIES SKIP_RETURN_CODE 77)
# docs/architecture.md's "how to add an op" lists the files of adaptive_avg_pool2d: still true?
add_test(NAME op_files COMMAND sh ${CMAKE_SOURCE_DIR}/tests/check_op_files.sh ${CMAKE_SOURCE_DIR})

# Lua specs: every tests/*_spec.lua runs under busted inside the luacnn executable.
find_program(BUSTED busted)
file(GLOB LUA_SPECS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/*_spec.lua)
foreach(spec ${LUA_SPECS})
  get_filename_component(name ${spec} NAME_WE)
  add_test(NAME lua/${name}
    COMMAND $<TARGET_FILE:luacnn> ${BUSTED} --output=TAP ${spec}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(lua/${name} PROPERTIES
    ENVIRONMENT "LUACNN_DATA=${CMAKE_SOURCE_DIR}/../shared/data;LUACNN_EXE=$<TARGET_FILE:luacnn>"
    SKIP_RETURN_CODE 77)
endforeach()

# The GPU suite passes vacuously without a GPU; ctest shows it as skipped instead.
if(TEST lua/cuda_spec)
  set_tests_properties(lua/cuda_spec PROPERTIES SKIP_REGULAR_EXPRESSION "SKIPPED: cuda_spec needs a GPU")
endif()

# The Jupyter kernel through the real Jupyter client (tests/jupyter/test_*.py): Python's
# jupyter_client, nbclient and nbformat, from a venv the runner makes in the build tree when
# no Python has them. Skipped (77) without Python, pip's network, or a kernel in the build;
# test_lab also needs JupyterLab (installed into that venv the same way) and Debian's chromium
# (.ci/run installs it).
find_program(BASH_PROGRAM bash)
file(GLOB JUPYTER_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/jupyter/test_*.py)
foreach(py ${JUPYTER_TESTS})
  get_filename_component(name ${py} NAME_WE)
  add_test(NAME jupyter/${name}
    COMMAND ${BASH_PROGRAM} ${CMAKE_SOURCE_DIR}/tests/jupyter/run_test.sh ${py}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(jupyter/${name} PROPERTIES
    ENVIRONMENT "LUACNN_EXE=$<TARGET_FILE:luacnn>;JUPYTER_VENV=${CMAKE_BINARY_DIR}/jupyter-venv;LUACNN_SCREENSHOT=${CMAKE_BINARY_DIR}/jupyterlab-lenet.png;LUACNN_DATA=${CMAKE_SOURCE_DIR}/../shared/data"
    SKIP_RETURN_CODE 77 TIMEOUT 900 RESOURCE_LOCK jupyter_venv)
endforeach()
