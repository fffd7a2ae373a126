/*
 * server.c - the server: configuration, listeners, connections, the blocking connection
 * loop shared by the thread and fork models, and the thread model itself.
 */
#include "server.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define SP__DEFAULT_MAX_CONN  1024
#define SP__DEFAULT_OUT_LIMIT ((size_t)1 << 20)
#define SP__DEFAULT_GRACE_MS  2000
/* A blocking connection loop looks at the stop flag and the idle clock this often. */
#define SP__SLICE_MS 100
/* After EMFILE/ENFILE, accept is retried this much later: no spinning. */
#define SP__BACKOFF_MS 100

void sp_server_config_init(sp_server_config *cfg)
{
    if (cfg != NULL)
        memset(cfg, 0, sizeof *cfg);
}

int sp_server_create(sp_server **out, const sp_server_config *cfg)
{
    sp_server *srv;
    int rc;
    if (out == NULL)
        return SP_EINVAL;
    *out = NULL;
    if (cfg == NULL || cfg->handler == NULL || cfg->model < SP_MODEL_AUTO ||
        cfg->model > SP_MODEL_EVENTS || cfg->max_connections < 0 || cfg->idle_timeout_ms < 0 ||
        cfg->grace_ms < 0 ||
        (cfg->overflow != SP_OVERFLOW_WAIT && cfg->overflow != SP_OVERFLOW_REFUSE))
        return SP_EINVAL;
    if (cfg->framer ? cfg->handler->on_message == NULL : cfg->handler->on_data == NULL)
        return SP_EINVAL;
    if (cfg->framer != NULL) { /* checked once here: the models trust it afterwards */
        sp_frame_decoder probe;
        if (sp_frame_decoder_init(&probe, cfg->framer) != 0)
            return SP_EINVAL;
    }
    srv = (sp_server *)calloc(1, sizeof *srv);
    if (srv == NULL)
        return SP_ENOMEM;
    srv->cfg = *cfg;
    if (srv->cfg.max_connections == 0)
        srv->cfg.max_connections = SP__DEFAULT_MAX_CONN;
    if (srv->cfg.output_limit == 0)
        srv->cfg.output_limit = SP__DEFAULT_OUT_LIMIT;
    if (srv->cfg.grace_ms == 0)
        srv->cfg.grace_ms = SP__DEFAULT_GRACE_MS;
    srv->model = cfg->model == SP_MODEL_AUTO ? sp__server_default_model() : cfg->model;
    if (srv->model == SP_MODEL_FORK && !sp__server_has_fork()) {
        free(srv);
        return SP_ENOTSUP;
    }
    rc = sp__mutex_init(&srv->lock);
    if (rc == 0) {
        rc = sp_waker_create(&srv->waker);
        if (rc == 0 && (rc = sp_waker_create(&srv->stop_waker)) != 0)
            sp_waker_destroy(srv->waker);
        if (rc != 0)
            sp__mutex_destroy(&srv->lock);
    }
    if (rc != 0) {
        free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

void sp_server_destroy(sp_server *srv)
{
    int i;
    if (srv == NULL)
        return;
    if (srv->runner != NULL) { /* started and never waited for: stop it first */
        sp_server_stop(srv);
        sp_server_wait(srv);
    }
    for (i = 0; i < srv->nlisteners; i++)
        sp_close(srv->listeners[i]);
    sp_waker_destroy(srv->waker);
    sp_waker_destroy(srv->stop_waker);
    sp__mutex_destroy(&srv->lock);
    free(srv);
}

int sp_server_listen(sp_server *srv, const char *address)
{
    sp_socket_t s;
    int rc;
    if (srv == NULL || address == NULL || srv->running)
        return SP_EINVAL;
    if (srv->nlisteners == SP__MAX_LISTENERS)
        return SP_ENOSPC;
    rc = sp_listen_on(&s, address, srv->cfg.backlog, 0);
    if (rc != 0)
        return rc;
    /* Accept never blocks: readiness comes from a poller or sp_wait. */
    rc = sp_set_nonblocking(s, 1);
    if (rc != 0) {
        sp_close(s);
        return rc;
    }
    srv->listeners[srv->nlisteners++] = s;
    return 0;
}

int sp_server_local_addr(const sp_server *srv, int i, sp_addr *out)
{
    if (srv == NULL || i < 0 || i >= srv->nlisteners)
        return SP_EINVAL;
    return sp_local_addr(srv->listeners[i], out);
}

int sp_server_stop(sp_server *srv)
{
    /* async-signal-safe: a lock-free atomic store and one write() */
    int rc;
    if (srv == NULL)
        return SP_EINVAL;
    sp__atomic_store(&srv->stopping, 1);
    rc = sp_waker_wake(srv->stop_waker); /* stays readable until the run ends */
    return rc != 0 ? rc : sp_waker_wake(srv->waker);
}

int sp_server_model(const sp_server *srv)
{
    return srv ? srv->model : SP_EINVAL;
}

void *sp_server_user(const sp_server *srv)
{
    return srv ? srv->cfg.user : NULL;
}

int sp_server_connections(const sp_server *srv)
{
    return srv ? (int)sp__atomic_load((sp__atomic *)&srv->nconns) : 0;
}

sp_server *sp_conn_server(const sp_conn *c)
{
    return c ? c->srv : NULL;
}

/* The peer's sockaddr, stored right after the connection's struct. */
static unsigned char *peer_bytes(const sp_conn *c)
{
    size_t off = c->srv->model == SP_MODEL_EVENTS ? sizeof(sp_conn) : sizeof(sp__conn_blocking);
    return (unsigned char *)c + off;
}

int sp_conn_peer(const sp_conn *c, sp_addr *out)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (c == NULL || out == NULL)
        return SP_EINVAL;
    memcpy(out->u.bytes, peer_bytes(c), c->peer_len);
    out->len = c->peer_len;
    return 0;
}

sp_socket_t sp_conn_socket(const sp_conn *c)
{
    return c ? c->reg.sock : SP_INVALID_SOCKET;
}

void *sp_conn_user(const sp_conn *c)
{
    return c ? c->user : NULL;
}

void sp_conn_set_user(sp_conn *c, void *user)
{
    if (c != NULL)
        c->user = user;
}

/* ---- connections --------------------------------------------------------------------- */

sp_conn *sp__conn_new(sp_server *srv, sp_socket_t s, const sp_addr *peer)
{
    int blocking = srv->model != SP_MODEL_EVENTS;
    size_t size = blocking ? sizeof(sp__conn_blocking) : sizeof(sp_conn);
    /* peer_len is a byte: every sockaddr fits (the storage is 128 bytes) */
    size_t plen = peer->len <= sizeof peer->u.bytes ? peer->len : 0;
    sp_conn *c = (sp_conn *)calloc(1, size + plen);
    if (c == NULL)
        return NULL;
    c->srv = srv;
    c->reg.sock = s;
    c->close_reason = -1;
    c->peer_len = (unsigned char)plen;
    memcpy(peer_bytes(c), peer->u.bytes, plen);
    /* The event model reads through the server's decoder and makes one per connection
     * only when a message is cut; the blocking models read into their own. */
    if (blocking && srv->cfg.framer != NULL) {
        c->dec = (sp_frame_decoder *)malloc(sizeof *c->dec);
        if (c->dec == NULL || sp_frame_decoder_init(c->dec, srv->cfg.framer) != 0) {
            free(c->dec);
            free(c);
            return NULL;
        }
    }
    if (blocking && sp__mutex_init(&SP__BLOCKING(c)->send_lock) != 0) {
        sp_frame_decoder_free(c->dec);
        free(c->dec);
        free(c);
        return NULL;
    }
    if (srv->cfg.keepalive_idle_s > 0)
        (void)sp_set_keepalive(s, 1, srv->cfg.keepalive_idle_s, srv->cfg.keepalive_interval_s,
                               srv->cfg.keepalive_count); /* best effort: see sp_set_keepalive */
    /* every model: replies to requests that arrived together go out at once, without
     * waiting for the peer's (delayed) ACK of the first (Nagle) */
    (void)sp_set_nodelay(s, 1);
    sp__atomic_add(&srv->nconns, 1);
    return c;
}

void sp__conn_free(sp_conn *c)
{
    if (c == NULL)
        return;
    sp__atomic_add(&c->srv->nconns, -1);
    if (c->dec != NULL) {
        sp_frame_decoder_free(c->dec);
        free(c->dec);
    }
    if (c->srv->model != SP_MODEL_EVENTS)
        sp__mutex_destroy(&SP__BLOCKING(c)->send_lock);
    free(c->out);
    free(c);
}

void sp__conn_link(sp_server *srv, sp_conn *conn)
{
    sp__conn_blocking *b = SP__BLOCKING(conn);
    b->prev = NULL;
    b->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = b;
    srv->conns = b;
}

void sp__conn_unlink(sp_server *srv, sp_conn *conn)
{
    sp__conn_blocking *b = SP__BLOCKING(conn);
    if (b->prev)
        b->prev->next = b->next;
    else
        srv->conns = b->next;
    if (b->next)
        b->next->prev = b->prev;
    b->prev = b->next = NULL;
}

int sp_conn_send(sp_conn *c, const void *buf, size_t len)
{
    int rc;
    if (c == NULL || (buf == NULL && len > 0))
        return SP_EINVAL;
    if (c->srv->model == SP_MODEL_EVENTS)
        return sp__events_send(c, buf, len);
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

int sp_conn_close(sp_conn *c)
{
    if (c == NULL)
        return SP_EINVAL;
    if (c->srv->model == SP_MODEL_EVENTS) {
        sp__events_close(c);
        return 0;
    }
    if (c->close_reason < 0) {
        c->close_reason = SP_CLOSE_HANDLER;
        c->close_error = 0;
    }
    return 0;
}

int sp_server_broadcast(sp_server *srv, const sp_conn *except, const void *msg, size_t len)
{
    sp__conn_blocking *b, **list;
    size_t n = 0, i;
    int sent = 0;
    if (srv == NULL || (msg == NULL && len > 0))
        return SP_EINVAL;
    if (srv->model == SP_MODEL_FORK)
        return SP_ENOTSUP;
    if (srv->model == SP_MODEL_EVENTS)
        return sp__events_broadcast(srv, except, msg, len);
    /* Thread model: take a reference on each connection under the lock, then send without
     * it, so that a slow client delays this broadcast only, not the server's other work
     * (accepting, other broadcasts, connections ending). */
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

/* ---- the blocking connection loop (threads, fork) ------------------------------------ */

/* The handler returned a negative value: it closes the connection (SP_CLOSE_HANDLER),
 * unless a reply of its failed on the way (SP_CLOSE_ERROR with that error). */
static void handler_closed(sp_conn *c)
{
    int err;
    if (c->close_reason >= 0)
        return;
    sp__mutex_lock(&SP__BLOCKING(c)->send_lock);
    err = SP__BLOCKING(c)->send_error;
    sp__mutex_unlock(&SP__BLOCKING(c)->send_lock);
    c->close_reason = err != 0 ? SP_CLOSE_ERROR : SP_CLOSE_HANDLER;
    c->close_error = SP__SMALL_ERROR(err);
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

/* One read into the decoder (framed) or buf (raw), delivered. 0, or sets close_reason. */
static void read_once(sp_conn *c, char *buf)
{
    const sp_server_handler *h = c->srv->cfg.handler;
    void *room = buf;
    ptrdiff_t cap = SP__READ_CHUNK, got;
    if (c->dec != NULL && (cap = sp_frame_decoder_space(c->dec, &room)) < 0) {
        c->close_reason = cap == SP_EMSGSIZE ? SP_CLOSE_TOO_LARGE : SP_CLOSE_ERROR;
        c->close_error = cap == SP_EMSGSIZE ? 0 : SP__SMALL_ERROR((int)cap);
        return;
    }
    /* readable: this will not block (MSG_DONTWAIT where the OS has it) */
    got = sp__recv_dontwait(c->reg.sock, room, (size_t)cap, 1);
    if (got == SP_EAGAIN)
        return;
    if (got == 0 && c->dec != NULL && sp_frame_decoder_pending(c->dec) > 0) {
        c->close_reason = SP_CLOSE_ERROR; /* closed in the middle of a message: not delivered */
        c->close_error = SP_EEOF;
    } else if (got == 0) {
        c->close_reason = SP_CLOSE_ORDERLY;
    } else if (got < 0) {
        c->close_reason = SP_CLOSE_ERROR;
        c->close_error = SP__SMALL_ERROR((int)got);
    } else if (c->dec != NULL) {
        (void)sp_frame_decoder_commit(c->dec, (size_t)got);
    } else if (h->on_data(c, buf, (size_t)got) < 0) {
        handler_closed(c);
    }
}

/* Hand the next whole message in the decoder to the handler: 1 if there was one. */
static int deliver_one(sp_conn *c)
{
    sp_frame_msg msg;
    int rc = sp_frame_decoder_next(c->dec, &msg);
    if (rc == 1) {
        if (c->srv->cfg.handler->on_message(c, msg.data, msg.len) < 0)
            handler_closed(c);
        return 1;
    }
    if (rc == SP_EMSGSIZE) {
        c->close_reason = SP_CLOSE_TOO_LARGE; /* error: 0 but for SP_CLOSE_ERROR */
    } else if (rc < 0) {
        c->close_reason = SP_CLOSE_ERROR;
        c->close_error = SP__SMALL_ERROR(rc);
    }
    return 0;
}

void sp__conn_serve_blocking(sp_conn *c)
{
    sp_server *srv = c->srv;
    const sp_server_handler *h = srv->cfg.handler;
    uint64_t last = sp__now_ms(), stop_at = 0;
    int idle = srv->cfg.idle_timeout_ms;
    char *buf = NULL;
    if (c->dec == NULL && (buf = (char *)malloc(SP__READ_CHUNK)) == NULL) {
        c->close_reason = SP_CLOSE_ERROR;
        c->close_error = SP_ENOMEM;
    }
    if (c->close_reason < 0 && h->on_open)
        h->on_open(c);
    while (c->close_reason < 0) {
        uint64_t now = sp__now_ms();
        int timeout, r;
        if (stop_at == 0 && sp__atomic_load(&srv->stopping))
            stop_at = now + (uint64_t)srv->cfg.grace_ms;
        if (stop_at != 0 &&
            ((c->dec == NULL || sp_frame_decoder_pending(c->dec) == 0) || now >= stop_at)) {
            /* Stopping: a connection between messages closes now; one in the middle of
             * a message gets the grace period to finish it. */
            c->close_reason = SP_CLOSE_STOPPING;
            break;
        }
        if (idle > 0 && now - last >= (uint64_t)idle) {
            c->close_reason = SP_CLOSE_IDLE;
            break;
        }
        if (c->dec != NULL && deliver_one(c)) {
            last = sp__now_ms();
            continue;
        }
        if (c->close_reason >= 0)
            break;
        timeout = ms_until(idle > 0 ? last + (uint64_t)idle : 0, now);
        if (stop_at != 0) {
            int g = ms_until(stop_at, now);
            timeout = timeout < 0 || g < timeout ? g : timeout;
        }
        r = wait_readable(c, timeout, stop_at == 0);
        if (r < 0) {
            c->close_reason = SP_CLOSE_ERROR;
            c->close_error = SP__SMALL_ERROR(r);
        } else if (r > 0) {
            read_once(c, buf);
            /* raw bytes restart the idle clock; with a framer only whole messages do
             * (deliver_one), so that a trickled message cannot hold it off (slowloris) */
            if (c->dec == NULL)
                last = sp__now_ms();
        }
    }
    if (h->on_close)
        h->on_close(c, c->close_reason, c->close_error);
    free(buf);
    sp__mutex_lock(&SP__BLOCKING(c)->send_lock); /* a broadcast may be sending on it */
    sp_close(c->reg.sock);
    c->reg.sock = SP_INVALID_SOCKET;
    sp__mutex_unlock(&SP__BLOCKING(c)->send_lock);
}

/* ---- accepting ----------------------------------------------------------------------- */

int sp__server_accept(sp_server *srv, int timeout_ms, sp_socket_t *out, sp_addr *peer)
{
    sp_sockset rd = SP_SOCKSET_INIT;
    int i, rc;
    *out = SP_INVALID_SOCKET; /* whatever is returned, *out is never left undefined */
    for (i = 0; i < srv->nlisteners; i++)
        if ((rc = sp_sockset_add(&rd, srv->listeners[i])) != 0)
            goto out;
    if ((rc = sp_sockset_add(&rd, sp_waker_socket(srv->waker))) != 0)
        goto out;
    rc = sp_select(&rd, NULL, NULL, timeout_ms);
    if (rc < 0)
        goto out;
    rc = 1;
    if (sp_sockset_ready(&rd, sp_waker_socket(srv->waker)))
        (void)sp_waker_drain(srv->waker);
    if (sp__atomic_load(&srv->stopping))
        goto out;
    rc = SP_EAGAIN;
    for (i = 0; i < srv->nlisteners && rc == SP_EAGAIN; i++) {
        if (!sp_sockset_ready(&rd, srv->listeners[i]))
            continue;
        rc = sp_accept(srv->listeners[i], out, peer, 0);
        if (rc == SP_EMFILE || rc == SP_ENFILE || rc == SP_ENOBUFS || rc == SP_ENOMEM) {
            /* Out of descriptors: the connection stays in the backlog. Wait, don't spin. */
            sp__sleep_ms(SP__BACKOFF_MS);
            rc = SP_EAGAIN;
            break;
        }
        if (rc == SP_ECONNABORTED)
            rc = SP_EAGAIN; /* died in the backlog */
    }
out:
    sp_sockset_free(&rd);
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
            sp__conn_unlink(srv, &b->c);
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

static int run_threads(sp_server *srv)
{
    for (;;) {
        sp_socket_t s;
        sp_addr peer = {{{0}}, 0}; /* filled by accept; zero for the analyzers */
        sp_conn *c;
        int busy, rc;
        reap_threads(srv, 0);
        busy = sp_server_connections(srv) >= srv->cfg.max_connections;
        if (busy && srv->cfg.overflow == SP_OVERFLOW_WAIT) {
            /* leave new clients in the backlog until a connection ends */
            (void)sp_wait(sp_waker_socket(srv->waker), SP_EV_READ, -1);
            (void)sp_waker_drain(srv->waker);
            if (sp__atomic_load(&srv->stopping))
                break;
            continue;
        }
        rc = sp__server_accept(srv, -1, &s, &peer);
        if (rc == 1)
            break;
        if (rc == SP_EAGAIN)
            continue;
        if (rc < 0)
            return rc;
        if (busy) {
            sp_close(s); /* SP_OVERFLOW_REFUSE */
            continue;
        }
        c = sp__conn_new(srv, s, &peer);
        if (c == NULL) {
            sp_close(s);
            continue;
        }
        sp__mutex_lock(&srv->lock);
        sp__conn_link(srv, c);
        rc = sp__thread_start(&SP__BLOCKING(c)->thread, conn_thread, c);
        if (rc != 0)
            sp__conn_unlink(srv, c);
        sp__mutex_unlock(&srv->lock);
        if (rc != 0) {
            sp_close(c->reg.sock);
            sp__conn_free(c);
        }
    }
    /* Stopping: every connection thread sees the flag within a slice (and finishes a
     * message it is in the middle of within the grace period); join them all. */
    reap_threads(srv, 1);
    return 0;
}

/* Serve until stopped. A stop asked before the run began is honoured at once; the stop
 * flag is cleared when the run ends, so that the server can be run again. */
static int run_body(sp_server *srv)
{
    int rc;
    switch (srv->model) {
    case SP_MODEL_THREADS:
        rc = run_threads(srv);
        break;
    case SP_MODEL_FORK:
        rc = sp__server_run_fork(srv);
        break;
    default:
        rc = sp__server_run_events(srv);
        break;
    }
    (void)sp_waker_drain(srv->waker);
    (void)sp_waker_drain(srv->stop_waker);
    sp__atomic_store(&srv->stopping, 0);
    srv->running = 0;
    return rc;
}

int sp_server_run(sp_server *srv)
{
    if (srv == NULL || srv->nlisteners == 0 || srv->running)
        return SP_EINVAL;
    srv->running = 1;
    return run_body(srv);
}

static void runner(void *arg)
{
    sp_server *srv = (sp_server *)arg;
    srv->run_result = run_body(srv);
}

int sp_server_start(sp_server *srv)
{
    int rc;
    if (srv == NULL || srv->runner != NULL || srv->running || srv->nlisteners == 0)
        return SP_EINVAL;
    srv->running = 1; /* before the thread: a second start or run is refused at once */
    rc = sp__thread_start(&srv->runner, runner, srv);
    if (rc != 0) {
        srv->runner = NULL;
        srv->running = 0;
    }
    return rc;
}

int sp_server_wait(sp_server *srv)
{
    if (srv == NULL || srv->runner == NULL)
        return SP_EINVAL;
    sp__thread_join(srv->runner);
    srv->runner = NULL;
    return srv->run_result;
}
