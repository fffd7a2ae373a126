/*
 * test_socket_io.cc - sockport/socket.h, moving data: send/recv, the _all loops with and
 * without deadlines, scatter/gather, orderly and abortive close, a closed peer without
 * SIGPIPE, EINTR under a signal storm, sp_wait, UDP. Loopback only.
 */
#include "helpers.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#ifndef _WIN32
#    include <csignal>
#    include <pthread.h>
#endif

using namespace sptest;

namespace
{

constexpr size_t MiB = 1024 * 1024;

class SocketIo : public SpTest
{
};

/* Send `data` from one thread while this one receives it; both ends stop the other on a
 * failure so that a broken library fails the test instead of hanging it. */
struct TransferResult {
    int send_rc = -1000, recv_rc = -1000;
    size_t sent = 0, received = 0;
};

TransferResult transfer(Sock &from, Sock &to, const std::vector<unsigned char> &data,
                        std::vector<unsigned char> &got, int timeout_ms)
{
    TransferResult r;
    got.assign(data.size(), 0);
    std::thread sender([&] {
        r.send_rc = sp_send_all(from, data.data(), data.size(), timeout_ms, &r.sent);
        if (r.send_rc != 0)
            sp_shutdown(from, SP_SHUT_WR); /* the receiver sees EOF */
    });
    r.recv_rc = sp_recv_all(to, got.data(), got.size(), timeout_ms, &r.received);
    if (r.recv_rc != 0)
        sp_close_abortive(to.release()); /* the sender sees a reset */
    sender.join();
    return r;
}

} // namespace

/* ---- bulk transfer ------------------------------------------------------------------------ */

class SocketTransfer : public SocketIo, public ::testing::WithParamInterface<int>
{
};

TEST_P(SocketTransfer, EightMebibytesThroughTinyBuffersArriveIntact)
{
    const int timeout_ms = GetParam(); /* -1: blocking calls; else the deadline path */
    Sock c, s;
    ASSERT_TRUE(tcp_pair(c, s, 4096));
    /* 2,048 round trips of 4 KiB: valgrind (one thread at a time) needs ~30 s for them */
    const size_t total = is_valgrind() ? 1 * MiB : 8 * MiB;
    if (is_valgrind())
        std::printf("[  SCALED  ] 1 MiB instead of 8 MiB (valgrind)\n");
    const auto data = make_pattern(total, 5);
    std::vector<unsigned char> got;
    TransferResult r = transfer(c, s, data, got, timeout_ms);
    EXPECT_OK(r.send_rc);
    EXPECT_OK(r.recv_rc);
    EXPECT_EQ(data.size(), r.sent);
    ASSERT_EQ(data.size(), r.received);
    EXPECT_TRUE(same_bytes(data.data(), got.data(), data.size()));
}

INSTANTIATE_TEST_SUITE_P(Timeouts, SocketTransfer, ::testing::Values(-1, 60000),
                         [](const ::testing::TestParamInfo<int> &i) {
                             return i.param < 0 ? std::string("NoDeadline")
                                                : std::string("Deadline");
                         });

/* ---- send_all deadline ---------------------------------------------------------------------- */

namespace
{

/* sp_send_all against a peer that never reads, then check what the peer can read. */
void send_all_until_deadline(bool nonblocking)
{
    Sock c, s;
    ASSERT_TRUE(tcp_pair(c, s, 4096));
    if (nonblocking) {
        ASSERT_OK(sp_set_nonblocking(c, 1));
    }
    const auto data = make_pattern(32 * MiB, 9);
    size_t done = 12345678;
    double t0 = now_ms();
    int rc;
    {
        Watchdog wd(3000, [&] { sp_shutdown(c, SP_SHUT_RDWR); });
        rc = sp_send_all(c, data.data(), data.size(), 500, &done);
        EXPECT_FALSE(wd.fired()) << "sp_send_all blocked past its deadline until a watchdog "
                                    "shut the socket down after 3 s";
    }
    double el = now_ms() - t0;
    EXPECT_SP(SP_ETIMEDOUT, rc);
    EXPECT_GE(el, 480.0) << "returned before the deadline";
    EXPECT_LE(el, 500 + late_slack(200)) << "returned long after the deadline";
    ASSERT_GT(done, 0u) << "some bytes must have been taken";
    ASSERT_LT(done, data.size());

    /* Every byte counted in *done reaches the peer, and not one more. */
    c.reset(); /* orderly close: the system still delivers what it took */
    std::string got;
    EXPECT_EQ(0, read_to_eof(s, got)) << "the peer reads to EOF";
    EXPECT_EQ(done, got.size()) << "*done must be exactly what the peer receives";
    size_t n = std::min(done, got.size());
    EXPECT_TRUE(same_bytes(data.data(), (const unsigned char *)got.data(), n));
}

} // namespace

TEST_F(SocketIo, SendAllDeadlineOnNonBlockingSocket)
{
    send_all_until_deadline(true);
}

TEST_F(SocketIo, SendAllDeadlineOnBlockingSocket)
{
#ifdef _WIN32
    GTEST_SKIP() << "socket.h: on a blocking Windows socket a single send may block past the "
                    "deadline (Winsock has no per-call non-blocking flag)";
#else
    send_all_until_deadline(false);
#endif
}

/* ---- recv_all ------------------------------------------------------------------------------- */

TEST_F(SocketIo, RecvAllStopsAtEofWithWhatArrived)
{
    for (int timeout : {-1, 5000}) {
        Sock c, s;
        ASSERT_TRUE(tcp_pair(c, s));
        EXPECT_TRUE(recv_all_eof_counts(c, s, "hello", 10, timeout)) << "timeout " << timeout;
    }
}

TEST_F(SocketIo, RecvAllDeadline)
{
    Sock c, s;
    ASSERT_TRUE(tcp_pair(c, s));
    ASSERT_EQ(3, sp_send(c, "abc", 3));
    char buf[16] = {0};
    size_t done = 0;
    double t0 = now_ms();
    EXPECT_SP(SP_ETIMEDOUT, sp_recv_all(s, buf, 10, 300, &done));
    double el = now_ms() - t0;
    EXPECT_NEAR(300.0, el, 100.0);
    EXPECT_EQ(3u, done);
    EXPECT_EQ(0, std::memcmp(buf, "abc", 3));
    /* the stream goes on where it stopped */
    ASSERT_EQ(3, sp_send(c, "def", 3));
    EXPECT_OK(sp_recv_all(s, buf, 3, 2000, &done));
    EXPECT_EQ(0, std::memcmp(buf, "def", 3));
}

/* ---- close ------------------------------------------------------------------------------------
 */

TEST_F(SocketIo, RecvReturnsZeroOnOrderlyClose)
{
    Sock c, s;
    ASSERT_TRUE(tcp_pair(c, s));
    ASSERT_EQ(3, sp_send(c, "end", 3));
    c.reset();
    ASSERT_OK(sp_set_recv_timeout(s, 2000));
    char buf[8];
    size_t done = 0;
    ASSERT_OK(sp_recv_all(s, buf, 3, 2000, &done));
    EXPECT_EQ(0, std::memcmp(buf, "end", 3));
    EXPECT_EQ(0, sp_recv(s, buf, sizeof buf)) << "orderly close";
    EXPECT_EQ(0, sp_recv(s, buf, sizeof buf)) << "and again";
}

TEST_F(SocketIo, HttpLikeExchangeWithHalfClose)
{
    Sock c, s;
    ASSERT_TRUE(tcp_pair(c, s));
    const std::string request =
        "POST /upload HTTP/1.0\r\nHost: localhost\r\n\r\n" + std::string(300000, 'q');
    const std::string reply = "HTTP/1.0 200 OK\r\n\r\n" + std::string(400000, 'r');

    std::string got_request;
    long long server_eof = 99;
    int server_send = 99;
    std::thread server([&] {
        server_eof = read_to_eof(s, got_request); /* the request ends at the client's FIN */
        if (server_eof == 0)
            server_send = sp_send_all(s, reply.data(), reply.size(), 10000, nullptr);
        s.reset();
    });

    size_t done = 0;
    EXPECT_OK(sp_send_all(c, request.data(), request.size(), 10000, &done));
    EXPECT_EQ(request.size(), done);
    EXPECT_OK(sp_shutdown(c, SP_SHUT_WR));
    EXPECT_SP(SP_EPIPE, sp_send(c, "x", 1)) << "sending after SP_SHUT_WR";

    std::string got_reply;
    long long client_eof = read_to_eof(c, got_reply);
    server.join();

    EXPECT_EQ(0, server_eof) << "server: recv must return 0 at the client's shutdown";
    EXPECT_TRUE(request == got_request)
        << "request: sent " << request.size() << " bytes, got " << got_request.size();
    EXPECT_OK(server_send);
    EXPECT_EQ(0, client_eof) << "client: recv must return 0 at the server's close";
    EXPECT_TRUE(reply == got_reply)
        << "reply: sent " << reply.size() << " bytes, got " << got_reply.size();
}

TEST_F(SocketIo, AbortiveCloseResetsThePeer)
{
    for (int how = 0; how < 2; how++) {
        SCOPED_TRACE(how == 0 ? "sp_close_abortive" : "sp_set_linger(1, 0) + sp_close");
        Sock c, s;
        ASSERT_TRUE(tcp_pair(c, s));
        if (how == 0) {
            ASSERT_OK(sp_close_abortive(c.release()));
        } else {
            ASSERT_OK(sp_set_linger(c, 1, 0));
            ASSERT_OK(sp_close(c.release()));
        }
        ASSERT_OK(sp_set_recv_timeout(s, 3000));
        char buf[8];
        ptrdiff_t r = sp_recv(s, buf, sizeof buf);
        if (is_wine() && r == 0) {
            /* Wine 8 differs from Windows here: recv after the peer's RST returns 0 (Windows
             * fails it with WSAECONNRESET); the reset shows at the next send (10054). */
            note_wine("recv after the peer's abortive close returned 0 (Windows: "
                      "WSAECONNRESET); checking that the next send fails with WSAECONNRESET");
            ptrdiff_t w = sp_send(s, "x", 1);
            EXPECT_SP(SP_ECONNRESET, w)
                << "Wine 8: recv gave 0 after an abortive close, so the next send must fail "
                   "with WSAECONNRESET";
            continue;
        }
        EXPECT_SP(SP_ECONNRESET, r);
    }
}

TEST_F(SocketIo, SendToClosedPeerIsEpipeWithoutSigpipe)
{
#ifndef _WIN32
    /* SIGPIPE must be at its default (kill the process) and unblocked, or a raised one would
     * go unnoticed. sockport must not change it. */
    struct sigaction cur;
    ASSERT_EQ(0, sigaction(SIGPIPE, nullptr, &cur));
    ASSERT_TRUE(cur.sa_handler == SIG_DFL && !(cur.sa_flags & SA_SIGINFO))
        << "this test needs SIGPIPE at SIG_DFL to prove sockport raises none; the process "
           "that started the tests changed it";
    sigset_t blocked;
    ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, nullptr, &blocked));
    ASSERT_FALSE(sigismember(&blocked, SIGPIPE)) << "SIGPIPE is blocked in this thread";
#endif
    const char *names[] = {"sp_send", "sp_sendv", "sp_send_all"};
    for (int method = 0; method < 3; method++) {
        SCOPED_TRACE(names[method]);
        Sock c, s;
        ASSERT_TRUE(tcp_pair(c, s));
        s.reset(); /* the peer closes */
        sleep_ms(20);
        long long r = 0;
        int tries = 0;
        while (tries < 20) {
            tries++;
            if (method == 0) {
                r = sp_send(c, "x", 1);
            } else if (method == 1) {
                sp_iovec v[2] = {sp_iovec_make("a", 1), sp_iovec_make("b", 1)};
                r = sp_sendv(c, v, 2);
            } else {
                r = sp_send_all(c, "xy", 2, 2000, nullptr);
            }
            if (r < 0)
                break;
            sleep_ms(10);
        }
        ASSERT_LT(r, 0) << "sending to a closed peer still succeeds after " << tries << " tries";
        EXPECT_LE(tries, 5) << "the failure must come within a few sends";
#ifdef _WIN32
        /* Windows reports a gone peer as any of these */
        EXPECT_TRUE(r == SP_EPIPE || r == SP_ECONNRESET || r == SP_ECONNABORTED) << code_str(r);
#else
        EXPECT_SP(SP_EPIPE, r);
#endif
        EXPECT_TRUE(sp_err_is_peer_gone((int)r)) << code_str(r);
    }
#ifndef _WIN32
    ASSERT_EQ(0, sigaction(SIGPIPE, nullptr, &cur));
    EXPECT_TRUE(cur.sa_handler == SIG_DFL) << "sockport changed the SIGPIPE disposition";
    sigset_t pending;
    ASSERT_EQ(0, sigpending(&pending));
    EXPECT_FALSE(sigismember(&pending, SIGPIPE)) << "a SIGPIPE was raised";
#endif
}

/* ---- EINTR ------------------------------------------------------------------------------------
 */

#ifndef _WIN32
namespace
{
std::atomic<int> g_usr1_delivered{0};
void on_usr1(int)
{
    g_usr1_delivered.fetch_add(1, std::memory_order_relaxed);
}
} // namespace
#endif

class SocketSignals : public SocketIo, public ::testing::WithParamInterface<int>
{
};

TEST_P(SocketSignals, SignalStormLosesNoByte)
{
#ifdef _WIN32
    GTEST_SKIP() << "POSIX only: Windows has no signals that interrupt socket calls";
#else
    const int timeout_ms = GetParam();
    /* A handler without SA_RESTART: every blocking call it interrupts fails with EINTR. */
    struct sigaction sa, old;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    ASSERT_EQ(0, sigaction(SIGUSR1, &sa, &old));
    struct Restore {
        struct sigaction old;
        ~Restore()
        {
            sigaction(SIGUSR1, &old, nullptr);
        }
    } restore{old};
    g_usr1_delivered = 0;

    Sock c, s;
    ASSERT_TRUE(tcp_pair(c, s, 4096));
    /* valgrind runs one thread at a time and delivers signals slowly: less data there */
    const size_t total = is_valgrind() ? 2 * MiB : 64 * MiB;
    if (is_valgrind())
        std::printf("[  SCALED  ] 2 MiB instead of 64 MiB (valgrind)\n");
    const auto data = make_pattern(total, 13);
    std::vector<unsigned char> got(data.size());
    std::atomic<bool> send_finished{false}, recv_finished{false};
    int send_rc = -1000, recv_rc = -1000;
    size_t sent = 0, received = 0;

    std::thread sender([&] {
        send_rc = sp_send_all(c, data.data(), data.size(), timeout_ms, &sent);
        if (send_rc != 0)
            sp_shutdown(c, SP_SHUT_WR);
        send_finished = true;
    });
    std::thread receiver([&] {
        recv_rc = sp_recv_all(s, got.data(), got.size(), timeout_ms, &received);
        if (recv_rc != 0)
            sp_close_abortive(s.release());
        recv_finished = true;
    });
    /* Both threads stay joinable (so their ids valid) until the storm has stopped. */
    const pthread_t st = sender.native_handle(), rt = receiver.native_handle();
    long sent_signals = 0;
    std::thread storm([&] {
        while (!send_finished || !recv_finished) {
            if (!send_finished && pthread_kill(st, SIGUSR1) == 0)
                sent_signals++;
            if (!recv_finished && pthread_kill(rt, SIGUSR1) == 0)
                sent_signals++;
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
    });
    storm.join();
    sender.join();
    receiver.join();

    EXPECT_OK(send_rc) << "no EINTR may surface from sp_send_all";
    EXPECT_OK(recv_rc) << "no EINTR may surface from sp_recv_all";
    EXPECT_EQ(data.size(), sent);
    ASSERT_EQ(data.size(), received);
    EXPECT_TRUE(same_bytes(data.data(), got.data(), data.size()));
    const int delivered = g_usr1_delivered.load();
    RecordProperty("signals_delivered", delivered);
    /* valgrind moves its 2 MiB in about 0.5 s and delivers a signal only when it switches
     * threads: 51 of 53 sent arrived there (CI), enough to have cut calls mid-way */
    const int enough = is_valgrind() ? 20 : 100;
    EXPECT_GT(delivered, enough) << "the storm was too weak to prove anything (" << sent_signals
                                 << " sent)";
#endif
}

INSTANTIATE_TEST_SUITE_P(Timeouts, SocketSignals, ::testing::Values(-1, 60000),
                         [](const ::testing::TestParamInfo<int> &i) {
                             return i.param < 0 ? std::string("NoDeadline")
                                                : std::string("Deadline");
                         });

/* ---- sp_wait ----------------------------------------------------------------------------------
 */

TEST_F(SocketIo, WaitReadWriteAndTimeout)
{
    Sock c, s;
    ASSERT_TRUE(tcp_pair(c, s, 4096));

    double t0 = now_ms();
    int ev = sp_wait(c, SP_EV_WRITE, 1000);
    EXPECT_GT(ev, 0) << code_str(ev);
    EXPECT_TRUE(ev > 0 && (ev & SP_EV_WRITE)) << "a fresh connection has room to send";
    EXPECT_LT(now_ms() - t0, late_slack(100));

    t0 = now_ms();
    EXPECT_EQ(0, sp_wait(s, SP_EV_READ, 200)) << "nothing to read: timeout";
    double el = now_ms() - t0;
    EXPECT_GE(el, 185.0) << "the timeout must be honoured";
    EXPECT_LE(el, 200 + late_slack(100)) << "returned long after the timeout";

    t0 = now_ms();
    EXPECT_EQ(0, sp_wait(s, SP_EV_READ, 0)) << "0 ms: just look";
    EXPECT_LT(now_ms() - t0, late_slack(50));

    ASSERT_EQ(1, sp_send(c, "r", 1));
    t0 = now_ms();
    ev = sp_wait(s, SP_EV_READ, -1);
    EXPECT_EQ(SP_EV_READ, ev) << "data to read, and only the asked events (plus error/hangup)";
    EXPECT_LT(now_ms() - t0, 1000.0);
    ev = sp_wait(s, SP_EV_READ | SP_EV_WRITE, 1000);
    EXPECT_EQ(SP_EV_READ | SP_EV_WRITE, ev);
    char b;
    ASSERT_EQ(1, sp_recv(s, &b, 1));
    EXPECT_EQ(0, sp_wait(s, SP_EV_READ, 50)) << "the byte was taken";

    /* write side: fill the pipe, then it is not writable until the peer reads */
    ASSERT_OK(sp_set_nonblocking(c, 1));
    std::vector<unsigned char> chunk(64 * 1024, 0x5a);
    size_t filled = 0;
    for (int i = 0; i < 10000; i++) {
        ptrdiff_t r = sp_send(c, chunk.data(), chunk.size());
        if (r == SP_EAGAIN)
            break;
        ASSERT_GT(r, 0) << code_str(r);
        filled += (size_t)r;
    }
    ASSERT_GT(filled, 0u);
    t0 = now_ms();
    EXPECT_EQ(0, sp_wait(c, SP_EV_WRITE, 200)) << "a full send buffer is not writable";
    el = now_ms() - t0;
    EXPECT_GE(el, 185.0) << "the timeout must be honoured";
    EXPECT_LE(el, 200 + late_slack(100)) << "returned long after the timeout";
    std::vector<unsigned char> sink(filled);
    size_t got = 0;
    ASSERT_OK(sp_recv_all(s, sink.data(), filled, 5000, &got));
    EXPECT_TRUE(ready(c, SP_EV_WRITE, 2000)) << "writable again once the peer read";

    /* an orderly close is readable */
    c.reset();
    EXPECT_TRUE(ready(s, SP_EV_READ, 2000)) << "the peer's close must wake a reader";
    EXPECT_EQ(0, sp_recv(s, &b, 1));
}

/* ---- scatter / gather -------------------------------------------------------------------------
 */

TEST_F(SocketIo, SendvRecvvScatterGather)
{
    Sock c, s;
    ASSERT_TRUE(tcp_pair(c, s));
    sp_iovec out[3] = {sp_iovec_make("abc", 3), sp_iovec_make("defgh", 5), sp_iovec_make("ij", 2)};
    ASSERT_EQ(10, sp_sendv(c, out, 3));
    ASSERT_TRUE(ready(s, SP_EV_READ, 2000));
    sleep_ms(20); /* one small segment on loopback: let all of it land */
    char r1[4], r2[3], r3[5];
    std::memset(r1, '.', sizeof r1);
    std::memset(r2, '.', sizeof r2);
    std::memset(r3, '.', sizeof r3);
    sp_iovec in[3] = {sp_iovec_make(r1, sizeof r1), sp_iovec_make(r2, sizeof r2),
                      sp_iovec_make(r3, sizeof r3)};
    ASSERT_EQ(10, sp_recvv(s, in, 3));
    EXPECT_EQ(0, std::memcmp(r1, "abcd", 4));
    EXPECT_EQ(0, std::memcmp(r2, "efg", 3));
    EXPECT_EQ(0, std::memcmp(r3, "hij..", 5)) << "the rest of the last buffer is untouched";

    c.reset();
    ASSERT_OK(sp_set_recv_timeout(s, 2000));
    EXPECT_EQ(0, sp_recvv(s, in, 3)) << "orderly close";
}

TEST_F(SocketIo, SendvAllOverThreeBuffers)
{
    for (int timeout : {-1, 30000}) {
        SCOPED_TRACE("timeout " + std::to_string(timeout));
        Sock c, s;
        ASSERT_TRUE(tcp_pair(c, s, 4096));
        const auto data = make_pattern(3 * MiB + 12345, 17);
        const size_t a = MiB + 1, b = 7, rest = data.size() - a - b;
        sp_iovec iov[3] = {sp_iovec_make(data.data(), a), sp_iovec_make(data.data() + a, b),
                           sp_iovec_make(data.data() + a + b, rest)};
        sp_iovec copy[3];
        std::memcpy(copy, iov, sizeof iov);

        std::vector<unsigned char> got(data.size());
        size_t received = 0;
        int recv_rc = -1000;
        std::thread receiver([&] {
            recv_rc = sp_recv_all(s, got.data(), got.size(), 30000, &received);
            if (recv_rc != 0)
                sp_close_abortive(s.release());
        });
        size_t done = 0;
        int rc = sp_sendv_all(c, iov, 3, timeout, &done);
        if (rc != 0)
            sp_shutdown(c, SP_SHUT_WR);
        receiver.join();
        EXPECT_OK(rc);
        EXPECT_EQ(data.size(), done);
        EXPECT_OK(recv_rc);
        ASSERT_EQ(data.size(), received);
        EXPECT_TRUE(same_bytes(data.data(), got.data(), data.size()));
        EXPECT_EQ(0, std::memcmp(copy, iov, sizeof iov)) << "the array must not be modified";
    }

    /* empty buffers among them */
    Sock c, s;
    ASSERT_TRUE(tcp_pair(c, s));
    sp_iovec iov[4] = {sp_iovec_make("", 0), sp_iovec_make("ab", 2), sp_iovec_make("", 0),
                       sp_iovec_make("c", 1)};
    size_t done = 0;
    EXPECT_OK(sp_sendv_all(c, iov, 4, 2000, &done));
    EXPECT_EQ(3u, done);
    char buf[3];
    EXPECT_OK(sp_recv_all(s, buf, 3, 2000, nullptr));
    EXPECT_EQ(0, std::memcmp(buf, "abc", 3));
}

/* ---- UDP --------------------------------------------------------------------------------------
 */

namespace
{
::testing::AssertionResult udp_bound(Sock &u, sp_addr *local)
{
    sp_addr lo;
    int rc;
    if ((rc = sp_socket_open(u.out(), SP_AF_INET, SP_SOCK_DGRAM)) != 0)
        return step_failed("sp_socket_open(UDP)", rc);
    sp_addr_loopback(&lo, SP_AF_INET, 0);
    if ((rc = sp_bind(u, &lo, 0)) != 0)
        return step_failed("sp_bind(UDP 127.0.0.1:0)", rc);
    if ((rc = sp_local_addr(u, local)) != 0)
        return step_failed("sp_local_addr(UDP)", rc);
    if ((rc = sp_set_recv_timeout(u, 3000)) != 0)
        return step_failed("sp_set_recv_timeout(UDP)", rc);
    return ::testing::AssertionSuccess();
}
} // namespace

TEST_F(SocketIo, UdpSendtoRecvfromGivesSenderAddress)
{
    Sock a, b;
    sp_addr la, lb;
    ASSERT_TRUE(udp_bound(a, &la));
    ASSERT_TRUE(udp_bound(b, &lb));

    ASSERT_EQ(5, sp_sendto(a, "hello", 5, &lb));
    char buf[64] = {0};
    sp_addr from;
    ASSERT_EQ(5, sp_recvfrom(b, buf, sizeof buf, &from));
    EXPECT_EQ(0, std::memcmp(buf, "hello", 5));
    EXPECT_TRUE(sp_addr_equal(&la, &from)) << addr_str(from) << " vs sender " << addr_str(la);

    /* reply to the address it came from; from may be NULL */
    ASSERT_EQ(3, sp_sendto(b, "ack", 3, &from));
    ASSERT_EQ(3, sp_recvfrom(a, buf, sizeof buf, nullptr));
    EXPECT_EQ(0, std::memcmp(buf, "ack", 3));

    /* datagram boundaries are kept */
    ASSERT_EQ(3, sp_sendto(a, "one", 3, &lb));
    ASSERT_EQ(4, sp_sendto(a, "two!", 4, &lb));
    EXPECT_EQ(3, sp_recvfrom(b, buf, sizeof buf, &from));
    EXPECT_EQ(4, sp_recvfrom(b, buf, sizeof buf, &from));
    EXPECT_EQ(0, std::memcmp(buf, "two!", 4));
}

TEST_F(SocketIo, UdpIgnoresPortUnreachableFromEarlierDatagram)
{
    Sock a, b;
    sp_addr la, lb;
    ASSERT_TRUE(udp_bound(a, &la));
    ASSERT_TRUE(udp_bound(b, &lb));
    sp_addr dead;
    {
        Sock gone;
        ASSERT_TRUE(udp_bound(gone, &dead));
    }
    /* the datagram to the closed port earns an ICMP port unreachable */
    ASSERT_EQ(4, sp_sendto(a, "lost", 4, &dead));
    sleep_ms(50);
    ASSERT_EQ(4, sp_sendto(b, "live", 4, &la));
    char buf[16];
    sp_addr from;
    EXPECT_EQ(4, sp_recvfrom(a, buf, sizeof buf, &from))
        << "recvfrom must not fail because of the earlier ICMP (Windows: WSAECONNRESET unless "
           "SIO_UDP_CONNRESET is off)";
    EXPECT_TRUE(sp_addr_equal(&lb, &from)) << addr_str(from);
    EXPECT_EQ(4, sp_sendto(a, "more", 4, &lb)) << "sending again must work too";
    EXPECT_EQ(4, sp_recvfrom(b, buf, sizeof buf, nullptr));
}
