/* thread.c (POSIX) - threads, mutexes and atomics over pthreads. */
#include "thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(((sp__mutex *)0)->u.bytes), "mutex fits");
_Static_assert(sizeof(atomic_long) == sizeof(long), "atomic_long is a long");

#define MTX(m) ((pthread_mutex_t *)(void *)(m)->u.bytes)

struct sp__thread {
    pthread_t id;
    void (*fn)(void *);
    void *arg;
};

static void *trampoline(void *p)
{
    sp__thread *t = (sp__thread *)p;
    t->fn(t->arg);
    return NULL;
}

int sp__thread_start(sp__thread **out, void (*fn)(void *), void *arg)
{
    sp__thread *t = (sp__thread *)malloc(sizeof *t);
    int rc;
    if (t == NULL)
        return SP_ENOMEM;
    t->fn = fn;
    t->arg = arg;
    rc = pthread_create(&t->id, NULL, trampoline, t);
    if (rc != 0) {
        free(t);
        return sp__fail(rc);
    }
    *out = t;
    return 0;
}

void sp__thread_join(sp__thread *t)
{
    pthread_join(t->id, NULL);
    free(t);
}

int sp__mutex_init(sp__mutex *m)
{
    int rc = pthread_mutex_init(MTX(m), NULL);
    return rc ? sp__fail(rc) : 0;
}

void sp__mutex_destroy(sp__mutex *m)
{
    pthread_mutex_destroy(MTX(m));
}

void sp__mutex_lock(sp__mutex *m)
{
    pthread_mutex_lock(MTX(m));
}

void sp__mutex_unlock(sp__mutex *m)
{
    pthread_mutex_unlock(MTX(m));
}

/* C11 atomics on the long inside sp__atomic (lock-free on every platform we build). */
#define ATOM(a) ((atomic_long *)(uintptr_t) & (a)->v)

long sp__atomic_load(sp__atomic *a)
{
    return atomic_load(ATOM(a));
}

void sp__atomic_store(sp__atomic *a, long v)
{
    atomic_store(ATOM(a), v);
}

long sp__atomic_add(sp__atomic *a, long delta)
{
    return atomic_fetch_add(ATOM(a), delta) + delta;
}

void sp__sleep_ms(int ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
