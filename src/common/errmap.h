/*
 * errmap.h - how native error codes map onto sockport's (see SP_ERROR_MAP in error.h).
 *
 * SP_NATIVE_ERRMAP(X): X(SP name, POSIX errno, Winsock code); 0 where the platform has no
 * such code. The first row of an SP name gives its main native code (sp_err_to_native);
 * every row is searched for sp_err_from_native. Only a backend expands it, taking its own
 * column: the other column's names are never evaluated there.
 *
 * WSA_OPERATION_ABORTED is what Wine gives a blocked accept woken by closesocket from another
 * thread; Windows gives WSAEINTR, which sockport retries and then sees WSAENOTSOCK: both end
 * as SP_EBADF.
 *
 * SP_GAI_ERRMAP(X): the same for getaddrinfo() results.
 */
#ifndef SOCKPORT_ERRMAP_H
#define SOCKPORT_ERRMAP_H

#include <stddef.h>

#define SP_NATIVE_ERRMAP(X)                                                                        \
    X(EINVAL, EINVAL, WSAEINVAL)                                                                   \
    X(EINVAL, EFAULT, WSAEFAULT)                                                                   \
    X(ENOMEM, ENOMEM, WSA_NOT_ENOUGH_MEMORY)                                                       \
    X(EAGAIN, EAGAIN, WSAEWOULDBLOCK)                                                              \
    X(EAGAIN, EWOULDBLOCK, WSAEWOULDBLOCK)                                                         \
    X(EINTR, EINTR, WSAEINTR)                                                                      \
    X(EINPROGRESS, EINPROGRESS, WSAEINPROGRESS)                                                    \
    X(EALREADY, EALREADY, WSAEALREADY)                                                             \
    X(EISCONN, EISCONN, WSAEISCONN)                                                                \
    X(ENOTCONN, ENOTCONN, WSAENOTCONN)                                                             \
    X(ECONNREFUSED, ECONNREFUSED, WSAECONNREFUSED)                                                 \
    X(ECONNRESET, ECONNRESET, WSAECONNRESET)                                                       \
    X(ECONNABORTED, ECONNABORTED, WSAECONNABORTED)                                                 \
    X(ECONNABORTED, 0, WSAEDISCON)                                                                 \
    X(EPIPE, EPIPE, WSAESHUTDOWN)                                                                  \
    X(ETIMEDOUT, ETIMEDOUT, WSAETIMEDOUT)                                                          \
    X(EHOSTUNREACH, EHOSTUNREACH, WSAEHOSTUNREACH)                                                 \
    X(EHOSTUNREACH, EHOSTDOWN, WSAEHOSTDOWN)                                                       \
    X(ENETUNREACH, ENETUNREACH, WSAENETUNREACH)                                                    \
    X(ENETDOWN, ENETDOWN, WSAENETDOWN)                                                             \
    X(ENETDOWN, 0, WSASYSNOTREADY)                                                                 \
    X(ENETRESET, ENETRESET, WSAENETRESET)                                                          \
    X(EADDRINUSE, EADDRINUSE, WSAEADDRINUSE)                                                       \
    X(EADDRNOTAVAIL, EADDRNOTAVAIL, WSAEADDRNOTAVAIL)                                              \
    X(EAFNOSUPPORT, EAFNOSUPPORT, WSAEAFNOSUPPORT)                                                 \
    X(EAFNOSUPPORT, EPFNOSUPPORT, WSAEPFNOSUPPORT)                                                 \
    X(EPROTONOSUPPORT, EPROTONOSUPPORT, WSAEPROTONOSUPPORT)                                        \
    X(EPROTONOSUPPORT, EPROTOTYPE, WSAEPROTOTYPE)                                                  \
    X(EPROTONOSUPPORT, ESOCKTNOSUPPORT, WSAESOCKTNOSUPPORT)                                        \
    X(ENOPROTOOPT, ENOPROTOOPT, WSAENOPROTOOPT)                                                    \
    X(ENOTSUP, EOPNOTSUPP, WSAEOPNOTSUPP)                                                          \
    X(ENOTSUP, ENOTSUP, WSAVERNOTSUPPORTED)                                                        \
    X(EMFILE, EMFILE, WSAEMFILE)                                                                   \
    X(ENFILE, ENFILE, 0)                                                                           \
    X(ENOBUFS, ENOBUFS, WSAENOBUFS)                                                                \
    X(EACCES, EACCES, WSAEACCES)                                                                   \
    X(EACCES, EPERM, 0)                                                                            \
    X(EBADF, EBADF, WSAENOTSOCK)                                                                   \
    X(EBADF, ENOTSOCK, WSAEBADF)                                                                   \
    X(EBADF, 0, WSA_INVALID_HANDLE)                                                                \
    X(EBADF, 0, WSA_OPERATION_ABORTED)                                                             \
    X(EMSGSIZE, EMSGSIZE, WSAEMSGSIZE)                                                             \
    X(EDESTADDRREQ, EDESTADDRREQ, WSAEDESTADDRREQ)                                                 \
    X(ENOENT, ENOENT, 0)                                                                           \
    X(ENAMETOOLONG, ENAMETOOLONG, WSAENAMETOOLONG)                                                 \
    X(ENOTINIT, 0, WSANOTINITIALISED)                                                              \
    X(EEXIST, EEXIST, 0)

#define SP_GAI_ERRMAP(X)                                                                           \
    X(EAI_NONAME, EAI_NONAME, WSAHOST_NOT_FOUND)                                                   \
    X(EAI_AGAIN, EAI_AGAIN, WSATRY_AGAIN)                                                          \
    X(EAI_FAIL, EAI_FAIL, WSANO_RECOVERY)                                                          \
    X(EAI_FAMILY, EAI_FAMILY, WSAEAFNOSUPPORT)                                                     \
    X(EAI_SERVICE, EAI_SERVICE, WSATYPE_NOT_FOUND)                                                 \
    X(EAI_NODATA, SP__EAI_NODATA, WSANO_DATA)                                                      \
    X(ENOMEM, EAI_MEMORY, WSA_NOT_ENOUGH_MEMORY)                                                   \
    X(EINVAL, EAI_BADFLAGS, WSAEINVAL)                                                             \
    X(EINVAL, EAI_SOCKTYPE, WSAESOCKTNOSUPPORT)

/* One row of a native map, as the backends lay it out. */
typedef struct sp__errrow {
    int native;
    int code;
} sp__errrow;

/* The code of `native` in rows (0 -> SP_OK, unknown -> SP_EUNKNOWN). */
int sp__errmap_from(const sp__errrow *rows, size_t n, int native);

/* The first native code of `code` in rows, 0 if none. */
int sp__errmap_to(const sp__errrow *rows, size_t n, int code);

#endif /* SOCKPORT_ERRMAP_H */
