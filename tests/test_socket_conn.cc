/*
 * test_socket_conn.cc - sockport/socket.h, the life of a connection: open, connect
 * (blocking, with a timeout, started and finished), bind / listen / accept, dial /
 * listen_on, socketpair, IPv6 and dual stack, Unix sockets, inheritance, bad input.
 * Loopback only.
 */
#include "helpers.h"

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#ifdef _WIN32
#    include <winsock2.h>
#    include <windows.h>
#else
#    include <cstdlib>
#    include <fcntl.h>
#    include <unistd.h>
#endif

using namespace sptest;

namespace
{

class SocketConn : public SpTest
{
};

bool no_ipv6(int rc)
{
    return rc == SP_EAFNOSUPPORT || rc == SP_EADDRNOTAVAIL;
}

std::string port_text(const char *host, int port)
{
    return std::string(host) + ":" + std::to_string(port);
}

/* One byte each way: the connection really carries data. */
::testing::AssertionResult exchange(sp_socket_t a, sp_socket_t b)
{
    char buf[8] = {0};
    size_t done = 0;
    int rc;
    if (sp_send(a, "ping", 4) != 4)
        return ::testing::AssertionFailure() << "send a->b failed";
    if ((rc = sp_recv_all(b, buf, 4, 5000, &done)) != 0 || std::memcmp(buf, "ping", 4) != 0)
        return ::testing::AssertionFailure() << "recv a->b: " << code_str(rc) << ", " << done;
    if (sp_send(b, "pong", 4) != 4)
        return ::testing::AssertionFailure() << "send b->a failed";
    if ((rc = sp_recv_all(a, buf, 4, 5000, &done)) != 0 || std::memcmp(buf, "pong", 4) != 0)
        return ::testing::AssertionFailure() << "recv b->a: " << code_str(rc) << ", " << done;
    return ::testing::AssertionSuccess();
}

/* A blocking socket with a receive timeout waits and times out; a non-blocking one says
 * SP_EAGAIN at once. */
::testing::AssertionResult is_blocking(sp_socket_t s)
{
    char b;
    int rc = sp_set_recv_timeout(s, 200);
    if (rc != 0)
        return step_failed("sp_set_recv_timeout", rc);
    ptrdiff_t r;
    double t0 = now_ms();
    {
        Watchdog wd(3000, [&] { sp_shutdown(s, SP_SHUT_RDWR); });
        r = sp_recv(s, &b, 1);
    }
    double el = now_ms() - t0;
    sp_set_recv_timeout(s, 0);
    if (r == SP_ETIMEDOUT && el >= 150)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "recv on an idle socket with a 200 ms receive timeout gave " << code_str(r)
           << " after " << el << " ms (SP_EAGAIN at once means the socket is non-blocking)";
}

/*
 * A blocking listener makes sp_accept wait: run it in a thread, see it still waiting after
 * 200 ms, then connect to release it. A non-blocking one returns SP_EAGAIN at once.
 */
::testing::AssertionResult listener_is_blocking(sp_socket_t l)
{
    sp_addr addr;
    int rc = sp_local_addr(l, &addr);
    if (rc != 0)
        return step_failed("sp_local_addr", rc);
    if (sp_addr_family(&addr) != SP_AF_UNIX) {
        /* a wildcard listener is reached over loopback */
        sp_addr lo;
        sp_addr_loopback(&lo, sp_addr_family(&addr), sp_addr_port(&addr));
        addr = lo;
    }
    std::atomic<int> accept_rc{1};
    std::thread t([&] {
        sp_socket_t s;
        int r = sp_accept(l, &s, nullptr, 0);
        if (r == 0)
            sp_close(s);
        accept_rc = r;
    });
    sleep_ms(200);
    const int early = accept_rc.load();
    Sock c;
    rc = sp_socket_open(c.out(), sp_addr_family(&addr), SP_SOCK_STREAM);
    if (rc == 0)
        rc = sp_connect_timeout(c, &addr, 5000);
    t.join();
    if (rc != 0)
        return step_failed("connecting to release the accept", rc);
    if (early != 1)
        return ::testing::AssertionFailure()
               << "sp_accept on an idle listener returned " << code_str(early)
               << " at once instead of waiting (SP_EAGAIN: the listener is non-blocking)";
    if (accept_rc.load() != 0)
        return step_failed("the released sp_accept", accept_rc.load());
    return ::testing::AssertionSuccess();
}

/* ---- inheritance ----------------------------------------------------------------------- */

::testing::AssertionResult not_inheritable(sp_socket_t s, const char *what)
{
#ifdef _WIN32
    DWORD flags = 0;
    if (!GetHandleInformation((HANDLE)s, &flags))
        return ::testing::AssertionFailure()
               << what << ": GetHandleInformation failed, error " << GetLastError();
    if (flags & HANDLE_FLAG_INHERIT)
        return ::testing::AssertionFailure() << what << ": HANDLE_FLAG_INHERIT is set";
#else
    int fl = fcntl(s, F_GETFD);
    if (fl < 0)
        return ::testing::AssertionFailure() << what << ": fcntl(F_GETFD) failed";
    if (!(fl & FD_CLOEXEC))
        return ::testing::AssertionFailure() << what << ": FD_CLOEXEC is not set";
#endif
    return ::testing::AssertionSuccess();
}

/* ---- Unix socket paths ------------------------------------------------------------------ */

struct TempSocketPath {
    std::string dir, path;
    TempSocketPath()
    {
#ifdef _WIN32
        char tmp[MAX_PATH + 1];
        DWORD n = GetTempPathA(sizeof tmp, tmp);
        static unsigned counter;
        if (n > 0 && n < sizeof tmp) {
            path = std::string(tmp) + "sptest-" + std::to_string(GetCurrentProcessId()) + "-" +
                   std::to_string(++counter) + ".sock";
            DeleteFileA(path.c_str());
        }
#else
        char tmpl[] = "/tmp/sptest-XXXXXX";
        if (mkdtemp(tmpl) != nullptr) {
            dir = tmpl;
            path = dir + "/s.sock";
        }
#endif
    }
    ~TempSocketPath()
    {
#ifdef _WIN32
        if (!path.empty())
            DeleteFileA(path.c_str());
#else
        if (!path.empty())
            unlink(path.c_str());
        if (!dir.empty())
            rmdir(dir.c_str());
#endif
    }
};

#ifdef _WIN32
/* Windows 10 1803 (build 17134; AF_UNIX since insider build 17063) or later. */
bool windows_has_af_unix()
{
    struct OsVersion {
        ULONG size, major, minor, build, platform;
        WCHAR csd[128];
    } v = {};
    v.size = sizeof v;
    typedef LONG(WINAPI * RtlGetVersionFn)(OsVersion *);
    FARPROC p = GetProcAddress(GetModuleHandleA("ntdll.dll"), "RtlGetVersion");
    if (p == nullptr)
        return false;
    auto fn = reinterpret_cast<RtlGetVersionFn>(reinterpret_cast<void (*)(void)>(p));
    if (fn(&v) != 0)
        return false;
    return v.major > 10 || (v.major == 10 && v.build >= 17063);
}
#endif

} // namespace

/* ---- connect --------------------------------------------------------------------------- */

TEST_F(SocketConn, ConnectTimeoutToClosedPortIsRefused)
{
    const int port = closed_port();
    ASSERT_GT(port, 0);
    sp_addr to;
    ASSERT_OK(sp_addr_loopback(&to, SP_AF_INET, port));
    Sock s;
    ASSERT_OK(sp_socket_open(s.out(), SP_AF_INET, SP_SOCK_STREAM));
    /* Linux and Wine refuse at once; Windows retries the SYN for about 2 s first. */
    double t0 = now_ms();
    EXPECT_SP(SP_ECONNREFUSED, sp_connect_timeout(s, &to, 5000));
    EXPECT_LT(now_ms() - t0, 4500.0) << "a refusal must not be mistaken for a timeout";
}

TEST_F(SocketConn, BlockingConnectToClosedPortIsRefused)
{
    const int port = closed_port();
    ASSERT_GT(port, 0);
    sp_addr to;
    ASSERT_OK(sp_addr_loopback(&to, SP_AF_INET, port));
    Sock s;
    ASSERT_OK(sp_socket_open(s.out(), SP_AF_INET, SP_SOCK_STREAM));
    EXPECT_SP(SP_ECONNREFUSED, sp_connect(s, &to));
}

TEST_F(SocketConn, StartedConnectRefusedShowsErrorEvent)
{
    const int port = closed_port();
    ASSERT_GT(port, 0);
    sp_addr to;
    ASSERT_OK(sp_addr_loopback(&to, SP_AF_INET, port));

    Sock s;
    ASSERT_OK(sp_socket_open(s.out(), SP_AF_INET, SP_SOCK_STREAM));
    int rc = sp_connect_start(s, &to);
    if (rc != SP_ECONNREFUSED) {
        ASSERT_SP(SP_EINPROGRESS, rc);
        /* POSIX marks a failed connect writable, Windows only in select's except set:
         * sp_wait must report SP_EV_ERROR either way. */
        int ev = sp_wait(s, SP_EV_WRITE, 5000);
        ASSERT_GT(ev, 0) << "sp_wait gave " << code_str(ev) << " for a refused connect";
        EXPECT_TRUE(ev & SP_EV_ERROR) << "mask " << ev << " lacks SP_EV_ERROR";
        EXPECT_SP(SP_ECONNREFUSED, sp_socket_error(s));
        const int again = sp_socket_error(s);
        if (is_wine() && again == SP_ECONNREFUSED) {
            /* Wine 8 differs from Windows (measured): a failed connect's SO_ERROR stays set
             * after getsockopt and setsockopt(SO_ERROR, 0) is accepted but ignored; Windows
             * documents SO_ERROR as "retrieve and clear". */
            note_wine("SO_ERROR of a failed connect is not cleared by reading it (Windows: "
                      "retrieve and clear)");
        } else {
            EXPECT_OK(again) << "sp_socket_error takes the pending error";
        }
    }

    Sock s2;
    ASSERT_OK(sp_socket_open(s2.out(), SP_AF_INET, SP_SOCK_STREAM));
    rc = sp_connect_start(s2, &to);
    if (rc == SP_EINPROGRESS)
        rc = sp_connect_finish(s2, 5000);
    EXPECT_SP(SP_ECONNREFUSED, rc) << "sp_connect_start + sp_connect_finish";
}

TEST_F(SocketConn, ConnectTimeoutWhenBacklogIsFull)
{
    /*
     * A listener with backlog 1 that never accepts: once its queue is full, Linux drops
     * further SYNs (so does Wine, on the Linux stack), real Windows answers RST and its
     * client retries for ~2 s. Either way a further connect stays in progress.
     */
    Sock l;
    sp_addr addr;
    ASSERT_TRUE(listen_loopback(l, &addr, SP_AF_INET, 1));
    std::vector<Sock> fillers;
    int completed = 0;
    bool full = false;
    for (int i = 0; i < 64 && !full; i++) {
        Sock c;
        ASSERT_OK(sp_socket_open(c.out(), SP_AF_INET, SP_SOCK_STREAM));
        int rc = sp_connect_start(c, &addr);
        if (rc == SP_EINPROGRESS)
            rc = sp_connect_finish(c, 200);
        if (rc == SP_EINPROGRESS)
            full = true;
        else if (rc == 0)
            completed++;
        else
            FAIL() << "connect #" << i << " to a listener with backlog 1 failed with "
                   << code_str(rc) << " instead of staying in progress";
        fillers.push_back(std::move(c));
    }
    ASSERT_TRUE(full) << "after 64 connections the listener with backlog 1 (never accepting)"
                      << " still completed every handshake: this platform does not hold SYNs"
                      << " back from a full backlog, so the connect timeout cannot be provoked"
                      << " this way";
    RecordProperty("connections_before_backlog_full", completed);

    Sock s;
    ASSERT_OK(sp_socket_open(s.out(), SP_AF_INET, SP_SOCK_STREAM));
    double t0 = now_ms();
    int rc = sp_connect_timeout(s, &addr, 500);
    double el = now_ms() - t0;
    EXPECT_SP(SP_ETIMEDOUT, rc);
    EXPECT_NEAR(500.0, el, 300.0) << "sp_connect_timeout(500) returned after " << el << " ms";
}

TEST_F(SocketConn, StartedConnectToAcceptingListenerFinishes)
{
    Sock l;
    sp_addr addr;
    ASSERT_TRUE(listen_loopback(l, &addr));
    Sock c;
    ASSERT_OK(sp_socket_open(c.out(), SP_AF_INET, SP_SOCK_STREAM));
    int rc = sp_connect_start(c, &addr);
    if (rc == SP_EINPROGRESS)
        rc = sp_connect_finish(c, 5000);
    ASSERT_OK(rc);
    EXPECT_OK(sp_connect_finish(c, 0)) << "a finished connect stays finished";
    Sock s;
    ASSERT_OK(sp_accept(l, s.out(), nullptr, 0));

    sp_addr peer, local;
    ASSERT_OK(sp_peer_addr(c, &peer));
    EXPECT_TRUE(sp_addr_equal(&addr, &peer)) << addr_str(peer) << " vs " << addr_str(addr);
    ASSERT_OK(sp_local_addr(c, &local));
    ASSERT_OK(sp_peer_addr(s, &peer));
    EXPECT_TRUE(sp_addr_equal(&local, &peer)) << addr_str(local) << " vs " << addr_str(peer);

    /* sp_connect_start leaves the socket non-blocking */
    char b;
    EXPECT_SP(SP_EAGAIN, sp_recv(c, &b, 1)) << "the socket must stay non-blocking";
    ASSERT_EQ(1, sp_send(s, "k", 1));
    ASSERT_TRUE(ready(c, SP_EV_READ, 5000));
    EXPECT_EQ(1, sp_recv(c, &b, 1));
    EXPECT_EQ('k', b);
}

TEST_F(SocketConn, ConnectTimeoutSuccessLeavesSocketBlocking)
{
    Sock l;
    sp_addr addr;
    ASSERT_TRUE(listen_loopback(l, &addr));
    Sock c, s;
    ASSERT_OK(sp_socket_open(c.out(), SP_AF_INET, SP_SOCK_STREAM));
    ASSERT_OK(sp_connect_timeout(c, &addr, 5000));
    ASSERT_OK(sp_accept(l, s.out(), nullptr, 0));
    EXPECT_TRUE(is_blocking(c));
    EXPECT_TRUE(exchange(c, s));
}

/* ---- bind, listen, accept ---------------------------------------------------------------- */

TEST_F(SocketConn, SecondBindOnHeldPortIsAddrInUse)
{
    Sock a;
    sp_addr addr;
    ASSERT_TRUE(listen_loopback(a, &addr));
    const int port = sp_addr_port(&addr);

#ifdef _WIN32
    /* Windows: SO_EXCLUSIVEADDRUSE refuses even the bind (SO_REUSEADDR would let it in). */
    Sock b;
    ASSERT_OK(sp_socket_open(b.out(), SP_AF_INET, SP_SOCK_STREAM));
    EXPECT_SP(SP_EADDRINUSE, sp_bind(b, &addr, 0)) << "sp_bind on a port another socket holds";
#endif
    Sock b2;
    ASSERT_OK(sp_socket_open(b2.out(), SP_AF_INET, SP_SOCK_STREAM));
    EXPECT_SP(SP_EADDRINUSE, sp_listen(b2, &addr, 16, 0))
        << "a second listener on " << addr_str(addr);

    /* the wildcard address on the same port overlaps too on Linux and under Wine (macOS,
     * the BSDs and Windows allow it: PlatformSock.WildcardListenerBesideLoopbackListener) */
    sp_addr any;
    ASSERT_OK(sp_addr_any(&any, SP_AF_INET, port));
    Sock b3;
    ASSERT_OK(sp_socket_open(b3.out(), SP_AF_INET, SP_SOCK_STREAM));
#if defined(__linux__)
    EXPECT_SP(SP_EADDRINUSE, sp_listen(b3, &any, 16, 0)) << "a listener on " << addr_str(any);
#elif defined(_WIN32)
    if (is_wine()) {
        EXPECT_SP(SP_EADDRINUSE, sp_listen(b3, &any, 16, 0)) << "a listener on " << addr_str(any);
    }
#endif

    /* the first listener is unharmed */
    Sock c, s;
    ASSERT_OK(sp_socket_open(c.out(), SP_AF_INET, SP_SOCK_STREAM));
    ASSERT_OK(sp_connect_timeout(c, &addr, 5000));
    ASSERT_OK(sp_accept(a, s.out(), nullptr, 0));
    EXPECT_TRUE(exchange(c, s));
}

TEST_F(SocketConn, RebindRightAfterCloseWithTimeWait)
{
#ifdef _WIN32
    GTEST_SKIP() << "POSIX only: SP_BIND_NOREUSE keeps Windows' exclusive bind, which Wine "
                    "does not refuse past TIME_WAIT; the restart itself is "
                    "PlatformSock.ServerRestartsWhileOldConnectionsLinger";
#else
    Sock l;
    sp_addr addr;
    ASSERT_TRUE(listen_loopback(l, &addr));
    {
        Sock c, s;
        ASSERT_OK(sp_socket_open(c.out(), SP_AF_INET, SP_SOCK_STREAM));
        ASSERT_OK(sp_connect(c, &addr));
        ASSERT_OK(sp_accept(l, s.out(), nullptr, 0));
        ASSERT_TRUE(exchange(c, s));
        s.reset(); /* the server closes first: its side (the listening port) gets TIME_WAIT */
        std::string rest;
        EXPECT_EQ(0, read_to_eof(c, rest));
        c.reset();
        sleep_ms(50);
    }
    l.reset();

    /* The TIME_WAIT is really there: without address reuse the bind is refused ... */
    Sock n1;
    ASSERT_OK(sp_socket_open(n1.out(), SP_AF_INET, SP_SOCK_STREAM));
    EXPECT_SP(SP_EADDRINUSE, sp_listen(n1, &addr, 16, SP_BIND_NOREUSE))
        << "SP_BIND_NOREUSE: a connection in TIME_WAIT holds the port";
    n1.reset();
    /* ... and by default it is accepted at once. */
    Sock n2;
    ASSERT_OK(sp_socket_open(n2.out(), SP_AF_INET, SP_SOCK_STREAM));
    ASSERT_OK(sp_listen(n2, &addr, 16, 0)) << "re-listening on " << addr_str(addr);
    Sock c, s;
    ASSERT_OK(sp_socket_open(c.out(), SP_AF_INET, SP_SOCK_STREAM));
    ASSERT_OK(sp_connect_timeout(c, &addr, 5000));
    ASSERT_OK(sp_accept(n2, s.out(), nullptr, 0));
    EXPECT_TRUE(exchange(c, s));
#endif
}

TEST_F(SocketConn, AcceptedSocketIsBlockingEvenFromNonBlockingListener)
{
    Sock l;
    sp_addr addr;
    ASSERT_TRUE(listen_loopback(l, &addr));
    ASSERT_OK(sp_set_nonblocking(l, 1));
    Sock c, s;
    ASSERT_OK(sp_socket_open(c.out(), SP_AF_INET, SP_SOCK_STREAM));
    ASSERT_OK(sp_connect(c, &addr));
    ASSERT_TRUE(ready(l, SP_EV_READ, 5000)) << "a pending connection is readable";
    ASSERT_OK(sp_accept(l, s.out(), nullptr, 0));
    /* Windows accepted sockets inherit the listener's FIONBIO; sockport must undo it. */
    EXPECT_TRUE(is_blocking(s));
    EXPECT_TRUE(exchange(c, s));
}

TEST_F(SocketConn, AcceptNonblockFlagGivesNonBlockingSocket)
{
    Sock l;
    sp_addr addr;
    ASSERT_TRUE(listen_loopback(l, &addr));
    Sock c, s;
    ASSERT_OK(sp_socket_open(c.out(), SP_AF_INET, SP_SOCK_STREAM));
    ASSERT_OK(sp_connect(c, &addr));
    sp_addr peer, clocal;
    ASSERT_OK(sp_accept(l, s.out(), &peer, SP_ACCEPT_NONBLOCK));
    ASSERT_OK(sp_local_addr(c, &clocal));
    EXPECT_TRUE(sp_addr_equal(&clocal, &peer)) << addr_str(peer) << " vs " << addr_str(clocal);

    /* a receive timeout must not matter: a non-blocking recv says SP_EAGAIN at once */
    ASSERT_OK(sp_set_recv_timeout(s, 2000));
    char b;
    double t0 = now_ms();
    EXPECT_SP(SP_EAGAIN, sp_recv(s, &b, 1));
    EXPECT_LT(now_ms() - t0, 500.0);
    ASSERT_EQ(1, sp_send(c, "n", 1));
    ASSERT_TRUE(ready(s, SP_EV_READ, 5000));
    EXPECT_EQ(1, sp_recv(s, &b, 1));
}

TEST_F(SocketConn, AcceptOnEmptyNonBlockingListenerIsEagain)
{
    Sock l;
    sp_addr addr;
    ASSERT_TRUE(listen_loopback(l, &addr));
    ASSERT_OK(sp_set_nonblocking(l, 1));
    EXPECT_EQ(0, sp_wait(l, SP_EV_READ, 0)) << "nothing pending";
    Sock s;
    double t0 = now_ms();
    EXPECT_SP(SP_EAGAIN, sp_accept(l, s.out(), nullptr, 0));
    EXPECT_LT(now_ms() - t0, 500.0);
    /* and it still accepts once a connection arrives */
    Sock c;
    ASSERT_OK(sp_socket_open(c.out(), SP_AF_INET, SP_SOCK_STREAM));
    ASSERT_OK(sp_connect(c, &addr));
    ASSERT_TRUE(ready(l, SP_EV_READ, 5000));
    EXPECT_OK(sp_accept(l, s.out(), nullptr, 0));
}

/* ---- IPv6 ------------------------------------------------------------------------------- */

TEST_F(SocketConn, Ipv6Loopback)
{
    Sock l;
    int rc = sp_listen_on(l.out(), "[::1]:0", 4, 0);
    if (no_ipv6(rc))
        GTEST_SKIP() << "no IPv6 on this system: " << code_str(rc);
    ASSERT_OK(rc);
    sp_addr addr;
    ASSERT_OK(sp_local_addr(l, &addr));
    EXPECT_EQ(SP_AF_INET6, sp_addr_family(&addr));
    EXPECT_EQ("[::1]:" + std::to_string(sp_addr_port(&addr)), addr_str(addr));

    Sock c, s;
    ASSERT_OK(sp_socket_open(c.out(), SP_AF_INET6, SP_SOCK_STREAM));
    ASSERT_OK(sp_connect_timeout(c, &addr, 5000));
    sp_addr peer, clocal;
    ASSERT_OK(sp_accept(l, s.out(), &peer, 0));
    ASSERT_OK(sp_local_addr(c, &clocal));
    EXPECT_EQ(SP_AF_INET6, sp_addr_family(&peer));
    EXPECT_TRUE(sp_addr_equal(&clocal, &peer)) << addr_str(peer) << " vs " << addr_str(clocal);
    EXPECT_TRUE(exchange(c, s));
}

TEST_F(SocketConn, Ipv6ListenerIsV6OnlyByDefault)
{
    Sock l;
    sp_addr any6;
    ASSERT_OK(sp_addr_any(&any6, SP_AF_INET6, 0));
    int rc = sp_socket_open(l.out(), SP_AF_INET6, SP_SOCK_STREAM);
    if (rc == 0)
        rc = sp_listen(l, &any6, 16, 0);
    if (no_ipv6(rc))
        GTEST_SKIP() << "no IPv6 on this system: " << code_str(rc);
    ASSERT_OK(rc);
    sp_addr local;
    ASSERT_OK(sp_local_addr(l, &local));
    const int port = sp_addr_port(&local);

    sp_addr v4;
    ASSERT_OK(sp_addr_loopback(&v4, SP_AF_INET, port));
    Sock c4;
    ASSERT_OK(sp_socket_open(c4.out(), SP_AF_INET, SP_SOCK_STREAM));
    EXPECT_SP(SP_ECONNREFUSED, sp_connect_timeout(c4, &v4, 5000))
        << "[::]:" << port << " bound without SP_BIND_DUALSTACK must not take IPv4";

    sp_addr v6;
    ASSERT_OK(sp_addr_loopback(&v6, SP_AF_INET6, port));
    Sock c6, s6;
    ASSERT_OK(sp_socket_open(c6.out(), SP_AF_INET6, SP_SOCK_STREAM));
    ASSERT_OK(sp_connect_timeout(c6, &v6, 5000));
    ASSERT_OK(sp_accept(l, s6.out(), nullptr, 0));
    EXPECT_TRUE(exchange(c6, s6));
}

TEST_F(SocketConn, DualStackListenerAcceptsIpv4)
{
    Sock l;
    sp_addr any6;
    ASSERT_OK(sp_addr_any(&any6, SP_AF_INET6, 0));
    int rc = sp_socket_open(l.out(), SP_AF_INET6, SP_SOCK_STREAM);
    if (rc == 0)
        rc = sp_listen(l, &any6, 16, SP_BIND_DUALSTACK);
    if (no_ipv6(rc))
        GTEST_SKIP() << "no IPv6 on this system: " << code_str(rc);
    ASSERT_OK(rc);
    sp_addr local;
    ASSERT_OK(sp_local_addr(l, &local));
    const int port = sp_addr_port(&local);

    sp_addr v4;
    ASSERT_OK(sp_addr_loopback(&v4, SP_AF_INET, port));
    Sock c, s;
    ASSERT_OK(sp_socket_open(c.out(), SP_AF_INET, SP_SOCK_STREAM));
    ASSERT_OK(sp_connect_timeout(c, &v4, 5000)) << "SP_BIND_DUALSTACK must accept IPv4";
    sp_addr peer, clocal;
    ASSERT_OK(sp_accept(l, s.out(), &peer, 0));
    ASSERT_OK(sp_local_addr(c, &clocal));
    EXPECT_EQ(SP_AF_INET6, sp_addr_family(&peer));
    EXPECT_EQ("[::ffff:127.0.0.1]:" + std::to_string(sp_addr_port(&clocal)), addr_str(peer))
        << "an IPv4 peer shows as ::ffff:a.b.c.d";
    EXPECT_TRUE(exchange(c, s));
}

/* ---- socketpair, dial, listen_on --------------------------------------------------------- */

TEST_F(SocketConn, SocketPairCarriesBothWaysAndSeesClose)
{
    sp_socket_t p[2] = {SP_INVALID_SOCKET, SP_INVALID_SOCKET};
    ASSERT_OK(sp_socketpair(p));
    Sock a(p[0]), b(p[1]);
    ASSERT_TRUE(a.valid() && b.valid());
    EXPECT_TRUE(exchange(a, b));
    EXPECT_TRUE(exchange(b, a));
    EXPECT_TRUE(is_blocking(a)) << "sp_socketpair gives blocking sockets";
    EXPECT_TRUE(is_blocking(b)) << "sp_socketpair gives blocking sockets";

    /* more than a socket buffer, a pattern, one way */
    const size_t n = 1 << 20;
    auto data = make_pattern(n, 11);
    std::vector<unsigned char> got(n);
    int src = -1;
    std::thread t([&] { src = sp_send_all(a, data.data(), n, 10000, nullptr); });
    size_t done = 0;
    EXPECT_OK(sp_recv_all(b, got.data(), n, 10000, &done));
    t.join();
    EXPECT_OK(src);
    EXPECT_EQ(n, done);
    EXPECT_TRUE(same_bytes(data.data(), got.data(), n));

    a.reset();
    char c;
    ASSERT_OK(sp_set_recv_timeout(b, 2000));
    EXPECT_EQ(0, sp_recv(b, &c, 1)) << "the other end closed";
}

TEST_F(SocketConn, DialAndListenOn)
{
    Sock l;
    ASSERT_OK(sp_listen_on(l.out(), "127.0.0.1:0", 16, 0));
    sp_addr addr;
    ASSERT_OK(sp_local_addr(l, &addr));
    const int port = sp_addr_port(&addr);
    ASSERT_GT(port, 0);
    EXPECT_EQ(port_text("127.0.0.1", port), addr_str(addr));

    Sock c, s;
    ASSERT_OK(sp_dial(c.out(), port_text("127.0.0.1", port).c_str(), 5000));
    ASSERT_OK(sp_accept(l, s.out(), nullptr, 0));
    EXPECT_TRUE(is_blocking(c)) << "sp_dial gives a blocking socket";
    EXPECT_TRUE(exchange(c, s));

    /* localhost may resolve to ::1 first: sp_dial tries the next address */
    Sock c2, s2;
    ASSERT_OK(sp_dial(c2.out(), port_text("localhost", port).c_str(), 5000));
    ASSERT_OK(sp_accept(l, s2.out(), nullptr, 0));
    EXPECT_TRUE(exchange(c2, s2));

    const int closed = closed_port();
    ASSERT_GT(closed, 0);
    Sock c3;
    EXPECT_SP(SP_ECONNREFUSED, sp_dial(c3.out(), port_text("127.0.0.1", closed).c_str(), 5000));

    Sock c4;
    EXPECT_SP(SP_EINVAL, sp_dial(c4.out(), "127.0.0.1", 5000)) << "no port";

    /* the wildcard form */
    Sock w;
    ASSERT_OK(sp_listen_on(w.out(), "*:0", 16, 0));
    sp_addr wa;
    ASSERT_OK(sp_local_addr(w, &wa));
    EXPECT_EQ(port_text("0.0.0.0", sp_addr_port(&wa)), addr_str(wa));
    EXPECT_TRUE(listener_is_blocking(w)) << "sp_listen_on gives a blocking listener";
    Sock c5, s5;
    ASSERT_OK(sp_dial(c5.out(), port_text("127.0.0.1", sp_addr_port(&wa)).c_str(), 5000));
    ASSERT_OK(sp_accept(w, s5.out(), nullptr, 0));
    EXPECT_TRUE(exchange(c5, s5));
}

/* ---- Unix-domain sockets ----------------------------------------------------------------- */

TEST_F(SocketConn, UnixStreamRoundTrip)
{
    TempSocketPath tmp;
    ASSERT_FALSE(tmp.path.empty()) << "no temporary directory";
    const std::string text = "unix:" + tmp.path;
    Sock l;
    int rc = sp_listen_on(l.out(), text.c_str(), 4, 0);
#ifdef _WIN32
    if (rc == SP_EAFNOSUPPORT && is_wine())
        GTEST_SKIP() << "Wine 8 differs from Windows: AF_UNIX socket() fails with "
                        "WSAEAFNOSUPPORT under Wine (Windows 10 1803+ has AF_UNIX)";
    if (rc == SP_EAFNOSUPPORT && !windows_has_af_unix())
        GTEST_SKIP() << "Windows before 10 1803 has no AF_UNIX";
#endif
    ASSERT_OK(rc) << "sp_listen_on(\"" << text << "\")";
    sp_addr la;
    ASSERT_OK(sp_local_addr(l, &la));
    EXPECT_EQ(SP_AF_UNIX, sp_addr_family(&la));
    EXPECT_EQ(text, addr_str(la));

    Sock c, s;
    ASSERT_OK(sp_dial(c.out(), text.c_str(), 5000));
    sp_addr peer;
    ASSERT_OK(sp_accept(l, s.out(), &peer, 0));
    EXPECT_EQ(SP_AF_UNIX, sp_addr_family(&peer));
    EXPECT_TRUE(exchange(c, s));
    EXPECT_TRUE(exchange(s, c));
    EXPECT_TRUE(not_inheritable(c, "dialed Unix socket"));
    EXPECT_TRUE(not_inheritable(s, "accepted Unix socket"));

    /* a second socket by hand: sp_socket_open + sp_addr_unix + sp_connect */
    Sock c2, s2;
    sp_addr ua;
    ASSERT_OK(sp_addr_unix(&ua, tmp.path.c_str()));
    ASSERT_OK(sp_socket_open(c2.out(), SP_AF_UNIX, SP_SOCK_STREAM));
    ASSERT_OK(sp_connect(c2, &ua));
    ASSERT_OK(sp_accept(l, s2.out(), nullptr, 0));
    EXPECT_TRUE(exchange(c2, s2));

    c.reset();
    char b;
    ASSERT_OK(sp_set_recv_timeout(s, 2000));
    EXPECT_EQ(0, sp_recv(s, &b, 1));
}

/* ---- inheritance ------------------------------------------------------------------------ */

TEST_F(SocketConn, SocketsAreNotInherited)
{
    Sock tcp, udp;
    ASSERT_OK(sp_socket_open(tcp.out(), SP_AF_INET, SP_SOCK_STREAM));
    EXPECT_TRUE(not_inheritable(tcp, "sp_socket_open TCP"));
    ASSERT_OK(sp_socket_open(udp.out(), SP_AF_INET, SP_SOCK_DGRAM));
    EXPECT_TRUE(not_inheritable(udp, "sp_socket_open UDP"));

    Sock l;
    ASSERT_OK(sp_listen_on(l.out(), "127.0.0.1:0", 16, 0));
    EXPECT_TRUE(not_inheritable(l, "sp_listen_on listener"));
    sp_addr addr;
    ASSERT_OK(sp_local_addr(l, &addr));
    const std::string text = addr_str(addr);

    Sock c1, c2, s1, s2;
    ASSERT_OK(sp_dial(c1.out(), text.c_str(), 5000));
    EXPECT_TRUE(not_inheritable(c1, "sp_dial socket"));
    ASSERT_OK(sp_accept(l, s1.out(), nullptr, 0));
    EXPECT_TRUE(not_inheritable(s1, "accepted socket"));
    ASSERT_OK(sp_dial(c2.out(), text.c_str(), 5000));
    ASSERT_OK(sp_accept(l, s2.out(), nullptr, SP_ACCEPT_NONBLOCK));
    EXPECT_TRUE(not_inheritable(s2, "accepted socket (SP_ACCEPT_NONBLOCK)"));

    sp_socket_t p[2];
    ASSERT_OK(sp_socketpair(p));
    Sock a(p[0]), b(p[1]);
    EXPECT_TRUE(not_inheritable(a, "sp_socketpair [0]"));
    EXPECT_TRUE(not_inheritable(b, "sp_socketpair [1]"));

    Sock v6;
    if (sp_socket_open(v6.out(), SP_AF_INET6, SP_SOCK_STREAM) == 0) {
        EXPECT_TRUE(not_inheritable(v6, "sp_socket_open TCP/IPv6"));
    }
}

/* ---- bad input -------------------------------------------------------------------------- */

TEST_F(SocketConn, InvalidHandles)
{
    char b[4];
    EXPECT_SP(SP_EBADF, sp_send(SP_INVALID_SOCKET, "x", 1));
    EXPECT_SP(SP_EBADF, sp_recv(SP_INVALID_SOCKET, b, 1));
    EXPECT_SP(SP_EBADF, sp_close(SP_INVALID_SOCKET));
    EXPECT_SP(SP_EBADF, sp_set_nonblocking(SP_INVALID_SOCKET, 1));
    EXPECT_SP(SP_EBADF, sp_set_nodelay(SP_INVALID_SOCKET, 1));
    size_t done = 99;
    EXPECT_SP(SP_EBADF, sp_send_all(SP_INVALID_SOCKET, "abc", 3, 1000, &done));
    EXPECT_EQ(0u, done);
    done = 99;
    EXPECT_SP(SP_EBADF, sp_recv_all(SP_INVALID_SOCKET, b, 3, -1, &done));
    EXPECT_EQ(0u, done);
    /* waiting on no socket is an error, not a timeout */
    double t0 = now_ms();
    EXPECT_SP(SP_EBADF, sp_wait(SP_INVALID_SOCKET, SP_EV_READ, 300))
        << "sp_wait(SP_INVALID_SOCKET) returned after " << now_ms() - t0 << " ms";
}

TEST_F(SocketConn, CloseTwiceIsBadf)
{
    /* single-threaded on purpose: on POSIX another thread could reuse the descriptor */
    sp_socket_t s;
    ASSERT_OK(sp_socket_open(&s, SP_AF_INET, SP_SOCK_STREAM));
    EXPECT_OK(sp_close(s));
    EXPECT_SP(SP_EBADF, sp_wait(s, SP_EV_READ, 0)) << "waiting on a closed socket";
    EXPECT_SP(SP_EBADF, sp_close(s)) << "the second close";
}

TEST_F(SocketConn, NullPointersAreEinval)
{
    Sock s;
    ASSERT_OK(sp_socket_open(s.out(), SP_AF_INET, SP_SOCK_STREAM));
    sp_socket_t out;
    int ms;
    EXPECT_SP(SP_EINVAL, sp_socket_open(nullptr, SP_AF_INET, SP_SOCK_STREAM));
    EXPECT_SP(SP_EINVAL, sp_connect(s, nullptr));
    EXPECT_SP(SP_EINVAL, sp_connect_timeout(s, nullptr, 100));
    EXPECT_SP(SP_EINVAL, sp_bind(s, nullptr, 0));
    EXPECT_SP(SP_EINVAL, sp_listen(s, nullptr, 1, 0));
    EXPECT_SP(SP_EINVAL, sp_local_addr(s, nullptr));
    EXPECT_SP(SP_EINVAL, sp_peer_addr(s, nullptr));
    EXPECT_SP(SP_EINVAL, sp_socketpair(nullptr));
    EXPECT_SP(SP_EINVAL, sp_dial(nullptr, "127.0.0.1:1", 100));
    EXPECT_SP(SP_EINVAL, sp_dial(&out, nullptr, 100));
    EXPECT_SP(SP_EINVAL, sp_listen_on(nullptr, "127.0.0.1:0", 1, 0));
    EXPECT_SP(SP_EINVAL, sp_listen_on(&out, nullptr, 1, 0));
    EXPECT_SP(SP_EINVAL, sp_get_recv_timeout(s, nullptr));
    EXPECT_SP(SP_EINVAL, sp_get_send_timeout(s, nullptr));
    EXPECT_SP(SP_EINVAL, sp_get_send_buffer(s, nullptr));
    EXPECT_SP(SP_EINVAL, sp_get_recv_buffer(s, nullptr));
    EXPECT_OK(sp_get_keepalive(s, nullptr, nullptr, nullptr, nullptr)) << "any pointer may be NULL";
    EXPECT_OK(sp_get_recv_timeout(s, &ms));

    Sock l;
    sp_addr addr;
    ASSERT_TRUE(listen_loopback(l, &addr));
    EXPECT_SP(SP_EINVAL, sp_accept(l, nullptr, nullptr, 0));

    Sock c, srv;
    ASSERT_TRUE(tcp_pair(c, srv));
    size_t done = 99;
    EXPECT_SP(SP_EINVAL, sp_send_all(c, nullptr, 10, 1000, &done));
    EXPECT_EQ(0u, done);
    done = 99;
    EXPECT_SP(SP_EINVAL, sp_recv_all(c, nullptr, 10, 1000, &done));
    EXPECT_EQ(0u, done);
    EXPECT_SP(SP_EINVAL, sp_sendv(c, nullptr, 1));
    EXPECT_SP(SP_EINVAL, sp_recvv(c, nullptr, 1));
    EXPECT_SP(SP_EINVAL, sp_sendv_all(c, nullptr, 1, 1000, nullptr));
    sp_addr to;
    ASSERT_OK(sp_addr_loopback(&to, SP_AF_INET, 9));
    EXPECT_SP(SP_EINVAL, sp_sendto(c, nullptr, 10, &to));
    Sock u;
    ASSERT_OK(sp_socket_open(u.out(), SP_AF_INET, SP_SOCK_DGRAM));
    EXPECT_SP(SP_EINVAL, sp_sendto(u, "x", 1, nullptr));
    /* and the connection is unharmed */
    EXPECT_TRUE(exchange(c, srv));
}

TEST_F(SocketConn, BadFamilyTypeAndArguments)
{
    sp_socket_t s = SP_INVALID_SOCKET;
    int rc = sp_socket_open(&s, 99, SP_SOCK_STREAM);
    EXPECT_TRUE(rc == SP_EINVAL || rc == SP_EAFNOSUPPORT) << code_str(rc);
    if (rc == 0)
        sp_close(s);
    rc = sp_socket_open(&s, SP_AF_UNSPEC, SP_SOCK_STREAM);
    EXPECT_TRUE(rc == SP_EINVAL || rc == SP_EAFNOSUPPORT) << code_str(rc);
    if (rc == 0)
        sp_close(s);
    rc = sp_socket_open(&s, SP_AF_INET, 99);
    EXPECT_SP(SP_EINVAL, rc) << "bad type";
    if (rc == 0)
        sp_close(s);

    Sock t;
    ASSERT_OK(sp_socket_open(t.out(), SP_AF_INET, SP_SOCK_STREAM));
    EXPECT_SP(SP_EINVAL, sp_shutdown(t, 7)) << "no such direction";
    EXPECT_SP(SP_ENOTCONN, sp_shutdown(t, SP_SHUT_WR)) << "not connected";
    sp_addr a;
    EXPECT_SP(SP_ENOTCONN, sp_peer_addr(t, &a));
    sp_addr empty;
    std::memset(&empty, 0, sizeof empty);
    EXPECT_SP(SP_EINVAL, sp_connect(t, &empty)) << "an empty address";
}
