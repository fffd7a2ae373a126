/*
 * test_server_reads.cc - how the server cuts what one read brings into messages, for every
 * kind of framer: the event model judges the common read (exactly one whole message) on
 * its own path (server_events.c, read_between), and everything else - a message cut by
 * the read, several in one read, an empty one, an oversize one - the long way. Each case
 * runs in the thread model too, which reads through its decoder: the two must agree.
 */
#include "server_fixture.h"

#include <atomic>
#include <ostream>
#include <string>
#include <vector>

using namespace sptest;

namespace
{

std::atomic<int> g_close_reason{-1}; /* the last connection's close reason */
std::atomic<int> g_closes{0};

int on_message(sp_conn *c, const void *msg, size_t len)
{
    return sp_conn_send(c, msg, len) == 0 ? 0 : -1;
}

void on_close(sp_conn *, int reason, int)
{
    g_close_reason.store(reason);
    g_closes.fetch_add(1);
}

const sp_server_handler handler = {nullptr, on_message, nullptr, on_close, nullptr};

/* A framer of the table below: its name, and the message that is too large for it (empty
 * when it has none: a fixed framer). */
struct FramerCase {
    const char *name;
    int (*make)(sp_framer *f);
    std::string too_large;
};

int prefix1(sp_framer *f)
{
    return sp_framer_prefix(f, 1, 0, 100);
}
int prefix2_inclusive(sp_framer *f)
{
    return sp_framer_prefix(f, 2, SP_FRAME_PREFIX_INCLUSIVE, 100);
}
int prefix4(sp_framer *f)
{
    return sp_framer_prefix(f, 4, 0, 100);
}
int prefix8(sp_framer *f)
{
    return sp_framer_prefix(f, 8, 0, 100);
}
int fixed5(sp_framer *f)
{
    return sp_framer_fixed(f, 5);
}
int lines(sp_framer *f)
{
    return sp_framer_delim(f, "\r\n", 2, 100);
}

const FramerCase framers[] = {
    {"prefix1", prefix1, std::string("\x65", 1)},                             /* 101 bytes */
    {"prefix2_inclusive", prefix2_inclusive, std::string("\x00\x01", 2)},     /* below 2 */
    {"prefix4", prefix4, std::string("\x00\x00\x00\x65", 4)},                 /* 101 bytes */
    {"prefix8", prefix8, std::string("\xff\x00\x00\x00\x00\x00\x00\x00", 8)}, /* 2^64 - ... */
    {"fixed5", fixed5, std::string()},
    {"lines", lines, std::string(120, 'x')}, /* no delimiter within max + 2 bytes */
};

struct ReadParam {
    int model;
    size_t framer; /* index into framers */
};

void PrintTo(const ReadParam &p, std::ostream *os)
{
    *os << model_name(p.model) << " " << framers[p.framer].name;
}

class ServerReads : public ServerFixture, public ::testing::WithParamInterface<ReadParam>
{
  protected:
    ServerReads() : ServerFixture(&handler, GetParam().model, 10000) {}
    void SetUp() override
    {
        ServerFixture::SetUp();
        g_close_reason.store(-1);
        g_closes.store(0);
        ASSERT_OK(framers[GetParam().framer].make(&framer));
        ASSERT_OK(sp_frame_decoder_init(&dec_, &framer));
        start();
        if (HasFatalFailure() || IsSkipped())
            return;
        ASSERT_TRUE(dial(client_));
    }
    void TearDown() override
    {
        client_.reset();
        sp_frame_decoder_free(&dec_);
        ServerFixture::TearDown();
    }
    /* Write bytes as they are (one send call). */
    ::testing::AssertionResult put(const std::string &bytes)
    {
        size_t done = 0;
        int rc = sp_send_all(client_, bytes.data(), bytes.size(), 5000, &done);
        if (rc != 0)
            return step_failed("sp_send_all", rc);
        return ::testing::AssertionSuccess();
    }
    /* The next reply is `want`. */
    ::testing::AssertionResult reply(const std::string &want)
    {
        sp_frame_msg m = {nullptr, 0};
        int rc = sp_frame_recv(client_, &dec_, &m, 10000);
        if (rc != 1)
            return ::testing::AssertionFailure() << "reply '" << want << "': " << code_str(rc);
        std::string got((const char *)m.data, m.len);
        if (got != want)
            return ::testing::AssertionFailure() << "reply: '" << got << "', want '" << want << "'";
        return ::testing::AssertionSuccess();
    }
    /* A payload the framer takes: five bytes (what the fixed framer needs), distinct. */
    static std::string payload(int i)
    {
        return std::string("msg") + char('a' + i % 26) + char('A' + i / 26 % 26);
    }
    sp_frame_decoder dec_;
    Sock client_;
};

/* Each read one whole message (the event model's common path): each echoed at once. */
TEST_P(ServerReads, OneMessagePerRead)
{
    for (int i = 0; i < 20; i++) {
        ASSERT_TRUE(put(frame_wire(framer, payload(i))));
        ASSERT_TRUE(reply(payload(i)));
    }
}

/* A message cut by the read: the first read holds only its start (one byte: less than
 * any prefix), the next one the rest and, behind it, a whole message. */
TEST_P(ServerReads, MessageCutByTheRead)
{
    std::string a = frame_wire(framer, payload(1)), b = frame_wire(framer, payload(2));
    ASSERT_TRUE(put(a.substr(0, 1)));
    sleep_ms(50); /* the server reads the first byte alone */
    ASSERT_TRUE(put(a.substr(1) + b));
    EXPECT_TRUE(reply(payload(1)));
    EXPECT_TRUE(reply(payload(2)));
    /* and the next one read whole again */
    ASSERT_TRUE(put(frame_wire(framer, payload(3))));
    EXPECT_TRUE(reply(payload(3)));
}

/* Several messages in one read: each answered, in order; then one alone again. */
TEST_P(ServerReads, SeveralMessagesInOneRead)
{
    std::string all;
    for (int i = 0; i < 10; i++)
        all += frame_wire(framer, payload(i));
    ASSERT_TRUE(put(all));
    for (int i = 0; i < 10; i++)
        ASSERT_TRUE(reply(payload(i)));
    ASSERT_TRUE(put(frame_wire(framer, payload(11))));
    EXPECT_TRUE(reply(payload(11)));
}

/* An empty message read alone (a prefix of 0, an empty line) is one message. */
TEST_P(ServerReads, EmptyMessageReadAlone)
{
    if (framer.kind == SP_FRAME_FIXED)
        GTEST_SKIP() << "a fixed framer has no empty message";
    std::string empty = frame_wire(framer, "");
    ASSERT_FALSE(empty.empty());
    ASSERT_TRUE(put(empty));
    EXPECT_TRUE(reply(""));
    ASSERT_TRUE(put(frame_wire(framer, payload(4))));
    EXPECT_TRUE(reply(payload(4)));
}

/* A read that starts an oversize message: the replies before it go out, then the
 * connection closes with SP_CLOSE_TOO_LARGE. */
TEST_P(ServerReads, OversizeMessageCloses)
{
    const std::string &big = framers[GetParam().framer].too_large;
    if (big.empty())
        GTEST_SKIP() << "a fixed framer has no oversize message";
    ASSERT_TRUE(put(frame_wire(framer, payload(5))));
    ASSERT_TRUE(reply(payload(5)));
    ASSERT_TRUE(put(big));
    std::string rest;
    EXPECT_EQ(0, read_to_eof(client_, rest, 10000)) << "the server closes";
    EXPECT_TRUE(rest.empty());
    for (int i = 0; i < 200 && g_closes.load() == 0; i++)
        sleep_ms(10);
    EXPECT_EQ(SP_CLOSE_TOO_LARGE, g_close_reason.load());
}

std::vector<ReadParam> read_params()
{
    std::vector<ReadParam> v;
    for (int m : {SP_MODEL_EVENTS, SP_MODEL_THREADS})
        for (size_t i = 0; i < sizeof framers / sizeof framers[0]; i++)
            v.push_back(ReadParam{m, i});
    return v;
}

INSTANTIATE_TEST_SUITE_P(Framers, ServerReads, ::testing::ValuesIn(read_params()),
                         [](const ::testing::TestParamInfo<ReadParam> &p) {
                             return std::string(model_name(p.param.model)) + "_" +
                                    framers[p.param.framer].name;
                         });

} // namespace
