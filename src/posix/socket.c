/* socket.c (POSIX) - the socket verbs of backend.h over Berkeley sockets (Linux, macOS,
 * BSD). The public calls and their checks are in src/common/socket.c. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

/* SIGPIPE: Linux and most systems take MSG_NOSIGNAL per call; macOS only SO_NOSIGPIPE
 * per socket. sockport never touches the process's signal disposition. */
#if defined(MSG_NOSIGNAL)
#    define SP__SEND_FLAGS MSG_NOSIGNAL
#elif defined(SO_NOSIGPIPE)
#    define SP__SEND_FLAGS 0
#else
#    error "sockport needs MSG_NOSIGNAL or SO_NOSIGPIPE to keep SIGPIPE away"
#endif

#ifndef MSG_DONTWAIT
#    error "sockport needs MSG_DONTWAIT for deadlines on blocking sockets"
#endif

/* sp_iovec is passed to sendmsg/recvmsg as struct iovec: same layout. */
_Static_assert(sizeof(sp_iovec) == sizeof(struct iovec), "sp_iovec is an iovec");
_Static_assert(offsetof(sp_iovec, base) == offsetof(struct iovec, iov_base), "iov_base");
_Static_assert(offsetof(sp_iovec, len) == offsetof(struct iovec, iov_len), "iov_len");

#define SA(a)    ((struct sockaddr *)(void *)(a)->u.bytes)
#define SA_C(a)  ((const struct sockaddr *)(const void *)(a)->u.bytes)
#define ADDR_CAP ((socklen_t)sizeof(((sp_addr *)0)->u.bytes))

static int set_int_opt(sp_socket_t s, int level, int name, int value)
{
    if (setsockopt(s, level, name, &value, sizeof value) != 0)
        return sp__fail_last();
    return 0;
}

static int get_int_opt(sp_socket_t s, int level, int name, int *value)
{
    socklen_t len = sizeof *value;
    *value = 0;
    if (getsockopt(s, level, name, value, &len) != 0)
        return sp__fail_last();
    return 0;
}

/* Make a new descriptor close-on-exec and SIGPIPE-free where the creating call could not. */
static int prepare_fd(sp_socket_t s, int cloexec_done)
{
    if (!cloexec_done && fcntl(s, F_SETFD, FD_CLOEXEC) != 0)
        return sp__fail_last();
#ifdef SO_NOSIGPIPE
    if (set_int_opt(s, SOL_SOCKET, SO_NOSIGPIPE, 1) != 0)
        return sp__fail_last();
#endif
    return 0;
}

int sp__socket_open(sp_socket_t *out, int family, int type)
{
    int af = family == SP_AF_INET ? AF_INET : family == SP_AF_INET6 ? AF_INET6 : AF_UNIX;
    int st = type == SP_SOCK_STREAM ? SOCK_STREAM : SOCK_DGRAM, cloexec = 0, rc;
    sp_socket_t s;
#ifdef SOCK_CLOEXEC
    s = socket(af, st | SOCK_CLOEXEC, 0);
    cloexec = 1;
#else
    s = socket(af, st, 0);
#endif
    if (s < 0)
        return sp__fail_last();
    rc = prepare_fd(s, cloexec);
    if (rc != 0) {
        close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int sp__close(sp_socket_t s)
{
    /* POSIX leaves the descriptor state after EINTR unspecified; Linux, macOS and the
     * BSDs have released it, so EINTR is not retried (a retry could close another's fd). */
    if (close(s) != 0 && errno != EINTR)
        return sp__fail_last();
    return 0;
}

int sp__set_nonblocking(sp_socket_t s, int on)
{
    int v = on;
    if (ioctl(s, FIONBIO, &v) != 0)
        return sp__fail_last();
    return 0;
}

/* EINTR: the connect goes on in the background (it is never restarted). */
int sp__connect(sp_socket_t s, const sp_addr *to)
{
    if (connect(s, SA_C(to), (socklen_t)to->len) == 0)
        return 0;
    return sp__fail_last(); /* EINPROGRESS -> SP_EINPROGRESS, EINTR -> SP_EINTR */
}

int sp__bind(sp_socket_t s, const sp_addr *local, unsigned flags)
{
    int family, rc;
    family = sp_addr_family(local);
    if (family == SP_AF_INET6) {
        rc = set_int_opt(s, IPPROTO_IPV6, IPV6_V6ONLY, (flags & SP_BIND_DUALSTACK) ? 0 : 1);
        if (rc != 0)
            return rc;
    }
    if ((family == SP_AF_INET || family == SP_AF_INET6) && !(flags & SP_BIND_NOREUSE)) {
        /* POSIX SO_REUSEADDR only lets a new socket bind past TIME_WAIT; it never lets two
         * listeners share a port (that is SO_REUSEPORT). */
        rc = set_int_opt(s, SOL_SOCKET, SO_REUSEADDR, 1);
        if (rc != 0)
            return rc;
    }
    if (bind(s, SA_C(local), (socklen_t)local->len) != 0)
        return sp__fail_last();
    return 0;
}

int sp__listen(sp_socket_t s, int backlog)
{
    if (listen(s, backlog <= 0 ? SOMAXCONN : backlog) != 0)
        return sp__fail_last();
    return 0;
}

int sp__accept(sp_socket_t listener, sp_socket_t *out, sp_addr *peer, int nonblock)
{
    sp_addr *a = peer;
    socklen_t len = ADDR_CAP;
    sp_socket_t s;
    int rc;
    memset(a, 0, sizeof *a);
#ifdef SP_HAVE_ACCEPT4
    /* accept4 sets both flags atomically; the new socket does not inherit O_NONBLOCK. */
    do
        s = accept4(listener, SA(a), &len, SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0));
    while (s < 0 && errno == EINTR);
    if (s < 0)
        return sp__fail_last();
    rc = prepare_fd(s, 1);
#else
    /* macOS: accepted sockets inherit the listener's O_NONBLOCK; set the mode asked. */
    do
        s = accept(listener, SA(a), &len);
    while (s < 0 && errno == EINTR);
    if (s < 0)
        return sp__fail_last();
    rc = prepare_fd(s, 0);
    if (rc == 0)
        rc = sp__set_nonblocking(s, nonblock);
#endif
    if (rc != 0) {
        close(s);
        return rc;
    }
    a->len = (uint32_t)len;
    *out = s;
    return 0;
}

int sp__socketpair(sp_socket_t pair[2])
{
    int fds[2], rc, cloexec = 0;
#ifdef SOCK_CLOEXEC
    rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
    cloexec = 1;
#else
    rc = socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
#endif
    if (rc != 0)
        return sp__fail_last();
    rc = prepare_fd(fds[0], cloexec);
    if (rc == 0)
        rc = prepare_fd(fds[1], cloexec);
    if (rc != 0) {
        close(fds[0]);
        close(fds[1]);
        return rc;
    }
    pair[0] = fds[0];
    pair[1] = fds[1];
    return 0;
}

int sp__shutdown(sp_socket_t s, int how)
{
    static const int hows[3] = {SHUT_RD, SHUT_WR, SHUT_RDWR}; /* SP_SHUT_RD, _WR, _RDWR */
    if (shutdown(s, hows[how]) != 0)
        return sp__fail_last();
    return 0;
}

/* ---- data ---------------------------------------------------------------------------- */

/*
 * A failed transfer on a socket: EAGAIN on a socket in blocking mode can only be an
 * expired SO_RCVTIMEO/SO_SNDTIMEO, which every other OS calls a timeout.
 */
static ptrdiff_t transfer_error(sp_socket_t s, int dontwait)
{
    int err = errno;
    if ((err == EAGAIN || err == EWOULDBLOCK) && !dontwait) {
        int fl = fcntl(s, F_GETFL);
        if (fl >= 0 && !(fl & O_NONBLOCK)) {
            sp__fail(err);
            return SP_ETIMEDOUT;
        }
    }
    return sp__fail(err);
}

/* sp_send and sp_recv are the hot path: one system call, one test on success. */
ptrdiff_t sp__send(sp_socket_t s, const void *buf, size_t len)
{
    ssize_t n;
    do
        n = send(s, buf, len, SP__SEND_FLAGS);
    while (n < 0 && errno == EINTR);
    return n >= 0 ? n : transfer_error(s, 0);
}

static int clamp_iov(int n)
{
#ifdef IOV_MAX
    return n > IOV_MAX ? IOV_MAX : n;
#else
    return n > 1024 ? 1024 : n;
#endif
}

ptrdiff_t sp__sendv_dontwait(sp_socket_t s, const sp_iovec *iov, int n, int dontwait)
{
    struct msghdr msg;
    ssize_t r;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = (struct iovec *)(uintptr_t)iov;
    msg.msg_iovlen = clamp_iov(n);
    do
        r = sendmsg(s, &msg, SP__SEND_FLAGS | (dontwait ? MSG_DONTWAIT : 0));
    while (r < 0 && errno == EINTR);
    return r >= 0 ? r : transfer_error(s, dontwait);
}

ptrdiff_t sp__recv_dontwait(sp_socket_t s, void *buf, size_t len, int dontwait)
{
    ssize_t r;
    do
        r = recv(s, buf, len, dontwait ? MSG_DONTWAIT : 0);
    while (r < 0 && errno == EINTR);
    return r >= 0 ? r : transfer_error(s, dontwait);
}

ptrdiff_t sp__recvv(sp_socket_t s, sp_iovec *iov, int n)
{
    struct msghdr msg;
    ssize_t r;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = (struct iovec *)(void *)iov;
    msg.msg_iovlen = clamp_iov(n);
    do
        r = recvmsg(s, &msg, 0);
    while (r < 0 && errno == EINTR);
    return r >= 0 ? r : transfer_error(s, 0);
}

ptrdiff_t sp__sendto(sp_socket_t s, const void *buf, size_t len, const sp_addr *to)
{
    ssize_t r;
    do
        r = sendto(s, buf, len, SP__SEND_FLAGS, SA_C(to), (socklen_t)to->len);
    while (r < 0 && errno == EINTR);
    return r >= 0 ? r : transfer_error(s, 0);
}

ptrdiff_t sp__recvfrom(sp_socket_t s, void *buf, size_t len, sp_addr *from)
{
    sp_addr *a = from;
    struct iovec v;
    struct msghdr msg;
    ssize_t r;
    memset(a, 0, sizeof *a);
    memset(&msg, 0, sizeof msg);
    v.iov_base = buf;
    v.iov_len = len;
    msg.msg_name = a->u.bytes;
    msg.msg_namelen = ADDR_CAP;
    msg.msg_iov = &v;
    msg.msg_iovlen = 1;
    do
        r = recvmsg(s, &msg, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return transfer_error(s, 0);
    a->len = (uint32_t)msg.msg_namelen;
    /* A datagram longer than the buffer: POSIX truncates silently, Windows fails with
     * WSAEMSGSIZE. Both lose the tail; sockport reports it the same way on both. */
    if (msg.msg_flags & MSG_TRUNC)
        return sp__fail(EMSGSIZE);
    return r;
}

int sp__wait(sp_socket_t s, int events, int timeout_ms)
{
    sp__deadline deadline = sp__deadline_in(timeout_ms);
    struct pollfd p;
    int r, ready = 0;
    if (s < 0) /* poll() would skip a negative descriptor and sleep the whole timeout */
        return sp__fail(EBADF);
    p.fd = s;
    p.events =
        (short)(((events & SP_EV_READ) ? POLLIN : 0) | ((events & SP_EV_WRITE) ? POLLOUT : 0));
    p.revents = 0;
    for (;;) {
        r = poll(&p, 1, timeout_ms < 0 ? -1 : sp__deadline_left(deadline));
        if (r >= 0 || errno != EINTR)
            break;
    }
    if (r < 0)
        return sp__fail_last();
    if (r == 0)
        return 0;
    if (p.revents & POLLNVAL)
        return sp__fail(EBADF);
    if (p.revents & POLLIN)
        ready |= SP_EV_READ;
    if (p.revents & POLLOUT)
        ready |= SP_EV_WRITE;
    if (p.revents & POLLERR)
        ready |= SP_EV_ERROR;
    if (p.revents & POLLHUP)
        ready |= SP_EV_HUP;
    return ready;
}

/* ---- options ------------------------------------------------------------------------- */

#if defined(TCP_KEEPIDLE)
#    define SP__KEEPIDLE TCP_KEEPIDLE
#elif defined(TCP_KEEPALIVE) /* macOS names the idle time TCP_KEEPALIVE */
#    define SP__KEEPIDLE TCP_KEEPALIVE
#endif

int sp__set_keepalive(sp_socket_t s, int on, int idle_s, int interval_s, int count)
{
    int rc = set_int_opt(s, SOL_SOCKET, SO_KEEPALIVE, on);
    if (rc != 0 || !on)
        return rc;
#ifdef SP__KEEPIDLE
    if (idle_s > 0 && (rc = set_int_opt(s, IPPROTO_TCP, SP__KEEPIDLE, idle_s)) != 0)
        return rc;
#endif
#ifdef TCP_KEEPINTVL
    if (interval_s > 0 && (rc = set_int_opt(s, IPPROTO_TCP, TCP_KEEPINTVL, interval_s)) != 0)
        return rc;
#endif
#ifdef TCP_KEEPCNT
    if (count > 0 && (rc = set_int_opt(s, IPPROTO_TCP, TCP_KEEPCNT, count)) != 0)
        return rc;
#endif
    return 0;
}

/* A value the system cannot report stays -1 (set by the caller). */
int sp__get_keepalive(sp_socket_t s, int *on, int *idle_s, int *interval_s, int *count)
{
    int v, rc = get_int_opt(s, SOL_SOCKET, SO_KEEPALIVE, &v);
    if (rc != 0)
        return rc;
    if (on)
        *on = v != 0;
#ifdef SP__KEEPIDLE
    if (idle_s && (rc = get_int_opt(s, IPPROTO_TCP, SP__KEEPIDLE, idle_s)) != 0)
        return rc;
#else
    (void)idle_s;
#endif
#ifdef TCP_KEEPINTVL
    if (interval_s && (rc = get_int_opt(s, IPPROTO_TCP, TCP_KEEPINTVL, interval_s)) != 0)
        return rc;
#else
    (void)interval_s;
#endif
#ifdef TCP_KEEPCNT
    if (count && (rc = get_int_opt(s, IPPROTO_TCP, TCP_KEEPCNT, count)) != 0)
        return rc;
#else
    (void)count;
#endif
    return 0;
}

/* SO_RCVTIMEO / SO_SNDTIMEO take a timeval on POSIX. */
static int set_timeout(sp_socket_t s, int name, int ms)
{
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    if (setsockopt(s, SOL_SOCKET, name, &tv, sizeof tv) != 0)
        return sp__fail_last();
    return 0;
}

static int get_timeout(sp_socket_t s, int name, int *ms)
{
    struct timeval tv;
    socklen_t len = sizeof tv;
    if (getsockopt(s, SOL_SOCKET, name, &tv, &len) != 0)
        return sp__fail_last();
    /* Linux rounds up to its clock tick: 300 ms may read back as 300.xxx ms. */
    *ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
    return 0;
}

/* Level and name of each sp__opt, in its order. */
static const int opt_names[][2] = SP__OPT_LEVEL_NAME;

int sp__setopt(sp_socket_t s, enum sp__opt opt, int value)
{
    const int *o = opt_names[opt];
    if (opt == SP__OPT_SNDTIMEO || opt == SP__OPT_RCVTIMEO)
        return set_timeout(s, o[1], value);
    return set_int_opt(s, o[0], o[1], value);
}

int sp__getopt(sp_socket_t s, enum sp__opt opt, int *value)
{
    const int *o = opt_names[opt];
    if (opt == SP__OPT_SNDTIMEO || opt == SP__OPT_RCVTIMEO)
        return get_timeout(s, o[1], value);
    return get_int_opt(s, o[0], o[1], value);
}

int sp__set_linger(sp_socket_t s, int on, int seconds)
{
    struct linger l;
    l.l_onoff = on;
    l.l_linger = seconds;
    if (setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0)
        return sp__fail_last();
    return 0;
}

/* POSIX clears SO_ERROR as it is read. */
int sp__socket_error(sp_socket_t s)
{
    int err, rc = get_int_opt(s, SOL_SOCKET, SO_ERROR, &err);
    if (rc != 0)
        return rc;
    return err == 0 ? 0 : sp__fail(err);
}

int sp__sockname(sp_socket_t s, sp_addr *out, int peer)
{
    socklen_t len = ADDR_CAP;
    int r = peer ? getpeername(s, SA(out), &len) : getsockname(s, SA(out), &len);
    if (r != 0)
        return sp__fail_last();
    out->len = (uint32_t)len;
    return 0;
}
