/*
 * server.c - the server's lifecycle (configuration, listeners, run, start, stop, wait) and
 * the public calls, dispatched through the model's table (server.h).
 */
#include "frame_internal.h"
#include "server.h"

#include <stdlib.h>
#include <string.h>

#define SP__DEFAULT_MAX_CONN  1024
#define SP__DEFAULT_OUT_LIMIT ((size_t)1 << 20)
#define SP__DEFAULT_GRACE_MS  2000
#define SP__DEFAULT_SEND_MS   30000
#define SP__DEFAULT_LOW_WATER ((size_t)64 << 10)

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
        cfg->grace_ms < 0 || cfg->send_timeout_ms < -1 || cfg->reply_timeout_ms < -1 ||
        (cfg->overflow != SP_OVERFLOW_WAIT && cfg->overflow != SP_OVERFLOW_REFUSE) ||
        cfg->sendfile_mode < SP_SENDFILE_AUTO || cfg->sendfile_mode > SP_SENDFILE_ON ||
        /* what sp_set_keepalive() would refuse, which would leave keepalive off */
        cfg->keepalive_idle_s < 0 || cfg->keepalive_interval_s < 0 || cfg->keepalive_count < 0 ||
        cfg->keepalive_idle_s > SP__KEEPALIVE_SECONDS_MAX ||
        cfg->keepalive_interval_s > SP__KEEPALIVE_SECONDS_MAX ||
        cfg->keepalive_count > SP__KEEPALIVE_COUNT_MAX)
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
    if (srv->cfg.send_timeout_ms == 0)
        srv->cfg.send_timeout_ms = SP__DEFAULT_SEND_MS;
    if (srv->cfg.drain_low_water == 0)
        srv->cfg.drain_low_water = SP__DEFAULT_LOW_WATER;
    switch (cfg->model == SP_MODEL_AUTO ? sp__server_default_model() : cfg->model) {
    case SP_MODEL_THREADS:
        srv->model = &sp__model_threads;
        break;
    case SP_MODEL_FORK:
        srv->model = sp__server_fork_model();
        break;
    default:
        srv->model = &sp__model_events;
        break;
    }
    if (srv->model == NULL) {
        free(srv);
        return SP_ENOTSUP;
    }
    rc = sp__mutex_init(&srv->lock);
    if (rc == 0) {
        rc = sp_waker_create(&srv->waker);
        if (rc == 0 && (rc = sp_waker_create(&srv->stop_waker)) != 0)
            sp_waker_destroy(srv->waker);
        if (rc == 0 && (rc = sp__posts_init(srv)) != 0) {
            sp_waker_destroy(srv->waker);
            sp_waker_destroy(srv->stop_waker);
        }
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
    sp__timers_free(srv);
    sp__posts_fini(srv);
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
    int rc, rc2;
    if (srv == NULL)
        return SP_EINVAL;
    sp__atomic_store(&srv->stopping, 1);
    rc = sp_waker_wake(srv->stop_waker); /* stays readable until the run ends */
    rc2 = sp_waker_wake(srv->waker);     /* the event loop, whatever the first said */
    return rc != 0 ? rc : rc2;
}

int sp_server_model(const sp_server *srv)
{
    return srv ? srv->model->id : SP_EINVAL;
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

/* ---- output: one path for send, sendv, write, writev ---------------------------------- */

/* iov[0..n) as one message (framed) or raw bytes, to the model's output. */
static int conn_out(sp_conn *c, const sp_iovec *iov, int n, int framed)
{
    const sp_framer *f;
    unsigned char hdr[SP_FRAME_HEADER_MAX];
    sp_iovec parts[SP__OUT_IOV];
    int i, m = 0;
    if (c == NULL || n < 0 || n > SP_CONN_IOV_MAX || (iov == NULL && n > 0))
        return SP_EINVAL;
    f = framed ? c->srv->cfg.framer : NULL;
    if (f != NULL)
        return (m = sp__conn_frame(f, iov, n, hdr, parts)) < 0 ? m
                                                               : c->srv->model->output(c, parts, m);
    for (i = 0; i < n; i++)
        if (iov[i].len > 0)
            parts[m++] = iov[i];
    return c->srv->model->output(c, parts, m);
}

int sp_conn_send(sp_conn *c, const void *buf, size_t len)
{
    unsigned char hdr[SP_FRAME_HEADER_MAX];
    sp_iovec v[2];
    int m;
    if (c == NULL || (buf == NULL && len > 0))
        return SP_EINVAL;
    if (c->srv->cfg.framer != NULL) {
        /* the hot path of a framed reply: encoded here (the frame code checks the length,
         * the delimiter and the sp_iovec range), straight to the model */
        m = sp__frame_encode_fast(c->srv->cfg.framer, buf, len, hdr, v);
        return m < 0 ? m : c->srv->model->output(c, v, m);
    }
    v[0] = sp_iovec_make(buf, len);
    if ((size_t)v[0].len != len)
        return SP_EMSGSIZE; /* does not fit one sp_iovec here (Windows: 4 GiB) */
    return conn_out(c, v, 1, 0);
}

int sp_conn_sendv(sp_conn *c, const sp_iovec *iov, int n)
{
    return conn_out(c, iov, n, 1);
}

int sp_conn_write(sp_conn *c, const void *buf, size_t len)
{
    sp_iovec v;
    if (c == NULL || (buf == NULL && len > 0))
        return SP_EINVAL;
    v = sp_iovec_make(buf, len);
    if ((size_t)v.len != len)
        return SP_EMSGSIZE;
    return conn_out(c, &v, 1, 0);
}

int sp_conn_writev(sp_conn *c, const sp_iovec *iov, int n)
{
    return conn_out(c, iov, n, 0);
}

int sp_conn_want_drain(sp_conn *c)
{
    if (c == NULL || c->srv->cfg.handler->on_drain == NULL)
        return SP_EINVAL;
    if (c->close_reason >= 0 || c->reg.sock == SP_INVALID_SOCKET)
        return SP_EPIPE;
    return c->srv->model->want_drain(c);
}

size_t sp_conn_queued(const sp_conn *c)
{
    return c != NULL ? c->srv->model->queued(c) : 0;
}

int sp_conn_set_raw(sp_conn *c, int raw)
{
    if (c == NULL || c->srv->cfg.framer == NULL || c->srv->cfg.handler->on_data == NULL)
        return SP_EINVAL;
    if (raw)
        c->flags |= SP__CONN_RAW;
    else
        c->flags &= (unsigned char)~SP__CONN_RAW;
    return 0;
}

int sp_conn_close(sp_conn *c)
{
    if (c == NULL)
        return SP_EINVAL;
    c->srv->model->close(c);
    return 0;
}

int sp_server_broadcast(sp_server *srv, const sp_conn *except, const void *msg, size_t len)
{
    if (srv == NULL || (msg == NULL && len > 0))
        return SP_EINVAL;
    if (srv->model->broadcast == NULL)
        return SP_ENOTSUP; /* the fork model: the connections are in other processes */
    return srv->model->broadcast(srv, except, msg, len);
}

/* Serve until stopped. A stop asked before the run began is honoured at once; the stop
 * flag is cleared when the run ends, so that the server can be run again. */
static int run_body(sp_server *srv)
{
    int rc = srv->model->run(srv);
    sp__posts_close(srv); /* what is still queued runs now: its references are released */
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
    sp__posts_open(srv);
    return run_body(srv);
}

/* Wake sp_server_start, if it waits: ready (rc 0), or the run ended with rc. Once. */
static void start_done(sp_server *srv, int rc)
{
    sp__mutex_lock(&srv->lock);
    if (srv->start_waiting && !srv->start_done) {
        srv->start_done = 1;
        srv->start_rc = rc;
        sp__cond_signal(&srv->start_cond);
    }
    sp__mutex_unlock(&srv->lock);
}

void sp__server_ready(sp_server *srv)
{
    start_done(srv, 0);
}

static void runner(void *arg)
{
    sp_server *srv = (sp_server *)arg;
    int rc = run_body(srv);
    srv->run_result = rc;
    /* a run that ended before it was ready (a setup error): sp_server_start returns it */
    start_done(srv, rc != 0 ? rc : SP_EUNKNOWN);
}

int sp_server_start(sp_server *srv)
{
    int rc;
    if (srv == NULL || srv->runner != NULL || srv->running || srv->nlisteners == 0)
        return SP_EINVAL;
    rc = sp__cond_init(&srv->start_cond);
    if (rc != 0)
        return rc;
    srv->running = 1; /* before the thread: a second start or run is refused at once */
    sp__posts_open(srv);
    srv->start_waiting = 1; /* no thread yet: no lock needed */
    srv->start_done = 0;
    srv->start_rc = 0;
    rc = sp__thread_start(&srv->runner, runner, srv);
    if (rc == 0) {
        sp__mutex_lock(&srv->lock);
        while (!srv->start_done)
            (void)sp__cond_wait(&srv->start_cond, &srv->lock, -1);
        srv->start_waiting = 0;
        rc = srv->start_rc;
        sp__mutex_unlock(&srv->lock);
        if (rc != 0) { /* the run has ended: nothing for sp_server_wait */
            sp__thread_join(srv->runner);
            srv->runner = NULL;
        }
    } else {
        sp__posts_close(srv);
        srv->runner = NULL;
        srv->running = 0;
        srv->start_waiting = 0;
    }
    sp__cond_destroy(&srv->start_cond);
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
