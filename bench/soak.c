/*
 * soak.c - a long run of framed echo traffic against a sockport server, with faults.
 *
 *   sockport_soak [-c CLIENTS] [-d SECONDS] [-m events|threads|fork|all] [-s SEED] [-q]
 *
 * For each model a server process is forked (it runs sp_server_run on its main thread,
 * as a program would; the fork model then forks from a single-threaded process). CLIENTS
 * clean clients send messages of random size (0 to 64 KiB, 1 to 4 in flight) for SECONDS
 * and check every echo byte for byte; they also reconnect now and then. Beside them,
 * fault workers inject at random:
 *   rst       a message and a half, then an abortive close (RST) mid-message
 *   stall     a client that sends 3 MiB and stops reading for 1.5 s (back-pressure),
 *             then reads every echo and checks it
 *   trickle   half a message a few bytes at a time (slowloris): the idle timeout must
 *             close it about IDLE_MS after the accept (not before, not much after)
 *   garbage   a length prefix over the maximum (or junk): the server must close it
 *   churn     20 connections opened, one echo each, closed at once
 *   signals   bursts of SIGUSR1 (handler without SA_RESTART) at the server's process
 *             group and at the clients' process
 *   loss      (root: in a net namespace of its own) iptables drops 10 % of loopback packets
 *             for 3 s
 *   vanish    (root: in a net namespace of its own) a connected peer's packets are dropped
 *             both ways: the server's keepalive (1 s, 1 s, 3) must end the connection
 * A fault is survived when its own check passes and a fresh connection is served after
 * it. A message is lost when a clean client misses an echo or gets a wrong byte.
 *
 * The report: messages and bytes, faults injected and survived per kind, the server's
 * and the clients' descriptors and threads at start and end, peak RSS. The exit status
 * is non-zero when a message was lost, a fault was not survived, or a count did not
 * return to its start. POSIX only (fork, signals, /proc, iptables). Not a test: a
 * program to run for minutes (docs/soak.md) or briefly in CI (scripts/checks/70-soak.sh).
 */
#include <sockport.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_MSG      65536
#define IDLE_MS      5000 /* the server's idle timeout */
#define ECHO_TIMEOUT 30000
/* A SYN lost during a loss burst is sent again after 1, 3, 7, 15 s (Linux's initial
 * retransmission timeout is 1 s, whatever the route's rto_min): a dial waits out 4
 * losses in a row. */
#define DIAL_MS 30000
/* How long a garbage client waits for the server to end it (at once, when all is well). */
#define CLOSE_MS      10000
#define FAULT_WORKERS 4
#define STALL_BYTES   (3u << 20)

enum { F_RST, F_STALL, F_TRICKLE, F_GARBAGE, F_CHURN, F_SIGNALS, F_LOSS, F_VANISH, F_KINDS };
static const char *const fault_names[F_KINDS] = {"rst",   "stall",   "trickle", "garbage",
                                                 "churn", "signals", "loss",    "vanish"};

/* ---- small helpers ------------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep that goes on after a signal (the bursts interrupt everything). */
static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* xorshift64*: one per thread, seeded from the run's seed. */
static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void fill(unsigned char *p, size_t n, uint64_t *s)
{
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        uint64_t v = rnd(s);
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++)
        p[i] = (unsigned char)rnd(s);
}

static int count_dir(const char *path)
{
    int n = 0;
    struct dirent *e;
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static int count_fds(void)
{
    return count_dir("/proc/self/fd") - 1; /* not opendir's own */
}

static int count_threads(void)
{
    return count_dir("/proc/self/task");
}

/* A field of /proc/self/status in KiB (VmRSS, VmHWM), or -1. */
static long status_kib(const char *field)
{
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* Run a command (no shell), quietly; returns its exit status or -1. */
static int run(const char *const argv[])
{
    pid_t pid;
    int st;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Enter a network namespace of our own (root only), with only loopback, up: then nothing
 * the soak sends can leave the machine and its iptables rules touch no one else's
 * traffic. Returns 1 when the namespace is ours and iptables works in it (loss and
 * vanish faults), else 0: the soak then runs on the loopback it has.
 */
static int private_netns(void)
{
    const char *const up[] = {"ip", "link", "set", "lo", "up", NULL};
    const char *const probe[] = {"iptables", "-w", "-S", "INPUT", NULL};
    const char *const rto8[] = {"ip",   "route", "replace",   "local",   "127.0.0.0/8", "dev",
                                "lo",   "table", "local",     "proto",   "kernel",      "scope",
                                "host", "src",   "127.0.0.1", "rto_min", "10ms",        NULL};
    const char *const rto1[] = {"ip",   "route", "replace",   "local",   "127.0.0.1", "dev",
                                "lo",   "table", "local",     "proto",   "kernel",    "scope",
                                "host", "src",   "127.0.0.1", "rto_min", "10ms",      NULL};
    if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0)
        return 0;
    if (run(up) != 0) {
        fprintf(stderr, "soak: cannot bring loopback up in the new namespace\n");
        exit(1);
    }
    /* A loss burst drops 10 % of the packets for 3 s. With Linux's 200 ms minimum
     * retransmission timeout, doubled per loss of the same segment, a segment lost 5
     * times in a row arrives 6.2 s late: past the server's 5 s idle timeout, which then
     * rightly closes a clean client (CI saw it: "end of stream after 5.9 s"). A burst
     * carries some 10^5 segments at p = 10^-5 each. A 10 ms minimum on this namespace's
     * loopback routes keeps retransmission fast, so that the soak measures the server,
     * not TCP's backoff; without it there are no loss bursts. */
    if (run(rto1) != 0 || run(rto8) != 0) {
        fprintf(stderr, "soak: cannot set rto_min on loopback: no loss or vanish faults\n");
        return 0;
    }
    return run(probe) == 0;
}

/* ---- the server (in its own process) ------------------------------------------------ */

static sp_server *g_srv;
static volatile sig_atomic_t g_usr1;

static void on_usr1(int sig)
{
    (void)sig;
    g_usr1++;
}

static void on_term(int sig)
{
    (void)sig;
    sp_server_stop(g_srv); /* async-signal-safe */
}

static int echo_message(sp_conn *c, const void *msg, size_t len)
{
    return sp_conn_send(c, msg, len);
}

static const sp_server_handler echo_handler = {NULL, echo_message, NULL, NULL, NULL};

/* What the server process tells the soak when it ends. */
struct server_report {
    int fds0, fds1, threads0, threads1, children_left, run_rc;
    long rss0, rss1, hwm;
    long usr1;
};

static void handle_signal(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: interrupted calls fail with EINTR */
    sigaction(sig, &sa, NULL);
}

static void server_main(int model, int to_parent)
{
    struct server_report r;
    sp_framer f;
    sp_server_config cfg;
    sp_addr a;
    int port = -1;
    memset(&r, 0, sizeof r);
    setpgid(0, 0); /* the signal bursts go to the group: the fork model's children too */
    handle_signal(SIGUSR1, on_usr1);
    r.fds0 = count_fds();
    r.threads0 = count_threads();
    r.rss0 = status_kib("VmRSS");
    sp_init();
    sp_framer_prefix(&f, 4, 0, MAX_MSG);
    sp_server_config_init(&cfg);
    cfg.model = model;
    cfg.handler = &echo_handler;
    cfg.framer = &f;
    cfg.idle_timeout_ms = IDLE_MS;
    cfg.keepalive_idle_s = 1;
    cfg.keepalive_interval_s = 1;
    cfg.keepalive_count = 3;
    cfg.backlog = 512;
    if (sp_server_create(&g_srv, &cfg) == 0 && sp_server_listen(g_srv, "127.0.0.1:0") == 0 &&
        sp_server_local_addr(g_srv, 0, &a) == 0)
        port = sp_addr_port(&a);
    handle_signal(SIGTERM, on_term);
    if (write(to_parent, &port, sizeof port) != (ssize_t)sizeof port || port < 0)
        _exit(2);
    r.run_rc = sp_server_run(g_srv);
    sp_server_destroy(g_srv);
    sp_cleanup();
    errno = 0;
    r.children_left = waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD ? 0 : 1;
    r.fds1 = count_fds();
    r.threads1 = count_threads();
    r.rss1 = status_kib("VmRSS");
    r.hwm = status_kib("VmHWM");
    r.usr1 = (long)g_usr1;
    if (write(to_parent, &r, sizeof r) != (ssize_t)sizeof r)
        _exit(3);
    _exit(0);
}

/* ---- shared state of one run -------------------------------------------------------- */

struct run {
    int model, clients, duration, netns, verbose;
    uint64_t seed;
    char addr[64];
    pid_t server;
    double end;
    atomic_llong sent, received, lost, corrupt, bytes_sent, bytes_received, fault_msgs;
    atomic_int injected[F_KINDS], survived[F_KINDS];
    atomic_int loss_active;
    sp_framer framer;
};

static void note(struct run *r, const char *fmt, const char *what, int rc)
{
    if (r->verbose)
        fprintf(stderr, "soak: %s: %s %s\n", fmt, what, rc ? sp_err_name(rc) : "");
}

/* One framed echo on a connected socket, checked byte for byte. */
static int echo_once(struct run *r, sp_socket_t s, sp_frame_decoder *d, const unsigned char *p,
                     size_t n)
{
    sp_frame_msg m;
    int rc = sp_frame_send(s, &r->framer, p, n, ECHO_TIMEOUT);
    if (rc != 0)
        return rc;
    rc = sp_frame_recv(s, d, &m, ECHO_TIMEOUT);
    if (rc != 1)
        return rc == 0 ? SP_EEOF : rc;
    return m.len == n && (n == 0 || memcmp(m.data, p, n) == 0) ? 0 : 1;
}

/* A fresh connection is served: the check after every fault. */
static int probe(struct run *r, uint64_t *seed)
{
    unsigned char buf[1024];
    sp_socket_t s;
    sp_frame_decoder d;
    int rc = sp_dial(&s, r->addr, DIAL_MS);
    if (rc != 0)
        return rc;
    sp_frame_decoder_init(&d, &r->framer);
    fill(buf, sizeof buf, seed);
    rc = echo_once(r, s, &d, buf, (size_t)(rnd(seed) % sizeof buf));
    sp_frame_decoder_free(&d);
    sp_close(s);
    return rc;
}

/* ---- clean clients ------------------------------------------------------------------ */

struct client {
    struct run *r;
    int id;
    pthread_t thread;
};

static void *client_main(void *arg)
{
    struct client *cl = (struct client *)arg;
    struct run *r = cl->r;
    uint64_t seed = r->seed * 1000003u + (uint64_t)cl->id + 1;
    unsigned char *out = (unsigned char *)malloc(4 * (size_t)MAX_MSG);
    size_t lens[4];
    sp_frame_decoder d;
    sp_socket_t s = SP_INVALID_SOCKET;
    int rc = 0, failed = 0;
    sp_frame_decoder_init(&d, &r->framer);
    while (out != NULL && !failed && now_s() < r->end) {
        int k, inflight = 1 + (int)(rnd(&seed) % 4);
        if (s == SP_INVALID_SOCKET) {
            sp_frame_decoder_reset(&d);
            if ((rc = sp_dial(&s, r->addr, DIAL_MS)) != 0) {
                note(r, "client dial", "", rc);
                atomic_fetch_add(&r->lost, 1); /* a clean client could not get in */
                break;
            }
        }
        for (k = 0; k < inflight; k++) {
            unsigned char *p = out + (size_t)k * MAX_MSG;
            /* mostly small, sometimes up to the maximum */
            lens[k] =
                (size_t)(rnd(&seed) % 4 == 0 ? rnd(&seed) % (MAX_MSG + 1) : rnd(&seed) % 2048);
            fill(p, lens[k], &seed);
            if ((rc = sp_frame_send(s, &r->framer, p, lens[k], ECHO_TIMEOUT)) != 0) {
                note(r, "client send", "", rc);
                atomic_fetch_add(&r->lost, inflight);
                failed = 1;
                break;
            }
            atomic_fetch_add(&r->sent, 1);
            atomic_fetch_add(&r->bytes_sent, (long long)lens[k]);
        }
        for (k = 0; k < inflight && !failed; k++) {
            sp_frame_msg m;
            double t = now_s();
            rc = sp_frame_recv(s, &d, &m, ECHO_TIMEOUT);
            if (rc != 1) {
                if (r->verbose)
                    fprintf(stderr, "soak: client %d: echo %d of %d: %s after %.1f s%s\n", cl->id,
                            k + 1, inflight, rc == 0 ? "end of stream" : sp_err_name(rc),
                            now_s() - t, atomic_load(&r->loss_active) ? " (loss burst on)" : "");
                atomic_fetch_add(&r->lost, inflight - k);
                failed = 1;
            } else if (m.len != lens[k] ||
                       (m.len > 0 && memcmp(m.data, out + (size_t)k * MAX_MSG, m.len) != 0)) {
                note(r, "client echo differs", "", 0);
                atomic_fetch_add(&r->lost, 1);
                atomic_fetch_add(&r->corrupt, 1);
                failed = 1;
            } else {
                atomic_fetch_add(&r->received, 1);
                atomic_fetch_add(&r->bytes_received, (long long)m.len);
            }
        }
        if (rnd(&seed) % 64 == 0) { /* reconnect now and then */
            sp_close(s);
            s = SP_INVALID_SOCKET;
        }
    }
    if (s != SP_INVALID_SOCKET)
        sp_close(s);
    sp_frame_decoder_free(&d);
    free(out);
    return NULL;
}

/* ---- faults ------------------------------------------------------------------------- */

/* Wait for the server to end the connection; returns the seconds it took, or -1. */
static double wait_closed(sp_socket_t s, int timeout_ms)
{
    char buf[4096];
    double t0 = now_s();
    for (;;) {
        ptrdiff_t n;
        int left = timeout_ms - (int)((now_s() - t0) * 1000);
        if (left <= 0 || sp_wait(s, SP_EV_READ, left) <= 0)
            return -1;
        n = sp_recv(s, buf, sizeof buf);
        if (n == 0 || (n < 0 && n != SP_EAGAIN))
            return now_s() - t0;
    }
}

static int fault_rst(struct run *r, uint64_t *seed)
{
    unsigned char buf[2 * 4096 + 8];
    sp_socket_t s;
    size_t n = 1 + (size_t)(rnd(seed) % 4096), cut;
    unsigned char hdr[4];
    if (sp_dial(&s, r->addr, DIAL_MS) != 0)
        return 0;
    /* one whole message, then a second one cut in the middle */
    fill(buf, sizeof buf, seed);
    sp_store_be32(hdr, (uint32_t)n);
    memcpy(buf, hdr, 4);
    sp_store_be32(hdr, (uint32_t)n);
    memcpy(buf + 4 + n, hdr, 4);
    cut = 4 + n + 4 + (size_t)(rnd(seed) % n);
    (void)sp_send_all(s, buf, cut, 5000, NULL);
    atomic_fetch_add(&r->fault_msgs, 1);
    if (rnd(seed) % 2)
        sleep_ms((int)(rnd(seed) % 50));
    sp_close_abortive(s);
    return 1;
}

/* Send a stream of 3 MiB of messages without reading, stop 1.5 s, then read it all. */
static int fault_stall(struct run *r, uint64_t *seed)
{
    unsigned char *stream = (unsigned char *)malloc(STALL_BYTES + 64 * 1024);
    unsigned char *back = (unsigned char *)malloc(STALL_BYTES + 64 * 1024);
    size_t len = 0, sent = 0, got = 0;
    int msgs = 0, ok = 0;
    double stall_until = -1, deadline;
    sp_socket_t s = SP_INVALID_SOCKET;
    if (stream == NULL || back == NULL || sp_dial(&s, r->addr, DIAL_MS) != 0)
        goto out;
    while (len < STALL_BYTES) {
        size_t n = (size_t)(rnd(seed) % (MAX_MSG + 1));
        sp_store_be32(stream + len, (uint32_t)n);
        fill(stream + len + 4, n, seed);
        len += 4 + n;
        msgs++;
    }
    /* write without reading until the buffers are full (or all is sent), stop reading
     * for 1.5 s more, then read everything back */
    sp_set_nonblocking(s, 1);
    deadline = now_s() + ECHO_TIMEOUT / 1000.0;
    while (got < len && now_s() < deadline) {
        int reading = stall_until > 0 && now_s() >= stall_until;
        int ev = (reading ? SP_EV_READ : 0) | (sent < len ? SP_EV_WRITE : 0), w;
        ptrdiff_t n;
        if (sent == len && stall_until < 0)
            stall_until = now_s() + 1.5;
        if (ev == 0) {
            sleep_ms(10);
            continue;
        }
        w = sp_wait(s, ev, 100);
        if (w < 0)
            break;
        if ((w & SP_EV_WRITE) && sent < len) {
            n = sp_send(s, stream + sent, len - sent);
            if (n > 0)
                sent += (size_t)n;
            else if (n == SP_EAGAIN && stall_until < 0)
                stall_until = now_s() + 1.5; /* the buffers are full: go on not reading */
            else if (n < 0 && n != SP_EAGAIN)
                break;
        }
        if (reading && (w & (SP_EV_READ | SP_EV_ERROR | SP_EV_HUP))) {
            n = sp_recv(s, back + got, len - got);
            if (n == 0 || (n < 0 && n != SP_EAGAIN))
                break;
            if (n > 0)
                got += (size_t)n;
        }
    }
    atomic_fetch_add(&r->fault_msgs, msgs);
    ok = got == len && stall_until > 0 && memcmp(stream, back, len) == 0;
    if (!ok)
        note(r, "stall", got == len ? "echo differs or never stalled" : "echo incomplete", 0);
out:
    if (s != SP_INVALID_SOCKET)
        sp_close(s);
    free(stream);
    free(back);
    return ok;
}

/* Half a message, a few bytes at a time (slowloris): with a framer only whole messages
 * restart the idle timeout, so the server must close it about IDLE_MS after the accept,
 * trickle or not (not before, not much after). */
static int fault_trickle(struct run *r, uint64_t *seed)
{
    unsigned char hdr[4], b[8];
    sp_socket_t s;
    double t0, took;
    int i;
    if (sp_dial(&s, r->addr, DIAL_MS) != 0)
        return 0;
    t0 = now_s();
    sp_store_be32(hdr, 1000);
    if (sp_send_all(s, hdr, 4, 5000, NULL) != 0)
        goto fail;
    for (i = 0; i < 3; i++) { /* bytes every quarter of the timeout: not a whole message */
        sleep_ms(IDLE_MS / 4);
        fill(b, sizeof b, seed);
        if (sp_send_all(s, b, sizeof b, 5000, NULL) != 0)
            goto fail;
    }
    took = wait_closed(s, IDLE_MS + 5000);
    sp_close(s);
    if (took < 0) {
        note(r, "trickle", "not closed by the idle timeout", 0);
        return 0;
    }
    took = now_s() - t0;
    if (took < IDLE_MS / 1000.0 - 0.3) {
        note(r, "trickle", "closed before the idle timeout", 0);
        return 0;
    }
    return 1;
fail:
    note(r, "trickle", "closed before the idle timeout (while trickling)", 0);
    sp_close(s);
    return 0;
}

static int fault_garbage(struct run *r, uint64_t *seed)
{
    unsigned char buf[256];
    sp_socket_t s;
    double took;
    if (sp_dial(&s, r->addr, DIAL_MS) != 0)
        return 0;
    fill(buf, sizeof buf, seed);
    /* a length over the maximum: oversize or plain junk with the top bits set */
    sp_store_be32(buf, (uint32_t)(MAX_MSG + 1 + rnd(seed) % (0xFFFFFFFFu - MAX_MSG - 1)));
    (void)sp_send_all(s, buf, 4 + (size_t)(rnd(seed) % (sizeof buf - 4)), 5000, NULL);
    took = wait_closed(s, CLOSE_MS);
    sp_close(s);
    if (took < 0)
        note(r, "garbage", "not closed", 0);
    return took >= 0;
}

static int fault_churn(struct run *r, uint64_t *seed)
{
    int i, ok = 1;
    for (i = 0; i < 20 && ok; i++) {
        ok = probe(r, seed) == 0;
        atomic_fetch_add(&r->fault_msgs, 1);
    }
    if (!ok)
        note(r, "churn", "a short connection was not served", 0);
    return ok;
}

static int iptables(const char *op, const char *dir, int port)
{
    char p[16];
    const char *argv[] = {"iptables", "-w", op, "INPUT", "-i",   "lo", "-p",
                          "tcp",      dir,  p,  "-j",    "DROP", NULL};
    snprintf(p, sizeof p, "%d", port);
    return run(argv);
}

/* The peer vanishes (every packet dropped, no FIN, no RST): keepalive must end it. */
static int fault_vanish(struct run *r, uint64_t *seed)
{
    unsigned char buf[64];
    sp_socket_t s;
    sp_frame_decoder d;
    sp_addr me;
    int port, rc, ok = 0;
    if (sp_dial(&s, r->addr, DIAL_MS) != 0)
        return 0;
    sp_frame_decoder_init(&d, &r->framer);
    fill(buf, sizeof buf, seed);
    if (echo_once(r, s, &d, buf, sizeof buf) != 0 || sp_local_addr(s, &me) != 0)
        goto out;
    port = sp_addr_port(&me);
    if (iptables("-I", "--sport", port) != 0 || iptables("-I", "--dport", port) != 0) {
        note(r, "vanish", "iptables failed", 0);
        goto out;
    }
    sleep_ms(7000); /* keepalive: 1 s idle + 3 probes 1 s apart = about 4.1 s */
    iptables("-D", "--sport", port);
    iptables("-D", "--dport", port);
    /* The server must have given up: our next message meets a reset (or an end). */
    rc = echo_once(r, s, &d, buf, sizeof buf);
    ok = rc != 0 && rc != 1;
    if (!ok)
        note(r, "vanish", "the server still served a vanished peer", rc);
out:
    sp_frame_decoder_free(&d);
    sp_close(s);
    return ok;
}

static int fault_signals(struct run *r, uint64_t *seed)
{
    int i, n = 20 + (int)(rnd(seed) % 40);
    for (i = 0; i < n; i++) {
        kill(-r->server, SIGUSR1); /* the server and the fork model's children */
        kill(getpid(), SIGUSR1);   /* any thread of the clients */
        if (i % 8 == 7)
            sleep_ms(1);
    }
    return kill(r->server, 0) == 0;
}

static int fault_loss(struct run *r, uint64_t *seed)
{
    const char *add[] = {"iptables",  "-w",     "-I",     "INPUT",         "-i",  "lo", "-m",
                         "statistic", "--mode", "random", "--probability", "0.1", "-j", "DROP",
                         NULL};
    const char *del[] = {"iptables",  "-w",     "-D",     "INPUT",         "-i",  "lo", "-m",
                         "statistic", "--mode", "random", "--probability", "0.1", "-j", "DROP",
                         NULL};
    int expected = 0;
    (void)seed;
    if (!atomic_compare_exchange_strong(&r->loss_active, &expected, 1))
        return -1; /* one burst at a time */
    if (run(add) != 0) {
        atomic_store(&r->loss_active, 0);
        return 0;
    }
    sleep_ms(3000);
    run(del);
    atomic_store(&r->loss_active, 0);
    return 1;
}

struct worker {
    struct run *r;
    int id;
    pthread_t thread;
};

static void *fault_main(void *arg)
{
    struct worker *w = (struct worker *)arg;
    struct run *r = w->r;
    uint64_t seed = r->seed * 7919u + (uint64_t)w->id + 77;
    sleep_ms(200 + (int)(rnd(&seed) % 800));
    while (now_s() < r->end - 1.0) {
        int kind, ok;
        /* the long faults (trickle about 6 s, vanish 7 s) are picked less often */
        unsigned pick = (unsigned)(rnd(&seed) % 100);
        kind = pick < 22   ? F_RST
               : pick < 36 ? F_STALL
               : pick < 44 ? F_TRICKLE
               : pick < 62 ? F_GARBAGE
               : pick < 78 ? F_CHURN
               : pick < 90 ? F_SIGNALS
               : pick < 95 ? F_LOSS
                           : F_VANISH;
        if ((kind == F_LOSS || kind == F_VANISH) && !r->netns)
            kind = F_SIGNALS;
        /* the long faults only while the clean clients still run */
        if ((kind == F_TRICKLE || kind == F_VANISH) && now_s() + 8.0 > r->end)
            kind = F_GARBAGE;
        switch (kind) {
        case F_RST:
            ok = fault_rst(r, &seed);
            break;
        case F_STALL:
            ok = fault_stall(r, &seed);
            break;
        case F_TRICKLE:
            ok = fault_trickle(r, &seed);
            break;
        case F_GARBAGE:
            ok = fault_garbage(r, &seed);
            break;
        case F_CHURN:
            ok = fault_churn(r, &seed);
            break;
        case F_SIGNALS:
            ok = fault_signals(r, &seed);
            break;
        case F_LOSS:
            ok = fault_loss(r, &seed);
            break;
        default:
            ok = fault_vanish(r, &seed);
            break;
        }
        if (ok < 0)
            continue; /* not injected (a loss burst was already on) */
        atomic_fetch_add(&r->injected[kind], 1);
        /* survived: its own check, and the server still serves a new connection */
        if (ok && probe(r, &seed) == 0)
            atomic_fetch_add(&r->survived[kind], 1);
        else if (ok)
            note(r, fault_names[kind], "the probe after it failed", 0);
        sleep_ms(50 + (int)(rnd(&seed) % 400));
    }
    return NULL;
}

/* ---- one model ---------------------------------------------------------------------- */

static const char *model_name(int m)
{
    return m == SP_MODEL_THREADS ? "threads" : m == SP_MODEL_FORK ? "fork" : "events";
}

static int soak_model(int model, int clients, int duration, uint64_t seed, int netns, int verbose)
{
    struct run *r = (struct run *)calloc(1, sizeof *r);
    struct client *cl = (struct client *)calloc((size_t)clients, sizeof *cl);
    struct worker wk[FAULT_WORKERS];
    struct server_report sr;
    int pipefd[2], port = -1, i, st = 0, fds0, threads0, fds1, threads1, bad = 0;
    long long lost;
    int total_inj = 0, total_surv = 0;
    double t0;
    pid_t pid;
    if (r == NULL || cl == NULL)
        return 1;
    memset(&sr, 0, sizeof sr);
    r->model = model;
    r->clients = clients;
    r->duration = duration;
    r->seed = seed;
    r->verbose = verbose;
    r->netns = netns;
    sp_framer_prefix(&r->framer, 4, 0, MAX_MSG);
    fds0 = count_fds();
    threads0 = count_threads();

    if (pipe(pipefd) != 0)
        return 1;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        server_main(model, pipefd[1]);
    }
    close(pipefd[1]);
    if (pid < 0 || read(pipefd[0], &port, sizeof port) != (ssize_t)sizeof port || port < 0) {
        fprintf(stderr, "soak: the server did not start\n");
        return 1;
    }
    r->server = pid;
    snprintf(r->addr, sizeof r->addr, "127.0.0.1:%d", port);
    t0 = now_s();
    r->end = t0 + duration;
    for (i = 0; i < clients; i++) {
        cl[i].r = r;
        cl[i].id = i;
        pthread_create(&cl[i].thread, NULL, client_main, &cl[i]);
    }
    for (i = 0; i < FAULT_WORKERS; i++) {
        wk[i].r = r;
        wk[i].id = i;
        pthread_create(&wk[i].thread, NULL, fault_main, &wk[i]);
    }
    for (i = 0; i < clients; i++)
        pthread_join(cl[i].thread, NULL);
    for (i = 0; i < FAULT_WORKERS; i++)
        pthread_join(wk[i].thread, NULL);

    /* stop the server, collect its report */
    kill(pid, SIGTERM);
    if (read(pipefd[0], &sr, sizeof sr) != (ssize_t)sizeof sr) {
        fprintf(stderr, "soak: no report from the server\n");
        bad = 1;
    }
    close(pipefd[0]);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        bad = 1;
    /* the bursts may still be queued at this process: let them land before counting */
    sleep_ms(50);
    fds1 = count_fds();
    threads1 = count_threads();

    lost = atomic_load(&r->lost);
    printf("model %s: %d clients, %d s (%.1f s run), %s\n", model_name(model), clients, duration,
           now_s() - t0,
           r->netns ? "own net namespace" : "shared loopback: no loss or vanish faults (not root)");
    printf("  messages  sent %lld  received %lld  lost %lld (wrong bytes %lld)\n",
           atomic_load(&r->sent), atomic_load(&r->received), lost, atomic_load(&r->corrupt));
    printf("  bytes     sent %lld  received %lld  (+%lld messages of faulty clients)\n",
           atomic_load(&r->bytes_sent), atomic_load(&r->bytes_received),
           atomic_load(&r->fault_msgs));
    printf("  faults    ");
    for (i = 0; i < F_KINDS; i++) {
        int inj = atomic_load(&r->injected[i]), surv = atomic_load(&r->survived[i]);
        total_inj += inj;
        total_surv += surv;
        printf("%s %d/%d%s", fault_names[i], surv, inj,
               i + 1 == F_KINDS ? ""
               : i == 3         ? ",\n            "
                                : ", ");
    }
    printf("  (survived/injected)\n");
    printf("  server    fds %d -> %d, threads %d -> %d, children left %d, RSS %ld -> %ld KiB, "
           "peak %ld KiB, SIGUSR1 taken %ld, run %s\n",
           sr.fds0, sr.fds1, sr.threads0, sr.threads1, sr.children_left, sr.rss0, sr.rss1, sr.hwm,
           sr.usr1, sr.run_rc == 0 ? "ok" : sp_err_name(sr.run_rc));
    printf("  clients   fds %d -> %d, threads %d -> %d, peak RSS %ld KiB\n", fds0, fds1, threads0,
           threads1, status_kib("VmHWM"));
    if (lost != 0 || total_surv != total_inj || sr.fds0 != sr.fds1 || sr.threads0 != sr.threads1 ||
        sr.children_left != 0 || sr.run_rc != 0 || fds0 != fds1 || threads0 != threads1 ||
        atomic_load(&r->received) == 0)
        bad = 1;
    printf("  result    %s\n", bad ? "FAIL" : "PASS");
    fflush(stdout);
    free(cl);
    free(r);
    return bad;
}

static void usage(void)
{
    fprintf(stderr, "usage: sockport_soak [-c clients] [-d seconds per model] "
                    "[-m events|threads|fork|all] [-s seed] [-v]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int clients = 16, duration = 60, verbose = 0, opt, failed = 0, netns;
    int models[3] = {SP_MODEL_EVENTS, SP_MODEL_THREADS, SP_MODEL_FORK}, first = 0, last = 2, m;
    uint64_t seed = (uint64_t)time(NULL);
    const char *model = "all";
    while ((opt = getopt(argc, argv, "c:d:m:s:v")) != -1) {
        switch (opt) {
        case 'c':
            clients = atoi(optarg);
            break;
        case 'd':
            duration = atoi(optarg);
            break;
        case 'm':
            model = optarg;
            break;
        case 's':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 'v':
            verbose = 1;
            break;
        default:
            usage();
        }
    }
    if (clients < 1 || duration < 1)
        usage();
    if (strcmp(model, "events") == 0)
        first = last = 0;
    else if (strcmp(model, "threads") == 0)
        first = last = 1;
    else if (strcmp(model, "fork") == 0)
        first = last = 2;
    else if (strcmp(model, "all") != 0)
        usage();
    /* The clients' own handler for the bursts: no SA_RESTART, as in the server. */
    handle_signal(SIGUSR1, on_usr1);
    netns = private_netns();
    sp_init();
    printf("sockport soak: seed %llu, %d clients, %d s per model\n", (unsigned long long)seed,
           clients, duration);
    for (m = first; m <= last; m++)
        failed |= soak_model(models[m], clients, duration, seed, netns, verbose);
    sp_cleanup();
    printf("soak: %s\n", failed ? "FAILED" : "passed");
    return failed ? 1 : 0;
}
