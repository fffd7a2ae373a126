/*
 * thread.h - the little threading the server needs, over pthreads and Win32 threads.
 * Internal: not part of the public API. Implemented in src/common/thread.c over the
 * backend verbs marked below, in src/posix/thread.c and src/win32/thread.c.
 */
#ifndef SOCKPORT_THREAD_H
#define SOCKPORT_THREAD_H

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A thread: what it runs, and the backend's handle in storage the thread owns. */
typedef struct sp__thread {
    void (*fn)(void *);
    void *arg;
    union {
        void *align_;
        unsigned char bytes[16];
    } native; /* pthread_t / HANDLE */
} sp__thread;

/* Shared (common/thread.c): start fn(arg) in a new thread. 0, SP_ENOMEM, or the system's
 * error (SP_EAGAIN). */
int sp__thread_start(sp__thread **out, void (*fn)(void *), void *arg);

/* Shared: wait for the thread to end and release it. */
void sp__thread_join(sp__thread *t);

/* Backend: start a thread that calls sp__thread_run(t), its handle in t->native. 0, or the
 * system's error (nothing to release then). */
int sp__thread_spawn(sp__thread *t);

/* Backend: wait for the thread spawned in t to end and release its handle. */
void sp__thread_wait(sp__thread *t);

/* Shared: what a spawned thread runs first and last: t->fn(t->arg). */
void sp__thread_run(sp__thread *t);

/* A mutex in storage the caller owns (no allocation). */
typedef struct sp__mutex {
    union {
        void *align_;
        unsigned char bytes[64];
    } u;
} sp__mutex;

int sp__mutex_init(sp__mutex *m);
void sp__mutex_destroy(sp__mutex *m);
void sp__mutex_lock(sp__mutex *m);
void sp__mutex_unlock(sp__mutex *m);

/* A condition variable in storage the caller owns (no allocation): the resolver's worker
 * and its caller meet on one (src/common/resolve.c). */
typedef struct sp__cond {
    union {
        void *align_;
        unsigned char bytes[64];
    } u;
} sp__cond;

int sp__cond_init(sp__cond *c);
void sp__cond_destroy(sp__cond *c);
/* Wait at most timeout_ms (negative: no limit); 0 when signalled (or spuriously woken),
 * SP_ETIMEDOUT at the timeout. */
int sp__cond_wait(sp__cond *c, sp__mutex *m, int timeout_ms);
void sp__cond_signal(sp__cond *c);
void sp__cond_broadcast(sp__cond *c);

/* An integer that threads (and signal handlers) read and write atomically. */
typedef struct sp__atomic {
    volatile long v;
} sp__atomic;

long sp__atomic_load(sp__atomic *a);
void sp__atomic_store(sp__atomic *a, long v);
long sp__atomic_add(sp__atomic *a, long delta); /* returns the new value */

/* Sleep for ms milliseconds. */
void sp__sleep_ms(int ms);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_THREAD_H */
