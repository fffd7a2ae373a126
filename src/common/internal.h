/*
 * internal.h - helpers the shared code uses in more than one layer (deadlines, address
 * text, frame internals). What a backend must provide is in backend.h, included here.
 * No platform header here: the backends include theirs after this one.
 */
#ifndef SOCKPORT_INTERNAL_H
#define SOCKPORT_INTERNAL_H

#include "sockport.h"
#include "backend.h"

#include <limits.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The backend verbs (sp__now_ms, sp__fail, sp__recv_dontwait, ...) are in backend.h. */

/* ---- shared by the frame and server layers ------------------------------------------ */

/* sp_frame_decoder_space offering at least `want` bytes of room (less only when the
 * framer's limit says so) instead of SP_FRAME_RECV_SIZE (sp__frame_read's callers). */
ptrdiff_t sp__frame_decoder_space(sp_frame_decoder *d, void **room, size_t want);

/* ---- shared helpers ------------------------------------------------------------------ */

/* A deadline: 0 means none, else sp__now_ms() + timeout. */
typedef uint64_t sp__deadline;

static inline sp__deadline sp__deadline_in(int timeout_ms)
{
    return timeout_ms < 0 ? 0 : sp__now_ms() + (uint64_t)timeout_ms;
}

/* Milliseconds left before the deadline: -1 when there is none, 0 when it has passed. */
static inline int sp__deadline_left(sp__deadline d)
{
    uint64_t now;
    if (d == 0)
        return -1;
    now = sp__now_ms();
    if (now >= d)
        return 0;
    return d - now > (uint64_t)INT_MAX ? INT_MAX : (int)(d - now);
}

/* Parse the port of "...:port" text: 0..65535 decimal, nothing after it. -1 if bad. */
int sp__parse_port(const char *s);

/* Split "host:port" / "[v6]:port" into host (unbracketed) and port. 0 or SP_EINVAL. */
int sp__split_hostport(const char *text, char *host, size_t hostcap, int *port);

/*
 * Append `a` to the list out[0..cap) holding n addresses unless it is already there;
 * returns the new count (which goes on growing past cap, like snprintf).
 */
int sp__addr_list_add(sp_addr *out, size_t cap, int n, const sp_addr *a);

/* SP_EBADF for SP_INVALID_SOCKET, recorded as the OS records a call on a handle that is
 * not a socket (EBADF / WSAENOTSOCK): the same code and native error on every OS. */
static inline int sp__fail_badf(void)
{
    return sp__fail(sp_err_to_native(SP_EBADF));
}

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_INTERNAL_H */
