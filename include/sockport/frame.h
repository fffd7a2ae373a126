/**
 * @file sockport/frame.h
 * @brief Message boundaries on a byte stream: framers, an incremental decoder, helpers.
 *
 * A stream socket delivers bytes, not messages: one send may arrive in many receives and
 * many sends in one. A framer says where a message ends:
 *
 *   fixed     every message is N bytes;
 *   delimited a message ends with a delimiter of 1 to 8 bytes ("\n", "\r\n", ...);
 *   prefixed  a big-endian length of 1, 2, 4 or 8 bytes comes before the payload; the
 *             length counts the payload only, or (SP_FRAME_PREFIX_INCLUSIVE) the prefix
 *             too.
 *
 * Every framer has a maximum payload size, `max`; the decoder never holds more than one
 * message (max + the prefix or delimiter) of a stream.
 *
 * The decoder is incremental: give it the bytes of the stream in pieces of any size, in
 * one of two ways, and take the complete messages out with sp_frame_decoder_next():
 *
 *  - feed: the bytes are in your buffer (sp_frame_decoder_feed). A message that lies
 *    whole in the buffer is returned where it is, without a copy; only a message cut by
 *    the end of the buffer is copied into the decoder, which keeps it for the next feed.
 *
 *        const char *p = buf;                      // n bytes just received
 *        while (n > 0) {
 *            size_t used;
 *            if ((rc = sp_frame_decoder_feed(&d, p, n, &used)) < 0) break;
 *            while ((rc = sp_frame_decoder_next(&d, &msg)) > 0)
 *                handle(msg.data, msg.len);
 *            if (rc < 0) break;                    // SP_EMSGSIZE: see below
 *            p += used;
 *            n -= used;
 *        }
 *
 *  - receive into the decoder (sp_frame_decoder_space, then sp_frame_decoder_commit):
 *    the bytes land in the decoder's own storage and messages are returned where they
 *    lie; the only copy is, now and then, the start of a cut message moved to the front
 *    of that storage to make room. This is what an event loop with non-blocking sockets
 *    does:
 *
 *        void *room;
 *        ptrdiff_t cap = sp_frame_decoder_space(&d, &room);
 *        ptrdiff_t got = sp_recv(s, room, (size_t)cap);   // SP_EAGAIN: wait for more
 *        if (got > 0 && sp_frame_decoder_commit(&d, (size_t)got) == 0)
 *            while ((rc = sp_frame_decoder_next(&d, &msg)) > 0)
 *                handle(msg.data, msg.len);
 *
 *    and what sp_frame_recv() does for blocking code, one message per call.
 *
 * A message returned by sp_frame_decoder_next() stays valid until the next call of
 * sp_frame_decoder_feed, _space, _commit, _reset, _skip or _free on that decoder (so all
 * the messages of one feed can be kept and used together) and, when it points into your
 * buffer, as long as that buffer is unchanged. Drain a decoder (call next() until it
 * returns 0) before feeding it again or asking for space.
 *
 * Oversize messages: a length over the maximum (or, for an inclusive prefix, shorter
 * than the prefix itself), or no delimiter within max + delimiter bytes, is SP_EMSGSIZE.
 * The decoder then stops where the offending message starts: every message before it
 * was returned, and every call but reset, skip and free returns SP_EMSGSIZE again until
 * you either
 *  - sp_frame_decoder_reset(): forget everything held (close the connection, or start a
 *    new stream), or
 *  - sp_frame_decoder_skip(): drop the offending message - the bytes its prefix
 *    announced, or everything up to and including the next delimiter - and go on
 *    decoding the messages after it (e.g. answer "line too long" and keep the
 *    connection).
 *
 * The memory a decoder holds grows to at most max + prefix or delimiter length when fed
 * (max(that, SP_FRAME_RECV_SIZE) when received into), is allocated as it is needed, and
 * is reused: there is no allocation per message in steady state. It follows the bytes
 * that arrived, not the size a prefix announces: a peer that announces a large message
 * and sends a little of it makes the decoder hold about twice what it sent (and at least
 * SP_FRAME_RECV_SIZE when received into), not the announced size.
 *
 * A framer is plain data, shared freely between threads; a decoder belongs to one stream
 * and is used by one thread at a time. All of this is shared code: it behaves the same on
 * every OS.
 */
#ifndef SOCKPORT_FRAME_H
#define SOCKPORT_FRAME_H

#include "socket.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Kinds of framer (sp_framer::kind). */
enum sp_frame_kind {
    SP_FRAME_FIXED = 1, /**< every message is N bytes */
    SP_FRAME_DELIM = 2, /**< a message ends with a delimiter */
    SP_FRAME_PREFIX = 3 /**< a big-endian length comes before the payload */
};

/** sp_framer_prefix() flags. */
enum sp_frame_flags {
    /** The prefix value counts the prefix bytes too: a 4-byte prefix before 10 bytes of
     * payload holds 14 (the default counts the payload only: 10). */
    SP_FRAME_PREFIX_INCLUSIVE = 1
};

/** The longest delimiter, in bytes. */
#define SP_FRAME_DELIM_MAX 8
/** The longest prefix: the size of a header buffer for sp_frame_header(). */
#define SP_FRAME_HEADER_MAX 8

/** The largest `max` a framer accepts (larger values are lowered to it): SIZE_MAX / 4, so
 * that sizes plus headers never overflow size_t or ptrdiff_t. */
#define SP_FRAME_MAX_LIMIT ((size_t)-1 / 4)

/** How much a decoder offers to receive into at a time (sp_frame_decoder_space()), at
 * least: 16 KiB. */
#define SP_FRAME_RECV_SIZE 16384

/**
 * How messages are cut. Fill it with sp_framer_fixed(), sp_framer_delim() or
 * sp_framer_prefix(); the fields may be read but not written.
 */
typedef struct sp_framer {
    int kind;                                /**< SP_FRAME_FIXED, _DELIM or _PREFIX */
    unsigned width;                          /**< prefix width, or delimiter length; 0 */
    unsigned flags;                          /**< SP_FRAME_PREFIX_INCLUSIVE */
    size_t max;                              /**< the largest payload (fixed: N) */
    unsigned char delim[SP_FRAME_DELIM_MAX]; /**< the delimiter (width bytes) */
} sp_framer;

/** One message: the payload, without prefix or delimiter. */
typedef struct sp_frame_msg {
    const void *data; /**< the first byte */
    size_t len;       /**< the number of bytes */
} sp_frame_msg;

/* sp_framer_fixed: messages of exactly n bytes (max = n). SP_EINVAL for n == 0 or n over
 * SP_FRAME_MAX_LIMIT. */
/**
 * A framer for messages of exactly n bytes (max = n).
 * @param f the framer to fill.
 * @param n the message size, 1 .. SP_FRAME_MAX_LIMIT.
 * @return 0, or SP_EINVAL (NULL f, n == 0 or n over SP_FRAME_MAX_LIMIT).
 */
SP_API int sp_framer_fixed(sp_framer *f, size_t n);

/**
 * A framer for messages that end with a delimiter, which is not part of the message.
 * @param f     the framer to fill.
 * @param delim the delimiter's bytes ("\n", "\r\n", ...).
 * @param len   its length, 1 .. SP_FRAME_DELIM_MAX (8).
 * @param max   the most bytes a message has before the delimiter (0: only empty
 *   messages); a max over SP_FRAME_MAX_LIMIT is lowered to it.
 * @return 0, or SP_EINVAL (a NULL pointer, a length outside 1..8).
 */
SP_API int sp_framer_delim(sp_framer *f, const void *delim, size_t len, size_t max);

/**
 * A framer for messages preceded by their length, big-endian.
 * @param f     the framer to fill.
 * @param width the prefix width in bytes: 1, 2, 4 or 8.
 * @param flags 0 or SP_FRAME_PREFIX_INCLUSIVE.
 * @param max   bounds the payload; it is lowered to the largest payload the prefix can
 *   state (255 for one byte, 254 for one inclusive byte, 65535 for two, ...) and to
 *   SP_FRAME_MAX_LIMIT.
 * @return 0, or SP_EINVAL (a NULL pointer, an unknown width or flag).
 */
SP_API int sp_framer_prefix(sp_framer *f, unsigned width, unsigned flags, size_t max);

/* ---- encoding ------------------------------------------------------------------------ */

/**
 * Write the bytes that go before a payload: the length prefix; fixed and delimited
 * framers have none.
 * @param f   the framer.
 * @param len the payload's length.
 * @param buf where the header goes (SP_FRAME_HEADER_MAX bytes always suffice).
 * @param cap the size of buf.
 * @return the number of bytes written (0..8), SP_EMSGSIZE when the framer does not allow
 *   len (over max, or not N for a fixed framer), SP_ENOSPC when cap is too small,
 *   SP_EINVAL for a NULL or invalid framer, or a NULL buf when a prefix is needed.
 */
SP_API int sp_frame_header(const sp_framer *f, size_t len, void *buf, size_t cap);

/**
 * Describe the frame of one message as scatter/gather buffers, ready for sp_sendv() /
 * sp_sendv_all(): [prefix, payload] or [payload, delimiter] or [payload]. iov points into
 * hdr, payload and f->delim, which must stay in place while iov is used.
 * @param f       the framer.
 * @param payload the message.
 * @param len     its length.
 * @param hdr     receives the prefix.
 * @param iov     receives the buffers.
 * @return the number of buffers (1 or 2), or SP_EMSGSIZE (len not allowed, or too long
 *   for one sp_iovec: 4 GiB - 1 on Windows), SP_EINVAL: NULL pointers, an invalid
 *   framer, or - for a delimited framer - a payload that contains the delimiter or ends
 *   with a start of it that the delimiter completes before its own position (with the
 *   delimiter "aa", the payload "xa"): the receiver would cut the message there. A
 *   payload that ends with a start of the delimiter the receiver cuts right is accepted
 *   ("ab
" before "
").
 */
SP_API int sp_frame_encode(const sp_framer *f, const void *payload, size_t len,
                           unsigned char hdr[SP_FRAME_HEADER_MAX], sp_iovec iov[2]);

/**
 * Send one whole message: the frame of sp_frame_encode() in one sp_sendv_all() call
 * (payloads over 1 GiB go in several calls under the same deadline).
 * @param s          the socket.
 * @param f          the framer.
 * @param payload    the message.
 * @param len        its length.
 * @param timeout_ms bounds the whole send (negative: no limit).
 * @return 0, an sp_frame_encode() error (nothing sent), or the error of sp_sendv_all()
 *   (SP_ETIMEDOUT, SP_EPIPE, ...): then part of the frame may have been sent and the
 *   stream is no longer framed - close the connection.
 */
SP_API int sp_frame_send(sp_socket_t s, const sp_framer *f, const void *payload, size_t len,
                         int timeout_ms);

/* ---- decoding ------------------------------------------------------------------------ */

/**
 * The state of one stream's decoder. Place it anywhere (a connection struct, the stack);
 * its fields are private.
 */
typedef struct sp_frame_decoder {
    sp_framer framer_;        /**< private */
    unsigned char *buf_;      /**< private: held bytes: buf_[rd_ .. wr_) */
    size_t cap_, rd_, wr_;    /**< private */
    size_t scan_;             /**< private: delimiter positions already searched */
    size_t room_;             /**< private: bytes offered by the last space() */
    const unsigned char *in_; /**< private: the rest of the buffer being decoded */
    size_t inlen_;            /**< private */
    uint64_t skip_;           /**< private: bytes left to skip, or the bad length */
    unsigned state_;          /**< private: flags */
    int err_;                 /**< private: sticky error */
} sp_frame_decoder;
/** @var sp_frame_decoder::cap_
 * private: the size of buf_. */
/** @var sp_frame_decoder::rd_
 * private: where the held bytes start. */

/**
 * Set up a decoder for a framer (copied; f need not outlive it). Nothing is allocated
 * yet.
 * @param d the decoder.
 * @param f the framer.
 * @return 0 or SP_EINVAL (NULL, or f was not filled by sp_framer_*).
 */
SP_API int sp_frame_decoder_init(sp_frame_decoder *d, const sp_framer *f);

/**
 * Release the decoder's memory. The decoder may be initialised again.
 * @param d the decoder; NULL is accepted.
 */
SP_API void sp_frame_decoder_free(sp_frame_decoder *d);

/**
 * Forget every byte held and any error: the next byte given starts a new message. Keeps
 * the memory for reuse.
 * @param d the decoder.
 * @return 0 or SP_EINVAL (NULL).
 */
SP_API int sp_frame_decoder_reset(sp_frame_decoder *d);

/**
 * Give the decoder the next bytes of the stream:
 *  - when it holds the start of a message, it takes only the bytes that complete that
 *    message (fewer than len when more follow) and copies them after the start;
 *  - otherwise it takes all len bytes and copies none now: sp_frame_decoder_next()
 *    returns the messages in place and keeps the last, cut one.
 *
 * Then drain it with sp_frame_decoder_next(), and feed the rest (data + *used). The bytes
 * taken must stay unchanged until next() has returned 0 (or reset).
 * @param d    the decoder.
 * @param data the bytes (may be NULL when len is 0).
 * @param len  how many.
 * @param used receives how many were taken (0 on every failure).
 * @return 0; SP_EINVAL for NULL pointers or a decoder not drained since the last feed or
 *   commit; SP_ENOMEM; SP_EMSGSIZE while the decoder is stopped at an oversize message.
 */
SP_API int sp_frame_decoder_feed(sp_frame_decoder *d, const void *data, size_t len, size_t *used);

/**
 * The next complete message, in stream order.
 * @param d   the decoder.
 * @param out receives the message (valid as described at the top of this file).
 * @return 1 and *out filled; 0 when no complete message is left (the decoder is drained:
 *   what it keeps of a cut message waits for more bytes); SP_EMSGSIZE at an oversize
 *   message (see the top of this file); SP_ENOMEM when the decoder could not grow to keep
 *   the cut message at the end of a fed buffer (that buffer must then stay unchanged;
 *   call next() again or reset); SP_EINVAL for NULL pointers.
 */
SP_API int sp_frame_decoder_next(sp_frame_decoder *d, sp_frame_msg *out);

/**
 * Where to receive the next bytes of the stream straight into the decoder; tell it how
 * many arrived with sp_frame_decoder_commit(). May move the bytes held, so it ends the
 * life of the messages returned before.
 * @param d    the decoder.
 * @param room receives where to write (NULL on failure).
 * @return how many bytes may be written there (at least 1, and usually at least
 *   SP_FRAME_RECV_SIZE; for a message of known size up to its rest, at most as much as
 *   the decoder holds of it already: the room grows with what arrives), or SP_EINVAL for NULL
 *   pointers or a decoder not drained since the last feed or commit, SP_ENOMEM, or
 *   SP_EMSGSIZE while stopped at an oversize message.
 */
SP_API ptrdiff_t sp_frame_decoder_space(sp_frame_decoder *d, void **room);

/**
 * Say how many bytes were written at the room of the last sp_frame_decoder_space(); then
 * decode them with sp_frame_decoder_next().
 * @param d the decoder.
 * @param n how many bytes arrived; 0 (a receive that got nothing) is accepted and does
 *   nothing but end the room, which must have been asked for like any other commit.
 * @return 0, SP_EINVAL (NULL, n larger than the room offered, or no room was asked since
 *   the last feed or commit), or SP_EMSGSIZE while stopped at an oversize message.
 */
SP_API int sp_frame_decoder_commit(sp_frame_decoder *d, size_t n);

/**
 * After SP_EMSGSIZE, drop the offending message and go on: for a prefix, the header and
 * the number of bytes it announced (even more than max: they are discarded as they
 * arrive, never stored); for a delimiter, everything up to and including the next
 * delimiter. Call sp_frame_decoder_next() afterwards: the messages after the dropped one
 * follow.
 * @param d the decoder.
 * @return 0, or SP_EINVAL when d is NULL or not stopped at an oversize message, or the
 *   message has no end to skip to (an inclusive prefix smaller than the prefix itself:
 *   reset instead).
 */
SP_API int sp_frame_decoder_skip(sp_frame_decoder *d);

/**
 * How many bytes the decoder holds that are not part of a message returned yet (the start
 * of a cut message, and, before it is drained, the messages not taken). After draining,
 * 0 means the stream is at a message boundary; at the end of the stream, more than 0
 * means the last message was cut. While a message is being skipped this is at least 1.
 * No errors.
 * @param d the decoder.
 * @return the count; 0 for NULL.
 */
SP_API size_t sp_frame_decoder_pending(const sp_frame_decoder *d);

/**
 * Receive one whole message from a socket. A message already held by the decoder is
 * returned first; otherwise the decoder receives into its own storage (in pieces of up
 * to SP_FRAME_RECV_SIZE or the rest of the message; the message is returned where it
 * lies, not copied out) until a message is complete, and keeps the bytes that follow it
 * for the next call. Works on blocking and non-blocking sockets; the deadline is exact
 * on both (the socket is waited on before each receive).
 * @param s          the socket.
 * @param d          the stream's decoder.
 * @param out        receives the message, valid until the next call on d.
 * @param timeout_ms bounds the call (negative: no limit; 0: take what has already
 *   arrived, without waiting).
 * @return
 *   - 1: a message, in *out;
 *   - 0: the peer closed the connection at a message boundary (no more messages);
 *   - SP_EEOF: the peer closed the connection in the middle of a message;
 *   - SP_ETIMEDOUT: the deadline passed; the bytes received so far stay in the decoder
 *     and the next call goes on with them;
 *   - SP_EMSGSIZE: an oversize message (see above; sp_frame_decoder_skip() works here
 *     too);
 *   - the error of the receive (SP_ECONNRESET, ...), SP_ENOMEM, or SP_EINVAL (NULL
 *     pointers).
 */
SP_API int sp_frame_recv(sp_socket_t s, sp_frame_decoder *d, sp_frame_msg *out, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_FRAME_H */
