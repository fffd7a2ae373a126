/*
 * internal.h - what the shared code and the backends share. No platform header here:
 * the backends (src/posix, src/win32) include theirs after this one.
 */
#ifndef SOCKPORT_INTERNAL_H
#define SOCKPORT_INTERNAL_H

#include "sockport.h"

#include <limits.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- provided by each backend -------------------------------------------------------- */

/* Monotonic clock in milliseconds (clock_gettime(CLOCK_MONOTONIC) / GetTickCount64). */
uint64_t sp__now_ms(void);

/*
 * Record `native` as this thread's last native error and return its SP_E* code. Every
 * failure path that comes from the OS goes through it (or sp__fail_last).
 */
int sp__fail(int native);

/* sp__fail with the error the OS just reported (errno / WSAGetLastError()). */
int sp__fail_last(void);

/* Record a getaddrinfo() failure and return its SP_EAI_* code. */
int sp__fail_gai(int gai_code);

/*
 * One send / recv as sp_sendv / sp_recv, with a per-call "don't block" when dontwait is
 * set and the OS has one (MSG_DONTWAIT on POSIX); Winsock has none and ignores it.
 */
ptrdiff_t sp__sendv_dontwait(sp_socket_t s, const sp_iovec *iov, int n, int dontwait);
ptrdiff_t sp__recv_dontwait(sp_socket_t s, void *buf, size_t len, int dontwait);

/*
 * Move what decoder src holds (bytes, search and skip state, error) into dst, which is
 * initialised for the same framer with a buffer of just that size; src is reset (its
 * memory kept for reuse). The event-model server decodes into one shared decoder and
 * gives a connection its own only while a message is incomplete. src must not be reading
 * a fed buffer (SP_EINVAL). 0 or SP_ENOMEM (src unchanged, dst empty).
 */
int sp__frame_decoder_move(sp_frame_decoder *dst, sp_frame_decoder *src);

/* sp_frame_decoder_space offering at least `want` bytes of room (less only when the
 * framer's limit says so) instead of SP_FRAME_RECV_SIZE: one read of a shared decoder
 * can then take many messages. */
ptrdiff_t sp__frame_decoder_space(sp_frame_decoder *d, void **room, size_t want);

/* sp_frame_encode for a framer known to be valid (the server checks its framer once):
 * a length prefix is written without the checks; anything else goes the long way. */
int sp__frame_encode_fast(const sp_framer *f, const void *payload, size_t len,
                          unsigned char hdr[SP_FRAME_HEADER_MAX], sp_iovec iov[2]);

/* listen(2) alone; backlog <= 0 means SOMAXCONN. */
int sp__listen(sp_socket_t s, int backlog);

/* getaddrinfo for a host name (not numeric); same contract as sp_addr_resolve. */
int sp__resolve(const char *host, int port, int family, int type, sp_addr *out, size_t cap);

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

/* The fields of an IP sp_addr, in a form the shared code can handle. */
typedef struct sp__ipaddr {
    int family;           /* SP_AF_INET or SP_AF_INET6 */
    unsigned char ip[16]; /* network order; 4 bytes used for IPv4 */
    int port;             /* host order */
    uint32_t scope;       /* IPv6 zone index */
} sp__ipaddr;

/* Backend: build an sp_addr from fields / read them back (0, or SP_EINVAL if not IP). */
int sp__addr_from_ip(sp_addr *out, const sp__ipaddr *ip);
int sp__addr_to_ip(const sp_addr *a, sp__ipaddr *out);

/*
 * Append `a` to the list out[0..cap) holding n addresses unless it is already there;
 * returns the new count (which goes on growing past cap, like snprintf).
 */
int sp__addr_list_add(sp_addr *out, size_t cap, int n, const sp_addr *a);

/* Backend: Unix path of an address into buf (terminated). Length, or SP_EINVAL. */
int sp__addr_unix_path(const sp_addr *a, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_INTERNAL_H */
