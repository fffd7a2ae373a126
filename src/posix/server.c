/*
 * server.c (POSIX) - the fork model: a process per connection, as the blocking models'
 * spawn hook (src/common/server_blocking.c runs the accept loop).
 *
 * Each child holds the write end of a pipe of its own, which nothing else holds; the
 * parent watches the read end with the accept loop's poller. The read end reports the
 * end of the pipe when the child's last descriptor closes, which is at its exit however
 * it ends (a return, a crash, a kill): the parent then reaps that one child. No SIGCHLD
 * handler (the process's signals are the application's), no waitpid(-1) (its other
 * children are not ours), no pass over every child per accept, no timer.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define EV_BATCH 64

typedef struct child {
    pid_t pid;
    int fd;         /* the read end of its exit pipe; -1 once that has ended (exiting) */
    uint64_t ended; /* exiting: when its pipe ended */
} child;

typedef struct fork_state {
    child *kids;
    int n, cap;
    int exiting; /* kids whose pipe ended but that waitpid did not report yet */
} fork_state;

int sp__server_default_model(void)
{
    return SP_MODEL_EVENTS;
}

static fork_state *state(sp_server *srv)
{
    fork_state *st = (fork_state *)srv->spawn_state;
    if (st == NULL)
        srv->spawn_state = st = (fork_state *)calloc(1, sizeof *st);
    return st;
}

static void forget(sp_server *srv, fork_state *st, int i)
{
    if (st->kids[i].fd >= 0) {
        (void)sp_poller_remove(srv->poller, st->kids[i].fd);
        close(st->kids[i].fd);
    } else {
        st->exiting--;
    }
    st->kids[i] = st->kids[--st->n];
    sp__atomic_store(&srv->nconns, st->n);
}

/* Reap kid i if it has ended (block: wait for it). 1 when reaped (i now holds another). */
static int try_reap(sp_server *srv, fork_state *st, int i, int block)
{
    pid_t r;
    do
        r = waitpid(st->kids[i].pid, NULL, block ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == st->kids[i].pid || (r < 0 && errno == ECHILD)) {
        forget(srv, st, i);
        return 1;
    }
    return 0;
}

/* A child's exit pipe ended: reap it (it is exiting; waitpid may not report it yet,
 * then the next wakeups try again, with no descriptor left to wake them in a loop). */
static void pipe_ended(sp_server *srv, fork_state *st, sp_socket_t fd)
{
    int i;
    for (i = 0; i < st->n; i++) {
        if (st->kids[i].fd != fd)
            continue;
        if (!try_reap(srv, st, i, 0)) {
            (void)sp_poller_remove(srv->poller, fd);
            close(fd);
            st->kids[i].fd = -1;
            st->kids[i].ended = sp__now_ms();
            st->exiting++;
        }
        return;
    }
}

static void reap_exiting(sp_server *srv, fork_state *st)
{
    int i = 0;
    while (st->exiting > 0 && i < st->n)
        if (st->kids[i].fd >= 0 || !try_reap(srv, st, i, 0))
            i++;
}

/* A child whose pipe ended is past closing its descriptors, in its exit: waitpid reports
 * it within microseconds. Until then the loop looks again every millisecond; after 50 ms
 * (a child that closed its pipe itself and lives on) every 100 ms. */
static int fork_timeout(sp_server *srv)
{
    fork_state *st = (fork_state *)srv->spawn_state;
    uint64_t now = sp__now_ms();
    int i, t = -1;
    for (i = 0; st != NULL && st->exiting > 0 && i < st->n; i++)
        if (st->kids[i].fd < 0) {
            int k = now - st->kids[i].ended < 50 ? 1 : 100;
            t = t < 0 || k < t ? k : t;
        }
    return t;
}

static void fork_reap(sp_server *srv, const sp_event *ev)
{
    fork_state *st = (fork_state *)srv->spawn_state;
    if (st == NULL)
        return;
    if (ev != NULL)
        pipe_ended(srv, st, ev->sock);
    else
        reap_exiting(srv, st);
}

/* In the child: serve the one connection and leave without running the parent's atexit
 * handlers or flushing its stdio buffers twice. */
static void child_main(sp_server *srv, fork_state *st, sp_socket_t s, const sp_addr *peer)
{
    sp_conn *c;
    int i;
    for (i = 0; i < srv->nlisteners; i++)
        sp_close(srv->listeners[i]);
    for (i = 0; i < st->n; i++) /* the other children's exit pipes */
        if (st->kids[i].fd >= 0)
            close(st->kids[i].fd);
    sp_poller_destroy(srv->poller); /* the parent's registrations are not touched */
    srv->poller = NULL;
    sp__atomic_store(&srv->nconns, 0);
    c = sp__conn_new(srv, s, peer);
    if (c != NULL) {
        sp__conn_serve_blocking(c);
        sp__conn_free(c);
    }
    _exit(0);
}

static int fork_spawn(sp_server *srv, sp_socket_t s, const sp_addr *peer)
{
    fork_state *st = state(srv);
    int p[2], rc = 0;
    pid_t pid;
    if (st != NULL && st->n == st->cap) {
        int cap = st->cap ? st->cap * 2 : 64;
        child *k = (child *)realloc(st->kids, (size_t)cap * sizeof *k);
        if (k != NULL) {
            st->kids = k;
            st->cap = cap;
        }
    }
    if (st == NULL || st->n == st->cap) {
        sp_close(s);
        return SP_ENOMEM;
    }
    if (pipe(p) != 0) {
        rc = errno == ENFILE ? SP_ENFILE : errno == EMFILE ? SP_EMFILE : SP_EUNKNOWN;
        sp_close(s);
        return rc;
    }
    /* not inherited by a program another thread of the application execs meanwhile */
    (void)fcntl(p[0], F_SETFD, FD_CLOEXEC);
    (void)fcntl(p[1], F_SETFD, FD_CLOEXEC);
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        child_main(srv, st, s, peer); /* keeps p[1] until it exits */
    }
    sp_close(s); /* the child has it */
    close(p[1]);
    if (pid < 0 || (rc = sp_poller_add(srv->poller, p[0], SP_EV_READ, st)) != 0) {
        close(p[0]);
        if (pid < 0)
            return SP_ENOMEM;
        (void)waitpid(pid, NULL, 0); /* unwatchable: it cannot be left unreaped (rare) */
        return rc;
    }
    st->kids[st->n].pid = pid;
    st->kids[st->n].fd = p[0];
    st->n++;
    sp__atomic_store(&srv->nconns, st->n);
    return 0;
}

/* Wait for children to end until the deadline or none is left. */
static void wait_children(sp_server *srv, fork_state *st, uint64_t deadline)
{
    sp_event evs[EV_BATCH];
    while (st->n > 0) {
        uint64_t now = sp__now_ms();
        int i, n, t;
        if (now >= deadline)
            return;
        t = fork_timeout(srv);
        if (t < 0 || (uint64_t)t > deadline - now)
            t = (int)(deadline - now);
        n = sp_poller_wait(srv->poller, evs, EV_BATCH, t);
        for (i = 0; i < n; i++) {
            if (evs[i].data == (void *)st)
                pipe_ended(srv, st, evs[i].sock);
            else if (evs[i].data == (void *)&srv->waker)
                (void)sp_waker_drain(srv->waker);
        }
        reap_exiting(srv, st);
        if (n < 0)
            sp__sleep_ms(10);
    }
}

/* Stopping: the stop waker is readable, so that the children see it (they close at the
 * next message boundary); they get the grace period to finish, then are asked to end
 * (SIGTERM), then made to (SIGKILL); every one is reaped. */
static void fork_finish(sp_server *srv)
{
    fork_state *st = (fork_state *)srv->spawn_state;
    int i;
    if (st == NULL)
        return;
    sp__accept_watch(srv, 0);
    /* a child cuts its own blocked send at the grace period counted from when it saw
     * the stop, a little after this: a margin before the signals */
    wait_children(srv, st, sp__now_ms() + (uint64_t)srv->cfg.grace_ms + SP__STOP_MARGIN_MS);
    if (st->n > 0) {
        for (i = 0; i < st->n; i++)
            kill(st->kids[i].pid, SIGTERM);
        wait_children(srv, st, sp__now_ms() + 1000);
    }
    for (i = 0; i < st->n; i++)
        kill(st->kids[i].pid, SIGKILL);
    while (st->n > 0)
        (void)try_reap(srv, st, 0, 1);
    free(st->kids);
    free(st);
    srv->spawn_state = NULL;
    sp__atomic_store(&srv->nconns, 0);
}

static const sp__spawner fork_spawner = {fork_spawn, fork_reap, fork_finish, fork_timeout};

static const sp__model fork_model = {
    SP_MODEL_FORK,           sizeof(sp__conn_blocking), 1,
    sp__blocking_run,        sp__blocking_output,       sp__blocking_queued,
    sp__blocking_want_drain, sp__blocking_close,        NULL,
    &fork_spawner,
};

const sp__model *sp__server_fork_model(void)
{
    return &fork_model;
}

/* Linux inet_shutdown -> sk_state_change; XNU / FreeBSD soshutdown -> sorflush -> socantrcvmore ->
 * sorwakeup: a recv blocked in another thread returns 0. */
int sp__server_recv_wakes(void)
{
    return 1;
}
