# Included by ctest after the GoogleTest discovery (TEST_INCLUDE_FILES, tests/CMakeLists.txt):
# the tests that are long by design get a limit of their own instead of racing the
# default 120 s. Each one bounds its own work (a time budget with a minimum of work for
# its verdict), so this limit is only the hang guard: budget + minimum work + slack.
#   FaultProcChurn.*   at least 1,000 cycles, then up to 10,000 within a 30 s budget
#                      (fork model: ~10 ms a cycle on a loaded machine, more in Debug)
#   Server.HundredClientsEchoRandomSizesByteForByte   100 clients x 1,000 messages
set(SOCKPORT_LONG_TEST_REGEX
    "FaultProcChurn\\.|Server\\.HundredClientsEchoRandomSizesByteForByte/")
# Tests that take the whole machine run alone (RUN_SERIAL): a thousand client threads
# and a thousand server threads or children. Beside one under TSan (19 s), a neighbour's
# 20 MiB replies took 9.4 s instead of 0.6 s and its bounded waits failed (CI, 2026-12-05).
#   ServerEngine.AThousandSimultaneousClientsAllServed
set(SOCKPORT_SERIAL_TEST_REGEX "ServerEngine\\.AThousandSimultaneousClientsAllServed/")
foreach(sockport_test IN LISTS sockport_tests_TESTS)
  if(sockport_test MATCHES "${SOCKPORT_LONG_TEST_REGEX}")
    set_tests_properties("${sockport_test}" PROPERTIES TIMEOUT 300 LABELS long)
  endif()
  if(sockport_test MATCHES "${SOCKPORT_SERIAL_TEST_REGEX}")
    set_tests_properties("${sockport_test}" PROPERTIES RUN_SERIAL TRUE)
  endif()
endforeach()
