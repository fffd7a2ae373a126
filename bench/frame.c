/*
 * frame.c - decode throughput of the frame decoder beside memcpy of the same bytes.
 *
 * For each framing (4-byte prefix, "\n", "\r\n", fixed) and message size (64 B, 16 KiB),
 * a stream of about 4 MiB of frames is decoded from memory with sp_frame_decoder_feed /
 * _next, either fed whole or in pieces of 16000 bytes (like what one recv returns: not
 * aligned with the frames), and memcpy copies the same number of bytes on the same
 * machine in the same run. The consumer of each message reads its length and first byte. Figures
 * are GB/s (10^9 bytes of stream per second), medians of several repetitions, and the ratio decode
 * / memcpy.
 *
 * A message that lies whole in the piece fed is returned in place: a prefixed or fixed
 * decoder then touches only the headers, a delimited one scans every byte (memchr). A
 * message cut by the end of a piece is copied once into the decoder.
 *
 * usage: sockport_bench_frame [repetitions]   (default 7)
 */
#include <sockport.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STREAM_BYTES ((size_t)4 << 20)
#define MIN_REP_SEC  0.05

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static volatile size_t sink;

/* About STREAM_BYTES of frames of `msg`-byte payloads (letters: no delimiter inside). */
static unsigned char *build_stream(const sp_framer *f, size_t msg, size_t *len)
{
    unsigned char *s = (unsigned char *)malloc(STREAM_BYTES + msg + 64);
    unsigned char *payload = (unsigned char *)malloc(msg);
    size_t n = 0, i;
    if (s == NULL || payload == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (i = 0; i < msg; i++)
        payload[i] = (unsigned char)('a' + i % 26);
    while (n < STREAM_BYTES) {
        unsigned char hdr[SP_FRAME_HEADER_MAX];
        sp_iovec iov[2];
        int k = sp_frame_encode(f, payload, msg, hdr, iov), j;
        if (k < 1) {
            fprintf(stderr, "encode: %s\n", sp_strerror(k));
            exit(1);
        }
        for (j = 0; j < k; j++) {
            memcpy(s + n, iov[j].base, (size_t)iov[j].len);
            n += (size_t)iov[j].len;
        }
    }
    free(payload);
    *len = n;
    return s;
}

/* Decode the stream once, fed in pieces of `chunk` bytes; returns the message count. */
static size_t decode_once(sp_frame_decoder *d, const unsigned char *s, size_t n, size_t chunk)
{
    size_t pos = 0, count = 0, acc = 0;
    while (pos < n) {
        size_t k = n - pos < chunk ? n - pos : chunk, used;
        const unsigned char *p = s + pos;
        while (k > 0) {
            sp_frame_msg m;
            if (sp_frame_decoder_feed(d, p, k, &used) != 0) {
                fprintf(stderr, "feed failed\n");
                exit(1);
            }
            while (sp_frame_decoder_next(d, &m) > 0) {
                acc += m.len + (m.len ? *(const unsigned char *)m.data : 0);
                count++;
            }
            p += used;
            k -= used;
        }
        pos += n - pos < chunk ? n - pos : chunk;
    }
    sink += acc;
    return count;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return v[n / 2];
}

/* GB/s of decoding and of memcpy, interleaved repetition by repetition. */
static void measure(const sp_framer *f, size_t msg, size_t chunk, int reps, double *dec_gbs,
                    double *cpy_gbs, size_t *msgs)
{
    size_t n, it, iters = 1;
    unsigned char *s = build_stream(f, msg, &n);
    unsigned char *dst = (unsigned char *)malloc(n);
    double dec[64], cpy[64], t;
    sp_frame_decoder d;
    int r;
    if (dst == NULL || sp_frame_decoder_init(&d, f) != 0) {
        fprintf(stderr, "set-up failed\n");
        exit(1);
    }
    memset(dst, 0, n);
    *msgs = decode_once(&d, s, n, chunk); /* warm-up: the decoder reaches its size */
    for (;;) {                            /* iterations for MIN_REP_SEC per repetition */
        t = now_sec();
        for (it = 0; it < iters; it++)
            memcpy(dst, s, n);
        if (now_sec() - t >= MIN_REP_SEC)
            break;
        iters *= 2;
    }
    for (r = 0; r < reps; r++) {
        t = now_sec();
        for (it = 0; it < iters; it++) {
            memcpy(dst, s, n);
            sink += dst[it % n];
        }
        cpy[r] = (double)n * (double)iters / (now_sec() - t) / 1e9;
        t = now_sec();
        for (it = 0; it < iters; it++)
            decode_once(&d, s, n, chunk);
        dec[r] = (double)n * (double)iters / (now_sec() - t) / 1e9;
    }
    *dec_gbs = median(dec, reps);
    *cpy_gbs = median(cpy, reps);
    sp_frame_decoder_free(&d);
    free(dst);
    free(s);
}

int main(int argc, char **argv)
{
    struct {
        const char *name;
        sp_framer f;
    } fr[4];
    static const size_t sizes[2] = {64, 16384};
    static const size_t chunks[2] = {(size_t)-1, 16000};
    int reps = argc > 1 ? atoi(argv[1]) : 7, i, j, k;
    if (reps < 1 || reps > 64)
        reps = 7;
    fr[0].name = "prefix u32";
    sp_framer_prefix(&fr[0].f, 4, 0, 1 << 20);
    fr[1].name = "delim \\n";
    sp_framer_delim(&fr[1].f, "\n", 1, 1 << 20);
    fr[2].name = "delim \\r\\n";
    sp_framer_delim(&fr[2].f, "\r\n", 2, 1 << 20);
    fr[3].name = "fixed";

    printf("frame decode vs memcpy: ~%zu MiB streams, median of %d repetitions\n\n",
           STREAM_BYTES >> 20, reps);
    printf("| framing | message | fed in | decode GB/s | memcpy GB/s | ratio |\n");
    printf("|---|---:|---|---:|---:|---:|\n");
    for (i = 0; i < 4; i++)
        for (j = 0; j < 2; j++)
            for (k = 0; k < 2; k++) {
                double dec, cpy;
                size_t msgs;
                if (i == 3)
                    sp_framer_fixed(&fr[3].f, sizes[j]);
                measure(&fr[i].f, sizes[j], chunks[k], reps, &dec, &cpy, &msgs);
                printf("| %s | %zu B | %s | %.2f | %.2f | %.2f |\n", fr[i].name, sizes[j],
                       k == 0 ? "whole" : "16000 B", dec, cpy, dec / cpy);
                fflush(stdout);
            }
    return 0;
}
