# CPack: `cpack` in a build directory makes the binary packages of that build, and
# `cpack --config CPackSourceConfig.cmake` the source archive (scripts/checks/30-package.sh).
#   Linux:   sockport-<v>-Linux.tar.gz (everything installed), and two Debian packages from
#            the install components: libsockport<SOVERSION> (the shared library) and
#            libsockport-dev (headers, the .so link, the CMake package, the .pc), the
#            latter depending on the former at the same version. Build the .deb from a
#            shared build (-DBUILD_SHARED_LIBS=ON): from a static one libsockport-dev holds
#            the .a and the runtime package is empty.
#   Windows: sockport-<v>-win64.zip (bin/ the DLL, lib/ the import library, include/,
#            lib/cmake, lib/pkgconfig).
#   Source:  sockport-<v>-Source.tar.gz, without build trees and git files.
set(CPACK_PACKAGE_NAME sockport)
set(CPACK_PACKAGE_VENDOR "sockport")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION "sockport is a C11 library with one socket API over Berkeley sockets and
Winsock: one handle type, one set of error codes, non-blocking connects,
timeouts in milliseconds, no SIGPIPE, a portable select and scalable
pollers, message framing, and one server API over threads, fork and an
event loop.")
set(CPACK_RESOURCE_FILE_README ${PROJECT_SOURCE_DIR}/README.md)
set(CPACK_PACKAGE_CHECKSUM SHA256)
set(CPACK_VERBATIM_VARIABLES ON)
set(CPACK_STRIP_FILES OFF)

if(WIN32)
  set(CPACK_GENERATOR ZIP)
  set(CPACK_SYSTEM_NAME win64)
  if(NOT CMAKE_SIZEOF_VOID_P EQUAL 8)
    set(CPACK_SYSTEM_NAME win32)
  endif()
elseif(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  set(CPACK_GENERATOR TGZ DEB)
else()
  set(CPACK_GENERATOR TGZ)
endif()

# Debian: one package per install component, named the Debian way.
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Debian requires a maintainer: whoever builds the packages names themselves here.
set(SOCKPORT_PACKAGE_MAINTAINER "sockport maintainers <sockport@invalid>"
  CACHE STRING "Maintainer field of the Debian packages")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SOCKPORT_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libsockport${PROJECT_VERSION_MAJOR})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libsockport-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
# The runtime package's dependencies (libc) come from dpkg-shlibdeps, when it is installed
# (dpkg-dev).
find_program(SOCKPORT_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(SOCKPORT_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
endif()
set(CPACK_DEBIAN_PACKAGE_VERSION ${PROJECT_VERSION})
if(BUILD_SHARED_LIBS)
  # The headers and the .so link are for this very library build.
  set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS
    "${CPACK_DEBIAN_RUNTIME_PACKAGE_NAME} (= ${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE})")
endif()
# (Debian's synopsis line is CPACK_PACKAGE_DESCRIPTION_SUMMARY for both packages.)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}
.
This package holds the shared library.")
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}
.
This package holds the headers, the CMake package (find_package(sockport))
and the pkg-config file (sockport.pc).")

# Source archive: what is in the source tree, less build trees, editors' and git's files.
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_PACKAGE_FILE_NAME sockport-${PROJECT_VERSION}-Source)
string(REGEX REPLACE "([][+.*()^$?|\\\\])" "\\\\\\1" _sp_src_re "${PROJECT_SOURCE_DIR}")
set(CPACK_SOURCE_IGNORE_FILES
  "^${_sp_src_re}/build/"
  "^${_sp_src_re}/out/"
  "^${_sp_src_re}/\\.git$"
  "/\\.git/"
  "/\\.cache/"
  "/\\.vscode/"
  "/\\.idea/"
  "/CMakeUserPresets\\.json$"
  "/compile_commands\\.json$"
  "\\.swp$"
  "~$")

include(CPack)
