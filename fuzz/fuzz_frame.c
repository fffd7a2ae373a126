/*
 * fuzz_frame.c - libFuzzer target for the frame decoder and encoder (sockport/frame.h).
 *
 * Input: a selector byte, an argument byte, 8 delimiter bytes, a seed byte, then the
 * stream. The first bytes choose the framer (fixed, delimited with 1 to 8 of the delimiter
 * bytes, prefixed with width 1/2/4/8 and with or without SP_FRAME_PREFIX_INCLUSIVE; small
 * maximums so that oversize messages are common). Checked:
 *
 * 1. Arbitrary streams: decoding does not depend on how the stream is cut. The stream fed
 *    whole, byte by byte, in random pieces, received into the decoder in random pieces,
 *    and with feeding and receiving mixed, gives the same log of messages and errors (an
 *    oversize message is skipped when it can be, else decoding stops there). Every message
 *    fits the framer (at most max bytes, exactly N when fixed) and encodes again; the
 *    decoder's memory stays within its documented bound.
 * 2. Round trip: the stream is also read as a list of messages (a length byte, then the
 *    bytes); their encoding, decoded under random cutting, gives exactly them back.
 *
 * ASan and UBSan watch every access (each fed piece is its own heap block, freed once
 * used); LeakSanitizer checks that every decoder is released.
 */
#include <sockport.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER 11

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_frame: %s\n", what);
    abort();
}

/* ---- a growing byte log -------------------------------------------------------------- */

typedef struct blog {
    unsigned char *p;
    size_t len, cap;
} blog;

static void put(blog *b, const void *src, size_t n)
{
    if (b->cap - b->len < n) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap - b->len < n)
            ncap *= 2;
        b->p = (unsigned char *)realloc(b->p, ncap);
        if (b->p == NULL)
            fail("out of memory");
        b->cap = ncap;
    }
    if (n > 0)
        memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u64(blog *b, char tag, uint64_t v)
{
    put(b, &tag, 1);
    put(b, &v, sizeof v);
}

static void log_msg(blog *b, const void *p, size_t n)
{
    put_u64(b, 'M', n);
    put(b, p, n);
}

/* ---- chunk sizes from the seed ------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static unsigned rng_next(rng *r)
{
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(r->s >> 33);
}

static size_t rng_chunk(rng *r)
{
    unsigned v = rng_next(r);
    switch (v % 4) {
    case 0:
        return 1;
    case 1:
        return 1 + (v >> 2) % 8;
    case 2:
        return 1 + (v >> 2) % 64;
    default:
        return 1 + (v >> 2) % 1024;
    }
}

/* ---- framer -------------------------------------------------------------------------- */

static int make_framer(sp_framer *f, const uint8_t *h)
{
    static const unsigned widths[4] = {1, 2, 4, 8};
    unsigned sel = h[0], arg = h[1];
    switch (sel % 3) {
    case 0:
        return sp_framer_fixed(f, 1 + arg % 32);
    case 1:
        return sp_framer_delim(f, h + 2, 1 + (sel / 3) % 8, arg % 64);
    default:
        return sp_framer_prefix(f, widths[(sel / 3) % 4], (sel / 12) & 1, arg);
    }
}

static size_t overhead(const sp_framer *f)
{
    return f->kind == SP_FRAME_FIXED ? 0 : f->width;
}

/* A decoded message must fit the framer and encode again. */
static void check_msg(const sp_framer *f, const sp_frame_msg *m)
{
    unsigned char hdr[SP_FRAME_HEADER_MAX];
    sp_iovec iov[2];
    if (m->len > f->max)
        fail("message longer than max");
    if (f->kind == SP_FRAME_FIXED && m->len != f->max)
        fail("fixed message of the wrong size");
    if (m->len > 0 && m->data == NULL)
        fail("message without data");
    if (sp_frame_encode(f, m->data, m->len, hdr, iov) < 1)
        fail("a decoded message does not encode");
}

/* ---- decoding strategies ------------------------------------------------------------- */

enum { WHOLE, BYTES, RANDOM_FEED, RANDOM_RECV, MIXED, STRATEGIES };

/* Drain d into the log; messages are logged only when the drain is over (they must all
 * still be valid). On SP_EMSGSIZE skip when possible. Returns 1 to stop decoding. */
static int drain(const sp_framer *f, sp_frame_decoder *d, blog *log)
{
    sp_frame_msg batch[64];
    size_t n = 0, i;
    int rc, stop = 0;
    for (;;) {
        rc = sp_frame_decoder_next(d, &batch[n]);
        if (rc == 1) {
            check_msg(f, &batch[n]);
            if (++n < sizeof batch / sizeof batch[0])
                continue;
        }
        for (i = 0; i < n; i++) /* flush: before skip (it ends their life) or when full */
            log_msg(log, batch[i].data, batch[i].len);
        n = 0;
        if (rc == 1)
            continue;
        if (rc == 0)
            break;
        if (rc != SP_EMSGSIZE)
            fail("unexpected decoder error");
        put_u64(log, 'E', (uint64_t)(int64_t)rc);
        if (sp_frame_decoder_skip(d) == 0)
            continue;
        stop = 1;
        break;
    }
    return stop;
}

static int feed_piece(const sp_framer *f, sp_frame_decoder *d, const uint8_t *src, size_t n,
                      blog *log)
{
    /* its own block, freed after use: the decoder must not keep a pointer into it */
    unsigned char *chunk = (unsigned char *)malloc(n);
    const unsigned char *p = chunk;
    size_t left = n;
    int stop = 0;
    if (chunk == NULL)
        fail("out of memory");
    memcpy(chunk, src, n);
    while (left > 0 && !stop) {
        size_t used = 0;
        int rc = sp_frame_decoder_feed(d, p, left, &used);
        if (rc != 0)
            fail("feed failed on a drained decoder");
        if (used == 0 || used > left)
            fail("feed took a wrong count");
        stop = drain(f, d, log);
        p += used;
        left -= used;
    }
    free(chunk);
    return stop;
}

static int recv_piece(const sp_framer *f, sp_frame_decoder *d, const uint8_t *src, size_t *n,
                      blog *log)
{
    void *room = NULL;
    ptrdiff_t cap = sp_frame_decoder_space(d, &room);
    if (cap <= 0 || room == NULL)
        fail("no room to receive into");
    if (*n > (size_t)cap)
        *n = (size_t)cap;
    memcpy(room, src, *n);
    if (sp_frame_decoder_commit(d, *n) != 0)
        fail("commit failed");
    return drain(f, d, log);
}

static void decode(const sp_framer *f, const uint8_t *s, size_t n, int strategy, uint64_t seed,
                   blog *log)
{
    sp_frame_decoder d;
    rng r;
    size_t pos = 0, limit = f->max + overhead(f);
    int stop = 0, received = 0;
    r.s = seed;
    if (sp_frame_decoder_init(&d, f) != 0)
        fail("init");
    while (pos < n && !stop) {
        size_t k = n - pos;
        int recv = strategy == RANDOM_RECV || (strategy == MIXED && rng_next(&r) % 2 == 0);
        if (strategy == BYTES) {
            k = 1;
        } else if (strategy != WHOLE) {
            size_t c = rng_chunk(&r);
            if (c < k)
                k = c;
        }
        if (recv) {
            received = 1;
            stop = recv_piece(f, &d, s + pos, &k, log);
        } else {
            stop = feed_piece(f, &d, s + pos, k, log);
        }
        pos += k;
        if (d.cap_ > (received && limit < SP_FRAME_RECV_SIZE ? SP_FRAME_RECV_SIZE : limit))
            fail("decoder memory over its bound");
    }
    if (!stop)
        put_u64(log, 'P', sp_frame_decoder_pending(&d));
    sp_frame_decoder_free(&d);
}

/* ---- round trip ---------------------------------------------------------------------- */

/* The first position < len where the receiver would cut m (the delimiter occurs in
 * m ++ delimiter before len), or len. */
static size_t first_cut(const unsigned char *m, size_t len, const sp_framer *f)
{
    size_t s, j;
    for (s = 0; s < len; s++) {
        for (j = 0; j < f->width; j++) {
            unsigned char c = s + j < len ? m[s + j] : f->delim[s + j - len];
            if (c != f->delim[j])
                break;
        }
        if (j == f->width)
            return s;
    }
    return len;
}

static unsigned char filler(const sp_framer *f)
{
    unsigned c;
    for (c = 0; c < 256; c++)
        if (f->kind != SP_FRAME_DELIM || memchr(f->delim, (int)c, f->width) == NULL)
            break;
    return (unsigned char)c;
}

static void round_trip(const sp_framer *f, const uint8_t *s, size_t n, uint64_t seed)
{
    blog enc = {0}, want = {0}, got = {0};
    unsigned char *msg = (unsigned char *)malloc(n + 1);
    size_t i = 0;
    int strategy;
    if (msg == NULL)
        fail("out of memory");
    while (i < n) {
        unsigned char hdr[SP_FRAME_HEADER_MAX];
        sp_iovec iov[2];
        size_t len, cut;
        int k, j;
        if (f->kind == SP_FRAME_FIXED) {
            len = f->max;
        } else {
            len = s[i++];
            if (len > f->max)
                len %= f->max + 1;
        }
        if (len > n - i)
            break;
        memcpy(msg, s + i, len);
        i += len;
        if (f->kind == SP_FRAME_DELIM)
            while ((cut = first_cut(msg, len, f)) < len)
                msg[cut] = filler(f);
        k = sp_frame_encode(f, msg, len, hdr, iov);
        if (k < 1)
            fail("a valid message does not encode");
        for (j = 0; j < k; j++)
            put(&enc, iov[j].base, (size_t)iov[j].len);
        log_msg(&want, msg, len);
    }
    put_u64(&want, 'P', 0);
    for (strategy = BYTES; strategy < STRATEGIES; strategy++) {
        got.len = 0;
        decode(f, enc.p, enc.len, strategy, seed, &got);
        if (got.len != want.len || memcmp(got.p, want.p, want.len) != 0)
            fail("round trip: the decoded messages differ from the encoded ones");
    }
    free(msg);
    free(enc.p);
    free(want.p);
    free(got.p);
}

/* ---- entry --------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sp_framer f;
    blog first = {0}, other = {0};
    const uint8_t *s;
    size_t n;
    uint64_t seed;
    int strategy;
    if (size < HEADER)
        return 0;
    if (make_framer(&f, data) != 0)
        fail("make_framer");
    seed = data[HEADER - 1] + 1;
    s = data + HEADER;
    n = size - HEADER;

    decode(&f, s, n, WHOLE, seed, &first);
    for (strategy = BYTES; strategy < STRATEGIES; strategy++) {
        other.len = 0;
        decode(&f, s, n, strategy, seed, &other);
        if (other.len != first.len || memcmp(other.p, first.p, first.len) != 0) {
            fprintf(stderr, "strategy %d differs from feeding the stream whole\n", strategy);
            fail("decoding depends on how the stream is cut");
        }
    }
    free(first.p);
    free(other.p);

    round_trip(&f, s, n, seed);
    return 0;
}
