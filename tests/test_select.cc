/*
 * test_select.cc - sockport/poll.h, sp_select and its socket sets: no size cap (2,000
 * sockets everywhere), sets that survive the call, dead sockets answered with SP_EBADF,
 * empty sets that sleep, failed connects reported the same on every OS, EINTR retried
 * with the time left, the waker in a read set. Loopback only.
 */
#include "helpers.h"

#include <algorithm>
#include <cerrno>
#include <set>
#include <string>
#include <vector>

#ifndef _WIN32
#    include <fcntl.h>
#    include <unistd.h>
#endif

using namespace sptest;

namespace
{

class Select : public SpTest
{
};

/* ---- sets ---------------------------------------------------------------------------- */

TEST_F(Select, SocksetAddRemoveClearCountGet)
{
    Sock a, b, c, d;
    ASSERT_TRUE(socket_pair(a, b));
    ASSERT_TRUE(socket_pair(c, d));
    SockSet set;
    EXPECT_EQ(0u, sp_sockset_count(&set));

    ASSERT_OK(sp_sockset_add(&set, a));
    ASSERT_OK(sp_sockset_add(&set, b));
    ASSERT_OK(sp_sockset_add(&set, c));
    EXPECT_OK(sp_sockset_add(&set, b)) << "adding twice is a no-op";
    ASSERT_EQ(3u, sp_sockset_count(&set));
    EXPECT_EQ(a.get(), sp_sockset_get(&set, 0));
    EXPECT_EQ(b.get(), sp_sockset_get(&set, 1));
    EXPECT_EQ(c.get(), sp_sockset_get(&set, 2));
    EXPECT_EQ(0, sp_sockset_ready(&set, a)) << "no sp_select yet";
    EXPECT_EQ(0, sp_sockset_error(&set, a));

    EXPECT_OK(sp_sockset_remove(&set, b));
    EXPECT_SP(SP_ENOENT, sp_sockset_remove(&set, b));
    EXPECT_SP(SP_ENOENT, sp_sockset_remove(&set, d)) << "never added";
    ASSERT_EQ(2u, sp_sockset_count(&set));
    EXPECT_EQ(a.get(), sp_sockset_get(&set, 0)) << "the others keep their order";
    EXPECT_EQ(c.get(), sp_sockset_get(&set, 1));
    ASSERT_OK(sp_sockset_add(&set, b));
    EXPECT_EQ(b.get(), sp_sockset_get(&set, 2)) << "added last";

    EXPECT_SP(SP_EINVAL, sp_sockset_add(&set, SP_INVALID_SOCKET));
    EXPECT_EQ(3u, sp_sockset_count(&set));

    sp_sockset_clear(&set);
    EXPECT_EQ(0u, sp_sockset_count(&set));
    EXPECT_SP(SP_ENOENT, sp_sockset_remove(&set, a)) << "cleared";
    ASSERT_OK(sp_sockset_add(&set, d)) << "a cleared set is usable";
    EXPECT_EQ(1u, sp_sockset_count(&set));
    EXPECT_EQ(d.get(), sp_sockset_get(&set, 0));

    /* sp_sockset_init gives an empty set, whatever the struct held */
    sp_sockset other;
    std::memset(&other, 0xA5, sizeof other);
    sp_sockset_init(&other);
    EXPECT_EQ(0u, sp_sockset_count(&other));
    EXPECT_OK(sp_sockset_add(&other, a));
    EXPECT_EQ(1u, sp_sockset_count(&other));
    sp_sockset_free(&other);
}

/* Membership is bookkeeping only: many handles, order kept through removals. */
TEST_F(Select, SocksetGrowsAndKeepsOrder)
{
    SockSet set;
    const int N = 3000;
    for (int i = 0; i < N; i++)
        ASSERT_OK(sp_sockset_add(&set, (sp_socket_t)(4 * i + 8)));
    for (int i = 0; i < N; i += 7)
        ASSERT_OK(sp_sockset_add(&set, (sp_socket_t)(4 * i + 8)));
    ASSERT_EQ((size_t)N, sp_sockset_count(&set));
    for (int i = 0; i < N; i += 2)
        ASSERT_OK(sp_sockset_remove(&set, (sp_socket_t)(4 * i + 8)));
    ASSERT_EQ((size_t)N / 2, sp_sockset_count(&set));
    for (size_t k = 0; k < sp_sockset_count(&set); k++)
        ASSERT_EQ((sp_socket_t)(4 * (2 * k + 1) + 8), sp_sockset_get(&set, k)) << "index " << k;
}

/* ---- no size cap --------------------------------------------------------------------- */

TEST_F(Select, TwoThousandSocketsReadAndWriteSets)
{
    const int PAIRS = 1000, N = 2 * PAIRS;
    FdLimit lim;
    if (!lim.allows(N + 64))
        GTEST_SKIP() << lim.shortfall(N + 64);
    std::vector<Sock> socks(N);
    for (int k = 0; k < PAIRS; k++)
        ASSERT_TRUE(socket_pair(socks[2 * k], socks[2 * k + 1])) << "pair " << k;
#ifndef _WIN32
    ASSERT_GT((long long)socks[N - 1].get(), 1024)
        << "the descriptors must go past FD_SETSIZE for the test to mean anything";
#endif

    /* socks[j] becomes readable when its partner socks[j ^ 1] writes */
    const std::set<int> chosen = {0, 1, 63, 64, 65, 1023, 1024, 1025, 1030, 1500, 1998, 1999};
    for (int j : chosen)
        ASSERT_EQ(1, sp_send(socks[j ^ 1], "x", 1)) << "index " << j;
    for (int j : chosen)
        ASSERT_TRUE(ready(socks[j], SP_EV_READ, 5000)) << "index " << j << " never got its byte";

    SockSet rd, wr;
    for (int i = 0; i < N; i++)
        ASSERT_OK(sp_sockset_add(&rd, socks[i]));
    for (int round = 0; round < 2; round++) {
        SCOPED_TRACE(round == 0 ? "first call" : "the same sets again");
        int rc = sp_select(&rd, nullptr, nullptr, 5000);
        EXPECT_EQ((int)chosen.size(), rc) << code_str(rc);
        int wrong = 0;
        for (int i = 0; i < N; i++) {
            const int want = (int)chosen.count(i);
            if (sp_sockset_ready(&rd, socks[i]) != want || sp_sockset_error(&rd, socks[i]) != 0) {
                if (++wrong <= 10)
                    ADD_FAILURE() << "index " << i << " (socket " << (long long)socks[i].get()
                                  << "): ready " << sp_sockset_ready(&rd, socks[i]) << ", want "
                                  << want << ", error "
                                  << code_str(sp_sockset_error(&rd, socks[i]));
            }
        }
        EXPECT_EQ(0, wrong) << "sockets answered wrongly";
        /* the call does not overwrite the set */
        ASSERT_EQ((size_t)N, sp_sockset_count(&rd));
        for (int i = 0; i < N; i++)
            ASSERT_EQ(socks[i].get(), sp_sockset_get(&rd, (size_t)i)) << "index " << i;
    }

    for (int i = 0; i < N; i++)
        ASSERT_OK(sp_sockset_add(&wr, socks[i]));
    int rc = sp_select(nullptr, &wr, nullptr, 5000);
    EXPECT_EQ(N, rc) << "every fresh socket is writable: " << code_str(rc);
    int not_ready = 0;
    for (int i = 0; i < N; i++)
        not_ready += !sp_sockset_ready(&wr, socks[i]);
    EXPECT_EQ(0, not_ready) << "sockets of the write set not reported writable";

    /* both at once: (set, socket) pairs */
    rc = sp_select(&rd, &wr, nullptr, 5000);
    EXPECT_EQ(N + (int)chosen.size(), rc) << code_str(rc);
}

/* A socket in two sets counts once per set it is ready in. */
TEST_F(Select, CountsSetSocketPairs)
{
    Sock c, s;
    ASSERT_TRUE(tcp_pair(c, s));
    ASSERT_EQ(1, sp_send(c, "x", 1));
    ASSERT_TRUE(ready(s, SP_EV_READ, 5000));
    SockSet rd, wr;
    ASSERT_OK(sp_sockset_add(&rd, s));
    ASSERT_OK(sp_sockset_add(&rd, c));
    ASSERT_OK(sp_sockset_add(&wr, s));
    ASSERT_OK(sp_sockset_add(&wr, c));
    EXPECT_EQ(3, sp_select(&rd, &wr, nullptr, 1000));
    EXPECT_EQ(1, sp_sockset_ready(&rd, s));
    EXPECT_EQ(0, sp_sockset_ready(&rd, c)) << "c has nothing to read";
    EXPECT_EQ(1, sp_sockset_ready(&wr, s));
    EXPECT_EQ(1, sp_sockset_ready(&wr, c));
}

/* ---- dead sockets -------------------------------------------------------------------- */

TEST_F(Select, DeadSocketIsReadyWithEbadfAndLiveOnesAnswered)
{
    Sock idle0, idle1, busy0, busy1, dead0, dead1;
    ASSERT_TRUE(socket_pair(idle0, idle1));
    ASSERT_TRUE(socket_pair(busy0, busy1));
    ASSERT_TRUE(socket_pair(dead0, dead1));
    ASSERT_EQ(1, sp_send(busy1, "x", 1));
    ASSERT_TRUE(ready(busy0, SP_EV_READ, 5000));

    SockSet rd, wr;
    ASSERT_OK(sp_sockset_add(&rd, idle0));
    ASSERT_OK(sp_sockset_add(&rd, dead0));
    ASSERT_OK(sp_sockset_add(&rd, busy0));
    ASSERT_OK(sp_sockset_add(&wr, dead0));
    ASSERT_OK(sp_sockset_add(&wr, idle0));
    int want = 2 + 2; /* dead and busy in rd; dead and idle (writable) in wr */
#ifndef _WIN32
    /* a number that was never opened */
    int unopened = 1000;
    while (fcntl(unopened, F_GETFD) != -1)
        unopened++;
    ASSERT_OK(sp_sockset_add(&rd, (sp_socket_t)unopened));
    want++;
#endif
    const sp_socket_t dead = dead0.release();
    ASSERT_OK(sp_close(dead)); /* nothing is opened before the call: the number stays dead */

    const double t0 = now_ms();
    int rc = sp_select(&rd, &wr, nullptr, 5000);
    const double el = now_ms() - t0;
    EXPECT_EQ(want, rc) << code_str(rc);
    EXPECT_LT(el, 1000) << "a dead socket is ready: the call must not wait";

    EXPECT_EQ(1, sp_sockset_ready(&rd, dead));
    EXPECT_SP(SP_EBADF, sp_sockset_error(&rd, dead));
    EXPECT_EQ(1, sp_sockset_ready(&wr, dead)) << "ready in every set that holds it";
    EXPECT_SP(SP_EBADF, sp_sockset_error(&wr, dead));
#ifndef _WIN32
    EXPECT_EQ(1, sp_sockset_ready(&rd, (sp_socket_t)unopened)) << "descriptor " << unopened;
    EXPECT_SP(SP_EBADF, sp_sockset_error(&rd, (sp_socket_t)unopened));
#endif
    EXPECT_EQ(1, sp_sockset_ready(&rd, busy0)) << "the live ready socket is still answered";
    EXPECT_OK(sp_sockset_error(&rd, busy0));
    EXPECT_EQ(0, sp_sockset_ready(&rd, idle0));
    EXPECT_OK(sp_sockset_error(&rd, idle0));
    EXPECT_EQ(1, sp_sockset_ready(&wr, idle0)) << "the live writable socket is still answered";
    EXPECT_OK(sp_sockset_error(&wr, idle0));
}

/* ---- timeouts ------------------------------------------------------------------------ */

#ifdef _WIN32
const double kEarlyMs = 30; /* Windows timers may end up to a clock tick early */
#else
const double kEarlyMs = 10;
#endif

TEST_F(Select, EmptySetsSleepTheTimeout)
{
    SockSet a, b, c;
    for (int empty = 0; empty < 2; empty++) {
        SCOPED_TRACE(empty ? "three empty sets" : "three NULL sets");
        std::string times;
        bool on_time = false;
        for (int attempt = 0; attempt < 3 && !on_time; attempt++) {
            const double t0 = now_ms();
            int rc = empty ? sp_select(&a, &b, &c, 200) : sp_select(nullptr, nullptr, nullptr, 200);
            const double el = now_ms() - t0;
            EXPECT_EQ(0, rc) << code_str(rc);
            EXPECT_GE(el, 200 - kEarlyMs) << "returned early";
            times += std::to_string((int)el) + " ms ";
            on_time = el <= 250;
        }
        EXPECT_TRUE(on_time) << "200 ms sleeps took " << times;
        const double t0 = now_ms();
        EXPECT_EQ(0, empty ? sp_select(&a, &b, &c, 0) : sp_select(nullptr, nullptr, nullptr, 0));
        EXPECT_LT(now_ms() - t0, late_slack(50)) << "timeout 0";
    }
}

/* ---- failed connects ----------------------------------------------------------------- */

/*
 * A refused non-blocking connect is ready, with SP_ECONNREFUSED as its error, in every set
 * that holds it - the write set on every OS (Windows reports it only in the except set:
 * sp_select looks there itself). sp_connect_finish still says SP_ECONNREFUSED after.
 */
TEST_F(Select, RefusedConnectReadyWithEconnrefused)
{
    struct Case {
        const char *name;
        bool rd, wr, ex;
    } cases[] = {{"write set", false, true, false},
                 {"except set", false, false, true},
                 {"write and except sets", false, true, true},
                 {"read and write sets", true, true, false}};
    for (const Case &k : cases) {
        SCOPED_TRACE(k.name);
        Sock c;
        int rc = 0;
        ASSERT_TRUE(start_refused_connect(c, &rc));
        ASSERT_SP(SP_EINPROGRESS, rc) << "a loopback refusal is reported later";
        SockSet rd, wr, ex;
        if (k.rd) {
            ASSERT_OK(sp_sockset_add(&rd, c));
        }
        if (k.wr) {
            ASSERT_OK(sp_sockset_add(&wr, c));
        }
        if (k.ex) {
            ASSERT_OK(sp_sockset_add(&ex, c));
        }
        /* Windows retries the SYN for about 2 s; Wine and POSIX refuse at once */
        const double t0 = now_ms(), end = t0 + 5000;
        do {
            rc = sp_select(&rd, &wr, &ex, (int)std::max(0.0, end - now_ms()));
            ASSERT_GE(rc, 0) << code_str(rc);
        } while (rc == 0 && now_ms() < end);
        const int sets = (int)k.rd + (int)k.wr + (int)k.ex;
        EXPECT_EQ(sets, rc) << "ready in every set that holds it, after " << (now_ms() - t0)
                            << " ms";
        const std::pair<const char *, sp_sockset *> all[] = {
            {"read", &rd}, {"write", &wr}, {"except", &ex}};
        for (const auto &set : all) {
            if (sp_sockset_count(set.second) == 0)
                continue;
            EXPECT_EQ(1, sp_sockset_ready(set.second, c)) << set.first << " set";
            EXPECT_SP(SP_ECONNREFUSED, sp_sockset_error(set.second, c)) << set.first << " set";
        }
        EXPECT_SP(SP_ECONNREFUSED, sp_connect_finish(c, 0)) << "after sp_select";
    }
}

/*
 * A reset peer: the socket is readable; sp_sockset_error is 0 for a socket only in the
 * read set (the error is left for the recv) and the recv that follows reports it
 * (poll.h), on every OS.
 */
TEST_F(Select, ResetPeerReadableAndRecvReportsIt)
{
    Sock c, s;
    ASSERT_TRUE(tcp_pair(c, s));
    ASSERT_OK(sp_set_nonblocking(s, 1));
    ASSERT_OK(sp_close_abortive(c.release()));
    SockSet rd;
    ASSERT_OK(sp_sockset_add(&rd, s));
    int rc = sp_select(&rd, nullptr, nullptr, 5000);
    EXPECT_EQ(1, rc) << code_str(rc);
    EXPECT_EQ(1, sp_sockset_ready(&rd, s));
    EXPECT_OK(sp_sockset_error(&rd, s)) << "the reset is left for the recv";
    char buf[8];
    ptrdiff_t r = sp_recv(s, buf, sizeof buf);
    if (is_wine() && r == 0) {
        note_wine("recv after the peer's abortive close returned 0 (Windows: WSAECONNRESET)");
    } else {
        EXPECT_SP(SP_ECONNRESET, r) << "poll.h: the recv that follows sp_select reports the reset";
    }
}

/* ---- EINTR --------------------------------------------------------------------------- */

#ifndef _WIN32
std::atomic<int> g_usr1{0};
std::atomic<long long> g_usr1_at_us{0};
void on_usr1(int)
{
    g_usr1_at_us = (long long)(now_ms() * 1000);
    g_usr1++;
}

TEST_F(Select, RetriesEintrWithTimeLeft)
{
    SignalAction sa(SIGUSR1, on_usr1, 0); /* no SA_RESTART */
    ASSERT_TRUE(sa.ok());
    std::string times;
    bool on_time = false;
    for (int attempt = 0; attempt < 3 && !on_time; attempt++) {
        const int before = g_usr1.load();
        double t0, el;
        int rc;
        {
            DelayedSignal sig(SIGUSR1, 100);
            t0 = now_ms();
            rc = sp_select(nullptr, nullptr, nullptr, 300);
            el = now_ms() - t0;
            ASSERT_TRUE(sig.sent());
        }
        ASSERT_EQ(before + 1, g_usr1.load());
        const double at = g_usr1_at_us.load() / 1000.0 - t0;
        ASSERT_TRUE(at > 0 && at < el)
            << "the signal came " << at << " ms into a call of " << el << " ms: not during it";
        EXPECT_EQ(0, rc) << "EINTR must not surface: " << code_str(rc);
        EXPECT_GE(el, 300 - kEarlyMs) << "returned early after the signal at " << at << " ms";
        times += std::to_string((int)el) + " ms (signal at " + std::to_string((int)at) + ") ";
        on_time = el <= 370;
    }
    EXPECT_TRUE(on_time) << "300 ms sp_select interrupted at 100 ms took " << times
                         << "(about 400: the full timeout restarted after the signal)";
}
#endif

/* ---- the waker ----------------------------------------------------------------------- */

TEST_F(Select, WakerWakesReadSet)
{
    sp_waker *w = nullptr;
    ASSERT_OK(sp_waker_create(&w));
    struct Free {
        sp_waker *w;
        ~Free()
        {
            sp_waker_destroy(w);
        }
    } free_w{w};
    Sock idle0, idle1, r0, r1;
    ASSERT_TRUE(socket_pair(idle0, idle1));
    ASSERT_TRUE(socket_pair(r0, r1)); /* the watchdog's way out */
    const sp_socket_t ws = sp_waker_socket(w);
    SockSet rd;
    ASSERT_OK(sp_sockset_add(&rd, idle0));
    ASSERT_OK(sp_sockset_add(&rd, ws));
    ASSERT_OK(sp_sockset_add(&rd, r0));

    EXPECT_EQ(0, sp_select(&rd, nullptr, nullptr, 100)) << "a new waker is not readable";

    std::atomic<int> wake_rc{1};
    int rc;
    bool fired;
    const double t0 = now_ms();
    {
        std::thread t([&] {
            sleep_ms(100);
            wake_rc = sp_waker_wake(w);
        });
        Watchdog wd(5000, [&] { sp_send(r1, "!", 1); });
        rc = sp_select(&rd, nullptr, nullptr, -1);
        fired = wd.fired();
        t.join();
    }
    const double el = now_ms() - t0;
    EXPECT_FALSE(fired) << "the wake did not end sp_select; the watchdog did after 5 s";
    EXPECT_OK(wake_rc.load());
    EXPECT_EQ(1, rc) << code_str(rc);
    EXPECT_GE(el, 80) << "an sp_select with no timeout returned before the wake";
    EXPECT_EQ(1, sp_sockset_ready(&rd, ws));
    EXPECT_OK(sp_sockset_error(&rd, ws));
    EXPECT_EQ(0, sp_sockset_ready(&rd, idle0));

    EXPECT_OK(sp_waker_drain(w));
    EXPECT_EQ(0, sp_select(&rd, nullptr, nullptr, 100)) << "drained";
    EXPECT_EQ(0, sp_sockset_ready(&rd, ws));
}

} // namespace
