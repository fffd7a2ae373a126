/*
 * sys/event.h - a minimal declaration of the kqueue API, written for sockport's platform
 * check (scripts/checks/15-platforms.sh) from the kqueue(2) manual page of macOS and the
 * BSDs: the names, types and signatures a caller uses. No system header was copied; the
 * numeric values are our own (they only need to be distinct here: nothing runs). It lets
 * src/posix/poll_kqueue.c be compiled on Linux, which has no kqueue.
 *
 * With SP_COMPAT_UDATA_INTPTR defined, udata is an intptr_t, as on NetBSD before 10.
 */
#ifndef SP_COMPAT_SYS_EVENT_H
#define SP_COMPAT_SYS_EVENT_H

#include <stdint.h>
#include <time.h>

#ifdef SP_COMPAT_UDATA_INTPTR
typedef intptr_t sp_compat_udata_t;
#else
typedef void *sp_compat_udata_t;
#endif

struct kevent {
    uintptr_t ident;         /* identifier for this event (a descriptor) */
    short filter;            /* filter for event */
    unsigned short flags;    /* action flags for kqueue */
    unsigned int fflags;     /* filter flag value */
    intptr_t data;           /* filter data value */
    sp_compat_udata_t udata; /* opaque user data identifier */
};

#define EV_SET(kevp, a, b, c, d, e, f)                                                             \
    do {                                                                                           \
        struct kevent *sp_compat_kevp = (kevp);                                                    \
        sp_compat_kevp->ident = (uintptr_t)(a);                                                    \
        sp_compat_kevp->filter = (short)(b);                                                       \
        sp_compat_kevp->flags = (unsigned short)(c);                                               \
        sp_compat_kevp->fflags = (unsigned int)(d);                                                \
        sp_compat_kevp->data = (intptr_t)(e);                                                      \
        sp_compat_kevp->udata = (f);                                                               \
    } while (0)

/* filters */
#define EVFILT_READ  (-1)
#define EVFILT_WRITE (-2)

/* actions and flags */
#define EV_ADD     0x0001u
#define EV_DELETE  0x0002u
#define EV_ENABLE  0x0004u
#define EV_DISABLE 0x0008u
#define EV_ONESHOT 0x0010u
#define EV_CLEAR   0x0020u
#define EV_RECEIPT 0x0040u
#define EV_ERROR   0x4000u
#define EV_EOF     0x8000u

int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
           int nevents, const struct timespec *timeout);

#endif /* SP_COMPAT_SYS_EVENT_H */
