/*
 * sockport/poll.h - readiness that means the same thing on every OS.
 *
 * Three tools:
 *  - sp_select: the classic three lists, made portable. The sets grow without limit (no
 *    64-socket cap on Windows, no FD_SETSIZE cap on POSIX), are not overwritten by the
 *    call (ask sp_sockset_ready afterwards), need no nfds, sleep for the timeout when all
 *    are empty, and a socket that has died or been closed is reported as ready with its
 *    own error (sp_sockset_error) instead of failing the whole call.
 *  - sp_poller: scalable, level-triggered readiness with a user pointer per socket, over
 *    epoll (Linux), kqueue (macOS, BSD), poll (other POSIX), WSAPoll (Windows 10 2004+)
 *    or select (everywhere). One semantic on every backend.
 *  - sp_waker: wakes a waiting poller or sp_select from another thread or from a signal
 *    handler.
 *
 * A failed non-blocking connect is reported the same way everywhere: the socket is ready
 * for writing and carries SP_EV_ERROR (POSIX reports it as writable, Windows only in
 * select's except set); read the reason with sp_socket_error() or sp_connect_finish().
 * More generally a socket with an error or a hang-up is reported ready for every interest
 * it has, with SP_EV_ERROR / SP_EV_HUP: the next call will not block.
 *
 * Platform differences that remain, and how to write code that does not care:
 *  - SP_EV_HUP is advisory: epoll, poll and kqueue report it, select cannot (Windows has
 *    no way to say it without a read). The portable end-of-stream signal is a read of 0.
 *  - A socket closed while still registered: epoll and Windows' WSAPoll forget it
 *    silently (Wine's WSAPoll reports it); poll and select report it once per wait as
 *    SP_EV_ERROR until it is removed. Remove a socket before closing it; removing it
 *    after still works.
 *  - kqueue: a socket registered with no interest at all (events 0) reports nothing.
 */
#ifndef SOCKPORT_POLL_H
#define SOCKPORT_POLL_H

#include "socket.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sp_select ----------------------------------------------------------------------- */

/*
 * sp_sockset: a set of sockets for sp_select. Initialise with sp_sockset_init (or
 * SP_SOCKSET_INIT), release with sp_sockset_free. The fields are private.
 */
typedef struct sp_sockset {
    struct sp__sockslot *slots; /* private */
    size_t count, cap;          /* private */
} sp_sockset;

#define SP_SOCKSET_INIT                                                                            \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

SP_API void sp_sockset_init(sp_sockset *set);
SP_API void sp_sockset_free(sp_sockset *set);

/* sp_sockset_add: add s (adding it twice is a no-op). 0, SP_EINVAL or SP_ENOMEM. */
SP_API int sp_sockset_add(sp_sockset *set, sp_socket_t s);

/* sp_sockset_remove: remove s. 0, or SP_ENOENT when it was not in the set. */
SP_API int sp_sockset_remove(sp_sockset *set, sp_socket_t s);

/* sp_sockset_clear: remove every socket (keeps the memory). */
SP_API void sp_sockset_clear(sp_sockset *set);

/* sp_sockset_count / sp_sockset_get: the members, in the order they were added. */
SP_API size_t sp_sockset_count(const sp_sockset *set);
SP_API sp_socket_t sp_sockset_get(const sp_sockset *set, size_t i);

/* sp_sockset_ready: 1 when the last sp_select found s ready in this set, else 0. */
SP_API int sp_sockset_ready(const sp_sockset *set, sp_socket_t s);

/*
 * sp_sockset_error: the error the last sp_select found on s: SP_EBADF for a socket that
 * was closed or is not a socket; for a socket in the write or except set, its pending
 * error (e.g. SP_ECONNREFUSED after a failed non-blocking connect), which sp_select takes
 * (sp_socket_error gives 0 afterwards); 0 for none. A socket only in the read set keeps
 * its error for the call that follows: after a reset it is ready with 0 here, and the
 * recv reports SP_ECONNRESET, on every OS.
 */
SP_API int sp_sockset_error(const sp_sockset *set, sp_socket_t s);

/*
 * sp_select: wait at most timeout_ms (negative: no limit) until a socket of `rd` is
 * readable, one of `wr` writable, or one of `ex` has an exceptional condition (a failed
 * connect, out-of-band data, an error). Any set may be NULL or empty. Returns the number
 * of (set, socket) pairs found ready, 0 on timeout, or an error (SP_ENOMEM, SP_EINVAL).
 * EINTR is retried with the time that is left. A socket that is dead is ready in every
 * set that holds it and has SP_EBADF as its error; the live ones are still answered.
 */
SP_API int sp_select(sp_sockset *rd, sp_sockset *wr, sp_sockset *ex, int timeout_ms);

/* ---- sp_poller ----------------------------------------------------------------------- */

/* Poller backends; SP_POLLER_AUTO picks the best the system has, unless the environment
 * variable SOCKPORT_POLLER names one (epoll, kqueue, poll, select, wsapoll). */
enum sp_poller_backend {
    SP_POLLER_AUTO = 0,
    SP_POLLER_EPOLL = 1,
    SP_POLLER_KQUEUE = 2,
    SP_POLLER_POLL = 3,
    SP_POLLER_SELECT = 4,
    SP_POLLER_WSAPOLL = 5
};

typedef struct sp_poller sp_poller;

/* One readiness report: the socket, its SP_EV_* flags, the user pointer given at add. */
typedef struct sp_event {
    sp_socket_t sock;
    int events;
    void *data;
} sp_event;

/*
 * sp_poller_create: a new poller. backend: an sp_poller_backend value. SP_ENOTSUP when
 * the backend asked for does not exist on this system (or, for WSAPoll, is unsafe here:
 * before Windows 10 2004 it does not report failed connects), SP_ENOMEM, or the error
 * of epoll_create / kqueue.
 */
SP_API int sp_poller_create(sp_poller **out, int backend);

/* sp_poller_destroy: release the poller (not the sockets in it). NULL is accepted. */
SP_API void sp_poller_destroy(sp_poller *p);

/* sp_poller_backend: which backend runs this poller (SP_POLLER_*), and its name. */
SP_API int sp_poller_backend(const sp_poller *p);
SP_API const char *sp_poller_backend_name(int backend);

/*
 * sp_poller_add: watch s for `events` (SP_EV_READ | SP_EV_WRITE; 0 watches only for
 * errors and hang-ups) with a user pointer. SP_EINVAL for bad arguments, SP_EEXIST
 * when s is already in the poller, SP_ENOMEM.
 */
SP_API int sp_poller_add(sp_poller *p, sp_socket_t s, int events, void *data);

/* sp_poller_modify: change the interest and the user pointer; SP_ENOENT if s is not in. */
SP_API int sp_poller_modify(sp_poller *p, sp_socket_t s, int events, void *data);

/*
 * sp_poller_remove: stop watching s; SP_ENOENT if s is not in. Remove a socket before
 * closing it; a socket closed while registered is still removed cleanly.
 */
SP_API int sp_poller_remove(sp_poller *p, sp_socket_t s);

/*
 * sp_poller_wait: wait at most timeout_ms (negative: no limit) and fill at most max
 * events. Level-triggered: a socket stays ready until the condition is consumed; ready
 * sockets beyond max are reported by the next wait. One thread waits on a poller at a
 * time, and add / modify / remove are made by that thread (or between its waits): use a
 * waker to make another thread's change take effect.
 * SP_EV_ERROR and SP_EV_HUP are reported whatever the interest. Returns the number of
 * events, 0 on timeout; EINTR is retried with the time that is left.
 */
SP_API int sp_poller_wait(sp_poller *p, sp_event *events, int max, int timeout_ms);

/* ---- sp_waker ------------------------------------------------------------------------ */

typedef struct sp_waker sp_waker;

/*
 * sp_waker_create: a waker: an eventfd on Linux, a pipe on other POSIX systems, a socket
 * pair on Windows. Watch sp_waker_socket() for SP_EV_READ in a poller or an sp_select
 * read set; it becomes readable after sp_waker_wake until sp_waker_drain.
 */
SP_API int sp_waker_create(sp_waker **out);
SP_API void sp_waker_destroy(sp_waker *w);

/* The handle to watch for SP_EV_READ. */
SP_API sp_socket_t sp_waker_socket(const sp_waker *w);

/*
 * sp_waker_wake: make the waker readable. Wakes coalesce (many wakes, one readiness).
 * Async-signal-safe on POSIX; callable from any thread.
 */
SP_API int sp_waker_wake(sp_waker *w);

/* sp_waker_drain: consume every pending wake; the waker is no longer readable. */
SP_API int sp_waker_drain(sp_waker *w);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_POLL_H */
