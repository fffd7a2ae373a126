/**
 * @file sockport/poll.h
 * @brief Readiness that means the same thing on every OS: sp_select, sp_poller, sp_waker.
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
 * Platform differences that remain, and how to write code that does not care
 * (docs/platforms.md has the whole table, with the OS sources):
 *  - SP_EV_HUP is advisory and means both directions are over: epoll, poll on Linux and
 *    FreeBSD, and kqueue (when both filters say EOF) report it; select cannot (Windows
 *    has no way to say it without a read); XNU's poll() and Windows' WSAPoll say POLLHUP
 *    for the end of one direction (the peer's FIN, our own shutdown), which sockport
 *    reports as readiness of the asked directions only. The portable end-of-stream signal
 *    is a read of 0.
 *  - A socket closed while still registered: epoll and Windows' WSAPoll forget it
 *    silently (Wine's WSAPoll reports it); poll and select report it once per wait as
 *    SP_EV_ERROR until it is removed. Remove a socket before closing it; removing it
 *    after still works.
 *  - No interest (events 0): epoll, Linux's and FreeBSD's poll and select still report
 *    errors and hang-ups; kqueue, WSAPoll (whose `events` must hold a flag: the entry is
 *    set aside) and macOS' poll() (no knote is made) report nothing until a direction
 *    is asked again. Treat 0 as "paused".
 *  - Out-of-band data is reported by no backend.
 */
#ifndef SOCKPORT_POLL_H
#define SOCKPORT_POLL_H

#include "socket.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sp_select ----------------------------------------------------------------------- */

/**
 * A set of sockets for sp_select(). Initialise with sp_sockset_init() (or
 * SP_SOCKSET_INIT), release with sp_sockset_free(). The fields are private (and their
 * number may change while sockport is 0.x).
 *
 * Costs: add, remove, sp_sockset_ready(), sp_sockset_error() and sp_sockset_data() take
 * constant time (a hash index from socket to member); sp_select() takes time linear in
 * the members; sp_sockset_next_ready() walks only the sockets the last sp_select() found
 * ready. A select loop over n sockets therefore costs O(n) per round, not O(n^2):
 *
 *     size_t pos = 0;
 *     sp_socket_t s;
 *     void *conn;
 *     if (sp_select(&rd, NULL, NULL, -1) > 0)
 *         while (sp_sockset_next_ready(&rd, &pos, &s, &conn))
 *             serve(conn);   // may remove s (or others) from rd
 */
typedef struct sp_sockset {
    struct sp__sockslot *slots; /**< private: the members, in the order added */
    size_t count, cap;          /**< private */
    size_t *index;              /**< private: socket to member (open addressing) */
    size_t index_cap;           /**< private */
    size_t dead;                /**< private: removed members not yet compacted */
    size_t *ready;              /**< private: members found ready by the last sp_select */
    size_t nready, ready_cap;   /**< private */
    size_t probes;              /**< private: index probes so far (a cost count for tests) */
} sp_sockset;
/** @var sp_sockset::count
 * private: the number of member slots (read the count with sp_sockset_count()). */
/** @var sp_sockset::nready
 * private: the number of entries in sp_sockset::ready. */

/** A static initialiser for an empty sp_sockset (the same as sp_sockset_init()). */
#define SP_SOCKSET_INIT                                                                            \
    {                                                                                              \
        NULL, 0, 0, NULL, 0, 0, NULL, 0, 0, 0                                                      \
    }

/**
 * Make a set empty (allocates nothing).
 * @param set the set; NULL is ignored.
 */
SP_API void sp_sockset_init(sp_sockset *set);
/**
 * Release a set's memory; it is empty and usable again afterwards.
 * @param set the set; NULL is ignored.
 */
SP_API void sp_sockset_free(sp_sockset *set);

/**
 * Add a socket (adding it twice is a no-op).
 * @param set the set.
 * @param s   the socket.
 * @return 0, or SP_EINVAL (NULL set, SP_INVALID_SOCKET), SP_ENOMEM.
 */
SP_API int sp_sockset_add(sp_sockset *set, sp_socket_t s);

/**
 * Add a socket with a user pointer, or change the pointer of a member. The pointer comes
 * back from sp_sockset_data() and sp_sockset_next_ready().
 * @param set  the set.
 * @param s    the socket.
 * @param data the pointer (may be NULL).
 * @return 0, or SP_EINVAL (NULL set, SP_INVALID_SOCKET), SP_ENOMEM.
 */
SP_API int sp_sockset_add_data(sp_sockset *set, sp_socket_t s, void *data);

/**
 * The user pointer of a member (sp_sockset_add_data()). No errors.
 * @param set the set.
 * @param s   the socket.
 * @return the pointer; NULL for a member added with sp_sockset_add(), a socket not in the
 *   set, or a NULL set.
 */
SP_API void *sp_sockset_data(const sp_sockset *set, sp_socket_t s);

/**
 * Remove a socket; the others keep their order. The slot is compacted away by the next
 * sp_select() or sp_sockset_clear().
 * @param set the set.
 * @param s   the socket.
 * @return 0, or SP_ENOENT when s was not in the set, SP_EINVAL (NULL set).
 */
SP_API int sp_sockset_remove(sp_sockset *set, sp_socket_t s);

/**
 * Remove every socket (keeps the memory).
 * @param set the set; NULL is ignored.
 */
SP_API void sp_sockset_clear(sp_sockset *set);

/**
 * The number of sockets in a set. No errors.
 * @param set the set.
 * @return the count; 0 for NULL.
 */
SP_API size_t sp_sockset_count(const sp_sockset *set);
/**
 * A member of a set, in the order they were added. Constant time, except after a
 * sp_sockset_remove() not yet followed by sp_select() (then linear). No errors.
 * @param set the set.
 * @param i   0 .. sp_sockset_count() - 1.
 * @return the socket; SP_INVALID_SOCKET for NULL or an index out of range.
 */
SP_API sp_socket_t sp_sockset_get(const sp_sockset *set, size_t i);

/**
 * Did the last sp_select() find s ready in this set? No errors.
 * @param set the set.
 * @param s   the socket.
 * @return 1 when ready, else 0 (also when s is not in the set).
 */
SP_API int sp_sockset_ready(const sp_sockset *set, sp_socket_t s);

/**
 * The error the last sp_select() found on s. For a socket in the write or except set it
 * is its pending error (e.g. SP_ECONNREFUSED after a failed non-blocking connect), which
 * sp_select takes (sp_socket_error() gives 0 afterwards). A socket only in the read set
 * keeps its error for the call that follows: after a reset it is ready with 0 here, and
 * the recv reports SP_ECONNRESET, on every OS.
 * @param set the set.
 * @param s   the socket.
 * @return SP_EBADF for a socket that was closed or is not a socket; the pending error; 0
 *   for none (also when s is not in the set).
 */
SP_API int sp_sockset_error(const sp_sockset *set, sp_socket_t s);

/**
 * The next socket the last sp_select() found ready in this set: start with *pos = 0 and
 * call until it returns 0. Each ready member comes once, in the order of the set. A member
 * removed during the walk is skipped; one added during it is not reported (it was not
 * asked); sp_sockset_clear() ends the walk. Cost: the number of ready members. No errors.
 * @param set  the set.
 * @param pos  the walk's position (0 to start); advanced by the call.
 * @param s    receives the socket (may be NULL).
 * @param data receives its user pointer (may be NULL).
 * @return 1 with the next ready socket, 0 at the end (or for a NULL set or pos).
 */
SP_API int sp_sockset_next_ready(const sp_sockset *set, size_t *pos, sp_socket_t *s, void **data);

/**
 * How many members the last sp_select() found ready in this set (members removed since
 * included). No errors.
 * @param set the set.
 * @return the count; 0 for NULL.
 */
SP_API size_t sp_sockset_ready_count(const sp_sockset *set);

/**
 * Wait until a socket of `rd` is readable, one of `wr` writable, or one of `ex` has an
 * exceptional condition (a failed connect, out-of-band data, an error). Any set may be
 * NULL or empty (all empty: sleep the timeout). EINTR is retried with the time that is
 * left. A socket that is dead is ready in every set that holds it and has SP_EBADF as its
 * error; the live ones are still answered. Ask the result with sp_sockset_ready() and
 * sp_sockset_error(); the sets' members are not changed.
 * @param rd         sockets to watch for reading, or NULL.
 * @param wr         sockets to watch for writing, or NULL.
 * @param ex         sockets to watch for exceptional conditions, or NULL.
 * @param timeout_ms the longest wait; negative: no limit; 0: just look.
 * @return the number of (set, socket) pairs found ready, 0 on timeout, or SP_ENOMEM,
 *   SP_EINVAL (one set given twice: each set holds one answer per member, so use a set
 *   per question), or another error of poll() / select() itself.
 */
SP_API int sp_select(sp_sockset *rd, sp_sockset *wr, sp_sockset *ex, int timeout_ms);

/* ---- sp_poller ----------------------------------------------------------------------- */

/** Poller backends, for sp_poller_create(). */
enum sp_poller_backend {
    SP_POLLER_AUTO = 0,   /**< the best the system has (epoll on Linux, kqueue on macOS
                               and BSD, poll on other POSIX, WSAPoll on Windows 10 2004+,
                               else select), unless the environment variable
                               SOCKPORT_POLLER names one (epoll, kqueue, poll, select,
                               wsapoll) */
    SP_POLLER_EPOLL = 1,  /**< epoll (Linux) */
    SP_POLLER_KQUEUE = 2, /**< kqueue (macOS, BSD) */
    SP_POLLER_POLL = 3,   /**< poll (POSIX) */
    SP_POLLER_SELECT = 4, /**< sp_select (everywhere) */
    SP_POLLER_WSAPOLL = 5 /**< WSAPoll (Windows 10 2004+) */
};

/** A poller (opaque): sockets with an interest mask and a user pointer each. */
typedef struct sp_poller sp_poller;

/** One readiness report. */
typedef struct sp_event {
    sp_socket_t sock; /**< the socket */
    int events;       /**< its SP_EV_* flags */
    void *data;       /**< the user pointer given to sp_poller_add() / sp_poller_modify() */
} sp_event;

/**
 * A new poller.
 * @param out     receives the poller; NULL on failure.
 * @param backend an ::sp_poller_backend value.
 * @return 0, or SP_EINVAL (NULL out, an unknown backend, or SOCKPORT_POLLER naming an
 *   unknown backend), SP_ENOTSUP when the backend asked for does not exist on this system
 *   (or, for WSAPoll, is unsafe here: before Windows 10 2004 it does not report failed
 *   connects), SP_ENOMEM, or the error of epoll_create / kqueue (SP_EMFILE, ...).
 */
SP_API int sp_poller_create(sp_poller **out, int backend);

/**
 * Release the poller (not the sockets in it).
 * @param p the poller; NULL is accepted.
 */
SP_API void sp_poller_destroy(sp_poller *p);

/**
 * Which backend runs this poller.
 * @param p the poller.
 * @return an SP_POLLER_* value (never SP_POLLER_AUTO), or SP_EINVAL for NULL.
 */
SP_API int sp_poller_backend(const sp_poller *p);
/**
 * The name of a backend. No errors.
 * @param backend an SP_POLLER_* value.
 * @return "auto", "epoll", "kqueue", "poll", "select" or "wsapoll"; "unknown" for another
 *   value (a static string).
 */
SP_API const char *sp_poller_backend_name(int backend);

/**
 * Watch a socket, level-triggered.
 * @param p      the poller.
 * @param s      the socket.
 * @param events SP_EV_READ | SP_EV_WRITE; 0 pauses the socket (errors and hang-ups are
 *   still reported by epoll, select and poll on Linux / FreeBSD, not by kqueue, WSAPoll
 *   or macOS' poll).
 * @param data   a user pointer reported with its events.
 * @return 0, or SP_EINVAL (NULL p, SP_INVALID_SOCKET, another flag), SP_EEXIST when s is
 *   already in the poller, SP_ENOMEM, or the backend's error (epoll_ctl / kevent:
 *   SP_EBADF for a closed socket, ...).
 */
SP_API int sp_poller_add(sp_poller *p, sp_socket_t s, int events, void *data);

/**
 * Change the interest and the user pointer of a watched socket (both stay as they were
 * on failure).
 * @param p      the poller.
 * @param s      the socket.
 * @param events SP_EV_READ | SP_EV_WRITE, or 0.
 * @param data   the new user pointer.
 * @return 0, or SP_ENOENT if s is not in, SP_EINVAL (NULL p, another flag), or the
 *   backend's error.
 */
SP_API int sp_poller_modify(sp_poller *p, sp_socket_t s, int events, void *data);

/**
 * Stop watching a socket. Remove a socket before closing it; a socket closed while
 * registered is still removed cleanly.
 * @param p the poller.
 * @param s the socket.
 * @return 0, or SP_ENOENT if s is not in, SP_EINVAL (NULL p).
 */
SP_API int sp_poller_remove(sp_poller *p, sp_socket_t s);

/**
 * Wait for readiness and report it. Level-triggered: a socket stays ready until the
 * condition is consumed; ready sockets beyond max are reported by the next wait (every
 * ready socket gets its turn). One thread waits on a poller at a time, and add / modify /
 * remove are made by that thread (or between its waits): use a waker to make another
 * thread's change take effect. SP_EV_ERROR and SP_EV_HUP are reported whatever the
 * interest. EINTR is retried with the time that is left.
 * @param p          the poller.
 * @param events     receives the reports.
 * @param max        the room in events, > 0.
 * @param timeout_ms the longest wait; negative: no limit; 0: just look.
 * @return the number of events, 0 on timeout, or SP_EINVAL (NULL pointers, max <= 0),
 *   SP_ENOMEM, or the backend's error.
 */
SP_API int sp_poller_wait(sp_poller *p, sp_event *events, int max, int timeout_ms);

/* ---- sp_waker ------------------------------------------------------------------------ */

/** A waker (opaque): a handle that another thread or a signal handler makes readable. */
typedef struct sp_waker sp_waker;

/**
 * A waker: an eventfd on Linux, a pipe on other POSIX systems, a socket pair on Windows;
 * non-blocking and not inherited. Watch sp_waker_socket() for SP_EV_READ in a poller or
 * an sp_select() read set; it becomes readable after sp_waker_wake() until
 * sp_waker_drain().
 * @param out receives the waker; NULL on failure.
 * @return 0, or SP_EINVAL (NULL out), SP_ENOMEM, SP_EMFILE / SP_ENFILE, or on Windows an
 *   error of sp_socketpair().
 */
SP_API int sp_waker_create(sp_waker **out);
/**
 * Close the waker's handles and release it. Remove its handle from pollers first.
 * @param w the waker; NULL is accepted.
 */
SP_API void sp_waker_destroy(sp_waker *w);

/**
 * The handle to watch for SP_EV_READ with a poller, sp_select() or sp_wait(). On POSIX
 * it is an eventfd or a pipe, not a socket: do not read, write or close it. No errors.
 * @param w the waker.
 * @return the handle; SP_INVALID_SOCKET for NULL.
 */
SP_API sp_socket_t sp_waker_socket(const sp_waker *w);

/**
 * Make the waker readable. Wakes coalesce (many wakes, one readiness; a full pipe means a
 * wake is pending and is success). Async-signal-safe on POSIX (errno is preserved and the
 * thread's last native error is not touched); callable from any thread.
 * @param w the waker.
 * @return 0, or SP_EINVAL (NULL), or the error of the write / send.
 */
SP_API int sp_waker_wake(sp_waker *w);

/**
 * Consume every pending wake; the waker is no longer readable.
 * @param w the waker.
 * @return 0, or SP_EINVAL (NULL), or the error of the read / recv.
 */
SP_API int sp_waker_drain(sp_waker *w);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_POLL_H */
