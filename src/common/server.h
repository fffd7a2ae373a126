/*
 * server.h - what the server's shared code (src/common/server*.c) and its backend parts
 * (the fork model in src/posix/server.c, its absence in src/win32/server.c) share.
 */
#ifndef SOCKPORT_SERVER_INTERNAL_H
#define SOCKPORT_SERVER_INTERNAL_H

#include "poller.h"
#include "thread.h"

#include "sockport/server.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SP__MAX_LISTENERS 8
#define SP__READ_CHUNK    65536

struct sp_conn {
    sp_server *srv;
    sp_socket_t sock;
    sp_addr peer;
    void *user;
    sp_frame_decoder *dec; /* NULL without a framer */
    sp_conn *prev, *next;  /* the server's list of connections */
    /* blocking models (threads, fork) */
    sp__mutex send_lock;
    int send_error; /* the first transfer error of sp_conn_send (under send_lock) */
    sp__thread *thread;
    sp__atomic done; /* the thread has finished: join it */
    /* event model */
    char *out; /* queued output: out[out_off..out_len) */
    size_t out_off, out_len, out_cap;
    uint64_t last_active_ms;
    int interest;     /* SP_EV_* registered with the poller */
    int paused;       /* reading paused: output over the limit */
    int undrained;    /* messages left in the decoder while paused */
    int close_reason; /* >= 0 once sp_conn_close or an error marked it closing */
    int close_error;
    sp_conn *next_closing; /* event model: the list of connections to look at for closing */
    int on_closing_list;
};

struct sp_server {
    sp_server_config cfg;
    int model;
    sp_socket_t listeners[SP__MAX_LISTENERS];
    int nlisteners;
    sp_waker *waker;
    sp__atomic stopping;
    sp__atomic nconns;
    sp__mutex lock; /* the list of connections (thread model) */
    sp_conn *conns;
    int running;
    sp__thread *runner; /* sp_server_start's thread */
    int in_child;       /* fork model: this process is a connection's child */
    int run_result;
    /* event model */
    char *rbuf; /* the read buffer for raw connections */
    sp_poller *poller;
    sp_conn *closing;       /* connections to look at for closing */
    int accepting;          /* listeners watched for reading */
    uint64_t backoff_until; /* accept paused after EMFILE until then */
};

/* ---- shared by the models (src/common/server.c) -------------------------------------- */

/* A new connection for an accepted socket (keepalive applied, decoder made). */
sp_conn *sp__conn_new(sp_server *srv, sp_socket_t s, const sp_addr *peer);
void sp__conn_free(sp_conn *c);

/* Link / unlink c in the server's list (under srv->lock in the thread model). */
void sp__conn_link(sp_server *srv, sp_conn *c);
void sp__conn_unlink(sp_server *srv, sp_conn *c);

/* Serve one connection with blocking calls until it ends: the thread and fork models.
 * Calls on_open, on_message / on_data, on_close; closes the socket; frees nothing. */
void sp__conn_serve_blocking(sp_conn *c);

/* Wait until a listener can accept or the server is told to stop; accept one. Returns 0
 * with *out set, 1 when stopping, or an error. Backs off on EMFILE/ENFILE. */
int sp__server_accept(sp_server *srv, int timeout_ms, sp_socket_t *out, sp_addr *peer);

/* The event model (src/common/server_events.c). */
int sp__server_run_events(sp_server *srv);
int sp__events_send(sp_conn *c, const void *buf, size_t len);
void sp__events_close(sp_conn *c); /* sp_conn_close: after the queued output */

/* ---- backend (src/posix/server.c, src/win32/server.c) -------------------------------- */

/* The model SP_MODEL_AUTO means here. */
int sp__server_default_model(void);

/* Whether this system has the fork model. */
int sp__server_has_fork(void);

/* The fork model (only called where sp__server_has_fork). */
int sp__server_run_fork(sp_server *srv);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_SERVER_INTERNAL_H */
