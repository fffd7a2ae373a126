/*
 * poll_wsapoll.c - the WSAPoll poller backend (Windows 10 2004 and later: poll.c does not
 * offer it before, when WSAPoll does not report a failed connect). O(n) waits.
 *
 * WSAPoll is stricter than poll(): `events` may hold only POLLRDNORM, POLLRDBAND and
 * POLLWRNORM (POLLPRI fails the whole call with WSAEINVAL; POLLERR / POLLHUP are output
 * only), an empty array fails, and so does an array whose sockets are all invalid.
 */
#include "poller.h"

#include <winsock2.h>
#include <windows.h>

#include <limits.h>
#include <stdlib.h>

/*
 * Parking: Microsoft documents `events` as "one or more" of the request flags, so an entry
 * with no interest (a paused or closing connection) is never handed to WSAPoll. The array
 * is kept in two parts: fds[0, active) have interest and are polled; fds[active, count)
 * are parked. (A parked entry with fd = INVALID_SOCKET would do on Windows, which ignores
 * negative fds, but Wine reports POLLNVAL for it and returns at once.) As on kqueue, a
 * socket with no interest reports no error or hang-up until it asks for a direction.
 */
typedef struct wp_state {
    sp__polltab t; /* first (sp__polltab_fini); entries: WSAPOLLFD */
    size_t active; /* entries [0, active) have interest */
    size_t next;   /* where the next scan starts: with more ready than fit, all get a turn */
} wp_state;

#define WP_FDS(st) ((WSAPOLLFD *)(st)->t.fds)

static int wp_init(sp_poller *p)
{
    return sp__poller_state_new(p, sizeof(wp_state));
}

static SHORT wp_interest(const sp__reg *r)
{
    return (SHORT)(((r->events & SP_EV_READ) ? POLLRDNORM : 0) |
                   ((r->events & SP_EV_WRITE) ? POLLWRNORM : 0));
}

/* Swap entries i and j (and their registrations' indexes). */
static void wp_swap(wp_state *st, size_t i, size_t j)
{
    sp__polltab_swap(&st->t, sizeof(WSAPOLLFD), i, j);
}

/* Put entry r where its interest says: polled or parked. */
static void wp_place(wp_state *st, sp__reg *r)
{
    int polled = r->index < st->active;
    WP_FDS(st)[r->index].events = wp_interest(r);
    if (WP_FDS(st)[r->index].events != 0 && !polled) {
        wp_swap(st, r->index, st->active);
        st->active++;
    } else if (WP_FDS(st)[r->index].events == 0 && polled) {
        st->active--;
        wp_swap(st, r->index, st->active);
    }
}

static int wp_add(sp_poller *p, sp__reg *r)
{
    wp_state *st = (wp_state *)p->impl;
    int rc =
        sp__polltab_reserve(&st->t, sizeof(WSAPOLLFD), (size_t)ULONG_MAX); /* WSAPoll's count */
    if (rc != 0)
        return rc;
    r->index = st->t.count++;
    st->t.regs[r->index] = r;
    WP_FDS(st)[r->index].fd = (SOCKET)r->sock;
    WP_FDS(st)[r->index].events = 0;
    WP_FDS(st)[r->index].revents = 0;
    wp_place(st, r);
    return 0;
}

static int wp_modify(sp_poller *p, sp__reg *r)
{
    wp_place((wp_state *)p->impl, r);
    return 0;
}

/* Never touches the socket, which may be closed already. */
static void wp_remove(sp_poller *p, sp__reg *r)
{
    wp_state *st = (wp_state *)p->impl;
    if (r->index < st->active) { /* park it first: the polled part stays packed */
        st->active--;
        wp_swap(st, r->index, st->active);
    }
    st->t.count--;
    wp_swap(st, r->index, st->t.count); /* the last entry fills the hole */
}

/* An empty array: sleep for the timeout (one Sleep, as in poll.c's sp__select). */
static void wp_sleep(int timeout_ms)
{
    if (timeout_ms < 0) {
        for (;;)
            Sleep(INFINITE);
    }
    if (timeout_ms > 0)
        Sleep((DWORD)timeout_ms);
}

/*
 * WSAPoll failed as a whole with `err`. Windows fails it (WSAENOTSOCK, or WSAEINVAL when
 * no entry is valid) for sockets closed while registered; find them with
 * getsockopt(SO_TYPE), mark them POLLNVAL, and ask again about the live ones without
 * waiting (a dead one is already an answer). Entries with a negative fd (INVALID_SOCKET)
 * are ignored by WSAPoll. Returns the number of entries with revents, or an error (err
 * itself when no entry is dead).
 */
static int wp_poll_around_dead(wp_state *st, int err)
{
    size_t i, dead = 0;
    int n = 0;
    for (i = 0; i < st->active; i++) {
        int type = 0, len = (int)sizeof type;
        WP_FDS(st)[i].revents = 0;
        if (getsockopt(WP_FDS(st)[i].fd, SOL_SOCKET, SO_TYPE, (char *)&type, &len) ==
                SOCKET_ERROR &&
            WSAGetLastError() == WSAENOTSOCK) {
            WP_FDS(st)[i].fd = INVALID_SOCKET;
            dead++;
        }
    }
    if (dead == 0)
        return sp__fail(err);
    if (dead < st->active && WSAPoll(WP_FDS(st), (ULONG)st->active, 0) == SOCKET_ERROR)
        n = sp__fail_last();
    for (i = 0; i < st->active; i++) {
        if (WP_FDS(st)[i].fd == INVALID_SOCKET) { /* Wine says POLLNVAL for it; Windows 0 */
            WP_FDS(st)[i].fd = (SOCKET)st->t.regs[i]->sock;
            WP_FDS(st)[i].revents = POLLNVAL;
        }
        if (n >= 0 && WP_FDS(st)[i].revents != 0 && n < INT_MAX)
            n++;
    }
    return n;
}

/*
 * revents onto SP_EV_*: readiness.h decides, with POLLHUP read as a one-way EOF
 * (SP__HUP_EOF): Microsoft's WSAPOLLFD page says only "disconnected or aborted", and
 * Wine 8 answers the peer's FIN alone with POLLHUP while our side can still send
 * (tests/test_replay_readiness.cc checks it live). So:
 *  - a failed connect: Windows 2004+ gives POLLHUP | POLLERR | POLLWRNORM, Wine 8 POLLERR
 *    alone; both become SP_EV_WRITE | SP_EV_ERROR.
 *  - the peer's FIN: POLLHUP, often without POLLRDNORM: SP_EV_READ, whose recv returns 0.
 *  - POLLNVAL, a socket closed while registered: Wine reports it and Windows ignores the
 *    entry (it is simply never ready); reported as SP_EV_ERROR until removed.
 */
static int wp_events(SHORT re, const sp__reg *r)
{
    int pr = ((re & (POLLRDNORM | POLLRDBAND)) ? SP__R_IN : 0) |
             ((re & POLLWRNORM) ? SP__R_OUT : 0) | ((re & POLLERR) ? SP__R_ERR : 0) |
             ((re & POLLHUP) ? SP__R_HUP : 0) | ((re & POLLNVAL) ? SP__R_NVAL : 0);
    return sp__poll_revents_to_events(pr, r->events, SP__HUP_EOF, SP__PEEK_NONE);
}

static int wp_wait(sp_poller *p, sp_event *ev, int max, int timeout_ms)
{
    wp_state *st = (wp_state *)p->impl;
    sp__deadline deadline = sp__deadline_in(timeout_ms);
    size_t i, k;
    int r, n = 0, left = timeout_ms;
    if (st->active == 0) { /* WSAPoll fails on an empty array; parked entries wait */
        wp_sleep(timeout_ms);
        return 0;
    }
    for (;;) {
        int err;
        r = WSAPoll(WP_FDS(st), (ULONG)st->active, left);
        if (r != SOCKET_ERROR)
            break;
        err = WSAGetLastError();
        if (err == WSAEINTR) {
            left = sp__deadline_left(deadline); /* with the time that is left */
            continue;
        }
        if (err != WSAENOTSOCK && err != WSAEINVAL)
            return sp__fail(err);
        r = wp_poll_around_dead(st, err);
        if (r < 0)
            return r;
        break;
    }
    if (r == 0) /* r only says whether anything is ready: Wine miscounts with POLLNVAL */
        return 0;
    if (st->next >= st->active)
        st->next = 0;
    for (k = 0, i = st->next; k < st->active && n < max; k++, i = (i + 1) % st->active) {
        const sp__reg *reg = st->t.regs[i];
        int e;
        if (WP_FDS(st)[i].revents == 0)
            continue;
        e = wp_events(WP_FDS(st)[i].revents, reg);
        if (e == 0)
            continue;
        ev[n].sock = reg->sock;
        ev[n].events = e;
        ev[n].data = reg->data;
        n++;
        st->next = (i + 1) % st->active;
    }
    return n;
}

const sp__poller_ops sp__poller_wsapoll_ops = {
    SP_POLLER_WSAPOLL, wp_init, sp__polltab_fini, wp_add, wp_modify, wp_remove, wp_wait};
