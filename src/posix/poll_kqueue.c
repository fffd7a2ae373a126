/* poll_kqueue.c - the kqueue poller backend (macOS, BSD): level-triggered, O(ready). */
#include "poller.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/param.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>
#include <fcntl.h>

/* kevent.udata is a void * everywhere but NetBSD before 10, where it is an intptr_t. */
#if defined(__NetBSD_Version__) && __NetBSD_Version__ < 1000000000
#    define KQ_UDATA(p) ((intptr_t)(void *)(p))
#else
#    define KQ_UDATA(p) ((void *)(p))
#endif

#define KQ_BATCH 256

typedef struct kq_state {
    int kq;
    struct kevent buf[KQ_BATCH];
} kq_state;

static int kq_init(sp_poller *p)
{
    kq_state *st = (kq_state *)malloc(sizeof *st);
    if (st == NULL)
        return SP_ENOMEM;
    st->kq = kqueue();
    if (st->kq < 0 || fcntl(st->kq, F_SETFD, FD_CLOEXEC) != 0) {
        int rc = sp__fail_last();
        if (st->kq >= 0)
            close(st->kq);
        free(st);
        return rc;
    }
    p->impl = st;
    return 0;
}

static void kq_fini(sp_poller *p)
{
    kq_state *st = (kq_state *)p->impl;
    close(st->kq);
    free(st);
}

/*
 * kqueue has one filter per direction; each is added once and then enabled or disabled
 * to match r->events (EV_ADD on an existing filter updates it). A disabled filter reports
 * nothing, so on kqueue a socket registered with no interest at all sees no error or
 * hang-up until it asks for a direction; epoll and poll report those regardless.
 *
 * r->index holds what the kernel has: KQ_ADDED once both filters exist, and the enabled
 * directions (SP_EV_READ / SP_EV_WRITE). The changes go in with EV_RECEIPT, so that each
 * one is answered (an EV_ERROR kevent whose data is 0 or the errno) instead of kevent()
 * stopping at the first failure; a failure rolls the others back, so that no knote keeps a
 * pointer to a registration that sp_poller_add then frees, and modify keeps the interest
 * it had.
 */
#define KQ_ADDED 0x100u

static void kq_change(struct kevent *ch, const sp__reg *r, int filter, unsigned short flags)
{
    EV_SET(ch, r->sock, filter, flags, 0, 0, KQ_UDATA(r));
}

/* Submit n changes with receipts: 0, or the first change's error (recorded as the
 * thread's last error unless quiet). */
static int kq_submit(int kq, struct kevent *ch, int n, int quiet)
{
    struct kevent out[2];
    int i, got, err = 0;
    for (i = 0; i < n; i++)
        ch[i].flags |= EV_RECEIPT;
    got = kevent(kq, ch, n, out, n, NULL);
    if (got < 0)
        return quiet ? SP_EUNKNOWN : sp__fail_last();
    for (i = 0; i < got; i++)
        if ((out[i].flags & EV_ERROR) && out[i].data != 0 && err == 0)
            err = quiet ? SP_EUNKNOWN : sp__fail((int)out[i].data);
    return err;
}

static unsigned short kq_state_flags(int on)
{
    return (unsigned short)(EV_ADD | (on ? EV_ENABLE : EV_DISABLE));
}

static int kq_apply(sp_poller *p, sp__reg *r)
{
    int kq = ((kq_state *)p->impl)->kq, rc;
    size_t had = r->index;
    struct kevent ch[2];
    kq_change(&ch[0], r, EVFILT_READ, kq_state_flags(r->events & SP_EV_READ));
    kq_change(&ch[1], r, EVFILT_WRITE, kq_state_flags(r->events & SP_EV_WRITE));
    rc = kq_submit(kq, ch, 2, 0);
    if (rc == 0) {
        r->index = KQ_ADDED | (size_t)(r->events & (SP_EV_READ | SP_EV_WRITE));
        return 0;
    }
    /* Roll back: a new registration leaves nothing behind; a changed one returns to the
     * interest the kernel had (errors of the rollback itself change nothing more). */
    if (!(had & KQ_ADDED)) {
        kq_change(&ch[0], r, EVFILT_READ, EV_DELETE);
        kq_change(&ch[1], r, EVFILT_WRITE, EV_DELETE);
    } else {
        kq_change(&ch[0], r, EVFILT_READ, kq_state_flags((int)(had & SP_EV_READ)));
        kq_change(&ch[1], r, EVFILT_WRITE, kq_state_flags((int)(had & SP_EV_WRITE)));
    }
    (void)kq_submit(kq, ch, 2, 1);
    return rc;
}

static int kq_add(sp_poller *p, sp__reg *r)
{
    r->index = 0;
    return kq_apply(p, r);
}

static void kq_remove(sp_poller *p, sp__reg *r)
{
    /* A closed descriptor has left the kqueue by itself: errors here are expected. */
    struct kevent ch[2];
    kq_change(&ch[0], r, EVFILT_READ, EV_DELETE);
    kq_change(&ch[1], r, EVFILT_WRITE, EV_DELETE);
    (void)kq_submit(((kq_state *)p->impl)->kq, ch, 2, 1);
    r->index = 0;
}

/* While merging, an event's interest rides above the merged bits. */
#define KQ_INTEREST_SHIFT 16
#define KQ_MERGE_MASK     ((1 << KQ_INTEREST_SHIFT) - 1)

static int kq_wait(sp_poller *p, sp_event *ev, int max, int timeout_ms)
{
    kq_state *st = (kq_state *)p->impl;
    sp__deadline deadline = sp__deadline_in(timeout_ms);
    struct timespec ts, *tp;
    int n, i, out = 0, left = timeout_ms;
    if (max > KQ_BATCH)
        max = KQ_BATCH;
    for (;;) {
        tp = NULL;
        if (timeout_ms >= 0) {
            ts.tv_sec = left / 1000;
            ts.tv_nsec = (long)(left % 1000) * 1000000L;
            tp = &ts;
        }
        n = kevent(st->kq, NULL, 0, st->buf, max, tp);
        if (n >= 0 || errno != EINTR)
            break;
        left = sp__deadline_left(deadline); /* a signal: wait for what is left */
    }
    if (n < 0)
        return sp__fail_last();
    /* One socket may come back twice (read and write filters): merge them, then let
     * readiness.h say what the merged answer means. */
    for (i = 0; i < n; i++) {
        const struct kevent *k = &st->buf[i];
        const sp__reg *r = (const sp__reg *)k->udata;
        unsigned flags =
            ((k->flags & EV_EOF) ? SP__KQ_EOF : 0u) | ((k->flags & EV_ERROR) ? SP__KQ_ERROR : 0u);
        int e, j;
        e = sp__kevent_to_events(k->filter == EVFILT_READ ? SP__KQ_READ : SP__KQ_WRITE, flags,
                                 (long long)k->fflags, r->events);
        for (j = 0; j < out && ev[j].sock != r->sock; j++)
            ;
        if (j == out) {
            ev[out].sock = r->sock;
            ev[out].data = r->data;
            ev[out].events = (r->events & (SP_EV_READ | SP_EV_WRITE)) << KQ_INTEREST_SHIFT;
            out++;
        }
        ev[j].events |= e;
    }
    for (i = 0; i < out; i++)
        ev[i].events =
            sp__kevent_finish(ev[i].events & KQ_MERGE_MASK, ev[i].events >> KQ_INTEREST_SHIFT);
    return out;
}

const sp__poller_ops sp__poller_kqueue_ops = {SP_POLLER_KQUEUE, kq_init,   kq_fini, kq_add,
                                              kq_apply,         kq_remove, kq_wait};
