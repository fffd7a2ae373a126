/*
 * test_fault_net.cc - network faults: a peer that vanishes without a word (firewall DROP),
 * a reset from the path (REJECT with a TCP reset), random packet loss, an abortive close
 * in the middle of a message, a client that trickles a message (slowloris) and one that
 * never reads. For the plain socket calls and for the server in every model it has.
 *
 * The firewall faults run in a network namespace the test makes for itself (fault_net.h):
 * its rules match only the victim connection's port, so that a second client - which
 * keeps echoing during and after the fault - shows that the server serves the others.
 * Every wait is bounded, so a mishandled fault fails the test instead of hanging it.
 */
#include "fault_net.h"
#include "helpers.h"
#include "server_fixture.h"

#include <sockport.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace sptest;

namespace
{

/* Time the sanitizers' slowness may add to a bound that a kernel timer sets (a TSan build
 * on a loaded machine woke the server thread 0.9 s after the keepalive ended). */
double sanitizer_slack_ms()
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return 2000.0;
#elif defined(__has_feature)
#    if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return 2000.0;
#    else
    return 0.0;
#    endif
#else
    return 0.0;
#endif
}

void measured(const std::string &what)
{
    std::printf("[ MEASURED ] %s\n", what.c_str());
    std::fflush(stdout);
}

std::string ms_str(double ms)
{
    char b[32];
    std::snprintf(b, sizeof b, "%.2f s", ms / 1000.0);
    return b;
}

/* ---- what the server's handlers saw -------------------------------------------------- */

struct Closed {
    int port;   /* the peer's port */
    int reason; /* sp_close_reason */
    int error;
    double at_ms; /* now_ms() when on_close ran */
};

struct Seen {
    std::mutex mutex;
    std::vector<Closed> closed;
    std::atomic<int> messages{0};
    std::atomic<int> odd_messages{0};   /* a message no well-behaved client sent */
    std::atomic<size_t> reply_bytes{0}; /* > 0: answer 1-byte requests with this many bytes */
    std::atomic<int> replies{0};

    bool find(int port, Closed *out)
    {
        std::lock_guard<std::mutex> lock(mutex);
        for (const Closed &c : closed)
            if (c.port == port) {
                *out = c;
                return true;
            }
        return false;
    }
    /* Wait at most ms for the close of the connection from `port`. */
    bool wait_closed(int port, int ms, Closed *out)
    {
        const double end = now_ms() + ms;
        while (!find(port, out)) {
            if (now_ms() >= end)
                return false;
            sleep_ms(5);
        }
        return true;
    }
    size_t count()
    {
        std::lock_guard<std::mutex> lock(mutex);
        return closed.size();
    }
};

Seen *g_seen;

/* Messages of this length are never sent whole by a well-behaved client of these tests. */
const size_t k_victim_len = 300000;

int on_message(sp_conn *c, const void *msg, size_t len)
{
    g_seen->messages++;
    if (len == k_victim_len)
        g_seen->odd_messages++;
    const size_t big = g_seen->reply_bytes.load();
    if (big > 0 && len == 1) {
        std::vector<unsigned char> reply(big, 'r');
        g_seen->replies++;
        return sp_conn_send(c, reply.data(), reply.size());
    }
    return sp_conn_send(c, msg, len);
}

void on_close(sp_conn *c, int reason, int error)
{
    Closed cl;
    sp_addr peer;
    cl.port = sp_conn_peer(c, &peer) == 0 ? sp_addr_port(&peer) : -1;
    cl.reason = reason;
    cl.error = error;
    cl.at_ms = now_ms();
    std::lock_guard<std::mutex> lock(g_seen->mutex);
    g_seen->closed.push_back(cl);
}

const sp_server_handler handler = {nullptr, on_message, nullptr, on_close, nullptr};

std::string close_str(const Closed &c)
{
    return std::string("SP_CLOSE_") + reason_name(c.reason) + " error " + code_str(c.error);
}

/* ---- a well-behaved client that keeps echoing ---------------------------------------- */

/*
 * Chatter: one connection that echoes a 1000-byte message every period_ms on a thread of
 * its own until stopped, counting the echoes and the failures (the first one described).
 */
class Chatter
{
  public:
    Chatter(const std::string &addr, const sp_framer *f, int period_ms = 50)
        : addr_(addr), framer_(f), period_ms_(period_ms)
    {
    }
    ~Chatter()
    {
        stop();
    }
    ::testing::AssertionResult start()
    {
        int rc = sp_dial(sock_.out(), addr_.c_str(), 5000);
        if (rc != 0)
            return ::testing::AssertionFailure()
                   << "chatter dial " << addr_ << ": " << code_str(rc);
        thread_ = std::thread([this] { run(); });
        return ::testing::AssertionSuccess();
    }
    void stop()
    {
        stop_ = true;
        if (thread_.joinable())
            thread_.join();
    }
    int echoes() const
    {
        return echoes_.load();
    }
    /* Wait until `more` further echoes completed (at most ms). */
    bool wait_more(int more, int ms)
    {
        const int target = echoes_.load() + more;
        const double end = now_ms() + ms;
        while (echoes_.load() < target && failures_.load() == 0 && now_ms() < end)
            sleep_ms(5);
        return echoes_.load() >= target;
    }
    int failures() const
    {
        return failures_.load();
    }
    std::string first_failure()
    {
        std::lock_guard<std::mutex> lock(mutex_);
        return first_;
    }
    int port()
    {
        return local_port(sock_);
    }

  private:
    void fail(const std::string &what)
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (failures_++ == 0)
            first_ = what;
    }
    void run()
    {
        sp_frame_decoder d;
        sp_frame_decoder_init(&d, framer_);
        for (uint64_t i = 1; !stop_; i++) {
            auto msg = make_pattern(1000, i);
            int rc = sp_frame_send(sock_, framer_, msg.data(), msg.size(), 10000);
            if (rc != 0) {
                fail("send " + std::to_string(i) + ": " + code_str(rc));
                break;
            }
            sp_frame_msg m;
            rc = sp_frame_recv(sock_, &d, &m, 10000);
            if (rc != 1) {
                fail("recv " + std::to_string(i) + ": " + code_str(rc));
                break;
            }
            if (m.len != msg.size() ||
                !same_bytes(msg.data(), (const unsigned char *)m.data, m.len)) {
                fail("echo " + std::to_string(i) + " differs");
                break;
            }
            echoes_++;
            sleep_ms(period_ms_);
        }
        sp_frame_decoder_free(&d);
    }

    std::string addr_;
    const sp_framer *framer_;
    int period_ms_;
    Sock sock_;
    std::atomic<bool> stop_{false};
    std::atomic<int> echoes_{0}, failures_{0};
    std::mutex mutex_;
    std::string first_;
    std::thread thread_;
};

/* ---- the server fixture -------------------------------------------------------------- */

class FaultServer : public ServerFixture, public ::testing::WithParamInterface<int>
{
  protected:
    FaultServer() : ServerFixture(&handler, GetParam(), 30000) {}
    bool fork_model() const
    {
        return GetParam() == SP_MODEL_FORK;
    }
    /* The fork model beside client threads of this process: under the sanitizers a child
     * may stall in its first allocation (server.h: their allocators are not fork-safe in a
     * threaded process; test_server.cc skips the same way). */
    bool skip_fork_with_threads()
    {
        return fork_model() && sanitizer_slack_ms() > 0;
    }

    Seen seen_;
    GlobalBinding<Seen> seen_binding_{g_seen, &seen_};
};

/* The keepalive that the faults below use: idle 1 s, probes every 1 s, 3 of them. The
 * bound: idle + interval x count + 1 s. */
const int k_keep_idle = 1, k_keep_intvl = 1, k_keep_cnt = 3;
const double k_keep_bound_ms = (k_keep_idle + k_keep_intvl * k_keep_cnt + 1) * 1000.0;

/* ---- peer vanishes hard (DROP) ------------------------------------------------------- */

/* A blocking sp_recv_all of one byte with no deadline on s, under a watchdog that shuts s
 * down after watchdog_ms (a hang fails instead of holding the suite): what it returned,
 * whether the watchdog fired, and the ms it took. */
struct WatchedRecv {
    int rc;
    bool fired;
    double took;
};
WatchedRecv watched_recv(sp_socket_t s, int watchdog_ms)
{
    WatchedRecv w;
    const double t0 = now_ms();
    {
        Watchdog dog(watchdog_ms, [s] { sp_shutdown(s, SP_SHUT_RDWR); });
        char b;
        w.rc = sp_recv_all(s, &b, 1, -1, nullptr);
        w.fired = dog.fired();
    }
    w.took = now_ms() - t0;
    return w;
}

class FaultNet : public SpTest
{
};

TEST_F(FaultNet, PeerVanishesBlockingRecvTimesOutByKeepalive)
{
    FAULT_NET_NAMESPACE();
    Sock client, server;
    ASSERT_TRUE(tcp_pair(client, server));
    ASSERT_OK(sp_set_keepalive(client, 1, k_keep_idle, k_keep_intvl, k_keep_cnt));
    const int port = local_port(client);
    ASSERT_GT(port, 0);
    Firewall fw;
    /* nothing of this connection gets through, either way: no FIN, no RST, no ACK */
    ASSERT_TRUE(fw.add("INPUT -p tcp --dport " + std::to_string(port) + " -j DROP"));
    ASSERT_TRUE(fw.add("INPUT -p tcp --sport " + std::to_string(port) + " -j DROP"));
    const auto [rc, fired, took] = watched_recv(client, 15000);
    measured("blocking sp_recv_all on a vanished peer, keepalive 1/1/3: " + code_str(rc) +
             " after " + ms_str(took));
    EXPECT_FALSE(fired) << "keepalive never ended the blocking receive (watchdog after 15 s)";
    EXPECT_SP(SP_ETIMEDOUT, rc);
    EXPECT_GE(took, (k_keep_idle + k_keep_intvl * k_keep_cnt) * 1000.0 - 500.0)
        << "ended before keepalive could have";
    EXPECT_LT(took, k_keep_bound_ms + sanitizer_slack_ms());
}

TEST_P(FaultServer, PeerVanishesKeepaliveClosesOnlyThatConnection)
{
    if (fork_model())
        GTEST_SKIP() << "fork: the close happens in a child process, where this test cannot see "
                        "its reason or time, and the vanished client sees nothing";
    FAULT_NET_NAMESPACE();
    cfg.keepalive_idle_s = k_keep_idle;
    cfg.keepalive_interval_s = k_keep_intvl;
    cfg.keepalive_count = k_keep_cnt;
    start();
    if (IsSkipped())
        return;
    Chatter good(addr, &framer);
    ASSERT_TRUE(good.start());
    Sock victim;
    ASSERT_TRUE(dial(victim));
    auto msg = make_pattern(100, 3);
    ASSERT_TRUE(echo(victim, msg.data(), msg.size()));
    const int vport = local_port(victim);
    ASSERT_GT(vport, 0);
    Firewall fw;
    ASSERT_TRUE(fw.add("INPUT -p tcp --dport " + std::to_string(vport) + " -j DROP"));
    ASSERT_TRUE(fw.add("INPUT -p tcp --sport " + std::to_string(vport) + " -j DROP"));
    const double t0 = now_ms();
    const int echoes0 = good.echoes();
    Closed cl;
    const bool closed = seen_.wait_closed(vport, 12000, &cl);
    ASSERT_TRUE(closed) << "the server never closed the vanished connection (12 s)";
    const double took = cl.at_ms - t0;
    measured(std::string(model_name(GetParam())) + ": vanished client closed by keepalive 1/1/3 " +
             "after " + ms_str(took) + " (" + close_str(cl) + ")");
    EXPECT_EQ(SP_CLOSE_ERROR, cl.reason) << close_str(cl);
    EXPECT_SP(SP_ETIMEDOUT, cl.error);
    EXPECT_LT(took, k_keep_bound_ms + sanitizer_slack_ms());
    EXPECT_GT(good.echoes(), echoes0 + 10) << "the other client was not served during the fault";
    EXPECT_TRUE(good.wait_more(5, 5000)) << "the other client was not served after the fault";
    EXPECT_EQ(0, good.failures()) << good.first_failure();
    EXPECT_EQ(1u, seen_.count()) << "only the vanished connection closes";
}

/* ---- RST from the path (REJECT --reject-with tcp-reset) ------------------------------ */

TEST_F(FaultNet, ResetFromPathFailsBlockingRecvAndSendPromptly)
{
    FAULT_NET_NAMESPACE();
    Firewall fw;
    {
        /* a request goes out and the path answers with a reset: the receive waiting for
         * the reply fails at once */
        Sock client, server;
        ASSERT_TRUE(tcp_pair(client, server));
        const int port = local_port(client);
        ASSERT_TRUE(fw.add("INPUT -p tcp --sport " + std::to_string(port) +
                           " -j REJECT --reject-with tcp-reset"));
        ASSERT_OK(sp_send_all(client, "request", 7, 2000, nullptr));
        const auto [rc, fired, took] = watched_recv(client, 10000);
        measured("blocking sp_recv_all after a reset from the path: " + code_str(rc) + " after " +
                 ms_str(took));
        EXPECT_FALSE(fired) << "the reset never ended the blocking receive";
        EXPECT_SP(SP_ECONNRESET, rc);
        EXPECT_LT(took, 1000.0);
    }
    {
        /* a sender: the first send after the reset fails with SP_ECONNRESET */
        Sock client, server;
        ASSERT_TRUE(tcp_pair(client, server));
        const int port = local_port(client);
        ASSERT_TRUE(fw.add("INPUT -p tcp --sport " + std::to_string(port) +
                           " -j REJECT --reject-with tcp-reset"));
        std::vector<unsigned char> chunk(1000, 's');
        const double t0 = now_ms();
        int rc = 0, sends = 0;
        while (rc == 0 && now_ms() - t0 < 5000) {
            rc = sp_send_all(client, chunk.data(), chunk.size(), 2000, nullptr);
            sends++;
            if (rc == 0)
                sleep_ms(5);
        }
        const double took = now_ms() - t0;
        measured("blocking sp_send_all after a reset from the path: " + code_str(rc) + " at send " +
                 std::to_string(sends) + ", " + ms_str(took));
        EXPECT_SP(SP_ECONNRESET, rc);
        EXPECT_LT(took, 1000.0);
        /* afterwards: a reset connection stays failed (POSIX says EPIPE from then on) */
        rc = sp_send_all(client, chunk.data(), chunk.size(), 2000, nullptr);
        EXPECT_TRUE(rc == SP_EPIPE || rc == SP_ECONNRESET) << code_str(rc);
    }
}

TEST_P(FaultServer, ResetFromPathClosesOnlyThatConnection)
{
    if (skip_fork_with_threads())
        GTEST_SKIP() << "fork model with client threads in this process under a sanitizer: "
                        "its allocator is not fork-safe there (server.h); the plain build runs it";
    FAULT_NET_NAMESPACE();
    start();
    if (IsSkipped())
        return;
    Chatter good(addr, &framer);
    ASSERT_TRUE(good.start());
    ASSERT_TRUE(good.wait_more(3, 5000));
    Sock victim;
    ASSERT_TRUE(dial(victim));
    auto msg = make_pattern(100, 4);
    ASSERT_TRUE(echo(victim, msg.data(), msg.size()));
    const int vport = local_port(victim);
    Firewall fw;
    /* what the server sends to the victim is answered by a reset: the server's side of
     * that connection is reset (the victim's own socket sees nothing) */
    ASSERT_TRUE(fw.add("INPUT -p tcp --sport " + std::to_string(port) + " --dport " +
                       std::to_string(vport) + " -j REJECT --reject-with tcp-reset"));
    const double t0 = now_ms();
    ASSERT_OK(sp_frame_send(victim, &framer, msg.data(), msg.size(), 2000));
    if (fork_model()) {
        /* the child's close is not visible here: the connection must be gone, and the
         * victim's next message is not answered */
        sp_frame_decoder d;
        sp_frame_decoder_init(&d, &framer);
        sp_frame_msg m;
        EXPECT_SP(SP_ETIMEDOUT, sp_frame_recv(victim, &d, &m, 500));
        sp_frame_decoder_free(&d);
    } else {
        Closed cl;
        ASSERT_TRUE(seen_.wait_closed(vport, 5000, &cl)) << "the server kept the reset connection";
        const double took = cl.at_ms - t0;
        measured(std::string(model_name(GetParam())) + ": reset connection closed after " +
                 ms_str(took) + " (" + close_str(cl) + ")");
        EXPECT_EQ(SP_CLOSE_ERROR, cl.reason) << close_str(cl);
        EXPECT_SP(SP_ECONNRESET, cl.error);
        EXPECT_LT(took, 1000.0);
        EXPECT_EQ(1u, seen_.count()) << "only the reset connection closes";
    }
    EXPECT_TRUE(good.wait_more(5, 5000)) << "the other client was not served after the reset";
    EXPECT_EQ(0, good.failures()) << good.first_failure();
}

/* ---- random loss --------------------------------------------------------------------- */

TEST_F(FaultNet, FramedEchoIntactUnderTenPercentLoss)
{
    FAULT_NET_NAMESPACE();
    /* the full size everywhere it runs: 64 MiB took 0.6 s natively, 16 MiB 0.3 s with
     * ASan, so no build needs it scaled down */
    const size_t total = (size_t)64 << 20;
    const size_t msg_size = (size_t)1 << 20;
    sp_framer f;
    ASSERT_OK(sp_framer_prefix(&f, 4, 0, msg_size));
    Seen seen;
    g_seen = &seen;
    sp_server_config cfg;
    sp_server_config_init(&cfg);
    cfg.model = SP_MODEL_AUTO;
    cfg.handler = &handler;
    cfg.framer = &f;
    sp_server *srv = nullptr;
    ASSERT_OK(sp_server_create(&srv, &cfg));
    struct Guard {
        sp_server *s;
        ~Guard()
        {
            sp_server_stop(s);
            sp_server_wait(s);
            sp_server_destroy(s);
            g_seen = nullptr;
        }
    } guard{srv};
    ASSERT_OK(sp_server_listen(srv, "127.0.0.1:0"));
    sp_addr a;
    ASSERT_OK(sp_server_local_addr(srv, 0, &a));
    ASSERT_OK(sp_server_start(srv));
    Sock c;
    ASSERT_OK(sp_dial(c.out(), addr_str(a).c_str(), 5000));
    Firewall fw;
    ASSERT_TRUE(fw.add("INPUT -p tcp -m statistic --mode random --probability 0.1 -j DROP"));
    const auto pattern = make_pattern(total, 64);
    const double t0 = now_ms();
    std::atomic<int> send_rc{0};
    size_t received = 0;
    int recv_rc = 1;
    bool fired;
    {
        sp_socket_t s = c;
        Watchdog dog(100000, [s] { sp_shutdown(s, SP_SHUT_RDWR); });
        std::thread writer([&] {
            for (size_t off = 0; off < total; off += msg_size) {
                int rc = sp_frame_send(s, &f, pattern.data() + off, msg_size, -1);
                if (rc != 0) {
                    send_rc = rc;
                    return;
                }
            }
        });
        sp_frame_decoder d;
        sp_frame_decoder_init(&d, &f);
        while (received < total) {
            sp_frame_msg m;
            recv_rc = sp_frame_recv(c, &d, &m, -1);
            if (recv_rc != 1)
                break;
            if (m.len != msg_size) {
                ADD_FAILURE() << "message at " << received << " has " << m.len << " bytes";
                break;
            }
            auto same = same_bytes(pattern.data() + received, (const unsigned char *)m.data, m.len);
            if (!same) {
                ADD_FAILURE() << "at stream offset " << received << ": " << same.message();
                break;
            }
            received += m.len;
        }
        sp_frame_decoder_free(&d);
        if (received < total)
            sp_shutdown(s, SP_SHUT_RDWR); /* let the writer out */
        writer.join();
        fired = dog.fired();
    }
    const double took = now_ms() - t0;
    const long long dropped = fw.packets();
    measured(std::to_string(total >> 20) + " MiB framed echo under 10 % random loss: " +
             std::to_string(received >> 20) + " MiB back, in order, in " + ms_str(took) + ", " +
             std::to_string(dropped) + " packets dropped");
    EXPECT_GT(dropped, 10) << "the loss rule did not drop packets: no fault was made";
    EXPECT_FALSE(fired) << "the echo did not finish within 100 s";
    EXPECT_EQ(total, received) << "receive ended with " << code_str(recv_rc);
    EXPECT_OK(send_rc.load());
}

/* ---- abortive close in the middle of a message --------------------------------------- */

TEST_P(FaultServer, AbortiveCloseMidMessageDropsOnlyThatConnection)
{
    if (skip_fork_with_threads())
        GTEST_SKIP() << "fork model with client threads in this process under a sanitizer: "
                        "its allocator is not fork-safe there (server.h); the plain build runs it";
    start();
    if (IsSkipped())
        return;
    const int clients = 3, per = 60;
    std::atomic<int> failures{0}, echoed{0};
    std::atomic<bool> aborted{false};
    std::vector<std::thread> threads;
    for (int k = 0; k < clients; k++) {
        threads.emplace_back([&, k] {
            Sock s;
            if (!dial(s)) {
                failures++;
                return;
            }
            std::mt19937 rng((unsigned)k + 11);
            for (int i = 0; i < per; i++) {
                /* sizes up to 256 KiB: several segments, in flight while the victim aborts */
                auto msg = make_pattern(rng() % (256 * 1024) + 1, (uint64_t)(k * 1000 + i));
                auto ok = echo(s, msg.data(), msg.size());
                if (!ok) {
                    if (failures++ == 0)
                        ADD_FAILURE() << "client " << k << " message " << i << ": " << ok.message();
                    return;
                }
                echoed++;
                if (i == per / 2) /* the rest of them after the abort */
                    for (int w = 0; w < 500 && !aborted; w++)
                        sleep_ms(10);
            }
        });
    }
    while (echoed.load() < clients * 5 && failures.load() == 0)
        sleep_ms(5);
    /* the victim: the header of a 300000-byte message and half of its payload, then RST */
    Sock victim;
    ASSERT_TRUE(dial(victim));
    const int vport = local_port(victim);
    unsigned char hdr[4];
    sp_store_be32(hdr, (uint32_t)k_victim_len);
    auto half = make_pattern(k_victim_len / 2, 99);
    ASSERT_OK(sp_send_all(victim, hdr, 4, 2000, nullptr));
    ASSERT_OK(sp_send_all(victim, half.data(), half.size(), 5000, nullptr));
    /* the server must have taken the connection (one reset in the backlog would never
     * reach it), and had time to read the half */
    for (int w = 0; w < 500 && sp_server_connections(srv) < clients + 1; w++)
        sleep_ms(10);
    ASSERT_EQ(clients + 1, sp_server_connections(srv)) << "the victim was never accepted";
    sleep_ms(100);
    ASSERT_OK(sp_close_abortive(victim.release()));
    aborted = true;
    for (auto &t : threads)
        t.join();
    EXPECT_EQ(0, failures.load());
    EXPECT_EQ(clients * per, echoed.load()) << "the other clients' messages did not all arrive";
    if (!fork_model()) {
        Closed cl;
        ASSERT_TRUE(seen_.wait_closed(vport, 5000, &cl))
            << "the aborted connection never closed; " << seen_.count() << " others closed, "
            << sp_server_connections(srv) << " open";
        EXPECT_EQ(0, seen_.odd_messages.load()) << "half a message was delivered as a whole one";
        EXPECT_EQ(clients * per, seen_.messages.load());
        if (is_wine() && cl.reason == SP_CLOSE_ERROR && cl.error == SP_EEOF) {
            note_wine("recv after the peer's abortive close (RST) returns 0 under Wine, so the "
                      "server sees the stream end in the middle of a message (SP_EEOF); "
                      "Windows fails the recv with WSAECONNRESET");
        } else {
            EXPECT_EQ(SP_CLOSE_ERROR, cl.reason) << close_str(cl);
            EXPECT_SP(SP_ECONNRESET, cl.error);
        }
        measured(std::string(model_name(GetParam())) +
                 ": half a message then RST: " + close_str(cl));
        /* the others close in order as their clients finish */
        for (int w = 0; w < 500 && seen_.count() < (size_t)clients + 1; w++)
            sleep_ms(10);
        std::lock_guard<std::mutex> lock(seen_.mutex);
        EXPECT_EQ((size_t)clients + 1, seen_.closed.size());
        for (const Closed &o : seen_.closed) {
            if (o.port != vport) {
                EXPECT_EQ(SP_CLOSE_ORDERLY, o.reason) << "another connection: " << close_str(o);
            }
        }
    }
}

/* ---- slow clients -------------------------------------------------------------------- */

TEST_P(FaultServer, SlowlorisIsClosedByIdleTimeout)
{
    if (skip_fork_with_threads())
        GTEST_SKIP() << "fork model with client threads in this process under a sanitizer: "
                        "its allocator is not fork-safe there (server.h); the plain build runs it";
    /* with a framer only whole messages count as activity (server.h): a client that
     * trickles one message a byte at a time is closed like a silent one */
    cfg.idle_timeout_ms = 1000;
    start();
    if (IsSkipped())
        return;
    Chatter good(addr, &framer, 100); /* a whole message every 100 ms: never idle */
    ASSERT_TRUE(good.start());
    Sock victim;
    ASSERT_TRUE(dial(victim));
    const int vport = local_port(victim);
    std::atomic<bool> stop{false};
    std::atomic<int> trickled{0};
    const double t0 = now_ms();
    std::thread trickle([&] {
        /* a header announcing 1000 bytes, then the payload, a byte every 200 ms (~40 s) */
        unsigned char hdr[4];
        sp_store_be32(hdr, 1000);
        for (int i = 0; i < 1004 && !stop; i++) {
            const unsigned char b = i < 4 ? hdr[i] : (unsigned char)i;
            if (sp_send(victim, &b, 1) != 1)
                return;
            trickled++;
            for (int w = 0; w < 20 && !stop; w++)
                sleep_ms(10);
        }
    });
    char b;
    int rc = sp_recv_all(victim, &b, 1, 8000, nullptr);
    const double took = now_ms() - t0;
    stop = true;
    trickle.join();
    measured(std::string(model_name(GetParam())) + ": slowloris (a byte every 200 ms, idle " +
             "timeout 1 s) closed after " + ms_str(took) + ", " + std::to_string(trickled.load()) +
             " bytes in: " + code_str(rc));
    EXPECT_TRUE(rc == SP_EEOF || rc == SP_ECONNRESET)
        << "a client trickling a message was not closed within 8 s: " << code_str(rc);
    EXPECT_LT(took, 3000.0);
    if (!fork_model()) {
        Closed cl;
        ASSERT_TRUE(seen_.wait_closed(vport, 2000, &cl));
        EXPECT_EQ(SP_CLOSE_IDLE, cl.reason) << close_str(cl);
    }
    EXPECT_TRUE(good.wait_more(3, 5000)) << "the chatty client was not served";
    EXPECT_EQ(0, good.failures()) << good.first_failure() << " (closed as idle?)";
}

TEST_P(FaultServer, NonReadingClientIsHeldByBackPressure)
{
    if (fork_model())
        GTEST_SKIP() << "fork: the replies queue up in a child process, whose memory and "
                        "handler calls this test cannot see";
    cfg.output_limit = 1 << 20;
    seen_.reply_bytes = 1 << 20; /* every request is answered with 1 MiB */
    start();
    if (IsSkipped())
        return;
    Chatter good(addr, &framer);
    ASSERT_TRUE(good.start());
    ASSERT_TRUE(good.wait_more(3, 5000));
    Sock hog;
    ASSERT_TRUE(dial(hog));
    const size_t rss0 = resident_bytes();
    const int requests = 300; /* 300 MiB of replies if the server kept reading */
    const unsigned char q = 'q';
    for (int i = 0; i < requests; i++)
        ASSERT_OK(sp_frame_send(hog, &framer, &q, 1, 5000));
    const int echoes0 = good.echoes();
    sleep_ms(1500);
    const size_t rss1 = resident_bytes();
    const int handled = seen_.replies.load(); /* only the hog's requests get 1 MiB */
    const long long grew = (long long)rss1 - (long long)rss0;
    measured(std::string(model_name(GetParam())) + ": a client that never reads, " +
             std::to_string(requests) + " requests for 1 MiB, " + std::to_string(handled) +
             " handled: resident memory grew " + std::to_string(grew >> 20) +
             " MiB; the chatty client got " + std::to_string(good.echoes() - echoes0) +
             " replies meanwhile");
    EXPECT_GT(good.echoes() - echoes0, 3) << "the other client was not served";
    /* the hog's requests: a few until the kernel's buffers and output_limit are full */
    EXPECT_LT(handled, requests / 4)
        << "the server kept reading from a client that does not read its replies";
    if (rss0 > 0 && rss1 > 0) {
        EXPECT_LT(grew, 64ll << 20) << "memory grew with the unread replies";
    }
    /* the hog goes away: the server drops it and goes on */
    const int hport = local_port(hog);
    ASSERT_OK(sp_close_abortive(hog.release()));
    Closed cl;
    EXPECT_TRUE(seen_.wait_closed(hport, 5000, &cl)) << "the server kept the hog";
    EXPECT_TRUE(good.wait_more(3, 5000));
    EXPECT_EQ(0, good.failures()) << good.first_failure();
}

INSTANTIATE_TEST_SUITE_P(Models, FaultServer,
                         ::testing::Values((int)SP_MODEL_THREADS, (int)SP_MODEL_FORK,
                                           (int)SP_MODEL_EVENTS),
                         model_param_name);

} // namespace
