/*
 * test_server_engine.cc - the server engine under a crowd: many clients that connect at
 * once are all accepted and served promptly in every model (the fork model accepts as
 * fast as clients arrive and reaps its children without waiting for the next client).
 */
#include "fault_proc.h"
#include "server_fixture.h"

#include <sockport.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#ifndef _WIN32
#    include <sys/resource.h>
#    include <sys/wait.h>
#    include <unistd.h>
#endif

using namespace sptest;

namespace
{

int echo_message(sp_conn *c, const void *msg, size_t len)
{
    if (len == 3 && std::memcmp(msg, "bye", 3) == 0)
        return -1;
    return sp_conn_send(c, msg, len);
}

const sp_server_handler kEcho = {nullptr, echo_message, nullptr, nullptr, nullptr};

/* Room for n clients and the server's own descriptors (the fork model keeps one per
 * child): raise the soft limit toward the hard one. False when it cannot. */
bool room_for(int n)
{
#ifdef _WIN32
    (void)n;
    return true;
#else
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return false;
    const rlim_t want = (rlim_t)n * 3 + 64;
    if (rl.rlim_cur >= want)
        return true;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
        return false;
    rl.rlim_cur = want;
    return setrlimit(RLIMIT_NOFILE, &rl) == 0;
#endif
}

class ServerEngine : public SpTest, public ::testing::WithParamInterface<int>
{
  protected:
    void SetUp() override
    {
        SpTest::SetUp();
        ASSERT_OK(sp_framer_prefix(&framer_, 4, 0, 1 << 20));
        sp_server_config_init(&cfg_);
        cfg_.model = GetParam();
        cfg_.handler = &kEcho;
        cfg_.framer = &framer_;
    }
    void TearDown() override
    {
        if (srv_ != nullptr) {
            sp_server_stop(srv_);
            sp_server_wait(srv_);
            sp_server_destroy(srv_);
        }
        SpTest::TearDown();
    }
    void start()
    {
        if (GetParam() == SP_MODEL_FORK && SP_FP_SANITIZED)
            GTEST_SKIP() << "fork model in a sanitizer build: a child of a threaded process "
                            "may stall in the sanitizer's allocator (server.h)";
        sp_addr a;
        ASSERT_TRUE(serve(&srv_, cfg_, &a));
        addr_ = addr_str(a);
    }

    sp_framer framer_;
    sp_server_config cfg_;
    sp_server *srv_ = nullptr;
    std::string addr_;
};

/* 1,000 clients connect at once, and each one that has its echo asks again at once, so
 * that the connections served keep the server busy while the rest are still waiting to
 * be accepted: every one gets its first echo, none waits more than a few seconds.
 * Issue #14 saw a fork server leave 115-291 of 1,000 unserved for a minute (one accept
 * per round of a loop that its busy children left little time to run). */
TEST_P(ServerEngine, AThousandSimultaneousClientsAllServed)
{
    const int n = is_wine() ? 200 : 1000;
    if (n != 1000)
        std::printf("[  SCALED  ] %d clients instead of 1,000 (Wine)\n", n);
    ASSERT_TRUE(room_for(n)) << "the descriptor limit leaves no room for " << n << " clients";
    cfg_.max_connections = n + 10;
    cfg_.backlog = n + 10; /* (the system's maximum is larger still) */
    start();
    if (IsSkipped() || HasFatalFailure())
        return;
    sp_addr to;
    ASSERT_OK(sp_addr_parse(&to, addr_.c_str()));
#ifndef _WIN32
    if (GetParam() == SP_MODEL_FORK) { /* what one fork of this process costs, for scale */
        const double f0 = now_ms();
        for (int i = 0; i < 10; i++) {
            pid_t pid = fork();
            if (pid == 0)
                _exit(0);
            ASSERT_GT(pid, 0);
            ASSERT_EQ(pid, waitpid(pid, nullptr, 0));
        }
        std::printf("[ MEASURED ] a fork, _exit and waitpid of this process: %.2f ms\n",
                    (now_ms() - f0) / 10);
    }
#endif
    sp_poller *p = nullptr;
    ASSERT_OK(sp_poller_create(&p, SP_POLLER_AUTO));
    std::vector<Sock> cs(n);
    std::vector<double> began(n), waited(n, -1);
    std::vector<size_t> got(n, 0);
    std::vector<char> connected(n, 0);
    const double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        ASSERT_OK(sp_socket_open(cs[i].out(), sp_addr_family(&to), SP_SOCK_STREAM));
        ASSERT_OK(sp_set_nonblocking(cs[i], 1));
        began[i] = now_ms();
        int rc = sp_connect_start(cs[i], &to);
        ASSERT_TRUE(rc == 0 || rc == SP_EINPROGRESS) << "client " << i << ": " << code_str(rc);
        ASSERT_OK(sp_poller_add(p, cs[i], SP_EV_WRITE, (void *)(intptr_t)i));
    }
    auto ask = [&](int i) {
        uint32_t v = (uint32_t)i;
        got[i] = 0;
        return sp_frame_send(cs[i], &framer_, &v, sizeof v, 10000);
    };
    int done = 0;
    long long echoes = 0;
    while (done < n && now_ms() - t0 < 60000) {
        sp_event ev[64];
        int k = sp_poller_wait(p, ev, 64, 1000);
        ASSERT_GE(k, 0) << code_str(k);
        for (int e = 0; e < k; e++) {
            const int i = (int)(intptr_t)ev[e].data;
            if (!connected[i]) {
                ASSERT_OK(sp_connect_finish(cs[i], 0)) << "client " << i;
                connected[i] = 1;
                ASSERT_OK(ask(i)) << "client " << i;
                ASSERT_OK(sp_poller_modify(p, cs[i], SP_EV_READ, (void *)(intptr_t)i));
                continue;
            }
            unsigned char buf[8];
            ptrdiff_t r = sp_recv(cs[i], buf, 8 - got[i]);
            if (r == SP_EAGAIN)
                continue;
            ASSERT_GT(r, 0) << "client " << i << ": " << code_str(r);
            got[i] += (size_t)r;
            if (got[i] < 8)
                continue;
            echoes++;
            if (waited[i] < 0) {
                waited[i] = now_ms() - began[i];
                done++;
            }
            ASSERT_OK(ask(i)) << "client " << i; /* and again: keep the server busy */
        }
    }
    sp_poller_destroy(p);
    int unserved = 0;
    double worst = 0, total = 0;
    for (int i = 0; i < n; i++) {
        if (waited[i] < 0)
            unserved++;
        else
            total += waited[i];
        worst = std::max(worst, waited[i]);
    }
    std::printf("[ MEASURED ] %s: %d clients at once: %d served, the longest wait for a first "
                "echo %.0f ms, mean %.0f ms; %lld echoes meanwhile\n",
                model_name(GetParam()), n, n - unserved, worst,
                n > unserved ? total / (n - unserved) : 0.0, echoes);
    EXPECT_EQ(0, unserved) << "clients never served within 60 s";
    /* Each fork copies this large, multi-threaded test process while the children already
     * served keep the machine busy: the last of 1,000 children starts seconds after the
     * first (about 2 s alone, up to 11 s at a load average of 35 on 2 cores, measured).
     * The bound is what the fork cost allows; a client left in the backlog waits a
     * minute or more (issue #14). */
    EXPECT_LT(worst, 30000.0) << "a client waited more than 30 s for its first echo";
    /* end: our sending side (the fork model's children hold copies of these sockets) */
    for (int i = 0; i < n; i++)
        sp_shutdown(cs[i], SP_SHUT_WR);
    const double t1 = now_ms();
    while (sp_server_connections(srv_) > 0 && now_ms() - t1 < 20000)
        sleep_ms(10);
    EXPECT_EQ(0, sp_server_connections(srv_)) << "connections left after every client ended";
}

/* The fork model reaps a child as it ends, not when the next client comes: with no new
 * client, the count of connections falls to zero and no child is left a zombie. */
TEST_P(ServerEngine, EndedConnectionsReapedWithoutNewClients)
{
    start();
    if (IsSkipped() || HasFatalFailure())
        return;
    std::vector<Sock> cs(5);
    for (auto &c : cs) {
        ASSERT_OK(sp_dial(c.out(), addr_.c_str(), 10000));
        ASSERT_OK(sp_frame_send(c, &framer_, "hi", 2, 5000));
    }
    for (auto &c : cs) {
        sp_frame_decoder d;
        sp_frame_msg m;
        ASSERT_OK(sp_frame_decoder_init(&d, &framer_));
        EXPECT_EQ(1, sp_frame_recv(c, &d, &m, 10000));
        sp_frame_decoder_free(&d);
        ASSERT_OK(sp_frame_send(c, &framer_, "bye", 3, 5000)); /* the server closes */
    }
    const double t0 = now_ms();
    while (sp_server_connections(srv_) > 0 && now_ms() - t0 < 5000)
        sleep_ms(1);
    const double took = now_ms() - t0;
    EXPECT_EQ(0, sp_server_connections(srv_));
    std::printf("[ MEASURED ] %s: 5 ended connections counted out in %.0f ms\n",
                model_name(GetParam()), took);
#ifndef _WIN32
    if (GetParam() == SP_MODEL_FORK) {
        /* our only children are the server's: none may be waiting to be reaped */
        errno = 0;
        EXPECT_EQ(-1, waitpid(-1, nullptr, WNOHANG)) << "a child is left (zombie)";
        EXPECT_EQ(ECHILD, errno);
    }
#endif
}

INSTANTIATE_TEST_SUITE_P(Models, ServerEngine, ::testing::ValuesIn(os_models()), model_param_name);

} // namespace
