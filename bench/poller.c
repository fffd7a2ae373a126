/*
 * poller.c - how one wait scales with the number of registered sockets, per backend.
 *
 * For N idle sockets (unbound UDP sockets: never readable, never hung up) plus one socket
 * with data pending (level-triggered: it stays ready), the time of one sp_poller_wait
 * that returns that one event, on every backend the system has. epoll should stay flat;
 * poll and select grow with N.
 *
 * usage: sockport_bench_poller [max-sockets]   (default 50000; the descriptor limit is
 * raised as far as the system allows, and larger rows are skipped with a note)
 */
#include <sockport.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Raise the descriptor limit to at least want; returns the limit in force. */
static long raise_limit(long want)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if ((long)rl.rlim_cur < want) {
        struct rlimit up = rl;
        up.rlim_cur = (rlim_t)want;
        if ((long)up.rlim_max < want)
            up.rlim_max = (rlim_t)want; /* root may raise the hard limit too */
        if (setrlimit(RLIMIT_NOFILE, &up) != 0) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    return (long)rl.rlim_cur;
}

/* Median microseconds of one wait with n idle sockets registered; < 0 on failure. */
static double measure(int backend, sp_socket_t *idle, long n, sp_socket_t active)
{
    enum { ROUNDS = 7 };
    sp_poller *p;
    sp_event ev[4];
    double t[ROUNDS];
    long i;
    int r, waits = n >= 10000 ? 20 : 200;
    if (sp_poller_create(&p, backend) != 0)
        return -1;
    for (i = 0; i < n; i++)
        if (sp_poller_add(p, idle[i], SP_EV_READ, NULL) != 0)
            goto fail;
    if (sp_poller_add(p, active, SP_EV_READ, NULL) != 0)
        goto fail;
    if (sp_poller_wait(p, ev, 4, 0) != 1) /* warm-up; the select backend builds its sets */
        goto fail;
    for (r = 0; r < ROUNDS; r++) {
        double t0 = now_us();
        int w;
        for (w = 0; w < waits; w++)
            if (sp_poller_wait(p, ev, 4, 0) != 1 || ev[0].sock != active)
                goto fail;
        t[r] = (now_us() - t0) / waits;
    }
    sp_poller_destroy(p);
    qsort(t, ROUNDS, sizeof t[0], cmp_double);
    return t[ROUNDS / 2];
fail:
    sp_poller_destroy(p);
    return -1;
}

int main(int argc, char **argv)
{
    static const long sizes[] = {10, 1000, 10000, 50000};
    static const int backends[] = {SP_POLLER_EPOLL, SP_POLLER_KQUEUE, SP_POLLER_POLL,
                                   SP_POLLER_SELECT, SP_POLLER_WSAPOLL};
    long max = argc > 1 ? atol(argv[1]) : 50000, limit, i, made = 0;
    sp_socket_t *idle, pair[2];
    size_t s, b;
    if (sp_init() != 0 || sp_socketpair(pair) != 0 || sp_send(pair[1], "x", 1) != 1) {
        fprintf(stderr, "set-up failed\n");
        return 1;
    }
    limit = raise_limit(max + 64);
    idle = (sp_socket_t *)malloc((size_t)max * sizeof *idle);
    if (idle == NULL)
        return 1;
    for (i = 0; i < max && i < limit - 64; i++, made++)
        if (sp_socket_open(&idle[i], SP_AF_INET, SP_SOCK_DGRAM) != 0)
            break;
    printf("one sp_poller_wait with N idle sockets and 1 ready, median of 7 rounds (us)\n");
    printf("descriptor limit %ld, idle sockets made %ld\n\n", limit, made);
    printf("%-8s", "N");
    for (b = 0; b < sizeof backends / sizeof backends[0]; b++) {
        sp_poller *p;
        if (sp_poller_create(&p, backends[b]) == 0) {
            printf(" %10s", sp_poller_backend_name(backends[b]));
            sp_poller_destroy(p);
        }
    }
    printf("\n");
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        long n = sizes[s];
        if (n > made) {
            printf("%-8ld (skipped: only %ld sockets could be opened; measuring those)\n", n, made);
            if (s > 0 && sizes[s - 1] >= made)
                continue;
            n = made;
        }
        printf("%-8ld", n);
        for (b = 0; b < sizeof backends / sizeof backends[0]; b++) {
            sp_poller *p;
            double us;
            if (sp_poller_create(&p, backends[b]) != 0)
                continue;
            sp_poller_destroy(p);
            us = measure(backends[b], idle, n, pair[0]);
            if (us < 0)
                printf(" %10s", "failed");
            else
                printf(" %10.2f", us);
        }
        printf("\n");
        fflush(stdout);
    }
    for (i = 0; i < made; i++)
        sp_close(idle[i]);
    free(idle);
    sp_close(pair[0]);
    sp_close(pair[1]);
    sp_cleanup();
    return 0;
}
