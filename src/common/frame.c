/*
 * frame.c - message framing on a byte stream: framers, the encoder, the incremental
 * decoder and the blocking helpers. Shared code: no platform header.
 *
 * The decoder reads from one "view" at a time: either the rest of the buffer the caller
 * fed (in_, inlen_), or the bytes it holds itself (buf_[rd_ .. wr_)). A caller's buffer is
 * taken whole only when nothing is held, so the two never have to be joined except in
 * feed, which completes a held message by copying just the bytes it lacks. A message
 * found in a view is returned where it lies; the last, cut message of a fed buffer is
 * copied into buf_ when the buffer is used up.
 */
#include "frame_internal.h"

#include <stdlib.h>
#include <string.h>

/* state_ flags */
#define ST_DRAINED  1u /* next() returned 0 since the last feed / commit: may take bytes */
#define ST_SKIPPING 2u /* dropping the bytes of an oversize message (skip_, or to a delim) */
#define ST_NOSKIP   4u /* the oversize error has no end to skip to */
#define ST_SPACE    8u /* space() offered room_ bytes at wr_; commit() may follow */

#define NOT_FOUND ((size_t)-1)

/* The smallest buffer allocated (unless the framer's limit is smaller). */
#define MIN_ALLOC 64

/* One send call takes at most this much payload (a Windows sp_iovec holds < 4 GiB). */
#define ONE_CALL_MAX ((size_t)1 << 30)

/* ---- framers ------------------------------------------------------------------------- */

static uint64_t prefix_payload_max(unsigned width, unsigned flags)
{
    uint64_t v = width >= 8 ? UINT64_MAX : ((uint64_t)1 << (8 * width)) - 1;
    return (flags & SP_FRAME_PREFIX_INCLUSIVE) ? v - width : v;
}

static int width_ok(unsigned width)
{
    return width == 1 || width == 2 || width == 4 || width == 8;
}

static int framer_valid(const sp_framer *f)
{
    if (f == NULL || f->max > SP_FRAME_MAX_LIMIT)
        return 0;
    switch (f->kind) {
    case SP_FRAME_FIXED:
        return f->max > 0 && f->width == 0 && f->flags == 0;
    case SP_FRAME_DELIM:
        return f->width >= 1 && f->width <= SP_FRAME_DELIM_MAX && f->flags == 0;
    case SP_FRAME_PREFIX:
        return width_ok(f->width) && (f->flags & ~(unsigned)SP_FRAME_PREFIX_INCLUSIVE) == 0 &&
               (uint64_t)f->max <= prefix_payload_max(f->width, f->flags);
    default:
        return 0;
    }
}

int sp_framer_fixed(sp_framer *f, size_t n)
{
    if (f == NULL)
        return SP_EINVAL;
    memset(f, 0, sizeof *f);
    if (n == 0 || n > SP_FRAME_MAX_LIMIT)
        return SP_EINVAL;
    f->kind = SP_FRAME_FIXED;
    f->max = n;
    return 0;
}

int sp_framer_delim(sp_framer *f, const void *delim, size_t len, size_t max)
{
    if (f == NULL)
        return SP_EINVAL;
    memset(f, 0, sizeof *f);
    if (delim == NULL || len < 1 || len > SP_FRAME_DELIM_MAX)
        return SP_EINVAL;
    f->kind = SP_FRAME_DELIM;
    f->width = (unsigned)len;
    memcpy(f->delim, delim, len);
    f->max = max < SP_FRAME_MAX_LIMIT ? max : SP_FRAME_MAX_LIMIT;
    return 0;
}

int sp_framer_prefix(sp_framer *f, unsigned width, unsigned flags, size_t max)
{
    uint64_t limit;
    if (f == NULL)
        return SP_EINVAL;
    memset(f, 0, sizeof *f);
    if (!width_ok(width) || (flags & ~(unsigned)SP_FRAME_PREFIX_INCLUSIVE) != 0)
        return SP_EINVAL;
    limit = prefix_payload_max(width, flags);
    if (limit > SP_FRAME_MAX_LIMIT)
        limit = SP_FRAME_MAX_LIMIT;
    f->kind = SP_FRAME_PREFIX;
    f->width = width;
    f->flags = flags;
    f->max = (uint64_t)max < limit ? max : (size_t)limit;
    return 0;
}

/* Bytes a frame adds to its payload: the prefix or the delimiter. */
static size_t overhead(const sp_framer *f)
{
    return f->kind == SP_FRAME_FIXED ? 0 : f->width;
}

/* ---- delimiter search ---------------------------------------------------------------- */

/*
 * The first position s in [from, limit) where the delimiter lies whole in p[0..n);
 * NOT_FOUND if none. memchr finds candidates for the first byte, memcmp checks the rest.
 */
static size_t find_in(const unsigned char *p, size_t n, size_t from, size_t limit,
                      const unsigned char *delim, size_t dlen)
{
    size_t end;
    if (n < dlen)
        return NOT_FOUND;
    end = n - dlen + 1;
    if (end > limit)
        end = limit;
    while (from < end) {
        const unsigned char *hit = (const unsigned char *)memchr(p + from, delim[0], end - from);
        if (hit == NULL)
            return NOT_FOUND;
        if (dlen == 1 || memcmp(hit + 1, delim + 1, dlen - 1) == 0)
            return (size_t)(hit - p);
        from = (size_t)(hit - p) + 1;
    }
    return NOT_FOUND;
}

/*
 * find_in over the concatenation a[0..na) ++ b[0..nb) without joining them: positions
 * are counted from the start of a. Positions whose delimiter would run past the end of b
 * are not decided (not found).
 */
static size_t find_split(const unsigned char *a, size_t na, const unsigned char *b, size_t nb,
                         size_t from, size_t limit, const unsigned char *delim, size_t dlen)
{
    size_t s = find_in(a, na, from, limit, delim, dlen);
    if (s != NOT_FOUND)
        return s;
    /* starting in a, ending in b: a[s..na) is the head of the delimiter, b its tail */
    s = na >= dlen ? na - dlen + 1 : 0;
    if (s < from)
        s = from;
    for (; s < na && s < limit; s++) {
        size_t head = na - s, tail = dlen - head;
        if (tail > nb)
            break; /* this position and every later one need more bytes */
        if (memcmp(a + s, delim, head) == 0 && memcmp(b, delim + head, tail) == 0)
            return s;
    }
    if (limit <= na)
        return NOT_FOUND;
    s = find_in(b, nb, from > na ? from - na : 0, limit - na, delim, dlen);
    return s == NOT_FOUND ? NOT_FOUND : na + s;
}

/* How many positions a search of n bytes (below limit) has decided. */
static size_t decided(size_t n, size_t dlen, size_t limit)
{
    size_t d = n >= dlen ? n - dlen + 1 : 0;
    return d < limit ? d : limit;
}

/* ---- the decoder's own bytes --------------------------------------------------------- */

static size_t held(const sp_frame_decoder *d)
{
    return d->wr_ - d->rd_;
}

/* The held bytes (NULL before anything was ever held: no arithmetic on a null pointer). */
static const unsigned char *held_bytes(const sp_frame_decoder *d)
{
    return d->buf_ != NULL ? d->buf_ + d->rd_ : NULL;
}

/* The most the buffer may grow to: when fed, and when received into. */
static size_t feed_limit(const sp_framer *f)
{
    return f->max + overhead(f);
}

static size_t recv_limit(const sp_framer *f)
{
    size_t l = feed_limit(f);
    return l < SP_FRAME_RECV_SIZE ? SP_FRAME_RECV_SIZE : l;
}

/*
 * Make room for `extra` more bytes at wr_: move the held bytes to the front if that is
 * enough, else grow (doubling, up to `limit`, and at least to what is needed). Moving or
 * growing ends the life of the messages returned from buf_. 0 or SP_ENOMEM (nothing lost).
 */
static int reserve(sp_frame_decoder *d, size_t extra, size_t limit)
{
    size_t n = held(d), need, ncap;
    unsigned char *nb;
    if (n == 0)
        d->rd_ = d->wr_ = 0;
    if (d->cap_ - d->wr_ >= extra)
        return 0;
    if (d->rd_ > 0) {
        memmove(d->buf_, d->buf_ + d->rd_, n);
        d->rd_ = 0;
        d->wr_ = n;
        if (d->cap_ - n >= extra)
            return 0;
    }
    need = n + extra;
    ncap = d->cap_ < limit / 2 ? d->cap_ * 2 : limit;
    if (ncap < MIN_ALLOC)
        ncap = MIN_ALLOC < limit ? MIN_ALLOC : limit;
    if (ncap < need)
        ncap = need;
    nb = (unsigned char *)realloc(d->buf_, ncap);
    if (nb == NULL)
        return SP_ENOMEM;
    d->buf_ = nb;
    d->cap_ = ncap;
    return 0;
}

static int append(sp_frame_decoder *d, const void *src, size_t n)
{
    int rc;
    if (n == 0)
        return 0;
    rc = reserve(d, n, feed_limit(&d->framer_));
    if (rc != 0)
        return rc;
    memcpy(d->buf_ + d->wr_, src, n);
    d->wr_ += n;
    return 0;
}

/* ---- decoding ------------------------------------------------------------------------ */

int sp_frame_decoder_init(sp_frame_decoder *d, const sp_framer *f)
{
    if (d == NULL)
        return SP_EINVAL;
    memset(d, 0, sizeof *d);
    if (!framer_valid(f))
        return SP_EINVAL;
    d->framer_ = *f;
    d->state_ = ST_DRAINED;
    return 0;
}

void sp_frame_decoder_free(sp_frame_decoder *d)
{
    if (d == NULL)
        return;
    free(d->buf_);
    memset(d, 0, sizeof *d);
}

int sp_frame_decoder_reset(sp_frame_decoder *d)
{
    if (d == NULL)
        return SP_EINVAL;
    d->rd_ = d->wr_ = 0;
    d->scan_ = 0;
    d->room_ = 0;
    d->in_ = NULL;
    d->inlen_ = 0;
    d->skip_ = 0;
    d->state_ = ST_DRAINED;
    d->err_ = 0;
    return 0;
}

int sp__frame_decoder_load(sp_frame_decoder *d, const void *p, size_t n)
{
    int rc = append(d, p, n);
    if (rc == 0 && n > 0)
        d->state_ &= ~ST_DRAINED;
    return rc;
}

size_t sp_frame_decoder_pending(const sp_frame_decoder *d)
{
    size_t n;
    if (d == NULL)
        return 0;
    n = held(d) + (d->in_ != NULL ? d->inlen_ : 0);
    return n == 0 && (d->state_ & ST_SKIPPING) ? 1 : n;
}

/* The view the decoder reads from: the rest of the fed buffer, or its own bytes. */
static const unsigned char *view(const sp_frame_decoder *d, size_t *n)
{
    if (d->in_ != NULL) {
        *n = d->inlen_;
        return d->in_;
    }
    *n = held(d);
    return held_bytes(d);
}

static void view_advance(sp_frame_decoder *d, size_t k)
{
    if (d->in_ != NULL) {
        d->in_ += k;
        d->inlen_ -= k;
    } else {
        d->rd_ += k;
    }
}

/*
 * One message at the start of p[0..n): 1 (*out, *adv: the bytes it spans), 0 when p is
 * only the start of one, SP_EMSGSIZE.
 */
static int decode_one(sp_frame_decoder *d, const unsigned char *p, size_t n, sp_frame_msg *out,
                      size_t *adv)
{
    const sp_framer *f = &d->framer_;
    if (f->kind != SP_FRAME_DELIM) {
        uint64_t len;
        int rc;
        if (sp__frame_split(f, p, n, out, adv))
            return 1;
        if (f->kind == SP_FRAME_FIXED || n < f->width)
            return 0;
        rc = sp__frame_prefix_payload(f, p, &len);
        if (rc != 0) {
            d->skip_ = len;
            if (len == 0)
                d->state_ |= ST_NOSKIP;
        }
        return rc; /* 0: only the start of the message is here */
    } else {
        size_t s = find_in(p, n, d->scan_, f->max + 1, f->delim, f->width);
        if (s == NOT_FOUND) {
            if (n >= f->max + f->width)
                return SP_EMSGSIZE; /* positions 0..max all searched */
            d->scan_ = decided(n, f->width, f->max + 1);
            return 0;
        }
        d->scan_ = 0;
        out->data = p;
        out->len = s;
        *adv = s + f->width;
        return 1;
    }
}

/*
 * Drop bytes of the message being skipped from the start of p[0..n); returns how many.
 * Clears ST_SKIPPING when the message's end was reached. A delimiter search keeps the
 * last width - 1 bytes (a delimiter may start there).
 */
static size_t skip_some(sp_frame_decoder *d, const unsigned char *p, size_t n)
{
    const sp_framer *f = &d->framer_;
    size_t s, keep;
    if (f->kind == SP_FRAME_PREFIX) {
        size_t k = d->skip_ < (uint64_t)n ? (size_t)d->skip_ : n;
        d->skip_ -= k;
        if (d->skip_ == 0)
            d->state_ &= ~ST_SKIPPING;
        return k;
    }
    s = find_in(p, n, 0, NOT_FOUND, f->delim, f->width);
    d->scan_ = 0;
    if (s != NOT_FOUND) {
        d->state_ &= ~ST_SKIPPING;
        return s + f->width;
    }
    keep = n < f->width - 1 ? n : f->width - 1;
    return n - keep;
}

int sp__frame_split_delim(const sp_framer *f, const unsigned char *p, size_t n, sp_frame_msg *out,
                          size_t *adv)
{
    size_t s = find_in(p, n, 0, f->max + 1, f->delim, f->width);
    if (s == NOT_FOUND)
        return 0;
    out->data = p;
    out->len = s;
    *adv = s + f->width;
    return 1;
}

int sp_frame_decoder_next(sp_frame_decoder *d, sp_frame_msg *out)
{
    if (d == NULL || out == NULL)
        return SP_EINVAL;
    if (d->err_ != 0)
        return d->err_;
    for (;;) {
        size_t n, adv = 0;
        const unsigned char *p = view(d, &n);
        int rc;
        if (d->state_ & ST_SKIPPING) {
            view_advance(d, skip_some(d, p, n));
            if (d->state_ & ST_SKIPPING)
                break; /* the view is used up */
            continue;
        }
        rc = decode_one(d, p, n, out, &adv);
        if (rc > 0) {
            view_advance(d, adv);
            return 1;
        }
        if (rc < 0) {
            d->err_ = rc;
            return rc;
        }
        break;
    }
    /* No whole message left. Keep the start of the cut one from the caller's buffer
     * (buf_ holds nothing while a fed buffer is being read). */
    if (d->in_ != NULL) {
        int rc = append(d, d->in_, d->inlen_);
        if (rc != 0)
            return rc; /* the buffer is still referenced: next() may be called again */
        d->in_ = NULL;
        d->inlen_ = 0;
    }
    d->state_ |= ST_DRAINED;
    return 0;
}

/* feed while skipping: drop what belongs to the skipped message; returns the bytes
 * taken (all len while the skip goes on), or SP_ENOMEM (nothing taken). */
static ptrdiff_t feed_skip(sp_frame_decoder *d, const unsigned char *c, size_t len)
{
    const sp_framer *f = &d->framer_;
    size_t nctx = held(d), s, keep, dlen = f->width, old_rd, old_wr;
    unsigned char tmp[SP_FRAME_DELIM_MAX];
    int rc;
    if (f->kind == SP_FRAME_PREFIX)
        return (ptrdiff_t)skip_some(d, c, len); /* nothing is held while skipping */
    /* delimiter: buf_ holds at most dlen - 1 bytes that may start it */
    s = find_split(held_bytes(d), nctx, c, len, 0, NOT_FOUND, f->delim, dlen);
    if (s != NOT_FOUND) {
        d->rd_ = d->wr_ = 0;
        d->scan_ = 0;
        d->state_ &= ~ST_SKIPPING;
        return (ptrdiff_t)(s + dlen - nctx);
    }
    /* not found: keep the last dlen - 1 bytes of context ++ c, which replace the old
     * context (so the buffer never needs more than dlen - 1 bytes here) */
    keep = nctx + len < dlen - 1 ? nctx + len : dlen - 1;
    if (len >= keep) {
        memcpy(tmp, c + len - keep, keep);
    } else {
        memcpy(tmp, held_bytes(d) + nctx - (keep - len), keep - len);
        memcpy(tmp + keep - len, c, len);
    }
    old_rd = d->rd_;
    old_wr = d->wr_;
    d->rd_ = d->wr_ = 0;
    rc = reserve(d, keep, feed_limit(f));
    if (rc != 0) {
        d->rd_ = old_rd; /* reserve moved nothing: the old context is intact */
        d->wr_ = old_wr;
        return rc;
    }
    if (keep > 0)
        memcpy(d->buf_, tmp, keep);
    d->wr_ = keep;
    return (ptrdiff_t)len;
}

/* feed while the start of a message is held: how many bytes of c complete it (or
 * decide that it is oversize), to be appended to buf_. */
static size_t complete_needs(sp_frame_decoder *d, const unsigned char *c, size_t len)
{
    const sp_framer *f = &d->framer_;
    size_t have = held(d);
    const unsigned char *p = held_bytes(d);
    if (f->kind == SP_FRAME_FIXED) {
        return f->max - have < len ? f->max - have : len;
    }
    if (f->kind == SP_FRAME_PREFIX) {
        unsigned char hdr[SP_FRAME_HEADER_MAX];
        size_t from_buf = have < f->width ? have : f->width, from_c = f->width - from_buf;
        uint64_t plen, total;
        if (from_c > len)
            return len; /* the prefix is still not complete */
        memcpy(hdr, p, from_buf);
        memcpy(hdr + from_buf, c, from_c);
        if (sp__frame_prefix_payload(f, hdr, &plen) != 0)
            return from_c; /* next() reports it, from the held prefix */
        total = f->width + plen;
        return total - have < (uint64_t)len ? (size_t)(total - have) : len;
    } else {
        size_t dlen = f->width, limit = f->max + 1;
        size_t s = find_split(p, have, c, len, d->scan_, limit, f->delim, dlen), take;
        if (s != NOT_FOUND) {
            d->scan_ = s; /* next() finds it at once */
            return s + dlen - have;
        }
        /* Not yet: take what can still hold the delimiter, up to max + dlen in all; the
         * positions those bytes decide have been searched. */
        take = f->max + dlen - have;
        if (take > len)
            take = len;
        if (d->scan_ < decided(have + take, dlen, limit))
            d->scan_ = decided(have + take, dlen, limit);
        return take;
    }
}

int sp_frame_decoder_feed(sp_frame_decoder *d, const void *data, size_t len, size_t *used)
{
    const unsigned char *c = (const unsigned char *)data;
    size_t skipped = 0;
    if (used != NULL)
        *used = 0;
    if (d == NULL || used == NULL || (data == NULL && len > 0))
        return SP_EINVAL;
    if (d->err_ != 0)
        return d->err_;
    if (!(d->state_ & ST_DRAINED))
        return SP_EINVAL;
    d->state_ &= ~ST_SPACE;
    d->room_ = 0;
    if (len == 0)
        return 0;
    if (d->state_ & ST_SKIPPING) {
        ptrdiff_t k = feed_skip(d, c, len);
        if (k < 0)
            return (int)k;
        if (d->state_ & ST_SKIPPING) {
            *used = len;
            return 0;
        }
        skipped = (size_t)k;
        c += k;
        len -= (size_t)k;
    }
    if (held(d) > 0) {
        size_t take = complete_needs(d, c, len);
        int rc = append(d, c, take);
        if (rc != 0)
            return rc;
        *used = skipped + take;
    } else {
        d->in_ = c;
        d->inlen_ = len;
        *used = skipped + len;
    }
    d->state_ &= ~ST_DRAINED;
    return 0;
}

ptrdiff_t sp_frame_decoder_space(sp_frame_decoder *d, void **room)
{
    return sp__frame_decoder_space(d, room, SP_FRAME_RECV_SIZE);
}

ptrdiff_t sp__frame_decoder_space(sp_frame_decoder *d, void **room, size_t want)
{
    const sp_framer *f;
    size_t have, limit;
    int rc;
    if (room != NULL)
        *room = NULL;
    if (d == NULL || room == NULL)
        return SP_EINVAL;
    if (d->err_ != 0)
        return d->err_;
    if (!(d->state_ & ST_DRAINED))
        return SP_EINVAL;
    f = &d->framer_;
    have = held(d);
    /* room for more of the current message when its size is known, so that it lands in
     * few pieces, but never more than what has arrived of it: a peer that announces a
     * large message and sends little of it makes the decoder hold in proportion to what
     * it sent (at most twice, plus `want`), not the announced size */
    {
        uint64_t rest = 0, grow = have > want ? have : want;
        if (f->kind == SP_FRAME_FIXED) {
            rest = f->max - have;
        } else if (f->kind == SP_FRAME_PREFIX && have >= f->width && !(d->state_ & ST_SKIPPING)) {
            uint64_t plen;
            if (sp__frame_prefix_payload(f, d->buf_ + d->rd_, &plen) == 0)
                rest = f->width + plen - have;
        }
        if (rest > want)
            want = (size_t)(rest < grow ? rest : grow);
    }
    limit = recv_limit(f);
    if (want > limit - have)
        want = limit - have; /* >= 1: what is held is less than one message */
    rc = reserve(d, want, limit);
    if (rc != 0 && d->cap_ == d->wr_)
        return rc;
    d->room_ = d->cap_ - d->wr_;
    d->state_ |= ST_SPACE;
    *room = d->buf_ + d->wr_;
    return (ptrdiff_t)d->room_;
}

int sp_frame_decoder_commit(sp_frame_decoder *d, size_t n)
{
    if (d == NULL)
        return SP_EINVAL;
    if (d->err_ != 0)
        return d->err_;
    if (!(d->state_ & ST_SPACE) || n > d->room_)
        return SP_EINVAL;
    d->state_ &= ~ST_SPACE;
    d->room_ = 0;
    if (n == 0)
        return 0;
    d->wr_ += n;
    d->state_ &= ~ST_DRAINED;
    return 0;
}

ptrdiff_t sp__frame_read(sp_frame_decoder *d, sp_socket_t s, size_t want, int dontwait, int *filled)
{
    void *room;
    ptrdiff_t cap = sp__frame_decoder_space(d, &room, want), got;
    int rc;
    if (filled != NULL)
        *filled = 0;
    if (cap < 0)
        return cap;
    got = sp__recv_dontwait(s, room, (size_t)cap, dontwait);
    if (got <= 0) {
        (void)sp_frame_decoder_commit(d, 0); /* ends the space() */
        return got;
    }
    if (filled != NULL)
        *filled = got == cap;
    rc = sp_frame_decoder_commit(d, (size_t)got);
    return rc != 0 ? rc : got;
}

int sp_frame_decoder_skip(sp_frame_decoder *d)
{
    const sp_framer *f;
    if (d == NULL || d->err_ != SP_EMSGSIZE || (d->state_ & ST_NOSKIP))
        return SP_EINVAL;
    f = &d->framer_;
    if (f->kind == SP_FRAME_PREFIX) {
        view_advance(d, f->width); /* the prefix; skip_ holds the payload length */
    } else {
        view_advance(d, f->max + 1); /* positions 0..max hold no delimiter */
        d->scan_ = 0;
        d->skip_ = 0;
    }
    d->state_ |= ST_SKIPPING;
    d->state_ &= ~ST_DRAINED;
    d->err_ = 0;
    return 0;
}

/* ---- encoding ------------------------------------------------------------------------ */

static int len_allowed(const sp_framer *f, size_t len)
{
    return f->kind == SP_FRAME_FIXED ? len == f->max : len <= f->max;
}

int sp_frame_header(const sp_framer *f, size_t len, void *buf, size_t cap)
{
    uint64_t v;
    if (!framer_valid(f))
        return SP_EINVAL;
    if (!len_allowed(f, len))
        return SP_EMSGSIZE;
    if (f->kind != SP_FRAME_PREFIX)
        return 0;
    if (buf == NULL)
        return SP_EINVAL;
    if (cap < f->width)
        return SP_ENOSPC;
    v = (uint64_t)len + ((f->flags & SP_FRAME_PREFIX_INCLUSIVE) ? f->width : 0);
    sp__frame_store_prefix((unsigned char *)buf, f->width, v);
    return (int)f->width;
}

/* A delimited payload must not contain the delimiter, nor end with a start of it that
 * the delimiter completes earlier than its own position (with "aa", payload "xa"). */
static int delim_inside(const sp_framer *f, const void *payload, size_t len)
{
    return find_split((const unsigned char *)payload, len, f->delim, f->width, 0, len, f->delim,
                      f->width) != NOT_FOUND;
}

/* The header, and the checks of sp_frame_encode; the header length or an error. */
static int frame_check(const sp_framer *f, const void *payload, size_t len,
                       unsigned char hdr[SP_FRAME_HEADER_MAX])
{
    int h;
    if (hdr == NULL || (payload == NULL && len > 0))
        return SP_EINVAL;
    h = sp_frame_header(f, len, hdr, SP_FRAME_HEADER_MAX);
    if (h < 0)
        return h;
    if (f->kind == SP_FRAME_DELIM && len > 0 && delim_inside(f, payload, len))
        return SP_EINVAL;
    return h;
}

int sp_frame_encode(const sp_framer *f, const void *payload, size_t len,
                    unsigned char hdr[SP_FRAME_HEADER_MAX], sp_iovec iov[2])
{
    int n = 0, h;
    if (iov == NULL)
        return SP_EINVAL;
    h = frame_check(f, payload, len, hdr);
    if (h < 0)
        return h;
    if (h > 0)
        iov[n++] = sp_iovec_make(hdr, (size_t)h);
    if (len > 0) {
        iov[n] = sp_iovec_make(payload, len);
        if ((size_t)iov[n].len != len)
            return SP_EMSGSIZE; /* does not fit one sp_iovec here */
        n++;
    }
    if (f->kind == SP_FRAME_DELIM)
        iov[n++] = sp_iovec_make(f->delim, f->width);
    return n;
}

int sp_frame_send(sp_socket_t s, const sp_framer *f, const void *payload, size_t len,
                  int timeout_ms)
{
    unsigned char hdr[SP_FRAME_HEADER_MAX];
    sp__deadline deadline;
    int h, rc;
    if (len <= ONE_CALL_MAX) {
        sp_iovec iov[2];
        int n = sp_frame_encode(f, payload, len, hdr, iov);
        if (n < 0)
            return n;
        return sp_sendv_all(s, iov, n, timeout_ms, NULL);
    }
    /* Huge payloads: header, payload (which sp_send_all cuts to fit), trailer. */
    h = frame_check(f, payload, len, hdr);
    if (h < 0)
        return h;
    deadline = sp__deadline_in(timeout_ms);
    rc = sp_send_all(s, hdr, (size_t)h, sp__deadline_left(deadline), NULL);
    if (rc == 0)
        rc = sp_send_all(s, payload, len, sp__deadline_left(deadline), NULL);
    if (rc == 0 && f->kind == SP_FRAME_DELIM)
        rc = sp_send_all(s, f->delim, f->width, sp__deadline_left(deadline), NULL);
    return rc;
}

/* ---- blocking receive ---------------------------------------------------------------- */

int sp_frame_recv(sp_socket_t s, sp_frame_decoder *d, sp_frame_msg *out, int timeout_ms)
{
    sp__deadline deadline = sp__deadline_in(timeout_ms);
    int tried = 0;
    if (d == NULL || out == NULL)
        return SP_EINVAL;
    for (;;) {
        ptrdiff_t got;
        int rc = sp_frame_decoder_next(d, out);
        if (rc != 0)
            return rc;
        if (deadline != 0) {
            /* wait first, so that a blocking socket never blocks past the deadline; a
             * deadline already passed still takes what has arrived, once */
            int left = sp__deadline_left(deadline);
            if (left == 0 && tried)
                return SP_ETIMEDOUT;
            rc = sp_wait(s, SP_EV_READ, left);
            if (rc < 0)
                return rc;
            if (rc == 0)
                return SP_ETIMEDOUT;
        }
        tried = 1;
        got = sp__frame_read(d, s, SP_FRAME_RECV_SIZE, deadline != 0, NULL);
        if (got == SP_EAGAIN) {
            if (deadline == 0) { /* a non-blocking socket without a deadline */
                rc = sp_wait(s, SP_EV_READ, -1);
                if (rc < 0)
                    return rc;
            }
            continue;
        }
        if (got < 0)
            return (int)got;
        if (got == 0)
            return sp_frame_decoder_pending(d) > 0 ? SP_EEOF : 0;
    }
}

size_t sp__frame_decoder_rest(const sp_frame_decoder *d, const void **p)
{
    size_t n;
    *p = view(d, &n);
    return n;
}

void sp__frame_decoder_skip(sp_frame_decoder *d, size_t n)
{
    size_t have;
    (void)view(d, &have);
    if (n >= have) {
        (void)sp_frame_decoder_reset(d);
        return;
    }
    view_advance(d, n);
    d->scan_ = 0; /* what follows is the start of a message, decoded afresh */
    d->skip_ = 0;
    d->err_ = 0;
    d->state_ = 0; /* not drained: the bytes left are for sp_frame_decoder_next */
}
