/*
 * test_server_start.cc - sp_server_start returns only once the server is ready (its
 * poller made, its listeners watched) and returns a setup error itself, in every model
 * the OS has: a poller this system lacks (SOCKPORT_POLLER), and on POSIX a process out of
 * descriptors; a client that connects right after it is served; a stop right after it
 * ends the run cleanly.
 */
#include "helpers.h"

#include <sockport.h>

#include "server.h" /* the engine's state: the poller and its registry (white box) */

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#ifndef _WIN32
#    include <sys/resource.h>
#    include <unistd.h>
#endif

using namespace sptest;

namespace
{

std::atomic<int> g_opens{0};

void start_open(sp_conn *)
{
    g_opens++;
}

int start_echo(sp_conn *c, const void *msg, size_t len)
{
    return sp_conn_send(c, msg, len);
}

const sp_server_handler kHandler = {start_open, start_echo, nullptr, nullptr, nullptr};

class ServerStart : public SpTest, public ::testing::WithParamInterface<int>
{
  protected:
    void SetUp() override
    {
        SpTest::SetUp();
        g_opens = 0;
        ASSERT_OK(sp_framer_prefix(&framer_, 4, 0, 1 << 16));
        sp_server_config_init(&cfg_);
        cfg_.model = GetParam();
        cfg_.handler = &kHandler;
        cfg_.framer = &framer_;
        env_.set(nullptr); /* the OS's own poller unless a test says otherwise */
    }
    void TearDown() override
    {
        if (srv_ != nullptr) {
            sp_server_stop(srv_);
            if (started_) {
                EXPECT_OK(sp_server_wait(srv_));
            }
            sp_server_destroy(srv_);
        }
        SpTest::TearDown();
    }
    /* Create and listen on loopback (not started); GTEST_SKIP for a model the OS lacks. */
    void make()
    {
        int rc = sp_server_create(&srv_, &cfg_);
        if (rc == SP_ENOTSUP)
            GTEST_SKIP() << "this model: SP_ENOTSUP on this OS";
        ASSERT_OK(rc);
        ASSERT_OK(sp_server_listen(srv_, "127.0.0.1:0"));
        sp_addr a;
        ASSERT_OK(sp_server_local_addr(srv_, 0, &a));
        addr_ = addr_str(a);
    }
    void destroy()
    {
        sp_server_destroy(srv_);
        srv_ = nullptr;
        started_ = false;
    }
    /* sp_server_start fails with `want` and leaves no run to wait for. A start that
     * succeeds is stopped and waited for (a failure, not a hang). `limit`: the descriptor
     * limit to restore right after the start (POSIX). */
    ::testing::AssertionResult start_fails(int want, const void *limit = nullptr)
    {
        const int rc = sp_server_start(srv_);
#ifndef _WIN32
        if (limit != nullptr && setrlimit(RLIMIT_NOFILE, (const struct rlimit *)limit) != 0)
            return ::testing::AssertionFailure() << "cannot restore the descriptor limit";
#else
        (void)limit;
#endif
        if (rc == 0) {
            sp_server_stop(srv_);
            const int run = sp_server_wait(srv_);
            return ::testing::AssertionFailure() << "started (the run then returned "
                                                 << code_str(run) << "), want " << code_str(want);
        }
        if (rc != want)
            return ::testing::AssertionFailure()
                   << "start returned " << code_str(rc) << ", want " << code_str(want);
        const int w = sp_server_wait(srv_);
        if (w != SP_EINVAL)
            return ::testing::AssertionFailure()
                   << "a failed start left a run to wait for: " << code_str(w);
        return ::testing::AssertionSuccess();
    }
    /* Whether s is in the server's poller registry (read directly: the registry's
     * functions are not exported from a shared library). */
    bool registered(sp_socket_t s) const
    {
        const sp__regmap &m = srv_->poller->regs;
        for (size_t i = 0; i < m.cap; i++)
            if (m.slots[i] != nullptr && m.slots[i]->sock == s)
                return true;
        return false;
    }
    /* One framed message to the server and its echo back, on a new connection. */
    ::testing::AssertionResult echo_once()
    {
        Sock s;
        int rc = sp_dial(s.out(), addr_.c_str(), 10000);
        if (rc != 0)
            return step_failed("dial", rc);
        const unsigned char msg[5] = {'r', 'e', 'a', 'd', 'y'};
        if ((rc = sp_frame_send(s.get(), &framer_, msg, sizeof msg, 30000)) != 0)
            return step_failed("send", rc);
        sp_frame_decoder d;
        sp_frame_decoder_init(&d, &framer_);
        sp_frame_msg m;
        rc = sp_frame_recv(s.get(), &d, &m, 30000);
        bool same = rc == 1 && m.len == sizeof msg && std::memcmp(m.data, msg, sizeof msg) == 0;
        sp_frame_decoder_free(&d);
        if (!same)
            return ::testing::AssertionFailure() << "no echo (recv: " << code_str(rc) << ")";
        return ::testing::AssertionSuccess();
    }

    EnvVar env_{"SOCKPORT_POLLER"};
    sp_framer framer_;
    sp_server_config cfg_;
    sp_server *srv_ = nullptr;
    bool started_ = false;
    std::string addr_;
};

/* A poller backend this system lacks (sp_poller_create says SP_ENOTSUP), or -1. */
int missing_backend()
{
    const int all[] = {SP_POLLER_EPOLL, SP_POLLER_KQUEUE, SP_POLLER_POLL, SP_POLLER_WSAPOLL};
    for (int b : all) {
        sp_poller *p = nullptr;
        int rc = sp_poller_create(&p, b);
        sp_poller_destroy(p);
        if (rc == SP_ENOTSUP)
            return b;
    }
    return -1;
}

TEST_P(ServerStart, ReturnsThePollerErrorItselfAndCanStartAgain)
{
    make();
    if (IsSkipped() || HasFatalFailure())
        return;
    const int b = missing_backend();
    ASSERT_NE(-1, b) << "every backend exists here: no poller that cannot be made";
    SCOPED_TRACE(std::string("SOCKPORT_POLLER=") + sp_poller_backend_name(b));
    env_.set(sp_poller_backend_name(b));
    ASSERT_TRUE(start_fails(SP_ENOTSUP)) << "the run's setup error, from start itself";
    EXPECT_EQ(0, sp_server_connections(srv_));
    env_.set("nosuch"); /* an unknown name is refused, not replaced by a default */
    ASSERT_TRUE(start_fails(SP_EINVAL));

    env_.set(nullptr); /* the same server starts once the poller can be made */
    ASSERT_OK(sp_server_start(srv_));
    started_ = true;
    EXPECT_TRUE(echo_once());
}

TEST_P(ServerStart, ReturnsWithTheListenersWatched)
{
    /* repeated: a start that returned before its thread had set up would be caught on
     * most rounds (the thread has not run yet when start returns) */
    for (int round = 0; round < 20 && !HasFailure(); round++) {
        make();
        if (IsSkipped() || HasFatalFailure())
            return;
        ASSERT_OK(sp_server_start(srv_));
        started_ = true;
        /* white box: the loop's thread set these before start returned; it changes them
         * only when a client connects, and none has yet */
        ASSERT_NE(nullptr, srv_->poller) << "round " << round << ": no poller yet";
        for (int i = 0; i < srv_->nlisteners; i++)
            EXPECT_TRUE(registered(srv_->listeners[i]))
                << "round " << round << ": listener " << i << " not registered";
        EXPECT_TRUE(registered(sp_waker_socket(srv_->waker))) << "round " << round;
        sp_server_stop(srv_);
        EXPECT_OK(sp_server_wait(srv_));
        destroy();
    }
}

TEST_P(ServerStart, ClientRightAfterStartIsServed)
{
    make();
    if (IsSkipped() || HasFatalFailure())
        return;
    ASSERT_OK(sp_server_start(srv_));
    started_ = true;
    EXPECT_TRUE(echo_once());
    if (GetParam() != SP_MODEL_FORK) { /* a forked child's on_open is not seen here */
        EXPECT_EQ(1, g_opens.load());
    }
}

TEST_P(ServerStart, StopRightAfterStartEndsTheRunCleanly)
{
    for (int round = 0; round < 50 && !HasFailure(); round++) {
        make();
        if (IsSkipped() || HasFatalFailure())
            return;
        if (round % 2 == 1) {
            EXPECT_OK(sp_server_stop(srv_)); /* before the start: honoured at once */
        }
        ASSERT_OK(sp_server_start(srv_));
        EXPECT_OK(sp_server_stop(srv_));
        EXPECT_OK(sp_server_wait(srv_)) << "round " << round;
        EXPECT_SP(SP_EINVAL, sp_server_wait(srv_)) << "waited for once";
        destroy();
    }
}

#ifndef _WIN32
/* Out of descriptors when the run makes its poller (a real EMFILE: the soft limit set to
 * the lowest free descriptor). Only for pollers that need a descriptor of their own. */
TEST_P(ServerStart, ReturnsEmfileWhenOutOfDescriptors)
{
    make();
    if (IsSkipped() || HasFatalFailure())
        return;
    {
        sp_poller *p = nullptr;
        ASSERT_OK(sp_poller_create(&p, SP_POLLER_AUTO));
        const int b = sp_poller_backend(p);
        sp_poller_destroy(p);
        if (b != SP_POLLER_EPOLL && b != SP_POLLER_KQUEUE)
            GTEST_SKIP() << sp_poller_backend_name(b) << ": the poller needs no descriptor";
    }
    struct rlimit old;
    ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
    const int lowest_free = dup(0);
    ASSERT_GE(lowest_free, 0);
    close(lowest_free);
    struct rlimit low = old;
    low.rlim_cur = (rlim_t)lowest_free; /* the next descriptor would be this one: refused */
    ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &low));
    const auto failed = start_fails(SP_EMFILE, &old);
    ASSERT_TRUE(failed);

    ASSERT_OK(sp_server_start(srv_)); /* descriptors back: it starts */
    started_ = true;
    EXPECT_TRUE(echo_once());
}
#endif

std::vector<int> os_models()
{
    std::vector<int> v{SP_MODEL_THREADS, SP_MODEL_EVENTS};
#ifndef _WIN32
    v.push_back(SP_MODEL_FORK);
#endif
    return v;
}

INSTANTIATE_TEST_SUITE_P(Models, ServerStart, ::testing::ValuesIn(os_models()),
                         [](const ::testing::TestParamInfo<int> &p) {
                             return std::string(p.param == SP_MODEL_THREADS ? "threads"
                                                : p.param == SP_MODEL_FORK  ? "fork"
                                                                            : "events");
                         });

} // namespace
