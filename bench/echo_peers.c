/*
 * echo_peers.c - sockport's server against its peers, on one echo protocol.
 *
 * Every server speaks the same protocol: a message is a 4-byte big-endian length and that
 * many bytes of payload (at most 1 MiB); the reply is the same frame.
 *
 *   sockport_bench_echo server KIND ADDRESS
 *       Serve until SIGTERM / SIGINT. Prints "listening HOST:PORT" once ready and
 *       "stopped errors=N" when it stops (N: connections that ended in an error, failed
 *       sends, framing errors, in the server and its children). Raises its descriptor
 *       soft limit to the hard limit. Except in the fork kinds, SIGUSR1 makes it print
 *       "mem heap=BYTES rss_kb=KB errors=N" (heap: glibc's mallinfo2, bytes in use,
 *       mmapped blocks included; rss: VmRSS of /proc/self/status).
 *       KIND: sockport-events, sockport-threads, sockport-fork (the public server API),
 *       epoll (hand-written), threads-plain, fork-plain (hand-written blocking thread- and
 *       process-per-connection), libuv, libevent (when built with them), io_uring
 *       (hand-written, bench/uring_peer.c: built where <linux/io_uring.h> is; exits 2 with
 *       "echo: io_uring unavailable: ..." on stderr when the kernel refuses io_uring).
 *
 *   sockport_bench_echo load [-p PID] pingpong ADDRESS CONNS SIZE SECONDS
 *   sockport_bench_echo load [-p PID] stream ADDRESS CONNS SIZE SECONDS INFLIGHT
 *   sockport_bench_echo load [-p PID] bulk ADDRESS SIZE SECONDS INFLIGHT
 *       One thread with epoll. pingpong: each connection sends one SIZE-byte frame and
 *       waits for its echo; stream: each keeps INFLIGHT frames in flight (a round trip is
 *       an echo received); bulk: one connection, INFLIGHT frames in flight, reports MB/s
 *       of echoed payload. At least 0.2 s of warm-up, until every connection has had its
 *       first echo (60 s at most), SECONDS measured, then the frames in flight are drained
 *       and the connections closed in order. With -p, the server's CPU time over the
 *       measured window (run time of the threads of PID and of its children, from
 *       /proc/.../schedstat). Prints one line:
 *       "rt=N seconds=S rt_per_s=R mb_per_s=M p50_us=A p99_us=B cpu_us_per_rt=C errors=E
 *       rt_all=T" (T: every echo received, warm-up and drain included: bench/callgrind_echo.sh
 *       divides the server's instruction count by it)
 *
 *   sockport_bench_echo load idle ADDRESS N [FIRST]
 *       Open N connections (IPv4: bound to 127.0.0.2 .. 127.0.0.17 in turn, from the
 *       FIRST-th on, so that many processes can share the ports), send one 64-byte frame
 *       on each and wait for its echo, print "ready N errors=E", then hold them idle until
 *       SIGTERM / SIGINT.
 *
 * bench/echo_bench.sh runs the whole comparison and prints a Markdown report.
 */
#include <sockport.h>

#include "echo_peers.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBUV
#    include <uv.h>
#endif
#ifdef HAVE_LIBEVENT
#    include <event2/buffer.h>
#    include <event2/bufferevent.h>
#    include <event2/event.h>
#    include <event2/listener.h>
#endif

#define SHARED_RBUF 65536 /* the event-loop peers' one read buffer */

volatile sig_atomic_t stop_flag;

uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

ptrdiff_t whole_frames(const unsigned char *p, size_t n)
{
    size_t done = 0;
    while (n - done >= HDR) {
        uint32_t len = get_be32(p + done);
        if (len > MAX_PAYLOAD)
            return -1;
        if (n - done < HDR + (size_t)len)
            break;
        done += HDR + (size_t)len;
    }
    return (ptrdiff_t)done;
}

/* ---------------------------------------------------------------- errors, limits, memory */

/* Errors seen by the server, in shared memory so that forked children count too. */
static atomic_ulong *server_errors;

void count_error_at(const char *fn, int line)
{
    static int told;
    int e = errno;
    if (server_errors != NULL)
        atomic_fetch_add(server_errors, 1);
    if (told++ < 5)
        fprintf(stderr, "echo: server error (pid %ld) in %s:%d (errno %d: %s)\n", (long)getpid(),
                fn, line, e, strerror(e));
    errno = e;
}

static unsigned long errors_seen(void)
{
    return server_errors != NULL ? atomic_load(server_errors) : 0;
}

/* Soft descriptor limit up to the hard limit (no privilege needed). */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static long status_kb(const char *key)
{
    char line[256];
    long kb = -1;
    size_t kl = strlen(key);
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, kl) == 0) {
            kb = atol(line + kl);
            break;
        }
    fclose(f);
    return kb;
}

/* The memory reporter: a thread that waits for SIGUSR1 (blocked in every other thread)
 * and prints the heap in use and the resident size. */
static void *memory_reporter(void *arg)
{
    sigset_t set;
    (void)arg;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    for (;;) {
        int sig;
        long long heap = -1; /* unknown without glibc's mallinfo2 */
        if (sigwait(&set, &sig) != 0)
            continue;
#ifdef HAVE_MALLINFO2
        {
            struct mallinfo2 mi = mallinfo2();
            heap = (long long)(mi.uordblks + mi.hblkhd);
        }
#endif
        printf("mem heap=%lld rss_kb=%ld errors=%lu\n", heap, status_kb("VmRSS:"), errors_seen());
        fflush(stdout);
    }
    return NULL;
}

/* Start a thread with every signal blocked (the stop signals go to the serving thread). */
static int start_quiet_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    pthread_attr_t attr;
    int rc;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static void start_memory_reporter(void)
{
    sigset_t usr1;
    pthread_t t;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL); /* inherited by every later thread */
    if (start_quiet_thread(&t, memory_reporter, NULL) != 0)
        fprintf(stderr, "echo: no memory reporter\n");
}

/* ---------------------------------------------------------------- sockets */

/* Split "host:port" (the last colon) and resolve it for IPv4/IPv6 TCP. */
static struct addrinfo *resolve(const char *address, int passive)
{
    char host[256];
    const char *colon = strrchr(address, ':');
    struct addrinfo hints, *res = NULL;
    size_t hl;
    if (colon == NULL || (hl = (size_t)(colon - address)) >= sizeof host) {
        fprintf(stderr, "echo: bad address %s (want HOST:PORT)\n", address);
        return NULL;
    }
    memcpy(host, address, hl);
    host[hl] = '\0';
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    if (getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, colon + 1, &hints, &res) != 0) {
        fprintf(stderr, "echo: cannot resolve %s\n", address);
        return NULL;
    }
    return res;
}

void set_nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int raw_listen(const char *address, int nonblocking)
{
    struct addrinfo *res = resolve(address, 1);
    sp_addr local;
    char text[SP_ADDR_STRLEN];
    int fd, one = 1;
    if (res == NULL)
        return -1;
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
        perror("echo: listen");
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    freeaddrinfo(res);
    if (nonblocking)
        (void)sp_set_nonblocking(fd, 1);
    if (sp_local_addr(fd, &local) == 0 && sp_addr_format(&local, text, sizeof text) >= 0)
        printf("listening %s\n", text);
    fflush(stdout);
    return fd;
}

void on_stop_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

void catch_stop_signals(void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Send all of p[0, n) on a blocking socket. */
static int send_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR && !stop_flag)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---------------------------------------------------------------- sockport */

/* The echo a user of sockport writes: a 4-byte prefix framer, and each message sent back
 * with sp_conn_send from on_message. Only the public API. */

static sp_server *running_server;

static int sp_echo_message(sp_conn *c, const void *msg, size_t len)
{
    if (sp_conn_send(c, msg, len) != 0) {
        count_error(); /* may count once more in on_close: any count flags the run */
        return -1;
    }
    return 0;
}

static void sp_echo_close(sp_conn *c, int reason, int error)
{
    (void)c;
    (void)error;
    if (reason == SP_CLOSE_ERROR || reason == SP_CLOSE_TOO_LARGE)
        count_error();
}

static const sp_server_handler sp_echo_handler = {NULL, sp_echo_message, NULL, sp_echo_close, NULL};

static void on_stop_sockport(int sig)
{
    (void)sig;
    if (running_server)
        sp_server_stop(running_server); /* async-signal-safe */
}

static int serve_sockport(int model, const char *address)
{
    sp_framer framer;
    sp_server_config cfg;
    sp_server *srv;
    sp_addr local;
    char text[SP_ADDR_STRLEN];
    int rc;
    sp_framer_prefix(&framer, 4, 0, MAX_PAYLOAD);
    sp_server_config_init(&cfg);
    cfg.model = model;
    cfg.handler = &sp_echo_handler;
    cfg.framer = &framer;
    /* sized for the benchmark: the idle test holds as many connections as the
     * descriptor limit allows; a thread or a process each in the other models */
    cfg.max_connections = model == SP_MODEL_EVENTS ? 1 << 20 : 4096;
    cfg.grace_ms = 200;
    rc = sp_server_create(&srv, &cfg);
    if (rc == 0 && (rc = sp_server_listen(srv, address)) != 0)
        sp_server_destroy(srv);
    if (rc != 0) {
        fprintf(stderr, "echo: %s: %s\n", address, sp_strerror(rc));
        return 1;
    }
    running_server = srv;
    catch_stop_signals(on_stop_sockport);
    if (sp_server_local_addr(srv, 0, &local) == 0 && sp_addr_format(&local, text, sizeof text) >= 0)
        printf("listening %s\n", text);
    fflush(stdout);
    rc = sp_server_run(srv);
    running_server = NULL;
    sp_server_destroy(srv);
    return rc == 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- hand-written epoll */

/* What a competent C programmer writes with level-triggered epoll: reads go into one
 * shared buffer (a connection keeps only a frame cut by a read's end), up to EP_READS
 * reads per readiness or until the socket runs dry; whole frames are sent back at once
 * with one send, what the socket does not take is queued, and while output is queued the
 * connection waits for writability only (EPOLLOUT only then; no reading: back-pressure). */
#define EP_READS 16

typedef struct ep_conn {
    int fd;
    uint32_t events;     /* registered interest */
    unsigned char *rbuf; /* a cut frame: rbuf[0, rlen) */
    size_t rlen, rcap;
    unsigned char *wbuf; /* queued output: wbuf[woff, wlen) */
    size_t woff, wlen, wcap;
} ep_conn;

static unsigned char ep_in[SHARED_RBUF];

static void ep_close(int ep, ep_conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->rbuf);
    free(c->wbuf);
    free(c);
}

static int ep_want(int ep, ep_conn *c, uint32_t events)
{
    struct epoll_event ev;
    if (c->events == events)
        return 0;
    ev.events = events;
    ev.data.ptr = c;
    c->events = events;
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

int ep_reserve(unsigned char **buf, size_t *cap, size_t need)
{
    if (need > *cap) {
        size_t n = *cap ? *cap : 4096;
        unsigned char *nb;
        while (n < need)
            n *= 2;
        if ((nb = (unsigned char *)realloc(*buf, n)) == NULL)
            return -1;
        *buf = nb;
        *cap = n;
    }
    return 0;
}

/* Send whole frames: directly when nothing is queued, the rest queued. -1: error. */
static int ep_reply(ep_conn *c, const unsigned char *p, size_t n)
{
    if (c->woff == c->wlen) {
        while (n > 0) {
            ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                return -1;
            }
            p += w;
            n -= (size_t)w;
        }
    }
    if (n == 0)
        return 0;
    if (ep_reserve(&c->wbuf, &c->wcap, c->wlen + n) != 0)
        return -1;
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += n;
    return 0;
}

/* Flush queued output. 1: all sent, 0: more to send, -1: error. */
static int ep_flush(ep_conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        c->woff += (size_t)n;
    }
    c->woff = c->wlen = 0;
    return 1;
}

/* Readable. Returns 0 to go on, 1 for an orderly end, -1 for an error. */
static int ep_on_read(ep_conn *c)
{
    int k;
    for (k = 0; k < EP_READS && c->woff == c->wlen; k++) {
        unsigned char *buf;
        size_t room;
        ptrdiff_t done;
        ssize_t n;
        if (c->rlen > 0) { /* continue the cut frame in its own buffer */
            size_t need = c->rlen >= HDR ? HDR + (size_t)get_be32(c->rbuf) : HDR;
            if (need > HDR + MAX_PAYLOAD)
                return -1;
            if (ep_reserve(&c->rbuf, &c->rcap, need < 16384 ? 16384 : need) != 0)
                return -1;
            buf = c->rbuf + c->rlen;
            room = c->rcap - c->rlen;
        } else {
            buf = ep_in;
            room = sizeof ep_in;
        }
        do
            n = recv(c->fd, buf, room, 0);
        while (n < 0 && errno == EINTR);
        if (n == 0)
            return 1;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        if (c->rlen > 0) {
            c->rlen += (size_t)n;
            if ((done = whole_frames(c->rbuf, c->rlen)) < 0 ||
                ep_reply(c, c->rbuf, (size_t)done) != 0)
                return -1;
            memmove(c->rbuf, c->rbuf + done, c->rlen - (size_t)done);
            c->rlen -= (size_t)done;
        } else {
            if ((done = whole_frames(ep_in, (size_t)n)) < 0 ||
                ep_reply(c, ep_in, (size_t)done) != 0)
                return -1;
            if ((size_t)done < (size_t)n) { /* keep the cut frame */
                size_t tail = (size_t)n - (size_t)done;
                if (ep_reserve(&c->rbuf, &c->rcap, tail) != 0)
                    return -1;
                memcpy(c->rbuf, ep_in + done, tail);
                c->rlen = tail;
            }
        }
        if ((size_t)n < room)
            break; /* the socket is dry for now */
    }
    return 0;
}

static int serve_epoll(const char *address)
{
    struct epoll_event events[256], ev;
    int lfd = raw_listen(address, 1), ep;
    if (lfd < 0)
        return 1;
    catch_stop_signals(on_stop_signal);
    ep = epoll_create1(EPOLL_CLOEXEC);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL; /* NULL: the listener */
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    while (!stop_flag) {
        int i, n = epoll_wait(ep, events, 256, -1);
        for (i = 0; i < n; i++) {
            ep_conn *c = (ep_conn *)events[i].data.ptr;
            int r = 0;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    c = (ep_conn *)calloc(1, sizeof *c);
                    if (c == NULL) {
                        count_error();
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    c->events = EPOLLIN;
                    set_nodelay(fd);
                    ev.events = EPOLLIN;
                    ev.data.ptr = c;
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
                        count_error();
                        close(fd);
                        free(c);
                    }
                }
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED &&
                    errno != EINTR)
                    count_error(); /* out of descriptors: the run is flagged */
                continue;
            }
            if ((events[i].events & EPOLLOUT) && (r = ep_flush(c)) == 1)
                r = ep_on_read(c); /* flushed: read what waited */
            else if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c->woff == c->wlen)
                r = ep_on_read(c);
            if (r == 0 && ep_want(ep, c, c->woff < c->wlen ? EPOLLOUT : EPOLLIN) != 0)
                r = -1;
            if (r != 0) {
                if (r < 0)
                    count_error();
                ep_close(ep, c);
            }
        }
    }
    /* connections still open are left to the exit */
    close(ep);
    close(lfd);
    return 0;
}

/* ---------------------------------------------------------------- plain blocking peers */

/* A blocking connection: read what arrives, send every whole frame back, keep a cut one. */
static void echo_blocking(int fd)
{
    size_t cap = 16384, len = 0;
    unsigned char *buf = (unsigned char *)malloc(cap);
    set_nodelay(fd);
    while (buf != NULL && !stop_flag) {
        ptrdiff_t done;
        ssize_t n;
        if (len >= HDR) {
            size_t need = HDR + (size_t)get_be32(buf);
            if (need > HDR + MAX_PAYLOAD || ep_reserve(&buf, &cap, need) != 0) {
                count_error();
                break;
            }
        }
        n = recv(fd, buf + len, cap - len, 0);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            count_error();
            break;
        }
        len += (size_t)n;
        if ((done = whole_frames(buf, len)) < 0 || send_all(fd, buf, (size_t)done) != 0) {
            count_error();
            break;
        }
        memmove(buf, buf + done, len - (size_t)done);
        len -= (size_t)done;
    }
    close(fd);
    free(buf);
}

static void *plain_thread(void *arg)
{
    echo_blocking((int)(intptr_t)arg);
    return NULL;
}

/* threads-plain: a blocking accept loop, a detached thread (default attributes) each. */
static int serve_threads_plain(const char *address)
{
    int lfd = raw_listen(address, 0);
    if (lfd < 0)
        return 1;
    catch_stop_signals(on_stop_signal);
    while (!stop_flag) {
        pthread_t t;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EINTR && errno != ECONNABORTED)
                count_error();
            continue;
        }
        if (start_quiet_thread(&t, plain_thread, (void *)(intptr_t)fd) != 0) {
            count_error();
            close(fd);
        }
    }
    close(lfd);
    return 0; /* threads still serving end with the process */
}

static void on_child_signal(int sig)
{
    (void)sig; /* only interrupts accept, to reap */
}

/* fork-plain: a blocking accept loop, a child process each; children reaped as they end
 * (so that their CPU time shows in the parent's), killed on stop. */
static int serve_fork_plain(const char *address)
{
    struct sigaction sa;
    int lfd = raw_listen(address, 0);
    if (lfd < 0)
        return 1;
    (void)setpgid(0, 0); /* children in our own group: one kill stops them all */
    catch_stop_signals(on_stop_signal);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_child_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    while (!stop_flag) {
        pid_t pid;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), e = errno;
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        errno = e;
        if (fd < 0) {
            if (errno != EINTR && errno != ECONNABORTED)
                count_error();
            continue;
        }
        pid = fork();
        if (pid == 0) {
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            close(lfd);
            echo_blocking(fd);
            _exit(0);
        }
        if (pid < 0)
            count_error();
        close(fd);
    }
    close(lfd);
    signal(SIGTERM, SIG_IGN);
    if (getpgrp() == getpid())
        kill(0, SIGTERM); /* our group only: the children */
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    return 0;
}

/* ---------------------------------------------------------------- libuv */

#ifdef HAVE_LIBUV
/* Idiomatic libuv: alloc_cb hands out one shared read buffer (the loop is single-threaded)
 * unless the connection holds a cut frame; whole frames go out with uv_try_write, the
 * rest is copied into a uv_write request; reading pauses while over 1 MiB is queued. */
typedef struct uv_echo_conn {
    uv_tcp_t tcp; /* first: the handle's address is the connection's */
    char *rbuf;   /* a cut frame */
    size_t rlen, rcap;
    int paused;
} uv_echo_conn;

typedef struct uv_echo_write {
    uv_write_t req;
    uv_buf_t buf;
} uv_echo_write;

static char uv_in[SHARED_RBUF];

static void uv_echo_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void uv_echo_closed(uv_handle_t *h)
{
    uv_echo_conn *c = (uv_echo_conn *)h;
    free(c->rbuf);
    free(c);
}

static void uv_echo_fail(uv_echo_conn *c)
{
    count_error();
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, uv_echo_closed);
}

static void uv_echo_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    uv_echo_conn *c = (uv_echo_conn *)h;
    size_t need;
    (void)suggested;
    if (c->rlen == 0) {
        *buf = uv_buf_init(uv_in, sizeof uv_in);
        return;
    }
    need = c->rlen >= HDR ? HDR + get_be32((unsigned char *)c->rbuf) : HDR;
    if (need < 16384)
        need = 16384;
    if (need <= HDR + MAX_PAYLOAD && ep_reserve((unsigned char **)&c->rbuf, &c->rcap, need) != 0) {
        *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
        return;
    }
    *buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
}

static void uv_echo_written(uv_write_t *req, int status)
{
    uv_echo_write *w = (uv_echo_write *)req;
    uv_echo_conn *c = (uv_echo_conn *)req->handle;
    free(w->buf.base);
    free(w);
    if (status < 0) {
        if (status != UV_ECANCELED)
            uv_echo_fail(c);
        return;
    }
    if (c->paused && c->tcp.write_queue_size < MAX_PAYLOAD / 2) {
        c->paused = 0;
        uv_read_start((uv_stream_t *)&c->tcp, uv_echo_alloc, uv_echo_read);
    }
}

static int uv_echo_reply(uv_echo_conn *c, const char *p, size_t n)
{
    uv_stream_t *s = (uv_stream_t *)&c->tcp;
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int sent = uv_try_write(s, &b, 1); /* refuses while writes are queued: order kept */
    if (sent < 0 && sent != UV_EAGAIN)
        return -1;
    if (sent < 0)
        sent = 0;
    if ((size_t)sent < n) {
        uv_echo_write *w = (uv_echo_write *)malloc(sizeof *w);
        char *copy = (char *)malloc(n - (size_t)sent);
        if (w == NULL || copy == NULL) {
            free(w);
            free(copy);
            return -1;
        }
        memcpy(copy, p + sent, n - (size_t)sent);
        w->buf = uv_buf_init(copy, (unsigned)(n - (size_t)sent));
        if (uv_write(&w->req, s, &w->buf, 1, uv_echo_written) != 0) {
            free(copy);
            free(w);
            return -1;
        }
        if (s->write_queue_size > MAX_PAYLOAD) {
            c->paused = 1;
            uv_read_stop(s);
        }
    }
    return 0;
}

static void uv_echo_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    uv_echo_conn *c = (uv_echo_conn *)s;
    ptrdiff_t done;
    if (nread == UV_EOF) {
        uv_close((uv_handle_t *)s, uv_echo_closed);
        return;
    }
    if (nread < 0) {
        uv_echo_fail(c);
        return;
    }
    if (nread == 0)
        return;
    if (buf->base == uv_in) {
        if ((done = whole_frames((unsigned char *)uv_in, (size_t)nread)) < 0 ||
            uv_echo_reply(c, uv_in, (size_t)done) != 0) {
            uv_echo_fail(c);
            return;
        }
        if (done < nread) { /* keep the cut frame */
            size_t tail = (size_t)(nread - done);
            if (ep_reserve((unsigned char **)&c->rbuf, &c->rcap, tail) != 0) {
                uv_echo_fail(c);
                return;
            }
            memcpy(c->rbuf, uv_in + done, tail);
            c->rlen = tail;
        }
        return;
    }
    c->rlen += (size_t)nread;
    if ((done = whole_frames((unsigned char *)c->rbuf, c->rlen)) < 0 ||
        uv_echo_reply(c, c->rbuf, (size_t)done) != 0) {
        uv_echo_fail(c);
        return;
    }
    memmove(c->rbuf, c->rbuf + done, c->rlen - (size_t)done);
    c->rlen -= (size_t)done;
}

static void uv_echo_accept(uv_stream_t *server, int status)
{
    uv_echo_conn *c;
    if (status < 0 || (c = (uv_echo_conn *)calloc(1, sizeof *c)) == NULL) {
        count_error();
        return;
    }
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_echo_fail(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, uv_echo_alloc, uv_echo_read);
}

static void uv_echo_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    uv_stop(h->loop);
}

static int serve_libuv(const char *address)
{
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    uv_signal_t sigterm, sigint;
    int lfd = raw_listen(address, 1);
    if (lfd < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    uv_tcp_init(loop, &server);
    if (uv_tcp_open(&server, lfd) != 0 ||
        uv_listen((uv_stream_t *)&server, 4096, uv_echo_accept) != 0) {
        fprintf(stderr, "echo: libuv: cannot listen\n");
        return 1;
    }
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, uv_echo_signal, SIGTERM);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, uv_echo_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
#endif

/* ---------------------------------------------------------------- libevent */

#ifdef HAVE_LIBEVENT
/* Idiomatic libevent: a bufferevent per connection; whole frames move from the input to
 * the output buffer without a copy (evbuffer_remove_buffer). */
static void ev_echo_read(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);
    (void)arg;
    for (;;) {
        unsigned char hdr[HDR];
        uint32_t len;
        size_t have = evbuffer_get_length(in);
        if (have < HDR || evbuffer_copyout(in, hdr, HDR) != HDR)
            return;
        len = get_be32(hdr);
        if (len > MAX_PAYLOAD) {
            count_error();
            bufferevent_free(bev);
            return;
        }
        if (have < HDR + (size_t)len)
            return;
        if (evbuffer_remove_buffer(in, out, HDR + (size_t)len) < 0) {
            count_error();
            bufferevent_free(bev);
            return;
        }
    }
}

static void ev_echo_event(struct bufferevent *bev, short what, void *arg)
{
    (void)arg;
    if (what & BEV_EVENT_ERROR)
        count_error();
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_free(bev);
}

static void ev_echo_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                           int socklen, void *arg)
{
    struct event_base *base = (struct event_base *)arg;
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    (void)l;
    (void)sa;
    (void)socklen;
    if (bev == NULL) {
        count_error();
        close(fd);
        return;
    }
    set_nodelay(fd);
    bufferevent_setcb(bev, ev_echo_read, NULL, ev_echo_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void ev_echo_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak((struct event_base *)arg);
}

static int serve_libevent(const char *address)
{
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *sigterm, *sigint;
    int lfd = raw_listen(address, 1);
    if (lfd < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    listener = evconnlistener_new(base, ev_echo_accept, base, LEV_OPT_CLOSE_ON_FREE, 0, lfd);
    if (base == NULL || listener == NULL) {
        fprintf(stderr, "echo: libevent: cannot listen\n");
        return 1;
    }
    sigterm = evsignal_new(base, SIGTERM, ev_echo_signal, base);
    sigint = evsignal_new(base, SIGINT, ev_echo_signal, base);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    event_base_dispatch(base);
    event_free(sigterm);
    event_free(sigint);
    evconnlistener_free(listener);
    event_base_free(base);
    return 0;
}
#endif

/* ---------------------------------------------------------------- server CPU from /proc */

/* Fields 4 (ppid) to 17 (cstime) of a process's stat; 0 or -1. */
static int proc_stat_fields(long pid, long long f[18])
{
    char path[64], buf[1024];
    const char *p;
    size_t n;
    int i;
    FILE *fp;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if ((fp = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    if ((p = strrchr(buf, ')')) == NULL || (p = strchr(p + 2, ' ')) == NULL)
        return -1; /* the command is in parentheses; field 3 is the state */
    for (i = 4; i <= 17; i++) {
        char *end;
        f[i] = strtoll(p, &end, 10);
        if (end == p)
            return -1;
        p = end;
    }
    return 0;
}

static int proc_parent(long pid, long *ppid)
{
    long long f[18];
    if (proc_stat_fields(pid, f) != 0)
        return -1;
    *ppid = (long)f[4];
    return 0;
}

/* cutime + cstime: what the reaped children of a process used, in clock ticks. */
static long long proc_reaped_ticks(long pid)
{
    long long f[18];
    return proc_stat_fields(pid, f) != 0 ? -1 : f[16] + f[17];
}

/* Nanoseconds one task (thread) has run: the first field of its schedstat, exact. */
static long long task_run_ns(const char *path)
{
    long long ns = -1;
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return -1;
    if (fscanf(fp, "%lld", &ns) != 1)
        ns = -1;
    fclose(fp);
    return ns;
}

/* Nanoseconds every live thread of a process has run. */
static long long process_run_ns(long pid)
{
    char path[96];
    long long total = 0, ns;
    struct dirent *d;
    DIR *dir;
    snprintf(path, sizeof path, "/proc/%ld/task", pid);
    if ((dir = opendir(path)) == NULL)
        return -1;
    while ((d = readdir(dir)) != NULL) {
        long tid = atol(d->d_name);
        if (tid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%ld/task/%ld/schedstat", pid, tid);
        if ((ns = task_run_ns(path)) > 0)
            total += ns;
    }
    closedir(dir);
    return total;
}

/* The CPU time of a server in ns: the run time of its live threads and of its live
 * children's (schedstat: exact, where stat rounds each process down to clock ticks),
 * plus what its reaped children used (cutime + cstime of its stat, in ticks). The
 * window must not span the end of a thread: its time leaves the sum (no connection ends
 * inside a measured window). This kernel has no /proc/PID/task/TID/children: the
 * children are found by scanning /proc. */
static long long server_cpu_ns(long pid)
{
    long long self = process_run_ns(pid), total;
    long long reaped = proc_reaped_ticks(pid);
    struct dirent *d;
    DIR *dir;
    if (self < 0 || reaped < 0)
        return -1;
    total = self + reaped * (1000000000LL / sysconf(_SC_CLK_TCK));
    if ((dir = opendir("/proc")) == NULL)
        return total;
    while ((d = readdir(dir)) != NULL) {
        long child = atol(d->d_name), parent = 0;
        long long ns;
        if (child <= 0 || child == pid || proc_parent(child, &parent) != 0 || parent != pid)
            continue;
        if ((ns = process_run_ns(child)) > 0)
            total += ns;
    }
    closedir(dir);
    return total;
}

/* ---------------------------------------------------------------- load generator */

/* Latency histogram: 200 ns buckets up to 1 s; slower round trips land in the last. */
#define HIST_NS      200u
#define HIST_BUCKETS 5000000u
#define LD_RBUF      (256 * 1024)
#define WARMUP_NS    200000000u
#define DRAIN_NS     10000000000u
#define SERVED_NS    60000000000u /* for every connection to see its first echo */

typedef struct ld_conn {
    int fd;
    int want_out;
    int served;        /* its first echo has come back */
    unsigned to_send;  /* frames issued and not yet wholly written */
    unsigned inflight; /* frames issued whose echo has not wholly arrived */
    size_t wpos;       /* bytes of the first frame to send already written */
    size_t rpos;       /* bytes of the current echo received */
    unsigned head;     /* t0[head] is the oldest frame in flight */
    uint64_t *t0;      /* issue times, a ring of `inflight max` entries */
} ld_conn;

typedef struct ld_run {
    int ep;
    size_t flen;
    unsigned k;            /* frames in flight per connection */
    unsigned char *frame;  /* one request */
    unsigned char *frames; /* k requests back to back */
} ld_run;

static double hist_percentile(const uint32_t *hist, uint64_t total, double p)
{
    uint64_t rank = (uint64_t)(p * (double)total), seen = 0;
    uint32_t i;
    if (rank >= total)
        rank = total - 1;
    for (i = 0; i < HIST_BUCKETS; i++) {
        seen += hist[i];
        if (seen > rank)
            return ((double)i + 0.5) * HIST_NS / 1000.0;
    }
    return (double)HIST_BUCKETS * HIST_NS / 1000.0;
}

/* Write what is issued and not yet written; watch writability while some is left. */
static int ld_send(const ld_run *r, ld_conn *c)
{
    while (c->to_send > 0) {
        size_t pending = (size_t)c->to_send * r->flen - c->wpos;
        ssize_t n = send(c->fd, r->frames + c->wpos, pending, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -1;
            break;
        }
        c->wpos += (size_t)n;
        c->to_send -= (unsigned)(c->wpos / r->flen);
        c->wpos %= r->flen;
    }
    if ((c->to_send > 0) != c->want_out) {
        struct epoll_event ev;
        c->want_out = c->to_send > 0;
        ev.events = EPOLLIN | (c->want_out ? EPOLLOUT : 0u);
        ev.data.ptr = c;
        if (epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
            return -1;
    }
    return 0;
}

static void ld_issue(const ld_run *r, ld_conn *c, uint64_t t)
{
    c->t0[(c->head + c->inflight) % r->k] = t;
    c->inflight++;
    c->to_send++;
}

static int connect_to(const struct addrinfo *res)
{
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        perror("echo: load: connect");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int run_load(const char *address, long conns, size_t size, double seconds, unsigned k,
                    long server_pid)
{
    struct addrinfo *res = resolve(address, 0);
    ld_run r;
    unsigned char *rbuf = (unsigned char *)malloc(LD_RBUF);
    uint32_t *hist = (uint32_t *)calloc(HIST_BUCKETS, sizeof *hist);
    ld_conn *cs = (ld_conn *)calloc((size_t)conns, sizeof *cs);
    uint64_t *t0s = (uint64_t *)calloc((size_t)conns * k, sizeof *t0s);
    struct epoll_event events[256];
    uint64_t rt = 0, rt_all = 0, errors = 0, t_start, t_end, t_drain, t;
    long long cpu0 = 0, cpu1 = 0;
    long i, open = 0, busy, served = 0;
    int phase = 0; /* 0 warm-up, 1 measuring, 2 draining */
    uint64_t t_served_by, t_begin;
    int debug = getenv("ECHO_BENCH_DEBUG") != NULL;
    size_t fi;
    r.flen = HDR + size;
    r.k = k;
    r.frame = (unsigned char *)malloc(r.flen);
    r.frames = (unsigned char *)malloc(r.flen * k);
    r.ep = epoll_create1(EPOLL_CLOEXEC);
    if (res == NULL || r.frame == NULL || r.frames == NULL || rbuf == NULL || hist == NULL ||
        cs == NULL || t0s == NULL || size > MAX_PAYLOAD || r.ep < 0) {
        fprintf(stderr, "echo: load: cannot start\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    put_be32(r.frame, (uint32_t)size);
    for (fi = 0; fi < size; fi++)
        r.frame[HDR + fi] = (unsigned char)(fi * 31 + 7);
    for (i = 0; i < (long)k; i++)
        memcpy(r.frames + (size_t)i * r.flen, r.frame, r.flen);
    for (i = 0; i < conns; i++) { /* connect blocking, then switch to non-blocking */
        struct epoll_event ev;
        int fd = connect_to(res);
        if (fd < 0)
            return 1;
        (void)sp_set_nonblocking(fd, 1);
        set_nodelay(fd);
        cs[i].fd = fd;
        cs[i].t0 = t0s + (size_t)i * k;
        ev.events = EPOLLIN;
        ev.data.ptr = &cs[i];
        epoll_ctl(r.ep, EPOLL_CTL_ADD, fd, &ev);
    }
    freeaddrinfo(res);
    t = now_ns();
    t_begin = t;
    t_start = t + WARMUP_NS;
    t_served_by = t + SERVED_NS;
    t_end = t_start + (uint64_t)(seconds * 1e9);
    t_drain = t_end + DRAIN_NS;
    for (i = 0; i < conns; i++) {
        unsigned j;
        for (j = 0; j < k; j++)
            ld_issue(&r, &cs[i], t);
        if (ld_send(&r, &cs[i]) != 0)
            errors++;
    }
    open = busy = conns;
    while (open > 0 && busy > 0) {
        int n = epoll_wait(r.ep, events, 256, 10), e;
        if (n < 0 && errno != EINTR) {
            perror("echo: load: epoll_wait");
            errors++;
            break;
        }
        t = now_ns();
        /* the window opens after the warm-up, once every connection has been served (a
         * server that accepts slowly would otherwise be measured on part of them) */
        if (phase == 0 && t >= t_start && served < open && t < t_served_by)
            t_start = t + WARMUP_NS / 2; /* not yet: keep warming up */
        if (phase == 0 && t >= t_start && served < open) {
            fprintf(stderr, "echo: load: %ld of %ld connections never served\n", open - served,
                    open);
            errors += (uint64_t)(open - served);
        }
        if (phase == 0 && t >= t_start) {
            phase = 1;
            if (debug)
                fprintf(stderr, "load: +%.3f s: window opens (%ld served)\n",
                        (double)(t - t_begin) * 1e-9, served);
            if (server_pid > 0)
                cpu0 = server_cpu_ns(server_pid);
            t_start = now_ns(); /* the window starts after the scan of /proc */
            t_end = t_start + (uint64_t)(seconds * 1e9);
            t_drain = t_end + DRAIN_NS;
        }
        if (phase == 1 && t >= t_end) {
            phase = 2;
            if (debug)
                fprintf(stderr, "load: +%.3f s: window closes, %llu rt\n",
                        (double)(t - t_begin) * 1e-9, (unsigned long long)rt);
            if (server_pid > 0)
                cpu1 = server_cpu_ns(server_pid);
            t_end = t;
            /* count the connections with frames still in flight */
            for (busy = 0, i = 0; i < conns; i++)
                busy += cs[i].fd >= 0 && cs[i].inflight > 0;
        }
        if (phase == 2 && t >= t_drain)
            break;
        for (e = 0; e < n; e++) {
            ld_conn *c = (ld_conn *)events[e].data.ptr;
            ssize_t got;
            size_t p;
            if (c->fd < 0)
                continue;
            if ((events[e].events & EPOLLOUT) && ld_send(&r, c) != 0)
                goto fail;
            if (!(events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                continue;
            do
                got = recv(c->fd, rbuf, LD_RBUF, 0);
            while (got < 0 && errno == EINTR);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                goto fail;
            if (got < 0)
                continue;
            /* walk the echoes: check every header byte and each echo's last byte */
            for (p = 0; p < (size_t)got;) {
                size_t skip;
                if (c->inflight == 0)
                    goto fail; /* an echo nobody asked for */
                if (c->rpos < HDR) {
                    if (rbuf[p++] != r.frame[c->rpos++])
                        goto fail;
                } else {
                    skip = r.flen - c->rpos;
                    if (skip > (size_t)got - p)
                        skip = (size_t)got - p;
                    p += skip;
                    c->rpos += skip;
                    if (c->rpos == r.flen && size > 0 && rbuf[p - 1] != r.frame[r.flen - 1])
                        goto fail;
                }
                if (c->rpos == r.flen) { /* one round trip */
                    uint64_t t0 = c->t0[c->head];
                    c->head = (c->head + 1) % k;
                    c->inflight--;
                    c->rpos = 0;
                    rt_all++;
                    if (!c->served) {
                        c->served = 1;
                        served++;
                    }
                    if (phase == 1) { /* completed inside the window */
                        uint64_t b = (t - t0) / HIST_NS;
                        hist[b < HIST_BUCKETS ? b : HIST_BUCKETS - 1]++;
                        rt++;
                    }
                    if (phase < 2)
                        ld_issue(&r, c, t);
                    else if (c->inflight == 0)
                        busy--;
                }
            }
            if (ld_send(&r, c) != 0)
                goto fail;
            continue;
        fail:
            if (errors++ < 5)
                fprintf(stderr, "echo: load: connection %ld failed (errno %d: %s)\n",
                        (long)(c - cs), errno, strerror(errno));
            if (phase == 2 && c->inflight > 0)
                busy--;
            served -= c->served;
            epoll_ctl(r.ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->fd = -1;
            open--;
        }
    }
    if (phase < 2) { /* every connection failed before the end */
        t_end = now_ns();
        if (server_pid > 0)
            cpu1 = server_cpu_ns(server_pid);
    }
    for (i = 0; i < conns; i++) {
        if (cs[i].fd < 0)
            continue;
        if (cs[i].inflight > 0)
            errors++; /* its echoes never came back (drain timeout) */
        close(cs[i].fd);
    }
    close(r.ep);
    {
        double elapsed = t_end > t_start ? (double)(t_end - t_start) * 1e-9 : 0.0;
        double cpu_us = (double)(cpu1 - cpu0) / 1e3;
        printf("rt=%llu seconds=%.3f rt_per_s=%.0f mb_per_s=%.1f p50_us=%.1f p99_us=%.1f "
               "cpu_us_per_rt=%.3f errors=%llu rt_all=%llu\n",
               (unsigned long long)rt, elapsed, elapsed > 0 ? (double)rt / elapsed : 0.0,
               elapsed > 0 ? (double)rt * (double)size / elapsed / 1e6 : 0.0,
               rt ? hist_percentile(hist, rt, 0.50) : 0.0,
               rt ? hist_percentile(hist, rt, 0.99) : 0.0,
               server_pid > 0 && rt ? cpu_us / (double)rt : 0.0, (unsigned long long)errors,
               (unsigned long long)rt_all);
    }
    free(r.frame);
    free(r.frames);
    free(rbuf);
    free(hist);
    free(cs);
    free(t0s);
    return errors != 0 || rt == 0;
}

/* idle: open n connections, one echo each, then hold them until told to stop. */
#define IDLE_SOURCES 16

static int run_idle(const char *address, long n, long first)
{
    struct addrinfo *res = resolve(address, 0);
    unsigned char frame[HDR + 64], echo[HDR + 64];
    int *fds = (int *)malloc((size_t)n * sizeof *fds);
    long i, open = 0, errors = 0;
    if (res == NULL || fds == NULL)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    catch_stop_signals(on_stop_signal);
    put_be32(frame, 64);
    memset(frame + HDR, 'i', 64);
    for (i = 0; i < n && !stop_flag; i++) {
        struct timeval tv = {5, 0};
        size_t got = 0;
        int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        if (fd < 0) {
            perror("echo: idle: socket");
            errors++;
            break;
        }
        if (res->ai_family == AF_INET) { /* 127.0.0.2, .3, ...: the ports suffice */
            struct sockaddr_in src;
            memset(&src, 0, sizeof src);
            src.sin_family = AF_INET;
            src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)((first + i) % IDLE_SOURCES));
            (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
                perror("echo: idle: bind");
                errors++;
                close(fd);
                break;
            }
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (connect(fd, res->ai_addr, res->ai_addrlen) != 0 ||
            send_all(fd, frame, sizeof frame) != 0) {
            perror("echo: idle: connect");
            errors++;
            close(fd);
            break;
        }
        while (got < sizeof echo) {
            ssize_t k = recv(fd, echo + got, sizeof echo - got, 0);
            if (k <= 0)
                break;
            got += (size_t)k;
        }
        if (got < sizeof echo || memcmp(echo, frame, sizeof echo) != 0) {
            fprintf(stderr, "echo: idle: no echo on connection %ld\n", first + i);
            errors++;
            close(fd);
            break;
        }
        fds[open++] = fd;
    }
    freeaddrinfo(res);
    printf("ready %ld errors=%ld\n", open, errors);
    fflush(stdout);
    while (!stop_flag)
        pause();
    for (i = 0; i < open; i++)
        close(fds[i]);
    free(fds);
    return errors != 0;
}

/* ---------------------------------------------------------------- main */

static int cmd_server(const char *kind, const char *address)
{
    int fork_kind = strcmp(kind, "sockport-fork") == 0 || strcmp(kind, "fork-plain") == 0;
    int rc = 3;
    void *shared = mmap(NULL, sizeof *server_errors, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared != MAP_FAILED) {
        server_errors = (atomic_ulong *)shared;
        atomic_init(server_errors, 0);
    }
    raise_nofile();
    if (!fork_kind)
        start_memory_reporter(); /* the fork kinds stay single-threaded */
    if (strcmp(kind, "sockport-events") == 0)
        rc = serve_sockport(SP_MODEL_EVENTS, address);
    else if (strcmp(kind, "sockport-threads") == 0)
        rc = serve_sockport(SP_MODEL_THREADS, address);
    else if (strcmp(kind, "sockport-fork") == 0)
        rc = serve_sockport(SP_MODEL_FORK, address);
    else if (strcmp(kind, "epoll") == 0)
        rc = serve_epoll(address);
    else if (strcmp(kind, "threads-plain") == 0)
        rc = serve_threads_plain(address);
    else if (strcmp(kind, "fork-plain") == 0)
        rc = serve_fork_plain(address);
#ifdef HAVE_IO_URING
    else if (strcmp(kind, "io_uring") == 0) {
        if ((rc = serve_io_uring(address)) == 2)
            return 2; /* the kernel refuses io_uring (said on stderr): no "stopped" line */
    }
#endif
#ifdef HAVE_LIBUV
    else if (strcmp(kind, "libuv") == 0)
        rc = serve_libuv(address);
#endif
#ifdef HAVE_LIBEVENT
    else if (strcmp(kind, "libevent") == 0)
        rc = serve_libevent(address);
#endif
    else
        fprintf(stderr, "echo: server kind %s is not built in\n", kind);
    if (rc != 3) {
        printf("stopped errors=%lu\n", errors_seen());
        fflush(stdout);
    }
    return rc;
}

static int cmd_load(int argc, char **argv)
{
    long pid = 0;
    const char *mode;
    raise_nofile();
    if (argc >= 2 && strcmp(argv[0], "-p") == 0) {
        pid = atol(argv[1]);
        argc -= 2;
        argv += 2;
    }
    if (argc < 1)
        return -1;
    mode = argv[0];
    if (strcmp(mode, "pingpong") == 0 && argc == 5 && atol(argv[2]) > 0)
        return run_load(argv[1], atol(argv[2]), (size_t)atol(argv[3]), atof(argv[4]), 1, pid);
    if (strcmp(mode, "stream") == 0 && argc == 6 && atol(argv[2]) > 0 && atol(argv[5]) > 0)
        return run_load(argv[1], atol(argv[2]), (size_t)atol(argv[3]), atof(argv[4]),
                        (unsigned)atol(argv[5]), pid);
    if (strcmp(mode, "bulk") == 0 && argc == 5 && atol(argv[4]) > 0)
        return run_load(argv[1], 1, (size_t)atol(argv[2]), atof(argv[3]), (unsigned)atol(argv[4]),
                        pid);
    if (strcmp(mode, "idle") == 0 && (argc == 3 || argc == 4) && atol(argv[2]) > 0)
        return run_idle(argv[1], atol(argv[2]), argc == 4 ? atol(argv[3]) : 0);
    return -1;
}

int main(int argc, char **argv)
{
    int rc = -1;
    sp_init();
    if (argc == 4 && strcmp(argv[1], "server") == 0)
        rc = cmd_server(argv[2], argv[3]);
    else if (argc >= 3 && strcmp(argv[1], "load") == 0)
        rc = cmd_load(argc - 2, argv + 2);
    if (rc < 0) {
        fprintf(stderr,
                "usage: %s server KIND ADDRESS\n"
                "       %s load [-p PID] pingpong ADDRESS CONNS SIZE SECONDS\n"
                "       %s load [-p PID] stream ADDRESS CONNS SIZE SECONDS INFLIGHT\n"
                "       %s load [-p PID] bulk ADDRESS SIZE SECONDS INFLIGHT\n"
                "       %s load idle ADDRESS N [FIRST]\n"
                "KIND: sockport-events, sockport-threads, sockport-fork, epoll, threads-plain, "
                "fork-plain"
#ifdef HAVE_IO_URING
                ", io_uring"
#endif
#ifdef HAVE_LIBUV
                ", libuv"
#endif
#ifdef HAVE_LIBEVENT
                ", libevent"
#endif
                "\n",
                argv[0], argv[0], argv[0], argv[0], argv[0]);
        rc = 2;
    }
    sp_cleanup();
    return rc;
}
