/*
 * server_events_out.c - the event model's output: a reply goes to the socket at once when
 * nothing is queued before it, else into the connection's queue (made only then, freed
 * when it empties unless on_drain is awaited), flushed on writability; the small replies
 * to the messages of one read gather in the server's stage and leave in one send. A queue
 * over output_limit pauses reading (back-pressure) until it falls below half of it. The
 * deadlines: queued output the peer takes nothing of for send_timeout_ms (q->progress),
 * and a reply not wholly sent within reply_timeout_ms of entering the queue (its mark),
 * close the connection.
 */
#include "server.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t sp__ev_queued(const sp_conn *c)
{
    uint64_t n;
    if (c->out == NULL)
        return 0;
    n = (uint64_t)(c->out->len - c->out->off) + c->out->file_bytes;
    return n > (uint64_t)SIZE_MAX ? SIZE_MAX : (size_t)n;
}

static char *out_data(const sp_conn *c)
{
    return (char *)(c->out + 1);
}

size_t sp__ev_conn_queued(const sp_conn *c)
{
    return sp__ev_queued(c) + (c->srv->batching == c ? c->srv->stage_len : 0);
}

/* Register the interest c needs now: reading unless paused or closing, writing while
 * output is queued or on_drain is wanted (the socket's writability then calls it, at
 * once when the kernel has room). */
void sp__ev_update_interest(sp_conn *c)
{
    int open = c->close_reason < 0;
    int want = ((c->flags & SP__CONN_PAUSED) || !open ? 0 : SP_EV_READ) |
               (sp__ev_queued(c) > 0 || (open && (c->flags & SP__CONN_DRAIN)) ? SP_EV_WRITE : 0);
    if (want != (c->reg.events & (SP_EV_READ | SP_EV_WRITE)))
        (void)sp__poller_modify_reg(c->srv->poller, &c->reg, want);
}

/* Drop the marks of the replies wholly sent (a file range's mark, at its position in the
 * bytes, stays until the range is sent). */
static void marks_trim(struct sp__outq *q)
{
    size_t k = 0;
    while (k < q->marks && q->mark[k].end <= q->off &&
           (q->files == NULL || q->mark[k].end < q->files->at))
        k++;
    if (k > 0) {
        memmove(q->mark, q->mark + k, (q->marks - k) * sizeof q->mark[0]);
        q->marks -= k;
    }
}

/* A reply has been queued up to q->len: mark when (reply_timeout_ms counts from it). When
 * nothing was queued before it, the progress timeout starts with this pass of the loop
 * (the clock of the read that brought the request, as the idle clock's, which it thus
 * never outlasts): the socket has just taken what it could, and what waits is new. */
static void mark_queued(sp_conn *c, struct sp__outq *q)
{
    marks_trim(q);
    if (q->marks > 0 && q->mark[q->marks - 1].end == q->len)
        return; /* nothing new (empty parts) */
    if (q->marks == SP__OUT_MARKS) {
        q->mark[SP__OUT_MARKS - 1].end = q->len; /* joins the last: its earlier time */
        return;
    }
    if (q->marks == 0)
        q->progress = c->srv->now; /* nothing was pending (a mark lives while bytes are) */
    q->mark[q->marks].end = q->len;
    q->mark[q->marks].at = sp__now_ms();
    q->marks++;
}

static void outq_init(sp_conn *c, struct sp__outq *q)
{
    q->off = q->len = q->cap = q->marks = 0;
    q->progress = c->srv->now;
    q->drain_at = 0;
    q->files = q->files_tail = NULL;
    q->file_bytes = 0;
}

/* The queue is empty: free it, unless on_drain is awaited (it keeps the time it was asked:
 * the deadline runs until on_drain, and a stream mallocs no queue per chunk). */
static void outq_release(sp_conn *c)
{
    if (c->out == NULL || sp__ev_queued(c) > 0 ||
        ((c->flags & SP__CONN_DRAIN) && c->close_reason < 0))
        return;
    sp__ev_out_free(c);
}

/* Append bytes to the output queue (making it, compacting or growing it). */
static int enqueue(sp_conn *c, const char *p, size_t n)
{
    struct sp__outq *q = c->out;
    if (q != NULL && q->off > 0 && q->len + n > q->cap) {
        struct sp__outfile *f;
        size_t k;
        marks_trim(q);
        for (k = 0; k < q->marks; k++)
            q->mark[k].end -= q->off;
        memmove(out_data(c), out_data(c) + q->off, q->len - q->off);
        for (f = q->files; f != NULL; f = f->next)
            f->at -= q->off; /* a file waits behind the bytes before it, wherever they lie */
        q->len -= q->off;
        q->off = 0;
    }
    if (q == NULL || q->len + n > q->cap) {
        size_t cap = q != NULL && q->cap > 0 ? q->cap : 4096, len = q != NULL ? q->len : 0;
        while (cap < len + n)
            cap *= 2;
        q = (struct sp__outq *)realloc(c->out, sizeof *q + cap);
        if (q == NULL)
            return SP_ENOMEM;
        if (c->out == NULL)
            outq_init(c, q);
        q->cap = cap;
        c->out = q;
    }
    if (n > 0)
        memcpy(out_data(c) + q->len, p, n);
    q->len += n;
    return 0;
}

void sp__ev_out_free(sp_conn *c)
{
    struct sp__outfile *f, *next;
    if (c->out == NULL)
        return;
    for (f = c->out->files; f != NULL; f = next) {
        next = f->next;
        sp__file_close(f->f);
        free(f->pipe_buf);
        free(f);
    }
    free(c->out);
    c->out = NULL;
}

/* One part of queued file f to the socket: the OS's sendfile on the non-blocking socket,
 * else a read into the loop's buffer (free here: a flush never runs inside a read's
 * delivery) and a send; what the socket does not take is read again next time. The count
 * sent, 0 when the file ended early, SP_EAGAIN, or the error. */
static ptrdiff_t send_file_part(sp_conn *c, struct sp__outfile *f)
{
    ptrdiff_t r;
    if (f->native) {
        r = sp__sendfile(c->reg.sock, f->f, f->off,
                         f->left < SP__FILE_CHUNK ? (size_t)f->left : SP__FILE_CHUNK, 0, NULL,
                         NULL);
        if (r != SP_ENOTSUP)
            return r;
        f->native = 0; /* not for this file or socket (nothing sent): read and send */
    }
    if (f->off == SP__FILE_SEQUENTIAL) { /* a pipe: what was read is kept until sent */
        if (f->pipe_pos == f->pipe_len) {
            size_t want = f->left < SP__PIPE_BUF ? (size_t)f->left : SP__PIPE_BUF;
            if (f->pipe_buf == NULL && (f->pipe_buf = (char *)malloc(SP__PIPE_BUF)) == NULL)
                return SP_ENOMEM;
            if ((r = sp__file_pread(f->f, f->pipe_buf, want, SP__FILE_SEQUENTIAL)) <= 0)
                return r;
            f->pipe_pos = 0;
            f->pipe_len = (size_t)r;
        }
        r = sp_send(c->reg.sock, f->pipe_buf + f->pipe_pos, f->pipe_len - f->pipe_pos);
        if (r > 0)
            f->pipe_pos += (size_t)r;
        return r;
    }
    r = sp__file_pread(f->f, c->srv->rbuf,
                       f->left < SP__READ_CHUNK ? (size_t)f->left : SP__READ_CHUNK, f->off);
    return r > 0 ? sp_send(c->reg.sock, c->srv->rbuf, (size_t)r) : r;
}

/* Send what is queued, in order (the bytes before the next file, the file, ...) until the
 * socket is full. 0, or the error that cut the stream (SP_EEOF: a file ended early). */
static int send_queue(sp_conn *c)
{
    struct sp__outq *q = c->out;
    while (q != NULL && sp__ev_queued(c) > 0) {
        struct sp__outfile *f = q->files;
        ptrdiff_t r;
        if (f == NULL || q->off < f->at) { /* the bytes before the next file, or all */
            size_t end = f != NULL ? f->at : q->len;
            if ((r = sp_send(c->reg.sock, out_data(c) + q->off, end - q->off)) > 0)
                q->off += (size_t)r;
        } else if ((r = send_file_part(c, f)) > 0) {
            f->off += f->off == SP__FILE_SEQUENTIAL ? 0 : (uint64_t)r;
            f->left -= (uint64_t)r;
            q->file_bytes -= (uint64_t)r;
            if (f->left == 0) { /* done: the bytes behind it are next */
                if ((q->files = f->next) == NULL)
                    q->files_tail = NULL;
                sp__file_close(f->f);
                free(f->pipe_buf);
                free(f);
            }
        } else if (r == 0) {
            r = SP_EEOF;
        }
        if (r == SP_EAGAIN)
            return 0;
        if (r < 0)
            return (int)r;
        q->progress = c->srv->now;
    }
    return 0;
}

/* What the socket did not take of iov[0..n) (r: what the send returned; an error closes
 * c) goes to the queue. 0, or an error (c is then closing). */
static int queue_rest(sp_conn *c, const sp_iovec *iov, int n, ptrdiff_t r)
{
    size_t sent = r > 0 ? (size_t)r : 0;
    int i, rc;
    if (r < 0 && r != SP_EAGAIN) {
        sp__conn_reply_failed(c, (int)r);
        sp__ev_enlist(c);
        return (int)r;
    }
    for (i = 0; i < n; i++) { /* queue what the socket did not take */
        size_t l = (size_t)iov[i].len, skip = sent < l ? sent : l;
        sent -= skip;
        if (l > skip && (rc = enqueue(c, (const char *)iov[i].base + skip, l - skip)) != 0) {
            sp__ev_mark_closing(c, SP_CLOSE_ERROR, rc);
            return rc;
        }
    }
    if (c->out != NULL)
        mark_queued(c, c->out); /* when this reply entered the queue */
    if (sp__ev_queued(c) > c->srv->cfg.output_limit)
        c->flags |= SP__CONN_PAUSED;
    sp__ev_update_interest(c);
    return 0;
}

static size_t iov_total(const sp_iovec *iov, int n)
{
    size_t total = 0;
    int i;
    for (i = 0; i < n; i++)
        total += (size_t)iov[i].len;
    return total;
}

/* Whether a send of iov[0..n) (n >= 1) that returned r took it all. A frame is one or two
 * parts (payload; header and payload): those are added without a loop. */
static int all_taken(const sp_iovec *iov, int n, ptrdiff_t r)
{
    size_t total = (size_t)iov[0].len;
    int i;
    if (n > 1)
        total += (size_t)iov[1].len;
    for (i = 2; i < n; i++)
        total += (size_t)iov[i].len;
    return r >= 0 && (size_t)r == total;
}

/* Send iov[0..n) to the socket (nothing is queued ahead of it); queue what it does not
 * take. 0, or an error (c is then closing). */
static inline int send_now(sp_conn *c, const sp_iovec *iov, int n)
{
    ptrdiff_t r = sp__sendv_dontwait(c->reg.sock, iov, n, 1);
    if (all_taken(iov, n, r))
        return 0; /* nothing queued, the interest unchanged */
    return queue_rest(c, iov, n, r);
}

/* Send iov[0..n), after the stage when c is the connection whose messages are being
 * delivered; queue what the socket does not take. With `stage` (a reply of the handler), a
 * small reply of that connection joins the stage instead, so that the replies to one read
 * leave in one send (pipelined requests); bigger ones go at once with the stage in front
 * of them, never copied. 0, or an error (c is then closing). */
static int push_out(sp_conn *c, const sp_iovec *iov, int n, int stage)
{
    sp_server *srv = c->srv;
    sp_iovec all[SP__OUT_IOV + 1];
    int m = 0, i;
    if (stage && srv->batching == c) {
        size_t total = iov_total(iov, n);
        if (sp__ev_queued(c) == 0 && total <= SP__STAGE_SMALL &&
            srv->stage_len + total <= SP__STAGE_CAP) {
            for (i = 0; i < n; i++) {
                memcpy(srv->stage + srv->stage_len, iov[i].base, (size_t)iov[i].len);
                srv->stage_len += (size_t)iov[i].len;
            }
            return 0;
        }
    }
    if (srv->batching == c && srv->stage_len > 0) {
        all[m++] = sp_iovec_make(srv->stage, srv->stage_len);
        for (i = 0; i < n; i++)
            all[m++] = iov[i];
        iov = all;
    } else {
        m = n; /* nothing staged: iov as it is */
    }
    if (srv->batching == c)
        srv->stage_len = 0;
    if (m == 0)
        return 0;
    if (sp__ev_queued(c) == 0) /* nothing ahead of it: try the socket first */
        return send_now(c, iov, m);
    return queue_rest(c, iov, m, 0);
}

int sp__ev_output(sp_conn *c, const sp_iovec *iov, int n)
{
    if (c->reg.sock == SP_INVALID_SOCKET)
        return SP_EPIPE;
    /* the common reply (one message per read, a posted or timed one): nothing is queued
     * or staged for c, so it goes to the socket at once */
    if (c->out == NULL && c->srv->batching != c && n > 0)
        return send_now(c, iov, n);
    return push_out(c, iov, n, 1);
}

int sp__ev_want_drain(sp_conn *c)
{
    c->flags |= SP__CONN_DRAIN;
    if (sp__ev_queued(c) == 0) {
        /* the kernel took all: on_drain waits for room in it, and a peer that stopped
         * reading leaves none, so the send deadline runs from here (an empty queue) */
        if (c->out == NULL) {
            struct sp__outq *q = (struct sp__outq *)malloc(sizeof *q);
            if (q == NULL) {
                sp__ev_mark_closing(c, SP_CLOSE_ERROR, SP_ENOMEM);
                return SP_ENOMEM;
            }
            outq_init(c, q);
            c->out = q;
        }
        c->out->off = c->out->len = c->out->marks = 0;
        c->out->drain_at = sp__now_ms();
    }
    sp__ev_update_interest(c); /* called by the writability (at once when under low water) */
    return 0;
}

size_t sp__ev_data(sp_conn *c, const void *p, size_t n)
{
    size_t unread;
    sp__ev_begin_batch(c);
    sp__conn_handler_result(c, sp__conn_on_data(c, &c->srv->rawin, p, n, &unread), 0);
    sp__ev_end_batch(c);
    sp__ev_enlist(c);
    return c->close_reason < 0 ? unread : 0;
}

int64_t sp__ev_sendfile(sp_conn *c, sp__file f, uint64_t off, uint64_t len)
{
    sp_server *srv = c->srv;
    struct sp__outfile *e;
    int rc = 0;
    if (c->reg.sock == SP_INVALID_SOCKET || c->close_reason == SP_CLOSE_ERROR)
        rc = SP_EPIPE; /* closed, or its output cut already */
    else if (srv->batching == c && srv->stage_len > 0)
        rc = push_out(c, NULL, 0, 0); /* the replies staged before it go first */
    /* the queue (made empty when needed) takes the range behind its bytes */
    if (rc == 0 && (rc = enqueue(c, NULL, 0)) == 0 &&
        (e = (struct sp__outfile *)malloc(sizeof *e)) == NULL)
        rc = SP_ENOMEM;
    if (rc != 0) {
        sp__file_close(f);
        if (rc == SP_ENOMEM)
            sp__ev_mark_closing(c, SP_CLOSE_ERROR, rc);
        return rc;
    }
    e->next = NULL;
    e->f = f;
    e->off = off;
    e->left = len;
    e->at = c->out->len;
    e->native = srv->cfg.sendfile_mode != SP_SENDFILE_OFF && off != SP__FILE_SEQUENTIAL;
    e->pipe_buf = NULL;
    e->pipe_pos = e->pipe_len = 0;
    if (c->out->files_tail != NULL)
        c->out->files_tail->next = e;
    else
        c->out->files = e;
    c->out->files_tail = e;
    c->out->file_bytes += len;
    mark_queued(c, c->out); /* the send deadline counts from here, as for a queued reply */
    /* sent on writability (at once when the socket has room), never from here: the
     * loop's buffer that reads a file may hold the data being delivered now */
    if (sp__ev_queued(c) > srv->cfg.output_limit)
        c->flags |= SP__CONN_PAUSED;
    sp__ev_update_interest(c);
    return (int64_t)len;
}

/* Whether more than ms have passed since `since` (both times of sp__now_ms(), whose
 * milliseconds are truncated: "more than" keeps a deadline from coming up to 1 ms early). */
static int aged(uint64_t now, uint64_t since, int ms)
{
    return now >= since && now - since > (uint64_t)ms;
}

void sp__ev_check_stalled(sp_conn *c, uint64_t now)
{
    struct sp__outq *q = c->out;
    int limit = sp__conn_send_limit(c->srv), reply = sp__conn_reply_limit(c->srv);
    if (q == NULL)
        return;
    if (sp__ev_queued(c) == 0) {
        /* on_drain awaited since drain_at, the kernel without room since (the next chunk's
         * send would be blocked so long in the blocking models) */
        if (!((c->flags & SP__CONN_DRAIN) && c->close_reason < 0 && limit >= 0 &&
              aged(now, q->drain_at, limit)))
            return;
    } else {
        marks_trim(q);
        /* send_timeout_ms (or a shorter idle_timeout_ms): the peer took nothing since
         * q->progress; reply_timeout_ms: the oldest reply not wholly sent was queued at
         * mark[0].at (a peer that takes a little now and then does not stretch it; there
         * is always a mark while bytes are queued) */
        if (!(limit >= 0 && aged(now, q->progress, limit)) &&
            !(reply >= 0 && (q->marks == 0 || aged(now, q->mark[0].at, reply))))
            return;
    }
    /* what is queued is dropped, the connection closes (an orderly end or a reason given
     * before becomes the error) */
    sp__ev_out_free(c);
    sp__conn_reply_failed(c, SP_ETIMEDOUT);
    sp__ev_enlist(c);
    sp__ev_update_interest(c);
}

/* Delivery to c starts / ends: replies wait in the stage meanwhile (sp__ev_output). */
void sp__ev_begin_batch(sp_conn *c)
{
    c->srv->batching = c;
    c->srv->stage_len = 0;
}

void sp__ev_end_batch(sp_conn *c)
{
    sp_server *srv = c->srv;
    srv->batching = c; /* push_out sends the stage of the batching connection */
    if (srv->stage_len > 0 && c->close_reason != SP_CLOSE_ERROR)
        (void)push_out(c, NULL, 0, 0);
    srv->stage_len = 0;
    srv->batching = NULL;
}

int sp__ev_broadcast(sp_server *srv, const sp_conn *except, const void *msg, size_t len)
{
    size_t pos = 0;
    sp__reg *r;
    int n = 0;
    if (srv->poller == NULL)
        return 0; /* not running: no connections */
    /* sending never adds or removes a registration (closing waits for the loop) */
    while ((r = sp__poller_next_reg(srv->poller, &pos)) != NULL) {
        sp_conn *c = (sp_conn *)r->data;
        if ((r->events & SP__REG_OWNED) && c != except && c->close_reason < 0 &&
            sp_conn_send(c, msg, len) == 0)
            n++;
    }
    return n;
}

void sp__ev_flush(sp_conn *c)
{
    int r = send_queue(c);
    if (r < 0) {
        /* what is queued can never be sent: drop it, so that a connection already
         * closing for another reason (the peer's orderly close) is finalized too
         * instead of being polled for writability again and again */
        sp__ev_out_free(c);
        sp__conn_reply_failed(c, r);
        sp__ev_enlist(c);
        sp__ev_update_interest(c);
        return;
    }
    if (sp__ev_queued(c) == 0) {
        outq_release(c); /* an idle connection keeps no buffer */
        if (c->close_reason >= 0)
            sp__ev_enlist(c); /* flushed: may close now */
    }
    if ((c->flags & SP__CONN_DRAIN) && c->close_reason < 0 &&
        sp__ev_queued(c) <= c->srv->cfg.drain_low_water) {
        c->flags &= (unsigned char)~SP__CONN_DRAIN; /* asked again by on_drain */
        c->srv->cfg.handler->on_drain(c);
        outq_release(c); /* the stream's end: on_drain asked no more */
        sp__ev_enlist(c);
    }
    if ((c->flags & SP__CONN_PAUSED) && sp__ev_queued(c) < c->srv->cfg.output_limit / 2) {
        c->flags &= (unsigned char)~SP__CONN_PAUSED;
        if ((c->flags & SP__CONN_UNDRAINED) && c->dec != NULL) {
            sp_frame_decoder *d = c->dec;
            sp__ev_deliver(c, d); /* the requests that waited; may pause again */
            sp__ev_settle(c, d);
        }
    }
    sp__ev_update_interest(c);
}
