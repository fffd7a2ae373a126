/*
 * readiness.h - what each system's readiness answer means, as pure functions.
 *
 * Every OS-specific decision of the poll layer (what a poll() / WSAPoll revents, a kevent
 * or a select() answer says about a socket: readable, writable, failed, hung up) is made
 * here, on portable bits, with no system call and no platform header. The backends
 * translate their native bits into the SP__R_* / SP__KQ_* bits below and ask these
 * functions; tests/test_replay_readiness.cc replays what each OS answers in each situation
 * (each row citing the OS source it comes from) through the same functions on any host,
 * and runs the rows of the host it is on live, so that a wrong table fails.
 * docs/platforms.md is the table of record.
 */
#ifndef SOCKPORT_READINESS_H
#define SOCKPORT_READINESS_H

#include "sockport/socket.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- poll() and WSAPoll ---------------------------------------------------------------- */

/* A poll() or WSAPoll revents, whatever the system's values of the POLL* macros. */
#define SP__R_IN    0x01 /* POLLIN / POLLRDNORM */
#define SP__R_PRI   0x02 /* POLLPRI / POLLRDBAND */
#define SP__R_OUT   0x04 /* POLLOUT / POLLWRNORM */
#define SP__R_ERR   0x08 /* POLLERR */
#define SP__R_HUP   0x10 /* POLLHUP */
#define SP__R_NVAL  0x20 /* POLLNVAL */
#define SP__R_RDHUP 0x40 /* POLLRDHUP (Linux) */

/*
 * What POLLHUP means on a system:
 *  - SP__HUP_BOTH: both directions are done (Linux tcp_poll; FreeBSD sopoll_generic sets it
 *    only when SBS_CANTRCVMORE and SBS_CANTSENDMORE both hold). A pending error comes with
 *    POLLERR on Linux, without it on FreeBSD (which never sets POLLERR on a socket):
 *    SO_ERROR says.
 *  - SP__HUP_EOF: XNU, whose poll() is built on kqueue (bsd/kern/sys_generic.c,
 *    poll_callback): POLLHUP is the EV_EOF of the read filter (the peer's FIN, a reset, a
 *    refused connect) or of the write filter (our own shutdown(SHUT_WR), a reset, a refused
 *    connect), POLLERR never comes from a socket, and POLLOUT is not added once POLLHUP is
 *    set. One direction is done, or both, or the connection failed: only the next call can
 *    tell which, and it does not block. Windows' WSAPoll too: its page says "disconnected
 *    or aborted", and Wine 8 answers the peer's FIN alone with POLLHUP.
 */
enum sp__hup_kind { SP__HUP_BOTH = 0, SP__HUP_EOF = 1 };

/*
 * A POLLHUP without POLLERR leaves open whether an error is pending (FreeBSD and XNU never
 * set POLLERR on a socket) and, on XNU, which direction is over. The POSIX backends then
 * peek: recv(1 byte, MSG_PEEK | MSG_DONTWAIT) reports a pending error without clearing it
 * (XNU bsd/kern/uipc_socket.c soreceive: "if ((flags & MSG_PEEK) == 0) so->so_error = 0"),
 * else data, the end of the stream, or nothing yet. ENOTCONN (a socket never connected)
 * counts as the end of the stream, not as an error.
 */
enum sp__peek {
    SP__PEEK_NONE = 0, /* not peeked (WSAPoll: Windows reports errors with POLLERR) */
    SP__PEEK_ERROR,    /* an error is pending */
    SP__PEEK_DATA,     /* data to read */
    SP__PEEK_EOF,      /* the read side is over */
    SP__PEEK_EMPTY     /* the read side is open, nothing to read (EAGAIN) */
};

/* Whether the answer r (SP__R_*) needs a peek before sp__poll_revents_to_events. */
static inline int sp__poll_wants_peek(int r)
{
    return (r & SP__R_HUP) != 0 && (r & (SP__R_ERR | SP__R_NVAL)) == 0;
}

/*
 * The SP_EV_* mask of one poll() / WSAPoll answer `r` (SP__R_*) for a socket asked for
 * `asked` (SP_EV_READ | SP_EV_WRITE), with the peek's result when sp__poll_wants_peek.
 * Errors and hang-ups as sp__error_events: SP_EV_ERROR / SP_EV_HUP plus every interest
 * (the next call will not block).
 *  - POLLERR, POLLNVAL, or a peeked error: SP_EV_ERROR (POLLNVAL: the caller may say
 *    SP_EBADF instead); with POLLHUP also SP_EV_HUP (the connection is gone).
 *  - POLLHUP, SP__HUP_BOTH: SP_EV_HUP.
 *  - POLLHUP, SP__HUP_EOF: never SP_EV_HUP (it may be one direction). Readable when the
 *    peek found data or the end of the stream (a peer's FIN), not when the read side is
 *    still open (the EOF was the write side's: our own shutdown(SHUT_WR)); writable when
 *    asked (POLLOUT is not added once POLLHUP is set on XNU). Not peeked: both.
 *  - POLLRDHUP: readable (the read returns 0).
 */
static inline int sp__poll_revents_to_events(int r, int asked, int hup_kind, int peek)
{
    int ev = 0, err = (r & (SP__R_ERR | SP__R_NVAL)) != 0, hup = 0;
    asked &= SP_EV_READ | SP_EV_WRITE;
    if (r & (SP__R_IN | SP__R_RDHUP))
        ev |= SP_EV_READ;
    if (r & SP__R_OUT)
        ev |= SP_EV_WRITE;
    if (r & SP__R_HUP) {
        if (peek == SP__PEEK_ERROR)
            err = hup = 1;
        else if (hup_kind == SP__HUP_BOTH)
            hup = 1;
        else
            ev |= SP_EV_WRITE | (peek == SP__PEEK_EMPTY ? 0 : SP_EV_READ);
    }
    if (err || hup)
        ev |= (err ? SP_EV_ERROR : 0) | (hup ? SP_EV_HUP : 0) | asked;
    return ev & (asked | SP_EV_ERROR | SP_EV_HUP);
}

/* The three sets of a select, as sp__poll_slot names them. */
enum sp__set_kind { SP__SET_RD = 0, SP__SET_WR = 1, SP__SET_EX = 2 };

/* sp__poll_slot's answer: bits. */
#define SP__SLOT_READY    1u /* ready in this set */
#define SP__SLOT_ERROR    2u /* the socket's pending error is this slot's error */
#define SP__SLOT_BADF     4u /* a dead descriptor: SP_EBADF */
#define SP__SLOT_IF_ERROR 8u /* ready only when a pending error is found */

/*
 * sp_select over poll() (src/posix/poll.c): what the answer `r` (SP__R_*) to a socket means
 * for one of its slots, in the set `set` (asked POLLIN, POLLOUT or POLLPRI).
 *  - POLLNVAL: a dead descriptor, ready in every set.
 *  - POLLERR: ready with the pending error (on Linux a failed connect is POLLERR).
 *  - POLLHUP: the next call will not block, so ready in the read and write sets; in the
 *    write set the pending error is the answer (FreeBSD reports a refused connect as
 *    POLLOUT | POLLHUP with no POLLERR, XNU as POLLHUP alone). In the except set it is an
 *    exception only when an error is pending (an orderly close is not one), and on XNU
 *    the POLLPRI that rides along with POLLHUP (poll_callback adds it to an EV_EOF of the
 *    read filter) is not out-of-band data.
 *  - otherwise the set's own bit: POLLIN, POLLOUT, POLLPRI (out-of-band data).
 */
static inline unsigned sp__poll_slot(int r, int set, int hup_kind)
{
    int own = set == SP__SET_RD ? SP__R_IN : set == SP__SET_WR ? SP__R_OUT : SP__R_PRI;
    unsigned a = 0;
    if (r & SP__R_NVAL)
        return SP__SLOT_READY | SP__SLOT_BADF;
    if (r & SP__R_ERR)
        return SP__SLOT_READY | SP__SLOT_ERROR;
    if ((r & SP__R_HUP) && hup_kind == SP__HUP_EOF && set == SP__SET_EX)
        r &= ~SP__R_PRI;
    if (r & own)
        a |= SP__SLOT_READY;
    if (r & SP__R_HUP) {
        if (set == SP__SET_RD)
            a |= SP__SLOT_READY;
        else if (set == SP__SET_WR)
            a |= SP__SLOT_READY | SP__SLOT_ERROR;
        else
            a |= SP__SLOT_IF_ERROR;
    }
    return a;
}

/* ---- select() -------------------------------------------------------------------------- */

/*
 * A select poller's report for one socket from its three slots (ready / error as
 * sp__select left them; a slot of a set that does not hold it counts as not ready):
 * ready in the read or write set is that interest; an error (a failed connect: Windows
 * reports it in the except set alone, POSIX in the write set) is SP_EV_ERROR plus every
 * interest; a socket in the except set without an error has out-of-band data, which no
 * other backend reports (epoll and kqueue are not asked for it): nothing.
 */
static inline int sp__select_to_events(int rd_ready, int wr_ready, int ex_ready, int err,
                                       int interest)
{
    int ev = (rd_ready ? SP_EV_READ : 0) | (wr_ready ? SP_EV_WRITE : 0);
    (void)ex_ready;
    interest &= SP_EV_READ | SP_EV_WRITE;
    if (err != 0)
        ev |= SP_EV_ERROR | interest;
    return ev & (interest | SP_EV_ERROR);
}

/* Windows select (src/win32/poll.c): the slot of a socket in the set `set_bit` (1 read,
 * 2 write, 4 except) is ready when select listed it there, when it is dead, or when it
 * has an error: Windows lists a failed non-blocking connect in exceptfds alone (the
 * select page: "connection attempt failed" under exceptfds), never in writefds. */
static inline int sp__winsel_ready(unsigned hits, unsigned set_bit, int dead, int error)
{
    return dead || (hits & set_bit) != 0 || error != 0;
}

/* ---- kqueue ---------------------------------------------------------------------------- */

/* A kevent, portably. */
#define SP__KQ_READ   1     /* EVFILT_READ */
#define SP__KQ_WRITE  2     /* EVFILT_WRITE */
#define SP__KQ_EOF    1u    /* EV_EOF in flags */
#define SP__KQ_ERROR  2u    /* EV_ERROR in flags */
#define SP__EV_RD_EOF 0x100 /* sp__kevent_to_events: the read filter said EV_EOF */
#define SP__EV_WR_EOF 0x200 /* sp__kevent_to_events: the write filter said EV_EOF */

/*
 * One kevent of a socket with `interest`, as SP_EV_* plus SP__EV_RD_EOF / SP__EV_WR_EOF;
 * OR the answers of one socket's kevents together, then pass them to sp__kevent_finish.
 * fflags with EV_EOF is so_error (XNU filt_soread_common / filt_sowrite_common; FreeBSD
 * filt_soread / filt_sowrite): an EOF with an error is SP_EV_ERROR. The read filter's EOF
 * is the peer's FIN (or a failure); the write filter's EOF is SS_CANTSENDMORE, which our own
 * shutdown(SHUT_WR) sets as well as a failure: alone it is only "writing is over" (a send
 * fails at once, as after SHUT_WR on epoll, which reports EPOLLOUT), never a hang-up or a
 * reason to read.
 */
static inline int sp__kevent_to_events(int filter, unsigned flags, long long fflags, int interest)
{
    int ev;
    if (flags & SP__KQ_ERROR) /* a change that failed (the socket closed meanwhile) */
        return SP_EV_ERROR;
    ev = filter == SP__KQ_READ ? SP_EV_READ : SP_EV_WRITE;
    if (flags & SP__KQ_EOF) {
        ev |= filter == SP__KQ_READ ? SP__EV_RD_EOF : SP__EV_WR_EOF;
        if (fflags != 0)
            ev |= SP_EV_ERROR;
    }
    return ev & (interest | SP_EV_ERROR | SP__EV_RD_EOF | SP__EV_WR_EOF);
}

/* The merged answers of one socket's kevents, as the SP_EV_* mask reported: SP_EV_HUP when
 * both directions are over (as epoll's EPOLLHUP), errors and hang-ups ready for every
 * interest. */
static inline int sp__kevent_finish(int merged, int interest)
{
    int hup = (merged & SP__EV_RD_EOF) && (merged & SP__EV_WR_EOF);
    int ev = merged & (SP_EV_READ | SP_EV_WRITE | SP_EV_ERROR);
    interest &= SP_EV_READ | SP_EV_WRITE;
    if ((ev & SP_EV_ERROR) || hup)
        ev |= (hup ? SP_EV_HUP : 0) | interest;
    return ev;
}

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_READINESS_H */
