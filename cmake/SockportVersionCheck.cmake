# The version macros in include/sockport/base.h (which sp_version() returns) must say what
# project(VERSION) says (which names the packages, the SOVERSION and sockportConfigVersion).
# Configuring fails when they disagree, so that a release cannot bump one and not the other.
file(STRINGS ${PROJECT_SOURCE_DIR}/include/sockport/base.h _sp_version_lines
  REGEX "^#define SP_VERSION_(MAJOR|MINOR|PATCH|STRING) ")
set(_sp_expect_MAJOR "${PROJECT_VERSION_MAJOR}")
set(_sp_expect_MINOR "${PROJECT_VERSION_MINOR}")
set(_sp_expect_PATCH "${PROJECT_VERSION_PATCH}")
set(_sp_expect_STRING "\"${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}.${PROJECT_VERSION_PATCH}\"")
foreach(_sp_part MAJOR MINOR PATCH STRING)
  set(_sp_found "")
  foreach(_sp_line IN LISTS _sp_version_lines)
    if(_sp_line MATCHES "^#define SP_VERSION_${_sp_part} +([^ ]+)$")
      set(_sp_found "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  if(NOT _sp_found STREQUAL _sp_expect_${_sp_part})
    message(FATAL_ERROR "sockport: include/sockport/base.h defines SP_VERSION_${_sp_part} as "
      "'${_sp_found}' but project() says version ${PROJECT_VERSION} "
      "('${_sp_expect_${_sp_part}}' expected): make them agree")
  endif()
endforeach()
unset(_sp_version_lines)
unset(_sp_found)
