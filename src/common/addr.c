/*
 * addr.c - address text: parse and format IPv4, IPv6 (RFC 4291 text, RFC 5952 output)
 * and Unix forms. Pure C so that it is the same on every OS and can be fuzzed; the
 * backends lay the result out as a sockaddr (sp__addr_from_ip).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A decimal number of s[0..n) no larger than max, without leading zeros. -1 if not. */
static long parse_decimal(const char *s, size_t n, long max)
{
    long v = 0;
    size_t i;
    if (n == 0 || (n > 1 && s[0] == '0'))
        return -1;
    for (i = 0; i < n; i++) {
        if (!is_digit(s[i]) || v > (max - (s[i] - '0')) / 10)
            return -1; /* checked before the product: long is 32 bits on Windows */
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int sp__parse_port(const char *s)
{
    return (int)parse_decimal(s, strlen(s), 65535);
}

/* Dotted quad "a.b.c.d", exactly n bytes. */
static int parse_ipv4(const char *s, size_t n, unsigned char out[4])
{
    size_t pos = 0;
    int part;
    for (part = 0; part < 4; part++) {
        size_t start = pos;
        long v;
        while (pos < n && s[pos] != '.')
            pos++;
        v = parse_decimal(s + start, pos - start, 255);
        if (v < 0)
            return SP_EINVAL;
        out[part] = (unsigned char)v;
        if (part < 3) {
            if (pos >= n)
                return SP_EINVAL;
            pos++; /* the dot */
        }
    }
    return pos == n ? 0 : SP_EINVAL;
}

/* IPv6 text of exactly n bytes (no brackets, no zone). */
static int parse_ipv6(const char *s, size_t n, unsigned char out[16])
{
    unsigned char words[16];
    size_t pos = 0, nbytes = 0;
    long gap = -1; /* byte index where "::" stands */

    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        pos = 2;
    } else if (n >= 1 && s[0] == ':') {
        return SP_EINVAL;
    }
    while (pos < n) {
        size_t start = pos;
        unsigned v = 0;
        int digits = 0;
        if (nbytes >= 16)
            return SP_EINVAL;
        while (pos < n && hex_value(s[pos]) >= 0 && digits < 5) {
            v = v << 4 | (unsigned)hex_value(s[pos]);
            pos++;
            digits++;
        }
        if (pos < n && s[pos] == '.') {
            /* an embedded IPv4 address ends the text */
            if (nbytes > 12 || parse_ipv4(s + start, n - start, words + nbytes) != 0)
                return SP_EINVAL;
            nbytes += 4;
            break;
        }
        if (digits == 0 || digits > 4)
            return SP_EINVAL;
        words[nbytes++] = (unsigned char)(v >> 8);
        words[nbytes++] = (unsigned char)v;
        if (pos == n)
            break;
        if (s[pos] != ':')
            return SP_EINVAL;
        pos++;
        if (pos < n && s[pos] == ':') {
            if (gap >= 0)
                return SP_EINVAL; /* a second "::" */
            gap = (long)nbytes;
            pos++;
        } else if (pos == n) {
            return SP_EINVAL; /* a trailing single ':' */
        }
    }
    if (gap < 0) {
        if (nbytes != 16)
            return SP_EINVAL;
        memcpy(out, words, 16);
        return 0;
    }
    if (nbytes > 14)
        return SP_EINVAL; /* "::" must stand for at least one group */
    memset(out, 0, 16);
    memcpy(out, words, (size_t)gap);
    memcpy(out + 16 - (nbytes - (size_t)gap), words + gap, nbytes - (size_t)gap);
    return 0;
}

int sp__split_hostport(const char *text, char *host, size_t hostcap, int *port)
{
    const char *colon, *hstart;
    size_t hlen;
    if (text == NULL)
        return SP_EINVAL;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            return SP_EINVAL;
        hstart = text + 1;
        hlen = (size_t)(close - hstart);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL || memchr(text, ':', (size_t)(colon - text)) != NULL)
            return SP_EINVAL; /* no port, or an unbracketed IPv6 address */
        hstart = text;
        hlen = (size_t)(colon - text);
    }
    if (hlen == 0 || hlen >= hostcap)
        return SP_EINVAL;
    *port = sp__parse_port(colon + 1);
    if (*port < 0)
        return SP_EINVAL;
    memcpy(host, hstart, hlen);
    host[hlen] = '\0';
    return 0;
}

/* Parse a numeric host (no brackets; IPv6 may carry "%zone" with a numeric zone). */
static int parse_numeric_host(const char *host, sp__ipaddr *ip)
{
    const char *pct = strchr(host, '%');
    size_t n = pct ? (size_t)(pct - host) : strlen(host);
    memset(ip, 0, sizeof *ip);
    if (strcmp(host, "*") == 0) {
        ip->family = SP_AF_INET;
        return 0;
    }
    if (pct == NULL && parse_ipv4(host, n, ip->ip) == 0) {
        ip->family = SP_AF_INET;
        return 0;
    }
    if (parse_ipv6(host, n, ip->ip) != 0)
        return SP_EINVAL;
    ip->family = SP_AF_INET6;
    if (pct != NULL) {
        long zone = parse_decimal(pct + 1, strlen(pct + 1), 0x7fffffffL);
        if (zone < 0)
            return SP_EINVAL;
        ip->scope = (uint32_t)zone;
    }
    return 0;
}

int sp_addr_parse(sp_addr *out, const char *text)
{
    char host[64];
    sp__ipaddr ip;
    int port, rc;
    if (out == NULL || text == NULL)
        return SP_EINVAL;
    if (strncmp(text, "unix:", 5) == 0)
        return sp_addr_unix(out, text + 5);
    rc = sp__split_hostport(text, host, sizeof host, &port);
    if (rc != 0)
        return rc;
    /* an IPv6 address must be bracketed, an IPv4 one must not */
    if (text[0] == '[' ? strchr(host, ':') == NULL : strchr(host, ':') != NULL)
        return SP_EINVAL;
    rc = parse_numeric_host(host, &ip);
    if (rc != 0)
        return rc;
    ip.port = port;
    return sp__addr_from_ip(out, &ip);
}

/* Append src to buf at *pos if it fits (keeps room for the terminator). */
static int put(char *buf, size_t size, size_t *pos, const char *src, size_t n)
{
    if (*pos + n >= size)
        return SP_ENOSPC;
    memcpy(buf + *pos, src, n);
    *pos += n;
    buf[*pos] = '\0';
    return 0;
}

/* Write v in decimal into tmp (at least 11 bytes); returns the length. */
static size_t fmt_decimal(char *tmp, unsigned long v)
{
    char rev[12];
    size_t n = 0, i;
    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (i = 0; i < n; i++)
        tmp[i] = rev[n - 1 - i];
    return n;
}

static size_t fmt_ipv4(char *tmp, const unsigned char *b)
{
    size_t n = 0;
    int i;
    for (i = 0; i < 4; i++) {
        if (i > 0)
            tmp[n++] = '.';
        n += fmt_decimal(tmp + n, b[i]);
    }
    return n;
}

/* RFC 5952: lower case, no leading zeros, the longest run (>= 2) of zero groups as "::"
 * (the first of equal runs), IPv4-mapped addresses with a dotted quad. */
static size_t fmt_ipv6(char *tmp, const unsigned char *b)
{
    static const char hex[] = "0123456789abcdef";
    unsigned w[8];
    int i, best = -1, bestlen = 0, run = -1, runlen = 0, groups = 8;
    size_t n = 0;
    for (i = 0; i < 8; i++)
        w[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
    if (w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0xffff)
        groups = 6; /* ::ffff:a.b.c.d */
    for (i = 0; i < groups; i++) {
        if (w[i] == 0) {
            if (run < 0) {
                run = i;
                runlen = 0;
            }
            if (++runlen > bestlen) {
                best = run;
                bestlen = runlen;
            }
        } else {
            run = -1;
        }
    }
    if (bestlen < 2)
        best = -1;
    for (i = 0; i < groups; i++) {
        if (i == best) {
            tmp[n++] = ':';
            if (i == 0)
                tmp[n++] = ':';
            i += bestlen - 1;
            continue;
        }
        {
            int shift, started = 0;
            for (shift = 12; shift >= 0; shift -= 4) {
                unsigned d = (w[i] >> shift) & 0xf;
                if (d != 0 || started || shift == 0) {
                    tmp[n++] = hex[d];
                    started = 1;
                }
            }
        }
        if (i < 7)
            tmp[n++] = ':';
    }
    if (groups == 6)
        n += fmt_ipv4(tmp + n, b + 12);
    return n;
}

int sp_addr_format(const sp_addr *a, char *buf, size_t size)
{
    char tmp[80];
    size_t pos = 0, n = 0;
    sp__ipaddr ip;
    int rc;
    if (a == NULL || buf == NULL)
        return SP_EINVAL;
    if (size > 0)
        buf[0] = '\0';
    if (sp_addr_family(a) == SP_AF_UNIX) {
        char path[SP_ADDR_STRLEN];
        int len = sp__addr_unix_path(a, path, sizeof path);
        if (len < 0)
            return len;
        rc = put(buf, size, &pos, "unix:", 5);
        if (rc == 0)
            rc = put(buf, size, &pos, path, (size_t)len);
        if (rc != 0 && size > 0)
            buf[0] = '\0';
        return rc != 0 ? rc : (int)pos;
    }
    rc = sp__addr_to_ip(a, &ip);
    if (rc != 0)
        return rc;
    if (ip.family == SP_AF_INET) {
        n = fmt_ipv4(tmp, ip.ip);
    } else {
        tmp[n++] = '[';
        n += fmt_ipv6(tmp + n, ip.ip);
        if (ip.scope != 0) {
            tmp[n++] = '%';
            n += fmt_decimal(tmp + n, ip.scope);
        }
        tmp[n++] = ']';
    }
    tmp[n++] = ':';
    n += fmt_decimal(tmp + n, (unsigned long)ip.port);
    rc = put(buf, size, &pos, tmp, n);
    if (rc != 0) {
        if (size > 0)
            buf[0] = '\0';
        return rc;
    }
    return (int)pos;
}

int sp_addr_ip(sp_addr *out, int family, const void *ipbytes, int port)
{
    sp__ipaddr ip;
    if (out == NULL || ipbytes == NULL || port < 0 || port > 65535 ||
        (family != SP_AF_INET && family != SP_AF_INET6))
        return SP_EINVAL;
    memset(&ip, 0, sizeof ip);
    ip.family = family;
    ip.port = port;
    memcpy(ip.ip, ipbytes, family == SP_AF_INET ? 4 : 16);
    return sp__addr_from_ip(out, &ip);
}

int sp_addr_family(const sp_addr *a)
{
    size_t n, i;
    const sp__afrow *rows = sp__af_rows(&n);
    int af;
    if (a == NULL || a->len < 2 || a->len > sizeof a->u.bytes) /* no room for a family */
        return SP_AF_UNSPEC;
    af = sp__addr_native_af(a);
    for (i = 0; i < n; i++)
        if (rows[i].native == af)
            return a->len >= rows[i].min_len ? rows[i].family : SP_AF_UNSPEC;
    return SP_AF_UNSPEC;
}

int sp_addr_unix(sp_addr *out, const char *path)
{
    if (out == NULL || path == NULL || path[0] == '\0')
        return SP_EINVAL;
    return sp__addr_unix(out, path);
}

int sp_addr_loopback(sp_addr *out, int family, int port)
{
    static const unsigned char v4[4] = {127, 0, 0, 1};
    static const unsigned char v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return sp_addr_ip(out, family, family == SP_AF_INET6 ? v6 : v4, port);
}

int sp_addr_any(sp_addr *out, int family, int port)
{
    static const unsigned char zero[16] = {0};
    return sp_addr_ip(out, family, zero, port);
}

int sp_addr_port(const sp_addr *a)
{
    sp__ipaddr ip;
    if (a == NULL || sp__addr_to_ip(a, &ip) != 0)
        return 0;
    return ip.port;
}

int sp_addr_set_port(sp_addr *a, int port)
{
    sp__ipaddr ip;
    if (a == NULL || port < 0 || port > 65535 || sp__addr_to_ip(a, &ip) != 0)
        return SP_EINVAL;
    ip.port = port;
    return sp__addr_from_ip(a, &ip);
}

int sp_addr_equal(const sp_addr *a, const sp_addr *b)
{
    sp__ipaddr x, y;
    int fa, fb;
    if (a == NULL || b == NULL)
        return 0;
    fa = sp_addr_family(a);
    fb = sp_addr_family(b);
    if (fa != fb)
        return 0;
    if (fa == SP_AF_UNIX) {
        char pa[SP_ADDR_STRLEN], pb[SP_ADDR_STRLEN];
        int la = sp__addr_unix_path(a, pa, sizeof pa);
        int lb = sp__addr_unix_path(b, pb, sizeof pb);
        return la >= 0 && la == lb && memcmp(pa, pb, (size_t)la) == 0;
    }
    if (sp__addr_to_ip(a, &x) != 0 || sp__addr_to_ip(b, &y) != 0)
        return fa == SP_AF_UNSPEC;
    return x.port == y.port && x.scope == y.scope &&
           memcmp(x.ip, y.ip, x.family == SP_AF_INET ? 4 : 16) == 0;
}

int sp__addr_list_add(sp_addr *out, size_t cap, int n, const sp_addr *a)
{
    size_t i, stored = (size_t)n < cap ? (size_t)n : cap;
    for (i = 0; i < stored; i++)
        if (sp_addr_equal(&out[i], a))
            return n;
    if ((size_t)n < cap)
        out[n] = *a;
    return n + 1;
}

/* Duplicates are dropped by comparing with the addresses kept, so a list shorter than the
 * answer would count the duplicates it cannot see: a short list is resolved into one of
 * this many first (the count is then exact for any answer this size or less). */
#define SP__RESOLVE_SCRATCH 32

int sp_addr_resolve(const char *text, int family, int type, sp_addr *out, size_t cap)
{
    char host[256];
    sp_addr one, *scratch;
    int port, rc;
    if (text == NULL || (out == NULL && cap > 0) ||
        (family != SP_AF_UNSPEC && family != SP_AF_INET && family != SP_AF_INET6) ||
        (type != SP_SOCK_STREAM && type != SP_SOCK_DGRAM))
        return SP_EINVAL;
    if (sp_addr_parse(&one, text) == 0) {
        int f = sp_addr_family(&one);
        if (family != SP_AF_UNSPEC && f != SP_AF_UNIX && f != family)
            return SP_EAI_FAMILY;
        if (cap > 0)
            out[0] = one;
        return 1;
    }
    if (strncmp(text, "unix:", 5) == 0)
        return sp_addr_parse(&one, text); /* the path did not fit */
    rc = sp__split_hostport(text, host, sizeof host, &port);
    if (rc != 0)
        return rc;
    if (cap >= SP__RESOLVE_SCRATCH)
        return sp__resolve(host, port, family, type, out, cap);
    scratch = (sp_addr *)malloc(SP__RESOLVE_SCRATCH * sizeof *scratch);
    if (scratch == NULL)
        return SP_ENOMEM;
    rc = sp__resolve(host, port, family, type, scratch, SP__RESOLVE_SCRATCH);
    if (rc > 0 && cap > 0)
        memcpy(out, scratch, ((size_t)rc < cap ? (size_t)rc : cap) * sizeof *scratch);
    free(scratch);
    return rc;
}
