/*
 * test_server_async.cc - replying later, from any thread (sp_server_post, sp_conn_hold /
 * sp_conn_release) and timers (sp_conn_timer, sp_server_timer, sp_timer_cancel), in every
 * model this OS has. What a forked child does is seen through its socket: the handler's
 * memory there is the child's.
 */
#include "fault_proc.h"
#include "server_fixture.h"

#include <sockport.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace sptest;

namespace
{

/* the models this OS has, named: os_models() and model_param_name() (server_fixture.h) */

/* ---- a "database": replies made later on threads of its own -------------------------- */

struct Job {
    sp_conn *c;
    std::string reply;
};

std::atomic<int> g_late_sent{0}, g_late_epipe{0}, g_late_other{0};
std::mutex g_workers_lock;
std::vector<std::thread> g_workers;

void reply_later(sp_server *, void *arg)
{
    Job *j = (Job *)arg;
    int rc = sp_conn_send(j->c, j->reply.data(), j->reply.size());
    if (rc == 0)
        g_late_sent++;
    else if (rc == SP_EPIPE)
        g_late_epipe++;
    else
        g_late_other++;
    sp_conn_release(j->c);
    delete j;
}

/* A query that takes ms: the handler returns at once; a worker waits, then posts. */
void query(sp_conn *c, int ms, std::string reply)
{
    Job *j = new Job{c, std::move(reply)};
    sp_conn_hold(c);
    std::lock_guard<std::mutex> g(g_workers_lock);
    g_workers.emplace_back([j, ms] {
        sleep_ms(ms);
        sp_server *srv = sp_conn_server(j->c);
        if (sp_server_post(srv, reply_later, j) != 0) { /* not running any more */
            sp_conn_release(j->c);
            delete j;
        }
    });
}

void join_workers()
{
    std::vector<std::thread> w;
    {
        std::lock_guard<std::mutex> g(g_workers_lock);
        w.swap(g_workers);
    }
    for (auto &t : w)
        t.join();
}

/* ---- closing from another thread ------------------------------------------------------ */

std::atomic<int> g_close_reason{-1};

void close_posted(sp_server *, void *arg)
{
    sp_conn *c = (sp_conn *)arg;
    EXPECT_OK(sp_conn_close(c));
    sp_conn_release(c);
}

/* A worker holding c closes it after ms: through a post, or directly. */
void close_later(sp_conn *c, int ms, bool post)
{
    sp_conn_hold(c);
    std::lock_guard<std::mutex> g(g_workers_lock);
    g_workers.emplace_back([c, ms, post] {
        sleep_ms(ms);
        if (post) {
            if (sp_server_post(sp_conn_server(c), close_posted, c) != 0)
                sp_conn_release(c);
            return;
        }
        EXPECT_OK(sp_conn_close(c));
        sp_conn_release(c);
    });
}

/* ---- timers driven by messages --------------------------------------------------------- */

struct ConnState {
    int reps = 0;
    int fired = 0;
    sp_timer *rep = nullptr, *victim = nullptr, *never = nullptr;
    double t0 = 0;
};

void say(sp_conn *c, const std::string &s)
{
    (void)sp_conn_send(c, s.data(), s.size());
}

void on_one(sp_timer *, void *arg)
{
    say((sp_conn *)arg, "one");
}
void on_never(sp_timer *, void *arg)
{
    say((sp_conn *)arg, "never");
}
void on_added(sp_timer *, void *arg)
{
    say((sp_conn *)arg, "added");
}
void on_rep(sp_timer *t, void *arg)
{
    sp_conn *c = (sp_conn *)arg;
    ConnState *st = (ConnState *)sp_conn_user(c);
    say(c, "rep");
    if (++st->reps == 3) {
        EXPECT_OK(sp_timer_cancel(t)); /* itself, from its callback */
    }
}
void on_killer(sp_timer *, void *arg)
{
    sp_conn *c = (sp_conn *)arg;
    ConnState *st = (ConnState *)sp_conn_user(c);
    EXPECT_OK(sp_timer_cancel(st->victim));                   /* another, from a callback */
    EXPECT_OK(sp_conn_timer(c, nullptr, 10, 0, on_added, c)); /* and a new one */
}
void on_tick(sp_timer *, void *arg)
{
    sp_conn *c = (sp_conn *)arg;
    ConnState *st = (ConnState *)sp_conn_user(c);
    char b[32];
    std::snprintf(b, sizeof b, "tick %.0f", now_ms() - st->t0);
    say(c, b);
}
void on_count(sp_timer *, void *arg)
{
    sp_conn *c = (sp_conn *)arg;
    ((ConnState *)sp_conn_user(c))->fired++;
}
void on_report(sp_timer *, void *arg)
{
    sp_conn *c = (sp_conn *)arg;
    say(c, "fired " + std::to_string(((ConnState *)sp_conn_user(c))->fired));
}

void h_open(sp_conn *c)
{
    sp_conn_set_user(c, new ConnState);
}

void h_close(sp_conn *c, int reason, int)
{
    g_close_reason = reason;
    delete (ConnState *)sp_conn_user(c);
}

int h_message(sp_conn *c, const void *msg, size_t len)
{
    std::string m((const char *)msg, len);
    ConnState *st = (ConnState *)sp_conn_user(c);
    if (m.rfind("slow ", 0) == 0) {
        query(c, std::atoi(m.c_str() + 5), "late " + m.substr(5));
        return 0;
    }
    if (m.rfind("close-post ", 0) == 0 || m.rfind("close-now ", 0) == 0) {
        close_later(c, std::atoi(m.c_str() + m.find(' ') + 1), m[6] == 'p');
        return sp_conn_send(c, "ok", 2);
    }
    if (m == "timers") {
        EXPECT_OK(sp_conn_timer(c, nullptr, 50, 0, on_one, c));
        EXPECT_OK(sp_conn_timer(c, &st->rep, 20, 30, on_rep, c));
        EXPECT_OK(sp_conn_timer(c, &st->never, 40, 0, on_never, c));
        EXPECT_OK(sp_timer_cancel(st->never)); /* cancelled before it ran */
        EXPECT_OK(sp_conn_timer(c, &st->victim, 80, 0, on_never, c));
        EXPECT_OK(sp_conn_timer(c, nullptr, 30, 0, on_killer, c));
        return 0;
    }
    if (m.rfind("tick ", 0) == 0) { /* "tick delay period" */
        int d = 0, p = 0;
        std::istringstream(m.substr(5)) >> d >> p;
        st->t0 = now_ms();
        return sp_conn_timer(c, nullptr, d, p, on_tick, c);
    }
    if (m.rfind("many ", 0) == 0) { /* n timers, half cancelled, then a report */
        int n = std::atoi(m.c_str() + 5);
        std::vector<sp_timer *> ts((size_t)n);
        double t0 = now_ms();
        for (int i = 0; i < n; i++)
            if (sp_conn_timer(c, &ts[(size_t)i], 10 + (i * 7919) % 200, 0, on_count, c) != 0)
                return -1;
        double t1 = now_ms();
        for (int i = 0; i < n; i += 2)
            (void)sp_timer_cancel(ts[(size_t)i]);
        double t2 = now_ms();
        char b[96];
        std::snprintf(b, sizeof b, "timing %.2f %.2f", t1 - t0, t2 - t1);
        say(c, b);
        return sp_conn_timer(c, nullptr, 400, 0, on_report, c);
    }
    if (m == "forever") /* a timer that outlives the server's run */
        return sp_conn_timer(c, nullptr, 60000, 60000, on_never, c);
    return sp_conn_send(c, msg, len);
}

const sp_server_handler kHandler = {h_open, h_message, nullptr, h_close, nullptr};

class ServerAsync : public SpTest, public ::testing::WithParamInterface<int>
{
  protected:
    void SetUp() override
    {
        SpTest::SetUp();
        g_late_sent = g_late_epipe = g_late_other = 0;
        ASSERT_OK(sp_framer_prefix(&framer_, 4, 0, 1 << 20));
        sp_server_config_init(&cfg_);
        cfg_.model = GetParam();
        cfg_.handler = &kHandler;
        cfg_.framer = &framer_;
        cfg_.grace_ms = 200;
    }
    void TearDown() override
    {
        stop();
        join_workers();
        if (srv_ != nullptr)
            sp_server_destroy(srv_);
        SpTest::TearDown();
    }
    bool fork_skipped()
    {
        return GetParam() == SP_MODEL_FORK && SP_FP_SANITIZED;
    }
    void create()
    {
        if (fork_skipped())
            GTEST_SKIP() << "fork model in a sanitizer build: a child of a threaded process "
                            "may stall in the sanitizer's allocator (server.h)";
        sp_addr a;
        ASSERT_TRUE(serve(&srv_, cfg_, &a, false));
        addr_ = addr_str(a);
    }
    void start()
    {
        create();
        if (IsSkipped() || HasFatalFailure())
            return;
        ASSERT_OK(sp_server_start(srv_));
        started_ = true;
    }
    int stop()
    {
        int rc = 0;
        if (started_) {
            sp_server_stop(srv_);
            rc = sp_server_wait(srv_);
            started_ = false;
        }
        return rc;
    }
    ::testing::AssertionResult dial(Sock &s)
    {
        int rc = sp_dial(s.out(), addr_.c_str(), 5000);
        if (rc != 0)
            return step_failed("dial", rc);
        return ::testing::AssertionSuccess();
    }
    ::testing::AssertionResult send(Sock &s, const std::string &m)
    {
        int rc = sp_frame_send(s, &framer_, m.data(), m.size(), 5000);
        if (rc != 0)
            return step_failed("send", rc);
        return ::testing::AssertionSuccess();
    }
    /* The next message, or "" with *rc set (timeout, end). */
    std::string recv(Sock &s, sp_frame_decoder *d, int timeout_ms, int *rc = nullptr)
    {
        sp_frame_msg m;
        int r = sp_frame_recv(s, d, &m, timeout_ms);
        if (rc != nullptr)
            *rc = r;
        return r == 1 ? std::string((const char *)m.data, m.len) : std::string();
    }

    sp_framer framer_;
    sp_server_config cfg_;
    sp_server *srv_ = nullptr;
    bool started_ = false;
    std::string addr_;
};

/* A decoder that frees itself. */
struct Dec {
    sp_frame_decoder d;
    explicit Dec(const sp_framer *f)
    {
        sp_frame_decoder_init(&d, f);
    }
    ~Dec()
    {
        sp_frame_decoder_free(&d);
    }
};

/* ---- posts --------------------------------------------------------------------------- */

struct PostLog {
    std::mutex lock;
    std::map<int, std::vector<int>> seen; /* poster -> its sequence numbers, as run */
    std::atomic<int> ran{0};
};

struct PostItem {
    PostLog *log;
    int poster, seq;
};

void logged(sp_server *, void *arg)
{
    PostItem *it = (PostItem *)arg;
    {
        std::lock_guard<std::mutex> g(it->log->lock);
        it->log->seen[it->poster].push_back(it->seq);
    }
    it->log->ran++;
    delete it;
}

/* Posts from 8 threads at once all run, each poster's in the order it made them; none is
 * accepted or runs once the server has stopped, nor after it is destroyed. */
TEST_P(ServerAsync, PostFromManyThreadsAllRunInOrderPerPoster)
{
    start();
    if (IsSkipped() || HasFatalFailure())
        return;
    PostLog log;
    const int posters = 8, each = is_valgrind() ? 200 : 2000;
    std::atomic<int> accepted{0};
    std::vector<std::thread> ts;
    for (int p = 0; p < posters; p++)
        ts.emplace_back([&, p] {
            for (int i = 0; i < each; i++) {
                PostItem *it = new PostItem{&log, p, i};
                int rc = sp_server_post(srv_, logged, it);
                if (rc == 0)
                    accepted++;
                else
                    delete it;
            }
        });
    for (auto &t : ts)
        t.join();
    EXPECT_EQ(posters * each, accepted.load());
    EXPECT_OK(stop());
    EXPECT_EQ(accepted.load(), log.ran.load()) << "every accepted post ran before the run returned";
    for (auto &kv : log.seen) {
        EXPECT_EQ((size_t)each, kv.second.size()) << "poster " << kv.first;
        EXPECT_TRUE(std::is_sorted(kv.second.begin(), kv.second.end())) << "poster " << kv.first;
    }
    /* stopped: refused, and it does not run */
    PostItem *late = new PostItem{&log, 99, 0};
    EXPECT_SP(SP_EINVAL, sp_server_post(srv_, logged, late));
    delete late;
    EXPECT_SP(SP_EINVAL, sp_server_post(nullptr, logged, nullptr));
    EXPECT_SP(SP_EINVAL, sp_server_post(srv_, nullptr, nullptr));
    sp_server_destroy(srv_);
    srv_ = nullptr;
    sleep_ms(20);
    EXPECT_EQ(posters * each, log.ran.load()) << "nothing ran after the stop or the destroy";
}

/* Posts made while the server stops either are refused or run before the run returns. */
TEST_P(ServerAsync, PostsRacingTheStopRunBeforeRunReturns)
{
    start();
    if (IsSkipped() || HasFatalFailure())
        return;
    PostLog log;
    std::atomic<int> accepted{0};
    std::atomic<bool> go{true};
    std::thread poster([&] {
        for (int i = 0; go; i++) {
            PostItem *it = new PostItem{&log, 0, i};
            if (sp_server_post(srv_, logged, it) == 0)
                accepted++;
            else
                delete it;
        }
    });
    /* the stop races posts in flight: the poster has had some accepted first (a loaded
     * machine may not run it at all within a fixed sleep) */
    for (int waited = 0; accepted.load() < 100 && waited < 10000; waited += 2)
        sleep_ms(2);
    EXPECT_OK(stop());
    int ran_at_return = log.ran.load();
    go = false;
    poster.join();
    EXPECT_GT(accepted.load(), 0);
    EXPECT_EQ(accepted.load(), ran_at_return) << "an accepted post ran late or never";
}

/* A handler that waits for a "database" does not stall other connections: one client's
 * reply comes 400 ms later (posted from the worker), another's echoes come meanwhile. */
TEST_P(ServerAsync, PendingReplyDoesNotDelayAnotherConnection)
{
    start();
    if (IsSkipped() || HasFatalFailure())
        return;
    Sock a, b;
    ASSERT_TRUE(dial(a));
    ASSERT_TRUE(dial(b));
    Dec da(&framer_), db(&framer_);
    /* the pending reply's delay: 400 ms, longer where 20 echoes are slow (late_slack) */
    const int kSlow = (int)late_slack(400);
    const double t0 = now_ms();
    ASSERT_TRUE(send(a, "slow " + std::to_string(kSlow)));
    double worst = 0;
    for (int i = 0; i < 20; i++) {
        const double s = now_ms();
        ASSERT_TRUE(send(b, "ping " + std::to_string(i)));
        ASSERT_EQ("ping " + std::to_string(i), recv(b, &db.d, 5000));
        worst = std::max(worst, now_ms() - s);
    }
    const double echoes_done = now_ms() - t0;
    ASSERT_EQ("late " + std::to_string(kSlow), recv(a, &da.d, kSlow + 5000));
    const double late = now_ms() - t0;
    std::printf("[ MEASURED ] 20 echoes in %.0f ms (slowest %.0f ms) while a reply took %.0f ms\n",
                echoes_done, worst, late);
    EXPECT_GE(late, kSlow - 10.0);
    EXPECT_LT(echoes_done, kSlow - 10.0) << "the echoes waited for the pending reply";
}

/* The client leaves before its reply is ready: the posted reply sees SP_EPIPE on the held
 * handle, releases it, and nothing crashes (ASan: no use after free); the server serves on. */
TEST_P(ServerAsync, PostedReplyAfterTheClientLeftIsEpipe)
{
    start();
    if (IsSkipped() || HasFatalFailure())
        return;
    {
        Sock a;
        ASSERT_TRUE(dial(a));
        ASSERT_TRUE(send(a, "slow 150"));
        sleep_ms(20); /* the handler has held it */
    }
    const double t0 = now_ms();
    while (GetParam() != SP_MODEL_FORK && g_late_epipe + g_late_sent + g_late_other == 0 &&
           now_ms() - t0 < 5000)
        sleep_ms(5);
    if (GetParam() != SP_MODEL_FORK) { /* a child's counters are its own */
        EXPECT_EQ(1, g_late_epipe.load());
        EXPECT_EQ(0, g_late_sent.load());
        EXPECT_EQ(0, g_late_other.load());
    }
    Sock b;
    Dec d(&framer_);
    ASSERT_TRUE(dial(b));
    ASSERT_TRUE(send(b, "still"));
    EXPECT_EQ("still", recv(b, &d.d, 5000));
}

/* References taken on a connection are released from many threads while it closes:
 * the last release frees it, whichever thread that is (ASan / TSan clean). In the thread
 * model the holders also send until the close makes their sends fail with SP_EPIPE. */
std::atomic<int> g_hold_epipe{0};
std::atomic<int> g_holders_done{0};
std::atomic<int> g_open_after{0}, g_closed_wrong{0};
std::mutex g_holders_lock;
std::vector<std::thread> g_holders;

void after_close_check(sp_server *, void *arg)
{
    sp_conn *c = (sp_conn *)arg;
    if (!sp_conn_is_open(c)) {
        if (sp_conn_send(c, "x", 1) == SP_EPIPE)
            g_open_after++;
        else
            g_closed_wrong++;
    }
    sp_conn_release(c);
}

int holding_message(sp_conn *c, const void *, size_t)
{
    const bool may_send = sp_server_model(sp_conn_server(c)) != SP_MODEL_EVENTS;
    for (int k = 0; k < 8; k++) {
        sp_conn_hold(c);
        std::lock_guard<std::mutex> g(g_holders_lock);
        g_holders.emplace_back([c, k, may_send] {
            sleep_ms(k * 5);
            if (may_send)
                while (sp_conn_send(c, "hi", 2) == 0)
                    sleep_ms(1);
            if (k == 0) { /* one checks the closed handle on the server's thread */
                const int before = g_open_after;
                const double t0 = now_ms();
                while (g_open_after == before && now_ms() - t0 < 5000) {
                    sp_conn_hold(c); /* released by the post */
                    if (sp_server_post(sp_conn_server(c), after_close_check, c) != 0) {
                        sp_conn_release(c);
                        break;
                    }
                    sleep_ms(2);
                }
            }
            if (may_send && sp_conn_send(c, "hi", 2) == SP_EPIPE)
                g_hold_epipe++;
            g_holders_done++;
            sp_conn_release(c);
        });
    }
    return -1; /* and close it now */
}

TEST_P(ServerAsync, HoldAndReleaseAcrossCloseFromManyThreads)
{
    if (GetParam() == SP_MODEL_FORK)
        GTEST_SKIP() << "the holders would be threads of the child: covered by the other models";
    static const sp_server_handler h = {nullptr, holding_message, nullptr, nullptr, nullptr};
    cfg_.handler = &h;
    g_hold_epipe = g_holders_done = g_open_after = g_closed_wrong = 0;
    start();
    if (IsSkipped() || HasFatalFailure())
        return;
    for (int round = 0; round < 5; round++) {
        Sock a;
        ASSERT_TRUE(dial(a));
        ASSERT_TRUE(send(a, "go"));
        const double t0 = now_ms();
        while (g_holders_done < 8 * (round + 1) && now_ms() - t0 < 5000)
            sleep_ms(2);
        ASSERT_EQ(8 * (round + 1), g_holders_done.load());
    }
    std::vector<std::thread> hs;
    {
        std::lock_guard<std::mutex> g(g_holders_lock);
        hs.swap(g_holders);
    }
    for (auto &t : hs)
        t.join();
    EXPECT_GE(g_open_after.load(), 5) << "each closed, held handle seen: is_open 0";
    EXPECT_EQ(0, g_closed_wrong.load()) << "a closed handle's send did not say SP_EPIPE";
    if (GetParam() == SP_MODEL_THREADS) {
        EXPECT_EQ(40, g_hold_epipe.load());
    }
}

/* sp_conn_close from another thread that holds the connection, through a post or directly,
 * while the connection waits for input: the client sees the end within a bound (before,
 * the thread and fork models closed it only when the client sent more, or at the idle
 * timeout: this waited 3 s and failed), on_close says SP_CLOSE_HANDLER, the server serves
 * on, and a close of a handle closed already does nothing. */
TEST_P(ServerAsync, CloseFromAnotherThreadEndsAConnectionWaitingForInput)
{
    start();
    if (IsSkipped() || HasFatalFailure())
        return;
    const double bound = 100 + late_slack(900);
    for (const char *how : {"close-post", "close-now", "close-post", "close-now"}) {
        if (GetParam() == SP_MODEL_EVENTS && how[6] == 'n')
            continue; /* the event model's handles are the loop thread's (server.h) */
        g_close_reason = -1;
        Sock a;
        Dec d(&framer_);
        ASSERT_TRUE(dial(a));
        const double t0 = now_ms();
        ASSERT_TRUE(send(a, std::string(how) + " 100"));
        ASSERT_EQ("ok", recv(a, &d.d, 5000)) << how;
        int rc = 1;
        recv(a, &d.d, 3000, &rc);
        const double took = now_ms() - t0;
        std::printf("[ MEASURED ] %s 100: the client saw the end after %.0f ms\n", how, took);
        EXPECT_SP(0, rc) << how << ": the connection did not end";
        EXPECT_GE(took, 95.0) << how << ": closed before the worker asked";
        EXPECT_LT(took, bound) << how;
        if (GetParam() != SP_MODEL_FORK) { /* a child's records are its own */
            const double t1 = now_ms();
            while (g_close_reason < 0 && now_ms() - t1 < 2000)
                sleep_ms(2);
            EXPECT_EQ(SP_CLOSE_HANDLER, g_close_reason.load())
                << how << ": " << reason_name(g_close_reason);
        }
        Sock b;
        Dec db(&framer_);
        ASSERT_TRUE(dial(b));
        ASSERT_TRUE(send(b, "still"));
        EXPECT_EQ("still", recv(b, &db.d, 5000)) << how;
    }
    join_workers();
}

/* ---- timers -------------------------------------------------------------------------- */

/* One-shot, repeating, cancelled before it ran, cancelled from its own callback (after 3
 * runs), cancelled from another's callback, added from a callback: all on the connection's
 * thread, seen through its replies. */
TEST_P(ServerAsync, OneShotRepeatingAndCancelledTimers)
{
    start();
    if (IsSkipped() || HasFatalFailure())
        return;
    Sock a;
    Dec d(&framer_);
    ASSERT_TRUE(dial(a));
    ASSERT_TRUE(send(a, "timers"));
    std::map<std::string, int> got;
    const double t0 = now_ms();
    while (now_ms() - t0 < 400) {
        int rc = 0;
        std::string m = recv(a, &d.d, 50, &rc);
        if (rc == 1)
            got[m]++;
        else
            ASSERT_SP(SP_ETIMEDOUT, rc);
    }
    EXPECT_EQ(1, got["one"]);
    EXPECT_EQ(3, got["rep"]) << "cancelled by itself after its third run";
    EXPECT_EQ(1, got["added"]);
    EXPECT_EQ(0, got["never"]) << "a cancelled timer ran";
    EXPECT_EQ(3u, got.size() - (got.count("never") ? 1 : 0));
}

/* A one-shot at 100 ms and a 50 ms period fire on time: not early, late by a tolerance at
 * most (a loaded machine), and the repeating one does not drift (the 8th tick is at
 * 400 ms, not 8 x (50 + the loop's lateness)). */
TEST_P(ServerAsync, TimersFireWithinTolerance)
{
    start();
    if (IsSkipped() || HasFatalFailure())
        return;
    const double tol = late_slack(150);
    Sock a, b;
    Dec da(&framer_), db(&framer_);
    ASSERT_TRUE(dial(a));
    ASSERT_TRUE(dial(b));
    ASSERT_TRUE(send(a, "tick 100 0"));
    ASSERT_TRUE(send(b, "tick 50 50"));
    std::string m = recv(a, &da.d, 5000);
    int ms = -1;
    std::string word;
    ASSERT_TRUE(std::istringstream(m) >> word >> ms && word == "tick") << m;
    EXPECT_GE(ms, 100);
    EXPECT_LT(ms, 100 + tol);
    for (int k = 1; k <= 8; k++) {
        m = recv(b, &db.d, 5000);
        ASSERT_TRUE(std::istringstream(m) >> word >> ms && word == "tick") << m;
        EXPECT_GE(ms, 50 * k) << "tick " << k;
        EXPECT_LT(ms, 50 * k + tol) << "tick " << k << ": drifted";
    }
    std::printf("[ MEASURED ] the 8th tick of a 50 ms timer at %d ms\n", ms);
}

/* 10,000 timers on one connection: adding and cancelling half take O(log n) each (timed
 * loosely: a list scan would take seconds), and exactly the 5,000 left fire. */
TEST_P(ServerAsync, TenThousandConnectionTimers)
{
    start();
    if (IsSkipped() || HasFatalFailure())
        return;
    Sock a;
    Dec d(&framer_);
    ASSERT_TRUE(dial(a));
    ASSERT_TRUE(send(a, "many 10000"));
    std::string m = recv(a, &d.d, 5000);
    double add = -1, cancel = -1;
    std::string word;
    ASSERT_TRUE(std::istringstream(m) >> word >> add >> cancel && word == "timing") << m;
    std::printf("[ MEASURED ] 10,000 connection timers added in %.2f ms, 5,000 cancelled in "
                "%.2f ms\n",
                add, cancel);
    /* a sorted list would take ~n^2/2 = 5e7 steps per 10,000 (tens of ms at best) */
    const double limit = is_valgrind() || is_wine() || SP_FP_SANITIZED ? 2000 : 100;
    EXPECT_LT(add, limit);
    EXPECT_LT(cancel, limit);
    EXPECT_EQ("fired 5000", recv(a, &d.d, 5000));
}

/* Server timers: made before the run, they run while it runs (on the loop or the
 * accepting thread, the parent in fork); one cancels itself after 5 runs. */
std::atomic<int> g_server_ticks{0}, g_server_once{0};
void server_tick(sp_timer *t, void *)
{
    if (++g_server_ticks == 5) {
        EXPECT_OK(sp_timer_cancel(t));
    }
}
void server_once(sp_timer *, void *)
{
    g_server_once++;
}

TEST_P(ServerAsync, ServerTimersRunWhileTheServerRuns)
{
    g_server_ticks = g_server_once = 0;
    create();
    if (IsSkipped() || HasFatalFailure())
        return;
    sp_timer *t = nullptr;
    ASSERT_OK(sp_server_timer(srv_, &t, 10, 20, server_tick, nullptr));
    ASSERT_NE(nullptr, t);
    ASSERT_OK(sp_server_timer(srv_, nullptr, 30, 0, server_once, nullptr));
    EXPECT_SP(SP_EINVAL, sp_server_timer(srv_, nullptr, -1, 0, server_once, nullptr));
    EXPECT_SP(SP_EINVAL, sp_server_timer(srv_, nullptr, 0, -1, server_once, nullptr));
    EXPECT_SP(SP_EINVAL, sp_server_timer(srv_, nullptr, 0, 0, nullptr, nullptr));
    EXPECT_SP(SP_EINVAL, sp_server_timer(nullptr, nullptr, 0, 0, server_once, nullptr));
    EXPECT_SP(SP_EINVAL, sp_conn_timer(nullptr, nullptr, 0, 0, server_once, nullptr));
    EXPECT_SP(SP_EINVAL, sp_timer_cancel(nullptr));
    sleep_ms(50);
    EXPECT_EQ(0, g_server_ticks.load()) << "ran before the server did";
    ASSERT_OK(sp_server_start(srv_));
    started_ = true;
    const double t0 = now_ms();
    while ((g_server_ticks < 5 || g_server_once < 1) && now_ms() - t0 < 5000)
        sleep_ms(5);
    sleep_ms(100);
    EXPECT_EQ(5, g_server_ticks.load());
    EXPECT_EQ(1, g_server_once.load());
}

/* A stop with timers far in the future (a server's and a connection's) is not delayed by
 * them; the connection's is freed at its close, the server's at destroy (ASan: no leak). */
TEST_P(ServerAsync, StopWithTimersPending)
{
    create();
    if (IsSkipped() || HasFatalFailure())
        return;
    ASSERT_OK(sp_server_timer(srv_, nullptr, 60000, 0, server_once, nullptr));
    ASSERT_OK(sp_server_start(srv_));
    started_ = true;
    Sock a;
    Dec d(&framer_);
    ASSERT_TRUE(dial(a));
    ASSERT_TRUE(send(a, "forever"));
    ASSERT_TRUE(send(a, "sync"));
    ASSERT_EQ("sync", recv(a, &d.d, 5000));
    const double t0 = now_ms();
    EXPECT_OK(stop());
    const double took = now_ms() - t0;
    std::printf("[ MEASURED ] stop with timers pending: %.0f ms\n", took);
    EXPECT_LT(took, 2000.0);
    int rc = 0;
    recv(a, &d.d, 5000, &rc);
    EXPECT_TRUE(rc == 0 || rc < 0) << "the connection was closed by the stop";
}

INSTANTIATE_TEST_SUITE_P(Models, ServerAsync, ::testing::ValuesIn(os_models()), model_param_name);

} // namespace
