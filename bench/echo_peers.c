/*
 * echo_peers.c - sockport's server against its peers, on one echo protocol.
 *
 * Every server speaks the same protocol: a message is a 4-byte big-endian length and that
 * many bytes of payload (at most 1 MiB); the reply is the same frame.
 *
 *   sockport_bench_echo server KIND ADDRESS   serve until SIGTERM / SIGINT; prints
 *                                             "listening HOST:PORT" once ready
 *       KIND: sockport-events, sockport-threads, sockport-fork, epoll, libuv, libevent
 *       (libuv and libevent only when built with them: HAVE_LIBUV, HAVE_LIBEVENT)
 *   sockport_bench_echo load ADDRESS CONNS SIZE SECONDS
 *       CONNS connections, each in ping-pong (send one SIZE-byte frame, wait for its echo,
 *       repeat), from one thread with epoll; prints one line:
 *       "rt=N seconds=S rt_per_s=R p50_us=A p99_us=B errors=E"
 *
 * bench/echo_bench.sh runs the whole comparison and prints a Markdown table.
 */
#include <sockport.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
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

#define MAX_PAYLOAD ((size_t)1 << 20)
#define HDR         4

static volatile sig_atomic_t stop_flag;

static uint32_t get_be32(const unsigned char *p)
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

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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

static void set_nonblocking(int fd)
{
    (void)sp_set_nonblocking(fd, 1);
}

static void set_nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A non-blocking listening socket for the peers; prints "listening HOST:PORT". */
static int raw_listen(const char *address)
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
    set_nonblocking(fd);
    if (sp_local_addr(fd, &local) == 0 && sp_addr_format(&local, text, sizeof text) >= 0)
        printf("listening %s\n", text);
    fflush(stdout);
    return fd;
}

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* SIGTERM and SIGINT set stop_flag and interrupt blocking calls (no SA_RESTART). */
static void catch_stop_signals(void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* ---------------------------------------------------------------- sockport */

static sp_server *running_server;

static int sp_echo_message(sp_conn *c, const void *msg, size_t len)
{
    return sp_conn_send(c, msg, len);
}

static void sp_echo_open(sp_conn *c)
{
    set_nodelay(sp_conn_socket(c));
}

static const sp_server_handler sp_echo_handler = {sp_echo_open, sp_echo_message, NULL, NULL};

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

/* One connection: received bytes in rbuf[0, rlen); output that did not fit in the
 * socket in wbuf[woff, wlen). While output is pending the connection waits for
 * writability only (no reading: back-pressure). */
typedef struct ep_conn {
    int fd;
    unsigned char *rbuf;
    size_t rlen, rcap;
    unsigned char *wbuf;
    size_t woff, wlen, wcap;
} ep_conn;

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
    ev.events = events;
    ev.data.ptr = c;
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Send what is pending in wbuf. 1: all sent, 0: more to send, -1: error. */
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

/* Queue n bytes behind what is pending. */
static int ep_queue(ep_conn *c, const unsigned char *p, size_t n)
{
    if (c->wlen + n > c->wcap) {
        size_t cap = c->wcap ? c->wcap : 16384;
        unsigned char *nb;
        while (cap < c->wlen + n)
            cap *= 2;
        if ((nb = (unsigned char *)realloc(c->wbuf, cap)) == NULL)
            return -1;
        c->wbuf = nb;
        c->wcap = cap;
    }
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += n;
    return 0;
}

/* Readable: receive once, echo every whole frame (they are contiguous at the front of
 * rbuf and the reply is the very same bytes: one send for all of them), keep the cut
 * frame. Returns -1 to close. */
static int ep_on_read(int ep, ep_conn *c)
{
    size_t done = 0, need = HDR;
    ssize_t n;
    if (c->rlen >= HDR)
        need = HDR + get_be32(c->rbuf);
    if (need > c->rcap) {
        unsigned char *nb = (unsigned char *)realloc(c->rbuf, need);
        if (nb == NULL)
            return -1;
        c->rbuf = nb;
        c->rcap = need;
    }
    do
        n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return -1;
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    c->rlen += (size_t)n;
    while (c->rlen - done >= HDR) {
        uint32_t len = get_be32(c->rbuf + done);
        if (len > MAX_PAYLOAD)
            return -1;
        if (c->rlen - done < HDR + (size_t)len)
            break;
        done += HDR + (size_t)len;
    }
    if (done > 0) {
        size_t sent = 0;
        while (sent < done) {
            ssize_t w = send(c->fd, c->rbuf + sent, done - sent, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                return -1;
            }
            sent += (size_t)w;
        }
        if (sent < done) {
            if (ep_queue(c, c->rbuf + sent, done - sent) != 0 || ep_want(ep, c, EPOLLOUT) != 0)
                return -1;
        }
        memmove(c->rbuf, c->rbuf + done, c->rlen - done);
        c->rlen -= done;
    }
    return 0;
}

static int serve_epoll(const char *address)
{
    struct epoll_event events[256], ev;
    int lfd = raw_listen(address), ep;
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
            if (c == NULL) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    c = (ep_conn *)calloc(1, sizeof *c);
                    if (c == NULL || (c->rbuf = (unsigned char *)malloc(16384)) == NULL) {
                        free(c);
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    c->rcap = 16384;
                    set_nodelay(fd);
                    ev.events = EPOLLIN;
                    ev.data.ptr = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            if (events[i].events & EPOLLOUT) {
                int r = ep_flush(c);
                if (r < 0) {
                    ep_close(ep, c);
                    continue;
                }
                if (r == 1 && ep_want(ep, c, EPOLLIN) != 0) {
                    ep_close(ep, c);
                    continue;
                }
                if (r == 0)
                    continue;
            }
            if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c->wlen == 0 &&
                ep_on_read(ep, c) < 0)
                ep_close(ep, c);
        }
    }
    /* connections still open are left to the exit */
    close(ep);
    close(lfd);
    return 0;
}

/* ---------------------------------------------------------------- libuv */

#ifdef HAVE_LIBUV
typedef struct uv_echo_conn {
    uv_tcp_t tcp; /* first: the handle's address is the connection's */
    char *rbuf;
    size_t rlen, rcap;
} uv_echo_conn;

typedef struct uv_echo_write {
    uv_write_t req;
    uv_buf_t buf;
} uv_echo_write;

static void uv_echo_closed(uv_handle_t *h)
{
    uv_echo_conn *c = (uv_echo_conn *)h;
    free(c->rbuf);
    free(c);
}

static void uv_echo_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    uv_echo_conn *c = (uv_echo_conn *)h;
    size_t need = c->rlen + HDR;
    (void)suggested;
    if (c->rlen >= HDR)
        need = HDR + get_be32((unsigned char *)c->rbuf);
    if (need < 16384)
        need = 16384;
    if (need > c->rcap) {
        char *nb = (char *)realloc(c->rbuf, need);
        if (nb != NULL) {
            c->rbuf = nb;
            c->rcap = need;
        }
    }
    *buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
}

static void uv_echo_written(uv_write_t *req, int status)
{
    uv_echo_write *w = (uv_echo_write *)req;
    (void)status;
    free(w->buf.base);
    free(w);
}

static void uv_echo_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    uv_echo_conn *c = (uv_echo_conn *)s;
    size_t done = 0;
    (void)buf;
    if (nread < 0) {
        uv_close((uv_handle_t *)s, uv_echo_closed);
        return;
    }
    c->rlen += (size_t)nread;
    while (c->rlen - done >= HDR) {
        uint32_t len = get_be32((unsigned char *)c->rbuf + done);
        if (len > MAX_PAYLOAD) {
            uv_close((uv_handle_t *)s, uv_echo_closed);
            return;
        }
        if (c->rlen - done < HDR + (size_t)len)
            break;
        done += HDR + (size_t)len;
    }
    if (done == 0)
        return;
    {
        /* try to send at once; queue a copy of what is left (uv_try_write refuses while
         * earlier writes are queued, so the order is kept) */
        uv_buf_t b = uv_buf_init(c->rbuf, (unsigned)done);
        int sent = uv_try_write(s, &b, 1);
        if (sent < 0 && sent != UV_EAGAIN) {
            uv_close((uv_handle_t *)s, uv_echo_closed);
            return;
        }
        if (sent < 0)
            sent = 0;
        if ((size_t)sent < done) {
            uv_echo_write *w = (uv_echo_write *)malloc(sizeof *w);
            char *copy = (char *)malloc(done - (size_t)sent);
            if (w == NULL || copy == NULL) {
                free(w);
                free(copy);
                uv_close((uv_handle_t *)s, uv_echo_closed);
                return;
            }
            memcpy(copy, c->rbuf + sent, done - (size_t)sent);
            w->buf = uv_buf_init(copy, (unsigned)(done - (size_t)sent));
            uv_write(&w->req, s, &w->buf, 1, uv_echo_written);
        }
    }
    memmove(c->rbuf, c->rbuf + done, c->rlen - done);
    c->rlen -= done;
}

static void uv_echo_accept(uv_stream_t *server, int status)
{
    uv_echo_conn *c;
    if (status < 0 || (c = (uv_echo_conn *)calloc(1, sizeof *c)) == NULL)
        return;
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, uv_echo_closed);
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
    int lfd = raw_listen(address);
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
            bufferevent_free(bev);
            return;
        }
        if (have < HDR + (size_t)len)
            return;
        /* moves the frame's chains from input to output: no copy of the payload */
        if (evbuffer_remove_buffer(in, out, HDR + (size_t)len) < 0) {
            bufferevent_free(bev);
            return;
        }
    }
}

static void ev_echo_event(struct bufferevent *bev, short what, void *arg)
{
    (void)arg;
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
    int lfd = raw_listen(address);
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

/* ---------------------------------------------------------------- load generator */

/* Latency histogram: 100 ns buckets up to 100 ms; slower round trips land in the last. */
#define HIST_NS      100u
#define HIST_BUCKETS 1000000u

typedef struct ld_conn {
    int fd;
    size_t woff, roff; /* bytes of the current frame sent, and of its echo received */
    uint64_t t0;       /* when its send began */
    int want_out;
} ld_conn;

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

/* Send the rest of the current frame. Returns -1 on error. */
static int ld_send(int ep, ld_conn *c, const unsigned char *frame, size_t flen)
{
    while (c->woff < flen) {
        ssize_t n = send(c->fd, frame + c->woff, flen - c->woff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -1;
            break;
        }
        c->woff += (size_t)n;
    }
    if ((c->woff < flen) != c->want_out) {
        struct epoll_event ev;
        c->want_out = c->woff < flen;
        ev.events = EPOLLIN | (c->want_out ? EPOLLOUT : 0u);
        ev.data.ptr = c;
        if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
            return -1;
    }
    return 0;
}

static int run_load(const char *address, long conns, size_t size, double seconds)
{
    struct addrinfo *res = resolve(address, 0);
    size_t flen = HDR + size;
    unsigned char *frame = (unsigned char *)malloc(flen);
    unsigned char *rbuf = (unsigned char *)malloc(flen);
    uint32_t *hist = (uint32_t *)calloc(HIST_BUCKETS, sizeof *hist);
    ld_conn *cs = (ld_conn *)calloc((size_t)conns, sizeof *cs);
    struct epoll_event events[256];
    uint64_t rt = 0, errors = 0;
    double start, end, elapsed;
    long i, open = 0;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (res == NULL || frame == NULL || rbuf == NULL || hist == NULL || cs == NULL ||
        size > MAX_PAYLOAD || ep < 0) {
        fprintf(stderr, "echo: load: cannot start\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    put_be32(frame, (uint32_t)size);
    for (i = 0; i < (long)size; i++)
        frame[HDR + i] = (unsigned char)(i * 31 + 7);
    /* connect blocking, then switch to non-blocking */
    for (i = 0; i < conns; i++) {
        struct epoll_event ev;
        int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
            perror("echo: load: connect");
            return 1;
        }
        set_nonblocking(fd);
        set_nodelay(fd);
        cs[i].fd = fd;
        ev.events = EPOLLIN;
        ev.data.ptr = &cs[i];
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    freeaddrinfo(res);
    start = now_s();
    end = start + seconds;
    for (i = 0; i < conns; i++) {
        cs[i].t0 = now_ns();
        if (ld_send(ep, &cs[i], frame, flen) != 0)
            errors++;
    }
    open = conns;
    while (open > 0) {
        int k, n = epoll_wait(ep, events, 256, 100);
        double t = now_s();
        if (n < 0 && errno != EINTR)
            break;
        if (t >= end)
            break;
        for (k = 0; k < n; k++) {
            ld_conn *c = (ld_conn *)events[k].data.ptr;
            if (c->fd < 0)
                continue;
            if ((events[k].events & EPOLLOUT) && ld_send(ep, c, frame, flen) != 0)
                goto fail;
            if (events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t got;
                do
                    got = recv(c->fd, rbuf + c->roff, flen - c->roff, 0);
                while (got < 0 && errno == EINTR);
                if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                    goto fail;
                if (got < 0)
                    continue;
                /* only the current echo is ever in flight: check its header and ends */
                if (c->roff < HDR && c->roff + (size_t)got >= HDR &&
                    get_be32(rbuf) != (uint32_t)size)
                    goto fail;
                c->roff += (size_t)got;
                if (c->roff == flen) {
                    uint64_t t1 = now_ns(), b = (t1 - c->t0) / HIST_NS;
                    if (size > 0 && (rbuf[HDR] != frame[HDR] || rbuf[flen - 1] != frame[flen - 1]))
                        goto fail;
                    hist[b < HIST_BUCKETS ? b : HIST_BUCKETS - 1]++;
                    rt++;
                    c->roff = c->woff = 0;
                    c->t0 = t1;
                    if (ld_send(ep, c, frame, flen) != 0)
                        goto fail;
                }
            }
            continue;
        fail:
            errors++;
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->fd = -1;
            open--;
        }
    }
    elapsed = now_s() - start;
    for (i = 0; i < conns; i++)
        if (cs[i].fd >= 0)
            close(cs[i].fd);
    close(ep);
    printf("rt=%llu seconds=%.3f rt_per_s=%.0f p50_us=%.1f p99_us=%.1f errors=%llu\n",
           (unsigned long long)rt, elapsed, (double)rt / elapsed,
           rt ? hist_percentile(hist, rt, 0.50) : 0.0, rt ? hist_percentile(hist, rt, 0.99) : 0.0,
           (unsigned long long)errors);
    free(frame);
    free(rbuf);
    free(hist);
    free(cs);
    return errors != 0 || rt == 0;
}

/* ---------------------------------------------------------------- main */

static int cmd_server(const char *kind, const char *address)
{
    if (strcmp(kind, "sockport-events") == 0)
        return serve_sockport(SP_MODEL_EVENTS, address);
    if (strcmp(kind, "sockport-threads") == 0)
        return serve_sockport(SP_MODEL_THREADS, address);
    if (strcmp(kind, "sockport-fork") == 0)
        return serve_sockport(SP_MODEL_FORK, address);
    if (strcmp(kind, "epoll") == 0)
        return serve_epoll(address);
#ifdef HAVE_LIBUV
    if (strcmp(kind, "libuv") == 0)
        return serve_libuv(address);
#endif
#ifdef HAVE_LIBEVENT
    if (strcmp(kind, "libevent") == 0)
        return serve_libevent(address);
#endif
    fprintf(stderr, "echo: server kind %s is not built in\n", kind);
    return 3;
}

int main(int argc, char **argv)
{
    int rc;
    sp_init();
    if (argc == 4 && strcmp(argv[1], "server") == 0) {
        rc = cmd_server(argv[2], argv[3]);
    } else if (argc == 6 && strcmp(argv[1], "load") == 0 && atol(argv[3]) > 0) {
        rc = run_load(argv[2], atol(argv[3]), (size_t)atol(argv[4]), atof(argv[5]));
    } else {
        fprintf(stderr,
                "usage: %s server KIND ADDRESS | load ADDRESS CONNS SIZE SECONDS\n"
                "KIND: sockport-events, sockport-threads, sockport-fork, epoll"
#ifdef HAVE_LIBUV
                ", libuv"
#endif
#ifdef HAVE_LIBEVENT
                ", libevent"
#endif
                "\n",
                argv[0]);
        rc = 2;
    }
    sp_cleanup();
    return rc;
}
