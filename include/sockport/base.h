/*
 * sockport/base.h - the socket handle type, the export macro, versions, init.
 *
 * This is the only public header that looks at the platform: it decides what a
 * socket handle is (a SOCKET on Windows, an int elsewhere) and how symbols are
 * exported from a DLL. Everything else in sockport is written against these names.
 */
#ifndef SOCKPORT_BASE_H
#define SOCKPORT_BASE_H

#include <stddef.h>
#include <stdint.h>

/* Version of the headers. sp_version() gives the version of the library linked. */
#define SP_VERSION_MAJOR  0
#define SP_VERSION_MINOR  1
#define SP_VERSION_PATCH  0
#define SP_VERSION_STRING "0.1.0"
/* One number that grows with every release: 0xMMmmpp. */
#define SP_VERSION_HEX ((SP_VERSION_MAJOR << 16) | (SP_VERSION_MINOR << 8) | SP_VERSION_PATCH)

/*
 * SP_API marks the public functions. Define SOCKPORT_STATIC when linking the static
 * library (the CMake target and pkg-config file do it for you); SOCKPORT_BUILDING is
 * defined only while sockport itself is compiled.
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

/*
 * sp_socket_t: a socket handle. On Windows it has the size and value of a SOCKET
 * (an unsigned pointer-sized integer); elsewhere it is a file descriptor. Compare
 * against SP_INVALID_SOCKET, never against a negative number.
 */
#if defined(_WIN32)
typedef uintptr_t sp_socket_t;
#    define SP_INVALID_SOCKET (~(sp_socket_t)0)
#else
typedef int sp_socket_t;
#    define SP_INVALID_SOCKET (-1)
#endif

/*
 * sp_iovec: one buffer of a scatter/gather call (sp_sendv, sp_recvv). Its layout is the
 * system's own (struct iovec on POSIX, WSABUF on Windows), so an array of them is passed
 * to the kernel without a copy. Use the field names, never the field order; on Windows a
 * single buffer is limited to 4 GiB - 1 bytes (ULONG).
 */
#if defined(_WIN32)
typedef struct sp_iovec {
    unsigned long len;
    char *base;
} sp_iovec;
#else
typedef struct sp_iovec {
    void *base;
    size_t len;
} sp_iovec;
#endif

/* sp_iovec_make: a buffer descriptor for `len` bytes at `base`. */
static inline sp_iovec sp_iovec_make(const void *base, size_t len)
{
    sp_iovec v;
    v.base = (char *)(uintptr_t)base;
    v.len = (unsigned long)len;
    return v;
}

/*
 * sp_init: start the socket layer. Call it once per user of the library before any other
 * call; it is reference counted and thread-safe (on Windows it calls WSAStartup 2.2 on the
 * first call). Returns 0, or a negative SP_E* code (SP_ENOTSUP when Winsock 2.2 is missing).
 */
SP_API int sp_init(void);

/*
 * sp_cleanup: undo one sp_init. The last one releases the socket layer (WSACleanup).
 * Returns 0, or SP_ENOTINIT when there was no matching sp_init.
 */
SP_API int sp_cleanup(void);

/* sp_version: the version string of the library actually linked, e.g. "0.1.0". */
SP_API const char *sp_version(void);

/* sp_platform: the name of the backend compiled in: "posix" or "win32". */
SP_API const char *sp_platform(void);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_BASE_H */
