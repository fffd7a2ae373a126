/*
 * poll.c (Windows) - sp_select over Winsock select() (no 64-socket cap, no three-empty-sets
 * failure, failed connects and dead sockets answered), the choice of poller backend
 * (WSAPoll only where it reports failed connects), and the waker (a socket pair).
 */
#include "poller.h"

/* WSAPoll's declarations need _WIN32_WINNT >= Vista (CMake sets Windows 7); it is used
 * only from Windows 10 2004 on, see below. */
#include <winsock2.h>
#include <windows.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- sp__select ------------------------------------------------------------------------ */

#define SET_COUNT(set) ((set) ? (set)->count : 0)

/* Membership / result bits of a distinct socket: one per set. */
#define IN_RD 1u
#define IN_WR 2u
#define IN_EX 4u

/*
 * One distinct socket of the call (a socket may be in several sets; the table is sorted by
 * handle so that select's answers, which hold handles, are found by binary search).
 */
typedef struct sel_sock {
    SOCKET s;
    unsigned in;  /* IN_*: the sets that hold it */
    unsigned hit; /* IN_*: where select found it */
    int dead;     /* closed, or not a socket */
    int error;    /* its pending error, once known */
} sel_sock;

static int cmp_sock(const void *a, const void *b)
{
    SOCKET x = ((const sel_sock *)a)->s, y = ((const sel_sock *)b)->s;
    return x < y ? -1 : x > y;
}

static sel_sock *find_sock(sel_sock *tab, size_t n, SOCKET s)
{
    sel_sock key;
    memset(&key, 0, sizeof key);
    key.s = s;
    return (sel_sock *)bsearch(&key, tab, n, sizeof *tab, cmp_sock);
}

/* Bytes of an fd_set of n sockets (select reads fd_count, not FD_SETSIZE), rounded up so
 * that the next fd_set of the block stays aligned. */
static size_t fdset_bytes(size_t n)
{
    size_t b = offsetof(fd_set, fd_array) + n * sizeof(SOCKET);
    return (b + sizeof(SOCKET) - 1) / sizeof(SOCKET) * sizeof(SOCKET);
}

/*
 * Sleep for the timeout (negative: for ever). One Sleep: it counts in clock ticks and may
 * end up to one tick early or late, as select itself does; re-sleeping against
 * sp__now_ms (GetTickCount64, which also moves in ticks) would only add up to a tick.
 */
static void sleep_ms(int timeout_ms)
{
    if (timeout_ms < 0) {
        for (;;)
            Sleep(INFINITE);
    }
    if (timeout_ms > 0)
        Sleep((DWORD)timeout_ms);
}

/*
 * Which of the live sockets are dead: select failed with WSAENOTSOCK, which names no
 * socket. getsockopt(SO_TYPE) fails with WSAENOTSOCK on a closed handle. Returns how many
 * were found (0: the failure came from elsewhere).
 */
static size_t find_dead(sel_sock *tab, size_t n)
{
    size_t i, found = 0;
    for (i = 0; i < n; i++) {
        int type = 0, len = (int)sizeof type;
        if (tab[i].dead)
            continue;
        if (getsockopt(tab[i].s, SOL_SOCKET, SO_TYPE, (char *)&type, &len) == SOCKET_ERROR &&
            WSAGetLastError() == WSAENOTSOCK) {
            tab[i].dead = 1;
            found++;
        }
    }
    return found;
}

/*
 * The error of a socket that select put in the except set: a failed connect (SO_ERROR
 * holds its reason) or out-of-band data (no error).
 *
 * With SP__SELECT_TAKE_ERRORS the error is taken as sp_socket_error takes it (read, then
 * cleared: Winsock keeps it otherwise) and recorded as the thread's native error. Without
 * it SO_ERROR is only looked at and the error is left for the caller: SP_EUNKNOWN.
 *
 * SO_ERROR may be 0 because somebody took the error already; the connect has still
 * failed, and the socket stays in the except set. Out-of-band data needs a connected
 * socket, so an unconnected socket here is a failed connect: SP_EUNKNOWN, as on POSIX.
 */
static int except_error(SOCKET s, unsigned flags)
{
    struct sockaddr_storage peer;
    int len, rc;
    if (flags & SP__SELECT_TAKE_ERRORS) {
        rc = sp_socket_error((sp_socket_t)s);
    } else {
        DWORD err = 0;
        len = (int)sizeof err;
        if (getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&err, &len) == SOCKET_ERROR)
            return WSAGetLastError() == WSAENOTSOCK ? SP_EBADF : SP_EUNKNOWN;
        rc = err != 0 ? SP_EUNKNOWN : 0;
    }
    if (rc != 0)
        return rc;
    len = (int)sizeof peer;
    if (getpeername(s, (struct sockaddr *)&peer, &len) == SOCKET_ERROR &&
        WSAGetLastError() == WSAENOTCONN)
        return SP_EUNKNOWN;
    return 0; /* out-of-band data */
}

/* The sockets of an fd_set of the block, through a pointer: fd_array is declared with
 * FD_SETSIZE (64) entries, and the block holds more. */
static SOCKET *fdset_array(fd_set *fds)
{
    return (SOCKET *)(void *)((char *)fds + offsetof(fd_set, fd_array));
}

/* Fill fds with the live sockets of tab that have one of the `in` bits. */
static fd_set *fill_fdset(fd_set *fds, const sel_sock *tab, size_t n, unsigned in)
{
    SOCKET *arr = fdset_array(fds);
    u_int count = 0;
    size_t i;
    for (i = 0; i < n; i++)
        if (!tab[i].dead && (tab[i].in & in) != 0)
            arr[count++] = tab[i].s;
    fds->fd_count = count;
    return count != 0 ? fds : NULL;
}

/* Mark `bit` on every socket select left in fds. */
static void mark_hits(fd_set *fds, sel_sock *tab, size_t n, unsigned bit)
{
    const SOCKET *arr;
    u_int i;
    if (fds == NULL)
        return;
    arr = fdset_array(fds);
    for (i = 0; i < fds->fd_count; i++) {
        sel_sock *e = find_sock(tab, n, arr[i]);
        if (e != NULL)
            e->hit |= bit;
    }
}

/* Answer every slot of set from the table; returns how many are ready. */
static int answer_set(sp_sockset *set, sel_sock *tab, size_t n, unsigned bit)
{
    size_t i;
    int ready = 0;
    for (i = 0; i < SET_COUNT(set); i++) {
        struct sp__sockslot *slot = &set->slots[i];
        const sel_sock *e = find_sock(tab, n, (SOCKET)slot->sock);
        /* assigned, not OR-ed: the answer does not depend on what the slot held */
        slot->error = e->dead ? SP_EBADF : e->error;
        slot->ready = sp__winsel_ready(e->hit, bit, e->dead, e->error);
        ready += slot->ready;
    }
    return ready;
}

/*
 * select() on the live sockets until something is ready, the deadline passes or a dead
 * socket is found. rd/wr/ex are the three fd_sets of the block. Returns 0 or an error.
 *
 * Every live socket goes into the except set: Windows reports a failed non-blocking
 * connect there and nowhere else (not in the write set), and a socket with an error is
 * ready in every set that holds it. That also means select never sees three empty sets.
 *
 * Dead sockets: select fails with WSAENOTSOCK as a whole. They are found, set aside, and
 * select runs again on the live ones with a zero timeout: a dead socket is ready, so the
 * call must not wait (poll() on POSIX returns at once with POLLNVAL too); the live ones
 * are still answered. With none left alive there is nothing more to ask.
 */
static int run_select(sel_sock *tab, size_t n, fd_set *rd, fd_set *wr, fd_set *ex,
                      sp__deadline deadline)
{
    int have_dead = 0;
    for (;;) {
        struct timeval tv, *tvp = NULL;
        fd_set *r = fill_fdset(rd, tab, n, IN_RD);
        fd_set *w = fill_fdset(wr, tab, n, IN_WR);
        fd_set *x = fill_fdset(ex, tab, n, IN_RD | IN_WR | IN_EX);
        int left = have_dead ? 0 : sp__deadline_left(deadline), got, err;
        if (x == NULL)
            return 0; /* every socket is dead: they are the answer */
        if (left >= 0) {
            tv.tv_sec = left / 1000;
            tv.tv_usec = (left % 1000) * 1000;
            tvp = &tv;
        }
        got = select(0, r, w, x, tvp); /* nfds is ignored by Winsock */
        if (got != SOCKET_ERROR) {
            mark_hits(r, tab, n, IN_RD);
            mark_hits(w, tab, n, IN_WR);
            mark_hits(x, tab, n, IN_EX);
            return 0;
        }
        err = WSAGetLastError();
        if (err == WSAEINTR)
            continue; /* with the time that is left */
        if (err == WSAENOTSOCK && find_dead(tab, n) > 0) {
            have_dead = 1;
            continue;
        }
        return sp__fail(err);
    }
}

int sp__select(sp_sockset *rd, sp_sockset *wr, sp_sockset *ex, int timeout_ms, unsigned flags)
{
    sp_sockset *sets[3];
    static const unsigned bits[3] = {IN_RD, IN_WR, IN_EX};
    sp__deadline deadline = sp__deadline_in(timeout_ms);
    size_t total = SET_COUNT(rd) + SET_COUNT(wr) + SET_COUNT(ex), n = 0, i, j, tab_bytes;
    sel_sock *tab;
    char *block;
    int s, rc, ready = 0;

    sets[0] = rd;
    sets[1] = wr;
    sets[2] = ex;
    if (total == 0) {
        /* Windows' select fails with WSAEINVAL on three empty sets: sleep instead */
        sleep_ms(timeout_ms);
        return 0;
    }
    /* fd_count is a u_int and the answer an int; and the block size must not overflow */
    /* NOLINTBEGIN(misc-redundant-expression): the second bound matters on 32-bit only */
    if (total > (size_t)INT_MAX ||
        total > (SIZE_MAX / 2 - 3 * sizeof(fd_set)) / (sizeof *tab + 3 * sizeof(SOCKET)))
        return SP_ENOMEM;
    /* NOLINTEND(misc-redundant-expression) */

    /* One block: the table, then the three fd_sets, each big enough for its set (the
     * except set for every socket). */
    tab_bytes = total * sizeof *tab;
    tab_bytes = (tab_bytes + sizeof(SOCKET) - 1) / sizeof(SOCKET) * sizeof(SOCKET);
    block = (char *)malloc(tab_bytes + fdset_bytes(SET_COUNT(rd)) + fdset_bytes(SET_COUNT(wr)) +
                           fdset_bytes(total));
    if (block == NULL)
        return SP_ENOMEM;
    tab = (sel_sock *)(void *)block;

    for (s = 0; s < 3; s++) {
        for (i = 0; i < SET_COUNT(sets[s]); i++) {
            tab[n].s = (SOCKET)sets[s]->slots[i].sock;
            tab[n].in = bits[s];
            tab[n].hit = 0;
            tab[n].dead = 0;
            tab[n].error = 0;
            n++;
        }
    }
    qsort(tab, n, sizeof *tab, cmp_sock);
    for (i = 0, j = 0; i < n; i++) { /* merge the duplicates */
        if (j > 0 && tab[j - 1].s == tab[i].s)
            tab[j - 1].in |= tab[i].in;
        else
            tab[j++] = tab[i];
    }
    n = j;

    {
        fd_set *frd = (fd_set *)(void *)(block + tab_bytes);
        fd_set *fwr = (fd_set *)(void *)((char *)frd + fdset_bytes(SET_COUNT(rd)));
        fd_set *fex = (fd_set *)(void *)((char *)fwr + fdset_bytes(SET_COUNT(wr)));
        rc = run_select(tab, n, frd, fwr, fex, deadline);
    }
    if (rc == 0) {
        for (i = 0; i < n; i++)
            if (!tab[i].dead && (tab[i].hit & IN_EX) != 0)
                tab[i].error = except_error(tab[i].s, flags);
        for (s = 0; s < 3; s++)
            ready += answer_set(sets[s], tab, n, bits[s]);
        rc = ready;
    }
    free(block);
    return rc;
}

/* ---- poller backends ------------------------------------------------------------------- */

/*
 * WSAPoll is trusted from Windows 10 2004 (build 19041): before it a failed non-blocking
 * connect is never reported (the wait times out), which is why curl and libuv do not use
 * it. The build comes from RtlGetVersion: GetVersionEx reports what the program's manifest
 * declares, not the system. Wine reports the prefix's "Windows version" setting: Wine 8's
 * default is Windows 7 (6.1, build 7601), so AUTO means select there and WSAPoll is
 * SP_ENOTSUP; set to Windows 10 (winecfg, or HKCU\Software\Wine "Version"="win10") it
 * reports 10.0 build 19043 and WSAPoll is used. Wine's WSAPoll reports a refused connect as
 * POLLERR alone, which poll_wsapoll.c maps to the same SP_EV_WRITE | SP_EV_ERROR.
 */
#define SP__WSAPOLL_MIN_BUILD 19041u

typedef LONG(WINAPI *rtl_get_version_fn)(OSVERSIONINFOW *);

static INIT_ONCE wsapoll_once = INIT_ONCE_STATIC_INIT;
static int wsapoll_safe;

static BOOL CALLBACK wsapoll_probe(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    rtl_get_version_fn get = NULL;
    OSVERSIONINFOW v;
    (void)once;
    (void)param;
    (void)ctx;
    if (ntdll != NULL) /* through void (*)(void): a cast between function types */
        get = (rtl_get_version_fn)(void (*)(void))GetProcAddress(ntdll, "RtlGetVersion");
    memset(&v, 0, sizeof v);
    v.dwOSVersionInfoSize = sizeof v;
    if (get != NULL && get(&v) == 0) /* STATUS_SUCCESS */
        wsapoll_safe = v.dwMajorVersion > 10 ||
                       (v.dwMajorVersion == 10 && v.dwBuildNumber >= SP__WSAPOLL_MIN_BUILD);
    return TRUE;
}

static int wsapoll_is_safe(void)
{
    InitOnceExecuteOnce(&wsapoll_once, wsapoll_probe, NULL, NULL);
    return wsapoll_safe;
}

int sp__poller_default(void)
{
    return wsapoll_is_safe() ? SP_POLLER_WSAPOLL : SP_POLLER_SELECT;
}

const sp__poller_ops *sp__poller_ops_for(int backend, int *err)
{
    if (backend == SP_POLLER_WSAPOLL && wsapoll_is_safe())
        return &sp__poller_wsapoll_ops;
    if (err != NULL)
        *err = SP_ENOTSUP; /* epoll, kqueue, poll; WSAPoll before Windows 10 2004 */
    return NULL;
}

int sp__poller_env(char *buf, size_t size)
{
    /* GetEnvironmentVariableA rather than getenv (C4996 in the MSVC runtime): the length
     * without the NUL when it fits, the size needed with it when it does not, 0 if unset. */
    DWORD n =
        GetEnvironmentVariableA("SOCKPORT_POLLER", buf, size > MAXDWORD ? MAXDWORD : (DWORD)size);
    if (n == 0)
        return 0;
    if ((size_t)n >= size)
        return SP_EINVAL;
    return 1;
}

/* ---- the waker ------------------------------------------------------------------------- */

/*
 * A connected socket pair (sp_socketpair: AF_UNIX where Windows has it, else loopback
 * TCP), both ends non-blocking. A wake is one byte sent on one end; the other end is
 * watched. A full send buffer (WSAEWOULDBLOCK) means wakes are pending already, which is
 * what coalescing asks for. Winsock send and recv are safe from several threads.
 */
struct sp_waker {
    sp_socket_t watch; /* readable while a wake is pending */
    sp_socket_t poke;  /* the wake end */
};

int sp_waker_create(sp_waker **out)
{
    sp_socket_t pair[2];
    sp_waker *w;
    int rc;
    if (out == NULL)
        return SP_EINVAL;
    *out = NULL;
    w = (sp_waker *)malloc(sizeof *w);
    if (w == NULL)
        return SP_ENOMEM;
    rc = sp_socketpair(pair);
    if (rc == 0) {
        rc = sp_set_nonblocking(pair[0], 1);
        if (rc == 0)
            rc = sp_set_nonblocking(pair[1], 1);
        if (rc != 0) {
            closesocket((SOCKET)pair[0]);
            closesocket((SOCKET)pair[1]);
        }
    }
    if (rc != 0) {
        free(w);
        return rc;
    }
    w->watch = pair[0];
    w->poke = pair[1];
    *out = w;
    return 0;
}

void sp_waker_destroy(sp_waker *w)
{
    if (w == NULL)
        return;
    closesocket((SOCKET)w->watch);
    closesocket((SOCKET)w->poke);
    free(w);
}

sp_socket_t sp_waker_socket(const sp_waker *w)
{
    return w != NULL ? w->watch : SP_INVALID_SOCKET;
}

int sp_waker_wake(sp_waker *w)
{
    char one = 1;
    if (w == NULL)
        return SP_EINVAL;
    for (;;) {
        int err;
        if (send((SOCKET)w->poke, &one, 1, 0) != SOCKET_ERROR)
            return 0;
        err = WSAGetLastError();
        if (err == WSAEWOULDBLOCK)
            return 0; /* the buffer is full of pending wakes: coalesced */
        if (err != WSAEINTR)
            return sp__fail(err);
    }
}

int sp_waker_drain(sp_waker *w)
{
    char buf[256];
    if (w == NULL)
        return SP_EINVAL;
    for (;;) {
        int n = recv((SOCKET)w->watch, buf, (int)sizeof buf, 0), err;
        if (n > 0)
            continue;
        if (n == 0)
            return 0; /* the other end is gone: nothing more will come */
        err = WSAGetLastError();
        if (err == WSAEWOULDBLOCK)
            return 0;
        if (err != WSAEINTR)
            return sp__fail(err);
    }
}
