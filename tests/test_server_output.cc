/*
 * test_server_output.cc - the server's output side (issue #13, #14): a stop bounded by
 * grace_ms whatever the clients do, with every connection closed (SP_CLOSE_STOPPING) and
 * no socket left; the send deadlines (send_timeout_ms: progress; reply_timeout_ms: the
 * whole reply), the same in every model; raw writes beside framed sends; raw input after
 * a head and back; gathered sends; streaming through on_drain with bounded memory; the
 * blocking models gathering the replies to one read. Every model the OS has.
 */
#include "output_fixture.h"

#include <sockport.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

using namespace sptest;
using namespace sptest::fp;

namespace
{

/* the models this OS has, named: os_models() and model_param_name() (server_fixture.h) */

/* Record kinds of the event log (a fork model's child reports through it too). */
enum { R_OPEN = 1, R_CLOSE, R_RESULT, R_QUEUED, R_CALL };

EventLog *g_log;
const size_t kBig = (size_t)20 << 20; /* a download: 20 MiB */
const size_t kChunk = (size_t)64 << 10;
std::vector<unsigned char> *g_big;

void h_open(sp_conn *)
{
    g_log->add(R_OPEN, 0, 0, 0);
}

void h_close(sp_conn *c, int reason, int error)
{
    g_log->add(R_CLOSE, 0, reason, error);
    delete (std::string *)sp_conn_user(c);
}

int count(const std::vector<Rec> &v, int kind)
{
    return count_recs(v, kind);
}

int count(const std::vector<Rec> &v, int kind, int a)
{
    return count_recs(v, kind, REC_A, a);
}

/* The time (the log's, Rec::at) of the first record of this kind, or -1. */
double first_at(const std::vector<Rec> &v, int kind)
{
    for (const auto &r : v)
        if (r.kind == kind)
            return r.at;
    return -1;
}

/* When the first reply of a "get" or "stream" request began to count for
 * reply_timeout_ms ("this long after the call that made it", server.h), on the handler's
 * clock: the return of its write when that queued the reply (0: the event model, which
 * marks the reply once queued: under load, queueing 20 MiB took 300-500 ms), else the
 * write's call (a blocking model's write returns with the cut). -1 when not logged. */
double reply_began(const std::vector<Rec> &v)
{
    for (const auto &r : v)
        if (r.kind == R_RESULT)
            return r.a == 0 ? r.at : first_at(v, R_CALL);
    return -1;
}

/* "get\n": 20 MiB in one reply; "get N\n": its first N bytes in one reply; "stream\n":
 * 20 MiB through on_drain. */
int dl_message(sp_conn *c, const void *msg, size_t len)
{
    std::string m((const char *)msg, len);
    if (m == "get" || m.compare(0, 4, "get ") == 0) {
        size_t n =
            m == "get" ? g_big->size() : std::min(g_big->size(), (size_t)std::stoull(m.substr(4)));
        g_log->add(R_CALL, 0, 0, 0); /* when the reply's call began (reply_began) */
        int rc = sp_conn_write(c, g_big->data(), n);
        g_log->add(R_RESULT, 0, rc, 0); /* the reply is the server's: queued or sent */
        return rc;
    }
    if (m == "stream") {
        sp_conn_set_user(c, new std::string("0")); /* the next chunk's offset, as text */
        g_log->add(R_CALL, 0, 0, 0);
        int rc = sp_conn_write(c, g_big->data(), kChunk);
        g_log->add(R_RESULT, 0, rc, 0);
        *(std::string *)sp_conn_user(c) = std::to_string(kChunk);
        return rc != 0 ? rc : sp_conn_want_drain(c);
    }
    return sp_conn_send(c, msg, len);
}

int g_sndbuf;        /* the send buffer small_sndbuf_open gives (4096 unless a test says) */
size_t g_max_queued; /* the most queued after a chunk (one process: see the test) */

void dl_drain(sp_conn *c)
{
    std::string *st = (std::string *)sp_conn_user(c);
    size_t off = std::stoull(*st);
    size_t n = std::min(kChunk, kBig - off);
    if (n == 0)
        return;
    if (sp_conn_write(c, g_big->data() + off, n) != 0)
        return;
    g_max_queued = std::max(g_max_queued, sp_conn_queued(c));
    *st = std::to_string(off + n);
    if (off + n < kBig)
        sp_conn_want_drain(c);
    else
        g_log->add(R_QUEUED, 0, (int)(g_max_queued >> 10), 0);
}

const sp_server_handler kDownload = {h_open, dl_message, nullptr, h_close, dl_drain};

/* A server socket with a fixed send buffer (SO_SNDBUF set: Linux no longer grows it). A
 * small one makes a slowly reading client's progress show every few hundred ms (the
 * kernel takes a little of a queued reply) instead of once a few MiB have gone. */
void small_sndbuf_open(sp_conn *c)
{
    g_log->add(R_OPEN, 0, sp_set_send_buffer(sp_conn_socket(c), g_sndbuf), 0);
}

const sp_server_handler kTrickle = {small_sndbuf_open, dl_message, nullptr, h_close, dl_drain};

class ServerOutput : public OutputFixture, public ::testing::WithParamInterface<int>
{
  protected:
    void SetUp() override
    {
        set_up(GetParam());
        if (IsSkipped())
            return;
        g_log = &log_;
        if (g_big == nullptr) {
            g_big = new std::vector<unsigned char>(make_pattern(kBig));
        }
        g_max_queued = 0;
        g_sndbuf = 4096;
        sp_framer_delim(&heads_, "\r\n\r\n", 4, 4096);
    }
    /* A kTrickle server (its sockets' send buffer g_sndbuf) with these send deadlines. */
    void start_trickle(int send_timeout_ms, int reply_timeout_ms = 0)
    {
        sp_server_config cfg;
        sp_server_config_init(&cfg);
        cfg.handler = &kTrickle;
        cfg.framer = &lines_;
        cfg.send_timeout_ms = send_timeout_ms;
        cfg.reply_timeout_ms = reply_timeout_ms;
        start(cfg);
    }

    sp_framer heads_;
};

/* Issue #13 defects 1 and 2: stop while 8 clients download 20 MiB slowly. The run ends
 * within grace_ms plus a small bound, every on_close ran with SP_CLOSE_STOPPING, no
 * connection is counted and no descriptor is left after destroy. */
TEST_P(ServerOutput, StopWithSlowDownloadersIsBoundedAndClosesEverything)
{
    /* under valgrind every forked child runs under memcheck too, far slower than the 500 ms
     * grace this test bounds the stop by: their on_close reports did not arrive in time
     * (0 of 8). The plain and sanitizer builds run it; valgrind runs the other models. */
    if (GetParam() == SP_MODEL_FORK && is_valgrind())
        GTEST_SKIP() << "fork model under valgrind: the children are too slow for a 500 ms grace";
    const int kClients = 8, kGrace = 500;
    {
        /* one server and one client first: what the process opens once on first use
         * is not counted as left behind */
        EventLog warm;
        g_log = &warm;
        start(&kDownload, &lines_);
        Sock c;
        connect(c);
        send_text(c, "ping\n");
        EXPECT_EQ("ping\n", recv_n(c, 5));
        finish();
        g_log = &log_;
    }
    const int fds0 = count_fds();
    {
        sp_server_config cfg;
        sp_server_config_init(&cfg);
        cfg.handler = &kDownload;
        cfg.framer = &lines_;
        cfg.grace_ms = kGrace;
        start(cfg);
        std::vector<Sock> cs(kClients);
        std::atomic<bool> quit{false};
        std::atomic<long long> got{0};
        std::vector<std::thread> readers;
        for (auto &c : cs) {
            connect(c, 8192);
            send_text(c, "get\n");
        }
        for (auto &c : cs) /* a slow reader each: 4 KiB every 20 ms */
            readers.emplace_back([&, s = c.get()] {
                char buf[4096];
                while (!quit) {
                    ptrdiff_t r = sp_recv(s, buf, sizeof buf);
                    if (r <= 0)
                        return;
                    got += r;
                    sleep_ms(20);
                }
            });
        /* the waits before the stop are not what this test bounds: generous (late_slack).
         * Under TSan beside the thousand-client test (ctest -j2), the opens took 3.4 s and
         * the eight 20 MiB replies 9.4 s: the CI's 10 s wait saw 5 of them. */
        EXPECT_EQ(
            kClients,
            count(log_.wait([&](const std::vector<Rec> &v) { return count(v, R_OPEN) == kClients; },
                            (int)late_slack(5000)),
                  R_OPEN))
            << "on_open calls";
        if (GetParam() == SP_MODEL_EVENTS) {
            /* every request handled before the stop (sp_conn_write returns once the reply
             * is queued): under TSan each handler's copy of its 20 MiB reply took about
             * 85 ms, and a stop that came while the loop still ran them waited for the rest
             * of that pass (389-868 ms in 9 of 10 runs; the CI's 2,188 ms stop was the
             * test's own requests). The blocking models' handlers stay in their send. */
            auto v =
                log_.wait([&](const std::vector<Rec> &r) { return count(r, R_RESULT) == kClients; },
                          (int)late_slack(10000));
            std::string codes; /* not ASSERT: the readers must be joined */
            for (const auto &r : v)
                if (r.kind == R_RESULT)
                    codes += " " + code_str(r.a);
            EXPECT_EQ(kClients, count(v, R_RESULT, 0)) << "the downloads' sp_conn_write:" << codes;
        }
        while (got < kClients * 16384)
            sleep_ms(10);
        const double t0 = now_ms();
        ASSERT_OK(sp_server_stop(srv_));
        int rc;
        {
            /* without the fix the run never ends: end the clients so that the test fails */
            Watchdog dog(10000, [&] {
                for (auto &c : cs)
                    sp_shutdown(c, SP_SHUT_RDWR);
            });
            rc = sp_server_wait(srv_);
        }
        const double took = now_ms() - t0;
        EXPECT_OK(rc);
        EXPECT_LE(took, kGrace + late_slack(1500)) << "the stop took " << took << " ms";
        EXPECT_EQ(0, sp_server_connections(srv_));
        auto v = log_.wait([&](const std::vector<Rec> &r) { return count(r, R_CLOSE) == kClients; },
                           3000);
        EXPECT_EQ(kClients, count(v, R_CLOSE)) << "on_close calls";
        EXPECT_EQ(kClients, count(v, R_CLOSE, SP_CLOSE_STOPPING)) << "with SP_CLOSE_STOPPING";
        quit = true;
        for (auto &c : cs)
            sp_shutdown(c, SP_SHUT_RDWR);
        for (auto &t : readers)
            t.join();
        sp_server_destroy(srv_);
        srv_ = nullptr;
    }
    if (is_wine()) {
        /* Wine 8 has no GetProcessHandleCount (0): count_fds enumerates handle values,
         * which also counts handles Wine keeps for its own (seen: 14 before, 18 after);
         * the sockets' closing is checked by the clients' end and on_close above */
        note_wine("handle count not comparable: " + std::to_string(fds0) + " before, " +
                  std::to_string(count_fds()) + " after");
    } else if (fds0 >= 0) {
        EXPECT_EQ(fds0, count_fds()) << "descriptors (sockets) left after destroy";
    }
}

/* ---- the send deadlines: send_timeout_ms (progress), reply_timeout_ms (whole reply) ---- */

/* A client that never reads: send_timeout_ms alone (reply_timeout_ms unset) closes it
 * (SP_CLOSE_ERROR / SP_ETIMEDOUT) in every model, neither before the timeout nor much
 * after it (the event model looks every quarter of it); the idle timeout does too while a
 * reply is blocked (it is the progress timeout when shorter). */
TEST_P(ServerOutput, NeverReadingClientIsClosedBySendTimeoutAndIdle)
{
    const int kLimit = 300;
    for (int round = 0; round < 2; round++) {
        EventLog log; /* this round's */
        g_log = &log;
        sp_server_config cfg;
        sp_server_config_init(&cfg);
        cfg.handler = &kDownload;
        cfg.framer = &lines_;
        if (round == 0)
            cfg.send_timeout_ms = kLimit;
        else
            cfg.idle_timeout_ms = kLimit; /* send_timeout_ms: the default 30 s */
        start(cfg);
        Sock c;
        connect(c, 8192);
        const Cut cut = request_until_closed(c, "get\n", log, R_CLOSE, 5000);
        const double took = cut.took;
        ASSERT_TRUE(closed_by_timeout(cut.v, R_CLOSE))
            << "round " << round << ", " << took << " ms";
        EXPECT_GE(took, (double)kLimit) << "round " << round << ": closed before the timeout";
        EXPECT_LE(took, late_slack(kLimit + kLimit / 4 + 300.0)) << "round " << round;
        std::printf("round %d: closed after %.0f ms\n", round, took);
        finish();
    }
}

/* reply_timeout_ms is checked like the other fields: below -1 is SP_EINVAL; -1, 0 and a
 * positive count are taken. */
TEST_P(ServerOutput, ReplyTimeoutBelowMinusOneIsRefused)
{
    for (int ms : {-2, INT_MIN, -1, 0, 600}) {
        sp_server_config cfg;
        sp_server_config_init(&cfg);
        cfg.model = GetParam();
        cfg.handler = &kDownload;
        cfg.framer = &lines_;
        cfg.reply_timeout_ms = ms;
        sp_server *s = nullptr;
        int rc = sp_server_create(&s, &cfg);
        if (ms < -1) {
            EXPECT_SP(SP_EINVAL, rc) << ms;
            EXPECT_EQ(nullptr, s);
        } else {
            EXPECT_SP(0, rc) << ms;
        }
        sp_server_destroy(s);
    }
}

/* The slow-read defence: a client that takes 2 KiB every 50 ms (so that the peer never
 * stalls the send for send_timeout_ms: some of the reply leaves every few ms) is cut by
 * reply_timeout_ms, however much it takes meanwhile: SP_CLOSE_ERROR / SP_ETIMEDOUT within
 * the deadline plus a quarter of it and a bound, never earlier, in every model (the
 * blocking models once restarted their only deadline with every byte, and the event
 * model's was this one). Round 0 is one 20 MiB reply, round 1 the same streamed through
 * on_drain in 64 KiB chunks, each chunk a reply of its own that the reader cannot take
 * within the deadline either. */
TEST_P(ServerOutput, TricklingReaderIsClosedByReplyTimeout)
{
    const int kSend = 300, kReply = 600, kBound = 300, kStep = 50, kRead = 2048;
    for (int round = 0; round < 2; round++) {
        /* The premise: the reader keeps taking bytes, so that only reply_timeout_ms can cut
         * it. Beside 80 busy loops on 2 cores the reader once read once in 468 ms, and the
         * connection closed 430 ms after the reply's write, before the reply deadline
         * (send_timeout_ms rightly cut a reader that took nothing for kSend); beside 200 it
         * also read at a third of its pace (what expect_kept_reading asks is half). A try
         * whose reader was out of its reads for half of kSend or more before the close
         * (three times its step; 50-54 ms on a quiet host) proves nothing: tried again, up
         * to 5 times. Only the reader's own time out of sp_recv excuses a try: a reader
         * that reads slowly because the server stalls its sends (the reader waits inside
         * sp_recv) is not excused, and expect_kept_reading fails it. */
        std::string starved;
        bool done = false;
        for (int attempt = 0; attempt < 5 && !done; attempt++) {
            EventLog log; /* this try's */
            g_log = &log;
            start_trickle(kSend, kReply);
            Sock c;
            connect(c, 4096);
            const Cut cut = request_until_closed(c, round == 0 ? "get\n" : "stream\n", log, R_CLOSE,
                                                 kReply + kBound + 5000, kRead, kStep);
            const double took = cut.took;
            ASSERT_EQ(1, count(cut.v, R_OPEN, 0)) << "sp_set_send_buffer, round " << round;
            ASSERT_TRUE(closed_by_timeout(cut.v, R_CLOSE))
                << "round " << round << ", " << took << " ms after the request (" << cut.reads
                << " reads, " << cut.got << " bytes so far)";
            if (cut.max_gap >= 0.5 * kSend) {
                starved += " " + std::to_string((int)cut.max_gap) + " (" +
                           std::to_string(cut.reads) + " reads)";
                std::printf("round %d, try %d: closed after %.0f ms, the reader out of its "
                            "reads for %.0f ms at most, %d reads (starved by the host): tried "
                            "again\n",
                            round, attempt, took, cut.max_gap, cut.reads);
                finish();
                continue;
            }
            done = true;
            EXPECT_GE(took, (double)kReply) << "round " << round << ": closed before the deadline";
            /* Late: bounded from when the deadline began (the reply's call, reply_began) to
             * on_close, both on the server's side. The request's way to the server, the
             * event model's queueing of 20 MiB and the test thread's wake-up to see the
             * close are not the deadline's: counted from the request (`took`), the bound of
             * 1050 ms was overshot at load 40-220 (1054 ms, events), and round 0 took
             * 1094-1262 ms beside 80 busy loops while its close came 657-715 ms after the
             * reply's write. Beside 200 busy loops the server's own time reached 1104 ms:
             * the server's loop wakes as late as the host wakes the reader, so the bound
             * adds how late the reader's 50 ms sleeps ended (its longest gap less its step:
             * a few ms on a quiet host, under kSend / 2 - kStep here). */
            const double began = reply_began(cut.v), cut_at = first_at(cut.v, R_CLOSE) - began;
            const double host_late = std::max(0.0, cut.max_gap - kStep);
            ASSERT_GE(began, 0) << "round " << round << ": the reply's write was not logged";
            EXPECT_LE(cut_at, late_slack(kReply + kReply / 4 + (double)kBound) + host_late)
                << "round " << round << ": closed " << cut_at << " ms after the reply's write";
            std::printf("round %d: closed %.0f ms after the reply's write (the reader's "
                        "longest gap %.0f ms)\n",
                        round, cut_at, cut.max_gap);
            /* the premise (checked above): printed */
            expect_kept_reading(cut, kStep, "round " + std::to_string(round) + ": ");
            finish();
        }
        if (!done)
            GTEST_SKIP() << "round " << round << ": the host starved the reader in every try "
                         << "(its longest gaps, ms:" << starved << ")";
    }
}

/* The same trickling reader without reply_timeout_ms: send_timeout_ms is a progress
 * timeout in every model, so a peer that keeps taking bytes is not cut, for several times
 * the timeout (the reply_timeout_ms above is what bounds it). */
TEST_P(ServerOutput, TricklingReaderIsNotCutBySendTimeoutAlone)
{
    const int kSend = 300, kRun = 5 * kSend, kStep = 50, kRead = 2048;
    start_trickle(kSend);
    Sock c;
    connect(c, 4096);
    send_text(c, "get\n");
    std::vector<Rec> v;
    const long long got = read_for(c, kRead, kStep, kRun, &v);
    EXPECT_EQ(0, count(v, R_CLOSE))
        << "closed while the reader took " << got << " bytes in " << kRun << " ms";
    EXPECT_GT(got, (long long)(kRun / kStep) * kRead / 2) << "the reader kept taking bytes";
    EXPECT_LT(got, (long long)kBig);
}

/* The defect this rule fixes (issue #13 follow-up): a steady reader of one big reply that
 * takes 64 KiB every 50 ms (about 1.3 MB/s), so that the 4 MiB reply lasts more than three
 * times send_timeout_ms, gets every byte: bytes flow all the time (the event model cut
 * it after send_timeout_ms, counted from the reply's queueing). */
TEST_P(ServerOutput, SteadySlowReaderOfABigReplyIsNotCut)
{
    const int kSend = 300;
    const size_t kReply = (size_t)4 << 20;
    g_sndbuf = 65536;
    start_trickle(kSend);
    steady_reader_is_not_cut("get " + std::to_string(kReply) + "\n", g_big->data(), kReply, kSend,
                             R_CLOSE, "4 MiB reply");
}

/* With both deadlines off (send_timeout_ms -1, reply_timeout_ms 0), a client that takes
 * nothing for 1.5 s is not cut in any model, then reads the whole reply. */
TEST_P(ServerOutput, NoDeadlineNeverCuts)
{
    const size_t kReply = (size_t)2 << 20;
    start_trickle(-1, 0);
    Sock c;
    connect(c, 8192);
    send_text(c, "get " + std::to_string(kReply) + "\n");
    sleep_ms(1500);
    EXPECT_EQ(0, count(log_.snapshot(), R_CLOSE)) << "closed while stalled";
    std::string got = recv_n(c, kReply);
    ASSERT_EQ(kReply, got.size());
    EXPECT_TRUE(same_bytes(g_big->data(), (const unsigned char *)got.data(), kReply));
    EXPECT_EQ(0, count(log_.snapshot(), R_CLOSE));
}

/* A stream to a client that stops reading, with 64 KiB chunks and a send buffer several
 * times bigger: the kernel takes each chunk whole until it has no room left for a writable
 * event (a third of the buffer), so nothing is queued while on_drain waits for room (the
 * blocking models block in the next chunk's send). The progress timeout runs while it
 * waits: the connection closes within send_timeout_ms plus a bound in every model (issue
 * #13: the event model kept such a connection until the reader came back; the blocking
 * models once retried the send after the wait timed out, and the 2 KiB the kernel took
 * below its writable mark then restarted the wait: closed after twice the timeout). */
TEST_P(ServerOutput, StalledStreamIsClosedBySendTimeout)
{
    const int kLimit = 1000, kBound = 1500;
    g_sndbuf = 256 << 10;
    start_trickle(kLimit);
    Sock c;
    connect(c, 4096);
    const Cut cut = request_until_closed(c, "stream\n", log_, R_CLOSE, kLimit + kBound + 3000);
    const double took = cut.took;
    ASSERT_TRUE(closed_by_timeout(cut.v, R_CLOSE)) << took << " ms after the request";
    EXPECT_GE(took, (double)kLimit);
    EXPECT_LE(took, late_slack(kLimit + (double)kBound));
    std::printf("closed after %.0f ms\n", took);
}

/* A reader that takes each 64 KiB chunk of a stream well within send_timeout_ms (about
 * 320 KB/s) is never cut, although the queue never empties for longer than the timeout. */
TEST_P(ServerOutput, SteadyReaderOfAStreamIsNotCutBySendTimeout)
{
    const int kLimit = 2000, kRun = 2 * kLimit + 500, kStep = 50, kRead = 16384;
    start_trickle(kLimit);
    Sock c;
    connect(c);
    send_text(c, "stream\n");
    std::vector<Rec> v;
    const long long got = read_for(c, kRead, kStep, kRun, &v);
    EXPECT_EQ(0, count(v, R_CLOSE))
        << "closed while the reader kept up (" << got << " bytes read in " << kRun << " ms)";
    /* the stream was still going: not finished, and more than a few chunks gone */
    EXPECT_LT(got, (long long)kBig);
    EXPECT_GT(got, (long long)(4 * kChunk));
    std::printf("read %lld bytes in %d ms\n", got, kRun);
}

/* ---- raw writes, raw input, gathered sends ------------------------------------------- */

/* Heads end with "\r\n\r\n". "LEN n" then n raw bytes: replied "got:<bytes>" raw;
 * "PING": "PONG" framed; "DELIM": sp_conn_send of a message holding the delimiter (refused)
 * and a gathered one across parts (refused), then the same bytes written raw;
 * "V": a framed message of three parts. */
int http_message(sp_conn *c, const void *msg, size_t len)
{
    std::string m((const char *)msg, len);
    if (m.compare(0, 4, "LEN ") == 0) {
        sp_conn_set_user(c, new std::string(m.substr(4) + ":"));
        return sp_conn_set_raw(c, 1);
    }
    if (m == "PING")
        return sp_conn_send(c, "PONG", 4);
    if (m == "DELIM") {
        const char *reply = "HTTP/1.0 200 OK\r\n\r\nbody";
        g_log->add(R_RESULT, 0, sp_conn_send(c, reply, std::strlen(reply)), 0);
        sp_iovec p[2] = {sp_iovec_make("ab\r\n", 4), sp_iovec_make("\r\ncd", 4)};
        g_log->add(R_RESULT, 1, sp_conn_sendv(c, p, 2), 0);
        return sp_conn_write(c, reply, std::strlen(reply));
    }
    if (m == "V") {
        sp_iovec p[3] = {sp_iovec_make("one,", 4), sp_iovec_make("two,", 4),
                         sp_iovec_make("three", 5)};
        return sp_conn_sendv(c, p, 3);
    }
    return -1;
}

int http_data(sp_conn *c, const void *data, size_t len)
{
    std::string *st = (std::string *)sp_conn_user(c); /* "n:" + the body so far */
    st->append((const char *)data, len);
    size_t colon = st->find(':');
    size_t want = std::stoull(st->substr(0, colon));
    if (st->size() - colon - 1 < want)
        return 0;
    std::string body = st->substr(colon + 1);
    int rc = sp_conn_write(c, ("got:" + body).data(), 4 + body.size());
    delete st;
    sp_conn_set_user(c, nullptr);
    sp_conn_set_raw(c, 0);
    return rc;
}

const sp_server_handler kHttp = {h_open, http_message, http_data, h_close, nullptr};

TEST_P(ServerOutput, RawWritesAndRawInputAfterAHeadOnADelimitedConnection)
{
    start(&kHttp, &heads_);
    Sock c;
    connect(c);
    /* raw writes holding the delimiter */
    send_text(c, "DELIM\r\n\r\n");
    EXPECT_EQ("HTTP/1.0 200 OK\r\n\r\nbody", recv_n(c, 23));
    /* head and body in one send: the body is in the decoder after the head */
    send_text(c, "LEN 10\r\n\r\n0123\r\n\r\n89");
    EXPECT_EQ("got:0123\r\n\r\n89", recv_n(c, 14));
    /* framed again, then a body in two pieces */
    send_text(c, "PING\r\n\r\n");
    EXPECT_EQ("PONG\r\n\r\n", recv_n(c, 8));
    send_text(c, "LEN 6\r\n\r\nab");
    sleep_ms(50);
    send_text(c, "cdef");
    EXPECT_EQ("got:abcdef", recv_n(c, 10));
    send_text(c, "V\r\n\r\n");
    EXPECT_EQ("one,two,three\r\n\r\n", recv_n(c, 17));
    auto v = log_.wait([&](const std::vector<Rec> &r) { return count(r, R_RESULT) == 2; }, 3000);
    ASSERT_EQ(2, count(v, R_RESULT));
    for (const auto &r : v)
        if (r.kind == R_RESULT) {
            EXPECT_SP(SP_EINVAL, r.a) << (r.port == 0 ? "send" : "sendv across parts");
        }
}

/* sp_conn_sendv with a length prefix: one frame around every part. */
int prefix_message(sp_conn *c, const void *msg, size_t len)
{
    sp_iovec p[3] = {sp_iovec_make("<", 1), sp_iovec_make(msg, len), sp_iovec_make(">", 1)};
    return sp_conn_sendv(c, p, 3);
}
const sp_server_handler kPrefix = {nullptr, prefix_message, nullptr, nullptr, nullptr};

TEST_P(ServerOutput, SendvIsOneFrame)
{
    sp_framer f;
    sp_framer_prefix(&f, 2, 0, 1000);
    start(&kPrefix, &f);
    Sock c;
    connect(c);
    send_text(c, std::string("\0\3abc", 5));
    EXPECT_EQ(std::string("\0\5<abc>", 7), recv_n(c, 7));
}

/* 20 MiB streamed through on_drain to a slow reader: every byte arrives in order, and
 * the server's queue never holds more than the low-water mark plus one chunk. */
TEST_P(ServerOutput, StreamThroughOnDrainKeepsTheQueueBounded)
{
    start(&kDownload, &lines_);
    Sock c;
    connect(c, 65536);
    send_text(c, "stream\n");
    std::vector<unsigned char> got(kBig);
    size_t have = 0;
    int reads = 0;
    while (have < kBig) {
        ptrdiff_t r = sp_recv(c, got.data() + have, std::min<size_t>(kBig - have, 262144));
        ASSERT_GT(r, 0) << "after " << have << " bytes";
        have += (size_t)r;
        if (++reads % 16 == 0)
            sleep_ms(1); /* slower than the server */
    }
    EXPECT_TRUE(same_bytes(g_big->data(), got.data(), kBig));
    auto v = log_.wait([&](const std::vector<Rec> &r) { return count(r, R_QUEUED) == 1; }, 3000);
    ASSERT_EQ(1, count(v, R_QUEUED));
    for (const auto &r : v)
        if (r.kind == R_QUEUED) {
            EXPECT_LE((size_t)r.a << 10, ((size_t)64 << 10) + kChunk) << "KiB queued at most";
        }
}

/* Issue #14: the replies to the messages of one read gather (sp_conn_queued sees the
 * earlier ones while the last is handled) and leave in one send, in every model. */
int gather_message(sp_conn *c, const void *msg, size_t len)
{
    if (len == 3 && std::memcmp(msg, "end", 3) == 0)
        g_log->add(R_QUEUED, 0, (int)sp_conn_queued(c), 0);
    return sp_conn_send(c, msg, len);
}
const sp_server_handler kGather = {nullptr, gather_message, nullptr, nullptr, nullptr};

TEST_P(ServerOutput, RepliesToOneReadGather)
{
    start(&kGather, &lines_);
    Sock c;
    connect(c);
    std::string batch;
    for (int i = 0; i < 15; i++)
        batch += "msg" + std::to_string(i % 10) + "\n"; /* 5 bytes framed */
    batch += "end\n";
    send_text(c, batch);
    EXPECT_EQ(batch, recv_n(c, batch.size()));
    auto v = log_.wait([&](const std::vector<Rec> &r) { return count(r, R_QUEUED) == 1; }, 3000);
    ASSERT_EQ(1, count(v, R_QUEUED));
    for (const auto &r : v)
        if (r.kind == R_QUEUED) {
            EXPECT_EQ(15 * 5, r.a) << "bytes gathered before the last reply";
        }
}

INSTANTIATE_TEST_SUITE_P(Models, ServerOutput, ::testing::ValuesIn(os_models()), model_param_name);

} // namespace
