/*
 * resolve.h - name resolution that cannot hold its caller past a deadline. Internal.
 *
 * A job resolves one name on a detached worker thread. The job is shared by the caller
 * and the worker, each holding one reference; whoever lets go last frees it, so a caller
 * that gives up at its deadline returns at once and the worker frees the answer (and
 * everything else) when getaddrinfo finally returns. The worker copies the answer into
 * the job and frees getaddrinfo's list itself (sp__resolve), so no list outlives it.
 */
#ifndef SOCKPORT_RESOLVE_H
#define SOCKPORT_RESOLVE_H

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most addresses a job keeps. */
#define SP__RESOLVE_CAP 32

typedef struct sp__resolve_job sp__resolve_job;

/*
 * Start resolving host (not numeric) for `port`, `family` (SP_AF_UNSPEC / INET / INET6),
 * stream sockets. With want_waker, the job has a waker that becomes readable when the
 * answer is in (for event loops). 0, SP_EINVAL, SP_ENOMEM, SP_EAGAIN (no thread), or an
 * error of sp_waker_create().
 */
int sp__resolve_start(sp__resolve_job **out, const char *host, int port, int family,
                      int want_waker);

/* The job's waker handle, or SP_INVALID_SOCKET when it has none. */
sp_socket_t sp__resolve_waker(const sp__resolve_job *j);

/*
 * Wait at most timeout_ms (0: just look; negative: no limit) for the answer. The number of
 * addresses copied to out (up to cap), SP_EINPROGRESS while the worker still runs, or the
 * resolver's error.
 */
int sp__resolve_wait(sp__resolve_job *j, int timeout_ms, sp_addr *out, size_t cap);

/* The caller lets go of the job (finished or not). NULL is accepted. */
void sp__resolve_release(sp__resolve_job *j);

/* Backend: run sp__resolve_run(j) on a new detached thread. 0, SP_ENOMEM or SP_EAGAIN. */
int sp__resolve_spawn(sp__resolve_job *j);

/* The worker's body (called by the backend's thread). */
void sp__resolve_run(sp__resolve_job *j);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_RESOLVE_H */
