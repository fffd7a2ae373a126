/*
 * test_server_brecv.cc - the thread model blocks in recv itself between messages (POSIX:
 * no poll before each recv, issue 14), and everything that used to interrupt its poll
 * still interrupts it: the stop (every idle connection closes at once, SP_CLOSE_STOPPING,
 * while one in the middle of a message keeps its grace period), the idle timeout (now
 * SO_RCVTIMEO plus a short poll), a connection's timer, and sp_conn_close() from another
 * thread, also from one that took its hold while the connection was already blocked.
 * Every model this OS has runs what applies to it: the rules are the same in each; the
 * fork model's children cannot report their on_close here, so those tests look at what
 * the clients see.
 */
#include "server_fixture.h"

#include <sockport.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#ifndef _WIN32
#    include <unistd.h> /* getpid */
#endif

using namespace sptest;

namespace
{

struct Records {
    std::atomic<int> closes{0};
    std::atomic<int> reasons[6] = {};
    std::mutex lock;              /* guards last_open, open */
    sp_conn *last_open = nullptr; /* the connection opened last, while it is open */
    std::vector<std::thread> workers;
};

Records *g_rec;

void on_tick(sp_timer *, void *arg)
{
    (void)sp_conn_send((sp_conn *)arg, "tick", 4);
}

int on_message(sp_conn *c, const void *msg, size_t len)
{
    std::string m((const char *)msg, len);
    if (m.rfind("timer ", 0) == 0) { /* "timer MS": "tick" MS from now, "ok" at once */
        int rc = sp_conn_timer(c, nullptr, std::atoi(m.c_str() + 6), 0, on_tick, c);
        return rc != 0 ? rc : sp_conn_send(c, "ok", 2);
    }
    if (m.rfind("close-later ", 0) == 0) { /* a worker closes it MS from now */
        int ms = std::atoi(m.c_str() + 12);
        sp_conn_hold(c);
        std::lock_guard<std::mutex> g(g_rec->lock);
        g_rec->workers.emplace_back([c, ms] {
            sleep_ms(ms);
            sp_conn_close(c);
            sp_conn_release(c);
        });
        return sp_conn_send(c, "ok", 2);
    }
    return sp_conn_send(c, msg, len);
}

void on_open(sp_conn *c)
{
    std::lock_guard<std::mutex> g(g_rec->lock);
    g_rec->last_open = c;
}

void on_close(sp_conn *c, int reason, int)
{
    {
        std::lock_guard<std::mutex> g(g_rec->lock);
        if (g_rec->last_open == c)
            g_rec->last_open = nullptr;
    }
    if (reason >= 0 && reason < 6)
        g_rec->reasons[reason]++;
    g_rec->closes++;
}

const sp_server_handler handler = {on_open, on_message, nullptr, on_close, nullptr};

class ServerBrecv : public ServerFixture, public ::testing::WithParamInterface<int>
{
  protected:
    ServerBrecv() : ServerFixture(&handler, GetParam(), 20000) {}
    void TearDown() override
    {
        /* the workers first: each releases its hold, which must come before
         * sp_server_destroy (server.h; TSan saw a worker's last release read the server
         * that the fixture's destroy freed, the worker not joined) */
        std::vector<std::thread> w;
        {
            std::lock_guard<std::mutex> g(rec_.lock);
            w.swap(rec_.workers);
        }
        for (auto &t : w)
            t.join();
        ServerFixture::TearDown();
    }
    /* one framed message out; one in (empty string on failure, rc < 0 then, or 0 at EOF) */
    bool send(sp_socket_t s, const std::string &m)
    {
        return sp_frame_send(s, &framer, m.data(), m.size(), 5000) == 0;
    }
    std::string recv(sp_socket_t s, sp_frame_decoder *d, int timeout_ms, int *rc = nullptr)
    {
        sp_frame_msg msg = {nullptr, 0};
        int r = sp_frame_recv(s, d, &msg, timeout_ms);
        if (rc != nullptr)
            *rc = r;
        return r == 1 ? std::string((const char *)msg.data, msg.len) : std::string();
    }
    /* connect each of cs and have it served once: then each sits in its recv (its
     * server side between messages) */
    void dial_served(std::vector<Sock> &cs)
    {
        for (auto &s : cs) {
            ASSERT_TRUE(dial(s));
            ASSERT_TRUE(echo(s, "hi", 2));
        }
    }
    /* wait up to ms for n on_close reports (not in the fork model) */
    void wait_closes(int n, int ms = 3000)
    {
        const double t0 = now_ms();
        while (rec_.closes.load() < n && now_ms() - t0 < ms)
            sleep_ms(2);
    }
    Records rec_;
    GlobalBinding<Records> rec_binding_{g_rec, &rec_};
};

struct Dec {
    explicit Dec(const sp_framer *f)
    {
        sp_frame_decoder_init(&d, f);
    }
    ~Dec()
    {
        sp_frame_decoder_free(&d);
    }
    sp_frame_decoder d;
};

/* Eight connections served once (so each sits in its recv between messages) and one in
 * the middle of a message when the stop comes: the eight close at once, long before the
 * 2 s grace period, with SP_CLOSE_STOPPING; the ninth finishes its message within the
 * grace period (its echo comes back), then closes too. */
TEST_P(ServerBrecv, StopEndsIdleConnectionsAtOnceAndGivesAMessageItsGrace)
{
    cfg.grace_ms = 2000;
    start();
    if (IsSkipped() || HasFatalFailure())
        return;
    std::vector<Sock> idle(8), mids(1);
    dial_served(idle);
    dial_served(mids);
    if (HasFatalFailure())
        return;
    Sock &mid = mids[0];
    /* the first half of a 10-byte message: prefix and 4 bytes */
    const unsigned char half[] = {0, 0, 0, 10, 'a', 'b', 'c', 'd'};
    ASSERT_EQ((ptrdiff_t)sizeof half, sp_send(mid, half, sizeof half));
    sleep_ms(100); /* read by the server: the connection is in the middle of a message */
    const double t0 = now_ms();
    ASSERT_OK(sp_server_stop(srv));
    double last_idle = 0;
    for (auto &s : idle) {
        char b;
        EXPECT_LE(sp_recv_all(s, &b, 1, 5000, nullptr), 0) << "an idle client was not closed";
        last_idle = now_ms() - t0;
    }
    std::printf("[ MEASURED ] the 8 idle connections closed %.1f ms after the stop\n", last_idle);
    EXPECT_LT(last_idle, late_slack(500.0)) << "the stop waited for idle connections";
    sleep_ms(200); /* within the grace period: the rest of the message */
    ASSERT_EQ(6, sp_send(mid, "efghij", 6));
    Dec d(&framer);
    int rc = 0;
    EXPECT_EQ("abcdefghij", recv(mid, &d.d, 5000, &rc)) << code_str(rc);
    char b;
    EXPECT_LE(sp_recv_all(mid, &b, 1, 5000, nullptr), 0) << "not closed after its message";
    EXPECT_OK(sp_server_wait(srv));
    running = false;
    const double took = now_ms() - t0;
    EXPECT_LT(took, late_slack(1500.0)) << "the stop took the whole grace period";
    if (GetParam() != SP_MODEL_FORK) {
        EXPECT_EQ(9, rec_.closes.load());
        EXPECT_EQ(9, rec_.reasons[SP_CLOSE_STOPPING].load());
    }
}

/* A stop with many connections that all block in recv, several times over: each stop
 * ends them all (the handshake between the stop and a connection about to block never
 * loses one: a lost wakeup would hang sp_server_wait). */
TEST_P(ServerBrecv, RepeatedStopsNeverMissABlockedConnection)
{
    const int rounds = is_wine() || is_valgrind() || sanitized_build() ? 3 : 10;
    for (int r = 0; r < rounds; r++) {
        cfg.grace_ms = 5000;
        start();
        if (IsSkipped() || HasFatalFailure())
            return;
        std::vector<Sock> cs(6);
        dial_served(cs);
        if (HasFatalFailure())
            return;
        /* the last reply may still be on its way back into recv: the race the handshake
         * covers */
        const double took = timed_stop();
        EXPECT_LT(took, late_slack(1000.0)) << "round " << r;
        if (GetParam() != SP_MODEL_FORK) {
            EXPECT_EQ(6 * (r + 1), rec_.reasons[SP_CLOSE_STOPPING].load()) << "round " << r;
        }
        sp_server_destroy(srv);
        srv = nullptr;
        running = false;
    }
}

#ifndef _WIN32
/* The same stop over a Unix-domain listener: shutdown(SHUT_RD) wakes a recv blocked on an
 * AF_UNIX stream socket too (Linux unix_shutdown; XNU / FreeBSD soshutdown). */
TEST_P(ServerBrecv, StopEndsIdleUnixConnectionsAtOnce)
{
    if (cfg.model == SP_MODEL_FORK && sanitized_build())
        GTEST_SKIP() << "fork model in a sanitizer build (server_fixture.h)";
    cfg.grace_ms = 5000;
    const std::string path = "/tmp/sockport-brecv-" + std::to_string((long)getpid()) + ".sock";
    (void)std::remove(path.c_str());
    ASSERT_TRUE(TestServer::start(cfg.model, ("unix:" + path).c_str()));
    std::vector<Sock> cs(4);
    dial_served(cs);
    if (HasFatalFailure())
        return;
    const double took = timed_stop();
    (void)std::remove(path.c_str());
    std::printf("[ MEASURED ] the stop with 4 idle Unix-domain connections took %.1f ms\n", took);
    EXPECT_LT(took, late_slack(1000.0)) << "the stop waited for idle connections";
    if (GetParam() != SP_MODEL_FORK) {
        EXPECT_EQ(4, rec_.reasons[SP_CLOSE_STOPPING].load());
    }
}
#endif

/* The idle timeout while the connection waits for its next message: closed at the
 * timeout (not before; late by a small bound), SP_CLOSE_IDLE; a client that speaks every
 * 100 ms keeps a 300 ms timeout off for 600 ms, then is closed 300 ms after its last
 * message. */
TEST_P(ServerBrecv, IdleTimeoutHonouredBetweenMessages)
{
    cfg.idle_timeout_ms = 300;
    Sock a;
    if (!start_and_dial(a))
        return;
    Dec d(&framer);
    for (int i = 0; i < 6; i++) {
        ASSERT_TRUE(send(a, "ping"));
        ASSERT_EQ("ping", recv(a, &d.d, 5000));
        sleep_ms(100);
    }
    ASSERT_TRUE(send(a, "ping"));
    ASSERT_EQ("ping", recv(a, &d.d, 5000));
    const double t0 = now_ms();
    int rc = 1;
    recv(a, &d.d, 5000, &rc);
    const double took = now_ms() - t0;
    std::printf("[ MEASURED ] idle 300 ms: closed %.1f ms after the last reply\n", took);
    EXPECT_LE(rc, 0) << "not closed";
    EXPECT_GE(took, 290.0) << "closed before its idle timeout";
    /* the event model looks at idle connections every quarter of the timeout (its sweep) */
    const double sweep = GetParam() == SP_MODEL_EVENTS ? 300.0 / 4 + 1 : 0.0;
    EXPECT_LT(took, 300.0 + sweep + late_slack(100.0)) << "the idle close came late";
    if (GetParam() != SP_MODEL_FORK) {
        wait_closes(1);
        EXPECT_EQ(1, rec_.reasons[SP_CLOSE_IDLE].load());
    }
}

/* A timer of an otherwise idle connection runs on time (its loop waits for it, not in a
 * recv that only input ends), and the connection goes on being served after it. */
TEST_P(ServerBrecv, TimerRunsOnTimeWhileTheConnectionIsIdle)
{
    Sock a;
    if (!start_and_dial(a))
        return;
    Dec d(&framer);
    for (int i = 0; i < 3; i++) {
        const double t0 = now_ms();
        ASSERT_TRUE(send(a, "timer 150"));
        ASSERT_EQ("ok", recv(a, &d.d, 5000));
        ASSERT_EQ("tick", recv(a, &d.d, 5000));
        const double took = now_ms() - t0;
        std::printf("[ MEASURED ] a 150 ms timer ran after %.1f ms\n", took);
        EXPECT_GE(took, 149.0);
        EXPECT_LT(took, 150.0 + late_slack(100.0)) << "the timer ran late";
        ASSERT_TRUE(send(a, "after"));
        ASSERT_EQ("after", recv(a, &d.d, 5000));
    }
}

/* sp_conn_close from a worker that holds the connection ends it while it waits for input
 * (SP_CLOSE_HANDLER), and the server serves the next client. */
TEST_P(ServerBrecv, CloseFromAWorkerEndsAnIdleConnection)
{
    if (GetParam() == SP_MODEL_EVENTS)
        GTEST_SKIP() << "the event model's handles are its loop's: sp_conn_close from there "
                        "(test_server_async's close-post)";
    start();
    if (IsSkipped() || HasFatalFailure())
        return;
    for (int i = 0; i < 3; i++) {
        Sock a;
        ASSERT_TRUE(dial(a));
        Dec d(&framer);
        const double t0 = now_ms();
        ASSERT_TRUE(send(a, "close-later 100"));
        ASSERT_EQ("ok", recv(a, &d.d, 5000));
        int rc = 1;
        recv(a, &d.d, 5000, &rc);
        const double took = now_ms() - t0;
        EXPECT_LE(rc, 0) << "not closed";
        EXPECT_GE(took, 95.0) << "closed before the worker asked";
        EXPECT_LT(took, 100.0 + late_slack(400.0));
        if (GetParam() != SP_MODEL_FORK) {
            wait_closes(i + 1);
            EXPECT_EQ(i + 1, rec_.reasons[SP_CLOSE_HANDLER].load());
        }
    }
    Sock b;
    ASSERT_TRUE(dial(b));
    ASSERT_TRUE(echo(b, "still", 5));
}

/* The hold is taken by another thread while the connection already blocks in its recv
 * (the handle known valid to it otherwise: its on_close has not run, under the test's
 * lock), then sp_conn_close: the connection ends at once with SP_CLOSE_HANDLER (the close
 * wakes the recv itself, not only a poll that is not there). Thread model: the event
 * model's handles are its loop's, the fork model's are in the child. */
TEST_P(ServerBrecv, HoldTakenWhileBlockedThenCloseEndsIt)
{
    if (GetParam() != SP_MODEL_THREADS)
        GTEST_SKIP() << "handles usable from another thread of this process: thread model";
#ifdef _WIN32
    GTEST_SKIP() << "Windows: the thread model polls its socket (a shutdown does not wake a "
                    "blocked recv there), and a close wakes that poll only when the hold was "
                    "taken as sp_conn_hold documents (from a handler): docs/platforms.md";
#endif
    start();
    if (IsSkipped() || HasFatalFailure())
        return;
    for (int i = 0; i < 5; i++) {
        Sock a;
        ASSERT_TRUE(dial(a));
        ASSERT_TRUE(echo(a, "hi", 2));
        sleep_ms(20); /* back in its recv */
        const double t0 = now_ms();
        {
            std::lock_guard<std::mutex> g(rec_.lock);
            ASSERT_NE(nullptr, rec_.last_open);
            sp_conn *c = rec_.last_open;
            sp_conn_hold(c);
            sp_conn_close(c);
            sp_conn_release(c);
        }
        char b;
        EXPECT_LE(sp_recv_all(a, &b, 1, 3000, nullptr), 0) << "not closed";
        const double took = now_ms() - t0;
        EXPECT_LT(took, late_slack(500.0)) << "the close waited";
        wait_closes(i + 1);
        EXPECT_EQ(i + 1, rec_.reasons[SP_CLOSE_HANDLER].load());
    }
}

INSTANTIATE_TEST_SUITE_P(Models, ServerBrecv, ::testing::ValuesIn(os_models()), model_param_name);

} // namespace
