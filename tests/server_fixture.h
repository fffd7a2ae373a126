/*
 * server_fixture.h - the server that the server suites share (test_server.cc,
 * test_fault_net.cc, test_fault_proc.cc): a sockport server on 127.0.0.1 with a 4-byte
 * length-prefix framer, started in one concurrency model, and a client's dial and framed
 * echo against it.
 *
 *   TestServer     an object a test makes (several per test, or none): start(model),
 *                  dial(), echo(), stop(), destroy(); the destructor stops and destroys.
 *   serve          create, listen and start a server of a config (each step named when it
 *                  fails).
 *   ServerFixture  a GoogleTest fixture that is a TestServer between sp_init() and
 *                  sp_cleanup(): start() skips a model the OS lacks, start_and_dial()
 *                  also dials a client, timed_stop() times the stop, and TearDown stops,
 *                  waits (the wait must succeed) and destroys.
 *   GlobalBinding  points a handler's global at the fixture's records while it lives.
 */
#ifndef SOCKPORT_TESTS_SERVER_FIXTURE_H
#define SOCKPORT_TESTS_SERVER_FIXTURE_H

#include "helpers.h"

#include <string>
#include <vector>

namespace sptest
{

/* "threads", "fork" or "events". */
inline const char *model_name(int m)
{
    return m == SP_MODEL_THREADS ? "threads" : m == SP_MODEL_FORK ? "fork" : "events";
}

/* The name of an sp_close_reason ("ORDERLY", ...). */
inline const char *reason_name(int r)
{
    static const char *const names[] = {"ORDERLY",   "ERROR",    "IDLE",
                                        "TOO_LARGE", "STOPPING", "HANDLER"};
    return r >= 0 && r < 6 ? names[r] : "?";
}

/* One message as it goes on the wire with framer f (the parts of sp_frame_encode joined);
 * empty when the framer refuses the payload. */
inline std::string frame_wire(const sp_framer &f, const std::string &payload)
{
    unsigned char hdr[SP_FRAME_HEADER_MAX];
    sp_iovec iov[2];
    int n = sp_frame_encode(&f, payload.data(), payload.size(), hdr, iov);
    std::string out;
    for (int i = 0; i < n; i++)
        out.append((const char *)iov[i].base, (size_t)iov[i].len);
    return out;
}

/* The models this OS has (fork is POSIX only). */
inline std::vector<int> os_models()
{
#ifdef _WIN32
    return {SP_MODEL_THREADS, SP_MODEL_EVENTS};
#else
    return {SP_MODEL_THREADS, SP_MODEL_FORK, SP_MODEL_EVENTS};
#endif
}

/* The name of a test parameterised by model: "threads", "fork", "events". */
inline std::string model_param_name(const ::testing::TestParamInfo<int> &p)
{
    return model_name(p.param);
}

/*
 * A server of cfg listening on `where` (its address in *addr), started on its own thread
 * when `start`. The first step that fails is named; *create_rc (when given) is what
 * sp_server_create said (SP_ENOTSUP: the OS lacks the model). What was created stays in
 * *srv for the caller to destroy.
 */
inline ::testing::AssertionResult serve(sp_server **srv, const sp_server_config &cfg, sp_addr *addr,
                                        bool start = true, const char *where = "127.0.0.1:0",
                                        int *create_rc = nullptr)
{
    int rc = sp_server_create(srv, &cfg);
    if (create_rc != nullptr)
        *create_rc = rc;
    if (rc != 0)
        return step_failed("sp_server_create", rc);
    if ((rc = sp_server_listen(*srv, where)) != 0)
        return step_failed("sp_server_listen", rc);
    if ((rc = sp_server_local_addr(*srv, 0, addr)) != 0)
        return step_failed("sp_server_local_addr", rc);
    if (start && (rc = sp_server_start(*srv)) != 0)
        return step_failed("sp_server_start", rc);
    return ::testing::AssertionSuccess();
}

class TestServer
{
  public:
    /* A server config for `handler` with a 4-byte prefix framer of messages up to
     * max_message bytes; change cfg before start(). */
    explicit TestServer(const sp_server_handler *handler = nullptr, size_t max_message = 1 << 20)
    {
        sp_server_config_init(&cfg);
        cfg.handler = handler;
        cfg.framer = &framer;
        framer_rc = sp_framer_prefix(&framer, 4, 0, max_message);
    }
    ~TestServer()
    {
        destroy();
    }
    TestServer(const TestServer &) = delete;
    TestServer &operator=(const TestServer &) = delete;

    /* Create in `model`, listen on `where`, start. A model the OS lacks fails with
     * unsupported set (the fixture's start() skips then). */
    ::testing::AssertionResult start(int model, const char *where = "127.0.0.1:0")
    {
        cfg.model = model;
        unsupported = false;
        if (framer_rc != 0)
            return step_failed("sp_framer_prefix", framer_rc);
        sp_addr a;
        int create_rc = 0;
        auto r = serve(&srv, cfg, &a, true, where, &create_rc);
        unsupported = create_rc == SP_ENOTSUP;
        if (!r)
            return r;
        addr = addr_str(a);
        port = sp_addr_port(&a);
        running = true;
        return ::testing::AssertionSuccess();
    }
    /* Stop and wait for the run; what sp_server_wait said (0 when not running). */
    int stop()
    {
        if (!running)
            return 0;
        running = false;
        sp_server_stop(srv);
        return sp_server_wait(srv);
    }
    void destroy()
    {
        stop();
        sp_server_destroy(srv);
        srv = nullptr;
    }
    ::testing::AssertionResult dial(Sock &s, int timeout_ms = 5000)
    {
        int rc = sp_dial(s.out(), addr.c_str(), timeout_ms);
        if (rc != 0)
            return ::testing::AssertionFailure() << "dial " << addr << ": " << code_str(rc);
        return ::testing::AssertionSuccess();
    }
    /* Send one framed message and check its echo, with the connection's decoder `d`
     * (what arrives behind the echo stays in it). */
    ::testing::AssertionResult echo(sp_socket_t s, sp_frame_decoder *d, const void *p, size_t n,
                                    int timeout_ms)
    {
        int rc = sp_frame_send(s, &framer, p, n, timeout_ms);
        if (rc != 0)
            return ::testing::AssertionFailure()
                   << "echo of " << n << " bytes: send " << code_str(rc);
        sp_frame_msg m = {nullptr, 0};
        rc = sp_frame_recv(s, d, &m, timeout_ms);
        if (rc != 1)
            return ::testing::AssertionFailure()
                   << "echo of " << n << " bytes: recv " << code_str(rc);
        if (m.len != n)
            return ::testing::AssertionFailure()
                   << "echo of " << n << " bytes came back with " << m.len;
        if (n > 0) {
            auto same = same_bytes((const unsigned char *)p, (const unsigned char *)m.data, n);
            if (!same)
                return ::testing::AssertionFailure()
                       << "echo of " << n << " bytes differs: " << same.message();
        }
        return ::testing::AssertionSuccess();
    }
    ::testing::AssertionResult echo(sp_socket_t s, sp_frame_decoder *d, const void *p, size_t n)
    {
        return echo(s, d, p, n, echo_timeout_ms);
    }
    /* The same with a decoder of its own (one request, one reply). */
    ::testing::AssertionResult echo(sp_socket_t s, const void *p, size_t n, int timeout_ms)
    {
        sp_frame_decoder d;
        sp_frame_decoder_init(&d, &framer);
        auto r = echo(s, &d, p, n, timeout_ms);
        sp_frame_decoder_free(&d);
        return r;
    }
    ::testing::AssertionResult echo(sp_socket_t s, const void *p, size_t n)
    {
        return echo(s, p, n, echo_timeout_ms);
    }

    sp_framer framer;
    sp_server_config cfg;
    sp_server *srv = nullptr;
    std::string addr; /* "127.0.0.1:port" once started */
    int port = 0;
    bool running = false;
    int framer_rc = 0;           /* what sp_framer_prefix said (0) */
    bool unsupported = false;    /* start() met SP_ENOTSUP: the OS lacks the model */
    int echo_timeout_ms = 20000; /* echo()'s bound on each of send and receive */
};

/*
 * A fixture that is a TestServer: the derived fixture's constructor gives the handler, the
 * model and echo()'s bound; the test changes cfg and calls start().
 */
class ServerFixture : public SpTest, public TestServer
{
  protected:
    ServerFixture(const sp_server_handler *handler, int model, int echo_timeout)
        : TestServer(handler, 1 << 20)
    {
        cfg.model = model;
        echo_timeout_ms = echo_timeout;
    }
    void SetUp() override
    {
        SpTest::SetUp();
        ASSERT_OK(framer_rc) << "sp_framer_prefix";
    }
    void TearDown() override
    {
        if (srv != nullptr) {
            sp_server_stop(srv);
            if (running) {
                EXPECT_OK(sp_server_wait(srv));
            }
            running = false;
            sp_server_destroy(srv);
            srv = nullptr;
        }
        SpTest::TearDown();
    }
    /* Start in cfg.model on 127.0.0.1; GTEST_SKIP for a model the OS lacks, and for the
     * fork model in a sanitizer build: sp_server_start forks from its thread while the
     * test's thread allocates, and a child of a threaded process may stall in the
     * sanitizers' allocator (server.h; seen under ASan). The plain build and valgrind run
     * every fork test. */
    void start()
    {
        if (cfg.model == SP_MODEL_FORK && sanitized_build())
            GTEST_SKIP() << "fork model in a sanitizer build: a child of a threaded process may "
                            "stall in the sanitizer's allocator (server.h)";
        auto r = TestServer::start(cfg.model);
        if (unsupported)
            GTEST_SKIP() << model_name(cfg.model) << " model: SP_ENOTSUP on this OS";
        ASSERT_TRUE(r);
    }
    /* Stop and wait for the run (even one start() did not mark running). */
    int stop()
    {
        running = false;
        sp_server_stop(srv);
        return sp_server_wait(srv);
    }
    /* stop(), which must succeed; the ms it took. */
    double timed_stop()
    {
        const double t0 = now_ms();
        EXPECT_OK(stop()) << "the timed stop";
        return now_ms() - t0;
    }
    /* start(), then dial c: whether the test goes on (false after a skip or a failure,
     * which is recorded). */
    bool start_and_dial(Sock &c)
    {
        start();
        if (IsSkipped() || HasFatalFailure())
            return false;
        auto r = dial(c);
        if (!r)
            ADD_FAILURE() << r.message();
        return (bool)r;
    }
};

/*
 * Points a file's global at a fixture's member while the fixture lives (the server's
 * handlers reach the test's records through it) and back at nullptr afterwards: after
 * TearDown, which has stopped the server.
 */
template <class T> class GlobalBinding
{
  public:
    GlobalBinding(T *&global, T *value) : global_(global)
    {
        global_ = value;
    }
    ~GlobalBinding()
    {
        global_ = nullptr;
    }
    GlobalBinding(const GlobalBinding &) = delete;
    GlobalBinding &operator=(const GlobalBinding &) = delete;

  private:
    T *&global_;
};

} // namespace sptest

#endif /* SOCKPORT_TESTS_SERVER_FIXTURE_H */
