/* base.c (POSIX) - init is a reference count: POSIX sockets need no start-up. */
#include "internal.h"

#include <stdatomic.h>
#include <time.h>

static atomic_int sp_init_count;

int sp_init(void)
{
    atomic_fetch_add(&sp_init_count, 1);
    return 0;
}

int sp_cleanup(void)
{
    int n = atomic_load(&sp_init_count);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&sp_init_count, &n, n - 1))
            return 0;
    }
    return SP_ENOTINIT;
}

const char *sp_platform(void)
{
    return "posix";
}

uint64_t sp__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
