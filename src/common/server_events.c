/*
 * server_events.c - the event model: one thread, non-blocking sockets, an sp_poller.
 *
 * Reads go straight into each connection's frame decoder (or one shared buffer for raw
 * connections); replies are sent at once when the socket takes them and queued when it
 * does not, flushed on writability. A connection whose queue passes output_limit stops
 * being read until the queue falls below half of it (back-pressure), so memory stays
 * bounded by the limit plus one reply. The loop never blocks on one client.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

#define EV_BATCH     256
#define READS_PER_EV 4  /* reads per readiness: fairness between busy connections */
#define ACCEPT_BURST 64 /* accepts per listener readiness */
#define BACKOFF_MS   100

static void deliver_messages(sp_conn *c);

static size_t queued(const sp_conn *c)
{
    return c->out_len - c->out_off;
}

/* Mark c for closing (the first reason wins) and put it on the closing list. */
static void mark_closing(sp_conn *c, int reason, int error)
{
    sp_server *srv = c->srv;
    if (c->close_reason < 0) {
        c->close_reason = reason;
        c->close_error = error;
    }
    if (!c->on_closing_list) {
        c->on_closing_list = 1;
        c->next_closing = srv->closing;
        srv->closing = c;
    }
}

void sp__events_close(sp_conn *c)
{
    mark_closing(c, SP_CLOSE_HANDLER, 0);
}

/* Register the interest c needs now: reading unless paused or closing, writing while
 * output is queued. */
static void update_interest(sp_conn *c)
{
    int want =
        (c->paused || c->close_reason >= 0 ? 0 : SP_EV_READ) | (queued(c) > 0 ? SP_EV_WRITE : 0);
    if (want != c->interest && sp_poller_modify(c->srv->poller, c->sock, want, c) == 0)
        c->interest = want;
}

/* Append bytes to the output queue (compacting or growing it). */
static int enqueue(sp_conn *c, const char *p, size_t n)
{
    if (c->out_off > 0 && c->out_len + n > c->out_cap) {
        memmove(c->out, c->out + c->out_off, queued(c));
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        char *q;
        while (cap < c->out_len + n)
            cap *= 2;
        q = (char *)realloc(c->out, cap);
        if (q == NULL)
            return SP_ENOMEM;
        c->out = q;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return 0;
}

int sp__events_send(sp_conn *c, const void *buf, size_t len)
{
    unsigned char hdr[SP_FRAME_HEADER_MAX];
    sp_iovec iov[2];
    size_t sent = 0;
    int n = 1, i, rc;
    if (c->sock == SP_INVALID_SOCKET)
        return SP_EPIPE;
    if (c->srv->cfg.framer) {
        n = sp_frame_encode(c->srv->cfg.framer, buf, len, hdr, iov);
        if (n < 0)
            return n;
    } else {
        iov[0] = sp_iovec_make(buf, len);
    }
    if (queued(c) == 0) { /* nothing ahead of it: try the socket first */
        ptrdiff_t r = sp_sendv(c->sock, iov, n);
        if (r < 0 && r != SP_EAGAIN) {
            mark_closing(c, SP_CLOSE_ERROR, (int)r);
            return (int)r;
        }
        sent = r > 0 ? (size_t)r : 0;
    }
    for (i = 0; i < n; i++) { /* queue what the socket did not take */
        size_t l = (size_t)iov[i].len, skip = sent < l ? sent : l;
        sent -= skip;
        if (l > skip && (rc = enqueue(c, (const char *)iov[i].base + skip, l - skip)) != 0) {
            mark_closing(c, SP_CLOSE_ERROR, rc);
            return rc;
        }
    }
    if (queued(c) > c->srv->cfg.output_limit)
        c->paused = 1;
    update_interest(c);
    return 0;
}

static void flush(sp_conn *c)
{
    while (queued(c) > 0) {
        ptrdiff_t r = sp_send(c->sock, c->out + c->out_off, queued(c));
        if (r == SP_EAGAIN)
            break;
        if (r < 0) {
            /* what is queued can never be sent: drop it, so that a connection already
             * closing for another reason (the peer's orderly close) is finalized too
             * instead of being polled for writability again and again */
            c->out_off = c->out_len = 0;
            if (c->close_reason == SP_CLOSE_ORDERLY)
                c->close_reason = -1; /* replies were lost: not an orderly end any more */
            mark_closing(c, SP_CLOSE_ERROR, (int)r);
            update_interest(c);
            return;
        }
        c->out_off += (size_t)r;
    }
    if (queued(c) == 0) {
        c->out_off = c->out_len = 0;
        if (c->close_reason >= 0)
            mark_closing(c, c->close_reason, c->close_error); /* flushed: may close now */
    }
    if (c->paused && queued(c) < c->srv->cfg.output_limit / 2) {
        c->paused = 0;
        if (c->undrained)
            deliver_messages(c); /* the requests that waited; may pause again */
    }
    update_interest(c);
}

/* Hand the complete messages in the decoder to the handler, until its replies fill the
 * output queue past the limit: the rest wait in the decoder (undrained) until the queue
 * has drained below half the limit, so memory stays bounded by the limit plus one reply
 * however many requests one read brought. */
static void deliver_messages(sp_conn *c)
{
    const sp_server_handler *h = c->srv->cfg.handler;
    sp_frame_msg msg;
    int r = 0;
    c->undrained = 0;
    while (!c->paused && (r = sp_frame_decoder_next(c->dec, &msg)) > 0) {
        if (c->close_reason >= 0)
            continue; /* closing: drain without delivering */
        if (h->on_message(c, msg.data, msg.len) < 0)
            mark_closing(c, SP_CLOSE_HANDLER, 0);
    }
    if (c->paused && r > 0)
        c->undrained = 1; /* resumed by flush() */
    else if (r == SP_EMSGSIZE)
        mark_closing(c, SP_CLOSE_TOO_LARGE, 0);
    else if (r < 0)
        mark_closing(c, SP_CLOSE_ERROR, r);
}

/* Read what the socket has (a few reads at most) and deliver it. */
static void read_some(sp_conn *c)
{
    sp_server *srv = c->srv;
    int k;
    for (k = 0; k < READS_PER_EV && c->close_reason < 0 && !c->paused; k++) {
        ptrdiff_t got;
        if (c->dec != NULL) {
            void *room;
            ptrdiff_t cap = sp_frame_decoder_space(c->dec, &room);
            if (cap < 0) {
                if (cap == SP_EMSGSIZE)
                    mark_closing(c, SP_CLOSE_TOO_LARGE, 0); /* error: 0 but for SP_CLOSE_ERROR */
                else
                    mark_closing(c, SP_CLOSE_ERROR, (int)cap);
                break;
            }
            got = sp_recv(c->sock, room, (size_t)cap);
            if (got > 0) {
                sp_frame_decoder_commit(c->dec, (size_t)got);
                deliver_messages(c);
            }
        } else {
            got = sp_recv(c->sock, srv->rbuf, SP__READ_CHUNK);
            if (got > 0 && srv->cfg.handler->on_data(c, srv->rbuf, (size_t)got) < 0)
                mark_closing(c, SP_CLOSE_HANDLER, 0);
        }
        if (got == SP_EAGAIN)
            break;
        if (got == 0) {
            /* the peer is done sending: replies already queued still go out; a message
             * it left unfinished is not delivered (SP_EEOF, as in the blocking models) */
            if (c->dec != NULL && sp_frame_decoder_pending(c->dec) > 0)
                mark_closing(c, SP_CLOSE_ERROR, SP_EEOF);
            else
                mark_closing(c, SP_CLOSE_ORDERLY, 0);
        } else if (got < 0) {
            mark_closing(c, SP_CLOSE_ERROR, (int)got);
        } else {
            c->last_active_ms = sp__now_ms();
        }
    }
    update_interest(c);
}

static void finalize(sp_conn *c)
{
    sp_server *srv = c->srv;
    if (srv->cfg.handler->on_close)
        srv->cfg.handler->on_close(c, c->close_reason, c->close_error);
    (void)sp_poller_remove(srv->poller, c->sock);
    sp_close(c->sock);
    sp__conn_unlink(srv, c);
    sp__conn_free(c);
}

/* Close what is marked and has nothing left to send (or cannot send it: errors). */
static void process_closing(sp_server *srv, int force)
{
    sp_conn *list = srv->closing;
    srv->closing = NULL;
    while (list != NULL) {
        sp_conn *c = list;
        list = c->next_closing;
        c->on_closing_list = 0;
        if (force || queued(c) == 0 ||
            (c->close_reason == SP_CLOSE_ERROR && c->close_error != SP_EEOF) ||
            c->close_reason == SP_CLOSE_TOO_LARGE)
            finalize(c);
        /* else: flush() puts it back on the list once the queue is empty */
    }
}

static void set_accepting(sp_server *srv, int on)
{
    int i;
    if (srv->accepting == on)
        return;
    for (i = 0; i < srv->nlisteners; i++)
        (void)sp_poller_modify(srv->poller, srv->listeners[i], on ? SP_EV_READ : 0,
                               &srv->listeners[i]);
    srv->accepting = on;
}

static void accept_burst(sp_server *srv, sp_socket_t l)
{
    int k;
    for (k = 0; k < ACCEPT_BURST; k++) {
        sp_socket_t s;
        sp_addr peer;
        sp_conn *c;
        int rc;
        if (sp_server_connections(srv) >= srv->cfg.max_connections &&
            srv->cfg.overflow == SP_OVERFLOW_WAIT) {
            set_accepting(srv, 0); /* resumed when a connection closes */
            return;
        }
        rc = sp_accept(l, &s, &peer, SP_ACCEPT_NONBLOCK);
        if (rc == SP_EAGAIN)
            return;
        if (rc == SP_EMFILE || rc == SP_ENFILE || rc == SP_ENOBUFS || rc == SP_ENOMEM) {
            /* Out of descriptors: leave the connection in the backlog, stop watching the
             * listeners for a while instead of spinning on a readiness we cannot take. */
            set_accepting(srv, 0);
            srv->backoff_until = sp__now_ms() + BACKOFF_MS;
            return;
        }
        if (rc < 0)
            continue; /* SP_ECONNABORTED and friends: that connection died, go on */
        if (sp_server_connections(srv) >= srv->cfg.max_connections) {
            sp_close(s); /* SP_OVERFLOW_REFUSE */
            continue;
        }
        c = sp__conn_new(srv, s, &peer);
        if (c == NULL || sp_poller_add(srv->poller, s, SP_EV_READ, c) != 0) {
            if (c != NULL)
                sp__conn_free(c);
            sp_close(s);
            continue;
        }
        c->interest = SP_EV_READ;
        c->last_active_ms = sp__now_ms();
        sp__conn_link(srv, c);
        if (srv->cfg.handler->on_open)
            srv->cfg.handler->on_open(c);
    }
}

static void on_event(sp_server *srv, const sp_event *e)
{
    int i;
    if (e->data == (void *)srv->waker) {
        (void)sp_waker_drain(srv->waker);
        return;
    }
    for (i = 0; i < srv->nlisteners; i++) {
        if (e->data == (void *)&srv->listeners[i]) {
            if (srv->accepting)
                accept_burst(srv, srv->listeners[i]);
            return;
        }
    }
    {
        sp_conn *c = (sp_conn *)e->data;
        if ((e->events & (SP_EV_READ | SP_EV_ERROR | SP_EV_HUP)) && c->close_reason < 0 &&
            !c->paused)
            read_some(c);
        if ((e->events & SP_EV_WRITE) && c->sock != SP_INVALID_SOCKET)
            flush(c);
        if ((e->events & SP_EV_ERROR) && !(e->events & (SP_EV_READ | SP_EV_WRITE)))
            mark_closing(c, SP_CLOSE_ERROR, sp_socket_error(c->sock));
    }
}

/* Mark the connections idle too long, and (stopping) those between messages. */
static void sweep(sp_server *srv, uint64_t now, int stopping)
{
    int idle = srv->cfg.idle_timeout_ms;
    sp_conn *c;
    for (c = srv->conns; c != NULL; c = c->next) {
        if (c->close_reason >= 0)
            continue;
        if (idle > 0 && now - c->last_active_ms >= (uint64_t)idle)
            mark_closing(c, SP_CLOSE_IDLE, 0);
        else if (stopping && (c->dec == NULL || sp_frame_decoder_pending(c->dec) == 0))
            mark_closing(c, SP_CLOSE_STOPPING, 0);
    }
}

static int loop_timeout(const sp_server *srv, uint64_t now, uint64_t stop_at)
{
    int t = -1;
    if (srv->cfg.idle_timeout_ms > 0) {
        t = srv->cfg.idle_timeout_ms / 4;
        t = t < 10 ? 10 : t > 1000 ? 1000 : t;
    }
    if (srv->backoff_until != 0) {
        int b = srv->backoff_until > now ? (int)(srv->backoff_until - now) : 0;
        t = t < 0 || b < t ? b : t;
    }
    if (stop_at != 0)
        t = t < 0 || t > 50 ? 50 : t;
    return t;
}

static int events_setup(sp_server *srv)
{
    int i, rc;
    if (srv->cfg.framer == NULL && (srv->rbuf = (char *)malloc(SP__READ_CHUNK)) == NULL)
        return SP_ENOMEM;
    rc = sp_poller_create(&srv->poller, SP_POLLER_AUTO);
    for (i = 0; rc == 0 && i < srv->nlisteners; i++)
        rc = sp_poller_add(srv->poller, srv->listeners[i], SP_EV_READ, &srv->listeners[i]);
    if (rc == 0)
        rc = sp_poller_add(srv->poller, sp_waker_socket(srv->waker), SP_EV_READ, srv->waker);
    srv->accepting = 1;
    srv->backoff_until = 0;
    srv->closing = NULL;
    return rc;
}

int sp__server_run_events(sp_server *srv)
{
    sp_event evs[EV_BATCH];
    uint64_t stop_at = 0, next_sweep = 0;
    int rc = events_setup(srv);
    while (rc == 0) {
        uint64_t now = sp__now_ms();
        int n, i;
        n = sp_poller_wait(srv->poller, evs, EV_BATCH, loop_timeout(srv, now, stop_at));
        if (n < 0) {
            rc = n;
            break;
        }
        for (i = 0; i < n; i++)
            on_event(srv, &evs[i]);
        process_closing(srv, 0); /* first: closing frees room for new connections */
        now = sp__now_ms();
        if (srv->backoff_until != 0 && now >= srv->backoff_until) {
            srv->backoff_until = 0;
            set_accepting(srv, 1);
        }
        if (!srv->accepting && srv->backoff_until == 0 && stop_at == 0 &&
            sp_server_connections(srv) < srv->cfg.max_connections)
            set_accepting(srv, 1);
        if (stop_at == 0 && sp__atomic_load(&srv->stopping)) {
            stop_at = now + (uint64_t)srv->cfg.grace_ms;
            set_accepting(srv, 0);
            srv->backoff_until = 0;
        }
        if (stop_at != 0 || (srv->cfg.idle_timeout_ms > 0 && now >= next_sweep)) {
            sweep(srv, now, stop_at != 0);
            next_sweep = now + (uint64_t)(srv->cfg.idle_timeout_ms / 4 + 1);
        }
        process_closing(srv, 0);
        if (stop_at != 0 && (srv->conns == NULL || now >= stop_at))
            break;
    }
    /* Stop (or a fatal error): close what is left. */
    while (srv->conns != NULL) {
        mark_closing(srv->conns, SP_CLOSE_STOPPING, 0);
        process_closing(srv, 1);
    }
    sp_poller_destroy(srv->poller);
    srv->poller = NULL;
    free(srv->rbuf);
    srv->rbuf = NULL;
    return rc;
}
