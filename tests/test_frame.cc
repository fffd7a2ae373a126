/*
 * test_frame.cc - sockport/frame.h: framers, the encoder, the incremental decoder (fed
 * from the caller's buffers and received into its own), oversize messages (stop, reset,
 * skip), and the blocking helpers over a real socket pair.
 *
 * The central property: for every framing, every way of cutting the same stream into
 * chunks (one byte at a time, random sizes, all at once, received into the decoder)
 * yields the same messages.
 */
#include "helpers.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace sptest;

namespace
{

/* ---- framings under test ------------------------------------------------------------- */

struct Framing {
    std::string name;
    sp_framer f;
};

/* GoogleTest prints a parameter with this (the default dumps its bytes). */
void PrintTo(const Framing &fr, std::ostream *os)
{
    *os << fr.name;
}

sp_framer fixed(size_t n)
{
    sp_framer f;
    EXPECT_OK(sp_framer_fixed(&f, n));
    return f;
}

sp_framer delim(const std::string &d, size_t max)
{
    sp_framer f;
    EXPECT_OK(sp_framer_delim(&f, d.data(), d.size(), max));
    return f;
}

sp_framer prefix(unsigned width, unsigned flags, size_t max)
{
    sp_framer f;
    EXPECT_OK(sp_framer_prefix(&f, width, flags, max));
    return f;
}

std::vector<Framing> all_framings()
{
    const unsigned incl = SP_FRAME_PREFIX_INCLUSIVE;
    return {
        {"Fixed1", fixed(1)},
        {"Fixed13", fixed(13)},
        {"Fixed300", fixed(300)},
        {"DelimLf", delim("\n", 300)},
        {"DelimCrLf", delim("\r\n", 300)},
        {"DelimAa", delim("aa", 200)},                        /* overlaps itself */
        {"DelimAbcab", delim("abcab", 200)},                  /* overlaps itself */
        {"Delim8", delim(std::string("ab\0ab\0ab", 8), 200)}, /* 8 bytes, NULs */
        {"DelimMax0", delim("\n", 0)},                        /* only empty messages */
        {"Prefix1", prefix(1, 0, 300)},                       /* lowered to 255 */
        {"Prefix1Incl", prefix(1, incl, 300)},                /* lowered to 254 */
        {"Prefix2", prefix(2, 0, 300)},
        {"Prefix2Incl", prefix(2, incl, 300)},
        {"Prefix4", prefix(4, 0, 300)},
        {"Prefix4Incl", prefix(4, incl, 300)},
        {"Prefix8", prefix(8, 0, 300)},
        {"Prefix8Incl", prefix(8, incl, 300)},
    };
}

/* ---- encoding helpers ---------------------------------------------------------------- */

/* The frame of one message, as bytes (via sp_frame_encode). */
std::string encode(const sp_framer &f, const std::string &m)
{
    unsigned char hdr[SP_FRAME_HEADER_MAX];
    sp_iovec iov[2];
    int n = sp_frame_encode(&f, m.data(), m.size(), hdr, iov);
    EXPECT_GT(n, 0) << code_str(n) << " encoding " << m.size() << " bytes";
    std::string out;
    for (int i = 0; i < n; i++)
        out.append((const char *)iov[i].base, (size_t)iov[i].len);
    return out;
}

std::string encode_all(const sp_framer &f, const std::vector<std::string> &msgs)
{
    std::string s;
    for (const auto &m : msgs)
        s += encode(f, m);
    return s;
}

/* A byte the delimiter does not contain. */
char filler(const sp_framer &f)
{
    for (int c = 'a';; c++)
        if (f.kind != SP_FRAME_DELIM ||
            std::find(f.delim, f.delim + f.width, (unsigned char)c) == f.delim + f.width)
            return (char)c;
}

/* Change bytes of m until a delimited framer accepts it (the delimiter must not occur in
 * it, nor start in it and end in the delimiter that follows). */
void make_encodable(const sp_framer &f, std::string &m)
{
    if (f.kind != SP_FRAME_DELIM)
        return;
    const std::string d((const char *)f.delim, f.width);
    for (;;) {
        unsigned char hdr[SP_FRAME_HEADER_MAX];
        sp_iovec iov[2];
        if (sp_frame_encode(&f, m.data(), m.size(), hdr, iov) != SP_EINVAL)
            return;
        size_t at = (m + d).find(d);
        ASSERT_LT(at, m.size());
        m[at] = filler(f);
    }
}

/*
 * Random messages for f: lengths 0, 1, small, and the maximum; bytes drawn mostly from
 * the delimiter's own bytes (near-misses everywhere) and from all 256 values.
 */
std::vector<std::string> random_messages(const sp_framer &f, size_t count, std::mt19937_64 &rng)
{
    std::vector<std::string> out;
    std::string alphabet((const char *)f.delim, f.width);
    alphabet += filler(f);
    for (size_t i = 0; i < count; i++) {
        size_t len;
        if (f.kind == SP_FRAME_FIXED) {
            len = f.max;
        } else {
            switch (rng() % 6) {
            case 0:
                len = 0;
                break;
            case 1:
                len = f.max;
                break;
            case 2:
                len = std::min<size_t>(f.max, 1);
                break;
            default:
                len = (size_t)(rng() % (f.max + 1));
            }
        }
        std::string m(len, '\0');
        for (auto &c : m)
            c = (rng() % 4 == 0) ? (char)(rng() & 0xff) : alphabet[rng() % alphabet.size()];
        make_encodable(f, m);
        out.push_back(m);
    }
    return out;
}

/* ---- decoding helpers ---------------------------------------------------------------- */

const std::string OVERSIZE = "<EMSGSIZE>";

struct Decoder {
    sp_frame_decoder d;
    explicit Decoder(const sp_framer &f)
    {
        EXPECT_OK(sp_frame_decoder_init(&d, &f));
    }
    ~Decoder()
    {
        sp_frame_decoder_free(&d);
    }
    Decoder(const Decoder &) = delete;
    Decoder &operator=(const Decoder &) = delete;
};

struct Decoded {
    std::vector<std::string> msgs; /* OVERSIZE marks a skipped oversize message */
    int rc = 0;                    /* the first unexpected error */
    size_t in_place = 0;           /* messages returned inside the caller's chunk */
    size_t pending = 0;            /* sp_frame_decoder_pending at the end */
};

using ChunkSize = std::function<size_t()>;

/*
 * Drain d into r. On SP_EMSGSIZE with skip set, record OVERSIZE and skip; the messages
 * of one drain are kept and read only once it is over (they must all stay valid).
 */
bool drain(sp_frame_decoder *d, Decoded &r, bool skip, const unsigned char *chunk = nullptr,
           size_t chunk_len = 0)
{
    std::vector<sp_frame_msg> batch;
    int rc;
    for (;;) {
        sp_frame_msg m;
        rc = sp_frame_decoder_next(d, &m);
        if (rc > 0) {
            batch.push_back(m);
            continue;
        }
        if (rc == SP_EMSGSIZE && skip) {
            for (auto &b : batch)
                r.msgs.emplace_back((const char *)b.data, b.len);
            batch.clear();
            r.msgs.push_back(OVERSIZE);
            rc = sp_frame_decoder_skip(d);
            if (rc == 0)
                continue;
        }
        break;
    }
    for (auto &b : batch) {
        const unsigned char *p = (const unsigned char *)b.data;
        if (chunk != nullptr && p >= chunk && p + b.len <= chunk + chunk_len)
            r.in_place++;
        r.msgs.emplace_back((const char *)b.data, b.len);
    }
    if (rc < 0)
        r.rc = rc;
    return rc == 0;
}

/* Feed `stream` in chunks of the sizes `next` gives, each in its own heap block that is
 * freed once used (ASan sees any pointer the decoder keeps into it). */
Decoded decode_fed(const sp_framer &f, const std::string &stream, const ChunkSize &next,
                   bool skip = false)
{
    Decoded r;
    Decoder dec(f);
    size_t pos = 0;
    while (pos < stream.size()) {
        size_t n = std::min(std::max<size_t>(next(), 1), stream.size() - pos);
        std::vector<unsigned char> chunk(stream.begin() + (ptrdiff_t)pos,
                                         stream.begin() + (ptrdiff_t)(pos + n));
        const unsigned char *p = chunk.data();
        size_t left = n;
        while (left > 0) {
            size_t used = 12345;
            int rc = sp_frame_decoder_feed(&dec.d, p, left, &used);
            if (rc != 0) {
                r.rc = rc;
                return r;
            }
            if (used == 0 || used > left) {
                ADD_FAILURE() << "feed took " << used << " of " << left;
                r.rc = -1000;
                return r;
            }
            if (!drain(&dec.d, r, skip, chunk.data(), chunk.size()))
                return r;
            p += used;
            left -= used;
        }
        pos += n;
    }
    r.pending = sp_frame_decoder_pending(&dec.d);
    return r;
}

/* Receive `stream` into the decoder's own storage, in pieces of the sizes `next` gives
 * (or less, when the decoder offers less room). */
Decoded decode_received(const sp_framer &f, const std::string &stream, const ChunkSize &next,
                        bool skip = false)
{
    Decoded r;
    Decoder dec(f);
    size_t pos = 0;
    while (pos < stream.size()) {
        void *room = nullptr;
        ptrdiff_t cap = sp_frame_decoder_space(&dec.d, &room);
        if (cap <= 0) {
            ADD_FAILURE() << "space: " << code_str(cap);
            r.rc = cap < 0 ? (int)cap : -1000;
            return r;
        }
        size_t n = std::min({std::max<size_t>(next(), 1), stream.size() - pos, (size_t)cap});
        memcpy(room, stream.data() + pos, n);
        int rc = sp_frame_decoder_commit(&dec.d, n);
        if (rc != 0) {
            r.rc = rc;
            return r;
        }
        pos += n;
        if (!drain(&dec.d, r, skip))
            return r;
    }
    r.pending = sp_frame_decoder_pending(&dec.d);
    return r;
}

ChunkSize ones()
{
    return [] { return (size_t)1; };
}

ChunkSize whole()
{
    return [] { return (size_t)-1; };
}

ChunkSize every(size_t n)
{
    return [n] { return n; };
}

/* Random sizes from 1 to `upto`, mostly small, reproducible. */
ChunkSize random_sizes(uint64_t seed, size_t upto)
{
    auto rng = std::make_shared<std::mt19937_64>(seed);
    return [rng, upto] {
        switch ((*rng)() % 3) {
        case 0:
            return (size_t)(1 + (*rng)() % 8);
        case 1:
            return (size_t)(1 + (*rng)() % 64);
        default:
            return (size_t)(1 + (*rng)() % upto);
        }
    };
}

::testing::AssertionResult same_messages(const std::vector<std::string> &want, const Decoded &got)
{
    if (got.rc != 0)
        return ::testing::AssertionFailure()
               << "decoding failed with " << code_str(got.rc) << " after " << got.msgs.size()
               << " of " << want.size() << " messages";
    for (size_t i = 0; i < std::min(want.size(), got.msgs.size()); i++)
        if (want[i] != got.msgs[i])
            return ::testing::AssertionFailure()
                   << "message " << i << " differs: want " << want[i].size() << " bytes, got "
                   << got.msgs[i].size();
    if (want.size() != got.msgs.size())
        return ::testing::AssertionFailure()
               << "want " << want.size() << " messages, got " << got.msgs.size();
    if (got.pending != 0)
        return ::testing::AssertionFailure() << got.pending << " bytes left in the decoder";
    return ::testing::AssertionSuccess();
}

/* ---- every framing x every chunking -------------------------------------------------- */

class FrameChunking : public ::testing::TestWithParam<Framing>
{
};

TEST_P(FrameChunking, EveryChunkingYieldsTheSameMessages)
{
    const sp_framer &f = GetParam().f;
    std::mt19937_64 rng(42);
    const auto msgs = random_messages(f, 200, rng);
    const std::string stream = encode_all(f, msgs);

    EXPECT_TRUE(same_messages(msgs, decode_fed(f, stream, ones()))) << "one byte at a time";
    EXPECT_TRUE(same_messages(msgs, decode_fed(f, stream, whole()))) << "whole stream";
    for (uint64_t seed = 1; seed <= 5; seed++)
        EXPECT_TRUE(same_messages(msgs, decode_fed(f, stream, random_sizes(seed, 1000))))
            << "random sizes, seed " << seed;
    EXPECT_TRUE(same_messages(msgs, decode_fed(f, stream, every(f.max + 1))))
        << "chunks of max + 1";
    EXPECT_TRUE(same_messages(msgs, decode_received(f, stream, ones())))
        << "received one byte at a time";
    EXPECT_TRUE(same_messages(msgs, decode_received(f, stream, whole())))
        << "received as fast as it fits";
    for (uint64_t seed = 1; seed <= 3; seed++)
        EXPECT_TRUE(same_messages(msgs, decode_received(f, stream, random_sizes(seed, 5000))))
            << "received in random sizes, seed " << seed;
}

TEST_P(FrameChunking, MessagesWholeInTheChunkAreNotCopied)
{
    const sp_framer &f = GetParam().f;
    std::mt19937_64 rng(7);
    const auto msgs = random_messages(f, 100, rng);
    Decoded r = decode_fed(f, encode_all(f, msgs), whole());
    ASSERT_TRUE(same_messages(msgs, r));
    EXPECT_EQ(msgs.size(), r.in_place) << "every message lies whole in the one chunk";
}

TEST_P(FrameChunking, MemoryStaysWithinOneMessageAndIsReused)
{
    const sp_framer &f = GetParam().f;
    std::mt19937_64 rng(9);
    const auto msgs = random_messages(f, 100, rng);
    const std::string stream = encode_all(f, msgs);
    const size_t overhead = f.kind == SP_FRAME_FIXED ? 0 : f.width;
    Decoder dec(f);
    size_t cap_after_first = 0;
    for (int pass = 0; pass < 3; pass++) {
        auto sizes = random_sizes(3, 700);
        size_t pos = 0, count = 0;
        while (pos < stream.size()) {
            size_t n = std::min(sizes(), stream.size() - pos), used;
            ASSERT_OK(sp_frame_decoder_feed(&dec.d, stream.data() + pos, n, &used));
            sp_frame_msg m;
            int rc;
            while ((rc = sp_frame_decoder_next(&dec.d, &m)) > 0)
                count++;
            ASSERT_SP(0, rc);
            pos += used;
            ASSERT_LE(dec.d.cap_, f.max + overhead) << "fed: at most max + prefix/delimiter";
        }
        EXPECT_EQ(msgs.size(), count);
        if (pass == 0)
            cap_after_first = dec.d.cap_;
        else
            EXPECT_EQ(cap_after_first, dec.d.cap_) << "no growth once warmed up";
    }
}

INSTANTIATE_TEST_SUITE_P(Frame, FrameChunking, ::testing::ValuesIn(all_framings()),
                         [](const ::testing::TestParamInfo<Framing> &i) { return i.param.name; });

/* ---- framers ------------------------------------------------------------------------- */

TEST(FrameFramer, ValidatesItsArguments)
{
    sp_framer f;
    EXPECT_SP(SP_EINVAL, sp_framer_fixed(&f, 0));
    EXPECT_EQ(0, f.kind) << "a failed framer is cleared";
    EXPECT_SP(SP_EINVAL, sp_framer_fixed(nullptr, 4));
    EXPECT_SP(SP_EINVAL, sp_framer_delim(&f, "", 0, 10));
    EXPECT_SP(SP_EINVAL, sp_framer_delim(&f, "123456789", 9, 10));
    EXPECT_SP(SP_EINVAL, sp_framer_delim(&f, nullptr, 1, 10));
    EXPECT_SP(SP_EINVAL, sp_framer_prefix(&f, 3, 0, 10));
    EXPECT_SP(SP_EINVAL, sp_framer_prefix(&f, 0, 0, 10));
    EXPECT_SP(SP_EINVAL, sp_framer_prefix(&f, 4, 2, 10));
    sp_frame_decoder d;
    EXPECT_SP(SP_EINVAL, sp_frame_decoder_init(&d, &f)) << "a cleared framer is refused";
    sp_frame_decoder_free(&d);
    sp_frame_decoder_free(nullptr);
}

TEST(FrameFramer, MaxIsLoweredToWhatThePrefixCanState)
{
    EXPECT_EQ(255u, prefix(1, 0, 100000).max);
    EXPECT_EQ(254u, prefix(1, SP_FRAME_PREFIX_INCLUSIVE, 100000).max);
    EXPECT_EQ(65535u, prefix(2, 0, (size_t)-1).max);
    EXPECT_EQ(65533u, prefix(2, SP_FRAME_PREFIX_INCLUSIVE, (size_t)-1).max);
    EXPECT_EQ(std::min<uint64_t>(0xffffffffull, SP_FRAME_MAX_LIMIT), prefix(4, 0, (size_t)-1).max);
    EXPECT_EQ(SP_FRAME_MAX_LIMIT, prefix(8, 0, (size_t)-1).max);
    EXPECT_EQ(SP_FRAME_MAX_LIMIT, delim("\n", (size_t)-1).max);
    EXPECT_EQ(100u, prefix(4, 0, 100).max) << "a smaller max is kept";
}

/* ---- the encoder --------------------------------------------------------------------- */

TEST(FrameEncode, PrefixIsBigEndianWithOrWithoutItself)
{
    unsigned char h[SP_FRAME_HEADER_MAX];
    sp_framer f = prefix(4, 0, 1 << 20);
    ASSERT_EQ(4, sp_frame_header(&f, 0x10203, h, sizeof h));
    EXPECT_EQ(0, memcmp(h, "\x00\x01\x02\x03", 4));
    f = prefix(4, SP_FRAME_PREFIX_INCLUSIVE, 1 << 20);
    ASSERT_EQ(4, sp_frame_header(&f, 0x10203, h, sizeof h));
    EXPECT_EQ(0, memcmp(h, "\x00\x01\x02\x07", 4));
    f = prefix(8, 0, SP_FRAME_MAX_LIMIT);
    ASSERT_EQ(8, sp_frame_header(&f, 0x0102030405ull, h, sizeof h));
    EXPECT_EQ(0, memcmp(h, "\x00\x00\x00\x01\x02\x03\x04\x05", 8));
    f = prefix(1, 0, 255);
    ASSERT_EQ(1, sp_frame_header(&f, 255, h, sizeof h));
    EXPECT_EQ(0xff, h[0]);
    f = prefix(2, SP_FRAME_PREFIX_INCLUSIVE, 65533);
    ASSERT_EQ(2, sp_frame_header(&f, 65533, h, sizeof h));
    EXPECT_EQ(0, memcmp(h, "\xff\xff", 2));
    EXPECT_SP(SP_ENOSPC, sp_frame_header(&f, 1, h, 1));
    EXPECT_SP(SP_EINVAL, sp_frame_header(&f, 1, nullptr, 8));
}

TEST(FrameEncode, LengthsTheFramerDoesNotAllowAreRefused)
{
    unsigned char h[SP_FRAME_HEADER_MAX];
    sp_iovec iov[2];
    std::string big(301, 'x');
    sp_framer f = prefix(2, 0, 300);
    EXPECT_SP(SP_EMSGSIZE, sp_frame_header(&f, 301, h, sizeof h));
    EXPECT_SP(SP_EMSGSIZE, sp_frame_encode(&f, big.data(), 301, h, iov));
    EXPECT_EQ(2, sp_frame_encode(&f, big.data(), 300, h, iov)) << "max itself is allowed";
    f = fixed(8);
    EXPECT_SP(SP_EMSGSIZE, sp_frame_encode(&f, big.data(), 7, h, iov));
    EXPECT_SP(SP_EMSGSIZE, sp_frame_encode(&f, big.data(), 9, h, iov));
    EXPECT_EQ(1, sp_frame_encode(&f, big.data(), 8, h, iov));
    EXPECT_EQ(0, sp_frame_header(&f, 8, nullptr, 0)) << "fixed frames have no header";
    f = delim("\n", 300);
    EXPECT_SP(SP_EMSGSIZE, sp_frame_encode(&f, big.data(), 301, h, iov));
    EXPECT_SP(SP_EINVAL, sp_frame_encode(&f, nullptr, 3, h, iov));
    EXPECT_SP(SP_EINVAL, sp_frame_encode(nullptr, big.data(), 3, h, iov));
}

TEST(FrameEncode, ShapesOfTheFrame)
{
    unsigned char h[SP_FRAME_HEADER_MAX];
    sp_iovec iov[2];
    sp_framer f = delim("\r\n", 100);
    ASSERT_EQ(2, sp_frame_encode(&f, "abc", 3, h, iov));
    EXPECT_EQ(3u, (size_t)iov[0].len);
    EXPECT_EQ(0, memcmp(iov[1].base, "\r\n", 2));
    EXPECT_EQ("abc\r\n", encode(f, "abc"));
    EXPECT_EQ("\r\n", encode(f, "")) << "an empty message is the delimiter alone";
    f = prefix(2, 0, 100);
    EXPECT_EQ(std::string("\x00\x03"
                          "abc",
                          5),
              encode(f, "abc"));
    EXPECT_EQ(std::string("\x00\x00", 2), encode(f, "")) << "an empty message is its prefix";
}

TEST(FrameEncode, PayloadThatTheReceiverWouldCutIsRefused)
{
    unsigned char h[SP_FRAME_HEADER_MAX];
    sp_iovec iov[2];
    sp_framer f = delim("\r\n", 100);
    EXPECT_SP(SP_EINVAL, sp_frame_encode(&f, "a\r\nb", 4, h, iov)) << "contains it";
    EXPECT_EQ(2, sp_frame_encode(&f, "a\r", 2, h, iov)) << "a\\r\\r\\n: first match is last";
    EXPECT_EQ(2, sp_frame_encode(&f, "a\n", 2, h, iov));
    f = delim("aa", 100);
    EXPECT_SP(SP_EINVAL, sp_frame_encode(&f, "xa", 2, h, iov))
        << "xa + aa = xaaa: the receiver would cut at x";
    EXPECT_EQ(2, sp_frame_encode(&f, "ax", 2, h, iov));
    f = delim("abcab", 100);
    EXPECT_EQ(2, sp_frame_encode(&f, "zzab", 4, h, iov)) << "zzababcab: first match at 4";
    EXPECT_SP(SP_EINVAL, sp_frame_encode(&f, "zabc", 4, h, iov)) << "zabcabcab: match at 1";
    EXPECT_SP(SP_EINVAL, sp_frame_encode(&f, "zzabc", 5, h, iov)) << "zzabcabcab: match at 2";
}

/* ---- decoder behaviour --------------------------------------------------------------- */

TEST(FrameDecoder, BackToBackMessagesInOneChunk)
{
    sp_framer f = prefix(2, 0, 1000);
    std::vector<std::string> msgs = {"one", "", "three", std::string(1000, 'm'), "", "x"};
    const std::string stream = encode_all(f, msgs);
    Decoded r = decode_fed(f, stream, whole());
    EXPECT_TRUE(same_messages(msgs, r));
    EXPECT_EQ(msgs.size(), r.in_place);

    f = delim("\n", 1000);
    msgs = {"", "", "a", "", "bc", ""};
    r = decode_fed(f, "\n\na\n\nbc\n\n", whole());
    EXPECT_TRUE(same_messages(msgs, r));
}

TEST(FrameDecoder, ZeroLengthMessages)
{
    for (const Framing &fr : all_framings()) {
        if (fr.f.kind == SP_FRAME_FIXED)
            continue;
        std::vector<std::string> msgs(50, "");
        const std::string stream = encode_all(fr.f, msgs);
        EXPECT_TRUE(same_messages(msgs, decode_fed(fr.f, stream, ones()))) << fr.name;
        EXPECT_TRUE(same_messages(msgs, decode_fed(fr.f, stream, whole()))) << fr.name;
        EXPECT_TRUE(same_messages(msgs, decode_received(fr.f, stream, whole()))) << fr.name;
    }
}

TEST(FrameDecoder, MaximumSizeMessages)
{
    for (const Framing &fr : all_framings()) {
        std::mt19937_64 rng(5);
        std::vector<std::string> msgs;
        for (int i = 0; i < 5; i++) {
            std::string m(fr.f.max, 'q');
            for (auto &c : m)
                c = (char)('a' + rng() % 20);
            make_encodable(fr.f, m);
            msgs.push_back(m);
        }
        const std::string stream = encode_all(fr.f, msgs);
        EXPECT_TRUE(same_messages(msgs, decode_fed(fr.f, stream, ones()))) << fr.name;
        EXPECT_TRUE(same_messages(msgs, decode_fed(fr.f, stream, random_sizes(4, 300)))) << fr.name;
        EXPECT_TRUE(same_messages(msgs, decode_received(fr.f, stream, whole()))) << fr.name;
    }
}

TEST(FrameDecoder, DelimiterSplitAcrossChunksAtEveryPoint)
{
    for (std::string d : {std::string("\r\n"), std::string("abcab"), std::string("12345678")}) {
        sp_framer f = delim(d, 100);
        const std::string stream = "hello" + d + "world" + d;
        for (size_t cut = 1; cut < stream.size(); cut++) {
            bool first = true;
            Decoded r = decode_fed(f, stream, [&] {
                size_t n = first ? cut : (size_t)-1;
                first = false;
                return n;
            });
            EXPECT_TRUE(same_messages({"hello", "world"}, r)) << d << " cut at " << cut;
        }
    }
}

TEST(FrameDecoder, PrefixSplitAcrossChunksAtEveryPoint)
{
    for (unsigned w : {1u, 2u, 4u, 8u}) {
        sp_framer f = prefix(w, 0, 200);
        const std::vector<std::string> msgs = {"abc", "", "defgh"};
        const std::string stream = encode_all(f, msgs);
        for (size_t a = 1; a < stream.size(); a++)
            for (size_t b = 1; a + b < stream.size(); b++) {
                int k = 0;
                Decoded r = decode_fed(f, stream, [&] { return k++ == 0 ? a : k == 2 ? b : 1000; });
                EXPECT_TRUE(same_messages(msgs, r)) << "width " << w << " cuts " << a << "," << b;
            }
    }
}

TEST(FrameDecoder, OversizePrefixStopsTheDecoderUntilReset)
{
    sp_framer f = prefix(4, 0, 100);
    Decoder dec(f);
    const std::string stream = encode(f, "ok") + std::string("\x00\x00\x00\x65", 4) + "junk";
    size_t used;
    sp_frame_msg m;
    ASSERT_OK(sp_frame_decoder_feed(&dec.d, stream.data(), stream.size(), &used));
    EXPECT_EQ(stream.size(), used);
    ASSERT_EQ(1, sp_frame_decoder_next(&dec.d, &m));
    EXPECT_EQ("ok", std::string((const char *)m.data, m.len));
    EXPECT_SP(SP_EMSGSIZE, sp_frame_decoder_next(&dec.d, &m)) << "101 > max 100";
    EXPECT_SP(SP_EMSGSIZE, sp_frame_decoder_next(&dec.d, &m)) << "and again";
    used = 99;
    EXPECT_SP(SP_EMSGSIZE, sp_frame_decoder_feed(&dec.d, "x", 1, &used));
    EXPECT_EQ(0u, used);
    void *room;
    EXPECT_SP(SP_EMSGSIZE, sp_frame_decoder_space(&dec.d, &room));
    EXPECT_GT(sp_frame_decoder_pending(&dec.d), 0u);
    ASSERT_OK(sp_frame_decoder_reset(&dec.d));
    EXPECT_EQ(0u, sp_frame_decoder_pending(&dec.d));
    const std::string again = encode(f, "fresh");
    ASSERT_OK(sp_frame_decoder_feed(&dec.d, again.data(), again.size(), &used));
    ASSERT_EQ(1, sp_frame_decoder_next(&dec.d, &m));
    EXPECT_EQ("fresh", std::string((const char *)m.data, m.len));
    EXPECT_EQ(0, sp_frame_decoder_next(&dec.d, &m));
    EXPECT_SP(SP_EINVAL, sp_frame_decoder_skip(&dec.d)) << "nothing to skip";
}

TEST(FrameDecoder, InclusivePrefixShorterThanItselfCannotBeSkipped)
{
    sp_framer f = prefix(2, SP_FRAME_PREFIX_INCLUSIVE, 100);
    Decoder dec(f);
    size_t used;
    sp_frame_msg m;
    ASSERT_OK(sp_frame_decoder_feed(&dec.d, "\x00\x01zz", 4, &used));
    EXPECT_SP(SP_EMSGSIZE, sp_frame_decoder_next(&dec.d, &m));
    EXPECT_SP(SP_EINVAL, sp_frame_decoder_skip(&dec.d));
    EXPECT_SP(SP_EMSGSIZE, sp_frame_decoder_next(&dec.d, &m));
    /* an inclusive prefix equal to its width is an empty message */
    ASSERT_OK(sp_frame_decoder_reset(&dec.d));
    ASSERT_OK(sp_frame_decoder_feed(&dec.d, "\x00\x02", 2, &used));
    ASSERT_EQ(1, sp_frame_decoder_next(&dec.d, &m));
    EXPECT_EQ(0u, m.len);
}

TEST(FrameDecoder, NoDelimiterWithinMaxIsOversize)
{
    sp_framer f = delim("\r\n", 10);
    /* exactly max bytes then the delimiter: fine */
    EXPECT_TRUE(same_messages({"0123456789"}, decode_fed(f, "0123456789\r\n", ones())));
    /* max + 1 bytes: refused as soon as max + 2 bytes show no delimiter at 0..max */
    for (auto sizes : {ones(), whole()}) {
        Decoded r = decode_fed(f, "0123456789A\r\n", sizes);
        EXPECT_SP(SP_EMSGSIZE, r.rc);
    }
    Decoded r = decode_fed(f, "0123456789AB", whole());
    EXPECT_SP(SP_EMSGSIZE, r.rc) << "decided without waiting for the delimiter";
    r = decode_fed(f, "0123456789A", whole());
    EXPECT_OK(r.rc) << "11 bytes: the delimiter may still start at 10";
    EXPECT_EQ(11u, r.pending);
}

/* Streams with oversize messages inside: skipping them yields the same sequence for
 * every chunking, and the messages after them. */
TEST(FrameDecoder, SkipDropsTheOversizeMessageAndGoesOn)
{
    struct Case {
        std::string name;
        sp_framer f;
        std::string stream;
        std::vector<std::string> want;
    };
    sp_framer p2 = prefix(2, 0, 10), p8i = prefix(8, SP_FRAME_PREFIX_INCLUSIVE, 10);
    sp_framer lf = delim("\n", 10), ab = delim("abcab", 10);
    std::string big(500, 'B');
    std::vector<Case> cases = {
        {"prefix2",
         p2,
         encode(p2, "a") + std::string("\x01\xf4", 2) + big + encode(p2, "b") + encode(p2, ""),
         {"a", OVERSIZE, "b", ""}},
        {"prefix8incl",
         p8i,
         std::string("\0\0\0\0\0\0\x01\xfc", 8) + big + encode(p8i, "after"),
         {OVERSIZE, "after"}},
        {"lf",
         lf,
         "short\n" + big + "\nnext\n\n" + std::string(11, 'x') + "\nend\n",
         {"short", OVERSIZE, "next", "", OVERSIZE, "end"}},
        {"abcab",
         ab,
         "s" + std::string("abcab") + std::string(40, 'a') + "abcaabcab" + "t" + "abcab",
         {"s", OVERSIZE, "t"}},
    };
    for (const Case &c : cases) {
        EXPECT_TRUE(same_messages(c.want, decode_fed(c.f, c.stream, ones(), true))) << c.name;
        EXPECT_TRUE(same_messages(c.want, decode_fed(c.f, c.stream, whole(), true))) << c.name;
        for (uint64_t seed = 1; seed <= 20; seed++)
            EXPECT_TRUE(
                same_messages(c.want, decode_fed(c.f, c.stream, random_sizes(seed, 64), true)))
                << c.name << " seed " << seed;
        EXPECT_TRUE(same_messages(c.want, decode_received(c.f, c.stream, ones(), true))) << c.name;
        EXPECT_TRUE(same_messages(c.want, decode_received(c.f, c.stream, whole(), true))) << c.name;
    }
}

TEST(FrameDecoder, SkippingKeepsMemoryWithinOneMessage)
{
    /* found by fuzz_frame: a 4-byte delimiter, max 0; while skipping, the held start of
     * a possible delimiter must replace the old one, not pile up beside it */
    sp_framer f = delim(std::string("abcd"), 0);
    const std::string stream = "abcxabcyab" + std::string("abcd") + "abcd";
    for (auto sizes : {ones(), every(2), every(3)}) {
        Decoder dec(f);
        Decoded r;
        size_t pos = 0;
        while (pos < stream.size()) {
            size_t n = std::min(sizes(), stream.size() - pos), used;
            ASSERT_OK(sp_frame_decoder_feed(&dec.d, stream.data() + pos, n, &used));
            drain(&dec.d, r, true);
            pos += used;
            ASSERT_LE(dec.d.cap_, f.max + f.width);
        }
        EXPECT_EQ((std::vector<std::string>{OVERSIZE, ""}), r.msgs);
    }
}

TEST(FrameDecoder, FeedTakesOnlyWhatCompletesAHeldMessage)
{
    sp_framer f = prefix(1, 0, 100);
    Decoder dec(f);
    size_t used;
    sp_frame_msg m;
    const std::string s = encode(f, "hello") + encode(f, "world");
    ASSERT_OK(sp_frame_decoder_feed(&dec.d, s.data(), 3, &used)); /* "\5he" */
    EXPECT_EQ(3u, used);
    EXPECT_EQ(0, sp_frame_decoder_next(&dec.d, &m));
    EXPECT_EQ(3u, sp_frame_decoder_pending(&dec.d));
    ASSERT_OK(sp_frame_decoder_feed(&dec.d, s.data() + 3, s.size() - 3, &used));
    EXPECT_EQ(3u, used) << "llo completes hello; world is left to the next feed";
    ASSERT_EQ(1, sp_frame_decoder_next(&dec.d, &m));
    const sp_frame_msg hello = m;
    EXPECT_EQ(0, sp_frame_decoder_next(&dec.d, &m));
    EXPECT_EQ("hello", std::string((const char *)hello.data, hello.len)) << "still valid";
    EXPECT_SP(SP_EINVAL, sp_frame_decoder_commit(&dec.d, 1)) << "no room was asked";
    ASSERT_OK(sp_frame_decoder_feed(&dec.d, s.data() + 6, s.size() - 6, &used));
    EXPECT_EQ(s.size() - 6, used);
    size_t used2;
    EXPECT_SP(SP_EINVAL, sp_frame_decoder_feed(&dec.d, "x", 1, &used2)) << "not drained";
    void *room;
    EXPECT_SP(SP_EINVAL, sp_frame_decoder_space(&dec.d, &room)) << "not drained";
    ASSERT_EQ(1, sp_frame_decoder_next(&dec.d, &m));
    EXPECT_EQ("world", std::string((const char *)m.data, m.len));
    EXPECT_EQ((const char *)m.data, s.data() + 7) << "returned in place";
    EXPECT_EQ(0, sp_frame_decoder_next(&dec.d, &m));
    EXPECT_EQ(0u, sp_frame_decoder_pending(&dec.d));
}

/* Received into: the room for a message of known size grows with what has arrived of it
 * (doubling), so a big message lands in a few pieces, and a peer that announces a large
 * message and sends a little of it does not make the decoder hold the announced size. */
TEST(FrameDecoder, ReceivingIntoTheDecoderGrowsWithWhatArrived)
{
    sp_framer f = prefix(4, 0, 1 << 20);
    Decoder dec(f);
    const std::string s = encode(f, std::string(100000, 'z'));
    void *room;
    ptrdiff_t cap = sp_frame_decoder_space(&dec.d, &room);
    ASSERT_GE(cap, (ptrdiff_t)SP_FRAME_RECV_SIZE);
    memcpy(room, s.data(), 10);
    ASSERT_OK(sp_frame_decoder_commit(&dec.d, 10));
    sp_frame_msg m;
    EXPECT_EQ(0, sp_frame_decoder_next(&dec.d, &m));
    /* fill every room given: the whole message in a few rounds, the memory held at most a
     * few times what arrived (or SP_FRAME_RECV_SIZE), never past the message */
    size_t at = 10;
    int rounds = 0;
    while (at < s.size()) {
        cap = sp_frame_decoder_space(&dec.d, &room);
        ASSERT_GT(cap, 0);
        EXPECT_LE(dec.d.cap_, 4 * std::max<size_t>(at, SP_FRAME_RECV_SIZE)) << "round " << rounds;
        EXPECT_SP(SP_EINVAL, sp_frame_decoder_commit(&dec.d, (size_t)cap + 1));
        const size_t n = std::min((size_t)cap, s.size() - at);
        memcpy(room, s.data() + at, n);
        ASSERT_OK(sp_frame_decoder_commit(&dec.d, n));
        at += n;
        if (at < s.size()) {
            EXPECT_EQ(0, sp_frame_decoder_next(&dec.d, &m));
        }
        rounds++;
    }
    EXPECT_LE(rounds, 5) << "16 KiB, then doubling: 100,000 bytes in 4 rooms";
    ASSERT_EQ(1, sp_frame_decoder_next(&dec.d, &m));
    EXPECT_EQ(100000u, m.len);
    EXPECT_EQ(std::string(100000, 'z'), std::string((const char *)m.data, m.len));
    EXPECT_LE(dec.d.cap_, std::max<size_t>(f.max + 4, SP_FRAME_RECV_SIZE));

    /* a 1 MiB message announced, 10 bytes of it sent: the decoder holds tens of KiB */
    Decoder small(f);
    const std::string big = encode(f, std::string(1 << 20, 'y'));
    cap = sp_frame_decoder_space(&small.d, &room);
    memcpy(room, big.data(), 10);
    ASSERT_OK(sp_frame_decoder_commit(&small.d, 10));
    EXPECT_EQ(0, sp_frame_decoder_next(&small.d, &m));
    cap = sp_frame_decoder_space(&small.d, &room);
    ASSERT_GT(cap, 0);
    EXPECT_LE(small.d.cap_, (size_t)2 * SP_FRAME_RECV_SIZE) << "reserved the announced size";
}

TEST(FrameDecoder, OneByteFeedingIsLinear)
{
    /* A 1 MiB line fed one byte at a time: a decoder that searched the held bytes again
     * on every feed would need ~5e11 comparisons and time the test out. */
    for (std::string d : {std::string("\n"), std::string("\r\n"), std::string("abcdefgh")}) {
        sp_framer f = delim(d, 2 << 20);
        std::string line(1 << 20, 'x');
        for (size_t i = 0; i < line.size(); i += 7)
            line[i] = d[0]; /* near-misses for the multi-byte delimiters */
        if (d.size() == 1)
            std::fill(line.begin(), line.end(), 'x');
        make_encodable(f, line);
        const double t0 = now_ms();
        EXPECT_TRUE(same_messages({line}, decode_fed(f, encode(f, line), ones())));
        std::printf("[   INFO   ] 1 MiB line, %d-byte delimiter, fed byte by byte: %.0f ms\n",
                    (int)d.size(), now_ms() - t0);
    }
}

/* ---- over a real socket pair --------------------------------------------------------- */

class FrameSocket : public SpTest
{
  protected:
    void SetUp() override
    {
        SpTest::SetUp();
        sp_socket_t pair[2];
        ASSERT_OK(sp_socketpair(pair));
        a_.reset(pair[0]);
        b_.reset(pair[1]);
    }
    Sock a_, b_;
};

TEST_F(FrameSocket, RoundTripsEveryFramingAndEndsCleanly)
{
    for (const Framing &fr : all_framings()) {
        SCOPED_TRACE(fr.name);
        sp_socket_t pair[2];
        ASSERT_OK(sp_socketpair(pair));
        Sock tx(pair[0]), rx(pair[1]);
        std::mt19937_64 rng(11);
        const auto msgs = random_messages(fr.f, 300, rng);
        int send_rc = 0;
        std::thread sender([&] {
            for (const auto &m : msgs)
                if ((send_rc = sp_frame_send(tx, &fr.f, m.data(), m.size(), 10000)) != 0)
                    break;
            sp_shutdown(tx, SP_SHUT_WR);
        });
        Decoder dec(fr.f);
        size_t i = 0;
        int rc;
        sp_frame_msg m;
        while ((rc = sp_frame_recv(rx, &dec.d, &m, 10000)) == 1) {
            ASSERT_LT(i, msgs.size());
            EXPECT_EQ(msgs[i], std::string((const char *)m.data, m.len)) << "message " << i;
            i++;
        }
        sender.join();
        EXPECT_OK(send_rc);
        EXPECT_SP(0, rc) << "a close between messages ends the stream cleanly";
        EXPECT_EQ(msgs.size(), i);
        EXPECT_SP(0, sp_frame_recv(rx, &dec.d, &m, 1000)) << "and stays ended";
    }
}

TEST_F(FrameSocket, LargeMessagesAndTheBytesAfterThem)
{
    sp_framer f = prefix(4, 0, 8 << 20);
    std::vector<std::string> msgs;
    for (size_t n : {size_t(3) << 20, size_t(1), size_t(0), size_t(1) << 20, size_t(70000)}) {
        auto p = make_pattern(n, n);
        msgs.emplace_back(p.begin(), p.end());
    }
    std::thread sender([&] {
        /* all in one stream: each receive ends inside a message or past its end */
        std::string all = encode_all(f, msgs);
        EXPECT_OK(sp_send_all(a_, all.data(), all.size(), 20000, nullptr));
    });
    Decoder dec(f);
    sp_frame_msg m;
    for (size_t i = 0; i < msgs.size(); i++) {
        ASSERT_EQ(1, sp_frame_recv(b_, &dec.d, &m, 20000)) << "message " << i;
        ASSERT_EQ(msgs[i].size(), m.len);
        EXPECT_TRUE(same_bytes((const unsigned char *)msgs[i].data(), (const unsigned char *)m.data,
                               m.len));
    }
    sender.join();
    EXPECT_LE(dec.d.cap_, f.max + 4);
}

TEST_F(FrameSocket, TwoMessagesInOneSendComeOutOneByOne)
{
    sp_framer f = delim("\r\n", 100);
    const std::string s = "first\r\nsecond\r\n";
    ASSERT_OK(sp_send_all(a_, s.data(), s.size(), 1000, nullptr));
    ASSERT_TRUE(ready(b_, SP_EV_READ, 2000));
    sleep_ms(50); /* both arrived */
    Decoder dec(f);
    sp_frame_msg m;
    ASSERT_EQ(1, sp_frame_recv(b_, &dec.d, &m, 1000));
    EXPECT_EQ("first", std::string((const char *)m.data, m.len));
    EXPECT_EQ(8u, sp_frame_decoder_pending(&dec.d)) << "second\\r\\n is kept";
    ASSERT_EQ(1, sp_frame_recv(b_, &dec.d, &m, 0)) << "from the decoder, no wait";
    EXPECT_EQ("second", std::string((const char *)m.data, m.len));
    EXPECT_SP(SP_ETIMEDOUT, sp_frame_recv(b_, &dec.d, &m, 0));
}

TEST_F(FrameSocket, ClosedInTheMiddleOfAMessageIsEof)
{
    sp_framer f = prefix(2, 0, 100);
    ASSERT_OK(sp_send_all(a_,
                          "\x00\x05"
                          "ab",
                          4, 1000, nullptr));
    ASSERT_OK(sp_shutdown(a_, SP_SHUT_WR));
    Decoder dec(f);
    sp_frame_msg m;
    EXPECT_SP(SP_EEOF, sp_frame_recv(b_, &dec.d, &m, 2000));
}

TEST_F(FrameSocket, DeadlineKeepsThePartialMessage)
{
    sp_framer f = prefix(4, 0, 1000);
    const std::string s = encode(f, "patience");
    ASSERT_OK(sp_send_all(a_, s.data(), 6, 1000, nullptr));
    Decoder dec(f);
    sp_frame_msg m;
    const double t0 = now_ms();
    EXPECT_SP(SP_ETIMEDOUT, sp_frame_recv(b_, &dec.d, &m, 150));
    const double took = now_ms() - t0;
    EXPECT_GE(took, 140);
    EXPECT_LT(took, 2000);
    EXPECT_EQ(6u, sp_frame_decoder_pending(&dec.d));
    ASSERT_OK(sp_send_all(a_, s.data() + 6, s.size() - 6, 1000, nullptr));
    ASSERT_EQ(1, sp_frame_recv(b_, &dec.d, &m, 2000));
    EXPECT_EQ("patience", std::string((const char *)m.data, m.len));
}

TEST_F(FrameSocket, OversizeOverTheSocketCanBeSkipped)
{
    sp_framer f = delim("\n", 16);
    const std::string s = "ok\n" + std::string(100000, 'L') + "\nafter\n";
    std::thread sender([&] { EXPECT_OK(sp_send_all(a_, s.data(), s.size(), 10000, nullptr)); });
    Decoder dec(f);
    sp_frame_msg m;
    ASSERT_EQ(1, sp_frame_recv(b_, &dec.d, &m, 5000));
    EXPECT_EQ("ok", std::string((const char *)m.data, m.len));
    ASSERT_SP(SP_EMSGSIZE, sp_frame_recv(b_, &dec.d, &m, 5000));
    ASSERT_SP(SP_EMSGSIZE, sp_frame_recv(b_, &dec.d, &m, 5000)) << "until skipped or reset";
    ASSERT_OK(sp_frame_decoder_skip(&dec.d));
    ASSERT_EQ(1, sp_frame_recv(b_, &dec.d, &m, 5000));
    EXPECT_EQ("after", std::string((const char *)m.data, m.len));
    sender.join();
    EXPECT_LE(dec.d.cap_, (size_t)SP_FRAME_RECV_SIZE) << "the long line was never stored";
}

TEST_F(FrameSocket, SendRefusesWhatTheFramerDoesNot)
{
    sp_framer f = fixed(4);
    EXPECT_SP(SP_EMSGSIZE, sp_frame_send(a_, &f, "abc", 3, 1000));
    f = delim("\n", 10);
    EXPECT_SP(SP_EINVAL, sp_frame_send(a_, &f, "a\nb", 3, 1000));
    EXPECT_SP(SP_EMSGSIZE, sp_frame_send(a_, &f, "0123456789A", 11, 1000));
    EXPECT_FALSE(ready(b_, SP_EV_READ, 50)) << "nothing was sent";
}

/* The event-loop way: a non-blocking socket, received straight into the decoder. */
TEST_F(FrameSocket, NonBlockingReceiveIntoTheDecoder)
{
    sp_framer f = prefix(2, 0, 5000);
    std::mt19937_64 rng(3);
    const auto msgs = random_messages(f, 400, rng);
    ASSERT_OK(sp_set_nonblocking(b_, 1));
    std::thread sender([&] {
        const std::string all = encode_all(f, msgs);
        size_t pos = 0;
        std::mt19937_64 r2(4);
        while (pos < all.size()) { /* dribble it out in odd pieces */
            size_t n = std::min<size_t>(1 + r2() % 3000, all.size() - pos);
            if (sp_send_all(a_, all.data() + pos, n, 10000, nullptr) != 0)
                break;
            pos += n;
            if (r2() % 8 == 0)
                sleep_ms(1);
        }
        sp_shutdown(a_, SP_SHUT_WR);
    });
    Decoder dec(f);
    size_t i = 0, again = 0;
    for (;;) {
        void *room;
        ptrdiff_t cap = sp_frame_decoder_space(&dec.d, &room);
        ASSERT_GT(cap, 0);
        ptrdiff_t got = sp_recv(b_, room, (size_t)cap);
        if (got == SP_EAGAIN) {
            again++;
            ASSERT_GT(sp_wait(b_, SP_EV_READ, 10000), 0);
            continue;
        }
        ASSERT_GE(got, 0) << code_str(got);
        if (got == 0)
            break;
        ASSERT_OK(sp_frame_decoder_commit(&dec.d, (size_t)got));
        sp_frame_msg m;
        int rc;
        while ((rc = sp_frame_decoder_next(&dec.d, &m)) == 1) {
            ASSERT_LT(i, msgs.size());
            EXPECT_EQ(msgs[i], std::string((const char *)m.data, m.len)) << "message " << i;
            i++;
        }
        ASSERT_SP(0, rc);
    }
    sender.join();
    EXPECT_EQ(msgs.size(), i);
    EXPECT_EQ(0u, sp_frame_decoder_pending(&dec.d));
    std::printf("[   INFO   ] %d messages, %d would-block receives\n", (int)i, (int)again);
}

} // namespace
