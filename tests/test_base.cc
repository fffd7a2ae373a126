/*
 * test_base.cc - sockport/base.h: init/cleanup reference counting, versions, platform.
 */
#include "helpers.h"

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using namespace sptest;

namespace
{

/*
 * Bring the init count to zero and say how many references were dropped, so that a test
 * can start from "not initialised" whatever ran before it in this process; restore() puts
 * them back.
 */
class InitCountDrain
{
  public:
    InitCountDrain()
    {
        while (dropped_ < 10000 && sp_cleanup() == 0)
            dropped_++;
    }
    ~InitCountDrain()
    {
        for (int i = 0; i < dropped_; i++)
            sp_init();
    }
    int dropped() const
    {
        return dropped_;
    }

  private:
    int dropped_ = 0;
};

/* Whether sockets can be opened now (on Windows only while a reference is held). */
int try_open_close()
{
    sp_socket_t s;
    int rc = sp_socket_open(&s, SP_AF_INET, SP_SOCK_STREAM);
    if (rc != 0)
        return rc;
    return sp_close(s);
}

} // namespace

TEST(Base, CleanupWithoutInitIsNotInit)
{
    InitCountDrain drain;
    EXPECT_SP(SP_ENOTINIT, sp_cleanup());
    EXPECT_SP(SP_ENOTINIT, sp_cleanup()) << "the count must not go below zero";
    ASSERT_OK(sp_init());
    EXPECT_OK(sp_cleanup());
    EXPECT_SP(SP_ENOTINIT, sp_cleanup());
}

TEST(Base, NestedInitCleanup)
{
    InitCountDrain drain;
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(sp_init()) << "init #" << i;
    }
    for (int i = 0; i < 3; i++) {
        EXPECT_OK(try_open_close())
            << "sockets must work while " << 3 - i << " references are held";
        EXPECT_OK(sp_cleanup()) << "cleanup #" << i;
    }
    EXPECT_SP(SP_ENOTINIT, sp_cleanup()) << "three inits are undone by exactly three cleanups";
}

#ifdef _WIN32
/* Windows: the socket layer really is started by the first sp_init and stopped by the last
 * sp_cleanup (WSAStartup / WSACleanup). */
TEST(Base, WindowsSocketsNeedInit)
{
    InitCountDrain drain;
    sp_socket_t s;
    EXPECT_SP(SP_ENOTINIT, sp_socket_open(&s, SP_AF_INET, SP_SOCK_STREAM))
        << "before sp_init (WSANOTINITIALISED)";
    sp_addr out[2];
    const int resolved = sp_addr_resolve("localhost:80", SP_AF_UNSPEC, SP_SOCK_STREAM, out, 2);
    if (is_wine() && resolved > 0) {
        /* Wine 8 differs from Windows (measured): its getaddrinfo works before WSAStartup,
         * where Windows fails it with WSANOTINITIALISED. */
        note_wine("getaddrinfo works before WSAStartup, so sp_addr_resolve succeeded before "
                  "sp_init (Windows: WSANOTINITIALISED -> SP_ENOTINIT)");
    } else {
        EXPECT_SP(SP_ENOTINIT, resolved) << "resolving a name before sp_init";
    }
    ASSERT_OK(sp_init());
    ASSERT_OK(sp_init());
    EXPECT_OK(sp_cleanup());
    EXPECT_OK(try_open_close()) << "one reference is still held: WSACleanup ran too early";
    EXPECT_OK(sp_cleanup());
    EXPECT_SP(SP_ENOTINIT, sp_socket_open(&s, SP_AF_INET, SP_SOCK_STREAM))
        << "after the last sp_cleanup";
}
#endif

TEST(Base, ConcurrentInitCleanupFromEightThreads)
{
    InitCountDrain drain;
    constexpr int kThreads = 8;
    constexpr int kRounds = 200;
    std::atomic<int> failures{0};
    std::atomic<int> first_bad{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            while (!go.load())
                std::this_thread::yield();
            for (int i = 0; i < kRounds; i++) {
                int rc = sp_init();
                /* This thread holds a reference now: sockets must work, whatever the
                 * other threads do to the count. */
                if (rc == 0 && (i + t) % 4 == 0)
                    rc = try_open_close();
                int rc2 = sp_cleanup();
                if (rc != 0 || rc2 != 0) {
                    failures++;
                    int expected = 0;
                    first_bad.compare_exchange_strong(expected, rc != 0 ? rc : rc2);
                }
            }
        });
    }
    go = true;
    for (auto &th : threads)
        th.join();
    EXPECT_EQ(0, failures.load()) << "first failure: " << code_str(first_bad.load());
    EXPECT_SP(SP_ENOTINIT, sp_cleanup()) << "the count must be back at zero";

    /* Many references taken concurrently, then dropped concurrently: kThreads threads
     * released at once, each calling `call` 50 times; a call that says other than 0 fails. */
    auto all_at_once = [&](int (*call)()) {
        threads.clear();
        go = false;
        for (int t = 0; t < kThreads; t++)
            threads.emplace_back([&] {
                while (!go.load())
                    std::this_thread::yield();
                for (int i = 0; i < 50; i++)
                    if (call() != 0)
                        failures++;
            });
        go = true;
        for (auto &th : threads)
            th.join();
    };
    all_at_once(sp_init);
    EXPECT_OK(try_open_close());
    all_at_once(sp_cleanup);
    EXPECT_EQ(0, failures.load());
    EXPECT_SP(SP_ENOTINIT, sp_cleanup()) << "400 inits are undone by exactly 400 cleanups";
}

TEST(Base, Version)
{
    ASSERT_NE(nullptr, sp_version());
    EXPECT_STREQ(SP_VERSION_STRING, sp_version());
    char expect[32];
    std::snprintf(expect, sizeof expect, "%d.%d.%d", SP_VERSION_MAJOR, SP_VERSION_MINOR,
                  SP_VERSION_PATCH);
    EXPECT_STREQ(expect, SP_VERSION_STRING);
    EXPECT_EQ((SP_VERSION_MAJOR << 16) | (SP_VERSION_MINOR << 8) | SP_VERSION_PATCH,
              SP_VERSION_HEX);
}

TEST(Base, Platform)
{
    ASSERT_NE(nullptr, sp_platform());
#ifdef _WIN32
    EXPECT_STREQ("win32", sp_platform());
#else
    EXPECT_STREQ("posix", sp_platform());
#endif
}

TEST(Base, IovecMake)
{
    char buf[8] = {0};
    sp_iovec v = sp_iovec_make(buf, sizeof buf);
    EXPECT_EQ((void *)buf, (void *)v.base);
    EXPECT_EQ(sizeof buf, (size_t)v.len);
}
