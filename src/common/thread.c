/* thread.c - what threads, mutexes and condition variables do the same everywhere, over
 * the backend's verbs (thread.h): a thread's start and end; what a failed lock, wake or
 * init means. */
#include "thread.h"

#include <stdlib.h>

void sp__thread_run(sp__thread *t)
{
    t->fn(t->arg);
}

int sp__thread_start(sp__thread **out, void (*fn)(void *), void *arg)
{
    sp__thread *t = (sp__thread *)malloc(sizeof *t);
    int rc;
    if (t == NULL)
        return SP_ENOMEM;
    t->fn = fn;
    t->arg = arg;
    rc = sp__thread_spawn(t);
    if (rc != 0) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void sp__thread_join(sp__thread *t)
{
    sp__thread_wait(t);
    free(t);
}

/* An init's native error as an SP_E* code (recorded as the last native error). */
static int init_result(int native)
{
    return native != 0 ? sp__fail(native) : 0;
}

/* A lock, unlock or wake that failed leaves the state the lock guards unknown, and its
 * caller no way to hear of it: stop here rather than go on unguarded. */
static void must(int native)
{
    if (native != 0)
        abort();
}

int sp__mutex_init(sp__mutex *m)
{
    return init_result(sp__os_mutex_init(m));
}

void sp__mutex_destroy(sp__mutex *m)
{
    (void)sp__os_mutex_destroy(m);
}

void sp__mutex_lock(sp__mutex *m)
{
    must(sp__os_mutex_lock(m));
}

void sp__mutex_unlock(sp__mutex *m)
{
    must(sp__os_mutex_unlock(m));
}

int sp__cond_init(sp__cond *c)
{
    return init_result(sp__os_cond_init(c));
}

void sp__cond_destroy(sp__cond *c)
{
    (void)sp__os_cond_destroy(c);
}

void sp__cond_signal(sp__cond *c)
{
    must(sp__os_cond_signal(c));
}

void sp__cond_broadcast(sp__cond *c)
{
    must(sp__os_cond_broadcast(c));
}
