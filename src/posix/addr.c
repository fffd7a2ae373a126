/* addr.c (POSIX) - sp_addr as sockaddr_in / sockaddr_in6 / sockaddr_un; getaddrinfo. */
#include "internal.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

_Static_assert(sizeof(struct sockaddr_storage) <= sizeof(((sp_addr *)0)->u.bytes),
               "sp_addr holds any sockaddr");

static const struct sockaddr *sa_of(const sp_addr *a)
{
    return (const struct sockaddr *)(const void *)a->u.bytes;
}

static const sp__afrow af_rows[] = SP__AF_ROWS;

const sp__afrow *sp__af_rows(size_t *n)
{
    *n = sizeof af_rows / sizeof af_rows[0];
    return af_rows;
}

int sp__addr_native_af(const sp_addr *a)
{
    return sa_of(a)->sa_family;
}

int sp__addr_from_ip(sp_addr *out, const sp__ipaddr *ip)
{
    memset(out, 0, sizeof *out);
    if (ip->family == SP_AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)(void *)out->u.bytes;
#ifdef SP_HAVE_SA_LEN
        sin->sin_len = sizeof *sin;
#endif
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)ip->port);
        memcpy(&sin->sin_addr, ip->ip, 4);
        out->len = sizeof *sin;
        return 0;
    }
    if (ip->family == SP_AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)out->u.bytes;
#ifdef SP_HAVE_SA_LEN
        sin6->sin6_len = sizeof *sin6;
#endif
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)ip->port);
        sin6->sin6_scope_id = ip->scope;
        memcpy(&sin6->sin6_addr, ip->ip, 16);
        out->len = sizeof *sin6;
        return 0;
    }
    return SP_EINVAL;
}

int sp__addr_to_ip(const sp_addr *a, sp__ipaddr *out)
{
    int family = sp_addr_family(a);
    memset(out, 0, sizeof *out);
    if (family == SP_AF_INET && a->len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)a->u.bytes;
        out->family = SP_AF_INET;
        out->port = ntohs(sin->sin_port);
        memcpy(out->ip, &sin->sin_addr, 4);
        return 0;
    }
    if (family == SP_AF_INET6 && a->len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)a->u.bytes;
        out->family = SP_AF_INET6;
        out->port = ntohs(sin6->sin6_port);
        out->scope = sin6->sin6_scope_id;
        memcpy(out->ip, &sin6->sin6_addr, 16);
        return 0;
    }
    return SP_EINVAL;
}

int sp__addr_unix(sp_addr *out, const char *path)
{
    struct sockaddr_un *sun;
    size_t n;
    sun = (struct sockaddr_un *)(void *)out->u.bytes;
    n = strlen(path);
    if (n >= sizeof sun->sun_path)
        return SP_ENAMETOOLONG;
    memset(out, 0, sizeof *out);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n + 1);
    out->len = (uint32_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
#ifdef SP_HAVE_SA_LEN
    sun->sun_len = (unsigned char)out->len;
#endif
    return 0;
}

int sp__addr_unix_path(const sp_addr *a, char *buf, size_t size)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)(const void *)a->u.bytes;
    size_t off = offsetof(struct sockaddr_un, sun_path), n = 0;
    if (sp_addr_family(a) != SP_AF_UNIX)
        return SP_EINVAL;
    if (a->len > off) { /* an unnamed socket has no path at all */
        size_t max = a->len - off;
        while (n < max && n < sizeof sun->sun_path && sun->sun_path[n] != '\0')
            n++;
    }
    if (n >= size)
        return SP_ENOSPC;
    memcpy(buf, sun->sun_path, n);
    buf[n] = '\0';
    return (int)n;
}

int sp__resolve(const char *host, int port, int family, int type, sp_addr *out, size_t cap)
{
    struct addrinfo hints, *res = NULL, *ai;
    char service[8];
    int rc, n = 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family == SP_AF_INET ? AF_INET : family == SP_AF_INET6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = type == SP_SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    /* no AI_ADDRCONFIG: on a host with only loopback it would hide "localhost" */
    (void)snprintf(service, sizeof service, "%d", port); /* fits: the caller checked 0..65535 */
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0)
        return sp__fail_gai(rc);
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        sp_addr a;
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof a.u.bytes)
            continue;
        memset(&a, 0, sizeof a);
        memcpy(a.u.bytes, ai->ai_addr, ai->ai_addrlen);
        a.len = (uint32_t)ai->ai_addrlen;
        n = sp__addr_list_add(out, cap, n, &a);
    }
    freeaddrinfo(res);
    return n > 0 ? n : SP_EAI_NODATA;
}
