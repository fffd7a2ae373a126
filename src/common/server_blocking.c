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

/* ---- the connection loop ------------------------------------------------------------- */

int sp__blocking_send(sp_conn *c, const void *buf, size_t len)
{
    int rc;
    sp__mutex_lock(&SP__BLOCKING(c)->send_lock);
    if (c->reg.sock == SP_INVALID_SOCKET)
        rc = SP_EPIPE; /* closed already (a broadcast racing with the end) */
    else if (c->srv->cfg.framer)
        rc = sp_frame_send(c->reg.sock, c->srv->cfg.framer, buf, len, -1);
    else
        rc = sp_send_all(c->reg.sock, buf, len, -1, NULL);
    /* a transfer error (not a refused message: nothing was sent then) ends the
     * connection; remembered so that it closes with SP_CLOSE_ERROR and this code, as in
     * the event model, when the handler passes the error on */
    if (rc < 0 && rc != SP_EMSGSIZE && rc != SP_EINVAL && SP__BLOCKING(c)->send_error == 0)
        SP__BLOCKING(c)->send_error = rc;
    sp__mutex_unlock(&SP__BLOCKING(c)->send_lock);
    return rc;
}

void sp__blocking_close(sp_conn *c)
{
    sp__conn_end(c, SP_CLOSE_HANDLER, 0); /* on the connection's own thread */
}

/* The handler returned rc (sp__conn_handler_result, with the first failed reply). */
static void handler_returned(sp_conn *c, int rc)
{
    int err;
    if (rc >= 0)
        return;
    sp__mutex_lock(&SP__BLOCKING(c)->send_lock);
    err = SP__BLOCKING(c)->send_error;
    sp__mutex_unlock(&SP__BLOCKING(c)->send_lock);
    sp__conn_handler_result(c, rc, err);
}

/* Milliseconds until `at` (0 when passed); -1 for "never" (at == 0). */
static int ms_until(uint64_t at, uint64_t now)
{
    if (at == 0)
        return -1;
    return at > now ? (at - now > INT_MAX ? INT_MAX : (int)(at - now)) : 0;
}

/* Wait until c's socket is readable, the server stops (when watch_stop), or timeout_ms.
 * 1: readable; 0: not (stop or timeout); or an error. In a forked child, whose stop flag
 * the parent cannot set, the stop waker (an eventfd or pipe shared across fork, readable
 * from the stop until the run ends) sets it. No thread wakes up on a timer: an idle
 * connection costs nothing until it speaks, times out or the server stops. */
static int wait_readable(sp_conn *c, int timeout_ms, int watch_stop)
{
    sp_server *srv = c->srv;
    struct sp__sockslot slots[2];
    sp_sockset rd;
    int rc;
    memset(slots, 0, sizeof slots);
    slots[0].sock = c->reg.sock;
    slots[1].sock = sp_waker_socket(srv->stop_waker);
    rd.slots = slots;
    rd.count = watch_stop ? 2 : 1;
    rd.cap = 2;
    /* a pending error (a keepalive timeout, a reset) is left for the recv to report */
    rc = sp__select(&rd, NULL, NULL, timeout_ms, 0);
    if (rc < 0)
        return rc;
    if (watch_stop && slots[1].ready)
        sp__atomic_store(&srv->stopping, 1);
    return slots[0].ready;
}

/* One read into the decoder (framed) or buf (raw), raw bytes delivered. */
static void read_once(sp_conn *c, char *buf)
{
    ptrdiff_t got;
    /* readable: this will not block (MSG_DONTWAIT where the OS has it) */
    if (c->dec != NULL)
        got = sp__frame_read(c->dec, c->reg.sock, SP_FRAME_RECV_SIZE, 1, NULL);
    else
        got = sp__recv_dontwait(c->reg.sock, buf, SP__READ_CHUNK, 1);
    sp__conn_read_result(c, got);
    if (got > 0 && c->dec == NULL)
        handler_returned(c, c->srv->cfg.handler->on_data(c, buf, (size_t)got));
}

/* Hand the next whole message in the decoder to the handler: 1 if there was one. */
static int deliver_one(sp_conn *c)
{
    sp_frame_msg msg;
    int rc = sp_frame_decoder_next(c->dec, &msg);
    if (rc == 1) {
        handler_returned(c, c->srv->cfg.handler->on_message(c, msg.data, msg.len));
        return 1;
    }
    sp__conn_decode_result(c, rc);
    return 0;
}

void sp__conn_serve_blocking(sp_conn *c)
{
    sp_server *srv = c->srv;
    const sp_server_handler *h = srv->cfg.handler;
    uint64_t last = sp__now_ms(), stop_at = 0;
    int idle = srv->cfg.idle_timeout_ms;
    char *buf = NULL;
    if (c->dec == NULL && (buf = (char *)malloc(SP__READ_CHUNK)) == NULL)
        sp__conn_end(c, SP_CLOSE_ERROR, SP_ENOMEM);
    if (c->close_reason < 0 && h->on_open)
        h->on_open(c);
    while (c->close_reason < 0) {
        uint64_t now = sp__now_ms();
        int timeout, r;
        if (stop_at == 0 && sp__atomic_load(&srv->stopping))
            stop_at = now + (uint64_t)srv->cfg.grace_ms;
        if (stop_at != 0 && (sp__conn_between_messages(c) || now >= stop_at)) {
            sp__conn_end(c, SP_CLOSE_STOPPING, 0);
            break;
        }
        if (sp__conn_idle_expired(c, last, now)) {
            sp__conn_end(c, SP_CLOSE_IDLE, 0);
            break;
        }
        if (c->dec != NULL && deliver_one(c)) {
            last = sp__now_ms(); /* a whole message: the idle clock restarts */
            continue;
        }
        sp__timers_run(&SP__BLOCKING(c)->timers, now); /* its timers, on its thread */
        if (c->close_reason >= 0)
            break;
        timeout = ms_until(idle > 0 ? last + (uint64_t)idle : 0, now);
        if (stop_at != 0) {
            int g = ms_until(stop_at, now);
            timeout = timeout < 0 || g < timeout ? g : timeout;
        }
        timeout = sp__timers_timeout(&SP__BLOCKING(c)->timers, now, timeout);
        r = wait_readable(c, timeout, stop_at == 0);
        if (r < 0) {
            sp__conn_end(c, SP_CLOSE_ERROR, r);
        } else if (r > 0) {
            read_once(c, buf);
            if (sp__conn_bytes_restart_idle(c))
                last = sp__now_ms();
        }
    }
    if (h->on_close)
        h->on_close(c, c->close_reason, c->close_error);
    sp__timers_conn_closed(c); /* after on_close, which may cancel them itself */
    free(buf);
    sp__mutex_lock(&SP__BLOCKING(c)->send_lock); /* a broadcast may be sending on it */
    sp_close(c->reg.sock);
    c->reg.sock = SP_INVALID_SOCKET;
    sp__mutex_unlock(&SP__BLOCKING(c)->send_lock);
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
            if (evs[i].data == (void *)srv->waker)
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
    /* Stopping (or a fatal error): the stop waker is readable, so every connection sees
     * it (and finishes a message it is in the middle of within the grace period). */
    (void)sp_waker_wake(srv->stop_waker);
    sp->finish(srv);
    sp__accept_teardown(srv);
    return rc;
}

/* ---- the thread model ---------------------------------------------------------------- */

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

static void thread_finish(sp_server *srv)
{
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
    SP_MODEL_THREADS, sizeof(sp__conn_blocking), 1,
    sp__blocking_run, sp__blocking_send,         sp__blocking_close,
    thread_broadcast, &thread_spawner,
};
