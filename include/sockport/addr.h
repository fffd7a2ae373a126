/*
 * sockport/addr.h - socket addresses: parse, format, build, resolve.
 *
 * An sp_addr holds one IPv4, IPv6 or Unix-domain address in the system's own sockaddr
 * layout, so it goes to the kernel without a copy. Text forms:
 *
 *   1.2.3.4:80        IPv4 and port
 *   [::1]:80          IPv6 and port (a numeric zone may follow: [fe80::1%2]:80)
 *   *:80              any IPv4 address (0.0.0.0), for listening
 *   [::]:80           any IPv6 address
 *   unix:/run/x.sock  a Unix-domain socket path (Windows 10 1803+ has them too)
 *   host:80           a name: only sp_addr_resolve() takes it, sp_addr_parse() never
 *                     touches DNS
 */
#ifndef SOCKPORT_ADDR_H
#define SOCKPORT_ADDR_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Address families, the same numbers on every OS (not AF_* values). */
enum sp_family {
    SP_AF_UNSPEC = 0, /* any: for resolve */
    SP_AF_INET = 4,
    SP_AF_INET6 = 6,
    SP_AF_UNIX = 1
};

/* Socket types for sp_socket_open / sp_addr_resolve. */
enum sp_type {
    SP_SOCK_STREAM = 1, /* TCP, or a Unix stream socket */
    SP_SOCK_DGRAM = 2   /* UDP, or a Unix datagram socket */
};

/* The longest text an sp_addr formats to, terminator included ("unix:" + 108-byte path). */
#define SP_ADDR_STRLEN 120

/*
 * sp_addr: one address. `len` is the sockaddr length in use (0: empty). The storage is
 * opaque; read it with the functions below.
 */
typedef struct sp_addr {
    union {
        unsigned char bytes[128];
        uint64_t align_;
    } u;
    uint32_t len;
} sp_addr;

/* sp_addr_family: SP_AF_INET, SP_AF_INET6, SP_AF_UNIX, or SP_AF_UNSPEC when empty. */
SP_API int sp_addr_family(const sp_addr *a);

/* sp_addr_port: the port in host order; 0 for Unix addresses and empty ones. */
SP_API int sp_addr_port(const sp_addr *a);

/* sp_addr_set_port: change the port of an IP address. SP_EINVAL for other families or a
 * port outside 0..65535. */
SP_API int sp_addr_set_port(sp_addr *a, int port);

/*
 * sp_addr_parse: fill `out` from numeric text (see the forms above). Never resolves a
 * name. Returns 0, or SP_EINVAL for malformed text (a bad number, a port over 65535, a
 * missing port, trailing bytes), SP_ENAMETOOLONG for a Unix path that does not fit.
 */
SP_API int sp_addr_parse(sp_addr *out, const char *text);

/*
 * sp_addr_format: write the text form of `a` into buf (always terminated when size > 0).
 * IPv6 is written in its RFC 5952 form ("[2001:db8::1]:80"). Returns the length written
 * (without the terminator), SP_ENOSPC when buf is too small, SP_EINVAL for an empty or
 * unknown address.
 */
SP_API int sp_addr_format(const sp_addr *a, char *buf, size_t size);

/*
 * sp_addr_ip: build an IP address from network-order bytes: 4 for SP_AF_INET, 16 for
 * SP_AF_INET6 (scope 0). Returns 0 or SP_EINVAL.
 */
SP_API int sp_addr_ip(sp_addr *out, int family, const void *ip, int port);

/* sp_addr_loopback: 127.0.0.1 or ::1 with the port. Returns 0 or SP_EINVAL. */
SP_API int sp_addr_loopback(sp_addr *out, int family, int port);

/* sp_addr_any: 0.0.0.0 or :: with the port (for listening). Returns 0 or SP_EINVAL. */
SP_API int sp_addr_any(sp_addr *out, int family, int port);

/* sp_addr_unix: a Unix-domain address for `path`. SP_ENAMETOOLONG when it does not fit. */
SP_API int sp_addr_unix(sp_addr *out, const char *path);

/* sp_addr_equal: 1 when both hold the same family, address, port (and scope, path). */
SP_API int sp_addr_equal(const sp_addr *a, const sp_addr *b);

/*
 * sp_addr_resolve: every address for "host:port" ("[v6]:port", "unix:/path", numeric
 * forms too), in the order getaddrinfo returns them, duplicates dropped. `family` is
 * SP_AF_UNSPEC, SP_AF_INET or SP_AF_INET6; `type` SP_SOCK_STREAM or SP_SOCK_DGRAM.
 * Fills at most `cap` entries of `out` and returns how many addresses exist (which may be
 * more than cap, like snprintf), or SP_EINVAL for malformed text, SP_EAI_* from the
 * resolver, SP_ENOTINIT before sp_init on Windows. The port must be numeric.
 */
SP_API int sp_addr_resolve(const char *text, int family, int type, sp_addr *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_ADDR_H */
