/**
 * @file sockport/dial.h
 * @brief Dialing a name: one deadline for the whole dial, Happy Eyeballs (RFC 8305), a
 * resolver that cannot hang, and a non-blocking dialer for event loops.
 *
 * sp_dial() and sp_dial_ex() resolve "host:port", sort the addresses by RFC 8305
 * section 4 (families interleaved, starting with the family the resolver returned first,
 * or the one asked for), and race non-blocking connects: the first attempt starts at
 * once, each next one a "connection attempt delay" (250 ms by default) after the one
 * before it began, or at once when every earlier attempt has failed. Earlier attempts keep
 * running; the first to connect wins and the others are closed at once. No thread per
 * attempt: one wait watches them all.
 *
 * The timeout is one deadline for the whole call: name resolution and every attempt.
 * Resolution of a name runs on a worker thread, so a slow or silent DNS server cannot
 * hold the caller past the deadline; a worker whose caller gave up frees its own result
 * when it ends. Numeric addresses ("1.2.3.4:80", "[::1]:80", "[fe80::1%2]:80") and
 * "unix:/path" never go to the resolver.
 *
 * When every attempt fails, the error is the most useful one: SP_ECONNREFUSED (someone
 * answered) beats any other error, which beats SP_ETIMEDOUT; on a tie the error of the
 * family tried first wins.
 *
 * The dialer (sp_dial_start(), sp_dial_step(), sp_dial_finish(), sp_dial_free()) runs
 * the same rules without blocking, for programs built on sp_poller or sp_select().
 */
#ifndef SOCKPORT_DIAL_H
#define SOCKPORT_DIAL_H

#include "addr.h"
#include "base.h"
#include "poll.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The default connection attempt delay (RFC 8305 section 5 recommends 250 ms). */
#define SP_DIAL_DELAY_DEFAULT 250
/** The shortest connection attempt delay accepted (RFC 8305: at least 10 ms). */
#define SP_DIAL_DELAY_MIN 10
/** The longest connection attempt delay accepted (RFC 8305: at most 2 s). */
#define SP_DIAL_DELAY_MAX 2000
/** The most addresses one dial tries (more are dropped, in the sorted order). */
#define SP_DIAL_MAX_ADDRS 32

/** Flag for sp_dial_options::flags: the socket returned stays non-blocking. */
#define SP_DIAL_NONBLOCK 1u

/**
 * Options for sp_dial_ex() and sp_dial_start(). Fill with sp_dial_options_init() first,
 * then change what you need: the struct may grow, and `size` tells the library which
 * fields the caller knows.
 */
typedef struct sp_dial_options {
    size_t size;          /**< sizeof(sp_dial_options), set by sp_dial_options_init() */
    int attempt_delay_ms; /**< the connection attempt delay: SP_DIAL_DELAY_MIN..MAX */
    int family;           /**< SP_AF_UNSPEC (both), SP_AF_INET or SP_AF_INET6 only */
    int prefer;           /**< the family tried first: SP_AF_UNSPEC (the resolver's first),
                               SP_AF_INET or SP_AF_INET6 */
    unsigned flags;       /**< 0 or SP_DIAL_NONBLOCK */
    sp_poller *poller;    /**< dialer only: register the dialer's handles here, or NULL */
    void *poller_data;    /**< dialer only: the user pointer of those registrations */
} sp_dial_options;

/**
 * Fill options with the defaults: 250 ms delay, both families in the resolver's order,
 * a blocking socket, no poller.
 * @param opt the options; NULL is ignored.
 */
SP_API void sp_dial_options_init(sp_dial_options *opt);

/**
 * sp_dial() with options.
 * @param out        receives the connected stream socket (blocking unless
 *                   SP_DIAL_NONBLOCK); SP_INVALID_SOCKET on failure.
 * @param address    "host:port", "[v6]:port", "1.2.3.4:port" or "unix:/path".
 * @param timeout_ms the deadline for the whole call, resolution included (negative: no
 *                   limit; 0: fails with SP_ETIMEDOUT unless connected at once).
 * @param opt        options from sp_dial_options_init(), or NULL for the defaults.
 * @return 0, or SP_EINVAL (NULL out or address, malformed address, a delay outside
 *   10..2000 ms, an unknown family, flag or size, a poller given to this blocking call),
 *   SP_ENOMEM, SP_ETIMEDOUT (the deadline passed: while resolving or connecting), an error
 *   of the resolver (SP_EAI_NONAME, SP_EAI_AGAIN, SP_EAI_FAIL, SP_EAI_NODATA,
 *   SP_EAI_FAMILY), SP_ENOTINIT (Windows, before sp_init()), SP_EAGAIN when no resolver
 *   thread could be started, or the most useful attempt error (SP_ECONNREFUSED,
 *   SP_ENETUNREACH, SP_EHOSTUNREACH, SP_EADDRNOTAVAIL, SP_EAFNOSUPPORT, SP_EMFILE, ...).
 */
SP_API int sp_dial_ex(sp_socket_t *out, const char *address, int timeout_ms,
                      const sp_dial_options *opt);

/** A dialer in progress (opaque). */
typedef struct sp_dialer sp_dialer;

/**
 * Start a dial without blocking. Resolution (when the address is a name) runs on a worker
 * thread; connects start as sp_dial_step() is called. Watch the handles sp_dial_watch()
 * lists (or let the dialer keep them in sp_dial_options::poller) and call sp_dial_step()
 * when one is ready or its timeout has passed.
 * @param out        receives the dialer; NULL on failure.
 * @param address    as for sp_dial_ex().
 * @param timeout_ms the deadline of the whole dial (negative: none).
 * @param opt        options, or NULL for the defaults.
 * @return 0, or SP_EINVAL, SP_ENOMEM, SP_EAGAIN (no worker thread), SP_ENOTINIT, or an
 *   error of sp_waker_create() or sp_poller_add().
 */
SP_API int sp_dial_start(sp_dialer **out, const char *address, int timeout_ms,
                         const sp_dial_options *opt);

/**
 * Make progress without blocking: take the resolver's answer, see which attempts
 * finished, start the attempts that are due, enforce the deadline.
 * @param d          the dialer.
 * @param timeout_ms receives how long the caller may wait before calling again when no
 *                   handle becomes ready (-1: no limit); may be NULL.
 * @return 0 when connected (take the socket with sp_dial_finish()), SP_EINPROGRESS to go
 *   on, or the final error, as sp_dial_ex() returns it (SP_EINVAL for NULL d).
 */
SP_API int sp_dial_step(sp_dialer *d, int *timeout_ms);

/**
 * The handles to watch now, and for what: the resolver's waker (SP_EV_READ) while a name
 * resolves, then each attempt in flight (SP_EV_WRITE; a failure is reported as ready too).
 * The list changes after each sp_dial_step(). No errors beyond SP_EINVAL.
 * @param d      the dialer.
 * @param socks  receives up to cap handles (may be NULL when cap is 0).
 * @param events receives each handle's interest (may be NULL).
 * @param cap    the room in socks and events.
 * @return how many handles there are (may exceed cap), or SP_EINVAL (NULL d).
 */
SP_API int sp_dial_watch(const sp_dialer *d, sp_socket_t *socks, int *events, size_t cap);

/**
 * Take the connected socket out of a dialer that is done (it is removed from the poller,
 * and made blocking unless SP_DIAL_NONBLOCK). Free the dialer with sp_dial_free()
 * afterwards.
 * @param d   the dialer.
 * @param out receives the socket; SP_INVALID_SOCKET unless 0 is returned.
 * @return 0, SP_EINPROGRESS when the dial is still under way, the dial's error when it
 *   failed, SP_EALREADY when the socket was already taken, or SP_EINVAL (NULL).
 */
SP_API int sp_dial_finish(sp_dialer *d, sp_socket_t *out);

/**
 * Stop and release a dialer: attempts still open are removed from the poller and closed;
 * a resolution still running is abandoned (its worker frees the answer when it ends).
 * @param d the dialer; NULL is accepted.
 */
SP_API void sp_dial_free(sp_dialer *d);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_DIAL_H */
