/* thread.c (Windows) - threads, SRW locks and Interlocked atomics. */
#include "thread.h"

#include <windows.h>
#include <process.h>
#include <stdlib.h>

_Static_assert(sizeof(SRWLOCK) <= sizeof(((sp__mutex *)0)->u.bytes), "SRWLOCK fits");
_Static_assert(sizeof(LONG) == sizeof(long), "Interlocked works on long");

#define LOCK(m) ((SRWLOCK *)(void *)(m)->u.bytes)

struct sp__thread {
    HANDLE handle;
    void (*fn)(void *);
    void *arg;
};

/* _beginthreadex, not CreateThread: the C runtime's per-thread state is set up. */
static unsigned __stdcall trampoline(void *p)
{
    sp__thread *t = (sp__thread *)p;
    t->fn(t->arg);
    return 0;
}

int sp__thread_start(sp__thread **out, void (*fn)(void *), void *arg)
{
    sp__thread *t = (sp__thread *)malloc(sizeof *t);
    uintptr_t h;
    if (t == NULL)
        return SP_ENOMEM;
    t->fn = fn;
    t->arg = arg;
    h = _beginthreadex(NULL, 0, trampoline, t, 0, NULL);
    if (h == 0) {
        free(t);
        return SP_EAGAIN;
    }
    t->handle = (HANDLE)h;
    *out = t;
    return 0;
}

void sp__thread_join(sp__thread *t)
{
    WaitForSingleObject(t->handle, INFINITE);
    CloseHandle(t->handle);
    free(t);
}

int sp__mutex_init(sp__mutex *m)
{
    InitializeSRWLock(LOCK(m));
    return 0;
}

void sp__mutex_destroy(sp__mutex *m)
{
    (void)m; /* an SRW lock holds no resources */
}

void sp__mutex_lock(sp__mutex *m)
{
    AcquireSRWLockExclusive(LOCK(m));
}

void sp__mutex_unlock(sp__mutex *m)
{
    ReleaseSRWLockExclusive(LOCK(m));
}

long sp__atomic_load(sp__atomic *a)
{
    return InterlockedCompareExchange((volatile LONG *)&a->v, 0, 0);
}

void sp__atomic_store(sp__atomic *a, long v)
{
    InterlockedExchange((volatile LONG *)&a->v, v);
}

long sp__atomic_add(sp__atomic *a, long delta)
{
    return InterlockedAdd((volatile LONG *)&a->v, delta);
}

void sp__sleep_ms(int ms)
{
    Sleep((DWORD)ms);
}
