# Install rules: headers, the library, sockportConfig.cmake (+ version) and sockport.pc.
# Two components: "runtime" (the shared library / DLL) and "development" (everything
# needed to build against it: headers, the static or import library, the .so link, the
# CMake package and the .pc). `cmake --install` without --component installs both.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS sockport EXPORT sockportTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT development
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development)

set(SOCKPORT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/sockport)
install(EXPORT sockportTargets NAMESPACE sockport:: DESTINATION ${SOCKPORT_CMAKE_DIR}
  COMPONENT development)
configure_package_config_file(cmake/sockportConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/sockportConfig.cmake INSTALL_DESTINATION ${SOCKPORT_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/sockportConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/sockportConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/sockportConfigVersion.cmake DESTINATION ${SOCKPORT_CMAKE_DIR}
  COMPONENT development)

# A static library brings its dependencies in Libs (a plain `pkg-config --libs` links);
# a shared one names them in Libs.private only (for `pkg-config --static`).
if(BUILD_SHARED_LIBS)
  set(SOCKPORT_PC_CFLAGS "")
  set(SOCKPORT_PC_PRIVATE_LIBS "${SOCKPORT_PC_LIBS}")
  set(SOCKPORT_PC_PUBLIC_LIBS "")
else()
  set(SOCKPORT_PC_CFLAGS "-DSOCKPORT_STATIC")
  set(SOCKPORT_PC_PRIVATE_LIBS "")
  set(SOCKPORT_PC_PUBLIC_LIBS "${SOCKPORT_PC_LIBS}")
endif()
# The .pc file finds its prefix relative to itself, so that `cmake --install --prefix X`
# and relocated packages work: lib/pkgconfig -> ../..
string(REGEX REPLACE "[^/]+" ".." SOCKPORT_PC_UP "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
configure_file(cmake/sockport.pc.in ${CMAKE_CURRENT_BINARY_DIR}/sockport.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/sockport.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  COMPONENT development)
