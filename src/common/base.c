/* base.c - what base.h offers that is the same everywhere. */
#include "internal.h"
#include "thread.h" /* sp__sleep_ms */

const char *sp_version(void)
{
    return SP_VERSION_STRING;
}

uint64_t sp_now_ms(void)
{
    return sp__now_ms();
}

int sp_sleep_ms(int ms)
{
    if (ms < 0)
        return SP_EINVAL;
    sp__sleep_ms(ms);
    return 0;
}
