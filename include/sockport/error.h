/**
 * @file sockport/error.h
 * @brief One set of error codes on every OS.
 *
 * Every sockport call returns a value >= 0 on success and a negative SP_E* code on
 * failure. The codes are the same numbers on every platform, so they can be compared,
 * switched on, stored and sent over the wire. The native code behind the last failure
 * (errno, WSAGetLastError() or an EAI_* value) is kept per thread for logs.
 */
#ifndef SOCKPORT_ERROR_H
#define SOCKPORT_ERROR_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The one table of sockport errors: `X(NAME, value, message)` per row, NAME without the
 * SP_ prefix. It makes the ::sp_error enum, sp_err_name() and sp_strerror(); the backends
 * map native codes onto these rows (src/common/errmap.h). Expand it with your own X to
 * build tables of your own.
 * @param X a macro taking (NAME, value, message).
 */
#define SP_ERROR_MAP(X)                                                                            \
    X(EUNKNOWN, -1, "unknown error")                                                               \
    X(EINVAL, -2, "invalid argument")                                                              \
    X(ENOMEM, -3, "out of memory")                                                                 \
    X(EAGAIN, -4, "resource temporarily unavailable (operation would block)")                      \
    X(EINTR, -5, "interrupted by a signal")                                                        \
    X(EINPROGRESS, -6, "operation in progress")                                                    \
    X(EALREADY, -7, "operation already in progress")                                               \
    X(EISCONN, -8, "socket is already connected")                                                  \
    X(ENOTCONN, -9, "socket is not connected")                                                     \
    X(ECONNREFUSED, -10, "connection refused")                                                     \
    X(ECONNRESET, -11, "connection reset by peer")                                                 \
    X(ECONNABORTED, -12, "connection aborted")                                                     \
    X(EPIPE, -13, "broken pipe (the connection is shut down for sending)")                         \
    X(ETIMEDOUT, -14, "timed out")                                                                 \
    X(EHOSTUNREACH, -15, "host is unreachable")                                                    \
    X(ENETUNREACH, -16, "network is unreachable")                                                  \
    X(ENETDOWN, -17, "network is down")                                                            \
    X(ENETRESET, -18, "connection dropped by network reset")                                       \
    X(EADDRINUSE, -19, "address already in use")                                                   \
    X(EADDRNOTAVAIL, -20, "address not available")                                                 \
    X(EAFNOSUPPORT, -21, "address family not supported")                                           \
    X(EPROTONOSUPPORT, -22, "protocol not supported")                                              \
    X(ENOPROTOOPT, -23, "socket option not supported")                                             \
    X(ENOTSUP, -24, "operation not supported")                                                     \
    X(EMFILE, -25, "too many open files in this process")                                          \
    X(ENFILE, -26, "too many open files in the system")                                            \
    X(ENOBUFS, -27, "no buffer space available")                                                   \
    X(EACCES, -28, "permission denied")                                                            \
    X(EBADF, -29, "not an open socket")                                                            \
    X(EMSGSIZE, -30, "message too long")                                                           \
    X(EDESTADDRREQ, -31, "destination address required")                                           \
    X(ENOENT, -32, "no such file or directory")                                                    \
    X(ENAMETOOLONG, -33, "name too long")                                                          \
    X(ENOSPC, -34, "result does not fit in the buffer given")                                      \
    X(ENOTINIT, -35, "socket layer not initialised (call sp_init)")                                \
    X(EEOF, -36, "connection closed by peer before the transfer completed")                        \
    X(EAI_NONAME, -37, "host or service not known")                                                \
    X(EAI_AGAIN, -38, "temporary failure in name resolution")                                      \
    X(EAI_FAIL, -39, "non-recoverable failure in name resolution")                                 \
    X(EAI_FAMILY, -40, "address family not supported for this name")                               \
    X(EAI_SERVICE, -41, "service not supported for this socket type")                              \
    X(EAI_NODATA, -42, "host has no address of the asked family")                                  \
    X(EEXIST, -43, "already present")

/** The error codes: SP_OK and the negative SP_E* values of SP_ERROR_MAP. */
typedef enum sp_error {
    SP_OK = 0, /**< success (0); every call returns >= 0 on success */
#define SP__ERR_ENUM(name, value, msg) SP_##name = (value),
    SP_ERROR_MAP(SP__ERR_ENUM)
#undef SP__ERR_ENUM
        SP__ERR_MIN = -43 /**< the lowest code in the table; for iteration in tests */
} sp_error;

/**
 * A message for a code: "connection refused". No errors.
 * @param code an SP_E* code (or any int).
 * @return a static string, never NULL: an unknown negative code gives "unknown error", a
 *   code >= 0 gives "success".
 */
SP_API const char *sp_strerror(int code);

/**
 * The code's name without the prefix. No errors.
 * @param code an SP_E* code.
 * @return "ECONNREFUSED" for SP_ECONNREFUSED, "OK" for 0; NULL when the code is not in
 *   the table.
 */
SP_API const char *sp_err_name(int code);

/**
 * The native code behind the last failing sockport call made by this thread (errno on
 * POSIX, WSAGetLastError() on Windows, or a getaddrinfo EAI_* value for SP_EAI_*), for
 * logs. Successful calls leave it unchanged, and so do failures sockport finds before
 * calling the system (SP_EINVAL for a NULL pointer or a bad flag, ...). No errors.
 * @return the native code, 0 when no call of this thread failed yet.
 */
SP_API int sp_last_native_error(void);

/**
 * The sockport code for a native socket error of this platform. No errors.
 * @param native errno value (POSIX) or WSA* code (Windows).
 * @return the SP_E* code; SP_OK for 0; SP_EUNKNOWN for a code sockport does not know.
 */
SP_API int sp_err_from_native(int native);

/**
 * This platform's main native code for a sockport code: SP_ECONNRESET gives ECONNRESET
 * on POSIX and WSAECONNRESET on Windows. No errors.
 * @param code an SP_E* code.
 * @return the native code, or 0 when the platform has no such native code (SP_EEOF,
 *   SP_ENOSPC and SP_EAI_* have none).
 */
SP_API int sp_err_to_native(int code);

/**
 * The sockport code for a getaddrinfo() result. No errors.
 * @param gai_code an EAI_* value (POSIX) or the WSA* code getaddrinfo returned (Windows).
 * @return the SP_EAI_* code (EAI_MEMORY gives SP_ENOMEM, EAI_BADFLAGS and EAI_SOCKTYPE
 *   SP_EINVAL; on Windows another socket error maps as sp_err_from_native() does, e.g.
 *   WSANOTINITIALISED to SP_ENOTINIT); SP_OK for 0; SP_EUNKNOWN for a code not in the table
 * (EAI_SYSTEM too: the failing calls report the errno behind it instead).
 */
SP_API int sp_err_from_gai(int gai_code);

/*
 * Classification: ask the question, not the code.
 */

/**
 * Should the same call be tried again later? No errors.
 * @param code a value a sockport call returned.
 * @return 1 for SP_EAGAIN and SP_EINTR, else 0.
 */
static inline int sp_err_is_retry(int code)
{
    return code == SP_EAGAIN || code == SP_EINTR;
}

/**
 * Is a connect under way? Then wait for writability and call sp_connect_finish(). No
 * errors.
 * @param code a value a sockport call returned.
 * @return 1 for SP_EINPROGRESS and SP_EALREADY, else 0.
 */
static inline int sp_err_is_inprogress(int code)
{
    return code == SP_EINPROGRESS || code == SP_EALREADY;
}

/**
 * Is the connection over for good? No errors.
 * @param code a value a sockport call returned.
 * @return 1 for SP_ECONNRESET, SP_EPIPE, SP_ECONNABORTED, SP_ENOTCONN, SP_ENETRESET,
 *   SP_EEOF and SP_ETIMEDOUT, else 0.
 */
static inline int sp_err_is_peer_gone(int code)
{
    return code == SP_ECONNRESET || code == SP_EPIPE || code == SP_ECONNABORTED ||
           code == SP_ENOTCONN || code == SP_ENETRESET || code == SP_EEOF || code == SP_ETIMEDOUT;
}

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_ERROR_H */
