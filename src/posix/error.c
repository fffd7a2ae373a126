/* error.c (POSIX) - errno and EAI_* onto sockport codes; the per-thread native code. */
#include "internal.h"
#include "errmap.h"

#include <errno.h>
#include <netdb.h>

/* Systems without these errno names (they are optional in POSIX) map nothing for them. */
#ifndef EPFNOSUPPORT
#    define EPFNOSUPPORT 0
#endif
#ifndef ESOCKTNOSUPPORT
#    define ESOCKTNOSUPPORT 0
#endif
#ifndef EHOSTDOWN
#    define EHOSTDOWN 0
#endif
#ifdef EAI_NODATA
#    define SP__EAI_NODATA EAI_NODATA
#else
#    define SP__EAI_NODATA 0 /* FreeBSD dropped it */
#endif

#define SP__POSIX_ROW(sp, posix, win) {posix, SP_##sp},
static const sp__errrow native_rows[] = {SP_NATIVE_ERRMAP(SP__POSIX_ROW)};
static const sp__errrow gai_rows[] = {SP_GAI_ERRMAP(SP__POSIX_ROW)};
#undef SP__POSIX_ROW

#define SP__COUNT(a) (sizeof(a) / sizeof((a)[0]))

static _Thread_local int last_native;

int sp_last_native_error(void)
{
    return last_native;
}

void sp__set_last_native(int native)
{
    last_native = native;
}

const sp__errrow *sp__native_errmap(size_t *n)
{
    *n = SP__COUNT(native_rows);
    return native_rows;
}

int sp_err_from_gai(int gai_code)
{
    return sp__errmap_from(gai_rows, SP__COUNT(gai_rows), gai_code);
}

int sp__fail_last(void)
{
    return sp__fail(errno);
}

int sp__fail_gai(int gai_code)
{
#ifdef EAI_SYSTEM
    if (gai_code == EAI_SYSTEM)
        return sp__fail(errno);
#endif
    sp__set_last_native(gai_code);
    gai_code = sp_err_from_gai(gai_code);
    return gai_code == SP_OK ? SP_EUNKNOWN : gai_code;
}
