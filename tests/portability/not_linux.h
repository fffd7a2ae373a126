/*
 * not_linux.h - force-included first (-include) when the test sources are compiled as if
 * for a POSIX system that is not Linux (macOS, the BSDs), on Linux: the only system here.
 *
 * It includes every system and library header the tests use while the Linux macros still
 * hold (glibc's headers need them), then removes the macros that say "Linux" or "glibc"
 * and poisons the Linux-only calls and constants: a test source that uses one outside a
 * `#if defined(__linux__)` (or `__GLIBC__`) block fails to compile, naming it. The
 * headers' include guards keep the later #includes of the tests from reading them again.
 * The command is in tests/portability/check-not-linux.sh.
 */
#ifndef SOCKPORT_TESTS_NOT_LINUX_H
#define SOCKPORT_TESTS_NOT_LINUX_H

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#undef __linux__
#undef __linux
#undef linux
#undef __gnu_linux__
#undef __GLIBC__
#undef __GLIBC_MINOR__

/* Linux-only (or glibc-only) names a test must keep behind a guard (macros are removed
 * first: poisoning a defined macro is itself an error). */
#undef CLONE_NEWNET
#undef CLONE_NEWUSER
#undef CLONE_NEWNS
#undef SOCK_CLOEXEC
#undef SOCK_NONBLOCK
#undef O_PATH
#undef TCP_USER_TIMEOUT
#undef SO_PEERCRED
#pragma GCC poison unshare setns CLONE_NEWNET CLONE_NEWUSER CLONE_NEWNS
#pragma GCC poison SOCK_CLOEXEC SOCK_NONBLOCK accept4 pipe2 dup3 O_PATH
#pragma GCC poison mallinfo mallinfo2 malloc_trim malloc_usable_size prctl
#pragma GCC poison epoll_create epoll_create1 epoll_ctl epoll_wait eventfd signalfd timerfd_create
#pragma GCC poison sendmmsg recvmmsg splice tee sendfile TCP_USER_TIMEOUT SO_PEERCRED
#pragma GCC poison get_nprocs gettid syscall

#endif /* SOCKPORT_TESTS_NOT_LINUX_H */
