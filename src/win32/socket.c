/*
 * socket.c (Windows) - the socket verbs of backend.h on Winsock 2. The public calls and
 * their checks are in src/common/socket.c; the socketpair emulation is in socketpair.c.
 *
 * What differs from POSIX and is handled here: SOCKET handles and closesocket;
 * WSA_FLAG_NO_HANDLE_INHERIT instead of SOCK_CLOEXEC; FIONBIO; accepted sockets that
 * inherit the listener's FIONBIO mode; WSAEWOULDBLOCK for a started connect; a failed
 * non-blocking connect that select reports only in the except set; SO_EXCLUSIVEADDRUSE
 * instead of SO_REUSEADDR, with a plain bind when old connections hold the port; DWORD
 * millisecond timeouts; SIO_KEEPALIVE_VALS before Windows 10 1709; SIO_UDP_CONNRESET and
 * SIO_UDP_NETRESET. The OS decisions are the pure functions of sockplan.h.
 */
#include "internal.h"
#include "sockplan.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <mstcpip.h>
#include <windows.h>

#include <string.h>

/* Newer than some SDK headers: define what the running system may still accept. */
#ifndef WSA_FLAG_NO_HANDLE_INHERIT
#    define WSA_FLAG_NO_HANDLE_INHERIT 0x80 /* Windows 7 SP1 and later */
#endif
#ifndef SIO_UDP_CONNRESET
#    define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12)
#endif
#ifndef SIO_UDP_NETRESET
#    define SIO_UDP_NETRESET _WSAIOW(IOC_VENDOR, 15) /* not in older mingw-w64 headers */
#endif
/* The codes sockplan.h documents are the ones this SDK defines. */
_Static_assert(SIO_UDP_CONNRESET == SP__SIO_UDP_CONNRESET, "SIO_UDP_CONNRESET");
_Static_assert(SIO_UDP_NETRESET == SP__SIO_UDP_NETRESET, "SIO_UDP_NETRESET");
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

#define SP__SA(a)  ((struct sockaddr *)(void *)(a)->u.bytes)
#define SP__CSA(a) ((const struct sockaddr *)(const void *)(a)->u.bytes)
#define SP__IO_MAX ((size_t)INT_MAX) /* send/recv take an int length */

/* ---- helpers --------------------------------------------------------------------------- */

static int addr_family(const sp_addr *a)
{
    ADDRESS_FAMILY f;
    memcpy(&f, a->u.bytes, sizeof f);
    return f;
}

/*
 * The native error of a failed connect / bind, with a family mismatch named as such:
 * Winsock answers an address of another family than the socket's with WSAEOPNOTSUPP,
 * WSAEFAULT or WSAEADDRNOTAVAIL (Wine 8: the first and the last), POSIX with
 * EAFNOSUPPORT, which sp_connect() / sp_bind() document. Asked on the failure path only
 * (WSAPROTOCOL_INFOW::iAddressFamily, Microsoft "SOL_SOCKET socket options").
 */
static int mismatch_or(sp_socket_t s, const sp_addr *a, int err)
{
    WSAPROTOCOL_INFOW info;
    int len = (int)sizeof info;
    if (getsockopt((SOCKET)s, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &len) == 0 &&
        info.iAddressFamily != addr_family(a))
        return WSAEAFNOSUPPORT;
    return err;
}

static int set_opt(sp_socket_t s, int level, int name, const void *val, int len)
{
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
    if (getsockopt((SOCKET)s, level, name, (char *)&v, &len) == SOCKET_ERROR)
        return sp__fail_last();
    *val = v;
    return 0;
}

/* An int option read back: values over INT_MAX are clamped. */
static int get_int_out(sp_socket_t s, int level, int name, int *out)
{
    DWORD v = 0;
    int rc = get_dword_opt(s, level, name, &v);
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
 * Windows reports an ICMP reply to an earlier sendto on the next recvfrom of an
 * unconnected UDP socket: port unreachable as WSAECONNRESET, TTL expired or network
 * unreachable as WSAENETRESET. One unreachable peer (or one routing loop) would then
 * break a server's socket for everybody. SIO_UDP_CONNRESET and SIO_UDP_NETRESET = FALSE
 * turn both off (Microsoft, "Winsock IOCTLs"); a system that does not know
 * SIO_UDP_NETRESET keeps the socket (sp__udp_ioctl_fatal).
 */
static int udp_quiet_icmp(SOCKET s)
{
    static const DWORD codes[2] = {SIO_UDP_CONNRESET, SIO_UDP_NETRESET};
    int saved = sp_last_native_error(), i;
    for (i = 0; i < 2; i++) {
        BOOL off = FALSE;
        DWORD bytes = 0;
        if (WSAIoctl(s, codes[i], &off, sizeof off, NULL, 0, &bytes, NULL, NULL) == SOCKET_ERROR) {
            int err = WSAGetLastError();
            if (sp__udp_ioctl_fatal(codes[i], err))
                return sp__fail(err);
            (void)sp__fail(saved); /* tolerated: leave the last native error as it was */
        }
    }
    return 0;
}

int sp__socket_open(sp_socket_t *out, int family, int type)
{
    /* AF_UNIX: Windows 10 1803+; WSAEAFNOSUPPORT before and under Wine */
    int af = family == SP_AF_INET ? AF_INET : family == SP_AF_INET6 ? AF_INET6 : AF_UNIX;
    int st = type == SP_SOCK_STREAM ? SOCK_STREAM : SOCK_DGRAM, proto;
    SOCKET s;
    if (af == AF_UNIX)
        proto = 0;
    else
        proto = st == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
    s = open_raw(af, st, proto);
    if (s == INVALID_SOCKET)
        return sp__fail_last();
    if (proto == IPPROTO_UDP) {
        int rc = udp_quiet_icmp(s);
        if (rc != 0) {
            closesocket(s);
            return rc;
        }
    }
    *out = (sp_socket_t)s;
    return 0;
}

int sp__close(sp_socket_t s)
{
    if (closesocket((SOCKET)s) == 0)
        return 0;
    if (WSAGetLastError() == WSAEWOULDBLOCK) {
        /*
         * A non-blocking socket with SO_LINGER {1, n > 0} is not closed: closesocket
         * fails with WSAEWOULDBLOCK. The handle must not leak (the caller may not use it
         * again), so linger as POSIX does: make it blocking and close again.
         */
        u_long off = 0;
        ioctlsocket((SOCKET)s, (long)FIONBIO, &off);
        /* The first closesocket failed, so the handle is still open: not a double close. */
        /* cppcheck-suppress doubleFree */
        if (closesocket((SOCKET)s) == 0)
            return 0;
    }
    return sp__fail_last(); /* WSAENOTSOCK -> SP_EBADF */
}

/* ---- connect, bind, listen, accept -------------------------------------------------------- */

/* connect(); a non-blocking socket's WSAEWOULDBLOCK is the POSIX EINPROGRESS. */
int sp__connect(sp_socket_t s, const sp_addr *to)
{
    int err;
    if (connect((SOCKET)s, SP__CSA(to), (int)to->len) == 0)
        return 0;
    err = WSAGetLastError();
    if (err == WSAEWOULDBLOCK) {
        (void)sp__fail(err);
        return SP_EINPROGRESS;
    }
    return sp__fail(mismatch_or(s, to, err));
}

/*
 * The options of sp__bind_plan (sockplan.h). SO_EXCLUSIVEADDRUSE: no other socket binds
 * this address while it is held. Never SO_REUSEADDR for a plain bind: on Windows it lets
 * any other socket take over the port (and set together with SO_EXCLUSIVEADDRUSE, bind
 * fails with WSAEINVAL); only SP_BIND_SHARED asks for it. An exclusive bind may be refused
 * while a previous run's connections on the port are still open or in TIME_WAIT
 * (Microsoft, "Using SO_REUSEADDR and SO_EXCLUSIVEADDRUSE"): a stream socket then binds
 * once more with neither option, which those connections do not block and which still
 * refuses every other socket on the same address (Windows' "enhanced socket security";
 * libuv binds this way always).
 */
int sp__bind(sp_socket_t s, const sp_addr *local, unsigned flags)
{
    int af = addr_family(local), type = 0, rc = 0, err;
    unsigned plan;
    rc = get_int_out(s, SOL_SOCKET, SO_TYPE, &type);
    if (rc != 0)
        return rc;
    plan =
        sp__bind_plan(SP__OS_WINDOWS, af == AF_INET || af == AF_INET6, type == SOCK_STREAM, flags);
    if (plan & SP__BIND_INVALID)
        return SP_EINVAL;
    if (plan & SP__BIND_EXCLUSIVE)
        rc = set_int_opt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1);
    if (rc == 0 && (plan & SP__BIND_REUSEADDR))
        rc = set_int_opt(s, SOL_SOCKET, SO_REUSEADDR, 1);
    if (rc == 0 && af == AF_INET6 &&
        set_int_opt(s, IPPROTO_IPV6, IPV6_V6ONLY, (flags & SP_BIND_DUALSTACK) != 0 ? 0 : 1) != 0)
        return sp__fail(mismatch_or(s, local, WSAGetLastError()));
    if (rc != 0)
        return rc;
    if (bind((SOCKET)s, SP__CSA(local), (int)local->len) == 0)
        return 0;
    err = WSAGetLastError();
    if (err == WSAEADDRINUSE && (plan & SP__BIND_RETRY_PLAIN) &&
        set_int_opt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 0) == 0 &&
        bind((SOCKET)s, SP__CSA(local), (int)local->len) == 0) {
        (void)sp__fail(err); /* as the first try left it */
        return 0;
    }
    return sp__fail(mismatch_or(s, local, err)); /* the exclusive bind's error */
}

int sp__listen(sp_socket_t s, int backlog)
{
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

int sp__accept(sp_socket_t listener, sp_socket_t *out, sp_addr *peer, int nonblock)
{
    sp_addr from;
    SOCKET c;
    u_long nb = (u_long)nonblock;
    int rc = 0;
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
    if (ioctlsocket(c, (long)FIONBIO, &nb) == SOCKET_ERROR)
        rc = sp__fail_last();
    if (rc == 0)
        rc = no_inherit((sp_socket_t)c);
    if (rc != 0) {
        closesocket(c);
        return rc;
    }
    *peer = from;
    *out = (sp_socket_t)c;
    return 0;
}

int sp__shutdown(sp_socket_t s, int how)
{
    static const int hows[3] = {SD_RECEIVE, SD_SEND, SD_BOTH}; /* SP_SHUT_RD, _WR, _RDWR */
    if (shutdown((SOCKET)s, hows[how]) == SOCKET_ERROR)
        return sp__fail_last();
    return 0;
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

ptrdiff_t sp__send(sp_socket_t s, const void *buf, size_t len)
{
    return send_retry((SOCKET)s, (const char *)buf, (int)(len > SP__IO_MAX ? SP__IO_MAX : len));
}

/*
 * Winsock has no MSG_DONTWAIT (a per-call "don't block"): the ordinary call is made. The
 * shared loops wait for readiness before each call that has a deadline, so a receive
 * does not block; a send on a blocking socket may (documented at sp_send_all).
 */
ptrdiff_t sp__recv_dontwait(sp_socket_t s, void *buf, size_t len, int dontwait)
{
    (void)dontwait;
    return recv_retry((SOCKET)s, (char *)buf, (int)(len > SP__IO_MAX ? SP__IO_MAX : len));
}

/* WSASend / WSARecv over the caller's array, which has WSABUF's layout. No overlapped:
 * a blocking call blocks, a non-blocking one fails with WSAEWOULDBLOCK. */
/* At most 1024 buffers per call, as POSIX's IOV_MAX on Linux: WSASend / WSARecv document
 * no limit, and Wine passes the array to sendmsg / recvmsg, which refuse more than 1024
 * with EMSGSIZE. The count returned says how far the call got. */
#define SP__WIN_IOV_MAX 1024

ptrdiff_t sp__sendv_dontwait(sp_socket_t s, const sp_iovec *iov, int n, int dontwait)
{
    DWORD sent = 0;
    (void)dontwait; /* see sp__recv_dontwait */
    if (n > SP__WIN_IOV_MAX)
        n = SP__WIN_IOV_MAX;
    for (;;) {
        if (WSASend((SOCKET)s, (WSABUF *)(uintptr_t)iov, (DWORD)n, &sent, 0, NULL, NULL) == 0)
            return (ptrdiff_t)sent;
        if (WSAGetLastError() != WSAEINTR)
            return sp__fail_last();
    }
}

ptrdiff_t sp__recvv(sp_socket_t s, sp_iovec *iov, int n)
{
    DWORD got = 0;
    if (n > SP__WIN_IOV_MAX)
        n = SP__WIN_IOV_MAX;
    for (;;) {
        DWORD flags = 0; /* in/out */
        if (WSARecv((SOCKET)s, (WSABUF *)iov, (DWORD)n, &got, &flags, NULL, NULL) == 0)
            return (ptrdiff_t)got;
        if (WSAGetLastError() != WSAEINTR)
            return sp__fail_last();
    }
}

ptrdiff_t sp__sendto(sp_socket_t s, const void *buf, size_t len, const sp_addr *to)
{
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
ptrdiff_t sp__recvfrom(sp_socket_t s, void *buf, size_t len, sp_addr *from)
{
    sp_addr *a = from;
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
int sp__wait(sp_socket_t s, int events, int timeout_ms)
{
    sp__deadline deadline = sp__deadline_in(timeout_ms);
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

int sp__set_nonblocking(sp_socket_t s, int on)
{
    u_long mode = (u_long)on;
    if (ioctlsocket((SOCKET)s, (long)FIONBIO, &mode) == SOCKET_ERROR)
        return sp__fail_last();
    return 0;
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
static int keepalive_vals(sp_socket_t s, int idle_s, int interval_s)
{
    struct tcp_keepalive ka;
    DWORD bytes = 0;
    ka.onoff = 1;
    ka.keepalivetime = idle_s > 0 ? (u_long)idle_s * 1000u : 7200000u;
    ka.keepaliveinterval = interval_s > 0 ? (u_long)interval_s * 1000u : 1000u;
    if (WSAIoctl((SOCKET)s, SIO_KEEPALIVE_VALS, &ka, sizeof ka, NULL, 0, &bytes, NULL, NULL) ==
        SOCKET_ERROR)
        return sp__fail_last();
    return 0;
}

/*
 * The common code's limits (backend.h) keep idle and interval within SIO_KEEPALIVE_VALS'
 * milliseconds and the count within what TCP_KEEPCNT takes. Before Windows 10 1709 (and
 * under Wine) the count cannot be set: keepalive is on with the system's count (10), and
 * the result is SP_KEEPALIVE_PARTIAL, not a failure (sp__keepalive_result).
 */
int sp__set_keepalive(sp_socket_t s, int on, int idle_s, int interval_s, int count)
{
    unsigned asked = (idle_s > 0 ? SP__KA_IDLE : 0u) | (interval_s > 0 ? SP__KA_INTVL : 0u) |
                     (count > 0 ? SP__KA_CNT : 0u),
             applied = 0;
    int saved = sp_last_native_error();
    int rc = set_int_opt(s, SOL_SOCKET, SO_KEEPALIVE, on);
    if (rc != 0 || on == 0)
        return rc;
    if (idle_s > 0 && (rc = set_dword_opt(s, IPPROTO_TCP, TCP_KEEPIDLE, (DWORD)idle_s)) == 0)
        applied |= SP__KA_IDLE;
    if (rc == 0 && interval_s > 0 &&
        (rc = set_dword_opt(s, IPPROTO_TCP, TCP_KEEPINTVL, (DWORD)interval_s)) == 0)
        applied |= SP__KA_INTVL;
    if (rc == 0 && count > 0 &&
        (rc = set_dword_opt(s, IPPROTO_TCP, TCP_KEEPCNT, (DWORD)count)) == 0)
        applied |= SP__KA_CNT;
    if (unknown_option(rc)) {
        /* no TCP_KEEP* here: idle and interval together, in ms; the count stays 10 */
        rc =
            (asked & (SP__KA_IDLE | SP__KA_INTVL)) != 0 ? keepalive_vals(s, idle_s, interval_s) : 0;
        if (rc == 0) {
            restore_native(saved);
            applied = asked & (SP__KA_IDLE | SP__KA_INTVL);
        }
    }
    return rc != 0 ? rc : sp__keepalive_result(asked, applied);
}

/* The values not asked for, or not readable, stay as the caller set them (-1). */
int sp__get_keepalive(sp_socket_t s, int *on, int *idle_s, int *interval_s, int *count)
{
    static const int names[3] = {TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT};
    int *out[3];
    DWORD v[3] = {0, 0, 0}, ka = 0;
    int rc, i;
    out[0] = idle_s;
    out[1] = interval_s;
    out[2] = count;
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

/* Level and name of each sp__opt, in its order. SO_RCVTIMEO / SO_SNDTIMEO are a DWORD of
 * milliseconds on Windows (0: none), not the POSIX timeval: passing a timeval would read
 * its seconds as milliseconds. */
static const int opt_names[][2] = SP__OPT_LEVEL_NAME;

int sp__setopt(sp_socket_t s, enum sp__opt opt, int value)
{
    return set_dword_opt(s, opt_names[opt][0], opt_names[opt][1], (DWORD)value);
}

int sp__getopt(sp_socket_t s, enum sp__opt opt, int *value)
{
    return get_int_out(s, opt_names[opt][0], opt_names[opt][1], value);
}

int sp__set_linger(sp_socket_t s, int on, int seconds)
{
    struct linger lg;
    lg.l_onoff = (u_short)on;
    lg.l_linger = (u_short)seconds; /* the common code keeps it within a u_short */
    return set_opt(s, SOL_SOCKET, SO_LINGER, &lg, (int)sizeof lg);
}

/*
 * POSIX clears SO_ERROR when it is read. Winsock keeps a failed connect's error there
 * (Wine too), so a second look would report it again: it is taken by setting SO_ERROR
 * back to 0, which Winsock accepts though it documents SO_ERROR as read-only.
 */
int sp__socket_error(sp_socket_t s)
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

int sp__sockname(sp_socket_t s, sp_addr *out, int peer)
{
    int len = (int)sizeof out->u.bytes;
    int r = peer ? getpeername((SOCKET)s, SP__SA(out), &len)
                 : getsockname((SOCKET)s, SP__SA(out), &len);
    if (r == SOCKET_ERROR)
        return sp__fail_last(); /* WSAENOTCONN -> SP_ENOTCONN */
    out->len = (uint32_t)len;
    return 0;
}
