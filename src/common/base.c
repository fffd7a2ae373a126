/* base.c - what base.h offers that is the same everywhere. */
#include "internal.h"

const char *sp_version(void)
{
    return SP_VERSION_STRING;
}
