/*
 * socket.c - the socket verbs that are the same on every OS, built on the backend's
 * single calls: the loops (send_all, recv_all), connect with a timeout, dial, listen_on.
 */
#include "internal.h"

#include <string.h>

/* Wait for `ev` before the next try, or give the deadline's verdict. */
static int wait_for(sp_socket_t s, int ev, sp__deadline deadline)
{
    int left = sp__deadline_left(deadline);
    int r;
    if (left == 0)
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
            rc = wait_for(s, SP_EV_WRITE, deadline);
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
    size_t sent;
    int rc = sendv_until(s, iov, n, sp__deadline_in(timeout_ms), &sent);
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
    int rc = 0;
    if (buf == NULL && len > 0) {
        rc = SP_EINVAL;
        goto out;
    }
    while (total < len) {
        ptrdiff_t got;
        if (deadline != 0) {
            /* wait first, so that a blocking socket never blocks past the deadline */
            rc = wait_for(s, SP_EV_READ, deadline);
            if (rc != 0)
                break;
        }
        got = sp__recv_dontwait(s, (char *)buf + total, len - total, deadline != 0);
        if (got == SP_EAGAIN) {
            rc = wait_for(s, SP_EV_READ, deadline);
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
