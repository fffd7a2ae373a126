/*
 * backend.h - the written contract between the shared code and a backend.
 *
 * Every function a backend (src/posix, src/win32) must provide for the base, error,
 * address and socket layers is listed here, each with what it does, what it returns and
 * what the shared code has already checked before calling it. The public calls of those
 * layers live in src/common/: they check their arguments once (NULL pointers, flags,
 * ranges, SP_INVALID_SOCKET), map nothing that needs a platform header, and then call one
 * verb below. A verb does the OS work only; it never repeats a check listed as done. The
 * poller backends have their own contract in poller.h, the threads theirs in thread.h.
 *
 * Conventions for every verb: a failure from the OS goes through sp__fail() /
 * sp__fail_last() (so that sp_last_native_error() reports it) and comes back as a
 * negative SP_E* code; a verb that succeeds after a failed first try leaves the thread's
 * last native error as it found it. "s" is never SP_INVALID_SOCKET when a verb is called.
 *
 * No platform header here: this file is included by the shared code.
 */
#ifndef SOCKPORT_BACKEND_H
#define SOCKPORT_BACKEND_H

#include "sockport.h"

#include <limits.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- base (src/<backend>/base.c) ------------------------------------------------------ */

/* sp_init(), sp_cleanup() and sp_platform() are whole-body OS-specific and live there. */

/* Monotonic clock in milliseconds (clock_gettime(CLOCK_MONOTONIC) / GetTickCount64). */
uint64_t sp__now_ms(void);

/* ---- errors (src/<backend>/error.c) --------------------------------------------------- */

/* sp_last_native_error() (thread-local storage) and sp_err_from_gai() (Windows also
 * looks in the socket rows) are whole-body OS-specific and live there. */

/* The backend's column of SP_NATIVE_ERRMAP (errmap.h), as sp__errrow rows; *n gets their
 * count. sp_err_from_native() and sp_err_to_native() search it. */
struct sp__errrow;
const struct sp__errrow *sp__native_errmap(size_t *n);

/* Store `native` as this thread's last native error (what sp_last_native_error() gives).
 * Never fails; must not change errno / GetLastError(). */
void sp__set_last_native(int native);

/*
 * Shared (common/error.c): record `native` as this thread's last native error and return
 * its SP_E* code (SP_EUNKNOWN for a code with no row, never SP_OK). Every failure path
 * that comes from the OS goes through it (or sp__fail_last).
 */
int sp__fail(int native);

/* sp__fail with the error the OS just reported (errno / WSAGetLastError()). */
int sp__fail_last(void);

/* Record a getaddrinfo() failure and return its SP_EAI_* code (POSIX EAI_SYSTEM: the
 * errno behind it). */
int sp__fail_gai(int gai_code);

/* ---- addresses (src/<backend>/addr.c) ------------------------------------------------- */

/* The fields of an IP sp_addr, in a form the shared code can handle. */
typedef struct sp__ipaddr {
    int family;           /* SP_AF_INET or SP_AF_INET6 */
    unsigned char ip[16]; /* network order; 4 bytes used for IPv4 */
    int port;             /* host order */
    uint32_t scope;       /* IPv6 zone index */
} sp__ipaddr;

/* One address family: its native AF_* value, its SP_AF_*, and the least length a
 * complete sockaddr of it has (an unnamed Unix socket's address is the family alone). */
typedef struct sp__afrow {
    int native;
    int family;
    uint32_t min_len;
} sp__afrow;

/* The rows for a backend to expand after its socket headers: the AF_* names are the same
 * on POSIX and Winsock, their values and the sockaddr sizes are not. */
#define SP__AF_ROWS                                                                                \
    {                                                                                              \
        {AF_INET, SP_AF_INET, (uint32_t)sizeof(struct sockaddr_in)},                               \
            {AF_INET6, SP_AF_INET6, (uint32_t)sizeof(struct sockaddr_in6)},                        \
            {AF_UNIX, SP_AF_UNIX, 2},                                                              \
    }

/* The backend's SP__AF_ROWS; *n gets their count. sp_addr_family() searches them. */
const sp__afrow *sp__af_rows(size_t *n);

/* The native family field of `a` (sa_family; after sa_len on BSD and macOS). Checked: a
 * non-NULL, with a length between a family field (2 bytes) and its storage. */
int sp__addr_native_af(const sp_addr *a);

/* Build an sp_addr from fields. Checked: out and ip non-NULL, ip->port in 0..65535.
 * 0, or SP_EINVAL when ip->family is not SP_AF_INET / SP_AF_INET6. */
int sp__addr_from_ip(sp_addr *out, const sp__ipaddr *ip);

/* Read the fields of an IP address back. Checked: a and out non-NULL. 0, or SP_EINVAL
 * when `a` is not a complete IPv4 / IPv6 sockaddr (out is zeroed then). */
int sp__addr_to_ip(const sp_addr *a, sp__ipaddr *out);

/* A Unix-socket address for `path`. Checked: out and path non-NULL, path not empty.
 * 0, or SP_ENAMETOOLONG when the path and its terminator do not fit sun_path. */
int sp__addr_unix(sp_addr *out, const char *path);

/* The path of a Unix address into buf, terminated. Checked: buf non-NULL, size > 0.
 * The length, SP_EINVAL (not a Unix address), SP_ENOSPC (buf too small). */
int sp__addr_unix_path(const sp_addr *a, char *buf, size_t size);

/* getaddrinfo for a host name (not numeric). Checked: host non-NULL, port in 0..65535,
 * family SP_AF_UNSPEC / INET / INET6, out non-NULL unless cap is 0. Returns the number of
 * distinct IP addresses found (which may exceed cap; only cap are stored, see
 * sp__addr_list_add), or SP_EAI_* (SP_EAI_NODATA when none is IP). */
int sp__resolve(const char *host, int port, int family, int type, sp_addr *out, size_t cap);

/* ---- sockets (src/<backend>/socket.c, src/win32/socketpair.c) -------------------------- */

/*
 * Open a socket. Checked: out non-NULL and already SP_INVALID_SOCKET; family is
 * SP_AF_INET, SP_AF_INET6 or SP_AF_UNIX; type SP_SOCK_STREAM or SP_SOCK_DGRAM. The new
 * socket must not be inherited by child processes and must never raise SIGPIPE; Windows
 * turns SIO_UDP_CONNRESET off on UDP. 0 with *out set, or the OS's error.
 */
int sp__socket_open(sp_socket_t *out, int family, int type);

/* Close (retrying nothing that could close another's handle). 0, or the OS's error
 * (SP_EBADF). */
int sp__close(sp_socket_t s);

/* FIONBIO. Checked: on is 0 or 1. 0, or the OS's error. */
int sp__set_nonblocking(sp_socket_t s, int on);

/*
 * One connect(). Checked: `to` is non-NULL with a length between a family field and the
 * size of its storage. Returns 0 (connected), SP_EINPROGRESS (a non-blocking connect is
 * under way: POSIX EINPROGRESS, Windows WSAEWOULDBLOCK), SP_EINTR (a blocking connect was
 * interrupted and goes on in the background: the caller waits for it), or the error.
 */
int sp__connect(sp_socket_t s, const sp_addr *to);

/*
 * Set the reuse and IPv6-only options for `flags` as ::sp_bind_flags documents, then
 * bind(). Checked: `local` as for sp__connect; flags hold only SP_BIND_DUALSTACK and
 * SP_BIND_NOREUSE. 0, or the error of an option or of bind.
 */
int sp__bind(sp_socket_t s, const sp_addr *local, unsigned flags);

/* listen(2) alone; backlog <= 0 means SOMAXCONN. 0, or the OS's error. */
int sp__listen(sp_socket_t s, int backlog);

/*
 * One accept, EINTR retried; the new socket is not inheritable, SIGPIPE-free and blocking
 * unless nonblock (whatever the listener's mode). Checked: out non-NULL and already
 * SP_INVALID_SOCKET; peer non-NULL (a scratch address when the caller passed NULL);
 * nonblock 0 or 1. 0 with *out and *peer set, or the error (a connection reset in the
 * backlog is SP_ECONNABORTED; would-block SP_EAGAIN).
 */
int sp__accept(sp_socket_t listener, sp_socket_t *out, sp_addr *peer, int nonblock);

/* A connected pair of stream sockets (socketpair(AF_UNIX) on POSIX, an emulation over a
 * Unix or loopback TCP listener on Windows). Checked: pair non-NULL, both already
 * SP_INVALID_SOCKET. 0 with both set, or the error (both left SP_INVALID_SOCKET). */
int sp__socketpair(sp_socket_t pair[2]);

/* shutdown(). Checked: how is SP_SHUT_RD, SP_SHUT_WR or SP_SHUT_RDWR. 0 or the error. */
int sp__shutdown(sp_socket_t s, int how);

/* One send, EINTR retried, never SIGPIPE. Checked: buf non-NULL or len 0. The count, or
 * the error (an expired SO_SNDTIMEO is SP_ETIMEDOUT). */
ptrdiff_t sp__send(sp_socket_t s, const void *buf, size_t len);

/*
 * One receive (sp_recv), EINTR retried, with a per-call "don't block" when dontwait is set
 * and the OS has one (MSG_DONTWAIT on POSIX; Winsock has none and ignores it). Checked by
 * the public callers: buf non-NULL or len 0; the server and frame layers call it directly
 * with their own buffers. The count, 0 at an orderly close, or the error.
 */
ptrdiff_t sp__recv_dontwait(sp_socket_t s, void *buf, size_t len, int dontwait);

/* One gather send as sp__recv_dontwait. Checked: iov non-NULL, n >= 0. POSIX sends at
 * most IOV_MAX buffers. The count, or the error. */
ptrdiff_t sp__sendv_dontwait(sp_socket_t s, const sp_iovec *iov, int n, int dontwait);

/* One scatter receive. Checked: iov non-NULL, n >= 0. The count, 0 at an orderly close,
 * or the error. */
ptrdiff_t sp__recvv(sp_socket_t s, sp_iovec *iov, int n);

/* One datagram out. Checked: buf non-NULL or len 0; `to` as for sp__connect. The count,
 * or the error (a datagram too large for one call: SP_EMSGSIZE). */
ptrdiff_t sp__sendto(sp_socket_t s, const void *buf, size_t len, const sp_addr *to);

/* One datagram in, with its sender. Checked: buf non-NULL or len 0; from non-NULL (a
 * scratch address when the caller passed NULL). The count, or the error (a truncated
 * datagram is SP_EMSGSIZE on both). */
ptrdiff_t sp__recvfrom(sp_socket_t s, void *buf, size_t len, sp_addr *from);

/* Wait for one socket as sp_wait() documents (EINTR retried with the time that is left).
 * The SP_EV_* mask, 0 on timeout, or the error (SP_EBADF). */
int sp__wait(sp_socket_t s, int events, int timeout_ms);

/* The plain integer options the shared code sets and reads. */
enum sp__opt {
    SP__OPT_NODELAY,  /* TCP_NODELAY, 0 or 1 */
    SP__OPT_SNDBUF,   /* SO_SNDBUF, bytes */
    SP__OPT_RCVBUF,   /* SO_RCVBUF, bytes */
    SP__OPT_SNDTIMEO, /* SO_SNDTIMEO in ms (a timeval on POSIX, a DWORD on Windows) */
    SP__OPT_RCVTIMEO  /* SO_RCVTIMEO in ms */
};

/* The level and name of each sp__opt, in its order, for a backend to expand after its
 * socket headers: the Berkeley names are the same on POSIX and Winsock (what differs is
 * how a timeout is passed, which each backend handles). */
#define SP__OPT_LEVEL_NAME                                                                         \
    {                                                                                              \
        {IPPROTO_TCP, TCP_NODELAY}, {SOL_SOCKET, SO_SNDBUF}, {SOL_SOCKET, SO_RCVBUF},              \
            {SOL_SOCKET, SO_SNDTIMEO},                                                             \
        {                                                                                          \
            SOL_SOCKET, SO_RCVTIMEO                                                                \
        }                                                                                          \
    }

/* Set an option. Checked: NODELAY 0 or 1; buffers > 0; timeouts >= 0. 0 or the error. */
int sp__setopt(sp_socket_t s, enum sp__opt opt, int value);

/* Read an option back (values over INT_MAX are INT_MAX). Checked: value non-NULL. 0 or
 * the error (*value is 0 then). */
int sp__getopt(sp_socket_t s, enum sp__opt opt, int *value);

/* SO_LINGER. Checked: on is 0 or 1; seconds in 0..65535. 0 or the error. */
int sp__set_linger(sp_socket_t s, int on, int seconds);

/*
 * SO_KEEPALIVE and, when on, each timing value that is > 0 (TCP_KEEPIDLE / TCP_KEEPALIVE,
 * TCP_KEEPINTVL, TCP_KEEPCNT, or SIO_KEEPALIVE_VALS on Windows before 10 1709). Checked:
 * on is 0 or 1; idle_s and interval_s in 0..SP__KEEPALIVE_SECONDS_MAX; count in
 * 0..SP__KEEPALIVE_COUNT_MAX. 0 or the error, as sp_set_keepalive() documents.
 */
int sp__set_keepalive(sp_socket_t s, int on, int idle_s, int interval_s, int count);

/* Read keepalive back. Checked: the pointers that are non-NULL were set to -1 (on to 0)
 * first. 0, SP_ENOPROTOOPT when the timing cannot be read (*on is still set), or the
 * error. */
int sp__get_keepalive(sp_socket_t s, int *on, int *idle_s, int *interval_s, int *count);

/* Take the pending error (SO_ERROR), clearing it on every OS. 0, or the error as a code
 * (also recorded as the last native error). */
int sp__socket_error(sp_socket_t s);

/* getsockname (peer 0) / getpeername (peer 1). Checked: out non-NULL. 0 with *out set,
 * or the error (SP_ENOTCONN). */
int sp__sockname(sp_socket_t s, sp_addr *out, int peer);

/* ---- files for sp_conn_sendfile (src/<backend>/sendfile.c) ---------------------------- */

/* An open file as a backend holds it: a descriptor (POSIX) or a HANDLE (Windows). */
typedef intptr_t sp__file;

/* The size sp__file_open reports for a file that is not regular (a pipe): unknown. */
#define SP__FILE_SIZE_UNKNOWN UINT64_MAX

/*
 * The file behind a caller's descriptor (POSIX: the descriptor; Windows: a CRT descriptor,
 * _get_osfhandle). dup 1: a duplicate the caller may keep after fd is closed (dup with
 * close-on-exec / DuplicateHandle, not inheritable), released with sp__file_close; dup 0:
 * fd's own, borrowed for the call. *size: a regular file's size, else
 * SP__FILE_SIZE_UNKNOWN. Checked: out and size non-NULL. 0, SP_EBADF (not an open
 * descriptor), or the duplicate's error (SP_EMFILE).
 */
int sp__file_open(int fd, int dup, sp__file *out, uint64_t *size);

/* Release a duplicate of sp__file_open (dup 1). */
void sp__file_close(sp__file f);

/* Read up to len bytes at offset off without using the file's position (POSIX pread;
 * Windows ReadFile with the offset in an OVERLAPPED), or from its position when off is
 * SP__FILE_SEQUENTIAL (a pipe: read / ReadFile without an offset). Checked: buf non-NULL,
 * len > 0 and at most INT_MAX. The count, 0 at the end of the file, or the error. */
#define SP__FILE_SEQUENTIAL UINT64_MAX
ptrdiff_t sp__file_pread(sp__file f, void *buf, size_t len, uint64_t off);

/*
 * Send up to len bytes of f, from off, on the connected stream socket s (non-blocking)
 * with the OS's file transmission: Linux sendfile(2) with an offset pointer, FreeBSD's
 * (sbytes) and macOS's (len in and out) sendfile(2), whose partial sends on a full socket
 * fail EAGAIN with the count sent (returned here as the count); Windows TransmitFile,
 * overlapped with the offset in the OVERLAPPED, at most 64 KiB a call. Checked: len > 0.
 *
 * wait NULL (the event model): never wait; Windows returns SP_ENOTSUP (TransmitFile ends
 * only by waiting). wait non-NULL (the blocking models): POSIX ignores it (a full socket
 * gives SP_EAGAIN: the caller waits for writability); Windows waits for TransmitFile,
 * calling wait(arg) at least every 50 ms: a non-zero result (an SP_E* code) cancels the
 * transfer and is returned, the bytes sent unknown (the caller ends the connection).
 * client_ok: Windows uses TransmitFile on client editions too (SP_SENDFILE_ON); else it
 * returns SP_ENOTSUP there (two transfers at a time system-wide, Microsoft's TransmitFile
 * page).
 *
 * The count sent (> 0, maybe fewer than len), 0 when f ends at off (shorter than asked),
 * SP_EAGAIN (the socket took nothing), SP_ENOTSUP (no such call here, or it does not take
 * this file or socket: read and send instead, nothing was sent), or the error.
 */
ptrdiff_t sp__sendfile(sp_socket_t s, sp__file f, uint64_t off, size_t len, int client_ok,
                       int (*wait)(void *arg), void *arg);

/* The ranges the shared code enforces for the keepalive timing: seconds that still fit
 * SIO_KEEPALIVE_VALS' milliseconds in an int, and the largest TCP_KEEPCNT Windows takes. */
#define SP__KEEPALIVE_SECONDS_MAX (INT_MAX / 1000)
#define SP__KEEPALIVE_COUNT_MAX   255

/* The largest SO_LINGER time every OS can hold (l_linger is a u_short on Windows). */
#define SP__LINGER_MAX 65535

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_BACKEND_H */
