/*
 * server_conn.c - the rules every model's connections follow, written once: making and
 * freeing a connection, which close reason a read, a decoded message, a handler's return
 * or a failed reply gives (the first reason wins), stopping between messages, the idle
 * rule; and accepting: the listeners' registration, bursts, overflow and back-off.
 */
#include "frame_internal.h"
#include "server.h"

#include <stdlib.h>
#include <string.h>

/* The peer's sockaddr, stored right after the connection's struct. */
static unsigned char *peer_bytes(const sp_conn *c)
{
    return (unsigned char *)c + c->srv->model->conn_size;
}

int sp_conn_peer(const sp_conn *c, sp_addr *out)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (c == NULL || out == NULL)
        return SP_EINVAL;
    /* out is zeroed: trimmed zero bytes come back as they were */
    memcpy(out->u.bytes, peer_bytes(c), c->peer_len & ~SP__PEER_TRIMMED);
    out->len =
        (c->peer_len & ~SP__PEER_TRIMMED) + ((c->peer_len & SP__PEER_TRIMMED) ? SP__PEER_TRIM : 0);
    return 0;
}

sp_conn *sp__conn_new(sp_server *srv, sp_socket_t s, const sp_addr *peer)
{
    int blocking = srv->model->blocking;
    static const unsigned char zeros[SP__PEER_TRIM] = {0};
    /* peer_len is 7 bits and a flag: every sockaddr fits (accept reports 110 at most) */
    size_t plen = peer->len < SP__PEER_TRIMMED ? peer->len : 0;
    unsigned char trim = 0;
    sp_conn *c;
    if (plen >= SP__PEER_TRIM &&
        memcmp(peer->u.bytes + plen - SP__PEER_TRIM, zeros, SP__PEER_TRIM) == 0) {
        plen -= SP__PEER_TRIM; /* IPv4's sin_zero: not stored */
        trim = SP__PEER_TRIMMED;
    }
    c = (sp_conn *)calloc(1, srv->model->conn_size + plen);
    if (c == NULL)
        return NULL;
    c->srv = srv;
    c->reg.sock = s;
    c->close_reason = -1;
    sp__atomic_store(&c->refs, 1); /* the server's */
    c->peer_len = (unsigned char)(plen | trim);
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
    /* the socket is in the mode the model asked of the accept (sp__accept_nonblocking) */
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
        c->dec = NULL;
    }
    if (c->srv->model->blocking) { /* its send lock lives until the last reference */
        sp__conn_blocking *b = SP__BLOCKING(c);
        /* under the lock: a thread that holds c may be in sp_conn_queued() */
        sp__mutex_lock(&b->send_lock);
        free(b->stage);
        b->stage = NULL;
        b->stage_len = 0;
        sp__mutex_unlock(&b->send_lock);
    }
    free(c->out);
    c->out = NULL;
    sp_conn_release(c); /* the server's reference: a held connection lives on, closed */
}

/* ---- close reasons ------------------------------------------------------------------- */

void sp__conn_end(sp_conn *c, int reason, int error)
{
    if (c->close_reason >= 0)
        return;
    c->close_reason = (signed char)reason;
    /* error: 0 but for SP_CLOSE_ERROR */
    c->close_error = reason == SP_CLOSE_ERROR ? SP__SMALL_ERROR(error) : 0;
}

void sp__conn_read_result(sp_conn *c, ptrdiff_t got)
{
    if (got > 0 || got == SP_EAGAIN)
        return;
    if (got == 0 && c->dec != NULL && sp_frame_decoder_pending(c->dec) > 0)
        sp__conn_end(c, SP_CLOSE_ERROR, SP_EEOF); /* cut in the middle: not delivered */
    else if (got == 0)
        sp__conn_end(c, SP_CLOSE_ORDERLY, 0);
    else if (got == SP_EMSGSIZE)
        sp__conn_end(c, SP_CLOSE_TOO_LARGE, 0); /* the decoder, stopped at an oversize one */
    else
        sp__conn_end(c, SP_CLOSE_ERROR, (int)got);
}

void sp__conn_decode_result(sp_conn *c, int rc)
{
    if (rc >= 0)
        return;
    sp__conn_end(c, rc == SP_EMSGSIZE ? SP_CLOSE_TOO_LARGE : SP_CLOSE_ERROR, rc);
}

void sp__conn_handler_result(sp_conn *c, int rc, int send_error)
{
    if (rc >= 0)
        return;
    if (send_error != 0)
        sp__conn_end(c, SP_CLOSE_ERROR, send_error);
    else
        sp__conn_end(c, SP_CLOSE_HANDLER, 0);
}

void sp__conn_reply_failed(sp_conn *c, int error)
{
    if (c->close_reason == SP_CLOSE_ORDERLY)
        c->close_reason = -1; /* a reply was lost: not an orderly end any more */
    sp__conn_end(c, SP_CLOSE_ERROR, error);
}

/* ---- output rules -------------------------------------------------------------------- */

/* Whether the delimiter d (w bytes) occurs in the concatenation of iov[0..n): each part
 * is searched, and each joint (the last w - 1 bytes before it and the first w - 1 of the
 * part). */
static int delim_in_parts(const unsigned char *d, size_t w, const sp_iovec *iov, int n)
{
    unsigned char tail[2 * SP_FRAME_DELIM_MAX];
    size_t tl = 0, i;
    int p;
    for (p = 0; p < n; p++) {
        const unsigned char *b = (const unsigned char *)iov[p].base;
        size_t l = (size_t)iov[p].len, j = l < w - 1 ? l : w - 1;
        memcpy(tail + tl, b, j); /* the joint: tail (< w) + the part's first w - 1 */
        for (i = 0; i + w <= tl + j; i++)
            if (memcmp(tail + i, d, w) == 0)
                return 1;
        for (i = 0; i + w <= l; i++)
            if (b[i] == d[0] && memcmp(b + i, d, w) == 0)
                return 1;
        /* keep the last w - 1 bytes of everything so far */
        if (l >= w - 1) {
            memcpy(tail, b + l - (w - 1), w - 1);
            tl = w - 1;
        } else {
            tl += j;
            if (tl > w - 1) {
                memmove(tail, tail + tl - (w - 1), w - 1);
                tl = w - 1;
            }
        }
    }
    return 0;
}

int sp__conn_frame(const sp_framer *f, const sp_iovec *iov, int n,
                   unsigned char hdr[SP_FRAME_HEADER_MAX], sp_iovec *out)
{
    size_t total = 0;
    int i, h, m = 0;
    if (n == 1) /* one part: the frame code's own checks and fast path */
        return sp__frame_encode_fast(f, iov[0].base, (size_t)iov[0].len, hdr, out);
    for (i = 0; i < n; i++)
        total += (size_t)iov[i].len;
    h = sp_frame_header(f, total, hdr, SP_FRAME_HEADER_MAX);
    if (h < 0)
        return h;
    if (f->kind == SP_FRAME_DELIM && delim_in_parts(f->delim, f->width, iov, n))
        return SP_EINVAL;
    if (h > 0)
        out[m++] = sp_iovec_make(hdr, (size_t)h);
    for (i = 0; i < n; i++)
        if (iov[i].len > 0)
            out[m++] = iov[i];
    if (f->kind == SP_FRAME_DELIM)
        out[m++] = sp_iovec_make(f->delim, f->width);
    return m;
}

int sp__conn_send_limit(const sp_server *srv)
{
    int s = srv->cfg.send_timeout_ms, idle = srv->cfg.idle_timeout_ms;
    if (idle > 0 && (s < 0 || idle < s))
        return idle;
    return s;
}

int sp__conn_reply_limit(const sp_server *srv)
{
    return srv->cfg.reply_timeout_ms > 0 ? srv->cfg.reply_timeout_ms : -1;
}

int sp__conn_output_limit(const sp_server *srv)
{
    int s = sp__conn_send_limit(srv), r = sp__conn_reply_limit(srv);
    return r >= 0 && (s < 0 || r < s) ? r : s;
}

int sp__conn_between_messages(const sp_conn *c)
{
    return c->dec == NULL || sp_frame_decoder_pending(c->dec) == 0;
}

int sp__conn_bytes_restart_idle(const sp_conn *c)
{
    return c->srv->cfg.framer == NULL || (c->flags & SP__CONN_RAW);
}

int sp__conn_idle_expired(const sp_conn *c, uint64_t last, uint64_t now)
{
    int idle = c->srv->cfg.idle_timeout_ms;
    /* more than idle: the clock's milliseconds are truncated (never up to 1 ms early) */
    return idle > 0 && now - last > (uint64_t)idle;
}

/* ---- accepting ----------------------------------------------------------------------- */

int sp__accept_setup(sp_server *srv)
{
    int i, rc = sp_poller_create(&srv->poller, SP_POLLER_AUTO);
    for (i = 0; rc == 0 && i < srv->nlisteners; i++)
        rc = sp_poller_add(srv->poller, srv->listeners[i], SP_EV_READ, &srv->listeners[i]);
    if (rc == 0)
        rc = sp_poller_add(srv->poller, sp_waker_socket(srv->waker), SP_EV_READ,
                           (void *)&srv->waker); /* into srv, as the listeners' */
    srv->accepting = 1;
    srv->backoff_until = 0;
    srv->now = sp__now_ms();
    if (rc == 0)
        sp__server_ready(srv);
    return rc;
}

void sp__accept_teardown(sp_server *srv)
{
    sp_poller_destroy(srv->poller);
    srv->poller = NULL;
}

void sp__accept_watch(sp_server *srv, int on)
{
    int i;
    if (srv->accepting == on)
        return;
    for (i = 0; i < srv->nlisteners; i++)
        (void)sp_poller_modify(srv->poller, srv->listeners[i], on ? SP_EV_READ : 0,
                               &srv->listeners[i]);
    srv->accepting = on;
}

sp_socket_t *sp__accept_listener(sp_server *srv, const sp_event *e)
{
    int i;
    for (i = 0; i < srv->nlisteners; i++)
        if (e->data == (void *)&srv->listeners[i])
            return &srv->listeners[i];
    return NULL;
}

static int is_full(const sp_server *srv)
{
    return sp_server_connections(srv) >= srv->cfg.max_connections;
}

void sp__accept_burst(sp_server *srv, sp_socket_t l,
                      void (*add)(sp_server *srv, sp_socket_t s, const sp_addr *peer))
{
    int k;
    for (k = 0; k < SP__ACCEPT_BURST && srv->accepting; k++) {
        sp_socket_t s;
        sp_addr peer = {{{0}}, 0}; /* filled by accept; zero for the analyzers */
        int rc;
        if (is_full(srv) && srv->cfg.overflow == SP_OVERFLOW_WAIT) {
            /* leave new clients in the backlog until a connection ends */
            sp__accept_watch(srv, 0);
            return;
        }
        rc = sp_accept(l, &s, &peer, sp__accept_nonblocking(srv) ? SP_ACCEPT_NONBLOCK : 0);
        if (rc == SP_EAGAIN)
            return;
        if (rc == SP_EMFILE || rc == SP_ENFILE || rc == SP_ENOBUFS || rc == SP_ENOMEM) {
            /* Out of descriptors: leave the connection in the backlog, stop watching the
             * listeners for a while instead of spinning on a readiness we cannot take. */
            sp__accept_watch(srv, 0);
            srv->backoff_until = srv->now + SP__BACKOFF_MS;
            return;
        }
        if (rc < 0)
            continue; /* SP_ECONNABORTED and friends: that connection died, go on */
        if (is_full(srv)) {
            sp_close(s); /* SP_OVERFLOW_REFUSE */
            continue;
        }
        add(srv, s, &peer);
    }
}

void sp__accept_resume(sp_server *srv, int stopping)
{
    if (srv->backoff_until != 0 && (stopping || srv->now >= srv->backoff_until))
        srv->backoff_until = 0;
    if (stopping)
        sp__accept_watch(srv, 0);
    else if (!srv->accepting && srv->backoff_until == 0 &&
             !(is_full(srv) && srv->cfg.overflow == SP_OVERFLOW_WAIT))
        sp__accept_watch(srv, 1);
}

int sp__accept_timeout(const sp_server *srv, int t)
{
    int b;
    if (srv->backoff_until == 0)
        return t;
    b = srv->backoff_until > srv->now ? (int)(srv->backoff_until - srv->now) : 0;
    return t < 0 || b < t ? b : t;
}
