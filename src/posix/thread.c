/* thread.c (POSIX) - the thread verbs of thread.h over pthreads, C11 atomics and nanosleep. */
#include "thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

SP__NATIVE_VIEW(mtx, sp__mutex, pthread_mutex_t, u);
SP__NATIVE_VIEW(cnd, sp__cond, pthread_cond_t, u);
SP__NATIVE_VIEW(tid, sp__thread, pthread_t, native);
_Static_assert(sizeof(atomic_long) == sizeof(long), "atomic_long is a long");

static void *trampoline(void *p)
{
    sp__thread_run((sp__thread *)p);
    return NULL;
}

int sp__thread_spawn(sp__thread *t)
{
    int rc = pthread_create(tid(t), NULL, trampoline, t);
    return rc != 0 ? sp__fail(rc) : 0;
}

void sp__thread_wait(sp__thread *t)
{
    pthread_join(*tid(t), NULL);
}

int sp__os_mutex_init(sp__mutex *m)
{
    return pthread_mutex_init(mtx(m), NULL);
}

int sp__os_mutex_destroy(sp__mutex *m)
{
    return pthread_mutex_destroy(mtx(m));
}

int sp__os_mutex_lock(sp__mutex *m)
{
    return pthread_mutex_lock(mtx(m));
}

int sp__os_mutex_unlock(sp__mutex *m)
{
    return pthread_mutex_unlock(mtx(m));
}

int sp__os_cond_init(sp__cond *c)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
#ifdef SP_HAVE_CONDATTR_SETCLOCK /* else (macOS) the timed wait below is relative */
    if (rc == 0)
        rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
#endif
    if (rc == 0)
        rc = pthread_cond_init(cnd(c), &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

int sp__os_cond_destroy(sp__cond *c)
{
    return pthread_cond_destroy(cnd(c));
}

int sp__os_cond_signal(sp__cond *c)
{
    return pthread_cond_signal(cnd(c));
}

int sp__os_cond_broadcast(sp__cond *c)
{
    return pthread_cond_broadcast(cnd(c));
}

int sp__cond_wait(sp__cond *c, sp__mutex *m, int timeout_ms)
{
    struct timespec ts;
    int rc;
    if (timeout_ms < 0) {
        pthread_cond_wait(cnd(c), mtx(m));
        return 0;
    }
#if defined(SP_HAVE_COND_TIMEDWAIT_RELATIVE) && !defined(SP_HAVE_CONDATTR_SETCLOCK)
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
    rc = pthread_cond_timedwait_relative_np(cnd(c), mtx(m), &ts);
#else
#    ifdef SP_HAVE_CONDATTR_SETCLOCK
    clock_gettime(CLOCK_MONOTONIC, &ts);
#    else
    clock_gettime(CLOCK_REALTIME, &ts); /* the condition's default clock */
#    endif
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    rc = pthread_cond_timedwait(cnd(c), mtx(m), &ts);
#endif
    return rc == ETIMEDOUT ? SP_ETIMEDOUT : 0;
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
