/*
 * server_events.c - the event model: one thread, non-blocking sockets, an sp_poller.
 *
 * Reads go into the server's one read buffer (raw connections' too), and whole messages
 * to the handler from there; a connection gets a decoder of its own only while it holds
 * the start of a message (or messages waiting out back-pressure), and an
 * output queue only while the socket does not take a reply at once (flushed on
 * writability: server_events_out.c). So an idle connection is one small struct, its
 * poller registration embedded. The loop never blocks on one client.
 */
#include "frame_internal.h"
#include "server.h"

#include <stdint.h>
#include <stdlib.h>

#define EV_BATCH     256
#define READS_PER_EV 4 /* reads per readiness: fairness between busy connections */

/* Put c on the closing list when it has a close reason (server_conn.c's rules). */
void sp__ev_enlist(sp_conn *c)
{
    sp_server *srv = c->srv;
    if (c->close_reason >= 0 && !(c->flags & SP__CONN_CLOSING)) {
        c->flags |= SP__CONN_CLOSING;
        c->next_closing = srv->closing;
        srv->closing = c;
    }
}

/* Mark c for closing (the first reason wins) and put it on the closing list. */
void sp__ev_mark_closing(sp_conn *c, int reason, int error)
{
    sp__conn_end(c, reason, error);
    sp__ev_enlist(c);
}

static void events_close(sp_conn *c)
{
    sp__ev_mark_closing(c, SP_CLOSE_HANDLER, 0);
}

/* After a read or a resume: a connection keeps its decoder d (c->dec) only while it holds
 * bytes (the start of a message, or messages waiting out back-pressure). */
void sp__ev_settle(sp_conn *c, sp_frame_decoder *d)
{
    if (c->close_reason >= 0 || sp_frame_decoder_pending(d) == 0) {
        sp_frame_decoder_free(d);
        free(d);
        c->dec = NULL;
    }
}

/* Hand the complete messages in d to the handler, until its replies fill the output
 * queue past the limit: the rest wait in the connection's decoder (undrained) until the
 * queue has drained below half the limit, so memory stays bounded by the limit plus one
 * reply however many requests one read brought. */
void sp__ev_deliver(sp_conn *c, sp_frame_decoder *d)
{
    const sp_server_handler *h = c->srv->cfg.handler;
    sp_frame_msg msg;
    int r = 0;
    for (;;) {
        const void *p;
        size_t n, k;
        c->flags &= (unsigned char)~SP__CONN_UNDRAINED;
        sp__ev_begin_batch(c);
        while (!(c->flags & (SP__CONN_PAUSED | SP__CONN_RAW)) &&
               (r = sp_frame_decoder_next(d, &msg)) > 0) {
            if (c->close_reason >= 0)
                continue; /* closing: drain without delivering */
            /* the last message of the read with nothing staged: its reply needs no stage */
            c->srv->batching = c->srv->stage_len > 0 || sp_frame_decoder_pending(d) > 0 ? c : NULL;
            /* a whole message: the idle clock restarts */
            c->last_active = (uint32_t)c->srv->now;
            sp__conn_handler_result(c, h->on_message(c, msg.data, msg.len), 0);
            sp__ev_enlist(c);
        }
        sp__ev_end_batch(c);
        if (!(c->flags & SP__CONN_RAW) || c->close_reason >= 0)
            break;
        /* switched to raw input: the bytes after the message go to on_data; those it
         * gives back (sp_conn_unread, framed again) are decoded from where they lie */
        n = sp__frame_decoder_rest(d, &p);
        k = n > 0 ? sp__ev_data(c, p, n) : 0;
        sp__frame_decoder_skip(d, n - k);
        if (k == 0)
            return;
    }
    if ((c->flags & SP__CONN_PAUSED) && (r > 0 || sp_frame_decoder_pending(d) > 0))
        c->flags |= SP__CONN_UNDRAINED; /* resumed by sp__ev_flush() */
    sp__conn_decode_result(c, r);
    sp__ev_enlist(c);
}

/* Hand the whole messages at the front of one read, p[0, n), to the handler where they
 * lie (until back-pressure pauses c or it is closing); returns the bytes they took. */
static size_t deliver_messages(sp_conn *c, const unsigned char *p, size_t n, size_t done)
{
    sp_server *srv = c->srv;
    const sp_framer *f = srv->cfg.framer;
    int (*on_message)(sp_conn *, const void *, size_t) = srv->cfg.handler->on_message;
    size_t adv;
    sp_frame_msg msg;
    int batch = 0;
    while (done < n && !(c->flags & (SP__CONN_PAUSED | SP__CONN_RAW)) && c->close_reason < 0 &&
           sp__frame_split(f, p + done, n - done, &msg, &adv)) {
        int rc;
        done += adv;
        /* replies wait in the stage while more messages follow (one send for all); a
         * read of one message has no batch: its reply goes out at once */
        if (done < n && !batch) {
            sp__ev_begin_batch(c);
            batch = 1;
        }
        srv->batching = srv->stage_len > 0 || done < n ? c : NULL;
        /* a whole message: the idle clock restarts */
        c->last_active = (uint32_t)srv->now;
        rc = on_message(c, msg.data, msg.len);
        if (rc < 0)
            sp__conn_handler_result(c, rc, 0);
        if (c->close_reason >= 0)
            sp__ev_enlist(c);
    }
    if (batch)
        sp__ev_end_batch(c);
    return done;
}

/* deliver_messages from the start of p; after a switch to raw input the bytes after the
 * message go to on_data, and those it gives back (sp_conn_unread) to the framer again. */
static size_t deliver_read(sp_conn *c, const unsigned char *p, size_t n)
{
    size_t done = 0;
    for (;;) {
        done = deliver_messages(c, p, n, done);
        if (!(c->flags & SP__CONN_RAW) || c->close_reason >= 0 || done == n)
            return done;
        done = n - sp__ev_data(c, p + done, n - done);
    }
}

/* The rest of a read that deliver_read did not take (a cut message, messages that wait
 * out back-pressure, or bytes only the decoder can judge: an oversize message) goes to a
 * decoder of c's own, which delivers or keeps them. */
static void hold_rest(sp_conn *c, const unsigned char *p, size_t n)
{
    sp_frame_decoder *d = (sp_frame_decoder *)malloc(sizeof *d);
    int rc = d == NULL ? SP_ENOMEM : sp_frame_decoder_init(d, c->srv->cfg.framer);
    if (rc == 0 && (rc = sp__frame_decoder_load(d, p, n)) != 0)
        sp_frame_decoder_free(d);
    if (rc != 0) {
        free(d);
        sp__ev_mark_closing(c, SP_CLOSE_ERROR, rc);
        return;
    }
    c->dec = d;
    if (c->flags & SP__CONN_PAUSED)
        c->flags |= SP__CONN_UNDRAINED; /* delivered by sp__ev_flush() once resumed */
    else
        sp__ev_deliver(c, d);
    sp__ev_settle(c, d);
}

/* Bytes for the framer of a connection between messages (no decoder of its own): its
 * messages to the handler from where they lie, the rest kept by hold_rest. */
static void take_framed(sp_conn *c, const unsigned char *p, size_t n)
{
    size_t used = deliver_read(c, p, n);
    if (used < n && c->close_reason < 0)
        hold_rest(c, p + used, n - used);
}

/* One read of a framed connection. Between messages (no decoder of its own) it goes into
 * the server's buffer and its messages to the handler from there (take_framed); a
 * connection holding the start of a message reads into its decoder. */
static ptrdiff_t read_framed(sp_conn *c, int *filled)
{
    ptrdiff_t got;
    if (c->dec == NULL) {
        got = sp__recv_dontwait(c->reg.sock, c->srv->rbuf, SP__READ_CHUNK, 1);
        *filled = got == SP__READ_CHUNK;
        if (got > 0)
            take_framed(c, (const unsigned char *)c->srv->rbuf, (size_t)got);
        return got;
    }
    /* the rest of its message (at least SP_FRAME_RECV_SIZE) */
    got = sp__frame_read(c->dec, c->reg.sock, SP_FRAME_RECV_SIZE, 1, filled);
    if (got > 0)
        sp__ev_deliver(c, c->dec);
    if (got < 0 && got != SP_EAGAIN)
        sp__conn_read_result(c, got); /* before settling: an error drops what is held */
    sp__ev_settle(c, c->dec);
    return got;
}

/* One read of c and its delivery: framed or raw. The bytes read (> 0), 0 at the peer's
 * end, SP_EAGAIN or an error; *filled: the read filled its room (the socket may hold
 * more). */
static ptrdiff_t read_once(sp_conn *c, int *filled)
{
    sp_server *srv = c->srv;
    ptrdiff_t got;
    size_t back;
    if (srv->cfg.framer != NULL && !(c->flags & SP__CONN_RAW))
        return read_framed(c, filled);
    got = sp__recv_dontwait(c->reg.sock, srv->rbuf, SP__READ_CHUNK, 1);
    *filled = got == SP__READ_CHUNK;
    if (got <= 0)
        return got;
    back = sp__ev_data(c, srv->rbuf, (size_t)got);
    if (sp__conn_bytes_restart_idle(c))
        c->last_active = (uint32_t)srv->now;
    if (back > 0 && c->dec == NULL) /* given back, framed again */
        take_framed(c, (unsigned char *)srv->rbuf + got - back, back);
    return got;
}

/* After a read of c that returned got (delivered): read on (a few reads at most) while
 * the reads fill their room, then set the interest c needs. A read that did not fill the
 * room it was given has emptied the socket: the next one would only say SP_EAGAIN, so it
 * is left to the next readiness (level-triggered), saving a system call per event. */
static void read_rest(sp_conn *c, ptrdiff_t got, int filled)
{
    int k = 1;
    for (;;) {
        if (got <= 0) {
            if (got != SP_EAGAIN) { /* the peer's end: replies already queued still go out */
                sp__conn_read_result(c, got);
                sp__ev_enlist(c);
            }
            break;
        }
        if (c->close_reason >= 0) {
            sp__ev_enlist(c);
            break;
        }
        if (!filled || k++ == READS_PER_EV || (c->flags & SP__CONN_PAUSED))
            break;
        got = read_once(c, &filled);
    }
    /* the interest changes only when output was queued, reading paused or c is closing */
    if (c->out != NULL || c->flags != 0 || c->close_reason >= 0 ||
        (c->reg.events & (SP_EV_READ | SP_EV_WRITE)) != SP_EV_READ)
        sp__ev_update_interest(c);
}

/* Read what the socket has and deliver it (read_rest). */
static void read_some(sp_conn *c)
{
    int filled;
    ptrdiff_t got = read_once(c, &filled);
    read_rest(c, got, filled);
}

/* Whether p[0, n) is one whole message, no more, no less (the payload in *msg). A length
 * prefix is judged here: the prefix says the rest of the read is its payload. */
static inline int one_message(const sp_framer *f, const unsigned char *p, size_t n,
                              sp_frame_msg *msg)
{
    uint64_t len;
    if (f->kind != SP_FRAME_PREFIX) {
        sp_frame_msg m; /* its own: msg stays in registers on the prefix's path */
        size_t used;
        if (!sp__frame_split(f, p, n, &m, &used) || used != n)
            return 0;
        *msg = m;
        return 1;
    }
    if (n < f->width || sp__frame_prefix_payload(f, p, &len) != 0 || len != n - f->width)
        return 0;
    msg->data = p + f->width;
    msg->len = (size_t)len;
    return 1;
}

/* The common readiness: c is readable only, open, framed and between messages (no decoder
 * of its own), with no flag (not paused, not raw, no drain awaited). The common read, one
 * whole message that does not fill the buffer (a request of a request-reply protocol), goes
 * to the handler from the loop's buffer in as few steps as can be; anything else the long
 * way (take_framed, read_rest) from the bytes read. */
static void read_between(sp_conn *c)
{
    sp_server *srv;
    const unsigned char *buf;
    sp_frame_msg msg;
    ptrdiff_t got = sp__recv_dontwait(c->reg.sock, c->srv->rbuf, SP__READ_CHUNK, 1);
    srv = c->srv; /* after the call: nothing but c is kept across it */
    buf = (const unsigned char *)srv->rbuf;
    if (got > 0 && got < SP__READ_CHUNK && one_message(srv->cfg.framer, buf, (size_t)got, &msg)) {
        int r;
        srv->batching = NULL;                /* its reply goes out at once */
        c->last_active = (uint32_t)srv->now; /* a whole message: the idle clock restarts */
        if ((r = srv->cfg.handler->on_message(c, msg.data, msg.len)) < 0)
            sp__conn_handler_result(c, r, 0);
        /* Nothing queued, flagged or closing: the interest stays reading. (It is reading:
         * c was readable, and with nothing queued and no flag the only other interest it
         * can have is a writing left by a modify that failed, which the next readiness,
         * writable, takes the long way and corrects.) */
        if (c->out == NULL && c->flags == 0 && c->close_reason < 0)
            return;
        sp__ev_enlist(c);
        sp__ev_update_interest(c);
        return;
    }
    if (got > 0)
        take_framed(c, buf, (size_t)got);
    read_rest(c, got, got == SP__READ_CHUNK);
}

static void finalize(sp_conn *c)
{
    sp_server *srv = c->srv;
    if (srv->cfg.handler->on_close)
        srv->cfg.handler->on_close(c, c->close_reason, c->close_error);
    sp__timers_conn_closed(c); /* after on_close, which may cancel them itself */
    sp__ev_out_free(c);        /* with the files sp_conn_sendfile queued */
    sp__poller_remove_reg(srv->poller, &c->reg);
    sp_close(c->reg.sock);
    c->reg.sock = SP_INVALID_SOCKET; /* a held handle: sends say SP_EPIPE */
    sp__conn_free(c);
}

/* Close what is marked and has nothing left to send (or cannot send it: errors). A
 * connection being closed keeps its flag, so that its handler's on_close cannot put it
 * back on the list; others that on_close marks are looked at in the next pass. An
 * oversize message closes after the replies to the messages before it, as in the thread
 * and fork models (their sends returned when the kernel took the bytes). */
static void process_closing(sp_server *srv, int force)
{
    sp_conn *list = srv->closing;
    srv->closing = NULL;
    while (list != NULL) {
        sp_conn *c = list;
        list = c->next_closing;
        if (force || sp__ev_queued(c) == 0 ||
            (c->close_reason == SP_CLOSE_ERROR && c->close_error != SP_EEOF))
            finalize(c);
        else /* sp__ev_flush() puts it back on the list once the queue is empty */
            c->flags &= (unsigned char)~SP__CONN_CLOSING;
    }
}

/* A connection for an accepted socket, registered; NULL (socket closed) when it cannot. */
static void add_conn(sp_server *srv, sp_socket_t s, const sp_addr *peer)
{
    sp_conn *c = sp__conn_new(srv, s, peer);
    if (c != NULL) {
        c->reg.sock = s;
        c->reg.events = SP_EV_READ | SP__REG_OWNED;
        c->reg.data = c;
        if (sp__poller_add_reg(srv->poller, &c->reg) != 0) {
            sp__conn_free(c);
            c = NULL;
        }
    }
    if (c == NULL) {
        sp_close(s);
        return;
    }
    c->last_active = (uint32_t)srv->now;
    if (srv->cfg.handler->on_open)
        srv->cfg.handler->on_open(c);
}

/* Handle one event; 1 when it was the waker's (posts or a stop to look at), else 0. */
static int on_event(sp_server *srv, const sp_event *e)
{
    /* the registration data of a listener (&srv->listeners[i]) and of the waker
     * (&srv->waker, sp__accept_setup) point into srv, a connection's never does: one test
     * per event tells them apart */
    if ((uintptr_t)e->data - (uintptr_t)srv < sizeof *srv) {
        sp_socket_t *l;
        if (e->data == (void *)&srv->waker) {
            (void)sp_waker_drain(srv->waker);
            return 1;
        }
        l = sp__accept_listener(srv, e);
        if (l != NULL)
            sp__accept_burst(srv, *l, add_conn);
        return 0;
    }
    {
        sp_conn *c = (sp_conn *)e->data;
        const int events = e->events; /* read once: the handlers' calls come between */
        if (events == SP_EV_READ && c->flags == 0 && c->close_reason < 0 && c->dec == NULL &&
            srv->cfg.framer != NULL) {
            read_between(c);
            return 0;
        }
        if ((events & (SP_EV_READ | SP_EV_ERROR | SP_EV_HUP)) && c->close_reason < 0 &&
            !(c->flags & SP__CONN_PAUSED))
            read_some(c);
        if (!(events & (SP_EV_WRITE | SP_EV_ERROR)))
            return 0; /* the common case: readable only */
        if ((events & SP_EV_WRITE) && c->reg.sock != SP_INVALID_SOCKET)
            sp__ev_flush(c);
        if ((events & SP_EV_ERROR) && !(events & (SP_EV_READ | SP_EV_WRITE)))
            sp__ev_mark_closing(c, SP_CLOSE_ERROR, sp_socket_error(c->reg.sock));
    }
    return 0;
}

/* Mark the connections idle too long, and (stopping) those between messages; every one
 * of them when `all`. */
static void sweep(sp_server *srv, uint64_t now, int stopping, int all)
{
    size_t pos = 0;
    sp__reg *r;
    while ((r = sp__poller_next_reg(srv->poller, &pos)) != NULL) {
        sp_conn *c = (sp_conn *)r->data;
        uint64_t last;
        if (!(r->events & SP__REG_OWNED))
            continue;
        if (!all)
            sp__ev_check_stalled(c, now); /* output the peer takes nothing of */
        if (c->close_reason >= 0) {
            if (all) /* marked before, waiting for its output: closed now (issue #13) */
                sp__ev_enlist(c);
            continue;
        }
        /* last_active holds the low 32 bits: the age is taken modulo 2^32 */
        last = now - (uint32_t)((uint32_t)now - c->last_active);
        if (!all && sp__conn_idle_expired(c, last, now))
            sp__ev_mark_closing(c, SP_CLOSE_IDLE, 0);
        else if (all || (stopping && sp__conn_between_messages(c)))
            sp__ev_mark_closing(c, SP_CLOSE_STOPPING, 0);
    }
}

/* How often the sweep looks at every connection: a quarter of the shortest of the idle
 * timeout and the output's limits (progress and whole reply; -1: never). */
static int sweep_every(const sp_server *srv)
{
    int idle = srv->cfg.idle_timeout_ms, t = sp__conn_output_limit(srv);
    if (idle > 0 && (t < 0 || idle < t))
        t = idle;
    return t < 0 ? -1 : t / 4;
}

static int loop_timeout(const sp_server *srv, uint64_t stop_at, int every)
{
    int t = every; /* sweep_every(srv), the same for the whole run */
    /* at least every second with an idle timeout; the send limit alone (30 s by
     * default) wakes an idle loop every quarter of it */
    if (t >= 0)
        t = t < 10 ? 10 : (srv->cfg.idle_timeout_ms > 0 && t > 1000) ? 1000 : t;
    t = sp__accept_timeout(srv, t);
    t = sp__timers_timeout(&srv->timers, srv->now, t); /* the pass's clock (late by its work) */
    if (stop_at != 0)
        t = t < 0 || t > 50 ? 50 : t;
    return t;
}

static int events_setup(sp_server *srv)
{
    /* the read buffer: raw reads, and framed reads between messages (read_framed) */
    if ((srv->rbuf = (char *)malloc(SP__READ_CHUNK)) == NULL)
        return SP_ENOMEM;
    if ((srv->stage = (char *)malloc(SP__STAGE_CAP)) == NULL)
        return SP_ENOMEM;
    srv->stage_len = 0;
    srv->batching = NULL;
    srv->closing = NULL;
    /* the waker's registration data points into srv, as the listeners' do (on_event) */
    return sp__accept_setup(srv);
}

static int run_events(sp_server *srv)
{
    sp_event evs[EV_BATCH];
    uint64_t stop_at = 0, next_sweep = 0;
    int rc = events_setup(srv);
    const int every = sweep_every(srv);
    srv->now = sp__now_ms();
    while (rc == 0) {
        uint64_t now;
        int n, i, woken = 0;
        /* timeouts from the last reading: late by this pass's work at most, and coarse */
        n = sp_poller_wait(srv->poller, evs, EV_BATCH, loop_timeout(srv, stop_at, every));
        if (n < 0) {
            rc = n;
            break;
        }
        /* one clock reading per wakeup (what the events' handling uses, as libuv's uv_now) */
        srv->now = now = sp__now_ms();
        for (i = 0; i < n; i++)
            woken |= on_event(srv, &evs[i]);
        /* what other threads posted: a post wakes the waker after queueing (a post queued
         * after this drain wakes it again, for the next pass) */
        if (woken)
            sp__posts_drain(srv);
        sp__timers_run(&srv->timers, now);
        if (srv->closing != NULL)
            process_closing(srv, 0); /* first: closing frees room for new connections */
        if (stop_at == 0 && sp__atomic_load(&srv->stopping))
            stop_at = now + (uint64_t)srv->cfg.grace_ms;
        /* accepting as it should be (the common case) unless stopping or backing off */
        if (stop_at != 0 || !srv->accepting || srv->backoff_until != 0)
            sp__accept_resume(srv, stop_at != 0);
        if (stop_at != 0 || (every >= 0 && now >= next_sweep)) {
            sweep(srv, now, stop_at != 0, 0);
            next_sweep = now + (uint64_t)(every + 1);
        }
        if (srv->closing != NULL)
            process_closing(srv, 0);
        if (stop_at != 0 && (sp_server_connections(srv) == 0 || now >= stop_at))
            break;
    }
    /* Stop (or a fatal error): close what is left (on_close may mark more: loop). */
    while (srv->poller != NULL && sp_server_connections(srv) > 0) {
        sweep(srv, 0, 1, 1);
        if (srv->closing == NULL)
            break; /* nothing registered is left (cannot happen: every connection is) */
        process_closing(srv, 1);
    }
    sp__accept_teardown(srv);
    free(srv->rbuf);
    srv->rbuf = NULL;
    free(srv->stage);
    srv->stage = NULL;
    return rc;
}

const sp__model sp__model_events = {
    SP_MODEL_EVENTS,
    sizeof(sp_conn),
    0,
    run_events,
    sp__ev_output,
    sp__ev_conn_queued,
    sp__ev_want_drain,
    events_close,
    sp__ev_broadcast,
    NULL,
};
