/* poll_poll.c - the poll() poller backend (any POSIX system): O(n) waits. */
#include "poller.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

typedef struct pl_state {
    sp__polltab t; /* first (sp__polltab_fini); entries: struct pollfd */
    size_t next;   /* where the next wait starts reporting: every ready socket gets a turn */
} pl_state;

#define PL_FDS(st) ((struct pollfd *)(st)->t.fds)

static int pl_init(sp_poller *p)
{
    return sp__poller_state_new(p, sizeof(pl_state));
}

static short pl_interest(const sp__reg *r)
{
    return (short)(((r->events & SP_EV_READ) ? POLLIN : 0) |
                   ((r->events & SP_EV_WRITE) ? POLLOUT : 0));
}

static int pl_add(sp_poller *p, sp__reg *r)
{
    pl_state *st = (pl_state *)p->impl;
    int rc;
    if (r->sock < 0) /* poll() would skip it silently for ever; epoll_ctl says EBADF */
        return sp__fail(EBADF);
    rc = sp__polltab_reserve(&st->t, sizeof(struct pollfd), (size_t)-1);
    if (rc != 0)
        return rc;
    r->index = st->t.count++;
    st->t.regs[r->index] = r;
    PL_FDS(st)[r->index].fd = r->sock;
    PL_FDS(st)[r->index].events = pl_interest(r);
    PL_FDS(st)[r->index].revents = 0;
    return 0;
}

static int pl_modify(sp_poller *p, sp__reg *r)
{
    PL_FDS((pl_state *)p->impl)[r->index].events = pl_interest(r);
    return 0;
}

static void pl_remove(sp_poller *p, sp__reg *r)
{
    pl_state *st = (pl_state *)p->impl;
    /* the last entry fills the hole */
    sp__polltab_swap(&st->t, sizeof(struct pollfd), r->index, --st->t.count);
}

static int pl_wait(sp_poller *p, sp_event *ev, int max, int timeout_ms)
{
    pl_state *st = (pl_state *)p->impl;
    sp__deadline deadline = sp__deadline_in(timeout_ms);
    size_t i, k, start = st->next;
    int r, n = 0, left = timeout_ms;
    while ((r = poll(PL_FDS(st), (nfds_t)st->t.count, left)) < 0 && errno == EINTR)
        left = sp__deadline_left(deadline); /* a signal: wait for what is left */
    if (r < 0)
        return sp__fail_last();
    for (k = 0; k < st->t.count && n < max && r > 0; k++) {
        const sp__reg *reg;
        short e;
        int out;
        i = (start + k) % st->t.count;
        e = PL_FDS(st)[i].revents;
        if (e == 0)
            continue;
        r--;
        reg = st->t.regs[i];
        st->next = i + 1;
        /* POLLNVAL: closed while registered; reported as an error until removed. What
         * POLLHUP means differs (XNU: one direction's EOF): readiness.h decides. */
        out = sp__poll_events_native(reg->sock, e, reg->events);
        ev[n].sock = reg->sock;
        ev[n].events = out;
        ev[n].data = reg->data;
        n++;
    }
    return n;
}

const sp__poller_ops sp__poller_poll_ops = {SP_POLLER_POLL, pl_init,   sp__polltab_fini, pl_add,
                                            pl_modify,      pl_remove, pl_wait};
