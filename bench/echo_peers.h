/*
 * echo_peers.h - what the echo peers in other files (bench/uring_peer.c) share with
 * bench/echo_peers.c: the protocol's helpers, the error count, the listening socket and
 * the stop signals. Bench code, not a library header.
 */
#ifndef SOCKPORT_BENCH_ECHO_PEERS_H
#define SOCKPORT_BENCH_ECHO_PEERS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_PAYLOAD ((size_t)1 << 20)
#define HDR         4

/* Set by SIGTERM / SIGINT (catch_stop_signals(on_stop_signal)). */
extern volatile sig_atomic_t stop_flag;

uint32_t get_be32(const unsigned char *p);

/* The length of the whole frames at the front of p[0, n); -1 on a frame over the limit. */
ptrdiff_t whole_frames(const unsigned char *p, size_t n);

/* Count a server error; the first few of each process are named on stderr. */
void count_error_at(const char *fn, int line);
#define count_error() count_error_at(__func__, __LINE__)

void set_nodelay(int fd);

/* A listening socket for the hand-written servers; prints "listening HOST:PORT". */
int raw_listen(const char *address, int nonblocking);

void on_stop_signal(int sig);

/* SIGTERM and SIGINT call fn and interrupt blocking calls (no SA_RESTART); SIGPIPE ignored. */
void catch_stop_signals(void (*fn)(int));

/* Grow *buf (capacity *cap, doubling from 4096) to hold need bytes. -1: out of memory. */
int ep_reserve(unsigned char **buf, size_t *cap, size_t need);

/* The io_uring peer (bench/uring_peer.c, built when HAVE_IO_URING): serves until stopped;
 * 0 when stopped, 1 on a setup failure, 2 when the kernel refuses io_uring. */
int serve_io_uring(const char *address);

#endif
