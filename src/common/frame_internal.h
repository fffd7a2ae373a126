/*
 * frame_internal.h - the frame decoder's read path, shared by sp_frame_recv and the
 * server's models.
 */
#ifndef SOCKPORT_FRAME_INTERNAL_H
#define SOCKPORT_FRAME_INTERNAL_H

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One read of s into decoder d: room for at least `want` bytes (sp__frame_decoder_space),
 * one recv (with MSG_DONTWAIT when dontwait, see sp__recv_dontwait), the bytes
 * committed. Returns the bytes read (> 0), 0 at the peer's end, SP_EAGAIN, a recv error,
 * or the decoder's (SP_EMSGSIZE when stopped at an oversize message, SP_ENOMEM).
 * *filled (may be NULL) says whether the read filled the room it had: the socket may
 * hold more.
 */
ptrdiff_t sp__frame_read(sp_frame_decoder *d, sp_socket_t s, size_t want, int dontwait,
                         int *filled);

/* The bytes d holds past the messages returned so far (its fed buffer's rest, or its
 * own), for a server connection switched to raw input; *p points at them until the next
 * call on d. */
size_t sp__frame_decoder_rest(const sp_frame_decoder *d, const void **p);

/* Drop the first n bytes of the rest (sp__frame_decoder_rest) and decode what is left as
 * from the start of a message: a server connection back from raw input hands the bytes
 * its handler did not use (sp_conn_unread) to the framer. n at least the rest: a reset. */
void sp__frame_decoder_skip(sp_frame_decoder *d, size_t n);

/*
 * The payload length a prefix announces: 0 and *len when it is allowed; SP_EMSGSIZE when
 * it is over max (*len is then the announced payload length, which can be skipped) or,
 * inclusive, smaller than the prefix (*len = 0: nothing to skip to).
 */
static inline int sp__frame_prefix_payload(const sp_framer *f, const unsigned char *p,
                                           uint64_t *len)
{
    uint64_t v;
    switch (f->width) {
    case 1:
        v = p[0];
        break;
    case 2:
        v = sp_load_be16(p);
        break;
    case 4:
        v = sp_load_be32(p);
        break;
    default:
        v = sp_load_be64(p);
        break;
    }
    if (f->flags & SP_FRAME_PREFIX_INCLUSIVE) {
        if (v < f->width) {
            *len = 0;
            return SP_EMSGSIZE;
        }
        v -= f->width;
    }
    *len = v;
    return v > (uint64_t)f->max ? SP_EMSGSIZE : 0;
}

/* sp__frame_split for a delimiter framer (frame.c: a search, never inlined). */
int sp__frame_split_delim(const sp_framer *f, const unsigned char *p, size_t n, sp_frame_msg *out,
                          size_t *adv);

/*
 * The message at the start of p[0, n) judged without a decoder (the event-model server
 * reads into one buffer and hands each message to its handler from there): 1 with *out
 * and *adv (the bytes the frame spans) when a whole, valid message starts there; 0 when
 * not (p holds only the start of one, or a prefix over the limit, or no delimiter within
 * it): those bytes go to a decoder, which keeps, skips or refuses them. Inline: it runs
 * once per message.
 */
static inline int sp__frame_split(const sp_framer *f, const unsigned char *p, size_t n,
                                  sp_frame_msg *out, size_t *adv)
{
    uint64_t len;
    if (f->kind == SP_FRAME_PREFIX) {
        if (n < f->width || sp__frame_prefix_payload(f, p, &len) != 0 ||
            (uint64_t)(n - f->width) < len)
            return 0;
        out->data = p + f->width;
        out->len = (size_t)len;
        *adv = f->width + (size_t)len;
        return 1;
    }
    if (f->kind == SP_FRAME_FIXED) {
        if (n < f->max)
            return 0;
        out->data = p;
        out->len = f->max;
        *adv = f->max;
        return 1;
    }
    return sp__frame_split_delim(f, p, n, out, adv);
}

/* Write a prefix of `width` bytes (1, 2, 4 or 8), big-endian. */
static inline void sp__frame_store_prefix(unsigned char *p, unsigned width, uint64_t v)
{
    switch (width) {
    case 1:
        p[0] = (unsigned char)v;
        break;
    case 2:
        sp_store_be16(p, (uint16_t)v);
        break;
    case 4:
        sp_store_be32(p, (uint32_t)v);
        break;
    default:
        sp_store_be64(p, v);
        break;
    }
}

/* sp_frame_encode for a framer known to be valid (the server checks its framer once): a
 * length prefix is written here, without the checks (inline: it runs once per reply);
 * anything else, and every error, goes the long way. */
static inline int sp__frame_encode_fast(const sp_framer *f, const void *payload, size_t len,
                                        unsigned char hdr[SP_FRAME_HEADER_MAX], sp_iovec iov[2])
{
    if (f->kind != SP_FRAME_PREFIX || len > f->max || len == 0 || payload == NULL ||
        (size_t)sp_iovec_make(payload, len).len != len)
        return sp_frame_encode(f, payload, len, hdr, iov);
    sp__frame_store_prefix(hdr, f->width,
                           (uint64_t)len + ((f->flags & SP_FRAME_PREFIX_INCLUSIVE) ? f->width : 0));
    iov[0] = sp_iovec_make(hdr, f->width);
    iov[1] = sp_iovec_make(payload, len);
    return 2;
}

/*
 * Give an empty decoder the n bytes at p to decode (copied: the decoder owns them, p may
 * be reused at once), whatever their size; 0 or SP_ENOMEM (nothing taken).
 */
int sp__frame_decoder_load(sp_frame_decoder *d, const void *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_FRAME_INTERNAL_H */
