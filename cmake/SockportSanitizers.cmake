# SOCKPORT_SANITIZE="address;undefined" or "thread": applied to the library and to every
# program that links it (tests, examples, benchmarks) through the interface.
function(sockport_sanitize target)
  if(NOT SOCKPORT_SANITIZE OR MSVC)
    return()
  endif()
  list(JOIN SOCKPORT_SANITIZE "," san)
  target_compile_options(${target} PUBLIC -fsanitize=${san} -fno-sanitize-recover=all
    -fno-omit-frame-pointer)
  target_link_options(${target} PUBLIC -fsanitize=${san})
endfunction()
