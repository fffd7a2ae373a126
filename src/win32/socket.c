/*
 * socket.c (Windows) - the socket verbs on Winsock 2.
 *
 * What differs from POSIX and is handled here: SOCKET handles and closesocket;
 * WSA_FLAG_NO_HANDLE_INHERIT instead of SOCK_CLOEXEC; FIONBIO; accepted sockets that
 * inherit the listener's FIONBIO mode; WSAEWOULDBLOCK for a started connect; a failed
 * non-blocking connect that select reports only in the except set; SO_EXCLUSIVEADDRUSE
 * instead of SO_REUSEADDR; DWORD millisecond timeouts; SIO_KEEPALIVE_VALS before
 * Windows 10 1709; SIO_UDP_CONNRESET; and no socketpair.
 */
#include "internal.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <mstcpip.h>
#include <afunix.h>
#include <windows.h>

#include <stdio.h>
#include <string.h>

/* Newer than some SDK headers: define what the running system may still accept. */
#ifndef WSA_FLAG_NO_HANDLE_INHERIT
#    define WSA_FLAG_NO_HANDLE_INHERIT 0x80 /* Windows 7 SP1 and later */
#endif
#ifndef SIO_UDP_CONNRESET
#    define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12)
#endif
#ifndef SIO_AF_UNIX_GETPEERPID
#    define SIO_AF_UNIX_GETPEERPID _WSAIOR(IOC_VENDOR, 256) /* older mingw-w64 afunix.h */
#endif
#ifndef TCP_KEEPIDLE
#    define TCP_KEEPIDLE 3 /* Windows 10 1709 and later (= TCP_KEEPALIVE) */
#endif
#ifndef TCP_KEEPCNT
#    define TCP_KEEPCNT 16
#endif
#ifndef TCP_KEEPINTVL
#    define TCP_KEEPINTVL 17
#endif

/* sp_iovec is declared with WSABUF's layout so that an array goes to WSASend as is. */
_Static_assert(sizeof(sp_iovec) == sizeof(WSABUF), "sp_iovec is not a WSABUF");
_Static_assert(offsetof(sp_iovec, len) == offsetof(WSABUF, len), "sp_iovec.len");
_Static_assert(offsetof(sp_iovec, base) == offsetof(WSABUF, buf), "sp_iovec.base");
_Static_assert(sizeof(sp_socket_t) == sizeof(SOCKET), "sp_socket_t is not a SOCKET");

#define SP__SA(a)        ((struct sockaddr *)(void *)(a)->u.bytes)
#define SP__CSA(a)       ((const struct sockaddr *)(const void *)(a)->u.bytes)
#define SP__IO_MAX       ((size_t)INT_MAX) /* send/recv take an int length */
#define SP__PAIR_ACCEPTS 16                /* connections sp_socketpair looks at */
#define SP__PAIR_WAIT_MS 5000              /* bound on each of its accepts */

/* ---- helpers --------------------------------------------------------------------------- */

static int bad_socket(sp_socket_t s)
{
    return s == SP_INVALID_SOCKET;
}

/* SP_INVALID_SOCKET is caught before Winsock sees it, recorded as Winsock would. */
static int fail_badf(void)
{
    return sp__fail(WSAENOTSOCK);
}

/* An sp_addr that can be handed to the system: a length within the storage. */
static int bad_addr(const sp_addr *a)
{
    return a == NULL || a->len < sizeof(ADDRESS_FAMILY) || a->len > sizeof a->u.bytes;
}

static int addr_family(const sp_addr *a)
{
    ADDRESS_FAMILY f;
    memcpy(&f, a->u.bytes, sizeof f);
    return f;
}

static int set_opt(sp_socket_t s, int level, int name, const void *val, int len)
{
    if (bad_socket(s))
        return fail_badf();
    if (setsockopt((SOCKET)s, level, name, (const char *)val, len) == SOCKET_ERROR)
        return sp__fail_last();
    return 0;
}

static int set_int_opt(sp_socket_t s, int level, int name, int val)
{
    return set_opt(s, level, name, &val, (int)sizeof val);
}

static int set_dword_opt(sp_socket_t s, int level, int name, DWORD val)
{
    return set_opt(s, level, name, &val, (int)sizeof val);
}

/*
 * Read a 32-bit option. The buffer is zeroed first: some providers (Wine, for
 * IPV6_V6ONLY) write fewer bytes than asked, and BOOL options may come back as 1 byte.
 */
static int get_dword_opt(sp_socket_t s, int level, int name, DWORD *val)
{
    DWORD v = 0;
    int len = (int)sizeof v;
    if (bad_socket(s))
        return fail_badf();
    if (val == NULL)
        return SP_EINVAL;
    if (getsockopt((SOCKET)s, level, name, (char *)&v, &len) == SOCKET_ERROR)
        return sp__fail_last();
    *val = v;
    return 0;
}

/* An int option read back: values over INT_MAX are clamped. */
static int get_int_out(sp_socket_t s, int level, int name, int *out)
{
    DWORD v = 0;
    int rc;
    if (out == NULL)
        return SP_EINVAL;
    rc = get_dword_opt(s, level, name, &v);
    if (rc == 0)
        *out = v > (DWORD)INT_MAX ? INT_MAX : (int)v;
    return rc;
}

/* Success must leave the thread's last native error as it was, even when a first try
 * failed and a fallback worked: sp__fail(saved) puts the saved value back. */
static void restore_native(int saved)
{
    (void)sp__fail(saved);
}

static int fail_handle(void)
{
    return sp__fail((int)GetLastError());
}

static int no_inherit(sp_socket_t s)
{
    if (!SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0))
        return fail_handle();
    return 0;
}

/* ---- open, close -------------------------------------------------------------------------- */

static SOCKET open_raw(int af, int type, int proto)
{
    SOCKET s =
        WSASocketW(af, type, proto, NULL, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET && WSAGetLastError() == WSAEINVAL) {
        /* Windows 7 without SP1 does not know WSA_FLAG_NO_HANDLE_INHERIT. */
        s = WSASocketW(af, type, proto, NULL, 0, WSA_FLAG_OVERLAPPED);
        if (s != INVALID_SOCKET && no_inherit(s) != 0) {
            int err = sp_last_native_error();
            closesocket(s);
            WSASetLastError(err);
            return INVALID_SOCKET;
        }
    }
    return s;
}

/*
 * Windows reports an ICMP port-unreachable caused by an earlier sendto as WSAECONNRESET
 * on the next recvfrom of an unconnected UDP socket, which would make one unreachable
 * peer break a server's socket for everybody. SIO_UDP_CONNRESET = FALSE turns that off.
 */
static int udp_no_connreset(SOCKET s)
{
    BOOL off = FALSE;
    DWORD bytes = 0;
    if (WSAIoctl(s, SIO_UDP_CONNRESET, &off, sizeof off, NULL, 0, &bytes, NULL, NULL) ==
        SOCKET_ERROR)
        return sp__fail_last();
    return 0;
}

int sp_socket_open(sp_socket_t *out, int family, int type)
{
    int af, st, proto;
    SOCKET s;
    if (out == NULL)
        return SP_EINVAL;
    *out = SP_INVALID_SOCKET;
    if (type != SP_SOCK_STREAM && type != SP_SOCK_DGRAM)
        return SP_EINVAL;
    st = type == SP_SOCK_STREAM ? SOCK_STREAM : SOCK_DGRAM;
    switch (family) {
    case SP_AF_INET:
        af = AF_INET;
        break;
    case SP_AF_INET6:
        af = AF_INET6;
        break;
    case SP_AF_UNIX:
        af = AF_UNIX; /* Windows 10 1803+; WSAEAFNOSUPPORT before and under Wine */
        break;
    default:
        return SP_EINVAL;
    }
    if (af == AF_UNIX)
        proto = 0;
    else
        proto = st == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
    s = open_raw(af, st, proto);
    if (s == INVALID_SOCKET)
        return sp__fail_last();
    if (proto == IPPROTO_UDP) {
        int rc = udp_no_connreset(s);
        if (rc != 0) {
            closesocket(s);
            return rc;
        }
    }
    *out = (sp_socket_t)s;
    return 0;
}

int sp_close(sp_socket_t s)
{
    if (bad_socket(s))
        return fail_badf();
    if (closesocket((SOCKET)s) == 0)
        return 0;
    if (WSAGetLastError() == WSAEWOULDBLOCK) {
        /*
         * A non-blocking socket with SO_LINGER {1, n > 0} is not closed: closesocket
         * fails with WSAEWOULDBLOCK. The handle must not leak (the caller may not use it
         * again), so linger as POSIX does: make it blocking and close again.
         */
        u_long off = 0;
        ioctlsocket((SOCKET)s, FIONBIO, &off);
        /* The first closesocket failed, so the handle is still open: not a double close. */
        /* cppcheck-suppress doubleFree */
        if (closesocket((SOCKET)s) == 0)
            return 0;
    }
    return sp__fail_last(); /* WSAENOTSOCK -> SP_EBADF */
}

/* ---- connect, bind, listen, accept -------------------------------------------------------- */

/* connect(); a non-blocking socket's WSAEWOULDBLOCK is the POSIX EINPROGRESS. */
static int do_connect(sp_socket_t s, const sp_addr *to)
{
    int err;
    if (bad_socket(s))
        return fail_badf();
    if (bad_addr(to))
        return SP_EINVAL;
    if (connect((SOCKET)s, SP__CSA(to), (int)to->len) == 0)
        return 0;
    err = WSAGetLastError();
    if (err == WSAEWOULDBLOCK) {
        (void)sp__fail(err);
        return SP_EINPROGRESS;
    }
    return sp__fail(err);
}

int sp_connect(sp_socket_t s, const sp_addr *to)
{
    return do_connect(s, to);
}

int sp_connect_start(sp_socket_t s, const sp_addr *to)
{
    int rc;
    if (bad_socket(s))
        return fail_badf();
    if (bad_addr(to))
        return SP_EINVAL;
    rc = sp_set_nonblocking(s, 1);
    if (rc != 0)
        return rc;
    return do_connect(s, to);
}

int sp_bind(sp_socket_t s, const sp_addr *local, unsigned flags)
{
    int af, rc;
    if (bad_socket(s))
        return fail_badf();
    if (bad_addr(local) || (flags & ~(unsigned)(SP_BIND_DUALSTACK | SP_BIND_NOREUSE)) != 0)
        return SP_EINVAL;
    af = addr_family(local);
    if (af == AF_INET || af == AF_INET6) {
        /*
         * SO_EXCLUSIVEADDRUSE: no other socket can bind this port while it is held.
         * Never SO_REUSEADDR: on Windows it lets any other socket take over the port (and
         * set together with SO_EXCLUSIVEADDRUSE, bind fails with WSAEINVAL). Windows
         * already lets a port be bound again while old connections sit in TIME_WAIT, so
         * there is nothing for SP_BIND_NOREUSE to turn off here: it is accepted and
         * ignored.
         */
        rc = set_int_opt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1);
        if (rc == 0 && af == AF_INET6)
            rc =
                set_int_opt(s, IPPROTO_IPV6, IPV6_V6ONLY, (flags & SP_BIND_DUALSTACK) != 0 ? 0 : 1);
        if (rc != 0)
            return rc;
    }
    if (bind((SOCKET)s, SP__CSA(local), (int)local->len) == SOCKET_ERROR)
        return sp__fail_last();
    return 0;
}

int sp__listen(sp_socket_t s, int backlog)
{
    if (bad_socket(s))
        return fail_badf();
    if (listen((SOCKET)s, backlog <= 0 ? SOMAXCONN : backlog) == SOCKET_ERROR)
        return sp__fail_last();
    return 0;
}

/* accept() retrying WSAEINTR (see send_retry); INVALID_SOCKET with the error set. */
static SOCKET accept_retry(SOCKET l, sp_addr *peer)
{
    for (;;) {
        int len = (int)sizeof peer->u.bytes;
        SOCKET c = accept(l, SP__SA(peer), &len);
        if (c != INVALID_SOCKET) {
            peer->len = (uint32_t)len;
            return c;
        }
        if (WSAGetLastError() != WSAEINTR)
            return INVALID_SOCKET;
    }
}

int sp_accept(sp_socket_t listener, sp_socket_t *out, sp_addr *peer, unsigned flags)
{
    sp_addr from;
    SOCKET c;
    u_long nb = (flags & SP_ACCEPT_NONBLOCK) != 0;
    int rc = 0;
    if (out == NULL || (flags & ~(unsigned)SP_ACCEPT_NONBLOCK) != 0)
        return SP_EINVAL;
    *out = SP_INVALID_SOCKET;
    if (bad_socket(listener))
        return fail_badf();
    memset(&from, 0, sizeof from);
    c = accept_retry((SOCKET)listener, &from);
    if (c == INVALID_SOCKET) {
        int err = WSAGetLastError();
        /* A connection reset while it waited in the backlog: POSIX says ECONNABORTED. */
        if (err == WSAECONNRESET) {
            (void)sp__fail(err);
            return SP_ECONNABORTED;
        }
        return sp__fail(err); /* WSAEWOULDBLOCK -> SP_EAGAIN */
    }
    /* The new socket has the listener's FIONBIO mode on Windows: set it either way. */
    if (ioctlsocket(c, FIONBIO, &nb) == SOCKET_ERROR)
        rc = sp__fail_last();
    if (rc == 0)
        rc = no_inherit((sp_socket_t)c);
    if (rc != 0) {
        closesocket(c);
        return rc;
    }
    if (peer != NULL)
        *peer = from;
    *out = (sp_socket_t)c;
    return 0;
}

int sp_shutdown(sp_socket_t s, int how)
{
    int sd;
    if (bad_socket(s))
        return fail_badf();
    switch (how) {
    case SP_SHUT_RD:
        sd = SD_RECEIVE;
        break;
    case SP_SHUT_WR:
        sd = SD_SEND;
        break;
    case SP_SHUT_RDWR:
        sd = SD_BOTH;
        break;
    default:
        return SP_EINVAL;
    }
    if (shutdown((SOCKET)s, sd) == SOCKET_ERROR)
        return sp__fail_last();
    return 0;
}

/* ---- socketpair ----------------------------------------------------------------------------- */

static void close_quietly(sp_socket_t *s)
{
    if (*s != SP_INVALID_SOCKET) {
        closesocket((SOCKET)*s);
        *s = SP_INVALID_SOCKET;
    }
}

/* A fresh path in the temp folder for a listening Unix socket; 0 or an SP_E* code. */
static int unique_unix_addr(sp_addr *a)
{
    static volatile LONG counter;
    char dir[MAX_PATH + 1], path[MAX_PATH + 64];
    DWORD n = GetTempPathA((DWORD)sizeof dir, dir);
    DWORD i;
    if (n == 0 || n >= sizeof dir)
        return SP_ENAMETOOLONG;
    for (i = 0; i < n; i++) /* keep to ASCII: the ANSI code page may not round-trip */
        if ((unsigned char)dir[i] >= 0x80)
            return SP_EINVAL;
    /* fits: dir is under MAX_PATH and the suffix under 64 bytes */
    (void)snprintf(path, sizeof path, "%ssockport-%lu-%lu-%ld.sock", dir,
                   (unsigned long)GetCurrentProcessId(), (unsigned long)GetTickCount64(),
                   (long)InterlockedIncrement(&counter));
    return sp_addr_unix(a, path); /* SP_ENAMETOOLONG past 107 bytes: TCP is used then */
}

/*
 * Whether the accepted Unix connection comes from this process and not from one that
 * found the path first: 1 yes, 0 no, or an SP_E* code. SIO_AF_UNIX_GETPEERPID exists
 * wherever AF_UNIX does.
 */
static int unix_peer_is_me(sp_socket_t c)
{
    ULONG pid = 0;
    DWORD bytes = 0;
    if (WSAIoctl((SOCKET)c, SIO_AF_UNIX_GETPEERPID, NULL, 0, &pid, sizeof pid, &bytes, NULL,
                 NULL) == SOCKET_ERROR)
        return sp__fail_last();
    if (bytes != sizeof pid) /* a provider that does not answer: use TCP instead */
        return sp__fail(WSAEOPNOTSUPP);
    return pid == GetCurrentProcessId();
}

/*
 * Accept the connection that `client` made, closing any other that comes first (another
 * local process can connect to the listener too). Our connect has completed, so ours is
 * already queued; the wait only bounds the loop if the check should never match.
 */
static int pair_accept(sp_socket_t l, sp_socket_t client, int family, sp_socket_t *server)
{
    sp_addr want, got;
    int tries, rc;
    if (family != SP_AF_UNIX) {
        rc = sp_local_addr(client, &want);
        if (rc != 0)
            return rc;
    }
    for (tries = 0; tries < SP__PAIR_ACCEPTS; tries++) {
        rc = sp_wait(l, SP_EV_READ, SP__PAIR_WAIT_MS);
        if (rc == 0)
            return sp__fail(WSAETIMEDOUT);
        if (rc > 0)
            rc = sp_accept(l, server, &got, 0);
        if (rc < 0)
            return rc;
        rc = family == SP_AF_UNIX ? unix_peer_is_me(*server) : sp_addr_equal(&got, &want);
        if (rc == 1)
            return 0;
        close_quietly(server); /* somebody else's connection, or the check failed */
        if (rc < 0)
            return rc;
    }
    return sp__fail(WSAECONNABORTED);
}

/* A connected pair over SP_AF_UNIX or SP_AF_INET (loopback): 0, or the error. */
static int pair_over(sp_socket_t pair[2], int family)
{
    sp_socket_t l = SP_INVALID_SOCKET, c = SP_INVALID_SOCKET, srv = SP_INVALID_SOCKET;
    sp_addr where;
    int rc, bound = 0;
    rc = family == SP_AF_UNIX ? unique_unix_addr(&where) : sp_addr_loopback(&where, family, 0);
    if (rc == 0)
        rc = sp_socket_open(&l, family, SP_SOCK_STREAM);
    if (rc == 0)
        rc = sp_bind(l, &where, 0);          /* SO_EXCLUSIVEADDRUSE on the TCP one */
    bound = rc == 0 && family == SP_AF_UNIX; /* the socket file exists: delete it below */
    if (rc == 0)
        rc = sp__listen(l, 1);
    if (rc == 0 && family != SP_AF_UNIX)
        rc = sp_local_addr(l, &where); /* the port the system chose */
    if (rc == 0)
        rc = sp_socket_open(&c, family, SP_SOCK_STREAM);
    if (rc == 0)
        rc = sp_connect(c, &where);
    if (rc == 0)
        rc = pair_accept(l, c, family, &srv);
    if (rc == 0 && family != SP_AF_UNIX) /* behave like a pipe: no Nagle delay */
        rc = sp_set_nodelay(c, 1);
    if (rc == 0 && family != SP_AF_UNIX)
        rc = sp_set_nodelay(srv, 1);
    close_quietly(&l);
    if (bound) {
        char path[SP_ADDR_STRLEN];
        if (sp__addr_unix_path(&where, path, sizeof path) > 0)
            DeleteFileA(path);
    }
    if (rc != 0) {
        close_quietly(&c);
        close_quietly(&srv);
        return rc;
    }
    pair[0] = c;
    pair[1] = srv;
    return 0;
}

int sp_socketpair(sp_socket_t pair[2])
{
    int saved, rc;
    if (pair == NULL)
        return SP_EINVAL;
    pair[0] = pair[1] = SP_INVALID_SOCKET;
    saved = sp_last_native_error();
    /* A Unix socket where the system has them (Windows 10 1803+); else (older Windows,
     * Wine, a temp path too long for sun_path) TCP over 127.0.0.1. */
    if (pair_over(pair, SP_AF_UNIX) == 0) {
        restore_native(saved);
        return 0;
    }
    rc = pair_over(pair, SP_AF_INET);
    if (rc == 0)
        restore_native(saved);
    return rc;
}
/* ---- data ----------------------------------------------------------------------------------- */

/*
 * WSAEINTR is retried as the header promises. Winsock 2 has no signals: the code comes
 * from a blocking call cancelled by closesocket in another thread, and the retry then
 * fails with WSAENOTSOCK (SP_EBADF), which says what happened better than SP_EINTR.
 */
static ptrdiff_t send_retry(SOCKET s, const char *buf, int len)
{
    for (;;) {
        int n = send(s, buf, len, 0);
        if (n != SOCKET_ERROR)
            return n;
        if (WSAGetLastError() != WSAEINTR)
            return sp__fail_last(); /* WSAESHUTDOWN -> SP_EPIPE, WSAETIMEDOUT, ... */
    }
}

static ptrdiff_t recv_retry(SOCKET s, char *buf, int len)
{
    for (;;) {
        int n = recv(s, buf, len, 0);
        if (n != SOCKET_ERROR)
            return n; /* 0 with len > 0: the peer closed in order */
        if (WSAGetLastError() != WSAEINTR)
            return sp__fail_last();
    }
}

ptrdiff_t sp_send(sp_socket_t s, const void *buf, size_t len)
{
    if (bad_socket(s))
        return fail_badf();
    if (buf == NULL && len > 0)
        return SP_EINVAL;
    return send_retry((SOCKET)s, (const char *)buf, (int)(len > SP__IO_MAX ? SP__IO_MAX : len));
}

ptrdiff_t sp_recv(sp_socket_t s, void *buf, size_t len)
{
    if (bad_socket(s))
        return fail_badf();
    if (buf == NULL && len > 0)
        return SP_EINVAL;
    return recv_retry((SOCKET)s, (char *)buf, (int)(len > SP__IO_MAX ? SP__IO_MAX : len));
}

/* WSASend / WSARecv over the caller's array, which has WSABUF's layout. No overlapped:
 * a blocking call blocks, a non-blocking one fails with WSAEWOULDBLOCK. */
ptrdiff_t sp_sendv(sp_socket_t s, const sp_iovec *iov, int n)
{
    DWORD sent = 0;
    if (bad_socket(s))
        return fail_badf();
    if (n < 0 || (iov == NULL && n > 0))
        return SP_EINVAL;
    for (;;) {
        if (WSASend((SOCKET)s, (WSABUF *)(uintptr_t)iov, (DWORD)n, &sent, 0, NULL, NULL) == 0)
            return (ptrdiff_t)sent;
        if (WSAGetLastError() != WSAEINTR)
            return sp__fail_last();
    }
}

ptrdiff_t sp_recvv(sp_socket_t s, sp_iovec *iov, int n)
{
    DWORD got = 0;
    if (bad_socket(s))
        return fail_badf();
    if (n < 0 || (iov == NULL && n > 0))
        return SP_EINVAL;
    for (;;) {
        DWORD flags = 0; /* in/out */
        if (WSARecv((SOCKET)s, (WSABUF *)iov, (DWORD)n, &got, &flags, NULL, NULL) == 0)
            return (ptrdiff_t)got;
        if (WSAGetLastError() != WSAEINTR)
            return sp__fail_last();
    }
}

/*
 * Winsock has no MSG_DONTWAIT (a per-call "don't block"): the ordinary call is made. The
 * shared loops wait for readiness before each call that has a deadline, so a receive
 * does not block; a send on a blocking socket may (documented at sp_send_all).
 */
ptrdiff_t sp__sendv_dontwait(sp_socket_t s, const sp_iovec *iov, int n, int dontwait)
{
    (void)dontwait;
    return sp_sendv(s, iov, n);
}

ptrdiff_t sp__recv_dontwait(sp_socket_t s, void *buf, size_t len, int dontwait)
{
    (void)dontwait;
    return sp_recv(s, buf, len);
}

ptrdiff_t sp_sendto(sp_socket_t s, const void *buf, size_t len, const sp_addr *to)
{
    if (bad_socket(s))
        return fail_badf();
    if ((buf == NULL && len > 0) || bad_addr(to))
        return SP_EINVAL;
    if (len > SP__IO_MAX) /* never cut a datagram short */
        return sp__fail(WSAEMSGSIZE);
    for (;;) {
        int n = sendto((SOCKET)s, (const char *)buf, (int)len, 0, SP__CSA(to), (int)to->len);
        if (n != SOCKET_ERROR)
            return n;
        if (WSAGetLastError() != WSAEINTR)
            return sp__fail_last();
    }
}

/*
 * A datagram longer than the buffer: Windows fills the buffer, drops the rest and fails
 * with WSAEMSGSIZE, which is returned as SP_EMSGSIZE; POSIX returns the truncated length
 * without a word. The difference is left visible: the data is lost either way.
 */
ptrdiff_t sp_recvfrom(sp_socket_t s, void *buf, size_t len, sp_addr *from)
{
    sp_addr tmp;
    sp_addr *a = from != NULL ? from : &tmp;
    if (bad_socket(s))
        return fail_badf();
    if (buf == NULL && len > 0)
        return SP_EINVAL;
    if (len > SP__IO_MAX)
        len = SP__IO_MAX;
    for (;;) {
        int alen = (int)sizeof a->u.bytes;
        int n;
        memset(a, 0, sizeof *a); /* a connected stream socket leaves it untouched */
        n = recvfrom((SOCKET)s, (char *)buf, (int)len, 0, SP__SA(a), &alen);
        if (n != SOCKET_ERROR) {
            a->len = addr_family(a) == AF_UNSPEC ? 0 : (uint32_t)alen;
            return n;
        }
        if (WSAGetLastError() != WSAEINTR)
            return sp__fail_last();
    }
}

/*
 * select on one socket. The except set is always given: it is where Windows reports a
 * failed non-blocking connect (the write set stays empty), and it keeps select from
 * failing with WSAEINVAL on three empty sets. (It also flags out-of-band data, which
 * sockport never asks for.) A hang-up shows as readable; select cannot tell SP_EV_HUP.
 */
/* NOLINTNEXTLINE(readability-function-cognitive-complexity): one select and its rules */
int sp_wait(sp_socket_t s, int events, int timeout_ms)
{
    sp__deadline deadline = sp__deadline_in(timeout_ms);
    if (bad_socket(s))
        return fail_badf();
    for (;;) {
        fd_set rd, wr, ex;
        struct timeval tv, *tvp = NULL;
        int left = sp__deadline_left(deadline), n, mask = 0;
        FD_ZERO(&rd);
        FD_ZERO(&wr);
        FD_ZERO(&ex);
        FD_SET((SOCKET)s, &rd);
        FD_SET((SOCKET)s, &wr);
        FD_SET((SOCKET)s, &ex);
        if (left >= 0) {
            tv.tv_sec = left / 1000;
            tv.tv_usec = (left % 1000) * 1000;
            tvp = &tv;
        }
        n = select(0, (events & SP_EV_READ) ? &rd : NULL, (events & SP_EV_WRITE) ? &wr : NULL, &ex,
                   tvp);
        if (n == SOCKET_ERROR) {
            if (WSAGetLastError() == WSAEINTR)
                continue;           /* with the time that is left */
            return sp__fail_last(); /* WSAENOTSOCK -> SP_EBADF */
        }
        if (n == 0)
            return 0;
        if ((events & SP_EV_READ) && FD_ISSET((SOCKET)s, &rd))
            mask |= SP_EV_READ;
        if ((events & SP_EV_WRITE) && FD_ISSET((SOCKET)s, &wr))
            mask |= SP_EV_WRITE;
        if (FD_ISSET((SOCKET)s, &ex))
            mask |= SP_EV_ERROR;
        return mask;
    }
}

/* ---- options -------------------------------------------------------------------------------- */

int sp_set_nonblocking(sp_socket_t s, int on)
{
    u_long mode = on != 0;
    if (bad_socket(s))
        return fail_badf();
    if (ioctlsocket((SOCKET)s, FIONBIO, &mode) == SOCKET_ERROR)
        return sp__fail_last();
    return 0;
}

int sp_set_nodelay(sp_socket_t s, int on)
{
    return set_int_opt(s, IPPROTO_TCP, TCP_NODELAY, on != 0);
}

/* An option that this Windows does not know (TCP_KEEP* before 10 1709, under Wine). */
static int unknown_option(int rc)
{
    int err = sp_last_native_error();
    return rc != 0 && (err == WSAENOPROTOOPT || err == WSAEINVAL);
}

/*
 * Windows before 10 1709: idle time and interval in one SIO_KEEPALIVE_VALS call, in ms.
 * Both are always set, so a 0 ("keep the system's value") becomes Windows' default: 2 h
 * idle, 1 s interval. The probe count cannot be set (it is 10): SP_ENOPROTOOPT if asked.
 */
static int keepalive_vals(sp_socket_t s, int idle_s, int interval_s, int count)
{
    struct tcp_keepalive ka;
    DWORD bytes = 0;
    ka.onoff = 1;
    ka.keepalivetime = idle_s > 0 ? (u_long)idle_s * 1000u : 7200000u;
    ka.keepaliveinterval = interval_s > 0 ? (u_long)interval_s * 1000u : 1000u;
    if (WSAIoctl((SOCKET)s, SIO_KEEPALIVE_VALS, &ka, sizeof ka, NULL, 0, &bytes, NULL, NULL) ==
        SOCKET_ERROR)
        return sp__fail_last();
    return count > 0 ? sp__fail(WSAENOPROTOOPT) : 0;
}

int sp_set_keepalive(sp_socket_t s, int on, int idle_s, int interval_s, int count)
{
    int saved = sp_last_native_error(), rc;
    if (bad_socket(s))
        return fail_badf();
    /* Limits: seconds that fit SIO_KEEPALIVE_VALS' milliseconds; TCP_KEEPCNT <= 255. */
    if (idle_s < 0 || interval_s < 0 || count < 0 || idle_s > INT_MAX / 1000 ||
        interval_s > INT_MAX / 1000 || count > 255)
        return SP_EINVAL;
    rc = set_int_opt(s, SOL_SOCKET, SO_KEEPALIVE, on != 0);
    if (rc != 0 || on == 0)
        return rc;
    if (idle_s > 0)
        rc = set_dword_opt(s, IPPROTO_TCP, TCP_KEEPIDLE, (DWORD)idle_s);
    if (rc == 0 && interval_s > 0)
        rc = set_dword_opt(s, IPPROTO_TCP, TCP_KEEPINTVL, (DWORD)interval_s);
    if (rc == 0 && count > 0)
        rc = set_dword_opt(s, IPPROTO_TCP, TCP_KEEPCNT, (DWORD)count);
    if (unknown_option(rc)) {
        rc = keepalive_vals(s, idle_s, interval_s, count);
        if (rc == 0)
            restore_native(saved);
    }
    return rc;
}

int sp_get_keepalive(sp_socket_t s, int *on, int *idle_s, int *interval_s, int *count)
{
    static const int names[3] = {TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT};
    int *out[3];
    DWORD v[3] = {0, 0, 0}, ka = 0;
    int rc, i;
    out[0] = idle_s;
    out[1] = interval_s;
    out[2] = count;
    for (i = 0; i < 3; i++)
        if (out[i] != NULL)
            *out[i] = -1;
    rc = get_dword_opt(s, SOL_SOCKET, SO_KEEPALIVE, &ka);
    if (rc != 0)
        return rc;
    if (on != NULL)
        *on = ka != 0;
    for (i = 0; i < 3; i++) {
        if (out[i] == NULL) /* not asked: nothing to fail on */
            continue;
        rc = get_dword_opt(s, IPPROTO_TCP, names[i], &v[i]);
        if (rc != 0) /* the others stay -1 */
            return unknown_option(rc) ? SP_ENOPROTOOPT : rc;
    }
    for (i = 0; i < 3; i++)
        if (out[i] != NULL)
            *out[i] = v[i] > (DWORD)INT_MAX ? INT_MAX : (int)v[i];
    return 0;
}

/* SO_RCVTIMEO / SO_SNDTIMEO are a DWORD of milliseconds on Windows (0: none), not the
 * POSIX timeval: passing a timeval would read its seconds as milliseconds. */
static int set_timeout(sp_socket_t s, int name, int ms)
{
    if (ms < 0)
        return SP_EINVAL;
    return set_dword_opt(s, SOL_SOCKET, name, (DWORD)ms);
}

int sp_set_recv_timeout(sp_socket_t s, int ms)
{
    return set_timeout(s, SO_RCVTIMEO, ms);
}

int sp_set_send_timeout(sp_socket_t s, int ms)
{
    return set_timeout(s, SO_SNDTIMEO, ms);
}

int sp_get_recv_timeout(sp_socket_t s, int *ms)
{
    return get_int_out(s, SOL_SOCKET, SO_RCVTIMEO, ms);
}

int sp_get_send_timeout(sp_socket_t s, int *ms)
{
    return get_int_out(s, SOL_SOCKET, SO_SNDTIMEO, ms);
}

static int set_buffer(sp_socket_t s, int name, int bytes)
{
    if (bytes <= 0) /* 0 would turn Winsock's buffering off altogether */
        return SP_EINVAL;
    return set_int_opt(s, SOL_SOCKET, name, bytes);
}

int sp_set_send_buffer(sp_socket_t s, int bytes)
{
    return set_buffer(s, SO_SNDBUF, bytes);
}

int sp_set_recv_buffer(sp_socket_t s, int bytes)
{
    return set_buffer(s, SO_RCVBUF, bytes);
}

int sp_get_send_buffer(sp_socket_t s, int *bytes)
{
    return get_int_out(s, SOL_SOCKET, SO_SNDBUF, bytes);
}

int sp_get_recv_buffer(sp_socket_t s, int *bytes)
{
    return get_int_out(s, SOL_SOCKET, SO_RCVBUF, bytes);
}

int sp_set_linger(sp_socket_t s, int on, int seconds)
{
    struct linger lg;
    if (seconds < 0 || seconds > 65535) /* l_linger is a u_short */
        return SP_EINVAL;
    lg.l_onoff = (u_short)(on != 0);
    lg.l_linger = (u_short)seconds;
    return set_opt(s, SOL_SOCKET, SO_LINGER, &lg, (int)sizeof lg);
}

/*
 * POSIX clears SO_ERROR when it is read. Winsock keeps a failed connect's error there
 * (Wine too), so a second look would report it again: it is taken by setting SO_ERROR
 * back to 0, which Winsock accepts though it documents SO_ERROR as read-only.
 */
int sp_socket_error(sp_socket_t s)
{
    DWORD err = 0;
    int rc = get_dword_opt(s, SOL_SOCKET, SO_ERROR, &err);
    if (rc != 0)
        return rc;
    if (err == 0)
        return 0;
    {
        int zero = 0;
        setsockopt((SOCKET)s, SOL_SOCKET, SO_ERROR, (const char *)&zero, (int)sizeof zero);
    }
    return sp__fail((int)err);
}

static int name_of(sp_socket_t s, sp_addr *out, int peer)
{
    int len = (int)sizeof out->u.bytes, r;
    if (bad_socket(s))
        return fail_badf();
    if (out == NULL)
        return SP_EINVAL;
    memset(out, 0, sizeof *out);
    r = peer ? getpeername((SOCKET)s, SP__SA(out), &len)
             : getsockname((SOCKET)s, SP__SA(out), &len);
    if (r == SOCKET_ERROR)
        return sp__fail_last(); /* WSAENOTCONN -> SP_ENOTCONN */
    out->len = (uint32_t)len;
    return 0;
}

int sp_local_addr(sp_socket_t s, sp_addr *out)
{
    return name_of(s, out, 0);
}

int sp_peer_addr(sp_socket_t s, sp_addr *out)
{
    return name_of(s, out, 1);
}
