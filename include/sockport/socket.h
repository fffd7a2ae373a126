/*
 * sockport/socket.h - the verbs of a conversation.
 *
 * Guarantees on every OS, for every socket sockport creates or accepts:
 *  - it is not inherited by child processes (SOCK_CLOEXEC / FD_CLOEXEC /
 *    WSA_FLAG_NO_HANDLE_INHERIT);
 *  - sending to a closed peer returns SP_EPIPE and never raises SIGPIPE (MSG_NOSIGNAL on
 *    Linux, SO_NOSIGPIPE on macOS/BSD); no process-wide signal disposition is changed;
 *  - a call interrupted by a signal (EINTR) is retried inside sockport;
 *  - "would block" is SP_EAGAIN, whatever the OS calls it;
 *  - an expired SO_RCVTIMEO/SO_SNDTIMEO is SP_ETIMEDOUT (POSIX reports it as EAGAIN);
 *  - an accepted socket is blocking unless SP_ACCEPT_NONBLOCK is asked (Windows
 *    accepted sockets inherit the listener's mode, Linux ones do not);
 *  - unconnected UDP sockets never fail because of an ICMP port-unreachable from an
 *    earlier datagram (Windows does so by default; sockport turns SIO_UDP_CONNRESET off).
 *
 * Byte counts are ptrdiff_t: >= 0 is a count, < 0 an SP_E* code.
 * Timeouts are in milliseconds; a negative timeout means "no limit".
 * A call that returns a new socket through `out` stores SP_INVALID_SOCKET there when it
 * fails. A NULL pointer or an out-of-range flag, direction or size is SP_EINVAL.
 */
#ifndef SOCKPORT_SOCKET_H
#define SOCKPORT_SOCKET_H

#include "addr.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Readiness flags, for sp_wait() and the poll layer. */
enum sp_events {
    SP_EV_READ = 1,  /* data, an orderly close, or a pending connection to accept */
    SP_EV_WRITE = 2, /* room to send, or a non-blocking connect that succeeded */
    SP_EV_ERROR = 4, /* a pending error (a failed connect, a reset): read it with
                        sp_socket_error() */
    SP_EV_HUP = 8    /* the peer hung up (both directions closed) */
};

/* sp_shutdown directions. */
enum sp_shutdown_how { SP_SHUT_RD = 0, SP_SHUT_WR = 1, SP_SHUT_RDWR = 2 };

/* sp_bind / sp_listen flags. */
enum sp_bind_flags {
    /*
     * By default an IPv6 socket is bound IPv6-only on every OS (Linux defaults to
     * dual-stack, Windows to IPv6-only). SP_BIND_DUALSTACK accepts IPv4 too, as
     * ::ffff:a.b.c.d.
     */
    SP_BIND_DUALSTACK = 1,
    /*
     * By default the port may be re-bound at once after a restart while old connections
     * linger in TIME_WAIT (SO_REUSEADDR on POSIX), and no other socket can bind the same
     * port while it is held (SO_EXCLUSIVEADDRUSE on Windows; POSIX refuses by itself).
     * SP_BIND_NOREUSE turns the POSIX SO_REUSEADDR off; on Windows it changes nothing
     * (SO_EXCLUSIVEADDRUSE is always set: SO_REUSEADDR there would let another socket
     * steal the port).
     */
    SP_BIND_NOREUSE = 2
};

/* sp_accept flags. */
enum sp_accept_flags { SP_ACCEPT_NONBLOCK = 1 };

/* ---- open, connect, listen, accept, close -------------------------------------------- */

/*
 * sp_socket_open: a new socket. family: SP_AF_INET, SP_AF_INET6 or SP_AF_UNIX; type:
 * SP_SOCK_STREAM or SP_SOCK_DGRAM. The socket is blocking, non-inheritable, SIGPIPE-free.
 * Errors: SP_EINVAL, SP_EAFNOSUPPORT (e.g. AF_UNIX on Windows before 10 1803, or under
 * Wine), SP_EMFILE, SP_ENFILE, SP_ENOBUFS, SP_ENOTINIT (Windows, before sp_init).
 */
SP_API int sp_socket_open(sp_socket_t *out, int family, int type);

/*
 * sp_close: close the socket (close / closesocket). Returns 0, or SP_EBADF for a handle
 * that is not open. The handle is invalid afterwards whatever is returned.
 */
SP_API int sp_close(sp_socket_t s);

/*
 * sp_close_abortive: close with a reset instead of a FIN (SO_LINGER {1, 0}); unsent data
 * is dropped and the peer sees SP_ECONNRESET.
 */
SP_API int sp_close_abortive(sp_socket_t s);

/*
 * sp_connect: connect and wait for the result, however long the OS takes (a blocking
 * connect). SP_ECONNREFUSED, SP_ETIMEDOUT, SP_ENETUNREACH, SP_EHOSTUNREACH,
 * SP_EADDRNOTAVAIL, SP_EISCONN, ...; SP_EINPROGRESS if the socket is non-blocking.
 */
SP_API int sp_connect(sp_socket_t s, const sp_addr *to);

/*
 * sp_connect_timeout: connect, waiting at most timeout_ms (negative: a plain blocking
 * connect). On success the socket is left blocking. On failure or timeout (SP_ETIMEDOUT)
 * the socket must be closed: the attempt may still be under way.
 */
SP_API int sp_connect_timeout(sp_socket_t s, const sp_addr *to, int timeout_ms);

/*
 * sp_connect_start: begin a non-blocking connect (the socket is made non-blocking and
 * stays so). Returns 0 when connected at once (loopback, Unix sockets), SP_EINPROGRESS
 * when under way - then wait with sp_wait(SP_EV_WRITE) or a poller and call
 * sp_connect_finish - or another error.
 */
SP_API int sp_connect_start(sp_socket_t s, const sp_addr *to);

/*
 * sp_connect_finish: the result of a connect begun with sp_connect_start, waiting at
 * most timeout_ms (0: just look). 0 connected; SP_EINPROGRESS still under way after
 * timeout_ms; or the connect's error. It catches both ways a failure is reported: POSIX
 * marks the socket writable, Windows marks it only in select's except set.
 */
SP_API int sp_connect_finish(sp_socket_t s, int timeout_ms);

/*
 * sp_bind: bind to a local address with sp_bind_flags (address reuse and IPv6-only
 * handled per OS as described there). SP_EADDRINUSE, SP_EADDRNOTAVAIL, SP_EACCES, ...
 */
SP_API int sp_bind(sp_socket_t s, const sp_addr *local, unsigned flags);

/* sp_listen: sp_bind then listen with the backlog (<= 0: the system's maximum). */
SP_API int sp_listen(sp_socket_t s, const sp_addr *local, int backlog, unsigned flags);

/*
 * sp_accept: take one connection. `peer` may be NULL. The new socket is blocking (or
 * non-blocking with SP_ACCEPT_NONBLOCK) on every OS, non-inheritable, SIGPIPE-free.
 * SP_EAGAIN on a non-blocking listener with nothing pending; SP_EMFILE / SP_ENFILE when
 * out of descriptors (the connection stays in the backlog); SP_ECONNABORTED when a
 * connection died in the backlog (retry).
 */
SP_API int sp_accept(sp_socket_t listener, sp_socket_t *out, sp_addr *peer, unsigned flags);

/*
 * sp_dial: resolve "host:port" or "unix:/path", then try each address in turn with
 * sp_connect_timeout until one connects; *out is a blocking stream socket. timeout_ms
 * bounds each attempt. Returns 0 or the last attempt's error.
 */
SP_API int sp_dial(sp_socket_t *out, const char *address, int timeout_ms);

/*
 * sp_listen_on: resolve "host:port" / "*:port" / "[::]:port" / "unix:/path", open a
 * stream socket, sp_listen on the first address that works. *out is blocking.
 */
SP_API int sp_listen_on(sp_socket_t *out, const char *address, int backlog, unsigned flags);

/*
 * sp_socketpair: two connected stream sockets, both blocking. POSIX: socketpair(AF_UNIX).
 * Windows has no socketpair: sockport uses a Unix socket where the system has them, else
 * TCP over loopback, and checks that the connection it accepted is the one it made (so
 * another local process cannot slip in).
 */
SP_API int sp_socketpair(sp_socket_t pair[2]);

/* sp_shutdown: SP_SHUT_RD, SP_SHUT_WR or SP_SHUT_RDWR. SP_ENOTCONN if not connected. */
SP_API int sp_shutdown(sp_socket_t s, int how);

/* ---- data ---------------------------------------------------------------------------- */

/*
 * sp_send: one send call; returns the number of bytes taken (maybe fewer than len),
 * SP_EAGAIN when a non-blocking socket's buffer is full, SP_EPIPE when the connection
 * is shut down for sending or closed by the peer, SP_ECONNRESET, SP_ETIMEDOUT (send
 * timeout expired), ... On Windows one call sends at most INT_MAX bytes.
 */
SP_API ptrdiff_t sp_send(sp_socket_t s, const void *buf, size_t len);

/*
 * sp_recv: one receive call; returns the number of bytes read, 0 when the peer closed
 * its sending side in order (and len > 0), SP_EAGAIN on an empty non-blocking socket,
 * SP_ETIMEDOUT when a receive timeout expired, SP_ECONNRESET on an abortive close.
 */
SP_API ptrdiff_t sp_recv(sp_socket_t s, void *buf, size_t len);

/* sp_sendv / sp_recvv: one scatter/gather call over n buffers (sendmsg / WSASend). */
SP_API ptrdiff_t sp_sendv(sp_socket_t s, const sp_iovec *iov, int n);
SP_API ptrdiff_t sp_recvv(sp_socket_t s, sp_iovec *iov, int n);

/*
 * sp_send_all: send all len bytes, looping over partial sends, waiting for room when a
 * non-blocking socket is full, retrying EINTR. timeout_ms bounds the whole call
 * (negative: no limit). Returns 0 when every byte was taken, else the error (SP_ETIMEDOUT
 * at the deadline); *done (may be NULL) is always the number of bytes taken, which the
 * caller must not send again. The deadline is exact on non-blocking sockets and on POSIX;
 * on a blocking Windows socket a single send may block past it (Winsock has no per-call
 * non-blocking flag): use a non-blocking socket or sp_set_send_timeout for a hard bound.
 */
SP_API int sp_send_all(sp_socket_t s, const void *buf, size_t len, int timeout_ms, size_t *done);

/*
 * sp_recv_all: receive exactly len bytes. Returns 0 when all arrived; SP_EEOF when the
 * peer closed first; SP_ETIMEDOUT at the deadline; *done (may be NULL) is the number of
 * bytes stored in buf either way.
 */
SP_API int sp_recv_all(sp_socket_t s, void *buf, size_t len, int timeout_ms, size_t *done);

/* sp_sendv_all: sp_send_all over n buffers (the array is not modified). */
SP_API int sp_sendv_all(sp_socket_t s, const sp_iovec *iov, int n, int timeout_ms, size_t *done);

/*
 * sp_sendto / sp_recvfrom: one datagram. `from` may be NULL. A datagram longer than len
 * is SP_EMSGSIZE on every OS and its tail is lost (POSIX truncates silently, Windows
 * fails with WSAEMSGSIZE; sockport reports both the same way).
 */
SP_API ptrdiff_t sp_sendto(sp_socket_t s, const void *buf, size_t len, const sp_addr *to);
SP_API ptrdiff_t sp_recvfrom(sp_socket_t s, void *buf, size_t len, sp_addr *from);

/*
 * sp_wait: wait at most timeout_ms for any of `events` (SP_EV_READ | SP_EV_WRITE) on one
 * socket. Returns the ready SP_EV_* mask (SP_EV_ERROR and SP_EV_HUP are always reported),
 * 0 on timeout, or an error. EINTR is retried with the time that is left.
 */
SP_API int sp_wait(sp_socket_t s, int events, int timeout_ms);

/* ---- options ------------------------------------------------------------------------- */

/* sp_set_nonblocking: 1 non-blocking, 0 blocking (O_NONBLOCK / FIONBIO). */
SP_API int sp_set_nonblocking(sp_socket_t s, int on);

/* sp_set_nodelay: TCP_NODELAY on (1) or off (0). */
SP_API int sp_set_nodelay(sp_socket_t s, int on);

/*
 * sp_set_keepalive: TCP keepalive on or off; when on, idle_s seconds before the first
 * probe, interval_s between probes, count probes before the connection fails with
 * SP_ETIMEDOUT (0 for any of them: leave that setting as it is). Linux: TCP_KEEPIDLE,
 * TCP_KEEPINTVL, TCP_KEEPCNT; macOS: TCP_KEEPALIVE for the idle time; Windows 10 1709+:
 * TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT, older Windows: SIO_KEEPALIVE_VALS, where the
 * count cannot be set (it is 10 there) and SP_ENOPROTOOPT is returned if one was asked
 * after idle and interval have been applied; idle and interval are set together there,
 * so a 0 takes Windows' default (7200 s idle, 1 s interval) instead of the current value.
 */
SP_API int sp_set_keepalive(sp_socket_t s, int on, int idle_s, int interval_s, int count);

/*
 * sp_get_keepalive: read the keepalive settings back; any pointer may be NULL. Returns
 * 0, or SP_ENOPROTOOPT when the system cannot report the timing (Windows before 10 1709,
 * Wine): *on is still filled and the others set to -1.
 */
SP_API int sp_get_keepalive(sp_socket_t s, int *on, int *idle_s, int *interval_s, int *count);

/*
 * sp_set_recv_timeout / sp_set_send_timeout: a blocking recv or send fails with
 * SP_ETIMEDOUT after ms milliseconds (0: never). POSIX takes a timeval, Windows a DWORD
 * of milliseconds; sockport converts. Windows warns that a timed-out send leaves the
 * connection in an undefined state: close it.
 */
SP_API int sp_set_recv_timeout(sp_socket_t s, int ms);
SP_API int sp_set_send_timeout(sp_socket_t s, int ms);
SP_API int sp_get_recv_timeout(sp_socket_t s, int *ms);
SP_API int sp_get_send_timeout(sp_socket_t s, int *ms);

/*
 * sp_set_send_buffer / sp_set_recv_buffer: SO_SNDBUF / SO_RCVBUF. Linux doubles the value
 * given and reports the doubled value; the getters return what the kernel reports.
 */
SP_API int sp_set_send_buffer(sp_socket_t s, int bytes);
SP_API int sp_set_recv_buffer(sp_socket_t s, int bytes);
SP_API int sp_get_send_buffer(sp_socket_t s, int *bytes);
SP_API int sp_get_recv_buffer(sp_socket_t s, int *bytes);

/*
 * sp_set_linger: on = 0: close returns at once and the system sends what is left in the
 * background (the default). on = 1, seconds > 0: close blocks up to that long for unsent
 * data. on = 1, seconds = 0: close resets the connection (see sp_close_abortive).
 */
SP_API int sp_set_linger(sp_socket_t s, int on, int seconds);

/*
 * sp_socket_error: the socket's pending error (SO_ERROR): 0 when none, else the SP_E*
 * code (e.g. SP_ECONNREFUSED after a failed non-blocking connect). Returns the code
 * itself, or the error of the getsockopt call. POSIX clears the error as it is read;
 * Windows documents the same, and sockport also resets it there (Wine keeps it).
 */
SP_API int sp_socket_error(sp_socket_t s);

/* sp_local_addr / sp_peer_addr: getsockname / getpeername. SP_ENOTCONN for no peer. */
SP_API int sp_local_addr(sp_socket_t s, sp_addr *out);
SP_API int sp_peer_addr(sp_socket_t s, sp_addr *out);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_SOCKET_H */
