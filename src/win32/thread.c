/* thread.c (Windows) - threads, SRW locks and Interlocked atomics. */
#include "thread.h"

#include <windows.h>
#include <process.h>

_Static_assert(sizeof(SRWLOCK) <= sizeof(((sp__mutex *)0)->u.bytes), "SRWLOCK fits");
_Static_assert(sizeof(CONDITION_VARIABLE) <= sizeof(((sp__cond *)0)->u.bytes), "CV fits");
_Static_assert(sizeof(HANDLE) <= sizeof(((sp__thread *)0)->native.bytes), "HANDLE fits");
_Static_assert(sizeof(LONG) == sizeof(long), "Interlocked works on long");

#define LOCK(m) ((SRWLOCK *)(void *)(m)->u.bytes)
#define CV(c)   ((CONDITION_VARIABLE *)(void *)(c)->u.bytes)

#define HND(t) ((HANDLE *)(void *)(t)->native.bytes)

/* _beginthreadex, not CreateThread: the C runtime's per-thread state is set up. */
static unsigned __stdcall trampoline(void *p)
{
    sp__thread_run((sp__thread *)p);
    return 0;
}

int sp__thread_spawn(sp__thread *t)
{
    uintptr_t h = _beginthreadex(NULL, 0, trampoline, t, 0, NULL);
    if (h == 0)
        return SP_EAGAIN;
    *HND(t) = (HANDLE)h;
    return 0;
}

void sp__thread_wait(sp__thread *t)
{
    WaitForSingleObject(*HND(t), INFINITE);
    CloseHandle(*HND(t));
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

int sp__cond_init(sp__cond *c)
{
    InitializeConditionVariable(CV(c));
    return 0;
}

void sp__cond_destroy(sp__cond *c)
{
    (void)c;
}

int sp__cond_wait(sp__cond *c, sp__mutex *m, int timeout_ms)
{
    if (SleepConditionVariableSRW(CV(c), LOCK(m), timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms, 0))
        return 0;
    return GetLastError() == ERROR_TIMEOUT ? SP_ETIMEDOUT : 0;
}

void sp__cond_signal(sp__cond *c)
{
    WakeConditionVariable(CV(c));
}

void sp__cond_broadcast(sp__cond *c)
{
    WakeAllConditionVariable(CV(c));
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
