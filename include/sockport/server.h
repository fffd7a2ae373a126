/**
 * @file sockport/server.h
 * @brief One server API over three concurrency models: threads, fork, an event loop.
 *
 * A server listens on one or more addresses and runs the same handler for each
 * connection, in whichever model it is told to use (::sp_model):
 *  - SP_MODEL_THREADS: a thread per connection, bounded by max_connections (Windows'
 *    default);
 *  - SP_MODEL_FORK: a process per connection (POSIX only; SP_ENOTSUP on Windows);
 *  - SP_MODEL_EVENTS: one thread multiplexing non-blocking sockets with sp_poller
 *    (POSIX's default); it never blocks on one client;
 *  - SP_MODEL_AUTO: threads on Windows, events on POSIX.
 *
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

/** Concurrency models (sp_server_config::model). */
enum sp_model {
    SP_MODEL_AUTO = 0,    /**< threads on Windows, events on POSIX */
    SP_MODEL_THREADS = 1, /**< a thread per connection */
    SP_MODEL_FORK = 2,    /**< a process per connection (POSIX only) */
    SP_MODEL_EVENTS = 3   /**< one thread, non-blocking sockets, a poller */
};

/** Why a connection closed (the `reason` of sp_server_handler::on_close). */
enum sp_close_reason {
    SP_CLOSE_ORDERLY = 0,   /**< the peer closed its sending side (between messages) */
    SP_CLOSE_ERROR = 1,     /**< a transfer failed: reset, keepalive timeout, ... (`error`);
                               SP_EEOF: the peer closed in the middle of a message, which
                               is not delivered */
    SP_CLOSE_IDLE = 2,      /**< no whole message (raw: no byte) for idle_timeout_ms */
    SP_CLOSE_TOO_LARGE = 3, /**< a message over the framer's maximum, or bad framing;
                               the replies to the messages before it are sent first, in
                               every model (a peer that does not take them is cut by
                               send_timeout_ms) */
    SP_CLOSE_STOPPING = 4,  /**< the server is stopping */
    SP_CLOSE_HANDLER = 5    /**< the handler asked: sp_conn_close or a negative return */
};

/** What the thread model does when max_connections are busy. */
enum sp_overflow {
    SP_OVERFLOW_WAIT = 0,  /**< stop accepting: new clients wait in the listen backlog */
    SP_OVERFLOW_REFUSE = 1 /**< accept and close at once: new clients see the connection end */
};

/** A server (opaque). */
typedef struct sp_server sp_server;
/** One connection of a server (opaque), as its handler sees it. */
typedef struct sp_conn sp_conn;

/** The handler: what the server calls for each connection, in every model. */
typedef struct sp_server_handler {
    /** A connection was accepted. Its socket already has TCP_NODELAY on (a TCP socket:
     * replies go out without waiting for the peer's ACK of the previous one), in every
     * model. May be NULL. */
    void (*on_open)(sp_conn *c);
    /** One whole message (with a framer). The bytes are valid during the call only.
     * Return 0 to go on, a negative value to close the connection (SP_CLOSE_HANDLER; in
     * every model SP_CLOSE_ERROR with the error instead when a reply of sp_conn_send
     * failed in transfer, e.g. the peer reset the connection). */
    int (*on_message)(sp_conn *c, const void *msg, size_t len);
    /** Raw bytes as they arrive (without a framer). Same return convention. */
    int (*on_data)(sp_conn *c, const void *data, size_t len);
    /** The connection is closing: reason is an ::sp_close_reason, error the SP_E* code for
     * SP_CLOSE_ERROR (else 0). The socket is still open during the call. May be NULL. */
    void (*on_close)(sp_conn *c, int reason, int error);
    /** The connection's queued output is at or below drain_low_water, once after each
     * sp_conn_want_drain(): send the next chunk of a stream there and ask again. Event
     * model: when the queue falls there (at once, after the current callback, when it
     * already is); thread and fork models, where a send returns when the kernel took the
     * bytes: right after the current callback returns. Runs on the connection's handler
     * thread. Not called once the connection is closing (a stop included). May be NULL. */
    void (*on_drain)(sp_conn *c);
} sp_server_handler;

/** A server's configuration: zero it with sp_server_config_init(), then set fields. */
typedef struct sp_server_config {
    int model;                        /**< ::sp_model */
    const sp_server_handler *handler; /**< required */
    void *user;                       /**< for sp_server_user() */
    const sp_framer *framer;          /**< NULL: raw bytes to on_data */
    int max_connections;              /**< at once; 0: 1024 */
    int overflow;                     /**< ::sp_overflow, for the thread and fork models */
    /** Close a connection silent this long (SP_CLOSE_IDLE); 0: never. With a framer, only
     * whole messages count: a message must be complete within this long of the previous
     * one (or of the accept), so a client that trickles a message byte by byte
     * (slowloris) is closed too; set it above the time your largest message takes to
     * arrive. Without a framer any byte counts. It looks at input; while output is
     * pending, a peer that takes no byte of it for idle_timeout_ms, when that is shorter
     * than send_timeout_ms, is closed as send_timeout_ms says (SP_CLOSE_ERROR /
     * SP_ETIMEDOUT); reply_timeout_ms is not shortened by it. */
    int idle_timeout_ms;
    int keepalive_idle_s;     /**< > 0: TCP keepalive on accepted sockets */
    int keepalive_interval_s; /**< with keepalive: seconds between probes */
    int keepalive_count;      /**< with keepalive: probes before giving up */
    size_t output_limit;      /**< event model: queued output that pauses reading;
                                 0: 1 MiB */
    int grace_ms;             /**< on stop: time handlers get to finish; 0: 2000 */
    int backlog;              /**< listen backlog; 0: the system's maximum */
    /** The send progress timeout in ms; 0: 30000; -1: none. While the connection has
     * output pending (bytes queued, a send blocked in sp_conn_send() or another write, a
     * file range of sp_conn_sendfile(), or on_drain awaited while the kernel has no room)
     * and the kernel takes no byte of it for this long (the socket's send buffer stays
     * without room: the peer does not read, and a send is tried again once the socket is
     * writable, the kernel's mark of a third of the buffer free on Linux), the connection
     * closes with SP_CLOSE_ERROR / SP_ETIMEDOUT and what it had not sent is dropped (thread
     * and fork models: the blocked call returns SP_ETIMEDOUT). Each byte the kernel takes
     * starts the wait again, so a download to a slow but steady reader is never cut,
     * however long it lasts
     * (nginx's `send_timeout`); reply_timeout_ms bounds a peer that trickles. The same in
     * every model. When idle_timeout_ms is set and shorter, it is this wait too (output
     * without progress for idle_timeout_ms fails the same way). The event model looks at
     * its connections every quarter of the shortest of idle_timeout_ms, this and
     * reply_timeout_ms, so a cut comes up to a quarter of that late. A stop cuts any send
     * at the end of grace_ms, whatever the send deadlines say. */
    int send_timeout_ms;
    size_t drain_low_water; /**< queued output at which on_drain is called; 0: 64 KiB */
    /** How sp_conn_sendfile() moves file bytes: an ::sp_sendfile_mode (nginx's
     * `sendfile on|off`); 0: SP_SENDFILE_AUTO. */
    int sendfile_mode;
    /** The whole-reply deadline in ms; 0 or -1: none (the default). A reply (one
     * sp_conn_send(), sp_conn_sendv(), sp_conn_write() or sp_conn_writev() call, or one
     * sp_conn_sendfile() range) that the kernel has not wholly taken this long after the
     * call that made it closes the connection with SP_CLOSE_ERROR / SP_ETIMEDOUT, however
     * much of it the peer takes meanwhile: the defence against a client that reads a
     * byte now and then to hold a connection (slow read). Set it above the time your
     * largest reply takes to reach your slowest legitimate client. The same in every
     * model: the thread and fork models' blocked call returns SP_ETIMEDOUT (a small reply
     * that waits to leave with the replies to the same read counts from its own call);
     * the event model cuts it up to a quarter of the deadline late (send_timeout_ms), and
     * when more than 8 replies are queued, the later ones count from the 8th's call. Not
     * on_drain's wait: each chunk a stream sends is a reply of its own. */
    int reply_timeout_ms;
} sp_server_config;

/** How sp_conn_sendfile() sends (sp_server_config::sendfile_mode). */
enum sp_sendfile_mode {
    /** The OS's file transmission where it is fast and fair: sendfile(2) on Linux, macOS
     * and FreeBSD; TransmitFile on Windows Server only (client editions run two
     * TransmitFile calls at a time system-wide, so one slow reader would stall the rest:
     * they read and send instead). Anything the OS call refuses (a pipe, a file type it
     * does not send) falls back to reading and sending. */
    SP_SENDFILE_AUTO = 0,
    /** Always read the file and send the bytes (a copy through user space). */
    SP_SENDFILE_OFF = 1,
    /** The OS call wherever it exists, TransmitFile on client Windows too. */
    SP_SENDFILE_ON = 2
};

/* sp_server_config_init: zero the configuration (every default). */
/**
 * Zero a configuration: every field takes its default.
 * @param cfg the configuration; NULL is ignored.
 */
SP_API void sp_server_config_init(sp_server_config *cfg);

/**
 * A server, not yet listening. The configuration is copied; the framer and handler it
 * points to must outlive the server.
 * @param out receives the server; NULL on failure.
 * @param cfg the configuration.
 * @return 0, or SP_EINVAL (NULL out or cfg, no handler, a framer without on_message, no
 *   framer without on_data, an unknown model, overflow or sendfile mode, a negative
 *   max_connections, idle_timeout_ms or grace_ms, a send_timeout_ms or reply_timeout_ms
 *   below -1, keepalive fields sp_set_keepalive() would refuse: negative, seconds over
 *   2147483, a count over 255), SP_ENOTSUP
 * (SP_MODEL_FORK on Windows), SP_ENOMEM, or an error of sp_waker_create() (SP_EMFILE, ...).
 */
SP_API int sp_server_create(sp_server **out, const sp_server_config *cfg);

/**
 * Add a listening address; call it before sp_server_run(), once per address (up to 8).
 * The listener is non-blocking.
 * @param srv     the server.
 * @param address "host:port", "*:0", "[::]:port", "unix:/path".
 * @return 0, or SP_EINVAL (NULL, or the server is running), SP_ENOSPC (8 listeners
 *   already), or an error of sp_listen_on() (SP_EADDRINUSE, SP_EAI_NONAME, ...).
 */
SP_API int sp_server_listen(sp_server *srv, const char *address);

/**
 * The bound address of a listener (port 0 resolved to the port chosen).
 * @param srv the server.
 * @param i   the listener, in the order sp_server_listen() added them (0 first).
 * @param out receives the address.
 * @return 0, or SP_EINVAL (NULL, i out of range), or an error of sp_local_addr().
 */
SP_API int sp_server_local_addr(const sp_server *srv, int i, sp_addr *out);

/**
 * Serve until sp_server_stop(). A stop asked before the run began is honoured at once;
 * the server can be run again afterwards.
 * @param srv the server.
 * @return 0 after a clean stop (every connection closed, every thread joined, every child
 *   reaped), SP_EINVAL (NULL, no listener, already running), or an error that made
 *   serving impossible (waiting for connections failed: SP_ENOMEM, the poller's error,
 *   ...).
 */
SP_API int sp_server_run(sp_server *srv);

/**
 * sp_server_run() on a thread of its own, for a program that has other work to do (a GUI,
 * a client in the same process, a test). Returns once the server is ready: its poller
 * made and its listeners watched, so a client that connects right after it is served. An
 * error that keeps the server from serving is returned here, the thread already joined.
 * @param srv the server.
 * @return 0, or SP_EINVAL (NULL, no listener, already started or running), SP_ENOMEM, the
 *   thread library's error (SP_EAGAIN, ...), or the run's setup error (the poller's:
 *   SP_ENOTSUP when SOCKPORT_POLLER names a backend this system lacks, SP_EINVAL for a
 *   name it does not know, SP_EMFILE when out of descriptors, ...).
 */
SP_API int sp_server_start(sp_server *srv);
/**
 * Join the thread of sp_server_start() (after sp_server_stop()).
 * @param srv the server.
 * @return what sp_server_run() returned, or SP_EINVAL (NULL, not started, or a start that
 *   failed: its error came back from sp_server_start()).
 */
SP_API int sp_server_wait(sp_server *srv);

/**
 * Ask the server to stop: it stops accepting, gives handlers grace_ms to finish, then
 * closes what is left (SP_CLOSE_STOPPING) and sp_server_run() returns. Callable from any
 * thread, from a handler, and from a signal handler (POSIX: async-signal-safe).
 * @param srv the server.
 * @return 0, or SP_EINVAL (NULL), or the error of waking the server (sp_waker_wake()).
 */
SP_API int sp_server_stop(sp_server *srv);

/**
 * Release a server and close its listeners. A server started with sp_server_start() and
 * not waited for is stopped and waited for first; do not destroy a server while
 * sp_server_run() runs on another thread.
 * @param srv the server; NULL is accepted.
 */
SP_API void sp_server_destroy(sp_server *srv);

/**
 * The model actually running (AUTO resolved).
 * @param srv the server.
 * @return SP_MODEL_THREADS, SP_MODEL_FORK or SP_MODEL_EVENTS, or SP_EINVAL for NULL.
 */
SP_API int sp_server_model(const sp_server *srv);
/**
 * The user pointer of the configuration. No errors.
 * @param srv the server.
 * @return sp_server_config::user; NULL for NULL.
 */
SP_API void *sp_server_user(const sp_server *srv);
/**
 * The number of open connections. No errors.
 * @param srv the server.
 * @return the count; 0 for NULL.
 */
SP_API int sp_server_connections(const sp_server *srv);

/**
 * Send one message (framed like sp_conn_send()) to every connection but one. In the
 * event model call it (and sp_conn_send()) from a handler, on the loop's thread: it
 * queues and never blocks. In the thread model call it from any thread: it takes a
 * reference on each connection under the server's lock and sends without the lock, one
 * blocking send after another, so a client that does not read delays this broadcast (and
 * the thread calling it), not the server's accepting or other connections.
 * @param srv    the server.
 * @param except the connection to leave out; may be NULL.
 * @param msg    the message.
 * @param len    its length.
 * @return the number of connections sent to (a connection whose send failed is not
 *   counted), or SP_EINVAL (NULL srv, NULL msg with len > 0), SP_ENOTSUP in the fork
 *   model, where connections live in separate processes.
 */
SP_API int sp_server_broadcast(sp_server *srv, const sp_conn *except, const void *msg, size_t len);

/**
 * Reply on this connection: one message framed with the server's framer (or raw bytes
 * without one). Thread and fork models: blocks until sent (other threads may send on the
 * same connection: sends do not interleave). Event model: queued and flushed as the
 * socket allows; never blocks.
 * @param c   the connection.
 * @param buf the message.
 * @param len its length.
 * @return 0, or SP_EINVAL (NULL c, NULL buf with len > 0, a delimited message that holds
 *   the delimiter), SP_EMSGSIZE (over the framer's maximum, or a fixed framer's length
 *   mismatch), SP_ENOMEM, SP_EPIPE (the connection is closed already), SP_ETIMEDOUT
 *   (thread and fork models: the peer took no byte for send_timeout_ms, the reply was
 *   not wholly taken within reply_timeout_ms of this call, or the stop's grace period
 *   ended; the connection then closes. The event model applies the same deadlines to the
 *   queued reply after the call returned: the connection closes with SP_CLOSE_ERROR /
 *   SP_ETIMEDOUT), or a transfer error (SP_ECONNRESET, ...; the event model then closes
 *   the connection).
 */
SP_API int sp_conn_send(sp_conn *c, const void *buf, size_t len);

/**
 * Close this connection after its queued output (SP_CLOSE_HANDLER): on_close runs, then
 * the socket is closed, by the thread that serves the connection. Event model: call it on
 * the loop's thread (a handler, a timer, a posted function). Thread and fork models: call
 * it from the connection's own handler or timer (it takes effect when that callback
 * returns), or from any other thread that holds a reference (sp_conn_hold(); for example
 * a function run by sp_server_post() for a worker): a connection waiting for input is
 * then woken and closed at once, one blocked in a send closes when that send ends (sent,
 * or cut by send_timeout_ms or reply_timeout_ms). On a connection closed already it does
 * nothing.
 * @param c the connection.
 * @return 0, or SP_EINVAL (NULL).
 */
SP_API int sp_conn_close(sp_conn *c);

/**
 * The server of a connection. No errors.
 * @param c the connection.
 * @return the server; NULL for NULL.
 */
SP_API sp_server *sp_conn_server(const sp_conn *c);
/**
 * Copy the peer's address (as accept reported it) into *out. The connection keeps it in
 * a compact form (an event-model connection is small), so it is copied, not pointed to.
 * @param c   the connection.
 * @param out receives the address; emptied (len 0) on failure.
 * @return 0, or SP_EINVAL (c or out NULL).
 */
SP_API int sp_conn_peer(const sp_conn *c, sp_addr *out);
/**
 * The connection's socket, for options and addresses: do not close it, do not change its
 * blocking mode, and in the event model do not read from or write to it. Its mode is the
 * model's: the thread model on POSIX waits for the next message in recv() itself, so the
 * socket is in blocking mode there (every call sockport makes on it says "don't wait");
 * elsewhere it is non-blocking. No errors.
 * @param c the connection.
 * @return the socket; SP_INVALID_SOCKET for NULL or a connection closed already.
 */
SP_API sp_socket_t sp_conn_socket(const sp_conn *c);
/**
 * The connection's user pointer (NULL until sp_conn_set_user()). No errors.
 * @param c the connection.
 * @return the pointer; NULL for NULL.
 */
SP_API void *sp_conn_user(const sp_conn *c);
/**
 * Attach a user pointer to the connection (e.g. in on_open).
 * @param c    the connection; NULL is ignored.
 * @param user the pointer.
 */
SP_API void sp_conn_set_user(sp_conn *c, void *user);

/* ---- Replying later, from any thread; timers (issue #13) ----------------------------- */

/**
 * Take a reference on a connection: its handle (not its socket) stays valid after it
 * closes, until the matching sp_conn_release(), so that a reply made later (from another
 * thread, through sp_server_post()) can still call sp_conn_send() on it: a closed
 * connection's send returns SP_EPIPE and sp_conn_is_open() 0. Callable from any thread
 * (an atomic count); take the first reference where the handle is known to be valid (a
 * handler of the connection, or a post holding another reference). Release every
 * reference before sp_server_destroy(). No errors.
 * @param c the connection; NULL is ignored.
 */
SP_API void sp_conn_hold(sp_conn *c);
/**
 * Drop a reference taken with sp_conn_hold(); the last one (the server's own ends when
 * the connection closes) frees the handle. Callable from any thread. No errors.
 * @param c the connection; NULL is ignored.
 */
SP_API void sp_conn_release(sp_conn *c);
/**
 * Whether the connection is still open: 1 until its socket is closed (after on_close
 * returned), then 0 (a held handle). In the event model call it on the loop's thread (a
 * handler, a posted function, a timer); in the thread and fork models from any thread.
 * No errors.
 * @param c the connection.
 * @return 1 or 0; 0 for NULL.
 */
SP_API int sp_conn_is_open(const sp_conn *c);

/**
 * Run fn(srv, arg) under the server's rules, from any thread (not from a signal handler).
 * Event model: fn runs on the loop's thread, soon (the loop is woken), posts of one thread
 * in the order they were made; what it sends goes out like a handler's reply (queued,
 * flushed), and a handler that waits for something slow (a database) posts its reply
 * from the thread that waited, so no other connection waits for it. Thread and fork
 * models: fn runs at once on the calling thread, where sp_conn_send() is thread-safe.
 * Posts are accepted while the server runs (from sp_server_start() or the start of
 * sp_server_run() until it returns); those still queued when it stops run before
 * sp_server_run() returns (so the references they hold are released), and none runs
 * afterwards. A post to a server that is not running is refused (SP_EINVAL): fn does not
 * run, and the caller releases what arg holds.
 * @param srv the server.
 * @param fn  the function.
 * @param arg its argument.
 * @return 0, or SP_EINVAL (NULL srv or fn, the server is not running), SP_ENOMEM, or the
 *   error of waking the loop (sp_waker_wake(); fn still runs).
 */
SP_API int sp_server_post(sp_server *srv, void (*fn)(sp_server *srv, void *arg), void *arg);

/** A timer of a server or of a connection (opaque). */
typedef struct sp_timer sp_timer;
/** A timer's callback: the timer and the argument it was made with. */
typedef void (*sp_timer_fn)(sp_timer *t, void *arg);

/**
 * A timer bound to a connection: fn(t, arg) runs delay_ms from now, then every repeat_ms
 * (0: once). It runs on the connection's handler thread: event model, the loop; thread
 * model, the connection's thread (its loop waits until the next timer, the idle deadline
 * or the stop, whichever comes first); fork model, the child. A repeating timer does not
 * drift: each due time is the previous one plus the period, and periods missed while the
 * thread was busy are skipped. The timer is cancelled (freed) when the connection closes,
 * after on_close (which may cancel it itself). O(log n) to add and to cancel, nothing for
 * a connection without timers. Call it from the connection's handler thread.
 * @param c         the connection.
 * @param out       receives the timer (for sp_timer_cancel()); may be NULL.
 * @param delay_ms  the first run, from now: never earlier (0: at the next pass of the
 *                  thread's loop).
 * @param repeat_ms the period afterwards; 0: one shot (freed after it ran).
 * @param fn        the callback.
 * @param arg       its argument.
 * @return 0, or SP_EINVAL (NULL c or fn, a negative delay or period), SP_EPIPE (the
 *   connection is closed), SP_ENOMEM.
 */
SP_API int sp_conn_timer(sp_conn *c, sp_timer **out, int delay_ms, int repeat_ms, sp_timer_fn fn,
                         void *arg);
/**
 * A timer of the server, as sp_conn_timer() but bound to no connection: it runs on the
 * loop's thread (event model) or on the accepting thread (thread model; the parent in the
 * fork model), while the server runs; it lives until cancelled or sp_server_destroy()
 * (a stop leaves it pending for the next run). Create it before the run or from the thread
 * it runs on (a handler in the event model, a server timer's callback in every model).
 * @param srv       the server.
 * @param out       receives the timer; may be NULL.
 * @param delay_ms  the first run, from now.
 * @param repeat_ms the period afterwards; 0: one shot.
 * @param fn        the callback.
 * @param arg       its argument.
 * @return 0, or SP_EINVAL (NULL srv or fn, a negative delay or period), SP_ENOMEM.
 */
SP_API int sp_server_timer(sp_server *srv, sp_timer **out, int delay_ms, int repeat_ms,
                           sp_timer_fn fn, void *arg);
/**
 * Cancel a timer and free it, from the thread it runs on; its own callback may cancel it
 * (and others, and add new ones). A one-shot timer is freed after it ran: do not cancel it
 * afterwards; nor a connection's timer after the connection closed.
 * @param t the timer.
 * @return 0, or SP_EINVAL (NULL).
 */
SP_API int sp_timer_cancel(sp_timer *t);

/* ---- output: gathered, raw and streamed (issue #13) ---------------------------------- */

/** The most parts one sp_conn_sendv() / sp_conn_writev() takes. */
#define SP_CONN_IOV_MAX 12

/**
 * Reply with one message made of several parts (one frame around all of them, as if
 * they were one buffer: a header and a body without a copy). Same blocking, ordering and
 * closing rules as sp_conn_send().
 * @param c   the connection.
 * @param iov the parts (not modified; their bytes are not kept after the call).
 * @param n   how many: 0 to SP_CONN_IOV_MAX.
 * @return 0, or SP_EINVAL (NULL c, NULL iov with n > 0, n out of range, a delimited
 *   message that holds the delimiter), SP_EMSGSIZE (over the framer's maximum, or a fixed
 *   framer's length mismatch), SP_ENOMEM, SP_EPIPE (the connection is closed already),
 *   SP_ETIMEDOUT (thread and fork models: the peer took no byte for send_timeout_ms, the
 *   reply was not wholly taken within reply_timeout_ms of this call, or the stop's grace
 *   period ended; the event model closes the connection for the same deadlines after the
 *   call, as sp_conn_send() says), or a transfer error (SP_ECONNRESET, ...). After a
 *   transfer error or SP_ETIMEDOUT the connection closes (SP_CLOSE_ERROR, or
 *   SP_CLOSE_STOPPING when the stop cut it).
 */
SP_API int sp_conn_sendv(sp_conn *c, const sp_iovec *iov, int n);

/**
 * Send raw bytes, never framed whatever the server's framer (an HTTP head and body on a
 * connection whose requests are framed by "\r\n\r\n"). Ordered with sp_conn_send() and
 * the other writes; same blocking and closing rules.
 * @param c   the connection.
 * @param buf the bytes.
 * @param len how many.
 * @return 0, or SP_EINVAL (NULL c, NULL buf with len > 0), SP_ENOMEM, SP_EPIPE,
 *   SP_ETIMEDOUT, or a transfer error, as sp_conn_sendv().
 */
SP_API int sp_conn_write(sp_conn *c, const void *buf, size_t len);

/**
 * sp_conn_write() of several parts, in one gather call where the model sends at once.
 * @param c   the connection.
 * @param iov the parts (not modified).
 * @param n   how many: 0 to SP_CONN_IOV_MAX.
 * @return 0, or SP_EINVAL (NULL c, NULL iov with n > 0, n out of range), SP_ENOMEM,
 *   SP_EPIPE, SP_ETIMEDOUT, or a transfer error, as sp_conn_sendv().
 */
SP_API int sp_conn_writev(sp_conn *c, const sp_iovec *iov, int n);

/**
 * Ask for sp_server_handler::on_drain once, when the connection's queued output is at or
 * below drain_low_water. Streaming a file: on_message sends the head and the first chunk
 * and calls this; on_drain sends the next chunk and calls it again, until the end. The
 * memory a stream holds is then drain_low_water plus one chunk. Call it from a handler
 * of the connection.
 * @param c the connection.
 * @return 0, or SP_EINVAL (NULL c, no on_drain handler), SP_EPIPE (the connection is
 *   closing or closed), SP_ENOMEM (event model, nothing queued: the deadline's record; the
 *   connection closes).
 */
SP_API int sp_conn_want_drain(sp_conn *c);

/**
 * The bytes accepted by sends and writes on this connection and not yet taken by the
 * kernel: the event model's queue; in the thread and fork models the replies gathered
 * during the current read (sent before the next read), else 0. No errors.
 * @param c the connection.
 * @return the count; 0 for NULL.
 */
SP_API size_t sp_conn_queued(const sp_conn *c);

/**
 * Switch a connection's input between its framer and raw bytes. raw = 1: the following
 * input goes to on_data, starting with the bytes that came after the current message
 * (the decoder may hold some already: they come first, in order, right after the current
 * on_message returns); raw = 0: the input after the current on_data call goes to the
 * framer again (on_message). Call it from a handler of the connection (an HTTP server:
 * raw after a head that announces a body, framed again once the body is read). Bytes of
 * the last on_data past the body (a pipelined request that came in the same read) are
 * dropped unless the handler gives them back with sp_conn_unread().
 * @param c   the connection.
 * @param raw 1 for raw bytes, 0 for the framer.
 * @return 0, or SP_EINVAL (NULL c, a server without a framer or without on_data).
 */
SP_API int sp_conn_set_raw(sp_conn *c, int raw);

/**
 * From on_data, after sp_conn_set_raw(c, 0): the last n bytes of this on_data call's data
 * are not the handler's (the end of a body was before them): once on_data returns 0 they
 * go to the framer, first and in order, as if they had just arrived (a pipelined request
 * behind a body is not lost). A later call in the same on_data replaces the count; a
 * negative return from on_data, or a switch back to raw input, drops them. Same in every
 * model. The bytes are not copied by the handler: give back the count only.
 * @param c the connection.
 * @param n how many bytes at the end of the current data (0 takes nothing back).
 * @return 0, or SP_EINVAL (NULL c, a server without a framer, not inside an on_data call
 *   of c, the connection still raw, n over the length of the current data).
 */
SP_API int sp_conn_unread(sp_conn *c, size_t n);

/**
 * Send len bytes of an open file, from byte `offset` of it, on this connection, after
 * everything sent before and before everything sent after (raw: the server's framer does
 * not frame them; an HTTP body after its head). The file is read at `offset` whatever its
 * position, which is neither used nor moved on POSIX (pread, sendfile with an offset; on
 * Windows a read may move it). The caller keeps fd and may close it once the call
 * returns: a model that sends later (the event model) keeps a duplicate of its own
 * (dup() / DuplicateHandle) until the range is sent or the connection closes.
 *
 * Thread and fork models: blocks like sp_conn_write() until the kernel took every byte,
 * with the OS call sp_server_config::sendfile_mode picks (sendfile(2); TransmitFile, in
 * chunks of 64 KiB; or reads of 16 KiB and sends), failing with SP_ETIMEDOUT when the peer
 * takes no byte for send_timeout_ms, when the range (one reply, however long) is not wholly
 * taken within reply_timeout_ms of the call, or at the end of a stop's grace period
 * (TransmitFile reports what it sent only when a 64 KiB call ends: a reader slower than
 * 64 KiB per send_timeout_ms is cut then, as one that stopped). Event
 * model: the range is queued behind the output before it (a duplicate handle, not its bytes)
 * and pushed as the socket takes it: sendfile(2) on the non-blocking socket on POSIX, reads
 * of 64 KiB into the loop's one buffer and non-blocking sends on Windows (or with
 * SP_SENDFILE_OFF); what the socket did not take is read again later, so a download holds no
 * memory of its own (a pipe, which cannot be read again, keeps 16 KiB while it is sent). The
 * queued range counts in sp_conn_queued(), output_limit (back-pressure) and drain_low_water
 * (on_drain), and both send deadlines apply to it as to a queued reply (the connection
 * closes with SP_CLOSE_ERROR / SP_ETIMEDOUT).
 *
 * A file that ends before offset + len is an error, never a wait: a regular file is
 * measured first (SP_EEOF, nothing sent); one that shrinks meanwhile, or a pipe that
 * ends early, closes the connection (SP_CLOSE_ERROR with SP_EEOF: the peer got fewer
 * bytes than announced), as a transfer error does.
 * @param c      the connection.
 * @param fd     the file: a descriptor of open() (POSIX), of _open() / _fileno() in the
 *               same C runtime as sockport (Windows: its handle is _get_osfhandle(fd)),
 *               open for reading.
 * @param offset where to start, in bytes (>= 0); 0 for a descriptor that is not a regular
 *               file (a pipe: read from where it is, never with the OS's sendfile).
 * @param len    how many bytes (>= 0; 0 sends nothing).
 * @return len (every byte was taken: sent, or queued in the event model), or SP_EINVAL
 *   (NULL c, a negative offset or len, offset + len over INT64_MAX, an offset on a pipe),
 *   SP_EBADF (fd is not an open file descriptor), SP_EEOF (a regular file shorter than offset +
 * len; a file that ended early during the transfer), SP_ENOMEM, SP_EMFILE (the event model's
 * duplicate), SP_EPIPE (the connection is closed already), SP_ETIMEDOUT (thread and fork models: as
 *   sp_conn_sendv()), or a transfer or read error (SP_ECONNRESET, ...). After a transfer
 *   error, SP_ETIMEDOUT or a file that ended early the connection closes, as after
 *   sp_conn_sendv().
 */
SP_API int64_t sp_conn_sendfile(sp_conn *c, int fd, int64_t offset, int64_t len);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_SERVER_H */
