# The API reference: `sockport_docs` runs Doxygen over the public headers (docs/Doxyfile.in)
# and fails when Doxygen warns, e.g. about an undocumented public symbol or parameter.
# Defined only when Doxygen is found; not part of the default build.
find_package(Doxygen QUIET COMPONENTS doxygen)
if(NOT DOXYGEN_FOUND)
  return()
endif()
set(SOCKPORT_DOCS_OUT ${CMAKE_CURRENT_BINARY_DIR}/docs)
set(SOCKPORT_DOCS_FILTER ${CMAKE_CURRENT_SOURCE_DIR}/docs/doxygen-filter.sh)
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/docs/Doxyfile.in ${SOCKPORT_DOCS_OUT}/Doxyfile @ONLY)
add_custom_target(sockport_docs
  COMMAND ${CMAKE_COMMAND} -DDOXYGEN=$<TARGET_FILE:Doxygen::doxygen>
          -DDOXYFILE=${SOCKPORT_DOCS_OUT}/Doxyfile -DLOG=${SOCKPORT_DOCS_OUT}/warnings.log
          -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/SockportDocsRun.cmake
  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
  COMMENT "API reference (Doxygen): ${SOCKPORT_DOCS_OUT}/html/index.html"
  VERBATIM)
