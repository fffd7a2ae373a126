/* poll_kqueue.c - the kqueue poller backend (macOS, BSD): level-triggered, O(ready). */
#include "poller.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>
#include <fcntl.h>

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
 */
static int kq_apply(sp_poller *p, sp__reg *r)
{
    struct kevent ch[2];
    EV_SET(&ch[0], r->sock, EVFILT_READ,
           EV_ADD | ((r->events & SP_EV_READ) ? EV_ENABLE : EV_DISABLE), 0, 0, r);
    EV_SET(&ch[1], r->sock, EVFILT_WRITE,
           EV_ADD | ((r->events & SP_EV_WRITE) ? EV_ENABLE : EV_DISABLE), 0, 0, r);
    if (kevent(((kq_state *)p->impl)->kq, ch, 2, NULL, 0, NULL) != 0)
        return sp__fail_last();
    return 0;
}

static void kq_remove(sp_poller *p, sp__reg *r)
{
    /* A closed descriptor has left the kqueue by itself: errors here are expected. */
    struct kevent ch[2];
    EV_SET(&ch[0], r->sock, EVFILT_READ, EV_DELETE, 0, 0, NULL);
    EV_SET(&ch[1], r->sock, EVFILT_WRITE, EV_DELETE, 0, 0, NULL);
    (void)kevent(((kq_state *)p->impl)->kq, ch, 2, NULL, 0, NULL);
}

static int kq_wait(sp_poller *p, sp_event *ev, int max, int timeout_ms)
{
    kq_state *st = (kq_state *)p->impl;
    sp__deadline deadline = sp__deadline_in(timeout_ms);
    struct timespec ts, *tp;
    int n, i, out = 0;
    if (max > KQ_BATCH)
        max = KQ_BATCH;
    do {
        int left = sp__deadline_left(deadline);
        tp = NULL;
        if (timeout_ms >= 0) {
            ts.tv_sec = left / 1000;
            ts.tv_nsec = (long)(left % 1000) * 1000000L;
            tp = &ts;
        }
        n = kevent(st->kq, NULL, 0, st->buf, max, tp);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return sp__fail_last();
    /* One socket may come back twice (read and write filters): merge them. */
    for (i = 0; i < n; i++) {
        const struct kevent *k = &st->buf[i];
        const sp__reg *r = (const sp__reg *)k->udata;
        int e, j, err = (k->flags & EV_ERROR) || ((k->flags & EV_EOF) && k->fflags != 0);
        int hup = (k->flags & EV_EOF) && k->filter == EVFILT_WRITE;
        e = k->filter == EVFILT_READ ? SP_EV_READ : SP_EV_WRITE;
        e = (e & r->events) | sp__error_events(r->events, err, hup);
        for (j = 0; j < out && ev[j].sock != r->sock; j++)
            ;
        if (j == out) {
            ev[out].sock = r->sock;
            ev[out].data = r->data;
            ev[out].events = 0;
            out++;
        }
        ev[j].events |= e;
    }
    return out;
}

const sp__poller_ops sp__poller_kqueue_ops = {SP_POLLER_KQUEUE, kq_init,   kq_fini, kq_apply,
                                              kq_apply,         kq_remove, kq_wait};
