/*
 * pingpong.c - what the sockport layer costs on the send/recv path.
 *
 * One thread plays both ends of a socketpair: send 64 bytes on one end, receive them on
 * the other, send them back, receive them again; N times. "sockport" does it through
 * sp_send/sp_recv, "raw" through the system calls themselves (send/recv with the same
 * flags sockport uses, so both ask the kernel for the same work). Run it under
 * `valgrind --tool=callgrind --toggle-collect=pingpong_*` to count only the loops:
 * bench/callgrind.sh does that and prints the report.
 *
 * usage: sockport_bench_pingpong sockport|raw [messages]
 */
#include <sockport.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define MSG 64

#ifdef MSG_NOSIGNAL
#    define RAW_SEND_FLAGS MSG_NOSIGNAL
#else
#    define RAW_SEND_FLAGS 0
#endif

/* noinline: callgrind's --toggle-collect needs each loop to be a function of its own. */
__attribute__((noinline)) static int pingpong_sockport(sp_socket_t a, sp_socket_t b, long n)
{
    char out[MSG], in[MSG];
    long i;
    memset(out, 'x', sizeof out);
    for (i = 0; i < n; i++) {
        if (sp_send(a, out, MSG) != MSG || sp_recv(b, in, MSG) != MSG ||
            sp_send(b, in, MSG) != MSG || sp_recv(a, out, MSG) != MSG)
            return -1;
    }
    return 0;
}

__attribute__((noinline)) static int pingpong_raw(int a, int b, long n)
{
    char out[MSG], in[MSG];
    long i;
    memset(out, 'x', sizeof out);
    for (i = 0; i < n; i++) {
        if (send(a, out, MSG, RAW_SEND_FLAGS) != MSG || recv(b, in, MSG, 0) != MSG ||
            send(b, in, MSG, RAW_SEND_FLAGS) != MSG || recv(a, out, MSG, 0) != MSG)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    sp_socket_t pair[2];
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    struct timespec t0, t1;
    double ns;
    int rc;
    if (argc < 2 || (strcmp(argv[1], "sockport") != 0 && strcmp(argv[1], "raw") != 0) || n <= 0) {
        fprintf(stderr, "usage: %s sockport|raw [messages]\n", argv[0]);
        return 2;
    }
    if (sp_init() != 0 || sp_socketpair(pair) != 0) {
        fprintf(stderr, "socketpair failed\n");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = strcmp(argv[1], "raw") == 0 ? pingpong_raw(pair[0], pair[1], n)
                                     : pingpong_sockport(pair[0], pair[1], n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    sp_close(pair[0]);
    sp_close(pair[1]);
    sp_cleanup();
    if (rc != 0) {
        fprintf(stderr, "pingpong failed\n");
        return 1;
    }
    printf("%s: %ld round trips of %d bytes, %.1f ns per round trip\n", argv[1], n, MSG,
           ns / (double)n);
    return 0;
}
