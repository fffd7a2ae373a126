/*
 * server.h - the server engine's internal contract.
 *
 *   server.c           lifecycle (create, listen, run, stop) and dispatch through the model
 *   server_conn.c      the connection rules every model follows (close reasons, stop, idle,
 *                      handler results) and accepting (overflow, back-off)
 *   server_blocking.c  the blocking models: one connection loop and one accept loop, which
 *                      hands each connection to a spawn hook; the thread model's hooks
 *   server_events.c    the event model: reading, closing, the loop
 *   server_events_out.c  its output: queue, stage of replies, flush, back-pressure
 *   server_stream.c    sp_conn_sendfile (each model's part is in its output file) and
 *                      sp_conn_unread
 *   server_post.c      sp_server_post and connection references (hold, release)
 *   server_timer.c     timers: a heap per running thread, a map to a connection's timers
 *   posix/server.c     the fork model's hooks (fork, reaping); win32/server.c: none
 *
 * A model is a table (sp__model) chosen once at create; nothing else asks which model
 * runs.
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
/* One server read of unframed bytes: into a connection's raw buffer (blocking models) or
 * into the event loop's one buffer, which framed connections also read into between
 * messages. Made from the decoder's room (SP_FRAME_RECV_SIZE, frame.h), the one read-size
 * constant: reads into a decoder (sp__frame_read, in the middle of a message) take that
 * room; the loop's buffer exists once per server, so it is four rooms and one recv takes
 * many messages. 64 KiB. */
#define SP__READ_CHUNK     (4 * SP_FRAME_RECV_SIZE)
#define SP__STAGE_CAP      65536 /* event model: the replies one read's messages gather */
#define SP__STAGE_SMALL    4096  /* event model: larger replies are never copied */
#define SP__ACCEPT_BURST   64    /* accepts per listener readiness */
#define SP__BACKOFF_MS     100   /* after EMFILE/ENFILE, accept again this much later */
#define SP__BSTAGE_CAP     16384 /* blocking models: the replies one read's messages gather */
#define SP__STOP_MARGIN_MS 250   /* fork: after the grace period, before SIGTERM */
#define SP__OUT_IOV        (SP_CONN_IOV_MAX + 3) /* stage, frame header, parts, delimiter */
#define SP__FILE_CHUNK     (1u << 20) /* sp_conn_sendfile: the most one OS call is asked */

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
     * start of a message (between messages, reads go into the server's buffer) */
    sp_frame_decoder *dec;
    struct sp__outq *out;     /* event model: queued output; NULL when none */
    sp_conn *next_closing;    /* event model: the server's list of connections to close */
    sp__atomic refs;          /* references: the server's (until it is done with it) and
                               * sp_conn_hold's; the last sp_conn_release frees it */
    uint32_t last_active;     /* event model: low 32 bits of sp__now_ms() at the last read */
    signed char close_error;  /* the SP_E* code for SP_CLOSE_ERROR (all fit in a char) */
    signed char close_reason; /* -1 while open, else the first reason given */
    unsigned char flags;      /* SP__CONN_* */
    unsigned char peer_len;   /* bytes of the peer's sockaddr stored after the struct, and
                               * SP__PEER_TRIMMED */
};

/* In peer_len: the address ended in 8 zero bytes (IPv4's sin_zero), which are not stored
 * (the room they leave pays for refs: an idle connection stays within 128 bytes). */
#define SP__PEER_TRIMMED 0x80u
#define SP__PEER_TRIM    8u

/* An SP_E* code as stored in close_error (every code fits; anything else is unknown). */
#define SP__SMALL_ERROR(e) ((signed char)((e) >= -128 && (e) <= 0 ? (e) : SP_EUNKNOWN))

#define SP__CONN_PAUSED    1u  /* reading paused: output over the limit */
#define SP__CONN_UNDRAINED 2u  /* messages left in the decoder while paused */
#define SP__CONN_CLOSING   4u  /* on the server's closing list */
#define SP__CONN_DRAIN     8u  /* sp_conn_want_drain: call on_drain at the low-water mark */
#define SP__CONN_RAW       16u /* sp_conn_set_raw: input to on_data, not the framer */

/* A file range queued by sp_conn_sendfile in the event model: sent when the queue's bytes
 * before position `at` of its data are out (the bytes queued after it wait behind it). */
struct sp__outfile {
    struct sp__outfile *next;
    sp__file f;     /* a duplicate of the caller's descriptor, closed when done */
    uint64_t off;   /* the next byte of the file to send; SP__FILE_SEQUENTIAL: a pipe */
    uint64_t left;  /* bytes still to send */
    size_t at;      /* index into the queue's data (moved by compaction) */
    int native;     /* the OS's sendfile may be tried (cleared after SP_ENOTSUP) */
    char *pipe_buf; /* a pipe (no rereading): SP__PIPE_BUF bytes read, pipe_pos of them
                     * sent, of pipe_len; NULL until the first read */
    size_t pipe_pos, pipe_len;
};
#define SP__PIPE_BUF 16384

/* Queued output of an event-model connection: data[off..len) in the cap bytes after it,
 * with the file ranges of sp_conn_sendfile among them.
 * mark[0..marks) says when the replies in it were queued, oldest first: each the end
 * offset of a reply and sp__now_ms() at its queueing (reply_timeout_ms bounds the age of
 * the oldest reply queued); a reply queued when all SP__OUT_MARKS are taken joins the
 * last mark and so counts from that earlier time. Marks of replies wholly sent are
 * dropped lazily; there is a mark while anything is queued. */
#define SP__OUT_MARKS 8
struct sp__outq {
    size_t off, len, cap;
    uint64_t progress; /* when the peer last took a byte, or output became pending after
                        * none was (send_timeout_ms: sp__conn_send_limit) */
    uint64_t drain_at; /* sp_conn_want_drain() with nothing queued: when (the queue, empty,
                        * is kept until on_drain, and the send deadline runs from then) */
    struct sp__outmark {
        size_t end;
        uint64_t at;
    } mark[SP__OUT_MARKS];
    size_t marks;
    struct sp__outfile *files, *files_tail; /* in order; NULL when none */
    uint64_t file_bytes;                    /* the bytes they still hold */
};

/* On_data's bookkeeping for sp_conn_unread: conn is the connection whose on_data runs
 * (NULL outside one), len its data's length, unread what the handler gave back. */
typedef struct sp__rawin {
    sp_conn *conn;
    size_t len, unread;
} sp__rawin;

/* A binary min-heap of timers (server_timer.c), run by one thread. */
typedef struct sp__theap {
    sp_timer **v;
    size_t n, cap;
    sp_timer *running; /* the timer whose callback runs */
} sp__theap;

/* Event model: connection -> the head of its timers (open addressing). */
typedef struct sp__tmap {
    sp_conn **keys;
    sp_timer **heads;
    size_t cap, count;
} sp__tmap;

/* sp_server_post's state (server_post.c). */
typedef struct sp__post sp__post;
typedef struct sp__posts {
    sp__mutex lock;
    sp__cond idle; /* blocking models: no post runs */
    sp__post *head, *tail;
    int open; /* posts accepted: from the run's start to its end */
    int busy; /* blocking models: posts running on their callers' threads */
} sp__posts;

/* A connection of the blocking models (threads, fork). */
typedef struct sp__conn_blocking {
    struct sp_conn c;                      /* first: an sp_conn * points to it */
    struct sp__conn_blocking *prev, *next; /* thread model: the server's list */
    sp__mutex send_lock;
    int send_error;    /* the first transfer error of a send (under send_lock) */
    sp__atomic failed; /* send_error is set (once; read without the lock) */
    int send_cut;      /* that error was the stop's grace period ending (under send_lock) */
    int batching;      /* replies gather in the stage (written under send_lock, by the
                        * connection's own thread only) */
    int staged;        /* own thread only: the stage may hold bytes (batching was turned on
                        * since the last flush with batching off) */
    char *stage;       /* SP__BSTAGE_CAP bytes, made at the first gathered reply */
    size_t stage_len;
    uint64_t stage_at; /* with reply_timeout_ms: the call of the first reply in the stage */
    sp__thread *thread;
    sp__atomic done;        /* the thread has finished: join it */
    int refs;               /* thread model: broadcasts sending to it (under the server's lock) */
    sp__theap timers;       /* its timers, run by its connection loop */
    sp__atomic close_asked; /* sp_conn_close(), from any thread: the loop closes it */
    sp_waker *kick;         /* made by its loop while another thread holds it (sp_conn_hold), so
                             * that sp_conn_close from there wakes the wait for input; under
                             * send_lock */
    sp__rawin rawin;        /* its on_data call (sp_conn_unread) */
    /* Blocking in recv itself (thread model, where sp__server_recv_wakes): the socket is in
     * blocking mode (set before its thread starts; made non-blocking only around a native
     * sendfile, under send_lock). rstate: odd while the loop announced a blocking recv
     * between messages; each wake_recv adds 2 (under send_lock), shutting reading down
     * when it finds it odd. rcvtimeo: the SO_RCVTIMEO set on the socket (ms, 0: none). */
    int brecv;
    int rcvtimeo;
    sp__atomic rstate;
} sp__conn_blocking;

#define SP__BLOCKING(c) ((sp__conn_blocking *)(c))

/*
 * How a blocking model serves an accepted connection (the accept loop of
 * server_blocking.c calls these): a thread, or a process.
 */
typedef struct sp__spawner {
    /* Serve s (owned from here, closed on failure) from now on. 0, or an error (the
     * connection is dropped, the server goes on). */
    int (*spawn)(sp_server *srv, sp_socket_t s, const sp_addr *peer);
    /* A readiness of a registration spawn made (its data is not a listener nor the
     * waker), or NULL with ev NULL: a wakeup. Frees what ended, updates nconns. */
    void (*reap)(sp_server *srv, const sp_event *ev);
    /* Stopping (the stop waker is readable): end every connection, within the grace
     * period where they cooperate. */
    void (*finish)(sp_server *srv);
    /* Milliseconds until reap wants a wakeup without an event (-1: never). */
    int (*timeout)(sp_server *srv);
} sp__spawner;

/* A concurrency model: what differs between threads, fork and events. */
typedef struct sp__model {
    int id;           /* SP_MODEL_* */
    size_t conn_size; /* a connection's struct (the peer's sockaddr follows it) */
    int blocking;     /* connections served by the blocking loop (decoder, send lock) */
    int (*run)(sp_server *srv);
    /* send iov[0..n) (framed already, at most SP__OUT_IOV - 1 parts) */
    int (*output)(sp_conn *c, const sp_iovec *iov, int n);
    size_t (*queued)(const sp_conn *c);
    int (*want_drain)(sp_conn *c);
    void (*close)(sp_conn *c); /* sp_conn_close */
    int (*broadcast)(sp_server *srv, const sp_conn *except, const void *msg, size_t len);
    const sp__spawner *spawner; /* blocking models */
} sp__model;

extern const sp__model sp__model_threads;
extern const sp__model sp__model_events;

struct sp_server {
    sp_server_config cfg;
    const sp__model *model;
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
    int run_result;
    /* sp_server_start waits (on start_cond, under lock) until the run is ready or ended */
    sp__cond start_cond;
    int start_waiting; /* a start waits: start_done / start_rc tell it */
    int start_done;
    int start_rc;      /* the run's error when it ended before it was ready */
    void *spawn_state; /* the spawner's (fork model: its children) */
    /* accepting (every model): the listeners and the waker are registered with poller */
    sp_poller *poller;
    int accepting;          /* listeners watched for reading */
    uint64_t backoff_until; /* accept paused after EMFILE until then */
    uint64_t now;           /* sp__now_ms() when the loop last woke up */
    /* event model (its connections are the poller's owned registrations) */
    char *rbuf;       /* the read buffer for raw connections */
    sp_conn *closing; /* connections to look at for closing (next_closing) */
    char *stage;      /* small replies to the messages being delivered */
    size_t stage_len;
    sp_conn *batching; /* the connection whose messages are being delivered */
    sp__rawin rawin;   /* the on_data call that runs (sp_conn_unread) */
    /* replying later, timers (server_post.c, server_timer.c) */
    sp__posts posts;
    sp__theap timers; /* the server's timers; event model: every connection's too */
    sp__tmap tmap;    /* event model: a connection's timers */
};

/* ---- lifecycle (server.c) ------------------------------------------------------------- */

/* The run is ready: its poller made, the listeners and the waker registered (called once
 * by sp__accept_setup). sp_server_start, waiting for it, returns. */
void sp__server_ready(sp_server *srv);

/* ---- the connection rules (server_conn.c) --------------------------------------------- */

/* Whether the model's accepted sockets are non-blocking (sp_accept's flag): every model's
 * but the thread model's where it waits for input in recv itself (sp__server_recv_wakes).
 * The blocking models' sends wait for writability with a deadline and the stop, never in
 * the kernel (Winsock has no per-call MSG_DONTWAIT). */
int sp__accept_nonblocking(const sp_server *srv);

/* A new connection for an accepted socket (keepalive, no-delay; a blocking model's decoder
 * and send lock), counted in nconns; NULL on failure (s left open). */
sp_conn *sp__conn_new(sp_server *srv, sp_socket_t s, const sp_addr *peer);
void sp__conn_free(sp_conn *c);

/* Give c its close reason: the first one given wins. */
void sp__conn_end(sp_conn *c, int reason, int error);

/* The result of one read of c (through sp__frame_read when framed): bytes (nothing to
 * do), SP_EAGAIN (nothing), 0 (the peer's end: orderly, or SP_EEOF in the middle of a
 * message), an oversize or bad message (SP_CLOSE_TOO_LARGE) or an error. */
void sp__conn_read_result(sp_conn *c, ptrdiff_t got);

/* sp_frame_decoder_next's result: 1 / 0 nothing to do, else the close reason. */
void sp__conn_decode_result(sp_conn *c, int rc);

/* The handler returned rc for c; a negative value closes (SP_CLOSE_HANDLER), or
 * SP_CLOSE_ERROR with send_error when a reply of its failed in transfer (not 0). */
void sp__conn_handler_result(sp_conn *c, int rc, int send_error);

/* A reply to c failed in transfer: SP_CLOSE_ERROR, even after the peer's orderly end. */
void sp__conn_reply_failed(sp_conn *c, int error);

/* The frame of one message of n parts, into out (at most n + 2 parts, hdr holding the
 * header): as sp_frame_encode with the payload the parts' concatenation. The count, or
 * SP_EINVAL (the delimiter inside), SP_EMSGSIZE. */
int sp__conn_frame(const sp_framer *f, const sp_iovec *iov, int n,
                   unsigned char hdr[SP_FRAME_HEADER_MAX], sp_iovec *out);

/* Milliseconds pending output may go without the peer taking a byte (-1: no limit):
 * send_timeout_ms, or idle_timeout_ms when shorter. */
int sp__conn_send_limit(const sp_server *srv);

/* Milliseconds a reply may take from its call until the kernel took its last byte (-1: no
 * limit): reply_timeout_ms when > 0. */
int sp__conn_reply_limit(const sp_server *srv);

/* The shortest of the output's two limits (-1: neither): how often the event model must
 * look at its queues. */
int sp__conn_output_limit(const sp_server *srv);

/* Whether c is between messages: a stopping server closes it now; otherwise it gets
 * the grace period to finish the message it is in. */
int sp__conn_between_messages(const sp_conn *c);

/* Whether a read of raw bytes restarts c's idle clock: without a framer any byte does;
 * with one only whole messages do, so that a trickled message cannot hold it off
 * (slowloris). */
int sp__conn_bytes_restart_idle(const sp_conn *c);

/* Whether c (last active at `last`) has been idle too long at now. */
int sp__conn_idle_expired(const sp_conn *c, uint64_t last, uint64_t now);

/* ---- accepting (server_conn.c) -------------------------------------------------------- */

/* Register the listeners (data: &srv->listeners[i]) and the waker (data: &srv->waker)
 * with a new srv->poller, accepting. */
int sp__accept_setup(sp_server *srv);
void sp__accept_teardown(sp_server *srv);

/* Watch the listeners or not. */
void sp__accept_watch(sp_server *srv, int on);

/* Accept what listener l has (a burst), handing each socket to add (which owns it). Stops
 * watching when at max_connections with SP_OVERFLOW_WAIT, closes new sockets with
 * SP_OVERFLOW_REFUSE, backs off after an out-of-resources error. */
void sp__accept_burst(sp_server *srv, sp_socket_t l,
                      void (*add)(sp_server *srv, sp_socket_t s, const sp_addr *peer));

/* Once per wakeup (srv->now set): end a back-off that is over, resume a paused
 * accept when there is room (not stopping). */
void sp__accept_resume(sp_server *srv, int stopping);

/* The listener whose registration data e is, or NULL. */
sp_socket_t *sp__accept_listener(sp_server *srv, const sp_event *e);

/* Milliseconds until the back-off ends (-1: none); t combined (the smaller). */
int sp__accept_timeout(const sp_server *srv, int t);

/* ---- the blocking models (server_blocking.c) ------------------------------------------ */

/* Serve one connection with blocking calls until it ends: the thread and fork models.
 * Calls on_open, on_message / on_data, on_close; closes the socket; frees nothing. */
void sp__conn_serve_blocking(sp_conn *c);

/* The blocking models' output and close. */
int sp__blocking_output(sp_conn *c, const sp_iovec *iov, int n);
size_t sp__blocking_queued(const sp_conn *c);
int sp__blocking_want_drain(sp_conn *c);
void sp__blocking_close(sp_conn *c);

/* sp_conn_sendfile in the blocking models (f borrowed): len, or an error. */
int64_t sp__blocking_sendfile(sp_conn *c, sp__file f, uint64_t off, uint64_t len);

/* Their accept loop: accept, hand to srv->model->spawner, reap; until stopped. */
int sp__blocking_run(sp_server *srv);

/* ---- the event model (server_events.c: input, closing, the loop; server_events_out.c:
 * output) ----------------------------------------------------------------------------- */

/* Put c on the closing list when it has a close reason; give it one first (mark). */
void sp__ev_enlist(sp_conn *c);
void sp__ev_mark_closing(sp_conn *c, int reason, int error);
/* Hand the complete messages in d to the handler (until back-pressure pauses it). */
void sp__ev_deliver(sp_conn *c, sp_frame_decoder *d);
/* After a read or a resume: c keeps its decoder d only while it holds bytes. */
void sp__ev_settle(sp_conn *c, sp_frame_decoder *d);
/* Output: bytes queued; the poller interest c needs now; flush on writability (and
 * resume reading below half the limit); the stage of one read's replies. */
size_t sp__ev_queued(const sp_conn *c);
void sp__ev_update_interest(sp_conn *c);
void sp__ev_flush(sp_conn *c);
void sp__ev_begin_batch(sp_conn *c);
void sp__ev_end_batch(sp_conn *c);
int sp__ev_output(sp_conn *c, const sp_iovec *iov, int n);
int sp__ev_want_drain(sp_conn *c);
size_t sp__ev_conn_queued(const sp_conn *c);
/* Pending output (queued, or on_drain awaited without room) the peer took nothing of for
 * sp__conn_send_limit, or a queued reply not wholly sent within reply_timeout_ms of its
 * queueing: what is queued is dropped, c closing (SP_ETIMEDOUT). */
void sp__ev_check_stalled(sp_conn *c, uint64_t now);
/* Raw bytes to on_data (the handler's result applied); returns how many of them, at
 * their end, the handler gave back for the framer (sp_conn_unread), else 0. */
size_t sp__ev_data(sp_conn *c, const void *p, size_t n);
/* sp_conn_sendfile: queue f's range (f owned from here); len, or an error. */
int64_t sp__ev_sendfile(sp_conn *c, sp__file f, uint64_t off, uint64_t len);
/* Free c's queue, closing its files (c closes). */
void sp__ev_out_free(sp_conn *c);
int sp__ev_broadcast(sp_server *srv, const sp_conn *except, const void *msg, size_t len);

/* ---- streams (server_stream.c) ------------------------------------------------------- */

/* on_data(c, p, n) with sp_conn_unread allowed (in: the model's record of the call).
 * Returns the handler's result; *unread: the bytes at the end of p it gave back for the
 * framer (0 unless it switched to framed input and did not fail). */
int sp__conn_on_data(sp_conn *c, sp__rawin *in, const void *p, size_t n, size_t *unread);

/* ---- replying later (server_post.c) ------------------------------------------------- */

int sp__posts_init(sp_server *srv);
void sp__posts_fini(sp_server *srv);
/* The run starts: posts are accepted. */
void sp__posts_open(sp_server *srv);
/* The run ends: posts are refused from now on; those queued run now, those running on
 * other threads (blocking models) are waited for. */
void sp__posts_close(sp_server *srv);
/* Event model, once per wakeup: run what was posted (in order). */
void sp__posts_drain(sp_server *srv);

/* ---- timers (server_timer.c) --------------------------------------------------------- */

/* Milliseconds until h's next timer is due, combined with t (the smaller; -1: none). */
int sp__timers_timeout(const sp__theap *h, uint64_t now, int t);
/* Run h's timers due at now. */
void sp__timers_run(sp__theap *h, uint64_t now);
/* c closes (after on_close): cancel its timers. */
void sp__timers_conn_closed(sp_conn *c);
/* The server goes: free its timers. */
void sp__timers_free(sp_server *srv);

/* ---- backend (src/posix/server.c, src/win32/server.c) -------------------------------- */

/* The model SP_MODEL_AUTO means here. */
int sp__server_default_model(void);

/* The fork model, or NULL where there is none. */
const sp__model *sp__server_fork_model(void);

/* 1 where shutdown(SHUT_RD) from another thread wakes a thread blocked in recv() on the
 * socket (the thread model then blocks in recv between messages, without a poll), else 0
 * (Windows: only closesocket does; docs/platforms.md). */
int sp__server_recv_wakes(void);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_SERVER_INTERNAL_H */
