/*
 * socket.c - the public socket verbs. Every one checks its arguments here, once, the same
 * way on every OS (a NULL pointer, an unknown flag, a value out of range, and
 * SP_INVALID_SOCKET), then calls one backend verb of backend.h for the OS work. The loops
 * (send_all, recv_all), connect with a timeout, dial and listen_on are built on those.
 */
#include "internal.h"

#include <string.h>

/* An sp_addr that can be handed to the system: at least a family field, at most its
 * storage. */
static int bad_addr(const sp_addr *a)
{
    return a == NULL || a->len < 2 || a->len > sizeof a->u.bytes;
}

#define SP__CHECK_SOCKET(s)                                                                        \
    do {                                                                                           \
        if ((s) == SP_INVALID_SOCKET)                                                              \
            return sp__fail_badf();                                                                \
    } while (0)

/* ---- open, connect, bind, accept, close ---------------------------------------------- */

int sp_socket_open(sp_socket_t *out, int family, int type)
{
    if (out == NULL)
        return SP_EINVAL;
    *out = SP_INVALID_SOCKET;
    if ((family != SP_AF_INET && family != SP_AF_INET6 && family != SP_AF_UNIX) ||
        (type != SP_SOCK_STREAM && type != SP_SOCK_DGRAM))
        return SP_EINVAL;
    return sp__socket_open(out, family, type);
}

int sp_close(sp_socket_t s)
{
    SP__CHECK_SOCKET(s);
    return sp__close(s);
}

int sp_set_nonblocking(sp_socket_t s, int on)
{
    SP__CHECK_SOCKET(s);
    return sp__set_nonblocking(s, on != 0);
}

int sp_connect(sp_socket_t s, const sp_addr *to)
{
    int rc;
    SP__CHECK_SOCKET(s);
    if (bad_addr(to))
        return SP_EINVAL;
    rc = sp__connect(s, to);
    if (rc == SP_EINTR) /* the connect goes on in the background: wait for its result */
        rc = sp_connect_finish(s, -1);
    return rc;
}

int sp_connect_start(sp_socket_t s, const sp_addr *to)
{
    int rc;
    SP__CHECK_SOCKET(s);
    if (bad_addr(to))
        return SP_EINVAL;
    rc = sp__set_nonblocking(s, 1);
    if (rc != 0)
        return rc;
    rc = sp__connect(s, to);
    return rc == SP_EINTR ? SP_EINPROGRESS : rc;
}

int sp_bind(sp_socket_t s, const sp_addr *local, unsigned flags)
{
    SP__CHECK_SOCKET(s);
    if (bad_addr(local) ||
        (flags & ~(unsigned)(SP_BIND_DUALSTACK | SP_BIND_NOREUSE | SP_BIND_SHARED)) != 0 ||
        ((flags & SP_BIND_SHARED) && (flags & SP_BIND_NOREUSE)))
        return SP_EINVAL;
    return sp__bind(s, local, flags); /* SP_EINVAL for SP_BIND_SHARED on a stream socket */
}

int sp_accept(sp_socket_t listener, sp_socket_t *out, sp_addr *peer, unsigned flags)
{
    sp_addr tmp;
    if (out == NULL)
        return SP_EINVAL;
    *out = SP_INVALID_SOCKET;
    SP__CHECK_SOCKET(listener);
    if ((flags & ~(unsigned)SP_ACCEPT_NONBLOCK) != 0)
        return SP_EINVAL;
    return sp__accept(listener, out, peer != NULL ? peer : &tmp, (flags & SP_ACCEPT_NONBLOCK) != 0);
}

int sp_socketpair(sp_socket_t pair[2])
{
    if (pair == NULL)
        return SP_EINVAL;
    pair[0] = pair[1] = SP_INVALID_SOCKET;
    return sp__socketpair(pair);
}

int sp_shutdown(sp_socket_t s, int how)
{
    SP__CHECK_SOCKET(s);
    if (how != SP_SHUT_RD && how != SP_SHUT_WR && how != SP_SHUT_RDWR)
        return SP_EINVAL;
    return sp__shutdown(s, how);
}

/* ---- data ---------------------------------------------------------------------------- */

ptrdiff_t sp_send(sp_socket_t s, const void *buf, size_t len)
{
    SP__CHECK_SOCKET(s);
    if (buf == NULL && len > 0)
        return SP_EINVAL;
    return sp__send(s, buf, len);
}

ptrdiff_t sp_recv(sp_socket_t s, void *buf, size_t len)
{
    SP__CHECK_SOCKET(s);
    if (buf == NULL && len > 0)
        return SP_EINVAL;
    return sp__recv_dontwait(s, buf, len, 0);
}

ptrdiff_t sp_sendv(sp_socket_t s, const sp_iovec *iov, int n)
{
    SP__CHECK_SOCKET(s);
    if (iov == NULL || n < 0)
        return SP_EINVAL;
    return sp__sendv_dontwait(s, iov, n, 0);
}

ptrdiff_t sp_recvv(sp_socket_t s, sp_iovec *iov, int n)
{
    SP__CHECK_SOCKET(s);
    if (iov == NULL || n < 0)
        return SP_EINVAL;
    return sp__recvv(s, iov, n);
}

ptrdiff_t sp_sendto(sp_socket_t s, const void *buf, size_t len, const sp_addr *to)
{
    SP__CHECK_SOCKET(s);
    if ((buf == NULL && len > 0) || bad_addr(to))
        return SP_EINVAL;
    return sp__sendto(s, buf, len, to);
}

ptrdiff_t sp_recvfrom(sp_socket_t s, void *buf, size_t len, sp_addr *from)
{
    sp_addr tmp;
    SP__CHECK_SOCKET(s);
    if (buf == NULL && len > 0)
        return SP_EINVAL;
    return sp__recvfrom(s, buf, len, from != NULL ? from : &tmp);
}

int sp_wait(sp_socket_t s, int events, int timeout_ms)
{
    SP__CHECK_SOCKET(s);
    if ((events & ~(SP_EV_READ | SP_EV_WRITE)) != 0) /* as sp_poller_add: another flag */
        return SP_EINVAL;
    return sp__wait(s, events, timeout_ms);
}

/* ---- options ------------------------------------------------------------------------- */

int sp_set_nodelay(sp_socket_t s, int on)
{
    SP__CHECK_SOCKET(s);
    return sp__setopt(s, SP__OPT_NODELAY, on != 0);
}

int sp_set_keepalive(sp_socket_t s, int on, int idle_s, int interval_s, int count)
{
    SP__CHECK_SOCKET(s);
    /* Checked before anything is set, whether on or not: a rejected call changes nothing. */
    if (idle_s < 0 || interval_s < 0 || count < 0 || idle_s > SP__KEEPALIVE_SECONDS_MAX ||
        interval_s > SP__KEEPALIVE_SECONDS_MAX || count > SP__KEEPALIVE_COUNT_MAX)
        return SP_EINVAL;
    return sp__set_keepalive(s, on != 0, idle_s, interval_s, count);
}

int sp_get_keepalive(sp_socket_t s, int *on, int *idle_s, int *interval_s, int *count)
{
    SP__CHECK_SOCKET(s);
    if (on != NULL)
        *on = 0;
    if (idle_s != NULL)
        *idle_s = -1;
    if (interval_s != NULL)
        *interval_s = -1;
    if (count != NULL)
        *count = -1;
    return sp__get_keepalive(s, on, idle_s, interval_s, count);
}

static int set_nonnegative(sp_socket_t s, enum sp__opt opt, int value, int min)
{
    SP__CHECK_SOCKET(s);
    if (value < min)
        return SP_EINVAL;
    return sp__setopt(s, opt, value);
}

static int get_opt(sp_socket_t s, enum sp__opt opt, int *value)
{
    SP__CHECK_SOCKET(s);
    if (value == NULL)
        return SP_EINVAL;
    *value = 0;
    return sp__getopt(s, opt, value);
}

int sp_set_recv_timeout(sp_socket_t s, int ms)
{
    return set_nonnegative(s, SP__OPT_RCVTIMEO, ms, 0);
}

int sp_set_send_timeout(sp_socket_t s, int ms)
{
    return set_nonnegative(s, SP__OPT_SNDTIMEO, ms, 0);
}

int sp_get_recv_timeout(sp_socket_t s, int *ms)
{
    return get_opt(s, SP__OPT_RCVTIMEO, ms);
}

int sp_get_send_timeout(sp_socket_t s, int *ms)
{
    return get_opt(s, SP__OPT_SNDTIMEO, ms);
}

/* A buffer of 0 bytes would turn Winsock's buffering off altogether: > 0 everywhere. */
int sp_set_send_buffer(sp_socket_t s, int bytes)
{
    return set_nonnegative(s, SP__OPT_SNDBUF, bytes, 1);
}

int sp_set_recv_buffer(sp_socket_t s, int bytes)
{
    return set_nonnegative(s, SP__OPT_RCVBUF, bytes, 1);
}

int sp_get_send_buffer(sp_socket_t s, int *bytes)
{
    return get_opt(s, SP__OPT_SNDBUF, bytes);
}

int sp_get_recv_buffer(sp_socket_t s, int *bytes)
{
    return get_opt(s, SP__OPT_RCVBUF, bytes);
}

int sp_set_linger(sp_socket_t s, int on, int seconds)
{
    SP__CHECK_SOCKET(s);
    if (seconds < 0 || seconds > SP__LINGER_MAX)
        return SP_EINVAL;
    return sp__set_linger(s, on != 0, seconds);
}

int sp_socket_error(sp_socket_t s)
{
    SP__CHECK_SOCKET(s);
    return sp__socket_error(s);
}

static int name_of(sp_socket_t s, sp_addr *out, int peer)
{
    SP__CHECK_SOCKET(s);
    if (out == NULL)
        return SP_EINVAL;
    memset(out, 0, sizeof *out);
    return sp__sockname(s, out, peer);
}

int sp_local_addr(sp_socket_t s, sp_addr *out)
{
    return name_of(s, out, 0);
}

int sp_peer_addr(sp_socket_t s, sp_addr *out)
{
    return name_of(s, out, 1);
}

/* ---- loops and compositions ---------------------------------------------------------- */

/* Wait for `ev` before the next try, or give the deadline's verdict. With `look`, a
 * deadline that has passed still looks once (a wait of 0), so that a call with no time
 * to wait takes what has already arrived. */
static int wait_for(sp_socket_t s, int ev, sp__deadline deadline, int look)
{
    int left = sp__deadline_left(deadline);
    int r;
    if (left == 0 && !look)
        return SP_ETIMEDOUT;
    r = sp_wait(s, ev, left);
    if (r < 0)
        return r;
    if (r == 0)
        return SP_ETIMEDOUT;
    return 0; /* ready, or an error the next call will report */
}

#define SP__IOV_BATCH 16

/* sp_sendv_all against an absolute deadline; *done gets the bytes sent. */
static int sendv_until(sp_socket_t s, const sp_iovec *iov, int n, sp__deadline deadline,
                       size_t *done)
{
    size_t total = 0, off = 0; /* bytes sent; offset into iov[i] */
    int i = 0, rc = 0;

    if (iov == NULL || n < 0) {
        rc = SP_EINVAL;
        goto out;
    }
    for (;;) {
        sp_iovec batch[SP__IOV_BATCH];
        int k = 0, j;
        ptrdiff_t sent;
        while (i < n && (size_t)iov[i].len == off) { /* skip what is done (and empties) */
            i++;
            off = 0;
        }
        if (i == n)
            break;
        for (j = i; j < n && k < SP__IOV_BATCH; j++) {
            size_t skip = j == i ? off : 0;
            if ((size_t)iov[j].len == skip)
                continue;
            batch[k] = sp_iovec_make((const char *)iov[j].base + skip, iov[j].len - skip);
            k++;
        }
        sent = sp__sendv_dontwait(s, batch, k, deadline != 0);
        if (sent == SP_EAGAIN) {
            rc = wait_for(s, SP_EV_WRITE, deadline, 0);
            if (rc != 0)
                break;
            continue;
        }
        if (sent < 0) {
            rc = (int)sent;
            break;
        }
        total += (size_t)sent;
        while (sent > 0 && i < n) { /* advance (i, off) by `sent` bytes (never past n) */
            size_t room = (size_t)iov[i].len - off;
            if ((size_t)sent < room) {
                off += (size_t)sent;
                sent = 0;
            } else {
                sent -= (ptrdiff_t)room;
                i++;
                off = 0;
            }
        }
        if (deadline != 0 && sp__deadline_left(deadline) == 0) {
            /* finished exactly at the deadline is still finished */
            while (i < n && (size_t)iov[i].len == off) {
                i++;
                off = 0;
            }
            if (i < n)
                rc = SP_ETIMEDOUT;
            break;
        }
    }
out:
    *done = total;
    return rc;
}

int sp_sendv_all(sp_socket_t s, const sp_iovec *iov, int n, int timeout_ms, size_t *done)
{
    size_t sent = 0;
    int rc = s == SP_INVALID_SOCKET ? sp__fail_badf()
                                    : sendv_until(s, iov, n, sp__deadline_in(timeout_ms), &sent);
    if (done)
        *done = sent;
    return rc;
}

/* One sp_iovec holds at most 4 GiB - 1 bytes on Windows (a ULONG): larger buffers go in
 * chunks of 1 GiB. */
#define SP__SEND_CHUNK ((size_t)1 << 30)

int sp_send_all(sp_socket_t s, const void *buf, size_t len, int timeout_ms, size_t *done)
{
    sp__deadline deadline = sp__deadline_in(timeout_ms);
    size_t total = 0;
    int rc = 0;
    if (buf == NULL && len > 0)
        rc = SP_EINVAL;
    if (s == SP_INVALID_SOCKET)
        rc = sp__fail_badf();
    while (rc == 0 && total < len) {
        size_t chunk = len - total < SP__SEND_CHUNK ? len - total : SP__SEND_CHUNK, sent;
        sp_iovec one = sp_iovec_make((const char *)buf + total, chunk);
        rc = sendv_until(s, &one, 1, deadline, &sent);
        total += sent;
    }
    if (done)
        *done = total;
    return rc;
}

int sp_recv_all(sp_socket_t s, void *buf, size_t len, int timeout_ms, size_t *done)
{
    sp__deadline deadline = sp__deadline_in(timeout_ms);
    size_t total = 0;
    int rc = 0, look = 1;
    if (s == SP_INVALID_SOCKET) {
        rc = sp__fail_badf();
        goto out;
    }
    if (buf == NULL && len > 0) {
        rc = SP_EINVAL;
        goto out;
    }
    while (total < len) {
        ptrdiff_t got;
        if (deadline != 0) {
            /* wait first, so that a blocking socket never blocks past the deadline; the
             * first wait looks even at the deadline (timeout 0: take what has arrived) */
            rc = wait_for(s, SP_EV_READ, deadline, look);
            look = 0;
            if (rc != 0)
                break;
        }
        got = sp__recv_dontwait(s, (char *)buf + total, len - total, deadline != 0);
        if (got == SP_EAGAIN) {
            rc = wait_for(s, SP_EV_READ, deadline, 0);
            if (rc != 0)
                break;
            continue;
        }
        if (got < 0) {
            rc = (int)got;
            break;
        }
        if (got == 0) {
            rc = SP_EEOF;
            break;
        }
        total += (size_t)got;
    }
out:
    if (done)
        *done = total;
    return rc;
}

int sp_connect_finish(sp_socket_t s, int timeout_ms)
{
    sp_addr peer;
    int r = sp_wait(s, SP_EV_WRITE, timeout_ms);
    if (r < 0)
        return r;
    if (r == 0)
        return SP_EINPROGRESS;
    r = sp_socket_error(s);
    if (r != 0)
        return r;
    /* Writable without a pending error: connected, unless the error was already taken. */
    r = sp_peer_addr(s, &peer);
    return r == SP_ENOTCONN ? SP_ECONNREFUSED : r;
}

int sp_connect_timeout(sp_socket_t s, const sp_addr *to, int timeout_ms)
{
    int rc;
    if (timeout_ms < 0)
        return sp_connect(s, to);
    rc = sp_connect_start(s, to);
    if (rc == SP_EINPROGRESS)
        rc = sp_connect_finish(s, timeout_ms);
    if (rc == SP_EINPROGRESS)
        rc = SP_ETIMEDOUT;
    if (rc == 0)
        rc = sp_set_nonblocking(s, 0);
    return rc;
}

int sp_close_abortive(sp_socket_t s)
{
    int rc = sp_set_linger(s, 1, 0);
    int rc2 = sp_close(s);
    return rc2 != 0 ? rc2 : rc;
}

int sp_listen(sp_socket_t s, const sp_addr *local, int backlog, unsigned flags)
{
    int rc = sp_bind(s, local, flags);
    if (rc != 0)
        return rc;
    return sp__listen(s, backlog);
}

/* One way to use a fresh stream socket on an address: connect it, or listen on it. */
typedef int (*sp__addr_step)(sp_socket_t s, const sp_addr *a, int arg, unsigned flags);

static int step_listen(sp_socket_t s, const sp_addr *a, int backlog, unsigned flags)
{
    return sp_listen(s, a, backlog, flags);
}

#define SP__RESOLVE_MAX 16

/* Resolve `address` and run `step` on a new stream socket for each address in turn until
 * one succeeds; returns 0 with *out set, or the last error. */
static int each_address(sp_socket_t *out, const char *address, sp__addr_step step, int arg,
                        unsigned flags)
{
    sp_addr addrs[SP__RESOLVE_MAX];
    int n, i, rc = SP_EINVAL;
    if (out == NULL)
        return SP_EINVAL;
    *out = SP_INVALID_SOCKET;
    n = sp_addr_resolve(address, SP_AF_UNSPEC, SP_SOCK_STREAM, addrs, SP__RESOLVE_MAX);
    if (n < 0)
        return n;
    if (n > SP__RESOLVE_MAX)
        n = SP__RESOLVE_MAX;
    for (i = 0; i < n; i++) {
        sp_socket_t s;
        rc = sp_socket_open(&s, sp_addr_family(&addrs[i]), SP_SOCK_STREAM);
        if (rc != 0)
            continue;
        rc = step(s, &addrs[i], arg, flags);
        if (rc == 0) {
            *out = s;
            return 0;
        }
        sp_close(s);
    }
    return rc;
}

int sp_listen_on(sp_socket_t *out, const char *address, int backlog, unsigned flags)
{
    return each_address(out, address, step_listen, backlog, flags);
}
