/**
 * @file sockport/base.h
 * @brief The socket handle type, the export macro, versions, init.
 *
 * This is the only public header that looks at the platform: it decides what a
 * socket handle is (a SOCKET on Windows, an int elsewhere) and how symbols are
 * exported from a DLL. Everything else in sockport is written against these names.
 */
#ifndef SOCKPORT_BASE_H
#define SOCKPORT_BASE_H

#include <stddef.h>
#include <stdint.h>

/** Major version of the headers. sp_version() gives the version of the library linked. */
#define SP_VERSION_MAJOR 0
/** Minor version of the headers. */
#define SP_VERSION_MINOR 1
/** Patch version of the headers. */
#define SP_VERSION_PATCH 0
/** The version of the headers as text, "MAJOR.MINOR.PATCH". */
#define SP_VERSION_STRING "0.1.0"
/** One number that grows with every release: 0xMMmmpp. */
#define SP_VERSION_HEX ((SP_VERSION_MAJOR << 16) | (SP_VERSION_MINOR << 8) | SP_VERSION_PATCH)

/**
 * @def SP_API
 * Marks the public functions (dllexport / dllimport on Windows, default visibility with
 * gcc and clang). Define SOCKPORT_STATIC when linking the static library (the CMake
 * target and pkg-config file do it for you); SOCKPORT_BUILDING is defined only while
 * sockport itself is compiled.
 */
#if defined(_WIN32) || defined(__CYGWIN__)
#    if defined(SOCKPORT_STATIC)
#        define SP_API
#    elif defined(SOCKPORT_BUILDING)
#        define SP_API __declspec(dllexport)
#    else
#        define SP_API __declspec(dllimport)
#    endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#    define SP_API __attribute__((visibility("default")))
#else
#    define SP_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @typedef sp_socket_t
 * A socket handle. On Windows it has the size and value of a SOCKET (an unsigned
 * pointer-sized integer, `uintptr_t`); elsewhere it is a file descriptor (`int`). Compare
 * against SP_INVALID_SOCKET, never against a negative number.
 *
 * @def SP_INVALID_SOCKET
 * The value of no socket: INVALID_SOCKET on Windows, -1 elsewhere. Calls that return a
 * new socket through a pointer store it there when they fail.
 */
#if defined(_WIN32)
typedef uintptr_t sp_socket_t;
#    define SP_INVALID_SOCKET (~(sp_socket_t)0)
#else
typedef int sp_socket_t;
#    define SP_INVALID_SOCKET (-1)
#endif

/**
 * One buffer of a scatter/gather call (sp_sendv, sp_recvv). Its layout is the system's
 * own (struct iovec on POSIX: `void *base; size_t len;`, WSABUF on Windows:
 * `unsigned long len; char *base;`), so an array of them is passed to the kernel without
 * a copy. Use the field names, never the field order; on Windows a single buffer is
 * limited to 4 GiB - 1 bytes (ULONG). Fill it with sp_iovec_make().
 */
#if defined(_WIN32)
typedef struct sp_iovec {
    unsigned long len; /**< the number of bytes */
    char *base;        /**< the first byte */
} sp_iovec;
#else
typedef struct sp_iovec {
    void *base; /**< the first byte */
    size_t len; /**< the number of bytes */
} sp_iovec;
#endif

/**
 * A buffer descriptor for `len` bytes at `base` (the const is dropped: a send does not
 * write through it). No errors.
 * @param base the first byte.
 * @param len  the number of bytes; on Windows it must be below 4 GiB.
 * @return the descriptor.
 */
static inline sp_iovec sp_iovec_make(const void *base, size_t len)
{
    sp_iovec v;
    v.base = (char *)(uintptr_t)base;
    v.len = (unsigned long)len;
    return v;
}

/**
 * Start the socket layer. Call it once per user of the library before any other call; it
 * is reference counted and thread-safe (on Windows it calls WSAStartup 2.2 on the first
 * call; on POSIX it only counts).
 * @return 0, or on Windows only: SP_ENOTSUP when Winsock 2.2 is missing
 *   (WSAVERNOTSUPPORTED), SP_ENETDOWN when the network subsystem is not ready
 *   (WSASYSNOTREADY), another SP_E* code for another WSAStartup error, SP_EINVAL when the
 *   count would pass INT_MAX.
 */
SP_API int sp_init(void);

/**
 * Undo one sp_init(). The last one releases the socket layer (WSACleanup on Windows).
 * @return 0, or SP_ENOTINIT when there was no matching sp_init().
 */
SP_API int sp_cleanup(void);

/**
 * The version of the library actually linked (compare with SP_VERSION_STRING).
 * @return a static string such as "0.1.0"; never NULL. No errors.
 */
SP_API const char *sp_version(void);

/**
 * A monotonic clock in milliseconds, for timeouts and deadlines: it never goes back and
 * does not follow changes of the wall-clock time. Its zero is arbitrary (typically the
 * system's start): compare two readings, never a reading with a date. POSIX:
 * clock_gettime(CLOCK_MONOTONIC); Windows: GetTickCount64, which advances in steps of the
 * system timer (about 15.6 ms unless a program asked for a finer one). No errors.
 * @return the time in milliseconds.
 */
SP_API uint64_t sp_now_ms(void);

/**
 * Sleep for at least ms milliseconds (POSIX nanosleep, Windows Sleep). A signal does not
 * cut it short on POSIX: the sleep goes on for the time left. Windows rounds up to its
 * timer step (see sp_now_ms()).
 * @param ms how long; 0 gives the processor to another thread if one is ready.
 * @return 0, or SP_EINVAL (ms < 0).
 */
SP_API int sp_sleep_ms(int ms);

/**
 * The backend compiled in.
 * @return "posix" or "win32" (a static string). No errors.
 */
SP_API const char *sp_platform(void);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_BASE_H */
