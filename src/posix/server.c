/* server.c (POSIX) - the fork model: a child process per connection. */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int sp__server_default_model(void)
{
    return SP_MODEL_EVENTS;
}

int sp__server_has_fork(void)
{
    return 1;
}

/* Reap the children that have ended (never waitpid(-1): the application's own children
 * are not ours to reap). Returns how many are left. */
static int reap(pid_t *pids, int n, int block)
{
    int i = 0;
    while (i < n) {
        pid_t r;
        do
            r = waitpid(pids[i], NULL, block ? 0 : WNOHANG);
        while (r < 0 && errno == EINTR);
        if (r == pids[i] || (r < 0 && errno == ECHILD))
            pids[i] = pids[--n];
        else
            i++;
    }
    return n;
}

/* In the child: serve the one connection and leave without running the parent's atexit
 * handlers or flushing its stdio buffers twice. */
static void child(sp_server *srv, sp_socket_t s, const sp_addr *peer)
{
    sp_conn *c;
    int i;
    for (i = 0; i < srv->nlisteners; i++)
        sp_close(srv->listeners[i]);
    srv->in_child = 1;
    c = sp__conn_new(srv, s, peer);
    if (c != NULL) {
        sp__conn_serve_blocking(c);
        sp__conn_free(c);
    }
    _exit(0);
}

int sp__server_run_fork(sp_server *srv)
{
    pid_t *pids = (pid_t *)malloc((size_t)srv->cfg.max_connections * sizeof *pids);
    uint64_t deadline;
    int n = 0;
    if (pids == NULL)
        return SP_ENOMEM;
    for (;;) {
        sp_socket_t s;
        sp_addr peer = {{{0}}, 0}; /* filled by accept; zero for the analyzers */
        pid_t pid;
        int rc;
        n = reap(pids, n, 0);
        sp__atomic_store(&srv->nconns, n);
        if (n >= srv->cfg.max_connections && srv->cfg.overflow == SP_OVERFLOW_WAIT) {
            /* leave new clients in the backlog until a child ends */
            if (sp_wait(sp_waker_socket(srv->waker), SP_EV_READ, 50) > 0)
                (void)sp_waker_drain(srv->waker);
            if (sp__atomic_load(&srv->stopping))
                break;
            continue;
        }
        /* a bounded wait, so that ended children are reaped promptly */
        rc = sp__server_accept(srv, 100, &s, &peer);
        if (rc == 1)
            break;
        if (rc == SP_EAGAIN)
            continue;
        if (rc < 0) {
            free(pids);
            return rc;
        }
        if (n >= srv->cfg.max_connections) {
            sp_close(s); /* SP_OVERFLOW_REFUSE */
            continue;
        }
        pid = fork();
        if (pid == 0)
            child(srv, s, &peer);
        sp_close(s); /* the child has it */
        if (pid > 0)
            pids[n++] = pid;
    }
    /* Stopping: the stop waker stays readable so that the children see it (they close at the
     * next message boundary), they get the grace period to finish, then are asked to end
     * (SIGTERM), then made to (SIGKILL); every one is reaped. */
    (void)sp_waker_wake(srv->stop_waker); /* already, unless the run ended on an error */
    deadline = sp__now_ms() + (uint64_t)srv->cfg.grace_ms;
    while ((n = reap(pids, n, 0)) > 0 && sp__now_ms() < deadline)
        sp__sleep_ms(10);
    if (n > 0) {
        int i;
        for (i = 0; i < n; i++)
            kill(pids[i], SIGTERM);
        deadline = sp__now_ms() + 1000;
        while ((n = reap(pids, n, 0)) > 0 && sp__now_ms() < deadline)
            sp__sleep_ms(10);
        for (i = 0; i < n; i++)
            kill(pids[i], SIGKILL);
        (void)reap(pids, n, 1);
    }
    sp__atomic_store(&srv->nconns, 0);
    free(pids);
    return 0;
}
