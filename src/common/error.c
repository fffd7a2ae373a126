/* error.c - the names and messages of sockport's error codes, the map search, and the
 * native-code calls over the backend's column of the map (sp__native_errmap). */
#include "internal.h"
#include "errmap.h"

const char *sp_strerror(int code)
{
    switch (code) {
#define SP__ERR_MSG(name, value, msg)                                                              \
    case SP_##name:                                                                                \
        return msg;
        SP_ERROR_MAP(SP__ERR_MSG)
#undef SP__ERR_MSG
    default:
        return code >= 0 ? "success" : "unknown error";
    }
}

const char *sp_err_name(int code)
{
    switch (code) {
    case SP_OK:
        return "OK";
#define SP__ERR_NAME(name, value, msg)                                                             \
    case SP_##name:                                                                                \
        return #name;
        SP_ERROR_MAP(SP__ERR_NAME)
#undef SP__ERR_NAME
    default:
        return NULL;
    }
}

int sp__errmap_from(const sp__errrow *rows, size_t n, int native)
{
    size_t i;
    if (native == 0)
        return SP_OK;
    for (i = 0; i < n; i++)
        if (rows[i].native == native)
            return rows[i].code;
    return SP_EUNKNOWN;
}

int sp__errmap_to(const sp__errrow *rows, size_t n, int code)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (rows[i].code == code && rows[i].native != 0)
            return rows[i].native;
    return 0;
}

int sp_err_from_native(int native)
{
    size_t n;
    const sp__errrow *rows = sp__native_errmap(&n);
    return sp__errmap_from(rows, n, native);
}

int sp_err_to_native(int code)
{
    size_t n;
    const sp__errrow *rows = sp__native_errmap(&n);
    return sp__errmap_to(rows, n, code);
}

int sp__fail(int native)
{
    int code = sp_err_from_native(native);
    sp__set_last_native(native);
    return code == SP_OK ? SP_EUNKNOWN : code;
}
