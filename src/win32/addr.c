/*
 * addr.c (Windows) - sp_addr as SOCKADDR_IN / SOCKADDR_IN6 / SOCKADDR_UN, and name
 * resolution with getaddrinfo.
 */
#include "internal.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/*
 * SOCKADDR_UN as afunix.h declares it. afunix.h is only in Windows SDK 10.0.17063 and
 * later (and in recent mingw-w64), so the structure is declared here, as curl does, with
 * Microsoft's layout; where afunix.h exists the layout is checked against it.
 */
#define SP__UNIX_PATH_MAX 108 /* UNIX_PATH_MAX */
typedef struct sp__sockaddr_un {
    ADDRESS_FAMILY sun_family;
    char sun_path[SP__UNIX_PATH_MAX];
} sp__sockaddr_un;
#if defined(__has_include)
#    if __has_include(<afunix.h>)
#        include <afunix.h>
_Static_assert(sizeof(sp__sockaddr_un) == sizeof(struct sockaddr_un), "SOCKADDR_UN size");
_Static_assert(offsetof(sp__sockaddr_un, sun_path) == offsetof(struct sockaddr_un, sun_path),
               "SOCKADDR_UN sun_path");
_Static_assert(sizeof(((sp__sockaddr_un *)0)->sun_path) ==
                   sizeof(((struct sockaddr_un *)0)->sun_path),
               "SOCKADDR_UN sun_path size");
#    endif
#endif

_Static_assert(sizeof(sp__sockaddr_un) <= sizeof(((sp_addr *)0)->u.bytes),
               "sp_addr too small for SOCKADDR_UN");
_Static_assert(sizeof(struct sockaddr_in6) <= sizeof(((sp_addr *)0)->u.bytes),
               "sp_addr too small for SOCKADDR_IN6");

#define SP__UNIX_PATH_OFFSET offsetof(sp__sockaddr_un, sun_path)

static const sp__afrow af_rows[] = SP__AF_ROWS;

const sp__afrow *sp__af_rows(size_t *n)
{
    *n = sizeof af_rows / sizeof af_rows[0];
    return af_rows;
}

int sp__addr_native_af(const sp_addr *a)
{
    ADDRESS_FAMILY f;
    memcpy(&f, a->u.bytes, sizeof f);
    return f;
}

int sp__addr_from_ip(sp_addr *out, const sp__ipaddr *ip)
{
    if (ip->family == SP_AF_INET) {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((u_short)ip->port);
        memcpy(&sin.sin_addr, ip->ip, 4);
        memset(out, 0, sizeof *out);
        memcpy(out->u.bytes, &sin, sizeof sin);
        out->len = (uint32_t)sizeof sin;
        return 0;
    }
    if (ip->family == SP_AF_INET6) {
        struct sockaddr_in6 sin6;
        memset(&sin6, 0, sizeof sin6);
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((u_short)ip->port);
        memcpy(&sin6.sin6_addr, ip->ip, 16);
        sin6.sin6_scope_id = ip->scope;
        memset(out, 0, sizeof *out);
        memcpy(out->u.bytes, &sin6, sizeof sin6);
        out->len = (uint32_t)sizeof sin6;
        return 0;
    }
    return SP_EINVAL;
}

int sp__addr_to_ip(const sp_addr *a, sp__ipaddr *out)
{
    int family = sp_addr_family(a);
    memset(out, 0, sizeof *out);
    if (family == SP_AF_INET) {
        struct sockaddr_in sin;
        memcpy(&sin, a->u.bytes, sizeof sin);
        out->family = SP_AF_INET;
        memcpy(out->ip, &sin.sin_addr, 4);
        out->port = ntohs(sin.sin_port);
        return 0;
    }
    if (family == SP_AF_INET6) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, a->u.bytes, sizeof sin6);
        out->family = SP_AF_INET6;
        memcpy(out->ip, &sin6.sin6_addr, 16);
        out->port = ntohs(sin6.sin6_port);
        out->scope = sin6.sin6_scope_id;
        return 0;
    }
    return SP_EINVAL;
}

int sp__addr_unix(sp_addr *out, const char *path)
{
    sp__sockaddr_un sun;
    size_t n;
    n = strlen(path);
    if (n + 1 > sizeof sun.sun_path) /* the terminator must fit too */
        return SP_ENAMETOOLONG;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, n + 1);
    memset(out, 0, sizeof *out);
    memcpy(out->u.bytes, &sun, sizeof sun);
    out->len = (uint32_t)(SP__UNIX_PATH_OFFSET + n + 1);
    return 0;
}

int sp__addr_unix_path(const sp_addr *a, char *buf, size_t size)
{
    const char *path;
    size_t max, n = 0;
    if (sp_addr_family(a) != SP_AF_UNIX)
        return SP_EINVAL;
    /* The path runs to its terminator or to the end of the length the system gave. */
    path = (const char *)a->u.bytes + SP__UNIX_PATH_OFFSET;
    max = a->len > SP__UNIX_PATH_OFFSET ? a->len - SP__UNIX_PATH_OFFSET : 0;
    if (max > sizeof(((sp__sockaddr_un *)0)->sun_path))
        max = sizeof(((sp__sockaddr_un *)0)->sun_path);
    while (n < max && path[n] != '\0')
        n++;
    if (n + 1 > size)
        return SP_ENOSPC;
    memcpy(buf, path, n);
    buf[n] = '\0';
    return (int)n;
}

static int native_af(int family)
{
    switch (family) {
    case SP_AF_INET:
        return AF_INET;
    case SP_AF_INET6:
        return AF_INET6;
    default:
        return AF_UNSPEC;
    }
}

/* Append one getaddrinfo result if it is an IP address; returns the new count. */
static int add_result(sp_addr *out, size_t cap, int n, const struct addrinfo *ai)
{
    sp_addr a;
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || ai->ai_addr == NULL ||
        ai->ai_addrlen > sizeof a.u.bytes)
        return n;
    memset(&a, 0, sizeof a);
    memcpy(a.u.bytes, ai->ai_addr, ai->ai_addrlen);
    a.len = (uint32_t)ai->ai_addrlen;
    if (sp_addr_family(&a) == SP_AF_UNSPEC)
        return n;
    return sp__addr_list_add(out, cap, n, &a);
}

int sp__resolve(const char *host, int port, int family, int type, sp_addr *out, size_t cap)
{
    struct addrinfo hints, *res = NULL, *ai;
    char service[8];
    int rc, n = 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = native_af(family);
    hints.ai_socktype = type == SP_SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
    /* No AI_ADDRCONFIG: on a machine with loopback only it would hide every address,
     * even 127.0.0.1 for "localhost". The port is numeric, so the service is too. */
    hints.ai_flags = 0;
    (void)snprintf(service, sizeof service, "%d", port); /* fits: the caller checked 0..65535 */
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0)
        return sp__fail_gai(rc); /* the WSA* code itself, also in WSAGetLastError() */
    for (ai = res; ai != NULL; ai = ai->ai_next)
        n = add_result(out, cap, n, ai);
    freeaddrinfo(res);
    if (n == 0)
        return sp__fail_gai(WSANO_DATA); /* only families sockport does not handle */
    return n;
}
