# The set-up every example app's CMakeLists.txt shares after its project(): gnnkit (in-tree
# target, or the installed package when the app is built on its own), C++20, and the apps'
# common code (gnnkit_app_common: CLI helpers, JSON lines, progress line, SVG charts).
if(NOT TARGET gnnkit::gnnkit)
  find_package(gnnkit 0.1 CONFIG REQUIRED)
endif()
if(NOT CMAKE_CXX_STANDARD)
  set(CMAKE_CXX_STANDARD 20)
  set(CMAKE_CXX_STANDARD_REQUIRED ON)
endif()
if(NOT TARGET gnnkit_app_common)
  add_subdirectory(${CMAKE_CURRENT_LIST_DIR} ${CMAKE_BINARY_DIR}/examples_common)
endif()

# A ctest that runs APP (a target) with the given arguments and passes only when it exits with
# the usage-error code 2 (not just non-zero). Named LABEL.cli.NAME, labelled LABEL.
function(gnnkit_app_usage_error_test app label name)
  add_test(NAME ${label}.cli.${name} COMMAND sh -c "\"$0\" \"$@\" 2>/dev/null; test $? -eq 2"
                                             $<TARGET_FILE:${app}> ${ARGN})
  set_tests_properties(${label}.cli.${name} PROPERTIES LABELS ${label})
endfunction()
