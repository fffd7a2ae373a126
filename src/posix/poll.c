/*
 * poll.c (POSIX) - sp_select over poll() (no FD_SETSIZE limit, no nfds), the waker
 * (eventfd on Linux, a pipe elsewhere), and the choice of poller backend.
 */
#include "poller.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef SP_HAVE_EVENTFD
#    include <sys/eventfd.h>
#endif

/* ---- what poll() answers ----------------------------------------------------------- */

/* What POLLHUP means here: see readiness.h. XNU builds poll() on kqueue. */
#ifdef __APPLE__
#    define SP__POLL_HUP SP__HUP_EOF
#else
#    define SP__POLL_HUP SP__HUP_BOTH
#endif

/* A native revents as SP__R_* bits. */
static int revents_portable(int re)
{
    int r = ((re & (POLLIN | POLLRDNORM)) ? SP__R_IN : 0) |
            ((re & (POLLPRI | POLLRDBAND)) ? SP__R_PRI : 0) |
            ((re & (POLLOUT | POLLWRNORM)) ? SP__R_OUT : 0) | ((re & POLLERR) ? SP__R_ERR : 0) |
            ((re & POLLHUP) ? SP__R_HUP : 0) | ((re & POLLNVAL) ? SP__R_NVAL : 0);
#ifdef POLLRDHUP
    if (re & POLLRDHUP)
        r |= SP__R_RDHUP;
#endif
    return r;
}

/* What a recv(MSG_PEEK) finds (readiness.h, enum sp__peek); errno is kept. */
static int peek(int fd)
{
    char c;
    ssize_t n;
    int saved = errno, e, rc;
    do
        n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    e = errno;
    errno = saved;
    if (n > 0)
        return SP__PEEK_DATA;
    if (n == 0 || e == ENOTCONN)
        return SP__PEEK_EOF;
    rc = e == EAGAIN || e == EWOULDBLOCK ? SP__PEEK_EMPTY : SP__PEEK_ERROR;
    return rc;
}

int sp__poll_events_native(sp_socket_t s, int revents, int asked)
{
    int r = revents_portable(revents);
    return sp__poll_revents_to_events(r, asked, SP__POLL_HUP,
                                      sp__poll_wants_peek(r) ? peek(s) : SP__PEEK_NONE);
}

/* ---- sp__select ---------------------------------------------------------------------- */

#define SET_COUNT(set) ((set) ? (set)->count : 0)

/* What poll() is asked for the sockets of each set: read, write, exceptional (out-of-band
 * data; errors and hang-ups are always reported). */
static const short set_events[3] = {POLLIN, POLLOUT, POLLPRI};

/*
 * The error of a socket poll() flagged, found once per socket and shared by every slot
 * of that socket. SO_ERROR (which reading clears) is taken only for a socket watched for
 * writing or exceptions: that is where a failed connect is reported, as in Windows'
 * except set. A socket watched only for reading keeps its error for the recv that
 * follows (a reset), and is reported ready with no error here, as on Windows. Without
 * SP__SELECT_TAKE_ERRORS SO_ERROR is not read (it would be cleared for the caller): a
 * POLLERR, or a hang-up whose peek finds an error, is SP_EUNKNOWN, anything else 0.
 */
static int entry_error(int *err, const struct pollfd *p, unsigned flags)
{
    if (*err == 1) {
        if (!(flags & SP__SELECT_TAKE_ERRORS)) /* a hang-up: peek, which keeps the error */
            *err = (p->revents & POLLERR) || peek(p->fd) == SP__PEEK_ERROR ? SP_EUNKNOWN : 0;
        else if (!(p->events & (POLLOUT | POLLPRI)))
            *err = 0;
        else if ((*err = sp_socket_error(p->fd)) == 0 && (p->revents & POLLERR))
            *err = SP_EUNKNOWN; /* POLLERR, and another reader took the error meanwhile */
    }
    return *err;
}

/* One slot's answer: sp__poll_slot decides, the pending error is read here. */
static void answer_slot(struct sp__sockslot *slot, const struct pollfd *p, int set, int *err,
                        unsigned flags)
{
    unsigned a = sp__poll_slot(revents_portable(p->revents), set, SP__POLL_HUP);
    if (p->fd < 0) /* poll() skips a negative descriptor silently: it is no socket */
        a = SP__SLOT_BADF;
    if (a & SP__SLOT_BADF) {
        slot->ready = 1;
        slot->error = SP_EBADF;
        return;
    }
    if (a & (SP__SLOT_ERROR | SP__SLOT_IF_ERROR))
        slot->error = entry_error(err, p, flags);
    slot->ready = (a & SP__SLOT_READY) != 0 || slot->error != 0;
}

/*
 * One pollfd per distinct socket (a socket may be in several sets, and poll() refuses
 * more entries than the descriptor limit), found through a small open-addressing table.
 * One block: fds[0..nfds), slot_fd[k] (the pollfd of the k-th slot), the table, and
 * err[e] (the error of pollfd e, 1 until read).
 */
typedef struct sel_scratch {
    struct pollfd *fds;
    size_t *slot_fd;
    long *table;
    int *err;
    size_t cap, nfds;
} sel_scratch;

static int scratch_init(sel_scratch *x, size_t total)
{
    size_t bytes;
    x->cap = 16;
    while (x->cap < 2 * total)
        x->cap *= 2;
    bytes =
        total * (sizeof *x->fds + sizeof *x->slot_fd + sizeof *x->err) + x->cap * sizeof *x->table;
    x->fds = (struct pollfd *)malloc(bytes ? bytes : 1);
    if (x->fds == NULL)
        return SP_ENOMEM;
    x->slot_fd = (size_t *)(void *)(x->fds + total);
    x->table = (long *)(void *)(x->slot_fd + total);
    x->err = (int *)(void *)(x->table + x->cap);
    memset(x->table, 0xff, x->cap * sizeof *x->table); /* -1: empty */
    x->nfds = 0;
    return 0;
}

/* The pollfd for sock, made on first sight; its events gain `events`. */
static size_t scratch_entry(sel_scratch *x, int sock, short events)
{
    size_t h = ((size_t)(unsigned)sock * 2654435761u) & (x->cap - 1);
    while (x->table[h] >= 0 && x->fds[x->table[h]].fd != sock)
        h = (h + 1) & (x->cap - 1);
    if (x->table[h] < 0) {
        x->table[h] = (long)x->nfds;
        x->fds[x->nfds].fd = sock;
        x->fds[x->nfds].events = 0;
        x->fds[x->nfds].revents = 0;
        x->err[x->nfds] = 1;
        x->nfds++;
    }
    x->fds[x->table[h]].events |= events;
    return (size_t)x->table[h];
}

int sp__select(sp_sockset *rd, sp_sockset *wr, sp_sockset *ex, int timeout_ms, unsigned flags)
{
    sp_sockset *sets[3];
    sel_scratch x;
    size_t total = SET_COUNT(rd) + SET_COUNT(wr) + SET_COUNT(ex), k = 0, i;
    sp__deadline deadline = sp__deadline_in(timeout_ms);
    int s, r, ready = 0, negative = 0;

    sets[0] = rd;
    sets[1] = wr;
    sets[2] = ex;
    if (scratch_init(&x, total) != 0)
        return SP_ENOMEM;
    for (s = 0; s < 3; s++)
        for (i = 0; i < SET_COUNT(sets[s]); i++, k++) {
            x.slot_fd[k] = scratch_entry(&x, sets[s]->slots[i].sock, set_events[s]);
            negative |= sets[s]->slots[i].sock < 0; /* answered at once as SP_EBADF */
        }
    /* poll() with no descriptors sleeps for the timeout, as sp_select promises */
    do
        r = poll(x.fds, (nfds_t)x.nfds,
                 negative         ? 0
                 : timeout_ms < 0 ? -1
                                  : sp__deadline_left(deadline));
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        r = sp__fail_last();
        goto out;
    }
    for (s = 0, k = 0; s < 3; s++) {
        for (i = 0; i < SET_COUNT(sets[s]); i++, k++) {
            struct sp__sockslot *slot = &sets[s]->slots[i];
            size_t e = x.slot_fd[k];
            answer_slot(slot, &x.fds[e], s, &x.err[e], flags);
            ready += slot->ready;
        }
    }
    r = ready;
out:
    free(x.fds);
    return r;
}

/* ---- poller backends ----------------------------------------------------------------- */

int sp__poller_default(void)
{
#if defined(SP_HAVE_EPOLL)
    return SP_POLLER_EPOLL;
#elif defined(SP_HAVE_KQUEUE)
    return SP_POLLER_KQUEUE;
#else
    return SP_POLLER_POLL;
#endif
}

const sp__poller_ops *sp__poller_ops_for(int backend, int *err)
{
    switch (backend) {
#ifdef SP_HAVE_EPOLL
    case SP_POLLER_EPOLL:
        return &sp__poller_epoll_ops;
#endif
#ifdef SP_HAVE_KQUEUE
    case SP_POLLER_KQUEUE:
        return &sp__poller_kqueue_ops;
#endif
    case SP_POLLER_POLL:
        return &sp__poller_poll_ops;
    default:
        *err = SP_ENOTSUP;
        return NULL;
    }
}

int sp__poller_env(char *buf, size_t size)
{
    const char *env = getenv("SOCKPORT_POLLER");
    size_t len;
    if (env == NULL || *env == '\0')
        return 0;
    len = strlen(env);
    if (len >= size)
        return SP_EINVAL;
    memcpy(buf, env, len + 1);
    return 1;
}

/* ---- the waker ----------------------------------------------------------------------- */

/* The two ends of a waker: one eventfd (watch == poke), or a pipe. */

#ifndef SP_HAVE_EVENTFD
static int set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
        return sp__fail_last();
    return 0;
}
#endif

int sp__waker_open(sp_waker *w)
{
#ifdef SP_HAVE_EVENTFD
    w->watch = w->poke = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return w->watch < 0 ? sp__fail_last() : 0;
#else
    int fds[2], rc;
    if (pipe(fds) != 0)
        return sp__fail_last();
    w->watch = fds[0];
    w->poke = fds[1];
    rc = set_flags(fds[0]);
    if (rc == 0)
        rc = set_flags(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        close(fds[1]);
    }
    return rc;
#endif
}

void sp__waker_close(sp_waker *w)
{
    close(w->watch);
    if (w->poke != w->watch)
        close(w->poke);
}

int sp__waker_wake(sp_waker *w)
{
    /* Async-signal-safe: one write(), errno preserved; a full pipe or counter means a
     * wake is already pending, which is what coalescing asks for. */
    uint64_t one = 1;
    int saved = errno, rc = 0;
    ssize_t n;
    do
        n = write(w->poke, &one, w->poke == w->watch ? sizeof one : 1);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        rc = sp_err_from_native(errno); /* no sp__fail: it is not async-signal-safe TLS */
    errno = saved;
    return rc;
}

int sp__waker_drain(sp_waker *w)
{
    char buf[64];
    ssize_t n;
    for (;;) {
        n = read(w->watch, buf, w->poke == w->watch ? 8 : sizeof buf);
        if (n > 0 && w->poke != w->watch)
            continue; /* a pipe: read until empty */
        if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno != EINTR)
            return sp__fail_last();
    }
}
