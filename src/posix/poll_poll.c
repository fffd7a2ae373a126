/* poll_poll.c - the poll() poller backend (any POSIX system): O(n) waits. */
#include "poller.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

typedef struct pl_state {
    struct pollfd *fds;
    sp__reg **regs; /* regs[i] owns fds[i]; regs[i]->index == i */
    size_t count, cap;
    size_t next; /* where the next wait starts reporting: every ready socket gets a turn */
} pl_state;

static int pl_init(sp_poller *p)
{
    pl_state *st = (pl_state *)calloc(1, sizeof *st);
    if (st == NULL)
        return SP_ENOMEM;
    p->impl = st;
    return 0;
}

static void pl_fini(sp_poller *p)
{
    pl_state *st = (pl_state *)p->impl;
    free(st->fds);
    free(st->regs);
    free(st);
}

static short pl_interest(const sp__reg *r)
{
    return (short)(((r->events & SP_EV_READ) ? POLLIN : 0) |
                   ((r->events & SP_EV_WRITE) ? POLLOUT : 0));
}

static int pl_add(sp_poller *p, sp__reg *r)
{
    pl_state *st = (pl_state *)p->impl;
    if (st->count == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        struct pollfd *fds = (struct pollfd *)realloc(st->fds, cap * sizeof *fds);
        sp__reg **regs;
        if (fds == NULL)
            return SP_ENOMEM;
        st->fds = fds;
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sized right */
        regs = (sp__reg **)realloc(st->regs, cap * sizeof *regs);
        if (regs == NULL)
            return SP_ENOMEM;
        st->regs = regs;
        st->cap = cap;
    }
    r->index = st->count++;
    st->regs[r->index] = r;
    st->fds[r->index].fd = r->sock;
    st->fds[r->index].events = pl_interest(r);
    st->fds[r->index].revents = 0;
    return 0;
}

static int pl_modify(sp_poller *p, sp__reg *r)
{
    ((pl_state *)p->impl)->fds[r->index].events = pl_interest(r);
    return 0;
}

static void pl_remove(sp_poller *p, sp__reg *r)
{
    pl_state *st = (pl_state *)p->impl;
    size_t last = --st->count;
    if (r->index != last) { /* move the last entry into the hole */
        st->fds[r->index] = st->fds[last];
        st->regs[r->index] = st->regs[last];
        st->regs[r->index]->index = r->index;
    }
}

static int pl_wait(sp_poller *p, sp_event *ev, int max, int timeout_ms)
{
    pl_state *st = (pl_state *)p->impl;
    sp__deadline deadline = sp__deadline_in(timeout_ms);
    size_t i, k, start = st->next;
    int r, n = 0;
    do
        r = poll(st->fds, (nfds_t)st->count, timeout_ms < 0 ? -1 : sp__deadline_left(deadline));
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return sp__fail_last();
    for (k = 0; k < st->count && n < max && r > 0; k++) {
        const sp__reg *reg;
        short e;
        int out;
        i = (start + k) % st->count;
        e = st->fds[i].revents;
        if (e == 0)
            continue;
        r--;
        reg = st->regs[i];
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

const sp__poller_ops sp__poller_poll_ops = {SP_POLLER_POLL, pl_init,   pl_fini, pl_add,
                                            pl_modify,      pl_remove, pl_wait};
