/*
 * socketpair.c (Windows) - sp_socketpair's emulation: Windows has no socketpair(), and
 * its AF_UNIX has none either. A listener on a fresh Unix path (Windows 10 1803+) or on
 * 127.0.0.1 with a port the system picks, one connect, one accept. Another local process
 * could connect to that listener first: the accepted peer is checked (its process id for
 * a Unix socket, its address for TCP) and a stranger's connection is closed.
 */
#include "internal.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <mstcpip.h>
#include <windows.h>

#include <stdio.h>

#ifndef SIO_AF_UNIX_GETPEERPID
#    define SIO_AF_UNIX_GETPEERPID _WSAIOR(IOC_VENDOR, 256) /* older mingw-w64 afunix.h */
#endif

#define SP__PAIR_ACCEPTS 16   /* connections sp_socketpair looks at */
#define SP__PAIR_WAIT_MS 5000 /* bound on each of its accepts */

static void close_quietly(sp_socket_t *s)
{
    if (*s != SP_INVALID_SOCKET) {
        closesocket((SOCKET)*s);
        *s = SP_INVALID_SOCKET;
    }
}

/* A fresh path in the temp folder for a listening Unix socket; 0 or an SP_E* code. */
static int unique_unix_addr(sp_addr *a)
{
    static volatile LONG counter;
    char dir[MAX_PATH + 1], path[MAX_PATH + 64];
    DWORD n = GetTempPathA((DWORD)sizeof dir, dir);
    DWORD i;
    if (n == 0 || n >= sizeof dir)
        return SP_ENAMETOOLONG;
    for (i = 0; i < n; i++) /* keep to ASCII: the ANSI code page may not round-trip */
        if ((unsigned char)dir[i] >= 0x80)
            return SP_EINVAL;
    /* fits: dir is under MAX_PATH and the suffix under 64 bytes */
    (void)snprintf(path, sizeof path, "%ssockport-%lu-%lu-%ld.sock", dir,
                   (unsigned long)GetCurrentProcessId(), (unsigned long)GetTickCount64(),
                   (long)InterlockedIncrement(&counter));
    return sp_addr_unix(a, path); /* SP_ENAMETOOLONG past 107 bytes: TCP is used then */
}

/*
 * Whether the accepted Unix connection comes from this process and not from one that
 * found the path first: 1 yes, 0 no, or an SP_E* code. SIO_AF_UNIX_GETPEERPID exists
 * wherever AF_UNIX does.
 */
static int unix_peer_is_me(sp_socket_t c)
{
    ULONG pid = 0;
    DWORD bytes = 0;
    if (WSAIoctl((SOCKET)c, SIO_AF_UNIX_GETPEERPID, NULL, 0, &pid, sizeof pid, &bytes, NULL,
                 NULL) == SOCKET_ERROR)
        return sp__fail_last();
    if (bytes != sizeof pid) /* a provider that does not answer: use TCP instead */
        return sp__fail(WSAEOPNOTSUPP);
    return pid == GetCurrentProcessId();
}

/*
 * Accept the connection that `client` made, closing any other that comes first (another
 * local process can connect to the listener too). Our connect has completed, so ours is
 * already queued; the wait only bounds the loop if the check should never match.
 */
static int pair_accept(sp_socket_t l, sp_socket_t client, int family, sp_socket_t *server)
{
    sp_addr want, got;
    int tries, rc;
    if (family != SP_AF_UNIX) {
        rc = sp_local_addr(client, &want);
        if (rc != 0)
            return rc;
    }
    for (tries = 0; tries < SP__PAIR_ACCEPTS; tries++) {
        rc = sp_wait(l, SP_EV_READ, SP__PAIR_WAIT_MS);
        if (rc == 0)
            return sp__fail(WSAETIMEDOUT);
        if (rc > 0)
            rc = sp_accept(l, server, &got, 0);
        if (rc < 0)
            return rc;
        rc = family == SP_AF_UNIX ? unix_peer_is_me(*server) : sp_addr_equal(&got, &want);
        if (rc == 1)
            return 0;
        close_quietly(server); /* somebody else's connection, or the check failed */
        if (rc < 0)
            return rc;
    }
    return sp__fail(WSAECONNABORTED);
}

/* A connected pair over SP_AF_UNIX or SP_AF_INET (loopback): 0, or the error. */
static int pair_over(sp_socket_t pair[2], int family)
{
    sp_socket_t l = SP_INVALID_SOCKET, c = SP_INVALID_SOCKET, srv = SP_INVALID_SOCKET;
    sp_addr where;
    int rc, bound = 0;
    rc = family == SP_AF_UNIX ? unique_unix_addr(&where) : sp_addr_loopback(&where, family, 0);
    if (rc == 0)
        rc = sp_socket_open(&l, family, SP_SOCK_STREAM);
    if (rc == 0)
        rc = sp_bind(l, &where, 0);          /* SO_EXCLUSIVEADDRUSE on the TCP one */
    bound = rc == 0 && family == SP_AF_UNIX; /* the socket file exists: delete it below */
    if (rc == 0)
        rc = sp__listen(l, 1);
    if (rc == 0 && family != SP_AF_UNIX)
        rc = sp_local_addr(l, &where); /* the port the system chose */
    if (rc == 0)
        rc = sp_socket_open(&c, family, SP_SOCK_STREAM);
    if (rc == 0)
        rc = sp_connect(c, &where);
    if (rc == 0)
        rc = pair_accept(l, c, family, &srv);
    if (rc == 0 && family != SP_AF_UNIX) /* behave like a pipe: no Nagle delay */
        rc = sp_set_nodelay(c, 1);
    if (rc == 0 && family != SP_AF_UNIX)
        rc = sp_set_nodelay(srv, 1);
    close_quietly(&l);
    if (bound) {
        char path[SP_ADDR_STRLEN];
        if (sp__addr_unix_path(&where, path, sizeof path) > 0)
            DeleteFileA(path);
    }
    if (rc != 0) {
        close_quietly(&c);
        close_quietly(&srv);
        return rc;
    }
    pair[0] = c;
    pair[1] = srv;
    return 0;
}

int sp__socketpair(sp_socket_t pair[2])
{
    int saved = sp_last_native_error(), rc;
    /* A Unix socket where the system has them (Windows 10 1803+); else (older Windows,
     * Wine, a temp path too long for sun_path) TCP over 127.0.0.1. */
    if (pair_over(pair, SP_AF_UNIX) == 0) {
        (void)sp__fail(saved);
        return 0;
    }
    rc = pair_over(pair, SP_AF_INET);
    if (rc == 0)
        (void)sp__fail(saved);
    return rc;
}
