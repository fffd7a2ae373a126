/*
 * server.c - the server: configuration, listeners, connections, the blocking connection
 * loop shared by the thread and fork models, and the thread model itself.
 */
#include "server.h"

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
    if (srv == NULL)
        return SP_EINVAL;
    sp__atomic_store(&srv->stopping, 1);
    return sp_waker_wake(srv->waker);
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

const sp_addr *sp_conn_peer(const sp_conn *c)
{
    return c ? &c->peer : NULL;
}

sp_socket_t sp_conn_socket(const sp_conn *c)
{
    return c ? c->sock : SP_INVALID_SOCKET;
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
    sp_conn *c = (sp_conn *)calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if (srv->cfg.framer != NULL) {
        c->dec = (sp_frame_decoder *)malloc(sizeof *c->dec);
        if (c->dec == NULL || sp_frame_decoder_init(c->dec, srv->cfg.framer) != 0) {
            free(c->dec);
            free(c);
            return NULL;
        }
    }
    if (srv->model != SP_MODEL_EVENTS && sp__mutex_init(&c->send_lock) != 0) {
        if (c->dec)
            sp_frame_decoder_free(c->dec);
        free(c->dec);
        free(c);
        return NULL;
    }
    c->srv = srv;
    c->sock = s;
    c->peer = *peer;
    c->close_reason = -1;
    if (srv->cfg.keepalive_idle_s > 0)
        (void)sp_set_keepalive(s, 1, srv->cfg.keepalive_idle_s, srv->cfg.keepalive_interval_s,
                               srv->cfg.keepalive_count); /* best effort: see sp_set_keepalive */
    if (srv->model != SP_MODEL_EVENTS)
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
        sp__mutex_destroy(&c->send_lock);
    free(c->out);
    free(c);
}

void sp__conn_link(sp_server *srv, sp_conn *c)
{
    c->prev = NULL;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
}

void sp__conn_unlink(sp_server *srv, sp_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

int sp_conn_send(sp_conn *c, const void *buf, size_t len)
{
    int rc;
    if (c == NULL || (buf == NULL && len > 0))
        return SP_EINVAL;
    if (c->srv->model == SP_MODEL_EVENTS)
        return sp__events_send(c, buf, len);
    sp__mutex_lock(&c->send_lock);
    if (c->sock == SP_INVALID_SOCKET)
        rc = SP_EPIPE; /* closed already (a broadcast racing with the end) */
    else if (c->srv->cfg.framer)
        rc = sp_frame_send(c->sock, c->srv->cfg.framer, buf, len, -1);
    else
        rc = sp_send_all(c->sock, buf, len, -1, NULL);
    sp__mutex_unlock(&c->send_lock);
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
    sp_conn *c;
    int n = 0;
    if (srv == NULL || (msg == NULL && len > 0))
        return SP_EINVAL;
    if (srv->model == SP_MODEL_FORK)
        return SP_ENOTSUP;
    if (srv->model == SP_MODEL_THREADS)
        sp__mutex_lock(&srv->lock);
    for (c = srv->conns; c != NULL; c = c->next)
        if (c != except && sp_conn_send(c, msg, len) == 0)
            n++;
    if (srv->model == SP_MODEL_THREADS)
        sp__mutex_unlock(&srv->lock);
    return n;
}

/* ---- the blocking connection loop (threads, fork) ------------------------------------ */

/* Deliver what arrived (raw) or every complete message (framed). 0, or a close reason. */
static int deliver_raw(sp_conn *c, const char *data, size_t len)
{
    if (c->srv->cfg.handler->on_data(c, data, len) < 0 && c->close_reason < 0)
        c->close_reason = SP_CLOSE_HANDLER;
    return c->close_reason >= 0 ? c->close_reason : 0;
}

static int idle_expired(const sp_conn *c, uint64_t last)
{
    int idle = c->srv->cfg.idle_timeout_ms;
    return idle > 0 && sp__now_ms() - last >= (uint64_t)idle;
}

/* Idle for a slice: in a forked child, whose stop flag the parent cannot set, learn of
 * the stop from the server's waker (an eventfd or pipe shared across fork, which the
 * parent keeps readable once stopping). */
static void idle_slice(sp_conn *c)
{
    if (c->srv->in_child && sp_wait(sp_waker_socket(c->srv->waker), SP_EV_READ, 0) > 0)
        sp__atomic_store(&c->srv->stopping, 1);
}

/* One step of a framed connection: wait at most a slice for a message and handle it.
 * Returns 0 to go on, else sets c->close_reason / close_error. */
static void step_framed(sp_conn *c, uint64_t *last)
{
    sp_frame_msg msg;
    int rc = sp_frame_recv(c->sock, c->dec, &msg, SP__SLICE_MS);
    if (rc == 1) {
        *last = sp__now_ms();
        if (c->srv->cfg.handler->on_message(c, msg.data, msg.len) < 0 && c->close_reason < 0)
            c->close_reason = SP_CLOSE_HANDLER;
    } else if (rc == 0) {
        c->close_reason = SP_CLOSE_ORDERLY;
    } else if (rc == SP_EEOF) { /* closed in the middle of a message: not delivered */
        c->close_reason = SP_CLOSE_ERROR;
        c->close_error = SP_EEOF;
    } else if (rc == SP_EMSGSIZE) {
        c->close_reason = SP_CLOSE_TOO_LARGE;
    } else if (rc == SP_ETIMEDOUT) {
        idle_slice(c);
    } else {
        c->close_reason = SP_CLOSE_ERROR;
        c->close_error = rc;
    }
}

static void step_raw(sp_conn *c, char *buf, uint64_t *last)
{
    ptrdiff_t got;
    int r = sp_wait(c->sock, SP_EV_READ, SP__SLICE_MS);
    if (r == 0) {
        idle_slice(c);
        return;
    }
    got = r < 0 ? r : sp_recv(c->sock, buf, SP__READ_CHUNK);
    if (got > 0) {
        *last = sp__now_ms();
        deliver_raw(c, buf, (size_t)got);
    } else if (got == 0) {
        c->close_reason = SP_CLOSE_ORDERLY;
    } else if (got != SP_EAGAIN) {
        c->close_reason = SP_CLOSE_ERROR;
        c->close_error = (int)got;
    }
}

void sp__conn_serve_blocking(sp_conn *c)
{
    const sp_server_handler *h = c->srv->cfg.handler;
    uint64_t last = sp__now_ms(), stop_at = 0;
    char *buf = NULL;
    if (c->dec == NULL && (buf = (char *)malloc(SP__READ_CHUNK)) == NULL) {
        c->close_reason = SP_CLOSE_ERROR;
        c->close_error = SP_ENOMEM;
    }
    if (c->close_reason < 0 && h->on_open)
        h->on_open(c);
    while (c->close_reason < 0) {
        if (sp__atomic_load(&c->srv->stopping)) {
            /* Stopping: a connection between messages closes now; one in the middle of
             * a message gets the grace period to finish it. */
            if (stop_at == 0)
                stop_at = sp__now_ms() + (uint64_t)c->srv->cfg.grace_ms;
            if ((c->dec == NULL || sp_frame_decoder_pending(c->dec) == 0) ||
                sp__now_ms() >= stop_at) {
                c->close_reason = SP_CLOSE_STOPPING;
                break;
            }
        }
        if (idle_expired(c, last)) {
            c->close_reason = SP_CLOSE_IDLE;
            break;
        }
        if (c->dec != NULL)
            step_framed(c, &last);
        else
            step_raw(c, buf, &last);
    }
    if (h->on_close)
        h->on_close(c, c->close_reason, c->close_error);
    free(buf);
    sp__mutex_lock(&c->send_lock); /* a broadcast may be sending on it */
    sp_close(c->sock);
    c->sock = SP_INVALID_SOCKET;
    sp__mutex_unlock(&c->send_lock);
}

/* ---- accepting ----------------------------------------------------------------------- */

int sp__server_accept(sp_server *srv, int timeout_ms, sp_socket_t *out, sp_addr *peer)
{
    sp_sockset rd = SP_SOCKSET_INIT;
    int i, rc;
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
    sp__atomic_store(&c->done, 1);
    (void)sp_waker_wake(srv->waker);
}

/* Join and free the connections whose thread is done; all of them when `all`. */
static void reap_threads(sp_server *srv, int all)
{
    for (;;) {
        sp_conn *c, *done = NULL;
        sp__mutex_lock(&srv->lock);
        for (c = srv->conns; c != NULL; c = c->next)
            if (all || sp__atomic_load(&c->done))
                break;
        if (c != NULL) {
            sp__conn_unlink(srv, c);
            done = c;
        }
        sp__mutex_unlock(&srv->lock);
        if (done == NULL)
            return;
        sp__thread_join(done->thread);
        sp__conn_free(done);
    }
}

static int run_threads(sp_server *srv)
{
    for (;;) {
        sp_socket_t s;
        sp_addr peer;
        sp_conn *c;
        int busy, rc;
        reap_threads(srv, 0);
        busy = sp_server_connections(srv) >= srv->cfg.max_connections;
        if (busy && srv->cfg.overflow == SP_OVERFLOW_WAIT) {
            /* leave new clients in the backlog until a connection ends */
            rc = sp_wait(sp_waker_socket(srv->waker), SP_EV_READ, -1);
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
        rc = sp__thread_start(&c->thread, conn_thread, c);
        if (rc != 0)
            sp__conn_unlink(srv, c);
        sp__mutex_unlock(&srv->lock);
        if (rc != 0) {
            sp_close(c->sock);
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
