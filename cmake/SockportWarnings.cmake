# Warnings are errors on every compiler sockport is built with.
function(sockport_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 $<$<BOOL:${SOCKPORT_WERROR}>:/WX>)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
      $<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes -Wmissing-prototypes>
      $<$<BOOL:${SOCKPORT_WERROR}>:-Werror>)
  endif()
endfunction()
