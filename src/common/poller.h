/*
 * poller.h - what the shared poll code (src/common/poll.c) and the poller backends share.
 *
 * A poller is the shared part (the registry of sockets, the dispatch) plus one backend:
 * a table of the same few functions, each backend in a small file of its own
 * (src/posix/poll_epoll.c, poll_kqueue.c, poll_poll.c, src/win32/poll_wsapoll.c, and the
 * select reference backend in src/common/poll.c).
 */
#ifndef SOCKPORT_POLLER_H
#define SOCKPORT_POLLER_H

#include "internal.h"
#include "readiness.h"

#include "sockport/poll.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One member of an sp_sockset, with what the last sp_select found. */
struct sp__sockslot {
    sp_socket_t sock;
    int ready; /* 1 when ready in this set */
    int error; /* SP_EBADF for a dead socket, a pending error, or 0 */
    void *reg; /* the select poller backend's registration; NULL in user sets */
};

/* sp__select flag: read each pending error with SO_ERROR (which clears it on POSIX) into
 * the slot. Without it a pending error is flagged as SP_EUNKNOWN and left for the caller
 * (sp_connect_finish) to read. */
#define SP__SELECT_TAKE_ERRORS 1u

/*
 * Backend: the portable select over slots (ready/error already cleared). Each set may be
 * NULL or empty; all empty sleeps for the timeout. A socket ready in `ex` has an error or
 * out-of-band data; a socket with an error is ready, with the error, in every set that
 * holds it. A dead socket (closed, not a socket) is ready with SP_EBADF in every set that
 * holds it, and the others are still answered (the call then returns without waiting).
 * Returns the number of ready slots, 0 on timeout, or an error; EINTR is retried with the
 * time left.
 */
int sp__select(sp_sockset *rd, sp_sockset *wr, sp_sockset *ex, int timeout_ms, unsigned flags);

/* A registered socket. The backends may keep a pointer to it: it does not move while
 * registered (each one is allocated on its own, or is embedded in its owner's struct:
 * see sp__poller_add_reg). */
typedef struct sp__reg {
    sp_socket_t sock;
    int events;   /* SP_EV_READ | SP_EV_WRITE, and SP__REG_OWNED */
    void *data;   /* the user's pointer */
    size_t index; /* free for the backend (e.g. its slot in an array) */
} sp__reg;

typedef struct sp__poller_ops {
    int backend; /* SP_POLLER_* */
    /* Set up / tear down the backend's state in p->impl. */
    int (*init)(sp_poller *p);
    void (*fini)(sp_poller *p);
    /* Start watching r / change r's interest (r->events, r->data already updated) / stop
     * watching r (r->sock may have been closed already: must not fail because of it). */
    int (*add)(sp_poller *p, sp__reg *r);
    int (*modify)(sp_poller *p, sp__reg *r);
    void (*remove)(sp_poller *p, sp__reg *r);
    /* Wait: fill at most max events; 0 on timeout; EINTR retried with the time left. A
     * socket whose connect failed is reported SP_EV_WRITE | SP_EV_ERROR when it has
     * SP_EV_WRITE interest. */
    int (*wait)(sp_poller *p, sp_event *ev, int max, int timeout_ms);
} sp__poller_ops;

/* An open-addressing map from socket to registration (the shared registry). */
typedef struct sp__regmap {
    sp__reg **slots;
    size_t cap, count; /* cap is 0 or a power of two */
} sp__regmap;

struct sp_poller {
    const sp__poller_ops *ops;
    sp__regmap regs;
    void *impl; /* the backend's state */
};

/* The backends: select is shared (works everywhere; the reference semantics), the others
 * are defined only where the system has them. */
extern const sp__poller_ops sp__poller_select_ops;
extern const sp__poller_ops sp__poller_epoll_ops;
extern const sp__poller_ops sp__poller_kqueue_ops;
extern const sp__poller_ops sp__poller_poll_ops;
extern const sp__poller_ops sp__poller_wsapoll_ops;

/*
 * Backend: the ops for `backend` (SP_POLLER_AUTO resolved by the caller already), or NULL
 * with *err set (SP_ENOTSUP when this system lacks or cannot trust it).
 */
const sp__poller_ops *sp__poller_ops_for(int backend, int *err);

/* Backend: the best backend for this system (what SP_POLLER_AUTO means here). */
int sp__poller_default(void);

/*
 * Backend: the value of the environment variable SOCKPORT_POLLER into buf (NUL-ended).
 * Returns 1 when it is set and fits, 0 when it is unset or empty, SP_EINVAL when it is
 * longer than size - 1. (The backends read the environment: getenv is deprecated by the
 * MSVC runtime, C4996; Windows reads it with GetEnvironmentVariableA.)
 */
int sp__poller_env(char *buf, size_t size);

/*
 * POSIX backend (src/posix/poll.c): poll()'s native revents for socket s asked for
 * `asked` (SP_EV_READ | SP_EV_WRITE), as SP_EV_* with this system's meaning of POLLHUP,
 * peeking at s when a hang-up needs it (sp__poll_revents_to_events). sp_wait and the poll
 * poller share it.
 */
int sp__poll_events_native(sp_socket_t s, int revents, int asked);

/* A backend's state, zeroed, of `size` bytes, as p->impl (src/common/poll.c). 0 or
 * SP_ENOMEM. Every backend's init starts with it; its fini frees p->impl. */
int sp__poller_state_new(sp_poller *p, size_t size);

/*
 * The table of a poll()-style backend (poll on POSIX, WSAPoll on Windows): `fds` holds the
 * system's entries (struct pollfd / WSAPOLLFD, `elem` bytes each) and regs[i] the
 * registration entry i belongs to (regs[i]->index == i). src/common/poll.c.
 */
typedef struct sp__polltab {
    void *fds;
    sp__reg **regs;
    size_t count, cap;
} sp__polltab;

/* Room for one more entry (both arrays grow together); the count never passes max (the
 * system call's count type). 0, or SP_ENOMEM with the table as it was. */
int sp__polltab_reserve(sp__polltab *t, size_t elem, size_t max);

/* Swap entries i and j of the table (their system entries, registrations and indexes). */
void sp__polltab_swap(sp__polltab *t, size_t elem, size_t i, size_t j);

/* Release the table's arrays. */
void sp__polltab_free(sp__polltab *t);

/* A fini for a backend whose state (p->impl) starts with its sp__polltab. */
void sp__polltab_fini(sp_poller *p);

/* Registry helpers (src/common/poll.c), for backends that must find a socket's reg. */
sp__reg *sp__regmap_find(const sp__regmap *m, sp_socket_t s);

/* In sp__reg.events: the registration belongs to the caller of sp__poller_add_reg (the
 * poller never frees it). Above every SP_EV_* bit, so backends that mask events with
 * SP_EV_READ / SP_EV_WRITE never see it. */
#define SP__REG_OWNED 0x10000

/*
 * Registrations whose memory the caller owns (the event-model server embeds one in each
 * connection: no allocation and no lookup per connection). sp__poller_add_reg watches
 * r->sock for r->events with r->data (SP_EEXIST if the socket is registered, SP_ENOMEM,
 * or the backend's error); r must stay put until sp__poller_remove_reg. modify changes
 * the interest (the backend's error leaves the old one); remove stops watching.
 * sp_poller_destroy leaves owned registrations alone.
 */
int sp__poller_add_reg(sp_poller *p, sp__reg *r);
int sp__poller_modify_reg(sp_poller *p, sp__reg *r, int events);
void sp__poller_remove_reg(sp_poller *p, sp__reg *r);

/* Iterate over every registration: *pos starts at 0; returns NULL at the end. No
 * registration may be added or removed during the iteration. */
sp__reg *sp__poller_next_reg(const sp_poller *p, size_t *pos);

/*
 * The SP_EV_* mask a backend reports for a socket with an error or a hang-up, the same
 * on every backend: SP_EV_ERROR / SP_EV_HUP whatever the interest, and ready for every
 * interest it has, since the next call will not block (it returns the error or the end of
 * the stream). So a failed connect is SP_EV_WRITE | SP_EV_ERROR everywhere.
 */
static inline int sp__error_events(int interest, int err, int hup)
{
    int ev = (err ? SP_EV_ERROR : 0) | (hup ? SP_EV_HUP : 0);
    return ev != 0 ? ev | (interest & (SP_EV_READ | SP_EV_WRITE)) : 0;
}

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_POLLER_H */
