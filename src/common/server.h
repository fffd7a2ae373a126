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
#define SP__STAGE_CAP     65536 /* event model: the replies one read's messages gather */
#define SP__STAGE_SMALL   4096  /* event model: larger replies are never copied */

/*
 * A connection. The event model allocates just this struct, with the peer's sockaddr
 * right after it; it is kept small because that model holds many idle connections
 * (about 100 bytes each with an IPv4 peer, registration included: docs/benchmarks.md).
 * The blocking models allocate an sp__conn_blocking around it.
 */
struct sp_conn {
    sp__reg reg; /* reg.sock is the connection's socket in every model; the event model
                  * registers reg itself with its poller (owned: SP__REG_OWNED) */
    sp_server *srv;
    void *user;
    /* framed: always in the blocking models; in the event model only while it holds the
     * start of a message (reads go through the server's shared decoder) */
    sp_frame_decoder *dec;
    struct sp__outq *out;     /* event model: queued output; NULL when none */
    sp_conn *next_closing;    /* event model: the server's list of connections to close */
    uint32_t last_active;     /* event model: low 32 bits of sp__now_ms() at the last read */
    signed char close_error;  /* the SP_E* code for SP_CLOSE_ERROR (all fit in a char) */
    signed char close_reason; /* -1 while open, else the first reason given */
    unsigned char flags;      /* SP__CONN_* */
    unsigned char peer_len;   /* bytes of the peer's sockaddr stored after the struct */
};

/* An SP_E* code as stored in close_error (every code fits; anything else is unknown). */
#define SP__SMALL_ERROR(e) ((signed char)((e) >= -128 && (e) <= 0 ? (e) : SP_EUNKNOWN))

#define SP__CONN_PAUSED    1u /* reading paused: output over the limit */
#define SP__CONN_UNDRAINED 2u /* messages left in the decoder while paused */
#define SP__CONN_CLOSING   4u /* on the server's closing list */

/* Queued output of an event-model connection: data[off..len) in the cap bytes after it. */
struct sp__outq {
    size_t off, len, cap;
};

/* A connection of the blocking models (threads, fork). */
typedef struct sp__conn_blocking {
    struct sp_conn c;                      /* first: an sp_conn * points to it */
    struct sp__conn_blocking *prev, *next; /* thread model: the server's list */
    sp__mutex send_lock;
    int send_error; /* the first transfer error of sp_conn_send (under send_lock) */
    sp__thread *thread;
    sp__atomic done; /* the thread has finished: join it */
    int refs;        /* thread model: broadcasts sending to it (under the server's lock) */
} sp__conn_blocking;

#define SP__BLOCKING(c) ((sp__conn_blocking *)(c))

struct sp_server {
    sp_server_config cfg;
    int model;
    sp_socket_t listeners[SP__MAX_LISTENERS];
    int nlisteners;
    sp_waker *waker;      /* wakes the accepting thread / the loop (drained by it) */
    sp_waker *stop_waker; /* readable from sp_server_stop until the run ends: the
                           * blocking models' connections (and forked children) wait on it */
    sp__atomic stopping;
    sp__atomic nconns;
    sp__mutex lock;           /* the list of connections (thread model) */
    sp__conn_blocking *conns; /* thread model: the connections */
    int running;
    sp__thread *runner; /* sp_server_start's thread */
    int in_child;       /* fork model: this process is a connection's child */
    int run_result;
    /* event model (its connections are the poller's owned registrations) */
    char *rbuf;               /* the read buffer for raw connections */
    sp_frame_decoder scratch; /* framed: the decoder every read goes through first */
    sp_poller *poller;
    sp_conn *closing;       /* connections to look at for closing (next_closing) */
    int accepting;          /* listeners watched for reading */
    uint64_t backoff_until; /* accept paused after EMFILE until then */
    uint64_t now;           /* sp__now_ms() when the loop last woke up */
    char *stage;            /* small replies to the messages being delivered */
    size_t stage_len;
    sp_conn *batching; /* the connection whose messages are being delivered */
};

/* ---- shared by the models (src/common/server.c) -------------------------------------- */

/* A new connection for an accepted socket (keepalive applied, decoder made). */
sp_conn *sp__conn_new(sp_server *srv, sp_socket_t s, const sp_addr *peer);
void sp__conn_free(sp_conn *c);

/* Thread model: link / unlink c in the server's list (under srv->lock). */
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
int sp__events_broadcast(sp_server *srv, const sp_conn *except, const void *msg, size_t len);
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
