/* thread.c (POSIX) - threads, mutexes and atomics over pthreads. */
#include "thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(((sp__mutex *)0)->u.bytes), "mutex fits");
_Static_assert(sizeof(pthread_t) <= sizeof(((sp__thread *)0)->native.bytes), "pthread_t fits");
_Static_assert(sizeof(atomic_long) == sizeof(long), "atomic_long is a long");

#define MTX(m) ((pthread_mutex_t *)(void *)(m)->u.bytes)

#define TID(t) ((pthread_t *)(void *)(t)->native.bytes)

static void *trampoline(void *p)
{
    sp__thread_run((sp__thread *)p);
    return NULL;
}

int sp__thread_spawn(sp__thread *t)
{
    int rc = pthread_create(TID(t), NULL, trampoline, t);
    return rc != 0 ? sp__fail(rc) : 0;
}

void sp__thread_wait(sp__thread *t)
{
    pthread_join(*TID(t), NULL);
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
