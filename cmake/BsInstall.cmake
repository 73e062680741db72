# Installation: public headers (with the generated bs_version.h), the shared library (SONAME =
# ABI major version, versioned file and development symlink), the static library, a relocatable
# CMake package (find_package(blocksparse CONFIG) -> blocksparse::blocksparse and
# blocksparse::blocksparse_static) and a relocatable pkg-config file (blocksparse.pc).
# Components: "Runtime" (the versioned shared library) and "Development" (everything else).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(BS_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/blocksparse")
set(BS_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/blocksparse" "${PROJECT_BINARY_DIR}/include/blocksparse"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT Development
        FILES_MATCHING PATTERN "*.h")

# The shared library and the static one go to separate export sets: the shared library's interface
# is plain C (its OpenMP and CUDA runtime dependencies are private), while linking the static one
# needs the C++ runtime, OpenMP and the CUDA runtime, which the package config finds only when asked.
install(TARGETS blocksparse EXPORT blocksparseSharedTargets
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT Runtime NAMELINK_COMPONENT Development
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT Runtime
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT Development)
install(TARGETS blocksparse_static EXPORT blocksparseStaticTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT Development)
# (The targets' install include path, <prefix>/include, is set in lib/CMakeLists.txt.)
foreach(set_name Shared Static)
  install(EXPORT blocksparse${set_name}Targets NAMESPACE blocksparse::
          FILE blocksparse${set_name}Targets.cmake DESTINATION "${BS_INSTALL_CMAKEDIR}" COMPONENT Development)
endforeach()

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/blocksparseConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/cmake/blocksparseConfig.cmake" INSTALL_DESTINATION "${BS_INSTALL_CMAKEDIR}")
# ABI major version = SONAME: a package of another major version is never picked.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/cmake/blocksparseConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/cmake/blocksparseConfig.cmake"
              "${PROJECT_BINARY_DIR}/cmake/blocksparseConfigVersion.cmake"
        DESTINATION "${BS_INSTALL_CMAKEDIR}" COMPONENT Development)

# pkg-config. Libs.private lists what linking the static library needs besides itself, as -L/-l
# flags: the C++ runtime (what C++ links implicitly beyond C), OpenMP and, with CUDA, the CUDA runtime.
function(bs_pkgconfig_flags out)
  set(flags "")
  foreach(lib IN LISTS ARGN)
    if(IS_ABSOLUTE "${lib}")
      get_filename_component(dir "${lib}" DIRECTORY)
      get_filename_component(name "${lib}" NAME_WE)
      string(REGEX REPLACE "^lib" "" name "${name}")
      if(NOT dir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
        list(APPEND flags "-L${dir}")
      endif()
      list(APPEND flags "-l${name}")
    else()
      list(APPEND flags "-l${lib}")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES flags)
  string(JOIN " " flags ${flags})
  set(${out} "${flags}" PARENT_SCOPE)
endfunction()

find_package(OpenMP REQUIRED COMPONENTS CXX)  # found by lib/ already (cached); its variables live there
set(bs_private_libs ${CMAKE_CXX_IMPLICIT_LINK_LIBRARIES})
list(REMOVE_ITEM bs_private_libs ${CMAKE_C_IMPLICIT_LINK_LIBRARIES})
list(APPEND bs_private_libs ${OpenMP_CXX_LIBRARIES})
if(BS_WITH_CUDA)
  list(APPEND bs_private_libs "${CUDA_cudart_LIBRARY}")
endif()
bs_pkgconfig_flags(BS_PC_LIBS_PRIVATE ${bs_private_libs})
# The .pc file finds its prefix from its own location, so the installed tree can be moved (unless
# the install directories were given as absolute paths).
file(RELATIVE_PATH bs_pc_up "/prefix/${BS_INSTALL_PKGCONFIGDIR}" "/prefix")
string(REGEX REPLACE "/$" "" bs_pc_up "${bs_pc_up}")
set(BS_PC_PREFIX "\${pcfiledir}/${bs_pc_up}")
foreach(kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(BS_PC_${kind} "${CMAKE_INSTALL_${kind}}")
  else()
    set(BS_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()
configure_file("${PROJECT_SOURCE_DIR}/cmake/blocksparse.pc.in" "${PROJECT_BINARY_DIR}/blocksparse.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/blocksparse.pc" DESTINATION "${BS_INSTALL_PKGCONFIGDIR}" COMPONENT Development)
