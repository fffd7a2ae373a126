/*
 * sockplan.h - the socket layer's OS decisions as pure functions: which options a bind
 * sets, what SO_LINGER value macOS needs, what a partly applied keepalive returns, which
 * ioctls quiet a Windows UDP socket. No system call and no platform header: each backend
 * calls these with its own facts (its OS, the socket's type, what the system accepted),
 * and tests/test_platform_sock.cc replays every OS through them on any host, each row
 * citing its source. docs/platforms.md is the table of record.
 */
#ifndef SOCKPORT_SOCKPLAN_H
#define SOCKPORT_SOCKPLAN_H

#include "sockport/socket.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The families of bind semantics (the backends pick theirs at compile time). */
enum sp__os {
    SP__OS_LINUX = 0,  /* Linux: SO_REUSEADDR on both sockets shares a port not listened on */
    SP__OS_BSD = 1,    /* XNU, FreeBSD and the other BSDs: in_pcbbind's rules */
    SP__OS_WINDOWS = 2 /* Winsock: SO_EXCLUSIVEADDRUSE, enhanced socket security */
};

/* sp__bind_plan's answer: what to do around bind(). */
#define SP__BIND_REUSEADDR 1u /* set SO_REUSEADDR */
#define SP__BIND_REUSEPORT 2u /* set SO_REUSEPORT */
#define SP__BIND_EXCLUSIVE 4u /* set SO_EXCLUSIVEADDRUSE */
#define SP__BIND_RETRY_PLAIN                                                                       \
    8u                       /* if the bind fails with "address in use": clear                     \
                                SO_EXCLUSIVEADDRUSE and bind once more */
#define SP__BIND_INVALID 16u /* the flags do not fit this socket: SP_EINVAL */

/*
 * The options of a bind on `os` for a socket that is IP (ip = 1; a Unix socket gets none)
 * and a stream (stream = 1) or a datagram socket, with the sp_bind() flags (already
 * checked against the known ones).
 *  - Stream, default: a restart binds past old connections; nobody binds the same address.
 *    POSIX: SO_REUSEADDR (TIME_WAIT otherwise refuses the bind). Windows: SO_EXCLUSIVEADDRUSE,
 *    then on WSAEADDRINUSE a plain bind (Microsoft, "Using SO_REUSEADDR and
 *    SO_EXCLUSIVEADDRUSE": an exclusive socket "cannot necessarily be reused immediately
 *    after socket closure"; a plain bind is not blocked by old connections and still
 *    refuses every socket on the same address, "Sharing Transport Addresses").
 *  - SP_BIND_NOREUSE: POSIX no option; Windows exclusive without the retry.
 *  - Datagram, default: POSIX no option (SO_REUSEADDR there lets a second socket share
 *    the port on Linux, and take its datagrams); Windows SO_EXCLUSIVEADDRUSE.
 *  - SP_BIND_SHARED (datagram sockets only; a stream socket is SP__BIND_INVALID):
 *    SO_REUSEADDR; on the BSDs also SO_REUSEPORT, which in_pcbbind needs for a second
 *    socket on the same unicast address (XNU bsd/netinet/in_pcb.c); never
 *    SO_EXCLUSIVEADDRUSE (the two together fail with WSAEINVAL on Windows).
 */
static inline unsigned sp__bind_plan(int os, int ip, int stream, unsigned flags)
{
    int reuse = !(flags & SP_BIND_NOREUSE);
    if (flags & SP_BIND_SHARED) {
        if (stream || (flags & SP_BIND_NOREUSE))
            return SP__BIND_INVALID;
        if (!ip)
            return 0;
        return os == SP__OS_BSD ? SP__BIND_REUSEADDR | SP__BIND_REUSEPORT : SP__BIND_REUSEADDR;
    }
    if (!ip)
        return 0;
    if (os == SP__OS_WINDOWS)
        return SP__BIND_EXCLUSIVE | (stream && reuse ? SP__BIND_RETRY_PLAIN : 0u);
    return stream && reuse ? SP__BIND_REUSEADDR : 0u;
}

/*
 * The l_linger to give SO_LINGER_SEC on XNU for `seconds`: sosetoptlock stores
 * (short)(l_linger * hz) with hz = 100 (bsd/kern/uipc_socket.c, bsd/kern/kern_clock.c),
 * so more than 327 s would wrap and linger not at all; it is clamped. (XNU's plain
 * SO_LINGER takes ticks: 5 would be 50 ms, which is why sockport does not use it there.)
 * Other systems take the seconds as they are.
 */
#define SP__XNU_LINGER_MAX_S 327
static inline int sp__linger_sec_value(int seconds)
{
    return seconds > SP__XNU_LINGER_MAX_S ? SP__XNU_LINGER_MAX_S : seconds;
}

/* What sp_set_keepalive returns once keepalive is on: `asked` and `applied` are sets of
 * SP__KA_* (a timing value asked is one > 0; applied: the system took it). */
#define SP__KA_IDLE  1u
#define SP__KA_INTVL 2u
#define SP__KA_CNT   4u
static inline int sp__keepalive_result(unsigned asked, unsigned applied)
{
    return (asked & ~applied) != 0 ? SP_KEEPALIVE_PARTIAL : 0;
}

/*
 * The WSAIoctl codes that keep an unconnected Windows UDP socket from failing a later
 * recvfrom because of an ICMP reply to an earlier sendto (each turned off with a FALSE
 * BOOL), as Microsoft's "Winsock IOCTLs" page documents them: port unreachable
 * (WSAECONNRESET) and TTL expired / network unreachable (WSAENETRESET). The win32 backend
 * checks them against its SDK's SIO_UDP_* at compile time.
 */
#define SP__SIO_UDP_CONNRESET 0x9800000Cu /* _WSAIOW(IOC_VENDOR, 12) */
#define SP__SIO_UDP_NETRESET  0x9800000Fu /* _WSAIOW(IOC_VENDOR, 15) */

/* Whether a UDP socket must be given up when turning the ioctl `code` off failed with the
 * Winsock error `wsa_err`: SIO_UDP_CONNRESET always (every Windows since 2000 has it);
 * SIO_UDP_NETRESET only for an error other than "not known here" (WSAEINVAL 10022,
 * WSAEOPNOTSUPP 10045): a system without it keeps the socket and its old behaviour. */
static inline int sp__udp_ioctl_fatal(unsigned long code, int wsa_err)
{
    if (code == SP__SIO_UDP_NETRESET)
        return wsa_err != 10022 && wsa_err != 10045;
    return 1;
}

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_SOCKPLAN_H */
