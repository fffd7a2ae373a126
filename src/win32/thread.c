/* thread.c (Windows) - the thread verbs of thread.h over Win32 threads, SRW locks, condition
 * variables and Interlocked atomics. */
#include "thread.h"

#include <windows.h>
#include <process.h>

SP__NATIVE_VIEW(srw, sp__mutex, SRWLOCK, u);
SP__NATIVE_VIEW(cv, sp__cond, CONDITION_VARIABLE, u);
SP__NATIVE_VIEW(hnd, sp__thread, HANDLE, native);
_Static_assert(sizeof(LONG) == sizeof(long), "Interlocked works on long");

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
    *hnd(t) = (HANDLE)h;
    return 0;
}

void sp__thread_wait(sp__thread *t)
{
    WaitForSingleObject(*hnd(t), INFINITE);
    CloseHandle(*hnd(t));
}

/* SRW locks and condition variables cannot fail, hold no resources and need no destroy:
 * each verb gives 0. */
int sp__os_mutex_init(sp__mutex *m)
{
    InitializeSRWLock(srw(m));
    return 0;
}

int sp__os_mutex_destroy(sp__mutex *m)
{
    (void)m;
    return 0;
}

int sp__os_mutex_lock(sp__mutex *m)
{
    AcquireSRWLockExclusive(srw(m));
    return 0;
}

int sp__os_mutex_unlock(sp__mutex *m)
{
    ReleaseSRWLockExclusive(srw(m));
    return 0;
}

int sp__os_cond_init(sp__cond *c)
{
    InitializeConditionVariable(cv(c));
    return 0;
}

int sp__os_cond_destroy(sp__cond *c)
{
    (void)c;
    return 0;
}

int sp__os_cond_signal(sp__cond *c)
{
    WakeConditionVariable(cv(c));
    return 0;
}

int sp__os_cond_broadcast(sp__cond *c)
{
    WakeAllConditionVariable(cv(c));
    return 0;
}

int sp__cond_wait(sp__cond *c, sp__mutex *m, int timeout_ms)
{
    if (SleepConditionVariableSRW(cv(c), srw(m), timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms, 0))
        return 0;
    return GetLastError() == ERROR_TIMEOUT ? SP_ETIMEDOUT : 0;
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
