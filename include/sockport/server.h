/*
 * sockport/server.h - one server API over three concurrency models.
 *
 * A server listens on one or more addresses and runs the same handler for each
 * connection, in whichever model it is told to use:
 *   SP_MODEL_THREADS  a thread per connection, bounded by max_connections (Windows' default)
 *   SP_MODEL_FORK     a process per connection (POSIX only; SP_ENOTSUP on Windows)
 *   SP_MODEL_EVENTS   one thread multiplexing non-blocking sockets with sp_poller (POSIX's
 *                     default); it never blocks on one client
 *   SP_MODEL_AUTO     threads on Windows, events on POSIX
 * A program switches model by changing one field.
 *
 * The handler sees open, message (one whole framed message, when a framer is given) or
 * data (raw bytes, when not), and close with a reason. It replies with sp_conn_send, which
 * means the same in every model: blocking in threads and fork, queued and flushed on
 * writability in the event loop, with back-pressure: the event loop stops reading from a
 * connection whose queued output is over output_limit and resumes below half of it.
 *
 * The fork model forks the process that calls sp_server_run. POSIX allows a child of a
 * multi-threaded process only async-signal-safe calls; sockport's child allocates, as do
 * handlers. glibc's allocator survives that, other allocators (the sanitizers', some
 * custom ones) may not: run the fork model from a process that has no other threads.
 *
 * Handlers run in the server's threads: in the event model all on the thread that called
 * sp_server_run, one at a time; in the thread model each connection on its own thread
 * (handlers of different connections run concurrently); in the fork model in the child.
 */
#ifndef SOCKPORT_SERVER_H
#define SOCKPORT_SERVER_H

#include "frame.h"
#include "socket.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sp_model { SP_MODEL_AUTO = 0, SP_MODEL_THREADS = 1, SP_MODEL_FORK = 2, SP_MODEL_EVENTS = 3 };

/* Why a connection closed (the `reason` of on_close). */
enum sp_close_reason {
    SP_CLOSE_ORDERLY = 0,   /* the peer closed its sending side (between messages) */
    SP_CLOSE_ERROR = 1,     /* a transfer failed: reset, keepalive timeout, ... (`error`);
                               SP_EEOF: the peer closed in the middle of a message, which is
                               not delivered */
    SP_CLOSE_IDLE = 2,      /* nothing arrived for idle_timeout_ms */
    SP_CLOSE_TOO_LARGE = 3, /* a message over the framer's maximum, or bad framing */
    SP_CLOSE_STOPPING = 4,  /* the server is stopping */
    SP_CLOSE_HANDLER = 5    /* the handler asked: sp_conn_close or a negative return */
};

/* What the thread model does when max_connections are busy. */
enum sp_overflow {
    SP_OVERFLOW_WAIT = 0,  /* stop accepting: new clients wait in the listen backlog */
    SP_OVERFLOW_REFUSE = 1 /* accept and close at once: new clients see the connection end */
};

typedef struct sp_server sp_server;
typedef struct sp_conn sp_conn;

typedef struct sp_server_handler {
    /* A connection was accepted. May be NULL. */
    void (*on_open)(sp_conn *c);
    /* One whole message (with a framer). The bytes are valid during the call only.
     * Return 0 to go on, a negative value to close the connection (SP_CLOSE_HANDLER). */
    int (*on_message)(sp_conn *c, const void *msg, size_t len);
    /* Raw bytes as they arrive (without a framer). Same return convention. */
    int (*on_data)(sp_conn *c, const void *data, size_t len);
    /* The connection is closing: reason is an sp_close_reason, error the SP_E* code for
     * SP_CLOSE_ERROR (else 0). The socket is still open during the call. May be NULL. */
    void (*on_close)(sp_conn *c, int reason, int error);
} sp_server_handler;

typedef struct sp_server_config {
    int model;                        /* sp_model */
    const sp_server_handler *handler; /* required */
    void *user;                       /* for sp_server_user() */
    const sp_framer *framer;          /* NULL: raw bytes to on_data */
    int max_connections;              /* at once; 0: 1024 */
    int overflow;                     /* sp_overflow, for the thread and fork models */
    int idle_timeout_ms;              /* close a connection silent this long; 0: never */
    int keepalive_idle_s;             /* > 0: TCP keepalive on accepted sockets */
    int keepalive_interval_s;         /* with keepalive: seconds between probes */
    int keepalive_count;              /* with keepalive: probes before giving up */
    size_t output_limit;              /* event model: queued output that pauses reading;
                                         0: 1 MiB */
    int grace_ms;                     /* on stop: time handlers get to finish; 0: 2000 */
    int backlog;                      /* listen backlog; 0: the system's maximum */
} sp_server_config;

/* sp_server_config_init: zero the configuration (every default). */
SP_API void sp_server_config_init(sp_server_config *cfg);

/*
 * sp_server_create: a server (not yet listening). The configuration is copied; the
 * framer and handler it points to must outlive the server. SP_EINVAL (no handler, a
 * framer without on_message, no framer without on_data), SP_ENOTSUP (SP_MODEL_FORK on
 * Windows), SP_ENOMEM.
 */
SP_API int sp_server_create(sp_server **out, const sp_server_config *cfg);

/* sp_server_listen: add a listening address ("host:port", "*:0", "unix:/path"); call it
 * before sp_server_run, once per address. The errors of sp_listen_on. */
SP_API int sp_server_listen(sp_server *srv, const char *address);

/* sp_server_local_addr: the bound address of the i-th listener (port 0 resolved). */
SP_API int sp_server_local_addr(const sp_server *srv, int i, sp_addr *out);

/*
 * sp_server_run: serve until sp_server_stop. Returns 0 after a clean stop (every
 * connection closed, every thread joined, every child reaped), or an error that made
 * serving impossible (no listener: SP_EINVAL).
 */
SP_API int sp_server_run(sp_server *srv);

/*
 * sp_server_start / sp_server_wait: sp_server_run on a thread of its own, for a program
 * that has other work to do (a GUI, a client in the same process, a test). start returns
 * once the thread runs (SP_EINVAL if already running); wait joins it after
 * sp_server_stop and returns what sp_server_run returned.
 */
SP_API int sp_server_start(sp_server *srv);
SP_API int sp_server_wait(sp_server *srv);

/*
 * sp_server_stop: ask the server to stop: it stops accepting, gives handlers grace_ms to
 * finish, then closes what is left (SP_CLOSE_STOPPING) and sp_server_run returns. Callable
 * from any thread, from a handler, and from a signal handler (POSIX: async-signal-safe).
 */
SP_API int sp_server_stop(sp_server *srv);

/* sp_server_destroy: release a server that is not running. NULL is accepted. */
SP_API void sp_server_destroy(sp_server *srv);

/* The model actually running (AUTO resolved), the user pointer, the connection count. */
SP_API int sp_server_model(const sp_server *srv);
SP_API void *sp_server_user(const sp_server *srv);
SP_API int sp_server_connections(const sp_server *srv);

/*
 * sp_server_broadcast: send one message (framed like sp_conn_send) to every connection
 * but `except` (may be NULL). Thread and event models; SP_ENOTSUP in the fork model,
 * where connections live in separate processes. Returns the number of connections sent to.
 * In the event model call it (and sp_conn_send) from a handler, on the loop's thread; in
 * the thread model from any thread (it holds the server's lock while sending, so a client
 * that does not read slows every broadcast down: a known limit of this version).
 */
SP_API int sp_server_broadcast(sp_server *srv, const sp_conn *except, const void *msg, size_t len);

/*
 * sp_conn_send: reply on this connection: one message framed with the server's framer
 * (or raw bytes without one). Thread and fork models: blocks until sent (other threads
 * may send on the same connection: sends do not interleave). Event model: queued and
 * flushed as the socket allows; never blocks. Returns 0, SP_EMSGSIZE (over the framer's
 * maximum, or a fixed framer's length mismatch), SP_ENOMEM, or a transfer error.
 */
SP_API int sp_conn_send(sp_conn *c, const void *buf, size_t len);

/* sp_conn_close: close this connection after its queued output (SP_CLOSE_HANDLER). */
SP_API int sp_conn_close(sp_conn *c);

SP_API sp_server *sp_conn_server(const sp_conn *c);
SP_API const sp_addr *sp_conn_peer(const sp_conn *c);
SP_API sp_socket_t sp_conn_socket(const sp_conn *c);
SP_API void *sp_conn_user(const sp_conn *c);
SP_API void sp_conn_set_user(sp_conn *c, void *user);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_SERVER_H */
