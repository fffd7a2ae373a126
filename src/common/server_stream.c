/*
 * server_stream.c - streams in and out of a connection, beside its messages:
 * sp_conn_sendfile (the checks and the file, once; each model's sending in its output
 * file: server_blocking.c, server_events_out.c) and sp_conn_unread (the tail of an
 * on_data call handed back to the framer).
 */
#include "server.h"

int64_t sp_conn_sendfile(sp_conn *c, int fd, int64_t offset, int64_t len)
{
    int blocking, rc;
    uint64_t size, off;
    sp__file f;
    if (c == NULL || offset < 0 || len < 0 || offset > INT64_MAX - len)
        return SP_EINVAL;
    blocking = c->srv->model->blocking;
    /* the event model sends later: it keeps a duplicate; the blocking models borrow fd */
    rc = sp__file_open(fd, !blocking, &f, &size);
    if (rc != 0)
        return rc;
    if (len == 0 || (size != SP__FILE_SIZE_UNKNOWN && (uint64_t)offset + (uint64_t)len > size) ||
        (size == SP__FILE_SIZE_UNKNOWN && offset != 0)) {
        if (!blocking)
            sp__file_close(f);
        /* a regular file too short: nothing is sent (a promised length cannot be kept);
         * a pipe has no offsets: it is read from where it is */
        return len == 0 ? 0 : size == SP__FILE_SIZE_UNKNOWN ? SP_EINVAL : SP_EEOF;
    }
    off = size == SP__FILE_SIZE_UNKNOWN ? SP__FILE_SEQUENTIAL : (uint64_t)offset;
    if (blocking)
        return sp__blocking_sendfile(c, f, off, (uint64_t)len);
    return sp__ev_sendfile(c, f, off, (uint64_t)len);
}

/* The record of c's on_data call: the connection's own (blocking models: one thread per
 * connection) or the loop's. */
static sp__rawin *rawin_of(sp_conn *c)
{
    return c->srv->model->blocking ? &SP__BLOCKING(c)->rawin : &c->srv->rawin;
}

int sp__conn_on_data(sp_conn *c, sp__rawin *in, const void *p, size_t n, size_t *unread)
{
    sp__rawin outer = *in; /* restored after: a call nested in this one ends before it */
    int rc;
    in->conn = c;
    in->len = n;
    in->unread = 0;
    rc = c->srv->cfg.handler->on_data(c, p, n);
    *unread = rc >= 0 && c->close_reason < 0 && !(c->flags & SP__CONN_RAW) ? in->unread : 0;
    *in = outer;
    return rc;
}

int sp_conn_unread(sp_conn *c, size_t n)
{
    sp__rawin *in;
    if (c == NULL || c->srv->cfg.framer == NULL)
        return SP_EINVAL;
    in = rawin_of(c);
    if (in->conn != c || (c->flags & SP__CONN_RAW) || n > in->len)
        return SP_EINVAL;
    in->unread = n;
    return 0;
}
