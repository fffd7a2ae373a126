/*
 * server_blocking.c - the blocking models (threads, fork): one connection loop that serves
 * a connection with blocking calls, one accept loop that hands each accepted socket to the
 * model's spawn hook (a thread here; a process in src/posix/server.c), and the thread
 * model's hooks and broadcast.
 */
#include "frame_internal.h"
#include "server.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define EV_BATCH 64

/* ---- output ------------------------------------------------------------------------ */

/* Milliseconds until `at` (0 when passed); -1 for "never" (at == 0). */
static int ms_until(uint64_t at, uint64_t now)
{
    if (at == 0)
        return -1;
    return at > now ? (at - now > INT_MAX ? INT_MAX : (int)(at - now)) : 0;
}

static int min_timeout(int a, int b)
{
    return a < 0 || (b >= 0 && b < a) ? b : a;
}

/* Wait until c's socket is readable (or writable: `write`), the server stops (when
 * watch_stop), sp_conn_close() is called from another thread (its kick, while reading), or
 * timeout_ms. 1: ready; 0: not (stop, close or timeout); or an error. In a forked child,
 * whose stop flag the parent cannot set, the stop waker (an eventfd or pipe shared across
 * fork, readable from the stop until the run ends) sets it. No thread wakes up on a timer:
 * an idle connection costs nothing until it speaks, times out or the server stops. */
static int wait_sock(sp_conn *c, int write, int timeout_ms, int watch_stop)
{
    sp_server *srv = c->srv;
    struct sp__sockslot slots[3], wslot;
    sp_sockset rd, wr;
    int rc, n = 0, stop = -1;
    memset(slots, 0, sizeof slots);
    memset(&wslot, 0, sizeof wslot);
    if (!write)
        slots[n++].sock = c->reg.sock;
    if (watch_stop)
        slots[stop = n++].sock = sp_waker_socket(srv->stop_waker);
    if (!write && SP__BLOCKING(c)->kick != NULL) /* set by this thread only */
        slots[n++].sock = sp_waker_socket(SP__BLOCKING(c)->kick);
    wslot.sock = c->reg.sock;
    rd.slots = slots;
    rd.count = (size_t)n;
    rd.cap = 3;
    wr.slots = &wslot;
    wr.count = 1;
    wr.cap = 1;
    /* a pending error (a keepalive timeout, a reset) is left for the recv / send */
    rc = sp__select(&rd, write ? &wr : NULL, NULL, timeout_ms, 0);
    if (rc < 0)
        return rc;
    if (stop >= 0 && slots[stop].ready)
        sp__atomic_store(&srv->stopping, 1);
    return write ? wslot.ready : slots[0].ready;
}

/* Whether the server is stopping; a forked child learns it from the stop waker. */
static int stop_seen(sp_conn *c)
{
    if (sp__atomic_load(&c->srv->stopping))
        return 1;
    (void)wait_sock(c, 0, 0, 1);
    return sp__atomic_load(&c->srv->stopping) != 0;
}

/* The earlier of two deadlines, 0 standing for none. */
static uint64_t earlier(uint64_t a, uint64_t b)
{
    return a == 0 || (b != 0 && b < a) ? b : a;
}

/* The deadlines of one send (one reply, or the stage with the reply behind it):
 * reply_at for the parts before part `split`, next_at for the rest (reply_timeout_ms from
 * each one's call; 0: none), and the stop's grace period (stop_at: 0 until the stop is
 * seen, kept across the calls of one transfer). The progress timeout is the send's own. */
typedef struct send_clock {
    uint64_t reply_at, next_at, stop_at;
    int split;
} send_clock;

/* ms after `at` (a time of sp__now_ms()) as a deadline, 0 for none (ms < 0): one more,
 * since the clock's milliseconds are truncated (`at` may be up to 1 ms before the time it
 * stands for), so that the wait is never shorter than ms. */
static uint64_t deadline_after(uint64_t at, int ms)
{
    return ms < 0 ? 0 : at + (uint64_t)ms + 1;
}

/* The deadline of a reply whose call was at `at` (see call_time; 0: none). */
static uint64_t clock_of(const sp_server *srv, uint64_t at)
{
    return at != 0 ? deadline_after(at, sp__conn_reply_limit(srv)) : 0;
}

/* A clock for one reply whose call was at `at`. */
static void clock_init(send_clock *k, const sp_server *srv, uint64_t at)
{
    k->reply_at = k->next_at = clock_of(srv, at);
    k->stop_at = 0;
    k->split = 0;
}

/* The time of a reply's call when reply_timeout_ms is on, else 0 (no clock read). */
static uint64_t call_time(const sp_server *srv)
{
    return sp__conn_reply_limit(srv) >= 0 ? sp__now_ms() : 0;
}

/* Whether a send has run out of time at now: SP_ETIMEDOUT when due (0: never: the peer
 * took nothing for the progress timeout, or the reply's deadline) passed, or the stop's
 * grace period (*stop_at, set once the stop is seen) ended (send_cut), else 0. */
static int send_expired(sp_conn *c, uint64_t due, uint64_t *stop_at, uint64_t now)
{
    if (*stop_at == 0 && sp__atomic_load(&c->srv->stopping))
        *stop_at = now + (uint64_t)c->srv->cfg.grace_ms;
    if (*stop_at != 0 && now >= *stop_at) {
        SP__BLOCKING(c)->send_cut = 1;
        return SP_ETIMEDOUT;
    }
    return due != 0 && now >= due ? SP_ETIMEDOUT : 0;
}

/* The socket took nothing: wait for writability within the send's time (send_expired).
 * 0 to try again, or SP_ETIMEDOUT, or the wait's error. */
static int wait_send(sp_conn *c, uint64_t due, uint64_t *stop_at)
{
    uint64_t now = sp__now_ms();
    int w = send_expired(c, due, stop_at, now);
    if (w == 0)
        w = wait_sock(c, 1, min_timeout(ms_until(due, now), ms_until(*stop_at, now)),
                      *stop_at == 0);
    /* not writable until the deadline: it passed without progress, whatever room the
     * kernel finds for a retry below its writable mark (the event model, which sends on
     * writability only, would not retry either) */
    if (w == 0)
        w = send_expired(c, due, stop_at, sp__now_ms());
    return w < 0 ? w : 0;
}

/* The first part of v[i..n) after k more bytes went out (that part shortened by what of
 * it went). */
static int advance(sp_iovec *v, int n, int i, size_t k)
{
    while (i < n && k >= (size_t)v[i].len)
        k -= (size_t)v[i++].len;
    if (i < n && k > 0)
        v[i] = sp_iovec_make((char *)v[i].base + k, (size_t)v[i].len - k);
    return i;
}

/* Send v[0..n) (modified) with the socket non-blocking, waiting for writability: fails
 * with SP_ETIMEDOUT when the peer takes nothing for the send limit or a reply's deadline
 * passes (clk), or when the stop's grace period ends (send_cut). Under the send lock. */
static int send_parts_until(sp_conn *c, sp_iovec *v, int n, send_clock *clk)
{
    int limit = sp__conn_send_limit(c->srv), i = 0, stalled = 0;
    uint64_t stall_at = 0;
    while (i < n) {
        ptrdiff_t r = sp__sendv_dontwait(c->reg.sock, v + i, n - i, 1);
        int w;
        if (r >= 0) {
            i = advance(v, n, i, (size_t)r);
            if (r > 0)
                stalled = 0; /* progress: the send limit starts again */
            continue;
        }
        if (r != SP_EAGAIN)
            return (int)r;
        /* The send limit runs from the call or the last progress; the clock is read at the
         * first refusal after it, one system call later, so that a send the kernel takes
         * at once (the common case) reads no clock. */
        if (!stalled) {
            stall_at = deadline_after(sp__now_ms(), limit);
            stalled = 1;
        }
        if ((w = wait_send(c, earlier(stall_at, i < clk->split ? clk->reply_at : clk->next_at),
                           &clk->stop_at)) != 0)
            return w;
    }
    return 0;
}

/* Send the stage and v[0..n) (not kept; a reply whose call was at `at`, see call_time) in
 * one gather call, each with its deadline: the stage's from its first reply's call; the
 * first `sent` bytes of v went already (the stage empty). Under the send lock. */
static int send_with_stage(sp_conn *c, const sp_iovec *v, int n, uint64_t at, size_t sent)
{
    sp__conn_blocking *b = SP__BLOCKING(c);
    sp_iovec all[SP__OUT_IOV + 1];
    send_clock k;
    int m = 0, i, rc = 0;
    clock_init(&k, c->srv, at);
    if (b->stage_len > 0) {
        all[m++] = sp_iovec_make(b->stage, b->stage_len);
        k.reply_at = earlier(k.reply_at, clock_of(c->srv, b->stage_at)); /* part 0 */
        k.split = 1;
    }
    for (i = 0; i < n; i++)
        all[m++] = v[i];
    b->stage_len = 0;
    if (b->send_error != 0)
        return b->send_error; /* the stream is cut: nothing more goes */
    i = advance(all, m, 0, sent);
    if (i < m)
        rc = send_parts_until(c, all + i, m - i, &k);
    if (rc < 0) {
        b->send_error = rc;
        sp__atomic_store(&b->failed, 1);
    }
    return rc;
}

int sp__blocking_output(sp_conn *c, const sp_iovec *iov, int n)
{
    sp__conn_blocking *b = SP__BLOCKING(c);
    size_t total = 0;
    uint64_t at = call_time(c->srv); /* before the lock: a broadcast may hold it */
    int i, rc = 0;
    for (i = 0; i < n; i++)
        total += (size_t)iov[i].len;
    sp__mutex_lock(&b->send_lock);
    if (c->reg.sock == SP_INVALID_SOCKET) {
        rc = SP_EPIPE; /* closed already (a broadcast racing with the end) */
    } else if (b->send_error != 0) {
        rc = b->send_error;
    } else if (b->batching && total <= SP__STAGE_SMALL && b->stage_len + total <= SP__BSTAGE_CAP &&
               (b->stage != NULL || (b->stage = (char *)malloc(SP__BSTAGE_CAP)) != NULL)) {
        /* a small reply to one of several messages of a read: gathered, sent with the
         * next big reply, before the next read, or when the stage is full */
        if (b->stage_len == 0)
            b->stage_at = at; /* the stage's deadline: its first reply's */
        for (i = 0; i < n; i++) {
            memcpy(b->stage + b->stage_len, iov[i].base, (size_t)iov[i].len);
            b->stage_len += (size_t)iov[i].len;
        }
    } else {
        /* big replies straight from the caller's buffer; the common one, with nothing
         * gathered before it, taken whole by one call (else the rest waits its turn) */
        ptrdiff_t r = b->stage_len == 0 ? sp__sendv_dontwait(c->reg.sock, iov, n, 1) : 0;
        if (r < 0 && r != SP_EAGAIN) {
            rc = b->send_error = (int)r; /* the stream is cut: the connection closes */
            sp__atomic_store(&b->failed, 1);
        } else if (b->stage_len > 0 || (size_t)(r > 0 ? r : 0) < total) {
            rc = send_with_stage(c, iov, n, at, r > 0 ? (size_t)r : 0);
        }
    }
    sp__mutex_unlock(&b->send_lock);
    return rc;
}

/* A file's send: its deadlines (as send_parts') while an OS call waits (TransmitFile):
 * progress (stall_at, restarted when a call returns what it sent: TransmitFile's once per
 * 64 KiB, so a slower reader is cut as one that stopped) and the whole range's
 * (k.reply_at). */
typedef struct file_wait {
    sp_conn *c;
    uint64_t stall_at;
    send_clock k;
} file_wait;

static int file_waiting(void *arg)
{
    file_wait *w = (file_wait *)arg;
    (void)stop_seen(w->c); /* a forked child learns of the stop from its waker */
    return send_expired(w->c, earlier(w->stall_at, w->k.reply_at), &w->k.stop_at, sp__now_ms());
}

/* Send len bytes of f from off (SP__FILE_SEQUENTIAL: a pipe, read where it is) under the
 * send lock, the stage empty: the OS's file transmission while it takes them, else reads
 * into the stage and sends; the deadlines of send_parts, the range one reply whose call
 * was at `at`. 0 or the error (SP_EEOF: the file ended early). */
static int send_file(sp_conn *c, sp__file f, uint64_t off, uint64_t len, uint64_t at)
{
    sp__conn_blocking *b = SP__BLOCKING(c);
    sp_server *srv = c->srv;
    int limit = sp__conn_send_limit(srv), rc;
    int seq = off == SP__FILE_SEQUENTIAL,
        native = srv->cfg.sendfile_mode != SP_SENDFILE_OFF && !seq;
    uint64_t unchecked = 0; /* bytes sent since the stop was last looked for */
    file_wait w;
    w.c = c;
    clock_init(&w.k, srv, at);
    w.stall_at = deadline_after(sp__now_ms(), limit);
    while (len > 0) {
        size_t want = len < SP__FILE_CHUNK ? (size_t)len : SP__FILE_CHUNK;
        ptrdiff_t r = SP_ENOTSUP;
        /* a reader fast enough never makes a send wait: the stop's grace period is
         * looked at once per SP__FILE_CHUNK bytes too */
        if (unchecked >= SP__FILE_CHUNK) {
            unchecked = 0;
            if ((rc = file_waiting(&w)) != 0)
                return rc;
        }
        if (native &&
            (r = sp__sendfile(c->reg.sock, f, off, want, srv->cfg.sendfile_mode == SP_SENDFILE_ON,
                              file_waiting, &w)) == SP_ENOTSUP)
            native = 0; /* not for this file or socket: nothing was sent */
        if (!native) {
            if (b->stage == NULL && (b->stage = (char *)malloc(SP__BSTAGE_CAP)) == NULL)
                return SP_ENOMEM;
            r = sp__file_pread(f, b->stage, want < SP__BSTAGE_CAP ? want : SP__BSTAGE_CAP, off);
            if (r > 0) {
                sp_iovec v = sp_iovec_make(b->stage, (size_t)r);
                if ((rc = send_parts_until(c, &v, 1, &w.k)) != 0)
                    return rc;
            }
        }
        if (r == 0)
            return SP_EEOF; /* the file ended before offset + len */
        if (r > 0) {
            off += seq ? 0 : (uint64_t)r; /* a pipe is read where it is */
            len -= (uint64_t)r;
            unchecked += (uint64_t)r;
            if (limit >= 0)
                w.stall_at = deadline_after(sp__now_ms(), limit); /* progress */
            continue;
        }
        if (r != SP_EAGAIN)
            return (int)r;
        if ((rc = wait_send(c, earlier(w.stall_at, w.k.reply_at), &w.k.stop_at)) != 0)
            return rc;
    }
    return 0;
}

int64_t sp__blocking_sendfile(sp_conn *c, sp__file f, uint64_t off, uint64_t len)
{
    sp__conn_blocking *b = SP__BLOCKING(c);
    uint64_t at = call_time(c->srv); /* before the lock: a broadcast may hold it */
    int rc, nbio;
    sp__mutex_lock(&b->send_lock);
    if (c->reg.sock == SP_INVALID_SOCKET) {
        rc = SP_EPIPE;
    } else {
        /* the OS's sendfile has no "don't wait" flag: a socket in blocking mode (brecv)
         * is made non-blocking for it. Its loop is in no blocking recv meanwhile (this is
         * its own thread, or another that holds it, which keeps the loop polling), unless
         * the hold began during that recv: Linux reads the mode when a call starts; a BSD
         * recv may return EAGAIN, which reads nothing */
        nbio = b->brecv;
        if (nbio && (rc = sp_set_nonblocking(c->reg.sock, 1)) != 0)
            nbio = 0; /* cannot send without blocking: as a failed send */
        else if ((rc = send_with_stage(c, NULL, 0, 0, 0)) == 0)
            rc = send_file(c, f, off, len, at);
        if (rc != 0) {
            b->send_error = rc; /* the stream is cut: the connection closes */
            sp__atomic_store(&b->failed, 1);
        }
        if (nbio)
            (void)sp_set_nonblocking(c->reg.sock, 0); /* FIONBIO on an open socket */
    }
    sp__mutex_unlock(&b->send_lock);
    return rc != 0 ? rc : (int64_t)len;
}

size_t sp__blocking_queued(const sp_conn *c)
{
    sp__conn_blocking *b = SP__BLOCKING((sp_conn *)(uintptr_t)c);
    size_t n;
    sp__mutex_lock(&b->send_lock);
    n = b->stage_len;
    sp__mutex_unlock(&b->send_lock);
    return n;
}

int sp__blocking_want_drain(sp_conn *c)
{
    c->flags |= SP__CONN_DRAIN; /* on the connection's own thread */
    return 0;
}

/* Wake b's loop if it blocks in recv between messages (read_once): the caller set the
 * flag the loop looks at after announcing such a recv (srv->stopping, close_asked) first,
 * so that either the loop sees the flag and does not block, or this sees the announcement
 * (rstate odd) and shuts the socket's reading down, which makes the recv return (0, or
 * what had arrived) and tells the loop (rstate >= 2 after its recv) why. Under the send
 * lock: the socket is closed under it only, so the shutdown never reaches a reused
 * descriptor. */
static void wake_recv(sp__conn_blocking *b)
{
    if (!(sp__atomic_load(&b->rstate) & 1))
        return; /* not in such a recv: it sees the flag before it blocks */
    sp__mutex_lock(&b->send_lock);
    if (sp__atomic_add(&b->rstate, 2) & 1) /* still announced (or back, unseen) */
        (void)sp_shutdown(b->c.reg.sock, SP_SHUT_RD);
    sp__mutex_unlock(&b->send_lock);
}

/* From the connection's own thread (a handler, a timer) or from another that holds a
 * reference (sp_conn_hold: a worker, a posted function): the connection's loop gives the
 * close reason, after the callback that runs or at once where it waits for input (woken
 * by its kick, or in a blocking recv by wake_recv: a hold taken while the loop blocks, by
 * a thread that knew the handle otherwise, finds it there). The socket is closed by that
 * loop alone (never under a recv or a select of another thread; Windows' shutdown() wakes
 * neither: docs/platforms.md). */
void sp__blocking_close(sp_conn *c)
{
    sp__conn_blocking *b = SP__BLOCKING(c);
    sp__atomic_store(&b->close_asked, 1);
    wake_recv(b);
    if (sp__atomic_load(&c->refs) < 2)
        return; /* not held: called on its own thread, which sees the flag */
    sp__mutex_lock(&b->send_lock);
    if (b->kick != NULL)
        (void)sp_waker_wake(b->kick);
    sp__mutex_unlock(&b->send_lock);
}

/* Whether sp_conn_close() was called: the connection ends (SP_CLOSE_HANDLER). */
static int close_asked(sp_conn *c)
{
    if (!sp__atomic_load(&SP__BLOCKING(c)->close_asked))
        return 0;
    sp__conn_end(c, SP_CLOSE_HANDLER, 0);
    return 1;
}

/* Before a wait for input: while another thread holds c, it may call sp_conn_close, which
 * must wake this wait; the kick is made then (once) and kept until the end. 1: closing
 * (asked before or while the kick was made). */
static int ready_to_wait(sp_conn *c)
{
    sp__conn_blocking *b = SP__BLOCKING(c);
    sp_waker *k;
    if (close_asked(c))
        return 1;
    if (b->kick != NULL || sp__atomic_load(&c->refs) < 2 || sp_waker_create(&k) != 0)
        return 0; /* without a kick (out of resources) a close waits for input or a timeout */
    sp__mutex_lock(&b->send_lock); /* a closer wakes it under the lock: after this, or
                                    * before, when the flag it set is seen below */
    b->kick = k;
    sp__mutex_unlock(&b->send_lock);
    return close_asked(c);
}

/* Gather small replies from now (on) or not (off: the next reply takes the stage with
 * it); flush: send what was gathered now. */
static void set_batching(sp_conn *c, int on, int flush)
{
    sp__conn_blocking *b = SP__BLOCKING(c);
    /* batching is written on this thread only, and the stage fills only while it is on:
     * with nothing to change and nothing that can be staged, no lock (two lock pairs less
     * per message of a pingpong) */
    if (on == b->batching && !(flush && b->staged))
        return;
    sp__mutex_lock(&b->send_lock);
    b->batching = on;
    if (on)
        b->staged = 1;
    if (flush && b->stage_len > 0)
        (void)send_with_stage(c, NULL, 0, 0, 0);
    if (flush && !on)
        b->staged = 0; /* flushed, and nothing gathers until it is on again */
    sp__mutex_unlock(&b->send_lock);
}

/* ---- the connection loop ------------------------------------------------------------- */

/* The handler returned rc: a failed reply closes (SP_CLOSE_ERROR with its error, or
 * SP_CLOSE_STOPPING when the stop cut it), else a negative rc (SP_CLOSE_HANDLER). */
static void handler_returned(sp_conn *c, int rc)
{
    int err, cut;
    if (!sp__atomic_load(&SP__BLOCKING(c)->failed)) { /* the common case: no lock */
        if (!close_asked(c))
            sp__conn_handler_result(c, rc, 0);
        return;
    }
    sp__mutex_lock(&SP__BLOCKING(c)->send_lock);
    err = SP__BLOCKING(c)->send_error;
    cut = SP__BLOCKING(c)->send_cut;
    sp__mutex_unlock(&SP__BLOCKING(c)->send_lock);
    if (close_asked(c))
        return; /* sp_conn_close(), whatever failed after it */
    if (cut)
        sp__conn_end(c, SP_CLOSE_STOPPING, 0);
    else if (err != 0)
        sp__conn_reply_failed(c, err);
    else
        sp__conn_handler_result(c, rc, 0);
}

/* After a handler call: its result, then the drains it asked for (a send returns when
 * the kernel took the bytes, so nothing is queued: on_drain runs at once). */
static void after_callback(sp_conn *c, int rc)
{
    handler_returned(c, rc);
    while (c->close_reason < 0 && (c->flags & SP__CONN_DRAIN)) {
        set_batching(c, 0, 1);
        handler_returned(c, 0);
        if (c->close_reason >= 0 || stop_seen(c))
            break; /* stopping: the loop closes it between messages */
        c->flags &= (unsigned char)~SP__CONN_DRAIN;
        c->srv->cfg.handler->on_drain(c);
        handler_returned(c, 0);
    }
}

/* Raw bytes to on_data, their replies gathered; returns how many at their end the
 * handler gave back for the framer (sp_conn_unread). */
static size_t deliver_data(sp_conn *c, const void *p, size_t n)
{
    size_t unread;
    set_batching(c, 1, 0);
    after_callback(c, sp__conn_on_data(c, &SP__BLOCKING(c)->rawin, p, n, &unread));
    return c->close_reason < 0 ? unread : 0;
}

/* The input of a connection loop: its read buffer, and the bytes of the last read that no
 * message has taken yet (rest, rlen: whole messages split from there, as the event
 * model does, without a copy into the decoder; a cut one goes to the decoder). held: the
 * decoder may hold bytes (0: it is known to hold none, so it is not asked). */
typedef struct sp__input {
    char *buf;
    size_t cap;
    const unsigned char *rest;
    size_t rlen;
    int held;
} sp__input;

/* Whether c holds no part of a message: neither in the decoder nor in the input. */
static int between_messages(const sp_conn *c, const sp__input *in)
{
    return in->rlen == 0 && (!in->held || sp__conn_between_messages(c));
}

/* Bytes for the decoder (the start of a cut message, or what on_data gave back); on
 * failure the connection ends. */
static void hold_in_decoder(sp_conn *c, sp__input *in, const void *p, size_t n)
{
    int rc = sp__frame_decoder_load(c->dec, p, n);
    in->held = 1;
    if (rc != 0)
        sp__conn_end(c, SP_CLOSE_ERROR, rc);
}

/* One read: into in->buf (raw input, or framed input between messages: its messages are
 * split from there), else into the decoder (the rest of a message it holds); raw bytes
 * delivered, those the handler gave back to the (empty) decoder. Without `block` the
 * socket is readable (polled): the recv does not wait. With it (may_block said so), the
 * recv waits in the kernel, the connection announced in rstate (wake_recv): a recv the
 * stop or sp_conn_close() woke ends the connection with their reason, whatever it
 * returned (bytes that arrived with the stop are dropped, as when the stop is seen before
 * them); a timeout (SO_RCVTIMEO) reads nothing. The bytes read, or <= 0. */
static ptrdiff_t read_once(sp_conn *c, sp__input *in, int block)
{
    sp__conn_blocking *b = SP__BLOCKING(c);
    int raw = c->dec == NULL || (c->flags & SP__CONN_RAW), split = !raw && !in->held;
    ptrdiff_t got;
    size_t k;
    if (block) {
        (void)sp__atomic_add(&b->rstate, 1); /* announce, then look (wake_recv) */
        if (sp__atomic_load(&c->srv->stopping) || sp__atomic_load(&b->close_asked)) {
            (void)sp__atomic_add(&b->rstate, -1);
            return 0; /* the loop sees them */
        }
    }
    if (raw || split)
        got = sp__recv_dontwait(c->reg.sock, in->buf, in->cap, !block);
    else if ((got = sp__frame_read(c->dec, c->reg.sock, SP_FRAME_RECV_SIZE, !block, NULL)) > 0)
        in->held = 1;
    if (block && sp__atomic_add(&b->rstate, -1) >= 2) {
        if (!close_asked(c)) /* else SP_CLOSE_HANDLER */
            sp__conn_end(c, SP_CLOSE_STOPPING, 0);
        return 0;
    }
    /* SO_RCVTIMEO ran out: the OS said EAGAIN, which a blocking socket's recv reports as
     * SP_ETIMEDOUT (a keepalive timeout, the OS's ETIMEDOUT, stays an error) */
    if (block && got == SP_ETIMEDOUT && sp_err_from_native(sp_last_native_error()) == SP_EAGAIN)
        got = SP_EAGAIN;
    sp__conn_read_result(c, got);
    if (got > 0 && split) {
        in->rest = (const unsigned char *)in->buf;
        in->rlen = (size_t)got;
    } else if (got > 0 && raw && (k = deliver_data(c, in->buf, (size_t)got)) > 0) {
        hold_in_decoder(c, in, in->buf + got - k, k);
    }
    return got;
}

/* SO_RCVTIMEO for an idle timeout of idle ms (> SP__RCVTIMEO_MARGIN_MS * 2): that much
 * shorter, so that the OS's rounding (to its clock tick: Linux's sock_set_timeout rounds
 * up to a jiffy, 4 ms at HZ 250) never makes the idle close late; the rest is waited for
 * with poll, once per idle period, not once per message. */
#define SP__RCVTIMEO_MARGIN_MS 10

/* Whether c's loop may wait for input in recv itself (read_once's block) now, rather than
 * poll first: the thread model where a shutdown wakes a blocked recv (brecv), not
 * stopping (stop_at 0: the wait would need the stop's grace deadline), between messages
 * (a stop would cut a message it is in the middle of), no timers of its own, not held by
 * another thread (the kick path: sp_conn_close from there), and an idle deadline (last +
 * idle) that SO_RCVTIMEO bounds (set here when its value changes: once per connection). */
static int may_block(sp_conn *c, const sp__input *in, uint64_t stop_at, uint64_t last, uint64_t now)
{
    sp__conn_blocking *b = SP__BLOCKING(c);
    int idle = c->srv->cfg.idle_timeout_ms, want = 0;
    if (!b->brecv || stop_at != 0 || b->timers.n > 0 || !between_messages(c, in) ||
        sp__atomic_load(&c->refs) >= 2)
        return 0;
    if (idle > 0) {
        if (idle <= 2 * SP__RCVTIMEO_MARGIN_MS)
            return 0; /* too short for the margin: poll */
        want = idle - SP__RCVTIMEO_MARGIN_MS;
        if (ms_until(deadline_after(last, idle), now) <= want)
            return 0; /* less left than a whole recv timeout: poll for the rest */
    }
    if (want != b->rcvtimeo) {
        if (sp__setopt(c->reg.sock, SP__OPT_RCVTIMEO, want) != 0)
            return 0;
        b->rcvtimeo = want;
    }
    return 1;
}

/* The handler's call for one message; its replies gather while more bytes wait. */
static void deliver_msg(sp_conn *c, const sp_frame_msg *msg, int more)
{
    set_batching(c, more, 0);
    after_callback(c, c->srv->cfg.handler->on_message(c, msg->data, msg->len));
}

/* Hand the next whole message to the handler: from the input where it lies, else from the
 * decoder; 1 if there was one. The start of a cut message (or bytes only the decoder can
 * judge: an oversize one) goes from the input to the decoder. After a switch to raw input,
 * the bytes left go to on_data. */
static int deliver_one(sp_conn *c, sp__input *in)
{
    sp_frame_msg msg;
    int rc;
    if (in->rlen > 0) {
        size_t adv;
        if (sp__frame_split(c->srv->cfg.framer, in->rest, in->rlen, &msg, &adv)) {
            in->rest += adv;
            in->rlen -= adv;
            deliver_msg(c, &msg, in->rlen > 0);
            if ((c->flags & SP__CONN_RAW) && c->close_reason < 0 && in->rlen > 0) {
                /* the bytes after it to on_data; those it gives back to the decoder */
                size_t k = deliver_data(c, in->rest, in->rlen);
                if (k > 0)
                    hold_in_decoder(c, in, in->rest + in->rlen - k, k);
                in->rlen = 0;
            }
            return 1;
        }
        hold_in_decoder(c, in, in->rest, in->rlen);
        in->rlen = 0;
        if (c->close_reason >= 0)
            return 0;
    }
    if (!in->held)
        return 0; /* the decoder holds nothing */
    rc = sp_frame_decoder_next(c->dec, &msg);
    if (rc == 1) {
        deliver_msg(c, &msg, sp_frame_decoder_pending(c->dec) > 0);
        if ((c->flags & SP__CONN_RAW) && c->close_reason < 0) {
            const void *p;
            size_t n = sp__frame_decoder_rest(c->dec, &p);
            /* what on_data gives back stays for the framer (the next deliver_one) */
            sp__frame_decoder_skip(c->dec, n - (n > 0 ? deliver_data(c, p, n) : 0));
        }
        return 1;
    }
    sp__conn_decode_result(c, rc);
    in->held = sp_frame_decoder_pending(c->dec) > 0;
    return 0;
}

/* Wait for input until the idle deadline (from last), the stop's grace period (stop_at) or
 * c's next timer, at `now`, and read it: in recv itself where may_block says so, else after
 * a poll. 1 when bytes were read. */
static int wait_and_read(sp_conn *c, sp__input *in, uint64_t stop_at, uint64_t last, uint64_t now)
{
    int idle = c->srv->cfg.idle_timeout_ms, timeout, r;
    if (may_block(c, in, stop_at, last, now)) {
        /* no poll first: two system calls per request and reply, as a plain
         * thread-per-connection server (docs/benchmarks.md, issue 14) */
        return read_once(c, in, 1) > 0;
    }
    timeout = ms_until(idle > 0 ? deadline_after(last, idle) : 0, now);
    if (stop_at != 0)
        timeout = min_timeout(timeout, ms_until(stop_at, now));
    timeout = sp__timers_timeout(&SP__BLOCKING(c)->timers, now, timeout);
    r = wait_sock(c, 0, timeout, stop_at == 0);
    if (r < 0)
        sp__conn_end(c, SP_CLOSE_ERROR, r);
    return r > 0 && !close_asked(c) && read_once(c, in, 0) > 0;
}

void sp__conn_serve_blocking(sp_conn *c)
{
    sp_server *srv = c->srv;
    const sp_server_handler *h = srv->cfg.handler;
    sp__conn_blocking *b = SP__BLOCKING(c);
    uint64_t last = sp__now_ms(), stop_at = 0, fresh = 0;
    int idle = srv->cfg.idle_timeout_ms;
    sp__input in;
    sp_waker *kick;
    /* raw input reads SP__READ_CHUNK at once (as the event model); framed input as much as
     * a decoder would (SP_FRAME_RECV_SIZE), and a header more, so that a 16 KiB message
     * arrives whole where it lies (the heap per connection stays that of the decoder's
     * buffer, which a connection now makes only for a cut message) */
    in.cap = h->on_data != NULL ? SP__READ_CHUNK : SP_FRAME_RECV_SIZE + SP_FRAME_HEADER_MAX;
    in.rest = NULL;
    in.rlen = 0;
    in.held = 0;
    if ((in.buf = (char *)malloc(in.cap)) == NULL)
        sp__conn_end(c, SP_CLOSE_ERROR, SP_ENOMEM);
    if (c->close_reason < 0 && h->on_open) {
        h->on_open(c);
        after_callback(c, 0);
    }
    while (c->close_reason < 0) {
        /* The clock is read only when something runs on it (the stop's grace period, the
         * idle timeout, the connection's timers; now is 0 otherwise), and once per pass:
         * `fresh` is a reading taken at the end of the last pass, with nothing waited for
         * since (issue 14: a message without timeouts costs no clock reading). */
        int stopping = stop_at != 0 || sp__atomic_load(&srv->stopping) != 0, busy;
        uint64_t now = fresh != 0                                ? fresh
                       : stopping || idle > 0 || b->timers.n > 0 ? sp__now_ms()
                                                                 : 0;
        fresh = 0;
        if (stop_at == 0 && stopping)
            stop_at = now + (uint64_t)srv->cfg.grace_ms;
        if (stop_at != 0 && (between_messages(c, &in) || now >= stop_at)) {
            sp__conn_end(c, SP_CLOSE_STOPPING, 0);
            break;
        }
        if (sp__conn_idle_expired(c, last, now)) {
            sp__conn_end(c, SP_CLOSE_IDLE, 0);
            break;
        }
        if (c->dec != NULL && !(c->flags & SP__CONN_RAW) && deliver_one(c, &in)) {
            if (idle > 0)
                last = fresh = sp__now_ms(); /* a whole message: the idle clock restarts */
            continue;
        }
        /* its timers, on its thread; the replies gathered go out before the next read; then
         * a failed reply (a timer's, the flush's, a broadcast's) or a drain request, as a
         * handler's: looked at only when one of them could have happened */
        busy = b->timers.n > 0 || b->staged || (c->flags & SP__CONN_DRAIN) ||
               sp__atomic_load(&b->failed);
        sp__timers_run(&b->timers, now);
        set_batching(c, 0, 1);
        if (busy)
            after_callback(c, 0);
        if (c->close_reason >= 0)
            break;
        if (now == 0 && b->timers.n > 0)
            now = sp__now_ms(); /* the first timer, set by the callback above (on_drain) */
        if (ready_to_wait(c))
            break;
        if (wait_and_read(c, &in, stop_at, last, now) && idle > 0 && sp__conn_bytes_restart_idle(c))
            last = fresh = sp__now_ms();
    }
    set_batching(c, 0, 1); /* before on_close (a failed send changes no reason now) */
    if (h->on_close)
        h->on_close(c, c->close_reason, c->close_error);
    sp__timers_conn_closed(c); /* after on_close, which may cancel them itself */
    free(in.buf);
    sp__mutex_lock(&b->send_lock); /* a broadcast may be sending on it */
    sp_close(c->reg.sock);
    c->reg.sock = SP_INVALID_SOCKET;
    kick = b->kick; /* a closer wakes it under the lock only */
    b->kick = NULL;
    sp__mutex_unlock(&b->send_lock);
    sp_waker_destroy(kick);
}

/* ---- the accept loop ----------------------------------------------------------------- */

static void spawn_one(sp_server *srv, sp_socket_t s, const sp_addr *peer)
{
    (void)srv->model->spawner->spawn(srv, s, peer);
}

/* Accept as fast as clients arrive: every wakeup takes a burst from each ready listener
 * (readiness is level-triggered: a longer backlog wakes the loop again at once) and
 * reaps what ended; nothing waits on a timer but a back-off. */
int sp__blocking_run(sp_server *srv)
{
    const sp__spawner *sp = srv->model->spawner;
    sp_event evs[EV_BATCH];
    int rc = sp__accept_setup(srv);
    while (rc == 0) {
        int n, i, stopping;
        n = sp_poller_wait(srv->poller, evs, EV_BATCH,
                           sp__timers_timeout(&srv->timers, sp__now_ms(),
                                              sp__accept_timeout(srv, sp->timeout(srv))));
        if (n < 0) {
            rc = n;
            break;
        }
        srv->now = sp__now_ms();
        for (i = 0; i < n; i++) {
            sp_socket_t *l;
            if (evs[i].data == (void *)&srv->waker)
                (void)sp_waker_drain(srv->waker);
            else if ((l = sp__accept_listener(srv, &evs[i])) != NULL)
                sp__accept_burst(srv, *l, spawn_one);
            else
                sp->reap(srv, &evs[i]);
        }
        sp->reap(srv, NULL); /* first: what ended frees room for new connections */
        sp__timers_run(&srv->timers, sp__now_ms()); /* the server's, on this thread */
        stopping = sp__atomic_load(&srv->stopping) != 0;
        sp__accept_resume(srv, stopping);
        if (stopping)
            break;
    }
    /* Stopping (or a fatal error, which stops as well): the stop waker is readable, so
     * every connection sees it (and finishes a message it is in the middle of within the
     * grace period); those blocked in recv are woken by the spawner's finish. */
    sp__atomic_store(&srv->stopping, 1);
    (void)sp_waker_wake(srv->stop_waker);
    sp->finish(srv);
    sp__accept_teardown(srv);
    return rc;
}

/* ---- the thread model ---------------------------------------------------------------- */

int sp__accept_nonblocking(const sp_server *srv)
{
    return srv->model != &sp__model_threads || !sp__server_recv_wakes();
}

static void conn_thread(void *arg)
{
    sp_conn *c = (sp_conn *)arg;
    sp_server *srv = c->srv;
    sp__conn_serve_blocking(c);
    /* Finished: tell the accepting thread, which joins and frees it. */
    sp__atomic_store(&SP__BLOCKING(c)->done, 1);
    (void)sp_waker_wake(srv->waker);
}

static void link_conn(sp_server *srv, sp__conn_blocking *b)
{
    b->prev = NULL;
    b->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = b;
    srv->conns = b;
}

static void unlink_conn(sp_server *srv, sp__conn_blocking *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        srv->conns = b->next;
    if (b->next)
        b->next->prev = b->prev;
    b->prev = b->next = NULL;
}

static int thread_spawn(sp_server *srv, sp_socket_t s, const sp_addr *peer)
{
    sp_conn *c = sp__conn_new(srv, s, peer);
    int rc;
    if (c == NULL) {
        sp_close(s);
        return SP_ENOMEM;
    }
    /* where a shutdown wakes a blocked recv, the loop waits in recv itself between
     * messages: the socket accepted blocking (every other call on it says "don't wait") */
    SP__BLOCKING(c)->brecv = !sp__accept_nonblocking(srv);
    sp__mutex_lock(&srv->lock);
    link_conn(srv, SP__BLOCKING(c));
    rc = sp__thread_start(&SP__BLOCKING(c)->thread, conn_thread, c);
    if (rc != 0)
        unlink_conn(srv, SP__BLOCKING(c));
    sp__mutex_unlock(&srv->lock);
    if (rc != 0) {
        sp_close(s);
        sp__conn_free(c);
    }
    return rc;
}

/* Join and free the connections whose thread is done and that no broadcast is sending
 * to; all of them when `all` (waiting for the threads and the broadcasts to end). */
static void reap_threads(sp_server *srv, int all)
{
    for (;;) {
        sp__conn_blocking *b, *done = NULL;
        int busy = 0;
        sp__mutex_lock(&srv->lock);
        for (b = srv->conns; b != NULL; b = b->next) {
            if (b->refs > 0) {
                busy = 1;
                continue;
            }
            if (all || sp__atomic_load(&b->done))
                break;
        }
        if (b != NULL) {
            unlink_conn(srv, b);
            done = b;
        }
        sp__mutex_unlock(&srv->lock);
        if (done == NULL) {
            if (!all || !busy)
                return;
            sp__sleep_ms(1); /* stopping: a broadcast still holds a connection */
            continue;
        }
        sp__thread_join(done->thread);
        sp__conn_free(&done->c);
    }
}

static void thread_reap(sp_server *srv, const sp_event *ev)
{
    if (ev == NULL) /* the threads that end wake the loop */
        reap_threads(srv, 0);
}

/* Stopping (srv->stopping set): wake the connections blocked in recv between messages
 * (wake_recv; the others see the stop waker), then join them all. On the accepting thread,
 * which owns the list (sp_server_stop itself may run in a signal handler). */
static void thread_finish(sp_server *srv)
{
    sp__conn_blocking *b;
    sp__mutex_lock(&srv->lock);
    for (b = srv->conns; b != NULL; b = b->next)
        wake_recv(b);
    sp__mutex_unlock(&srv->lock);
    reap_threads(srv, 1);
}

static int thread_timeout(sp_server *srv)
{
    (void)srv;
    return -1; /* a thread that ends wakes the loop */
}

static int thread_broadcast(sp_server *srv, const sp_conn *except, const void *msg, size_t len)
{
    sp__conn_blocking *b, **list;
    size_t n = 0, i;
    int sent = 0;
    /* Take a reference on each connection under the lock, then send without it, so that
     * a slow client delays this broadcast only, not the server's other work (accepting,
     * other broadcasts, connections ending). */
    sp__mutex_lock(&srv->lock);
    for (b = srv->conns; b != NULL; b = b->next)
        n++;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sized right */
    list = (sp__conn_blocking **)malloc((n ? n : 1) * sizeof *list);
    if (list == NULL) {
        sp__mutex_unlock(&srv->lock);
        return SP_ENOMEM;
    }
    n = 0;
    for (b = srv->conns; b != NULL; b = b->next) {
        if (&b->c != except && !sp__atomic_load(&b->done)) {
            b->refs++;
            list[n++] = b;
        }
    }
    sp__mutex_unlock(&srv->lock);
    for (i = 0; i < n; i++)
        if (sp_conn_send(&list[i]->c, msg, len) == 0)
            sent++;
    sp__mutex_lock(&srv->lock);
    for (i = 0; i < n; i++)
        list[i]->refs--;
    sp__mutex_unlock(&srv->lock);
    free(list);
    (void)sp_waker_wake(srv->waker); /* connections that ended meanwhile can be reaped */
    return sent;
}

static const sp__spawner thread_spawner = {thread_spawn, thread_reap, thread_finish,
                                           thread_timeout};

const sp__model sp__model_threads = {
    SP_MODEL_THREADS,        sizeof(sp__conn_blocking), 1,
    sp__blocking_run,        sp__blocking_output,       sp__blocking_queued,
    sp__blocking_want_drain, sp__blocking_close,        thread_broadcast,
    &thread_spawner,
};
