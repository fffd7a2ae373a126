/* poll_epoll.c - the epoll poller backend (Linux): level-triggered, O(ready) waits. */
#include "poller.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Events fetched from the kernel per wait when the caller asks for more. */
#define EP_BATCH 256

typedef struct ep_state {
    int epfd;
    struct epoll_event buf[EP_BATCH];
} ep_state;

static int ep_init(sp_poller *p)
{
    ep_state *st = (ep_state *)malloc(sizeof *st);
    if (st == NULL)
        return SP_ENOMEM;
    st->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (st->epfd < 0) {
        int rc = sp__fail_last();
        free(st);
        return rc;
    }
    p->impl = st;
    return 0;
}

static void ep_fini(sp_poller *p)
{
    ep_state *st = (ep_state *)p->impl;
    close(st->epfd);
    free(st);
}

static int ep_ctl(sp_poller *p, int op, sp__reg *r)
{
    struct epoll_event e;
    e.events = ((r->events & SP_EV_READ) ? EPOLLIN | EPOLLRDHUP : 0) |
               ((r->events & SP_EV_WRITE) ? EPOLLOUT : 0);
    e.data.ptr = r;
    if (epoll_ctl(((ep_state *)p->impl)->epfd, op, r->sock, &e) != 0)
        return sp__fail_last();
    return 0;
}

static int ep_add(sp_poller *p, sp__reg *r)
{
    return ep_ctl(p, EPOLL_CTL_ADD, r);
}

static int ep_modify(sp_poller *p, sp__reg *r)
{
    return ep_ctl(p, EPOLL_CTL_MOD, r);
}

static void ep_remove(sp_poller *p, sp__reg *r)
{
    /* A descriptor closed while registered has left the epoll set by itself (EBADF or
     * ENOENT here): nothing more to undo. */
    struct epoll_event unused;
    (void)epoll_ctl(((ep_state *)p->impl)->epfd, EPOLL_CTL_DEL, r->sock, &unused);
}

static int ep_wait(sp_poller *p, sp_event *ev, int max, int timeout_ms)
{
    ep_state *st = (ep_state *)p->impl;
    sp__deadline deadline = sp__deadline_in(timeout_ms);
    int n, i, left = timeout_ms;
    /* The caller's array is not an epoll_event array: fetch into ours, at most max. */
    if (max > EP_BATCH)
        max = EP_BATCH;
    while ((n = epoll_wait(st->epfd, st->buf, max, left)) < 0 && errno == EINTR)
        left = sp__deadline_left(deadline); /* a signal: wait for what is left */
    if (n < 0)
        return sp__fail_last();
    for (i = 0; i < n; i++) {
        const sp__reg *r = (const sp__reg *)st->buf[i].data.ptr;
        uint32_t e = st->buf[i].events;
        /* EPOLLRDHUP alone (peer shut its side) is readable: the read returns 0 */
        int out =
            ((e & (EPOLLIN | EPOLLRDHUP)) ? SP_EV_READ : 0) | ((e & EPOLLOUT) ? SP_EV_WRITE : 0);
        out &= r->events;
        if (e & (EPOLLERR | EPOLLHUP)) /* rare: one test on the common path */
            out |= sp__error_events(r->events, (e & EPOLLERR) != 0, (e & EPOLLHUP) != 0);
        ev[i].sock = r->sock;
        ev[i].events = out;
        ev[i].data = r->data;
    }
    return n;
}

const sp__poller_ops sp__poller_epoll_ops = {SP_POLLER_EPOLL, ep_init,   ep_fini, ep_add,
                                             ep_modify,       ep_remove, ep_wait};
