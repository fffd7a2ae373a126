/*
 * resolve.c - a name resolution on a worker thread, shared by reference count between
 * the caller and the worker (see resolve.h).
 */
#include "resolve.h"

#include "thread.h"

#include <stdlib.h>
#include <string.h>

struct sp__resolve_job {
    sp__mutex mu;
    sp__cond cv;
    int refs; /* under mu: the caller's and the worker's */
    int done; /* under mu: the worker has stored rc and addrs */
    int rc;   /* the count of addresses, or the resolver's error */
    int port, family;
    sp_waker *waker; /* or NULL */
    char host[256];
    sp_addr addrs[SP__RESOLVE_CAP];
};

static void job_destroy(sp__resolve_job *j)
{
    sp_waker_destroy(j->waker);
    sp__cond_destroy(&j->cv);
    sp__mutex_destroy(&j->mu);
    free(j);
}

/* Drop one reference; the last one frees the job. */
static void job_unref(sp__resolve_job *j)
{
    int last;
    sp__mutex_lock(&j->mu);
    last = --j->refs == 0;
    sp__mutex_unlock(&j->mu);
    if (last)
        job_destroy(j);
}

void sp__resolve_run(sp__resolve_job *j)
{
    /* Only this thread writes addrs before `done`; the caller reads them after. */
    int rc = sp__resolve(j->host, j->port, j->family, SP_SOCK_STREAM, j->addrs, SP__RESOLVE_CAP);
    sp__mutex_lock(&j->mu);
    j->rc = rc;
    j->done = 1;
    sp__cond_broadcast(&j->cv);
    if (j->waker != NULL)
        (void)sp_waker_wake(j->waker);
    sp__mutex_unlock(&j->mu);
    job_unref(j);
}

int sp__resolve_start(sp__resolve_job **out, const char *host, int port, int family, int want_waker)
{
    sp__resolve_job *j;
    size_t len = strlen(host);
    int rc;
    *out = NULL;
    if (len == 0 || len >= sizeof j->host)
        return SP_EINVAL;
    j = (sp__resolve_job *)calloc(1, sizeof *j);
    if (j == NULL)
        return SP_ENOMEM;
    memcpy(j->host, host, len + 1);
    j->port = port;
    j->family = family;
    j->refs = 2; /* the caller's and the worker's */
    rc = sp__mutex_init(&j->mu);
    if (rc != 0) {
        free(j);
        return rc;
    }
    rc = sp__cond_init(&j->cv);
    if (rc != 0) {
        sp__mutex_destroy(&j->mu);
        free(j);
        return rc;
    }
    if (want_waker)
        rc = sp_waker_create(&j->waker);
    if (rc == 0)
        rc = sp__resolve_spawn(j);
    if (rc != 0) {
        job_destroy(j);
        return rc;
    }
    *out = j;
    return 0;
}

sp_socket_t sp__resolve_waker(const sp__resolve_job *j)
{
    return j->waker != NULL ? sp_waker_socket(j->waker) : SP_INVALID_SOCKET;
}

int sp__resolve_wait(sp__resolve_job *j, int timeout_ms, sp_addr *out, size_t cap)
{
    sp__deadline deadline = sp__deadline_in(timeout_ms);
    int rc;
    sp__mutex_lock(&j->mu);
    while (!j->done) {
        int left = sp__deadline_left(deadline);
        if (left == 0)
            break;
        (void)sp__cond_wait(&j->cv, &j->mu, left);
    }
    rc = j->done ? j->rc : SP_EINPROGRESS;
    sp__mutex_unlock(&j->mu);
    if (rc > 0) {
        size_t n = (size_t)rc < cap ? (size_t)rc : cap;
        if (n > SP__RESOLVE_CAP)
            n = SP__RESOLVE_CAP;
        memcpy(out, j->addrs, n * sizeof *out);
        rc = (int)n;
    }
    return rc;
}

void sp__resolve_release(sp__resolve_job *j)
{
    if (j != NULL)
        job_unref(j);
}
