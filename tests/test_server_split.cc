/*
 * test_server_split.cc - the server's read path against a client that cuts its byte stream
 * anywhere: seeded random property tests over every model the OS has and every kind of
 * framer (a length prefix of each width, inclusive or not; fixed; delimited, with a
 * delimiter that overlaps itself). test_server_reads.cc checks fixed cases; here:
 *
 *   AnySplit      random messages (0 .. max bytes, with the sizes that fill a read buffer,
 *                 SP_FRAME_RECV_SIZE and the framer's max) as one stream cut at random
 *                 points (1-byte sends, cuts inside a header or a delimiter) with pauses:
 *                 every message echoed, in order, byte-exact (server.h, on_message);
 *   Bursts        many small messages in one send with a cut message behind them, again
 *                 and again;
 *   Unread        on_data gives back a random tail of each chunk (sp_conn_unread) to a line
 *                 framer: the handler echoes what it takes, so the reply stream is the
 *                 request stream, nothing lost or twice;
 *   RawBody       a header announces a raw body (sp_conn_set_raw): the body goes to on_data,
 *                 what follows it back to the framer, once;
 *   Oversize      a message over the framer's max after good ones: the good ones echoed,
 *                 then the close (SP_CLOSE_TOO_LARGE), no hang;
 *   StopWhileCut  a stop while a message is cut: the connection gets grace_ms (a message
 *                 completed in it is echoed), then closes (SP_CLOSE_STOPPING).
 *
 * Every test draws from a std::mt19937 whose seed is printed with any failure: the seed is
 * SP_SPLIT_SEED when set (rerun one failure with it and --gtest_filter), else a hash of the
 * test's name, plus the number of earlier runs of the test in this process, so that
 * --gtest_repeat=N tries N seeds. The fork model's handlers run in the child: the close
 * reason is checked in the other models only (the bytes on the wire in every model).
 */
#include "server_fixture.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace sptest;

namespace
{

/* ---- the framers ------------------------------------------------------------------- */

struct FramerCase {
    const char *name;
    int kind;
    unsigned width; /* prefix width, or the delimiter's length */
    unsigned flags;
    size_t max; /* the payload bound asked for (fixed: N) */
    const char *delim;
    const char *alphabet; /* a delimited payload's bytes; NULL: any byte */
};

/* The read buffer of the blocking models (server_blocking.c) and of the event model
 * (SP__READ_CHUNK): a message that fills one exactly, or one byte more or less, is where a
 * split in place turns into a cut message. */
const size_t kBlockingRead = SP_FRAME_RECV_SIZE + SP_FRAME_HEADER_MAX;
const size_t kEventsRead = 4 * SP_FRAME_RECV_SIZE;

const FramerCase framers[] = {
    {"prefix1", SP_FRAME_PREFIX, 1, 0, 255, nullptr, nullptr},
    {"prefix1_incl", SP_FRAME_PREFIX, 1, SP_FRAME_PREFIX_INCLUSIVE, 255, nullptr, nullptr},
    {"prefix2", SP_FRAME_PREFIX, 2, 0, 65535, nullptr, nullptr},
    {"prefix2_incl", SP_FRAME_PREFIX, 2, SP_FRAME_PREFIX_INCLUSIVE, 65535, nullptr, nullptr},
    {"prefix4", SP_FRAME_PREFIX, 4, 0, 70000, nullptr, nullptr},
    {"prefix4_incl", SP_FRAME_PREFIX, 4, SP_FRAME_PREFIX_INCLUSIVE, 70000, nullptr, nullptr},
    {"prefix8", SP_FRAME_PREFIX, 8, 0, 70000, nullptr, nullptr},
    {"fixed7", SP_FRAME_FIXED, 0, 0, 7, nullptr, nullptr},
    {"fixed_rbuf", SP_FRAME_FIXED, 0, 0, SP_FRAME_RECV_SIZE + SP_FRAME_HEADER_MAX, nullptr,
     nullptr},
    {"lf", SP_FRAME_DELIM, 1, 0, 70000, "\n", "abcdefghijklmnopqrstuvwxyz0123456789 "},
    {"crlf", SP_FRAME_DELIM, 2, 0, 20000, "\r\n", "ab\r\n"},
    {"aab", SP_FRAME_DELIM, 3, 0, 5000, "aab", "abc"},
};
const size_t kFramers = sizeof framers / sizeof framers[0];

int make_framer(const FramerCase &fc, sp_framer *f)
{
    switch (fc.kind) {
    case SP_FRAME_PREFIX:
        return sp_framer_prefix(f, fc.width, fc.flags, fc.max);
    case SP_FRAME_FIXED:
        return sp_framer_fixed(f, fc.max);
    default:
        return sp_framer_delim(f, fc.delim, fc.width, fc.max);
    }
}

/* ---- seeds and sizes ----------------------------------------------------------------- */

/* Sanitizers, valgrind and Wine run slower: a quarter of the bytes and pauses. */
int slow_factor()
{
    return sanitized_build() || is_valgrind() || is_wine() ? 4 : 1;
}

/* The seed of this run of the current test (see the top of the file). */
uint32_t test_seed()
{
    static std::map<std::string, uint32_t> runs;
    const ::testing::TestInfo *ti = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(ti->test_suite_name()) + "." + ti->name(), env;
    uint32_t base = 2166136261u;
    if (env_get("SP_SPLIT_SEED", &env)) {
        base = (uint32_t)std::strtoul(env.c_str(), nullptr, 0);
    } else {
        for (char ch : name)
            base = (base ^ (unsigned char)ch) * 16777619u;
    }
    return base + runs[name]++;
}

size_t uniform(std::mt19937 &rng, size_t lo, size_t hi)
{
    return std::uniform_int_distribution<size_t>(lo, hi)(rng);
}

bool chance(std::mt19937 &rng, double p)
{
    return std::uniform_real_distribution<double>(0, 1)(rng) < p;
}

/* A payload size for f: small, one that makes the message fill a read buffer (or one
 * byte less or more), near SP_FRAME_RECV_SIZE or f's max, or anything up to max; never
 * over `most`. */
size_t pick_size(std::mt19937 &rng, const sp_framer &f, size_t most)
{
    if (f.kind == SP_FRAME_FIXED)
        return f.max;
    size_t frame = f.width, max = std::min(f.max, most), n;
    int pick = (int)uniform(rng, 0, 9);
    if (pick < 4) {
        n = uniform(rng, 0, 40);
    } else if (pick < 7) {
        const size_t marks[] = {kBlockingRead - frame, kEventsRead - frame, SP_FRAME_RECV_SIZE,
                                f.max, 2 * SP_FRAME_RECV_SIZE - frame};
        size_t m = marks[uniform(rng, 0, 4)];
        n = m + uniform(rng, 0, 4) - 2;
        if (m < 2)
            n = m;
    } else {
        n = uniform(rng, 0, max);
    }
    return std::min(n, max);
}

/* A payload of n bytes that f frames as it is: random bytes, or for a delimited framer its
 * alphabet with no delimiter in it (ending so that the delimiter behind it is where the
 * receiver cuts: sp_frame_encode says). */
std::string make_payload(std::mt19937 &rng, const FramerCase &fc, const sp_framer &f, size_t n)
{
    std::string p;
    p.reserve(n);
    if (fc.alphabet == nullptr) {
        for (size_t i = 0; i < n; i++)
            p.push_back((char)uniform(rng, 0, 255));
        return p;
    }
    const std::string abc = fc.alphabet, d(fc.delim, fc.width);
    for (size_t i = 0; i < n; i++) {
        p.push_back(abc[uniform(rng, 0, abc.size() - 1)]);
        if (p.size() >= d.size() && p.compare(p.size() - d.size(), d.size(), d) == 0)
            p.back() = 'z'; /* in no delimiter */
    }
    while (!p.empty() && frame_wire(f, p).empty())
        p.back() = 'z';
    return p;
}

/* ---- the client's stream --------------------------------------------------------------- */

/* A byte stream and where the client's sends end (cuts, ascending, the last its size). */
struct Plan {
    std::string stream;
    std::vector<size_t> cuts;
    std::vector<size_t> starts; /* where each message starts (for the cuts) */
    std::vector<size_t> heads;  /* its prefix (or, delimited, delimiter) length */
    std::vector<std::string> payloads;

    void add(const sp_framer &f, const std::string &payload)
    {
        starts.push_back(stream.size());
        heads.push_back(f.kind == SP_FRAME_FIXED ? 0 : f.width);
        payloads.push_back(payload);
        stream += frame_wire(f, payload);
    }
    void cut(size_t at)
    {
        cuts.push_back(at);
    }
    /* Sorted, without repeats or zero, ending at the stream's end. */
    void finish()
    {
        cuts.push_back(stream.size());
        std::sort(cuts.begin(), cuts.end());
        cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
        cuts.erase(std::remove(cuts.begin(), cuts.end(), (size_t)0), cuts.end());
        while (!cuts.empty() && cuts.back() > stream.size())
            cuts.pop_back();
    }
};

/* Cuts anywhere: inside headers and delimiters, at message boundaries, runs of 1-byte
 * sends, and random pieces of 1 byte to 100 KB. */
void cut_anywhere(std::mt19937 &rng, const sp_framer &f, Plan &p)
{
    for (size_t i = 0; i < p.starts.size(); i++) {
        size_t s = p.starts[i], h = p.heads[i];
        size_t e = i + 1 < p.starts.size() ? p.starts[i + 1] : p.stream.size();
        if (h > 1 && chance(rng, 0.3)) {
            if (f.kind == SP_FRAME_PREFIX)
                p.cut(s + uniform(rng, 1, h - 1)); /* inside the prefix */
            else
                p.cut(e - uniform(rng, 1, h - 1)); /* inside the delimiter */
        }
        if (chance(rng, 0.15))
            p.cut(s);
    }
    size_t pos = 0;
    while (pos < p.stream.size()) {
        int k = (int)uniform(rng, 0, 9);
        if (k == 0) { /* a trickle: 1-byte sends */
            size_t n = uniform(rng, 1, 40);
            for (size_t i = 0; i < n; i++)
                p.cut(++pos);
            continue;
        }
        pos += k < 3   ? 1
               : k < 6 ? uniform(rng, 1, 16)
               : k < 9 ? uniform(rng, 1, 4096)
                       : uniform(rng, 1, 100000);
        p.cut(pos);
    }
    p.finish();
}

/* Send the plan's pieces (TCP_NODELAY, a short pause now and then: at most `pauses`), on
 * a thread of its own so that the echoes are read meanwhile. */
class Sender
{
  public:
    Sender(sp_socket_t s, const Plan &p, uint32_t seed, int pauses)
        : t_([this, s, &p, seed, pauses] { run(s, p, seed, pauses); })
    {
    }
    ~Sender()
    {
        join();
    }
    Sender(const Sender &) = delete;
    Sender &operator=(const Sender &) = delete;
    /* Wait for the thread; what the sends said (0). */
    int join()
    {
        if (t_.joinable())
            t_.join();
        return rc_.load();
    }
    /* Whether every send was made (or one failed). */
    bool finished() const
    {
        return finished_.load();
    }

  private:
    void run(sp_socket_t s, const Plan &p, uint32_t seed, int pauses)
    {
        std::mt19937 rng(seed);
        size_t from = 0;
        for (size_t to : p.cuts) {
            size_t done = 0;
            int rc = sp_send_all(s, p.stream.data() + from, to - from, 20000, &done);
            if (rc != 0) {
                rc_.store(rc);
                break;
            }
            from = to;
            if (pauses > 0 && chance(rng, 0.05)) {
                pauses--;
                sleep_ms(1);
            }
        }
        finished_.store(true);
    }
    std::atomic<int> rc_{0};
    std::atomic<bool> finished_{false};
    std::thread t_;
};

/* ---- the server's handlers ------------------------------------------------------------- */

std::atomic<int> g_close_reason{-1};
std::atomic<int> g_closes{0};
/* The raw handlers' state: one connection per test; set before the server starts (a
 * forked child has its copy). */
enum { MODE_UNREAD, MODE_BODY };
int g_mode = MODE_UNREAD;
std::mt19937 g_srv_rng;
size_t g_body_left = 0;
std::string g_delim; /* the delimiter (Unread) */
std::string g_ctx;   /* the last bytes taken before the current chunk (Unread) */

/* Unread: where the tail given back starts (`keep` bytes into the chunk), moved out of a
 * delimiter it would cut (the framer would see no delimiter there: the end of the stream
 * would be a cut message, two lines one), forward to the delimiter's end, or to the end of
 * the chunk when the delimiter may run past it. g_ctx is the bytes taken before (a
 * delimiter may begin there). */
size_t keep_outside_delimiter(const char *data, size_t len, size_t keep)
{
    const std::string full = g_ctx + std::string(data, len), &d = g_delim;
    const size_t base = g_ctx.size(), q = base + keep, w = d.size();
    for (size_t s = q + 1 > w ? q + 1 - w : 0; s < q; s++) {
        if (s + w <= full.size() && full.compare(s, w, d) == 0)
            return s + w - base;
        if (s + w > full.size() && d.compare(0, full.size() - s, full, s) == 0)
            return len;
    }
    return keep;
}

/* Whether bytes taken up to the end of p[0..len) (g_ctx before them) may end inside a
 * delimiter: they end with a proper prefix of it. The framer must not be given the rest
 * of that delimiter alone (it would see no delimiter: the stream's end would be a cut
 * message), so on_data stays raw for one more chunk. A prefix that is only data keeps it
 * raw too, which is harmless. */
bool ends_inside_delimiter(const char *p, size_t len)
{
    const std::string full = g_ctx + std::string(p, len), &d = g_delim;
    for (size_t j = d.size() - 1; j > 0; j--)
        if (full.size() >= j && full.compare(full.size() - j, j, d, 0, j) == 0)
            return true;
    return false;
}

/* g_ctx after the handler took bytes p[0..n). */
void took(const char *p, size_t n)
{
    g_ctx.append(p, n);
    if (g_ctx.size() + 1 > g_delim.size())
        g_ctx.erase(0, g_ctx.size() + 1 - g_delim.size());
}

/* SO_SNDBUF of accepted sockets (0: the system's), so that replies wait in the server's
 * output. (Not SO_RCVBUF, nor the client's: a receive buffer shrunk after the handshake
 * below the loopback MSS may never announce a window again, a stall of TCP's.) */
int g_server_sndbuf = 0;

void on_open(sp_conn *c)
{
    if (g_server_sndbuf > 0)
        (void)sp_set_send_buffer(sp_conn_socket(c), g_server_sndbuf);
}

void on_close(sp_conn *, int reason, int)
{
    g_close_reason.store(reason);
    g_closes.fetch_add(1);
}

int echo(sp_conn *c, const void *msg, size_t len)
{
    return sp_conn_send(c, msg, len) == 0 ? 0 : -1;
}

/* The raw handlers echo what they take: a message framed again (the bytes it came in),
 * raw bytes as they are. Unread: after a message, raw input at random; on_data keeps a
 * random head of each chunk and gives the tail back to the framer. Body: a message "B<n>"
 * announces n raw bytes; on_data takes them and gives back what follows. */
int raw_message(sp_conn *c, const void *msg, size_t len)
{
    if (sp_conn_send(c, msg, len) != 0)
        return -1;
    if (g_mode == MODE_UNREAD) {
        g_ctx.clear();
        took(g_delim.data(), g_delim.size()); /* the message's end */
        if (chance(g_srv_rng, 0.3) && sp_conn_set_raw(c, 1) != 0)
            return -1;
        return 0;
    }
    const char *p = (const char *)msg;
    if (len >= 2 && p[0] == 'B') {
        g_body_left = (size_t)std::strtoul(std::string(p + 1, len - 1).c_str(), nullptr, 10);
        if (g_body_left > 0 && sp_conn_set_raw(c, 1) != 0)
            return -1;
    }
    return 0;
}

int raw_data(sp_conn *c, const void *data, size_t len)
{
    size_t keep;
    bool back;
    if (g_mode == MODE_UNREAD) {
        int k = (int)uniform(g_srv_rng, 0, 9);
        keep = keep_outside_delimiter((const char *)data, len,
                                      k < 3   ? len
                                      : k < 5 ? 0
                                              : uniform(g_srv_rng, 0, len));
        back = keep < len ||
               (chance(g_srv_rng, 0.3) && !ends_inside_delimiter((const char *)data, len));
        took((const char *)data, keep);
    } else {
        keep = std::min(len, g_body_left);
        g_body_left -= keep;
        back = g_body_left == 0;
    }
    if (keep > 0 && sp_conn_write(c, data, keep) != 0)
        return -1;
    if (back && (sp_conn_set_raw(c, 0) != 0 || sp_conn_unread(c, len - keep) != 0))
        return -1;
    return 0;
}

const sp_server_handler echo_handler = {on_open, echo, nullptr, on_close, nullptr};
const sp_server_handler raw_handler = {nullptr, raw_message, raw_data, on_close, nullptr};

/* ---- the fixture ------------------------------------------------------------------------ */

struct SplitParam {
    int model;
    size_t framer; /* index into framers */
};

void PrintTo(const SplitParam &p, std::ostream *os)
{
    *os << model_name(p.model) << " " << framers[p.framer].name;
}

/* Whether framer i has a message over its max: not a fixed one, nor a prefix whose every
 * value is a length up to max (one byte up to 255, two up to 65535), unless inclusive
 * (a length below the prefix itself). */
bool has_oversize(size_t i)
{
    const FramerCase &fc = framers[i];
    return fc.kind == SP_FRAME_DELIM ||
           (fc.kind == SP_FRAME_PREFIX &&
            (fc.width > 2 || (fc.flags & SP_FRAME_PREFIX_INCLUSIVE) != 0));
}

bool delimited(size_t i)
{
    return framers[i].kind == SP_FRAME_DELIM;
}

bool any_framer(size_t)
{
    return true;
}

/* Every model of the OS with each framer that `keep` takes. */
std::vector<SplitParam> split_params(bool (*keep)(size_t))
{
    std::vector<SplitParam> v;
    for (int m : os_models())
        for (size_t i = 0; i < kFramers; i++)
            if (keep(i))
                v.push_back(SplitParam{m, i});
    return v;
}

std::string split_param_name(const ::testing::TestParamInfo<SplitParam> &p)
{
    return std::string(model_name(p.param.model)) + "_" + framers[p.param.framer].name;
}

class SplitBase : public ServerFixture, public ::testing::WithParamInterface<SplitParam>
{
  protected:
    explicit SplitBase(const sp_server_handler *h) : ServerFixture(h, GetParam().model, 20000) {}
    void SetUp() override
    {
        ServerFixture::SetUp();
        g_close_reason.store(-1);
        g_closes.store(0);
        seed_ = test_seed();
        rng_.seed(seed_);
        g_srv_rng.seed(seed_ ^ 0x5bd1e995u);
        g_body_left = 0;
        g_server_sndbuf = 0;
        ASSERT_OK(make_framer(fc(), &framer));
        ASSERT_OK(sp_frame_decoder_init(&dec_, &framer));
    }
    void TearDown() override
    {
        client_.reset();
        sp_frame_decoder_free(&dec_);
        ServerFixture::TearDown();
        if (HasFailure())
            std::fprintf(stderr, "  rerun: SP_SPLIT_SEED=%lu --gtest_filter=%s.%s\n",
                         (unsigned long)seed_,
                         ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name(),
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    }
    const FramerCase &fc() const
    {
        return framers[GetParam().framer];
    }
    bool forked() const
    {
        return GetParam().model == SP_MODEL_FORK;
    }
    /* Start the server and dial it (TCP_NODELAY); false after a skip or a failure. */
    bool up()
    {
        if (!start_and_dial(client_))
            return false;
        EXPECT_OK(sp_set_nodelay(client_, 1));
        return !HasFailure();
    }
    /* The bytes and the pauses one test sends. */
    size_t budget() const
    {
        return (size_t)(1200000 / slow_factor());
    }
    int pauses() const
    {
        return 40 / slow_factor();
    }
    /* Random messages into p until the budget (at most `count`); sizes up to `most`. */
    void fill(Plan &p, size_t count, size_t most)
    {
        while (p.payloads.size() < count && p.stream.size() < budget())
            p.add(framer, make_payload(rng_, fc(), framer, pick_size(rng_, framer, most)));
    }
    /* The echoes of p's payloads from first on, in order, byte-exact. */
    ::testing::AssertionResult echoes(const Plan &p, size_t first = 0)
    {
        for (size_t i = first; i < p.payloads.size(); i++) {
            sp_frame_msg m = {nullptr, 0};
            int rc = sp_frame_recv(client_, &dec_, &m, 20000);
            const std::string &want = p.payloads[i];
            if (rc != 1)
                return ::testing::AssertionFailure()
                       << "echo " << i << " of " << p.payloads.size() << " (" << want.size()
                       << " bytes): " << code_str(rc);
            if (m.len != want.size())
                return ::testing::AssertionFailure()
                       << "echo " << i << " has " << m.len << " bytes, not " << want.size();
            auto same = same_bytes((const unsigned char *)want.data(),
                                   (const unsigned char *)m.data, m.len);
            if (m.len > 0 && !same)
                return ::testing::AssertionFailure() << "echo " << i << ": " << same.message();
        }
        return ::testing::AssertionSuccess();
    }
    /* Exactly `want` comes back as raw bytes. */
    ::testing::AssertionResult raw_back(const std::string &want)
    {
        std::string got;
        std::vector<char> buf(65536);
        const double until = now_ms() + 20000;
        sp_set_recv_timeout(client_, 1000);
        while (got.size() < want.size() && now_ms() < until) {
            ptrdiff_t r = sp_recv(client_, buf.data(), buf.size());
            if (r == SP_ETIMEDOUT || r == SP_EAGAIN)
                continue;
            if (r <= 0)
                return ::testing::AssertionFailure() << "after " << got.size() << " of "
                                                     << want.size() << " bytes: " << code_str(r);
            got.append(buf.data(), (size_t)r);
        }
        if (got.size() < want.size())
            return ::testing::AssertionFailure()
                   << got.size() << " of " << want.size() << " bytes came back";
        if (got.size() > want.size())
            return ::testing::AssertionFailure() << got.size() - want.size() << " bytes too many";
        return same_bytes((const unsigned char *)want.data(), (const unsigned char *)got.data(),
                          want.size());
    }
    /* Send p (cut as planned) while `check` reads, from the start or (late_ms > 0) once
     * every send was made or late_ms passed; the sender's result is checked too. */
    template <class F> void exchange(const Plan &p, F check, int late_ms = 0)
    {
        Sender s(client_, p, seed_ + 1, pauses());
        for (double until = now_ms() + late_ms; now_ms() < until && !s.finished();)
            sleep_ms(5);
        auto r = check();
        if (!r)
            (void)sp_shutdown(client_, SP_SHUT_RDWR); /* the sender stops */
        int rc = s.join();
        EXPECT_TRUE(r) << p.payloads.size() << " messages, " << p.stream.size() << " bytes in "
                       << p.cuts.size() << " sends";
        if (r) {
            EXPECT_OK(rc) << "the client's sends";
        }
    }
    /* The server closes the connection, with nothing after the last reply. */
    void server_closes()
    {
        std::string rest;
        EXPECT_EQ(0, read_to_eof(client_, rest, 20000)) << "the server's close";
        EXPECT_EQ(0u, rest.size()) << "bytes after the last reply";
    }
    /* on_close ran once with `reason` (not looked at in the fork model, where on_close
     * runs in the child). */
    void closed_for(int reason)
    {
        if (forked())
            return;
        for (int i = 0; i < 2000 && g_closes.load() == 0; i++)
            sleep_ms(10);
        EXPECT_EQ(1, g_closes.load());
        EXPECT_STREQ(reason_name(reason), reason_name(g_close_reason.load()));
    }
    /* The client ends its side: the server closes too, as `reason` says. */
    void closes(int reason)
    {
        (void)sp_shutdown(client_, SP_SHUT_WR);
        server_closes();
        closed_for(reason);
    }

    uint32_t seed_ = 0;
    std::mt19937 rng_;
    sp_frame_decoder dec_;
    Sock client_;
};

class ServerSplit : public SplitBase
{
  protected:
    ServerSplit() : SplitBase(&echo_handler) {}
};

class ServerSplitRaw : public SplitBase
{
  protected:
    ServerSplitRaw() : SplitBase(&raw_handler) {}
};

/* ---- the properties ----------------------------------------------------------------- */

TEST_P(ServerSplit, AnySplit)
{
    SCOPED_TRACE("seed " + std::to_string(seed_));
    if (!up())
        return;
    Plan p;
    fill(p, 400, framer.max);
    cut_anywhere(rng_, framer, p);
    exchange(p, [&] { return echoes(p); });
    closes(SP_CLOSE_ORDERLY);
}

/* Bursts: 2..60 small messages and the start of the next one in one send, a pause, the
 * rest of it with the next burst. */
TEST_P(ServerSplit, Bursts)
{
    SCOPED_TRACE("seed " + std::to_string(seed_));
    if (!up())
        return;
    Plan p;
    const int bursts = 60 / slow_factor();
    for (int b = 0; b < bursts && p.stream.size() < budget(); b++) {
        size_t n = uniform(rng_, 2, 60);
        for (size_t i = 0; i < n; i++)
            p.add(framer, make_payload(rng_, fc(), framer,
                                       chance(rng_, 0.9) ? pick_size(rng_, framer, 64)
                                                         : pick_size(rng_, framer, framer.max)));
        size_t s = p.stream.size();
        p.add(framer, make_payload(rng_, fc(), framer, pick_size(rng_, framer, 300)));
        size_t len = p.stream.size() - s;
        p.cut(s + uniform(rng_, len > 1 ? 1 : 0, len > 1 ? len - 1 : 0)); /* inside it */
    }
    p.finish();
    exchange(p, [&] { return echoes(p); });
    closes(SP_CLOSE_ORDERLY);
}

/* A message over the framer's max (a bad inclusive length: below the prefix; a line
 * without its delimiter within max + delimiter bytes) after good ones, cut anywhere too. */
class ServerSplitOversize : public ServerSplit
{
};

TEST_P(ServerSplitOversize, Oversize)
{
    SCOPED_TRACE("seed " + std::to_string(seed_));
    /* the bad lengths the prefix can state: max + 1 (+ the prefix, inclusive), and for an
     * inclusive prefix one shorter than the prefix itself */
    const unsigned incl = (framer.flags & SP_FRAME_PREFIX_INCLUSIVE) ? framer.width : 0;
    std::vector<uint64_t> lengths;
    if (framer.kind == SP_FRAME_PREFIX &&
        (framer.width == 8 || framer.max + 1 + incl < (uint64_t)1 << (8 * framer.width)))
        lengths.push_back(framer.max + 1 + incl);
    if (incl > 0)
        lengths.push_back(uniform(rng_, 0, incl - 1));
    ASSERT_TRUE(framer.kind == SP_FRAME_DELIM || !lengths.empty()) << "no oversize length";
    /* half the time the client reads only once it sent all (or after 500 ms), the server's
     * send buffer small: the echoes wait in the server's output when the bad message
     * arrives */
    const bool late = chance(rng_, 0.5);
    if (late)
        g_server_sndbuf = 8192;
    if (!up())
        return;
    Plan p;
    fill(p, uniform(rng_, 0, 100), framer.max);
    std::string bad;
    if (framer.kind == SP_FRAME_DELIM) {
        bad.assign(framer.max + framer.width, fc().alphabet[0] == 'a' ? 'c' : 'z');
    } else {
        uint64_t v = lengths[uniform(rng_, 0, lengths.size() - 1)];
        for (unsigned i = 0; i < framer.width; i++)
            bad.push_back((char)(unsigned char)(v >> (8 * (framer.width - 1 - i))));
    }
    p.stream += bad; /* the last bytes: the server reads them all (a close with unread
                        input would be a reset, which may drop the echoes in flight) */
    cut_anywhere(rng_, framer, p);
    exchange(
        p, [&] { return echoes(p); }, late ? 500 : 0);
    server_closes();
    closed_for(SP_CLOSE_TOO_LARGE);
}

/* A stop while a message is cut, after good ones (echoed). Completed within the grace
 * period (half the runs): it is echoed, then the connection closes at once, long before
 * the period ends; else it closes at the end of the period, the part never delivered. */
TEST_P(ServerSplit, StopWhileCut)
{
    SCOPED_TRACE("seed " + std::to_string(seed_));
    const bool complete = chance(rng_, 0.5);
    const int grace = complete ? 4000 : 300;
    cfg.grace_ms = grace;
    if (!up())
        return;
    Plan p;
    fill(p, uniform(rng_, 0, 20), framer.max);
    cut_anywhere(rng_, framer, p);
    std::string last, w;
    while (w.size() < 2) { /* a message that can be cut */
        last = make_payload(rng_, fc(), framer, pick_size(rng_, framer, framer.max));
        w = frame_wire(framer, last);
    }
    size_t part = uniform(rng_, 1, w.size() - 1);
    p.stream += w.substr(0, part);
    if (p.cuts.empty())
        p.cuts.push_back(0);
    p.cuts.back() = p.stream.size(); /* the cut part with the last piece */
    exchange(p, [&] { return echoes(p); });
    if (HasFailure())
        return;
    sleep_ms(20); /* the cut part arrived */
    const double t0 = now_ms();
    ASSERT_OK(sp_server_stop(srv));
    if (complete) {
        sleep_ms(50);
        size_t done = 0;
        ASSERT_OK(sp_send_all(client_, w.data() + part, w.size() - part, 5000, &done));
        Plan one;
        one.payloads.push_back(last);
        EXPECT_TRUE(echoes(one)) << "the message completed in the grace period";
    }
    server_closes();
    running = false;
    EXPECT_OK(sp_server_wait(srv));
    const double took = now_ms() - t0;
    EXPECT_EQ(0, sp_server_connections(srv));
    if (complete) {
        EXPECT_LT(took, grace - 1000) << "closed once the message was done, before the period";
    } else {
        EXPECT_GE(took, grace - 20) << "the cut message had grace_ms";
    }
    EXPECT_LT(took, grace + 5000.0 * slow_factor());
    closed_for(SP_CLOSE_STOPPING);
}

/* on_data gives back a random tail of each chunk (delimited framers: any tail is the
 * start of a line); the reply stream is the request stream. */
class ServerSplitUnread : public ServerSplitRaw
{
};

TEST_P(ServerSplitUnread, Unread)
{
    SCOPED_TRACE("seed " + std::to_string(seed_));
    g_mode = MODE_UNREAD;
    if (!up())
        return;
    g_delim.assign((const char *)framer.delim, framer.width);
    g_ctx.clear();
    Plan p;
    fill(p, 400, framer.max / 4);
    cut_anywhere(rng_, framer, p);
    exchange(p, [&] { return raw_back(p.stream); });
    closes(SP_CLOSE_ORDERLY);
}

/* A header "B<n>" announces n raw bytes (any bytes: a header's look-alikes too); the
 * bytes after the body are framed again, however the reads cut them. */
TEST_P(ServerSplitRaw, RawBody)
{
    SCOPED_TRACE("seed " + std::to_string(seed_));
    g_mode = MODE_BODY;
    if (!up())
        return;
    Plan p;
    while (p.payloads.size() < 300 && p.stream.size() < budget()) {
        if (!chance(rng_, 0.4)) {
            std::string m = make_payload(rng_, fc(), framer, pick_size(rng_, framer, 2000));
            if (!m.empty() && m[0] == 'B')
                m[0] = 'x'; /* in no delimiter */
            p.add(framer, m);
            continue;
        }
        size_t n = chance(rng_, 0.5)   ? uniform(rng_, 1, 64)
                   : chance(rng_, 0.5) ? uniform(rng_, 1, 100000)
                                       : kBlockingRead + uniform(rng_, 0, 20) - 10;
        std::string h = "B" + std::to_string(n);
        if (framer.kind == SP_FRAME_FIXED) {
            if (h.size() > framer.max)
                h = "B1";
            h += std::string(framer.max - h.size(), ' '); /* strtoul stops there */
        }
        p.add(framer, h);
        p.stream += make_payload(rng_, FramerCase{"", SP_FRAME_PREFIX, 0, 0, 0, nullptr, nullptr},
                                 framer, std::strtoul(h.c_str() + 1, nullptr, 10));
    }
    cut_anywhere(rng_, framer, p);
    exchange(p, [&] { return raw_back(p.stream); });
    closes(SP_CLOSE_ORDERLY);
}

INSTANTIATE_TEST_SUITE_P(Framers, ServerSplit, ::testing::ValuesIn(split_params(any_framer)),
                         split_param_name);
INSTANTIATE_TEST_SUITE_P(Framers, ServerSplitOversize,
                         ::testing::ValuesIn(split_params(has_oversize)), split_param_name);
INSTANTIATE_TEST_SUITE_P(Framers, ServerSplitRaw, ::testing::ValuesIn(split_params(any_framer)),
                         split_param_name);
/* a tail given back mid-message is framed again only by a delimiter */
INSTANTIATE_TEST_SUITE_P(Framers, ServerSplitUnread, ::testing::ValuesIn(split_params(delimited)),
                         split_param_name);

} // namespace
