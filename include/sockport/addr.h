/**
 * @file sockport/addr.h
 * @brief Socket addresses: parse, format, build, resolve.
 *
 * An sp_addr holds one IPv4, IPv6 or Unix-domain address in the system's own sockaddr
 * layout, so it goes to the kernel without a copy. Text forms:
 *
 *     1.2.3.4:80        IPv4 and port
 *     [::1]:80          IPv6 and port (a numeric zone may follow: [fe80::1%2]:80)
 *     *:80              any IPv4 address (0.0.0.0), for listening
 *     [::]:80           any IPv6 address
 *     unix:/run/x.sock  a Unix-domain socket path (Windows 10 1803+ has them too)
 *     host:80           a name: only sp_addr_resolve() takes it, sp_addr_parse() never
 *                       touches DNS
 */
#ifndef SOCKPORT_ADDR_H
#define SOCKPORT_ADDR_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Address families, the same numbers on every OS (not AF_* values). */
enum sp_family {
    SP_AF_UNSPEC = 0, /**< none, or any: for resolve */
    SP_AF_INET = 4,   /**< IPv4 */
    SP_AF_INET6 = 6,  /**< IPv6 */
    SP_AF_UNIX = 1    /**< Unix-domain (Windows 10 1803+) */
};

/** Socket types for sp_socket_open() / sp_addr_resolve(). */
enum sp_type {
    SP_SOCK_STREAM = 1, /**< TCP, or a Unix stream socket */
    SP_SOCK_DGRAM = 2   /**< UDP, or a Unix datagram socket */
};

/** The longest text an sp_addr formats to, terminator included ("unix:" + 108-byte path). */
#define SP_ADDR_STRLEN 120

/**
 * One address. `len` is the sockaddr length in use (0: empty). The storage is opaque;
 * read it with the functions below. A zeroed sp_addr is empty.
 */
typedef struct sp_addr {
    /** The storage: a sockaddr_in, sockaddr_in6 or sockaddr_un of this system. */
    union {
        unsigned char bytes[128]; /**< the sockaddr bytes (private) */
        uint64_t align_;          /**< alignment only (private) */
    } u;
    uint32_t len; /**< the sockaddr length in use; 0 for an empty address */
} sp_addr;

/**
 * The family of an address. No errors.
 * @param a the address (NULL is taken as empty).
 * @return SP_AF_INET, SP_AF_INET6, SP_AF_UNIX, or SP_AF_UNSPEC when empty or unknown.
 */
SP_API int sp_addr_family(const sp_addr *a);

/**
 * The port of an IP address. No errors.
 * @param a the address (NULL is taken as empty).
 * @return the port in host order; 0 for Unix addresses and empty ones.
 */
SP_API int sp_addr_port(const sp_addr *a);

/**
 * Change the port of an IP address.
 * @param a    the address.
 * @param port the new port, 0..65535.
 * @return 0, or SP_EINVAL for a NULL or non-IP address or a port outside 0..65535.
 */
SP_API int sp_addr_set_port(sp_addr *a, int port);

/**
 * Fill `out` from numeric text (see the forms above). Never resolves a name.
 * @param out  the address to fill.
 * @param text "1.2.3.4:80", "[::1]:80", "*:80", "unix:/path", ...
 * @return 0, or SP_EINVAL for NULL pointers or malformed text (a name, a bad number, a
 *   port over 65535, a missing port, an unbracketed IPv6 address, trailing bytes; on
 *   Windows an empty Unix path too), SP_ENAMETOOLONG for a Unix path that does not fit
 *   in sockaddr_un.
 */
SP_API int sp_addr_parse(sp_addr *out, const char *text);

/**
 * Write the text form of `a` into buf (always terminated when size > 0; empty on
 * failure). IPv6 is written in its RFC 5952 form ("[2001:db8::1]:80"); the result parses
 * back with sp_addr_parse(), except for an unnamed Unix-domain socket (an end of
 * sp_socketpair(), an unbound client), which has no path: it is written "unix:", which
 * names no socket and which sp_addr_parse() refuses.
 * @param a    the address.
 * @param buf  where to write; SP_ADDR_STRLEN bytes always suffice.
 * @param size the size of buf.
 * @return the length written (without the terminator), SP_ENOSPC when buf is too small,
 *   SP_EINVAL for NULL pointers or an empty or unknown address.
 */
SP_API int sp_addr_format(const sp_addr *a, char *buf, size_t size);

/**
 * Build an IP address from network-order bytes.
 * @param out    the address to fill.
 * @param family SP_AF_INET or SP_AF_INET6.
 * @param ip     4 bytes for SP_AF_INET, 16 for SP_AF_INET6 (scope 0), network order.
 * @param port   0..65535.
 * @return 0, or SP_EINVAL for NULL pointers, another family or a port out of range.
 */
SP_API int sp_addr_ip(sp_addr *out, int family, const void *ip, int port);

/**
 * The loopback address 127.0.0.1 or ::1 with a port.
 * @param out    the address to fill.
 * @param family SP_AF_INET or SP_AF_INET6.
 * @param port   0..65535.
 * @return 0, or SP_EINVAL (NULL, another family, a port out of range).
 */
SP_API int sp_addr_loopback(sp_addr *out, int family, int port);

/**
 * The any-address 0.0.0.0 or :: with a port (for listening).
 * @param out    the address to fill.
 * @param family SP_AF_INET or SP_AF_INET6.
 * @param port   0..65535 (0: any free port when bound).
 * @return 0, or SP_EINVAL (NULL, another family, a port out of range).
 */
SP_API int sp_addr_any(sp_addr *out, int family, int port);

/**
 * A Unix-domain address for a path.
 * @param out  the address to fill.
 * @param path the path (shorter than sockaddr_un's sun_path: 108 bytes on Linux and
 *   Windows, 104 on macOS).
 * @return 0, SP_ENAMETOOLONG when the path does not fit, SP_EINVAL for NULL pointers or
 *   an empty path (on every OS: an empty path names no socket file).
 */
SP_API int sp_addr_unix(sp_addr *out, const char *path);

/**
 * Compare two addresses. No errors.
 * @param a an address (NULL is equal to nothing).
 * @param b another.
 * @return 1 when both hold the same family, address, port (and scope, path), or are both
 *   empty; else 0.
 */
SP_API int sp_addr_equal(const sp_addr *a, const sp_addr *b);

/**
 * Every address for "host:port" ("[v6]:port", "unix:/path", numeric forms too), in the
 * order getaddrinfo returns them, duplicates dropped. The port must be numeric. Numeric
 * text is parsed without asking the resolver.
 * @param text   "host:port", "[v6]:port", "unix:/path".
 * @param family SP_AF_UNSPEC, SP_AF_INET or SP_AF_INET6.
 * @param type   SP_SOCK_STREAM or SP_SOCK_DGRAM.
 * @param out    where to store the addresses (may be NULL when cap is 0).
 * @param cap    how many entries of out may be filled.
 * @return how many addresses exist (which may be more than cap, like snprintf), or:
 *   SP_EINVAL for NULL text, a bad family or type, malformed text or a non-numeric port;
 *   SP_ENAMETOOLONG for a Unix path that does not fit; SP_EAI_FAMILY for numeric text of
 *   another family than asked; SP_EAI_NONAME, SP_EAI_AGAIN, SP_EAI_FAIL, SP_EAI_NODATA,
 *   ... and SP_ENOMEM from the resolver; SP_ENOTINIT on Windows before sp_init().
 */
SP_API int sp_addr_resolve(const char *text, int family, int type, sp_addr *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_ADDR_H */
