/* resolve.c (POSIX) - the resolver's worker: a detached pthread (nobody joins it; the job
 * it runs is freed by whichever of it and its caller lets go last). */
#include "resolve.h"

#include <pthread.h>

static void *worker(void *arg)
{
    sp__resolve_run((sp__resolve_job *)arg);
    return NULL;
}

int sp__resolve_spawn(sp__resolve_job *j)
{
    pthread_attr_t attr;
    pthread_t id;
    int rc = pthread_attr_init(&attr);
    if (rc != 0)
        return sp__fail(rc);
    rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (rc == 0)
        rc = pthread_create(&id, &attr, worker, j);
    (void)pthread_attr_destroy(&attr);
    return rc != 0 ? sp__fail(rc) : 0;
}
