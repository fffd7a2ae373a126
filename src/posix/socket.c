/* socket.c (POSIX) - the socket verbs of backend.h over Berkeley sockets (Linux, macOS,
 * BSD). The public calls and their checks are in src/common/socket.c. */
#include "internal.h"
#include "poller.h"
#include "sockplan.h"

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

/* Whose bind rules apply (sockplan.h): the BSD kernels' in_pcbbind, or Linux's. */
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) ||   \
    defined(__DragonFly__)
#    define SP__BIND_OS SP__OS_BSD
#else
#    define SP__BIND_OS SP__OS_LINUX
#endif

/* The options sp__bind_plan asks for; 0 or the error of the first that fails. */
static int bind_options(sp_socket_t s, unsigned plan)
{
    int rc = 0;
    if (plan & SP__BIND_REUSEADDR)
        rc = set_int_opt(s, SOL_SOCKET, SO_REUSEADDR, 1);
#ifdef SO_REUSEPORT
    if (rc == 0 && (plan & SP__BIND_REUSEPORT))
        rc = set_int_opt(s, SOL_SOCKET, SO_REUSEPORT, 1);
#endif
    return rc;
}

int sp__bind(sp_socket_t s, const sp_addr *local, unsigned flags)
{
    int family = sp_addr_family(local), type = 0, rc;
    unsigned plan;
    rc = get_int_opt(s, SOL_SOCKET, SO_TYPE, &type);
    if (rc != 0)
        return rc;
    plan = sp__bind_plan(SP__BIND_OS, family == SP_AF_INET || family == SP_AF_INET6,
                         type == SOCK_STREAM, flags);
    if (plan & SP__BIND_INVALID)
        return SP_EINVAL;
    if (family == SP_AF_INET6) {
        /* Every IPv6 socket takes IPV6_V6ONLY (the handle is valid: SO_TYPE answered), so a
         * refusal (Linux: ENOPROTOOPT on an IPv4 socket) means the address does not match
         * the socket, which sp_bind() reports as SP_EAFNOSUPPORT. */
        rc = set_int_opt(s, IPPROTO_IPV6, IPV6_V6ONLY, (flags & SP_BIND_DUALSTACK) ? 0 : 1);
        if (rc != 0)
            return sp__fail(EAFNOSUPPORT);
    }
    rc = bind_options(s, plan);
    if (rc != 0)
        return rc;
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

static int get_timeout(sp_socket_t s, int name, int *ms);

/*
 * EINTR under a receive or send timeout. A blocking call interrupted by a signal and
 * simply called again waits the whole SO_RCVTIMEO / SO_SNDTIMEO again (Linux reads
 * sk_rcvtimeo afresh in every call, XNU's sbwait sb_timeo), so under frequent signals the
 * timeout never fires. Only on EINTR, then, the timeout is read; without one the call is
 * made again as it was; with one it counts from the first interruption, the socket is
 * waited for with poll() for the time left, and the call is made with MSG_DONTWAIT. The
 * call ends between the timeout and the timeout plus the time before the first signal.
 */
enum io_kind { IO_SEND, IO_SENDMSG, IO_RECV, IO_RECVMSG, IO_SENDTO };

struct io {
    enum io_kind kind;
    sp_socket_t s;
    void *buf;
    size_t len;
    struct msghdr *msg;
    const sp_addr *to;
    int flags; /* the call's own flags (MSG_DONTWAIT when the caller asked it) */
};

static ssize_t io_once(const struct io *io, int more_flags)
{
    int fl = io->flags | more_flags;
    switch (io->kind) {
    case IO_SEND:
        return send(io->s, io->buf, io->len, fl);
    case IO_SENDMSG:
        return sendmsg(io->s, io->msg, fl);
    case IO_RECV:
        return recv(io->s, io->buf, io->len, fl);
    case IO_RECVMSG:
        return recvmsg(io->s, io->msg, fl);
    default:
        return sendto(io->s, io->buf, io->len, fl, SA_C(io->to), (socklen_t)io->to->len);
    }
}

/*
 * After EINTR: 0 when the socket has no timeout of that kind (call again as before), 1
 * when it is ready within the time left (call again without blocking), SP_ETIMEDOUT, or
 * the error of poll. *deadline is 0 until the timeout has been read.
 */
static int eintr_wait(sp_socket_t s, int sending, sp__deadline *deadline)
{
    struct pollfd p;
    int ms = 0, r;
    if (*deadline == 0) {
        if (get_timeout(s, sending ? SO_SNDTIMEO : SO_RCVTIMEO, &ms) != 0 || ms <= 0)
            return 0; /* no timeout (or a dead socket: the call again reports it) */
        *deadline = sp__deadline_in(ms);
    }
    p.fd = s;
    p.events = (short)(sending ? POLLOUT : POLLIN);
    for (;;) {
        p.revents = 0;
        r = poll(&p, 1, sp__deadline_left(*deadline));
        if (r > 0)
            return 1;
        if (r == 0) {
            (void)sp__fail(EAGAIN); /* what POSIX reports for an expired SO_RCVTIMEO */
            return SP_ETIMEDOUT;
        }
        if (errno != EINTR)
            return sp__fail_last();
    }
}

/* The rest of a call whose first try failed: EINTR retried as above, errors mapped. */
static ptrdiff_t io_slow(const struct io *io)
{
    sp__deadline deadline = 0;
    int sending = io->kind == IO_SEND || io->kind == IO_SENDMSG || io->kind == IO_SENDTO;
    int more = 0;
    ssize_t r;
    while (errno == EINTR || (more && (errno == EAGAIN || errno == EWOULDBLOCK))) {
        int w = eintr_wait(io->s, sending, &deadline);
        if (w < 0)
            return w;
        more = w == 1 ? MSG_DONTWAIT : 0;
        r = io_once(io, more);
        if (r >= 0)
            return r;
    }
    return transfer_error(io->s, (io->flags & MSG_DONTWAIT) != 0);
}

/* io_slow for a call on a buffer (send, recv, sendto). */
static ptrdiff_t buf_slow(sp_socket_t s, enum io_kind kind, const void *buf, size_t len,
                          const sp_addr *to, int flags)
{
    struct io io;
    memset(&io, 0, sizeof io);
    io.kind = kind;
    io.s = s;
    io.buf = (void *)(uintptr_t)buf;
    io.len = len;
    io.to = to;
    io.flags = flags;
    return io_slow(&io);
}

/* io_slow for a msghdr call (sendmsg, recvmsg). */
static ptrdiff_t msg_slow(sp_socket_t s, enum io_kind kind, struct msghdr *msg, int flags)
{
    struct io io;
    memset(&io, 0, sizeof io);
    io.kind = kind;
    io.s = s;
    io.msg = msg;
    io.flags = flags;
    return io_slow(&io);
}

/* sp_send and sp_recv are the hot path: one system call, one test on success. */
ptrdiff_t sp__send(sp_socket_t s, const void *buf, size_t len)
{
    ssize_t n = send(s, buf, len, SP__SEND_FLAGS);
    return n >= 0 ? n : buf_slow(s, IO_SEND, buf, len, NULL, SP__SEND_FLAGS);
}

static int clamp_iov(int n)
{
#ifdef IOV_MAX
    return n > IOV_MAX ? IOV_MAX : n;
#else
    return n > 1024 ? 1024 : n;
#endif
}

/* One part goes by send(): sendmsg() would first read a msghdr and an iovec array from
 * user memory (Linux: copy_msghdr_from_user, import_iovec), which send() does not. Two
 * parts this short (a framed reply: its prefix and a small payload) are copied into one
 * buffer and sent with send() too: the copy costs user space 57 instructions (callgrind),
 * and saves the kernel more (echo benchmark, event model, pingpong 100 x 64 B, paired
 * with the build without it: 8 % more round trips per second, 8 % less CPU per round trip
 * in 15 of 16 repetitions; docs/benchmarks.md, issue 14 sixth pass). */
#define SP__SEND_COALESCE 256

ptrdiff_t sp__sendv_dontwait(sp_socket_t s, const sp_iovec *iov, int n, int dontwait)
{
    struct msghdr msg;
    int flags = SP__SEND_FLAGS | (dontwait ? MSG_DONTWAIT : 0);
    ssize_t r;
    if (n == 1) {
        r = send(s, iov[0].base, (size_t)iov[0].len, flags);
        return r >= 0 ? r : buf_slow(s, IO_SEND, iov[0].base, (size_t)iov[0].len, NULL, flags);
    }
    /* each length checked alone: their sum may wrap; an empty part may have no buffer */
    if (n == 2 && (size_t)iov[0].len <= SP__SEND_COALESCE &&
        (size_t)iov[1].len <= SP__SEND_COALESCE - (size_t)iov[0].len) {
        char small[SP__SEND_COALESCE]; /* the same bytes in one piece: the same result */
        size_t a = (size_t)iov[0].len, len = a + (size_t)iov[1].len;
        if (a > 0)
            memcpy(small, iov[0].base, a);
        if (len > a)
            memcpy(small + a, iov[1].base, len - a);
        r = send(s, small, len, flags);
        return r >= 0 ? r : buf_slow(s, IO_SEND, small, len, NULL, flags);
    }
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = (struct iovec *)(uintptr_t)iov;
    msg.msg_iovlen = clamp_iov(n);
    r = sendmsg(s, &msg, flags);
    return r >= 0 ? r : msg_slow(s, IO_SENDMSG, &msg, flags);
}

ptrdiff_t sp__recv_dontwait(sp_socket_t s, void *buf, size_t len, int dontwait)
{
    int flags = dontwait ? MSG_DONTWAIT : 0;
    ssize_t r = recv(s, buf, len, flags);
    return r >= 0 ? r : buf_slow(s, IO_RECV, buf, len, NULL, flags);
}

ptrdiff_t sp__recvv(sp_socket_t s, sp_iovec *iov, int n)
{
    struct msghdr msg;
    ssize_t r;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = (struct iovec *)(void *)iov;
    msg.msg_iovlen = clamp_iov(n);
    r = recvmsg(s, &msg, 0);
    return r >= 0 ? r : msg_slow(s, IO_RECVMSG, &msg, 0);
}

ptrdiff_t sp__sendto(sp_socket_t s, const void *buf, size_t len, const sp_addr *to)
{
    ssize_t r = sendto(s, buf, len, SP__SEND_FLAGS, SA_C(to), (socklen_t)to->len);
    return r >= 0 ? r : buf_slow(s, IO_SENDTO, buf, len, to, SP__SEND_FLAGS);
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
    r = recvmsg(s, &msg, 0);
    if (r < 0) {
        r = msg_slow(s, IO_RECVMSG, &msg, 0);
        if (r < 0)
            return r;
    }
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
    int r;
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
    /* what revents means differs by OS (XNU: a refused connect is POLLHUP alone): the
     * poll backend's decision, replay-tested per OS */
    return sp__poll_events_native(s, p.revents, events);
}

/* ---- options ------------------------------------------------------------------------- */

#if defined(TCP_KEEPIDLE)
#    define SP__KEEPIDLE TCP_KEEPIDLE
#elif defined(TCP_KEEPALIVE) /* macOS names the idle time TCP_KEEPALIVE */
#    define SP__KEEPIDLE TCP_KEEPALIVE
#endif

/* A timing option the headers lack (OpenBSD has none) is not applied: keepalive is on with
 * the system's value, and the result says so (SP_KEEPALIVE_PARTIAL). */
int sp__set_keepalive(sp_socket_t s, int on, int idle_s, int interval_s, int count)
{
    unsigned asked = (idle_s > 0 ? SP__KA_IDLE : 0u) | (interval_s > 0 ? SP__KA_INTVL : 0u) |
                     (count > 0 ? SP__KA_CNT : 0u),
             applied = 0;
    int rc = set_int_opt(s, SOL_SOCKET, SO_KEEPALIVE, on);
    if (rc != 0 || !on)
        return rc;
#ifdef SP__KEEPIDLE
    if (idle_s > 0 && (rc = set_int_opt(s, IPPROTO_TCP, SP__KEEPIDLE, idle_s)) != 0)
        return rc;
    applied |= SP__KA_IDLE;
#endif
#ifdef TCP_KEEPINTVL
    if (interval_s > 0 && (rc = set_int_opt(s, IPPROTO_TCP, TCP_KEEPINTVL, interval_s)) != 0)
        return rc;
    applied |= SP__KA_INTVL;
#endif
#ifdef TCP_KEEPCNT
    if (count > 0 && (rc = set_int_opt(s, IPPROTO_TCP, TCP_KEEPCNT, count)) != 0)
        return rc;
    applied |= SP__KA_CNT;
#endif
    return sp__keepalive_result(asked, applied);
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
    long long v;
    socklen_t len = sizeof tv;
    if (getsockopt(s, SOL_SOCKET, name, &tv, &len) != 0)
        return sp__fail_last();
    /* Linux rounds up to its clock tick: 300 ms may read back as 300.xxx ms, and INT_MAX
     * ms as more than INT_MAX (2147483.648 s with a 250 Hz tick): clamped, not wrapped. */
    v = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    *ms = v > INT_MAX ? INT_MAX : (int)v;
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

/*
 * SO_LINGER counts seconds, except on macOS with its extensions visible (the build defines
 * _DARWIN_C_SOURCE): there it counts clock ticks of 10 ms, and SO_LINGER_SEC counts seconds
 * (XNU bsd/sys/socket.h; bsd/kern/uipc_socket.c sosetoptlock), up to 327 s.
 */
#ifdef SO_LINGER_SEC
#    define SP__LINGER_OPT         SO_LINGER_SEC
#    define SP__LINGER_SECONDS(s_) sp__linger_sec_value(s_)
#else
#    define SP__LINGER_OPT         SO_LINGER
#    define SP__LINGER_SECONDS(s_) (s_)
#endif

int sp__set_linger(sp_socket_t s, int on, int seconds)
{
    struct linger l;
    l.l_onoff = on;
    l.l_linger = SP__LINGER_SECONDS(seconds);
    if (setsockopt(s, SOL_SOCKET, SP__LINGER_OPT, &l, sizeof l) != 0)
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
