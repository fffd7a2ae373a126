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

/* A condition variable in storage the caller owns (no allocation): the resolver's worker
 * and its caller meet on one (src/common/resolve.c). */
typedef struct sp__cond {
    union {
        void *align_;
        unsigned char bytes[64];
    } u;
} sp__cond;

/*
 * For a backend: `SP__NATIVE_VIEW(name, sp__mutex, pthread_mutex_t, u);` defines name(x),
 * the storage x->u.bytes of an sp__mutex seen as the native type, and checks at compile
 * time that the native type fits that storage (size and alignment). `type` and
 * `native_type` are type names, which a declaration cannot parenthesise.
 */
/* NOLINTBEGIN(bugprone-macro-parentheses): type names (above) */
#define SP__NATIVE_VIEW(name, type, native_type, field)                                            \
    static inline native_type *name(type *x)                                                       \
    {                                                                                              \
        return (native_type *)(void *)x->field.bytes;                                              \
    }                                                                                              \
    _Static_assert(sizeof(native_type) <= sizeof(((type *)0)->field.bytes) &&                      \
                       _Alignof(native_type) <= _Alignof(type),                                    \
                   #native_type " fits in " #type)
/* NOLINTEND(bugprone-macro-parentheses) */

/*
 * Shared (common/thread.c): the mutex and the condition variable, over the backend's
 * sp__os_ verbs below. What a failure means is decided here, once: a failed init is the
 * system's error as an SP_E* code (SP_ENOMEM, SP_EAGAIN); a failed lock, unlock, signal or
 * broadcast aborts the process, since the state the lock guards can no longer be trusted
 * and none of these calls has a way to report it (libuv's uv_mutex_lock in
 * src/unix/thread.c does the same); a failed destroy is ignored (the object is not used
 * again).
 */
int sp__mutex_init(sp__mutex *m);
void sp__mutex_destroy(sp__mutex *m);
void sp__mutex_lock(sp__mutex *m);
void sp__mutex_unlock(sp__mutex *m);

int sp__cond_init(sp__cond *c);
void sp__cond_destroy(sp__cond *c);
void sp__cond_signal(sp__cond *c);
void sp__cond_broadcast(sp__cond *c);

/* Backend: wait on c, m held, at most timeout_ms (negative: no limit); 0 when signalled
 * (or spuriously woken), SP_ETIMEDOUT at the timeout. */
int sp__cond_wait(sp__cond *c, sp__mutex *m, int timeout_ms);

/*
 * Backend: the OS call behind each shared function of the same name, and nothing else:
 * each returns the call's result as the OS gives it, 0 or a native error number (a
 * pthread function's return value; the Win32 SRW lock and condition variable calls
 * cannot fail and give 0).
 */
int sp__os_mutex_init(sp__mutex *m);
int sp__os_mutex_destroy(sp__mutex *m);
int sp__os_mutex_lock(sp__mutex *m);
int sp__os_mutex_unlock(sp__mutex *m);
int sp__os_cond_init(sp__cond *c);
int sp__os_cond_destroy(sp__cond *c);
int sp__os_cond_signal(sp__cond *c);
int sp__os_cond_broadcast(sp__cond *c);

/* Backend: an integer that threads (and signal handlers) read and write atomically. */
typedef struct sp__atomic {
    volatile long v;
} sp__atomic;

long sp__atomic_load(sp__atomic *a);
void sp__atomic_store(sp__atomic *a, long v);
long sp__atomic_add(sp__atomic *a, long delta); /* returns the new value */

/* Backend: sleep for ms milliseconds. */
void sp__sleep_ms(int ms);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_THREAD_H */
