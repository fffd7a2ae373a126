/**
 * @file sockport/socket.h
 * @brief The verbs of a conversation: open, connect, listen, accept, send, receive, close,
 * options.
 *
 * Guarantees on every OS, for every socket sockport creates or accepts:
 *  - it is not inherited by child processes (SOCK_CLOEXEC / FD_CLOEXEC /
 *    WSA_FLAG_NO_HANDLE_INHERIT);
 *  - sending to a closed peer returns SP_EPIPE and never raises SIGPIPE (MSG_NOSIGNAL on
 *    Linux, SO_NOSIGPIPE on macOS/BSD); no process-wide signal disposition is changed;
 *  - a call interrupted by a signal (EINTR) is retried inside sockport, and a receive or
 *    send timeout (sp_set_recv_timeout(), sp_set_send_timeout()) still expires under
 *    frequent signals: after the first EINTR the call waits (poll) only for the time left
 *    of the timeout counted from that first interruption, so it returns after at most the
 *    timeout plus the time that passed before the first signal (POSIX restarts the whole
 *    SO_RCVTIMEO / SO_SNDTIMEO wait on every retry);
 *  - "would block" is SP_EAGAIN, whatever the OS calls it;
 *  - an expired SO_RCVTIMEO/SO_SNDTIMEO is SP_ETIMEDOUT (POSIX reports it as EAGAIN);
 *  - an accepted socket is blocking unless SP_ACCEPT_NONBLOCK is asked (Windows
 *    accepted sockets inherit the listener's mode, Linux ones do not);
 *  - unconnected UDP sockets never fail because of an ICMP port-unreachable or
 *    TTL-expired reply to an earlier datagram (Windows does so by default, with
 *    WSAECONNRESET / WSAENETRESET on a later recvfrom; sockport turns SIO_UDP_CONNRESET
 *    and SIO_UDP_NETRESET off).
 *
 * Byte counts are ptrdiff_t: >= 0 is a count, < 0 an SP_E* code.
 * Timeouts are in milliseconds; a negative timeout means "no limit".
 * A call that returns a new socket through `out` stores SP_INVALID_SOCKET there when it
 * fails. A NULL pointer or an out-of-range flag, direction or size is SP_EINVAL.
 *
 * The arguments are checked the same way on every OS before the system is asked, and a
 * call refused for its arguments changes nothing. SP_INVALID_SOCKET is SP_EBADF at once
 * in every call (sp_last_native_error() then gives the OS's own code for a handle that is
 * not a socket: EBADF, WSAENOTSOCK).
 *
 * Errors every call on a socket may return besides those listed with it: SP_EBADF for a
 * handle that is not an open socket; on Windows SP_ENOTINIT before sp_init(). The lists
 * name the errors a caller can act on; the system may report others (SP_ENOBUFS,
 * SP_ENOMEM, SP_ENETDOWN, ...), always as an SP_E* code.
 */
#ifndef SOCKPORT_SOCKET_H
#define SOCKPORT_SOCKET_H

#include "addr.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Readiness flags, for sp_wait() and the poll layer. */
enum sp_events {
    SP_EV_READ = 1,  /**< data, an orderly close, or a pending connection to accept */
    SP_EV_WRITE = 2, /**< room to send, or a non-blocking connect that succeeded */
    SP_EV_ERROR = 4, /**< a pending error (a failed connect, a reset): read it with
                        sp_socket_error() */
    SP_EV_HUP = 8    /**< the peer hung up (both directions closed) */
};

/** sp_shutdown() directions (SHUT_* on POSIX, SD_* on Windows). */
enum sp_shutdown_how {
    SP_SHUT_RD = 0,  /**< no more receiving */
    SP_SHUT_WR = 1,  /**< no more sending: the peer reads end-of-stream */
    SP_SHUT_RDWR = 2 /**< both */
};

/** sp_bind() / sp_listen() flags. */
enum sp_bind_flags {
    /**
     * By default an IPv6 socket is bound IPv6-only on every OS (Linux defaults to
     * dual-stack, Windows to IPv6-only). SP_BIND_DUALSTACK accepts IPv4 too, as
     * \::ffff:a.b.c.d.
     */
    SP_BIND_DUALSTACK = 1,
    /**
     * By default a stream socket's port may be bound again at once when a server restarts
     * while its old connections are still open or in TIME_WAIT, and no other socket can
     * bind the same address and port while it is held:
     *  - POSIX: SO_REUSEADDR on stream sockets (never on datagram sockets: there it would
     *    let a second socket share the port and take its datagrams).
     *  - Windows: SO_EXCLUSIVEADDRUSE; when that bind is refused with SP_EADDRINUSE, the
     *    bind is tried once more with neither option (Windows' default), which old
     *    connections do not block and which no other socket can share: SO_REUSEADDR is
     *    never set (it would let another program take the port).
     *
     * What stays different (the OS decides; docs/porting.md has the table): on Linux, and
     * on Windows while the exclusive bind holds, a listener on the wildcard address and one
     * on a specific address (127.0.0.1) of the same port exclude each other. On macOS and
     * the BSDs SO_REUSEADDR lets a socket of the same user bind the wildcard beside a
     * specific address or the reverse, and the more specific socket gets the connections
     * to its address (another user is refused); Windows lets the same user do so after the
     * fallback bind, and refuses a specific bind beside an exclusive wildcard with
     * SP_EACCES.
     *
     * SP_BIND_NOREUSE: no SO_REUSEADDR on POSIX (a port with connections in TIME_WAIT is
     * then SP_EADDRINUSE), and no fallback bind on Windows (the port stays exclusive, and a
     * restart may wait for the old connections to end).
     */
    SP_BIND_NOREUSE = 2,
    /**
     * For a datagram socket: let other sockets that ask the same bind the same address and
     * port (several receivers of one multicast group, for example): SO_REUSEADDR, with
     * SO_REUSEPORT on macOS and the BSDs (which need it for the same unicast address);
     * on Windows SO_REUSEADDR instead of SO_EXCLUSIVEADDRUSE. Which of them receives a
     * unicast datagram is then the system's choice. SP_EINVAL on a stream socket or with
     * SP_BIND_NOREUSE.
     */
    SP_BIND_SHARED = 4
};

/** Results of sp_set_keepalive() that are not failures (>= 0). */
enum sp_keepalive_result {
    /**
     * Keepalive is on, but part of the timing asked could not be set and the system's
     * own value is used: the probe count on Windows before 10 1709 and under Wine
     * (SIO_KEEPALIVE_VALS sets only the idle time and the interval), or a timing option
     * the system does not have. A caller's `if (rc < 0)` still means failure.
     */
    SP_KEEPALIVE_PARTIAL = 1
};

/** sp_accept() flags. */
enum sp_accept_flags {
    SP_ACCEPT_NONBLOCK = 1 /**< the accepted socket is non-blocking */
};

/* ---- open, connect, listen, accept, close -------------------------------------------- */

/**
 * A new socket: blocking, non-inheritable, SIGPIPE-free (and, for UDP on Windows, deaf to
 * ICMP port-unreachable).
 * @param out    receives the socket; SP_INVALID_SOCKET on failure.
 * @param family SP_AF_INET, SP_AF_INET6 or SP_AF_UNIX.
 * @param type   SP_SOCK_STREAM or SP_SOCK_DGRAM.
 * @return 0, or SP_EINVAL (NULL out, another family or type), SP_EAFNOSUPPORT (e.g.
 *   AF_UNIX on Windows before 10 1803, or under Wine; IPv6 where the system has none),
 *   SP_EPROTONOSUPPORT, SP_EMFILE / SP_ENFILE (out of descriptors), SP_ENOBUFS /
 *   SP_ENOMEM, SP_EACCES, SP_ENOTINIT (Windows, before sp_init()).
 */
SP_API int sp_socket_open(sp_socket_t *out, int family, int type);

/**
 * Close the socket (close / closesocket). The handle is invalid afterwards whatever is
 * returned. POSIX: an EINTR from close is success (the descriptor is released). Windows:
 * a non-blocking socket with a linger time is made blocking and closed again rather than
 * left open.
 * @param s the socket.
 * @return 0, or SP_EBADF for a handle that is not open.
 */
SP_API int sp_close(sp_socket_t s);

/**
 * Close with a reset instead of a FIN (SO_LINGER {1, 0}); unsent data is dropped and the
 * peer sees SP_ECONNRESET. The socket is closed whatever is returned.
 * @param s the socket.
 * @return 0, the error of the close (SP_EBADF), else the error of setting SO_LINGER.
 */
SP_API int sp_close_abortive(sp_socket_t s);

/**
 * Connect and wait for the result, however long the OS takes (a blocking connect). A
 * connect interrupted by a signal is waited for, not restarted.
 * @param s  the socket.
 * @param to the address to connect to.
 * @return 0, or SP_EINVAL (NULL, empty or over-long address), SP_ECONNREFUSED, SP_ETIMEDOUT,
 *   SP_ENETUNREACH, SP_EHOSTUNREACH, SP_EADDRNOTAVAIL, SP_EAFNOSUPPORT (the address does
 *   not match the socket's family), SP_EACCES, SP_EISCONN (already connected),
 *   SP_EALREADY; SP_EINPROGRESS if the socket is non-blocking (then see
 *   sp_connect_finish()); SP_ENOENT (POSIX) for a Unix path that does not exist.
 */
SP_API int sp_connect(sp_socket_t s, const sp_addr *to);

/**
 * Connect, waiting at most timeout_ms. On success the socket is left blocking. On failure
 * or timeout the socket must be closed: the attempt may still be under way.
 * @param s          the socket (blocking or not).
 * @param to         the address to connect to.
 * @param timeout_ms the longest wait; negative: a plain blocking sp_connect().
 * @return 0, SP_ETIMEDOUT when timeout_ms passed, or an error of sp_connect() /
 *   sp_connect_finish() (SP_ECONNREFUSED, SP_ENETUNREACH, ...).
 */
SP_API int sp_connect_timeout(sp_socket_t s, const sp_addr *to, int timeout_ms);

/**
 * Begin a non-blocking connect (the socket is made non-blocking and stays so). When it
 * returns SP_EINPROGRESS, wait with sp_wait(SP_EV_WRITE) or a poller and call
 * sp_connect_finish().
 * @param s  the socket.
 * @param to the address to connect to.
 * @return 0 when connected at once (loopback, Unix sockets), SP_EINPROGRESS when under way
 *   (POSIX EINPROGRESS or EINTR, Windows WSAEWOULDBLOCK), or an error as for sp_connect()
 *   (SP_EINVAL, SP_ECONNREFUSED at once, SP_ENETUNREACH, ...).
 */
SP_API int sp_connect_start(sp_socket_t s, const sp_addr *to);

/**
 * The result of a connect begun with sp_connect_start(). It catches both ways a failure
 * is reported: POSIX marks the socket writable, Windows marks it only in select's except
 * set. It takes the socket's pending error (SO_ERROR).
 * @param s          the socket.
 * @param timeout_ms the longest wait; 0: just look; negative: no limit.
 * @return 0 connected; SP_EINPROGRESS still under way after timeout_ms; or the connect's
 *   error (SP_ECONNREFUSED, SP_ETIMEDOUT, SP_EHOSTUNREACH, SP_ENETUNREACH, ...; also
 *   SP_ECONNREFUSED when the socket is writable and unconnected but its error was
 *   already taken), or an error of the wait (SP_EBADF).
 */
SP_API int sp_connect_finish(sp_socket_t s, int timeout_ms);

/**
 * Bind to a local address, with address reuse and IPv6-only handled per OS as described
 * at ::sp_bind_flags.
 * @param s     the socket.
 * @param local the local address (port 0: any free port).
 * @param flags 0, or SP_BIND_DUALSTACK with SP_BIND_NOREUSE or SP_BIND_SHARED.
 * @return 0, or SP_EINVAL (NULL, empty or over-long address, an unknown flag,
 *   SP_BIND_SHARED on a stream socket or with SP_BIND_NOREUSE, a socket already bound),
 *   SP_EADDRINUSE (the address is held), SP_EADDRNOTAVAIL (not a local address),
 *   SP_EACCES (a privileged port, a Unix path that cannot be created; on Windows also a
 *   specific address of a port another socket holds on the wildcard address),
 *   SP_EAFNOSUPPORT (the address does not match the socket: also an IPv6 address on an
 *   IPv4 socket, which refuses IPV6_V6ONLY), or the error of setting
 *   SO_REUSEADDR / SO_REUSEPORT / SO_EXCLUSIVEADDRUSE.
 */
SP_API int sp_bind(sp_socket_t s, const sp_addr *local, unsigned flags);

/**
 * sp_bind(), then listen.
 * @param s       a stream socket.
 * @param local   the local address (port 0: any free port; read it with
 *   sp_local_addr()).
 * @param backlog the listen backlog; <= 0: the system's maximum (SOMAXCONN).
 * @param flags   as for sp_bind().
 * @return 0, an error of sp_bind(), or of listen: SP_ENOTSUP for a datagram socket,
 *   SP_EADDRINUSE.
 */
SP_API int sp_listen(sp_socket_t s, const sp_addr *local, int backlog, unsigned flags);

/**
 * Take one connection. The new socket is blocking (or non-blocking with
 * SP_ACCEPT_NONBLOCK) on every OS, non-inheritable, SIGPIPE-free.
 * @param listener a listening socket.
 * @param out      receives the new socket; SP_INVALID_SOCKET on failure.
 * @param peer     receives the peer's address; may be NULL.
 * @param flags    0 or SP_ACCEPT_NONBLOCK.
 * @return 0, or SP_EINVAL (NULL out, an unknown flag, a socket that is not listening),
 *   SP_EAGAIN on a non-blocking listener with nothing pending, SP_EMFILE / SP_ENFILE /
 *   SP_ENOBUFS / SP_ENOMEM when out of descriptors or memory (the connection stays in the
 *   backlog), SP_ECONNABORTED when a connection died in the backlog (retry; Windows'
 *   WSAECONNRESET there is reported so too), SP_EBADF (also when the listener is closed
 *   by another thread during the call).
 */
SP_API int sp_accept(sp_socket_t listener, sp_socket_t *out, sp_addr *peer, unsigned flags);

/**
 * Resolve "host:port" or "unix:/path" and connect, all within one deadline: the timeout
 * bounds the whole call, name resolution (on a worker thread: a slow DNS server cannot
 * hold the caller) and every attempt, whatever the number of addresses. Addresses are
 * raced with Happy Eyeballs (RFC 8305): families interleaved, the next attempt 250 ms
 * after the previous one began, earlier ones kept running, the first to connect wins.
 * Numeric addresses skip the resolver. sp_dial_ex() (sockport/dial.h) takes options.
 * @param out        receives a blocking stream socket; SP_INVALID_SOCKET on failure.
 * @param address    "host:port", "[v6]:port", "1.2.3.4:port" or "unix:/path".
 * @param timeout_ms the deadline of the whole dial, resolution included (negative: no
 *                   limit).
 * @return 0, SP_EINVAL (NULL, malformed address), SP_ENOMEM, SP_ETIMEDOUT (the deadline
 *   passed, resolving or connecting), an error of the resolver (SP_EAI_NONAME,
 *   SP_EAI_AGAIN, SP_EAI_FAIL, SP_EAI_NODATA), SP_ENOTINIT (Windows, before sp_init()),
 *   SP_EAGAIN (no resolver thread), or the most useful attempt error: SP_ECONNREFUSED
 *   before any other (SP_ENETUNREACH, SP_EHOSTUNREACH, SP_EMFILE, ...), before
 *   SP_ETIMEDOUT; on a tie the error of the family tried first.
 */
SP_API int sp_dial(sp_socket_t *out, const char *address, int timeout_ms);

/**
 * Resolve an address, open a stream socket and sp_listen() on the first address that
 * works (up to 16 are tried).
 * @param out     receives a blocking listening socket; SP_INVALID_SOCKET on failure.
 * @param address "host:port", "*:port", "[::]:port" or "unix:/path".
 * @param backlog as for sp_listen().
 * @param flags   as for sp_bind().
 * @return 0, SP_EINVAL (NULL), an error of sp_addr_resolve(), or the last attempt's error
 *   (SP_EADDRINUSE, SP_EACCES, ...).
 */
SP_API int sp_listen_on(sp_socket_t *out, const char *address, int backlog, unsigned flags);

/**
 * Two connected stream sockets, both blocking. POSIX: socketpair(AF_UNIX). Windows has no
 * socketpair: sockport uses a Unix socket where the system has them, else TCP over
 * loopback, and checks that the connection it accepted is the one it made (so another
 * local process cannot slip in).
 * @param pair receives the two sockets; both SP_INVALID_SOCKET on failure.
 * @return 0, or SP_EINVAL (NULL), SP_EMFILE / SP_ENFILE; on Windows an error of the
 *   loopback set-up (socket, bind, listen, connect), SP_ETIMEDOUT when no connection
 *   arrived, SP_ECONNABORTED when none of the accepted ones was its own.
 */
SP_API int sp_socketpair(sp_socket_t pair[2]);

/**
 * Shut down one or both directions. SP_SHUT_RD differs by OS when data arrives later: on
 * Windows a TCP connection is reset if data is still queued or arrives after it (the peer
 * sees SP_ECONNRESET); Linux still queues such data and a later receive returns it; macOS
 * and the BSDs drop it. A program that wants the peer to stop should tell it (or use
 * SP_SHUT_WR and read to the end) rather than rely on SP_SHUT_RD.
 * @param s   the socket.
 * @param how SP_SHUT_RD, SP_SHUT_WR or SP_SHUT_RDWR.
 * @return 0, or SP_EINVAL (another how), SP_ENOTCONN if not connected.
 */
SP_API int sp_shutdown(sp_socket_t s, int how);

/* ---- data ---------------------------------------------------------------------------- */

/**
 * One send call. EINTR is retried.
 * @param s   the socket.
 * @param buf the bytes.
 * @param len how many; on Windows one call sends at most INT_MAX bytes.
 * @return the number of bytes taken (maybe fewer than len), or SP_EAGAIN when a
 *   non-blocking socket's buffer is full, SP_EPIPE when the connection is shut down for
 *   sending or closed by the peer (never a SIGPIPE), SP_ECONNRESET, SP_ETIMEDOUT (a send
 *   timeout expired), SP_ENOTCONN, SP_EMSGSIZE (a datagram too large), SP_EINVAL (NULL
 *   buf with len > 0).
 */
SP_API ptrdiff_t sp_send(sp_socket_t s, const void *buf, size_t len);

/**
 * One receive call. EINTR is retried.
 * @param s   the socket.
 * @param buf where the bytes go.
 * @param len its size; on Windows one call receives at most INT_MAX bytes.
 * @return the number of bytes read; 0 when the peer closed its sending side in order
 *   (and len > 0); SP_EAGAIN on an empty non-blocking socket; SP_ETIMEDOUT when a receive
 *   timeout expired; SP_ECONNRESET on an abortive close; SP_ENOTCONN; SP_EINVAL (NULL buf
 *   with len > 0). On a datagram socket use sp_recvfrom(), which reports truncation.
 */
SP_API ptrdiff_t sp_recv(sp_socket_t s, void *buf, size_t len);

/**
 * One gather send over n buffers (sendmsg / WSASend), without copying them. One call
 * sends at most IOV_MAX buffers on POSIX, 1024 on Windows (the count returned says how
 * far it got).
 * @param s   the socket.
 * @param iov the buffers (not modified).
 * @param n   how many.
 * @return the number of bytes taken, or SP_EINVAL (n < 0 or a NULL iov, even with n 0:
 *   an empty array that is there sends nothing and returns 0), or an error as for
 *   sp_send().
 */
SP_API ptrdiff_t sp_sendv(sp_socket_t s, const sp_iovec *iov, int n);
/**
 * One scatter receive into n buffers (recvmsg / WSARecv); one call fills at most IOV_MAX
 * of them on POSIX, 1024 on Windows.
 * @param s   the socket.
 * @param iov the buffers, filled in order.
 * @param n   how many.
 * @return the number of bytes read, 0 at an orderly close, SP_EINVAL (n < 0 or a NULL
 *   iov), or an error as for sp_recv().
 */
SP_API ptrdiff_t sp_recvv(sp_socket_t s, sp_iovec *iov, int n);

/**
 * Send all len bytes, looping over partial sends, waiting for room when a non-blocking
 * socket is full, retrying EINTR. The deadline is exact on non-blocking sockets and on
 * POSIX; on a blocking Windows socket a single send may block past it (Winsock has no
 * per-call non-blocking flag): use a non-blocking socket or sp_set_send_timeout() for a
 * hard bound.
 * @param s          the socket.
 * @param buf        the bytes.
 * @param len        how many.
 * @param timeout_ms bounds the whole call (negative: no limit).
 * @param done       receives the number of bytes taken, which the caller must not send
 *   again, whatever is returned; may be NULL.
 * @return 0 when every byte was taken; SP_ETIMEDOUT at the deadline; SP_EINVAL (NULL buf
 *   with len > 0); or the error of a send (SP_EPIPE, SP_ECONNRESET, ...).
 */
SP_API int sp_send_all(sp_socket_t s, const void *buf, size_t len, int timeout_ms, size_t *done);

/**
 * Receive exactly len bytes, looping over partial receives and waiting for more, retrying
 * EINTR. With a deadline the socket is waited on before each receive, so a blocking
 * socket never blocks past it.
 * @param s          the socket.
 * @param buf        where the bytes go.
 * @param len        how many.
 * @param timeout_ms bounds the whole call (negative: no limit; 0: take what has already
 *   arrived, without waiting).
 * @param done       receives the number of bytes stored in buf, whatever is returned; may
 *   be NULL.
 * @return 0 when all arrived; SP_EEOF when the peer closed first; SP_ETIMEDOUT at the
 *   deadline; SP_EINVAL (NULL buf with len > 0); or the error of a receive
 *   (SP_ECONNRESET, ...).
 */
SP_API int sp_recv_all(sp_socket_t s, void *buf, size_t len, int timeout_ms, size_t *done);

/**
 * sp_send_all() over n buffers (the array is not modified), in gather calls of up to 16
 * buffers.
 * @param s          the socket.
 * @param iov        the buffers.
 * @param n          how many.
 * @param timeout_ms bounds the whole call (negative: no limit).
 * @param done       receives the number of bytes taken; may be NULL.
 * @return 0, SP_EINVAL (NULL iov, n < 0), SP_ETIMEDOUT, or the error of a send.
 */
SP_API int sp_sendv_all(sp_socket_t s, const sp_iovec *iov, int n, int timeout_ms, size_t *done);

/**
 * Send one datagram. EINTR is retried.
 * @param s   the socket.
 * @param buf the payload.
 * @param len its size.
 * @param to  the destination.
 * @return the number of bytes sent, or SP_EINVAL (NULL buf with len > 0, NULL or empty
 *   to), SP_EMSGSIZE (larger than a datagram can be), SP_EAGAIN, SP_EHOSTUNREACH,
 *   SP_ENETUNREACH, SP_EACCES (a broadcast address), or an error as for sp_send().
 */
SP_API ptrdiff_t sp_sendto(sp_socket_t s, const void *buf, size_t len, const sp_addr *to);
/**
 * Receive one datagram. A datagram longer than len is SP_EMSGSIZE on every OS and its tail
 * is lost (POSIX truncates silently, Windows fails with WSAEMSGSIZE; sockport reports both
 * the same way).
 * @param s    the socket.
 * @param buf  where the payload goes.
 * @param len  its size.
 * @param from receives the sender's address; may be NULL.
 * @return the number of bytes received (0 for an empty datagram), or SP_EMSGSIZE, SP_EAGAIN,
 *   SP_ETIMEDOUT, SP_EINVAL (NULL buf with len > 0), or an error as for sp_recv().
 */
SP_API ptrdiff_t sp_recvfrom(sp_socket_t s, void *buf, size_t len, sp_addr *from);

/**
 * Wait for readiness on one socket (poll on POSIX, select on Windows). EINTR is retried
 * with the time that is left.
 * @param s          the socket.
 * @param events     SP_EV_READ | SP_EV_WRITE, or 0 (errors and hang-ups only).
 * @param timeout_ms the longest wait; negative: no limit; 0: just look.
 * @return the ready SP_EV_* mask (SP_EV_ERROR and SP_EV_HUP are always reported, with the
 *   interests asked: the next call will not block; POSIX reads poll's answer the way the
 *   poll layer does on each system (macOS reports a refused connect as POLLHUP alone: it
 *   is still SP_EV_ERROR | SP_EV_WRITE here); a failed connect shows as SP_EV_ERROR on
 *   every OS, with SP_EV_WRITE on POSIX only: Windows reports it in select's except set
 *   alone), 0 on timeout, SP_EINVAL for another flag in events, or SP_EBADF
 *   for a handle that is not an open socket (also a negative one), or the error of the
 *   system call (SP_ENOMEM, ...).
 */
SP_API int sp_wait(sp_socket_t s, int events, int timeout_ms);

/* ---- options ------------------------------------------------------------------------- */

/**
 * Blocking or non-blocking mode (ioctl / ioctlsocket FIONBIO).
 * @param s  the socket.
 * @param on 1 non-blocking, 0 blocking.
 * @return 0, or SP_EBADF.
 */
SP_API int sp_set_nonblocking(sp_socket_t s, int on);

/**
 * TCP_NODELAY (no Nagle delay) on or off.
 * @param s  a TCP socket.
 * @param on 1 on, 0 off.
 * @return 0, or the error of the option call (SP_EBADF; SP_ENOPROTOOPT or SP_ENOTSUP on
 *   a socket that is not TCP).
 */
SP_API int sp_set_nodelay(sp_socket_t s, int on);

/**
 * TCP keepalive on or off, with its timing. Linux: TCP_KEEPIDLE, TCP_KEEPINTVL,
 * TCP_KEEPCNT; macOS: TCP_KEEPALIVE for the idle time; Windows 10 1709+:
 * TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT; older Windows: SIO_KEEPALIVE_VALS, where the
 * count cannot be set (it is 10 there); idle and interval are set together there, so a 0
 * takes Windows' default (7200 s idle, 1 s interval) instead of the current value.
 * @param s          a TCP socket.
 * @param on         1 on, 0 off (the timing arguments are then ignored).
 * @param idle_s     seconds of silence before the first probe; 0: leave as it is.
 * @param interval_s seconds between probes; 0: leave as it is.
 * @param count      probes without an answer before the connection fails with
 *   SP_ETIMEDOUT; 0: leave as it is.
 * @return 0, or SP_EINVAL (a negative value, idle_s or interval_s over 2147483 (INT_MAX
 *   milliseconds), count over 255: checked on every OS before anything is set, whether
 *   on is 1 or 0), SP_KEEPALIVE_PARTIAL (1, not a failure: keepalive is on, but the
 *   system could not take all of the timing asked: the count on Windows before 10 1709
 *   and under Wine, after idle and interval have been applied; a timing option the
 *   system lacks), or the error of an option call (SP_EBADF, SP_EINVAL for a value within
 *   those bounds but out of the system's range, e.g. Linux takes at most 32767 s and 127
 *   probes). Test `rc < 0` for failure.
 */
SP_API int sp_set_keepalive(sp_socket_t s, int on, int idle_s, int interval_s, int count);

/**
 * Read the keepalive settings back.
 * @param s          the socket.
 * @param on         receives 1 or 0; may be NULL.
 * @param idle_s     receives the idle time in seconds; may be NULL.
 * @param interval_s receives the probe interval in seconds; may be NULL.
 * @param count      receives the probe count; may be NULL.
 * @return 0, or SP_ENOPROTOOPT when the system cannot report the timing (Windows before
 *   10 1709, Wine): *on is still filled and the others set to -1; or the error of an
 *   option call (SP_EBADF).
 */
SP_API int sp_get_keepalive(sp_socket_t s, int *on, int *idle_s, int *interval_s, int *count);

/**
 * A blocking receive fails with SP_ETIMEDOUT after ms milliseconds (SO_RCVTIMEO: POSIX
 * takes a timeval, Windows a DWORD of milliseconds; sockport converts). Signals do not
 * stretch it (see the EINTR guarantee above). On Windows a receive that timed out leaves
 * the socket "in an indeterminate state" (Microsoft's setsockopt documentation): close
 * it. For a receive that can be retried after a timeout on every OS, use sp_wait(),
 * sp_recv_all() with a deadline, or a non-blocking socket instead.
 * @param s  the socket.
 * @param ms the timeout; 0: never.
 * @return 0, or SP_EINVAL (ms < 0), SP_EBADF.
 */
SP_API int sp_set_recv_timeout(sp_socket_t s, int ms);
/**
 * A blocking send fails with SP_ETIMEDOUT after ms milliseconds (SO_SNDTIMEO); signals do
 * not stretch it. Windows warns that a timed-out send leaves the connection in an
 * indeterminate state: close it.
 * @param s  the socket.
 * @param ms the timeout; 0: never.
 * @return 0, or SP_EINVAL (ms < 0), SP_EBADF.
 */
SP_API int sp_set_send_timeout(sp_socket_t s, int ms);
/**
 * The receive timeout. Linux rounds it up to its clock tick, so a value read back may
 * be a little larger than the one set.
 * @param s  the socket.
 * @param ms receives the timeout in milliseconds (0: none).
 * @return 0, or SP_EINVAL (NULL ms), SP_EBADF.
 */
SP_API int sp_get_recv_timeout(sp_socket_t s, int *ms);
/**
 * The send timeout (see sp_get_recv_timeout()).
 * @param s  the socket.
 * @param ms receives the timeout in milliseconds (0: none).
 * @return 0, or SP_EINVAL (NULL ms), SP_EBADF.
 */
SP_API int sp_get_send_timeout(sp_socket_t s, int *ms);

/**
 * The send buffer size, SO_SNDBUF. Linux doubles the value given (and reports the doubled
 * value).
 * @param s     the socket.
 * @param bytes the size, > 0.
 * @return 0, or SP_EINVAL (bytes <= 0), SP_EBADF.
 */
SP_API int sp_set_send_buffer(sp_socket_t s, int bytes);
/**
 * The receive buffer size, SO_RCVBUF. Linux doubles the value given.
 * @param s     the socket.
 * @param bytes the size, > 0.
 * @return 0, or SP_EINVAL (bytes <= 0), SP_EBADF.
 */
SP_API int sp_set_recv_buffer(sp_socket_t s, int bytes);
/**
 * The send buffer size as the kernel reports it.
 * @param s     the socket.
 * @param bytes receives the size.
 * @return 0, or SP_EINVAL (NULL bytes), SP_EBADF.
 */
SP_API int sp_get_send_buffer(sp_socket_t s, int *bytes);
/**
 * The receive buffer size as the kernel reports it.
 * @param s     the socket.
 * @param bytes receives the size.
 * @return 0, or SP_EINVAL (NULL bytes), SP_EBADF.
 */
SP_API int sp_get_recv_buffer(sp_socket_t s, int *bytes);

/**
 * What close does with unsent data (SO_LINGER). The time is in seconds on every OS: macOS
 * counts SO_LINGER in clock ticks (10 ms) when its extensions are visible, so sockport
 * uses SO_LINGER_SEC there, where the kernel holds at most 327 s (larger values are
 * clamped to 327 s).
 * @param s       the socket.
 * @param on      0: close returns at once and the system sends what is left in the
 *   background (the default); 1: see seconds.
 * @param seconds with on = 1: > 0, close blocks up to that long for unsent data; 0, close
 *   resets the connection (see sp_close_abortive()).
 * @return 0, or SP_EINVAL (seconds < 0 or over 65535, the most every OS can hold), SP_EBADF.
 */
SP_API int sp_set_linger(sp_socket_t s, int on, int seconds);

/**
 * Take the socket's pending error (SO_ERROR). POSIX clears the error as it is read;
 * Windows documents the same, and sockport also resets it there (Wine keeps it).
 * @param s the socket.
 * @return 0 when none, else the pending error as an SP_E* code (e.g. SP_ECONNREFUSED
 *   after a failed non-blocking connect), or the error of the getsockopt call itself
 *   (SP_EBADF): both are negative.
 */
SP_API int sp_socket_error(sp_socket_t s);

/**
 * The socket's local address (getsockname): the port the system chose after a bind to
 * port 0.
 * @param s   the socket.
 * @param out receives the address.
 * @return 0, or SP_EINVAL (NULL out; on Windows also a socket not bound), SP_EBADF.
 */
SP_API int sp_local_addr(sp_socket_t s, sp_addr *out);
/**
 * The connected peer's address (getpeername).
 * @param s   the socket.
 * @param out receives the address.
 * @return 0, or SP_EINVAL (NULL out), SP_ENOTCONN when there is no peer, SP_EBADF.
 */
SP_API int sp_peer_addr(sp_socket_t s, sp_addr *out);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_SOCKET_H */
