# User-facing build options (all prefixed BS_).
set(BS_ENABLE_CUDA "AUTO" CACHE STRING "Build the CUDA backend: AUTO (when nvcc is found), ON or OFF")
set_property(CACHE BS_ENABLE_CUDA PROPERTY STRINGS AUTO ON OFF)
option(BS_BUILD_TESTS "Build the C/C++ tests and register every test with CTest" ON)
option(BS_BUILD_EXAMPLES "Build the examples" ON)
option(BS_BUILD_BENCH "Build the benchmarks" ON)
option(BS_WERROR "Treat compiler warnings as errors" OFF)
option(BS_SANITIZE "Build host code with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
