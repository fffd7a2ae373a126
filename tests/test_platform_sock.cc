/*
 * test_platform_sock.cc - platform truth for the socket layer (issue #12, socket half;
 * issue #13 items 3 and the clock): what each OS does, and that sockport makes one thing
 * of it. Three kinds of test, named in each test's comment and in docs/platforms.md:
 *  - live: runs here, natively (Linux) and as the mingw build under Wine;
 *  - replay: a backend's decision (a small pure function) fed what another OS returns,
 *    each row citing its source (XNU, FreeBSD, Microsoft's documentation);
 *  - user CI: a live branch for an OS we cannot run (macOS, the BSDs, real Windows),
 *    written so that it fails there if the documentation is wrong.
 * Loopback only.
 */
#include "helpers.h"

#include "sockplan.h"

#include <string>
#include <vector>

#ifdef _WIN32
#    include <winsock2.h>
#    include <ws2tcpip.h>
#else
#    include <netinet/in.h>
#    include <sys/socket.h>
#endif

using namespace sptest;

namespace
{

class PlatformSock : public SpTest
{
};

/* A bound UDP socket on 127.0.0.1 (port 0: any); *addr receives its address. */
::testing::AssertionResult udp_loopback(Sock &s, sp_addr *addr, int port = 0, unsigned flags = 0)
{
    sp_addr local;
    int rc;
    if ((rc = sp_socket_open(s.out(), SP_AF_INET, SP_SOCK_DGRAM)) != 0)
        return step_failed("sp_socket_open(UDP)", rc);
    if ((rc = sp_addr_loopback(&local, SP_AF_INET, port)) != 0)
        return step_failed("sp_addr_loopback", rc);
    if ((rc = sp_bind(s, &local, flags)) != 0)
        return step_failed("sp_bind(UDP)", rc);
    if ((rc = sp_local_addr(s, addr)) != 0)
        return step_failed("sp_local_addr", rc);
    return ::testing::AssertionSuccess();
}

/* One byte each way over a connected pair. */
::testing::AssertionResult exchange_byte(sp_socket_t a, sp_socket_t b)
{
    char x = 'x', y = 0;
    ptrdiff_t n;
    if ((n = sp_send(a, &x, 1)) != 1)
        return step_failed("sp_send", n);
    if ((n = sp_recv(b, &y, 1)) != 1 || y != 'x')
        return step_failed("sp_recv", n);
    return ::testing::AssertionSuccess();
}

/* A listener on `where` that accepts one connection and exchanges a byte with it. */
::testing::AssertionResult serves(sp_socket_t listener, const sp_addr &where)
{
    Sock c, s;
    int rc;
    if ((rc = sp_socket_open(c.out(), sp_addr_family(&where), SP_SOCK_STREAM)) != 0)
        return step_failed("sp_socket_open", rc);
    if ((rc = sp_connect_timeout(c, &where, 5000)) != 0)
        return step_failed("sp_connect_timeout", rc);
    if ((rc = sp_accept(listener, s.out(), nullptr, 0)) != 0)
        return step_failed("sp_accept", rc);
    return exchange_byte(c, s);
}

} // namespace

/* ==== address reuse (issue #12 items 5, 6, 13) ============================================ */

/*
 * Item 13, live. A second UDP socket must not take a port that a sockport UDP socket holds:
 * SO_REUSEADDR on both would let it in on Linux (and on the BSDs for a wildcard beside a
 * specific address), and the datagrams would then go to the newcomer alone. sockport asks
 * address reuse only for stream sockets.
 */
TEST_F(PlatformSock, UdpSecondBindOnHeldPortIsRefused)
{
    Sock a;
    sp_addr addr;
    ASSERT_TRUE(udp_loopback(a, &addr));

    Sock b;
    ASSERT_OK(sp_socket_open(b.out(), SP_AF_INET, SP_SOCK_DGRAM));
    EXPECT_SP(SP_EADDRINUSE, sp_bind(b, &addr, 0))
        << "a second UDP socket bound to " << addr_str(addr) << ", which another one holds";

    /* the wildcard address on the same port overlaps too (BSD: the newcomer would need
     * SO_REUSEADDR itself to get beside it; XNU bsd/netinet/in_pcb.c in_pcbbind) */
    sp_addr any;
    ASSERT_OK(sp_addr_any(&any, SP_AF_INET, sp_addr_port(&addr)));
    Sock w;
    ASSERT_OK(sp_socket_open(w.out(), SP_AF_INET, SP_SOCK_DGRAM));
    EXPECT_SP(SP_EADDRINUSE, sp_bind(w, &any, 0)) << "a UDP socket on " << addr_str(any);

    /* datagrams still reach the first socket */
    Sock tx;
    ASSERT_OK(sp_socket_open(tx.out(), SP_AF_INET, SP_SOCK_DGRAM));
    ASSERT_EQ(3, sp_sendto(tx, "abc", 3, &addr));
    ASSERT_OK(sp_set_recv_timeout(a, 2000));
    char buf[8];
    EXPECT_EQ(3, sp_recvfrom(a, buf, sizeof buf, nullptr)) << "the holder gets the datagram";
}

/*
 * Items 6 and 13, live (Linux, Wine), user CI (macOS, BSD, Windows). A server restart: the
 * old listener is closed while one of its connections is still open and another sits in
 * TIME_WAIT (the server closed it first). A new listener on the same address must start.
 * POSIX: SO_REUSEADDR. Windows: SO_EXCLUSIVEADDRUSE would refuse the bind until the old
 * connections are gone (Microsoft, "Using SO_REUSEADDR and SO_EXCLUSIVEADDRUSE": "a socket
 * with SO_EXCLUSIVEADDRUSE set cannot necessarily be reused immediately after socket
 * closure").
 */
TEST_F(PlatformSock, ServerRestartsWhileOldConnectionsLinger)
{
    Sock l;
    sp_addr addr;
    ASSERT_TRUE(listen_loopback(l, &addr));
    Sock live_c, live_s; /* stays open across the restart */
    {
        ASSERT_OK(sp_socket_open(live_c.out(), SP_AF_INET, SP_SOCK_STREAM));
        ASSERT_OK(sp_connect(live_c, &addr));
        ASSERT_OK(sp_accept(l, live_s.out(), nullptr, 0));
        Sock c, s; /* closed by the server first: TIME_WAIT on the server's port */
        ASSERT_OK(sp_socket_open(c.out(), SP_AF_INET, SP_SOCK_STREAM));
        ASSERT_OK(sp_connect(c, &addr));
        ASSERT_OK(sp_accept(l, s.out(), nullptr, 0));
        ASSERT_TRUE(exchange_byte(c, s));
        s.reset();
        std::string rest;
        EXPECT_EQ(0, read_to_eof(c, rest));
        c.reset();
        sleep_ms(50);
    }
    l.reset();

    Sock n;
    ASSERT_OK(sp_socket_open(n.out(), SP_AF_INET, SP_SOCK_STREAM));
    ASSERT_OK(sp_listen(n, &addr, 16, 0))
        << "restarting a server on " << addr_str(addr)
        << " while an old connection is open and another is in TIME_WAIT";
    EXPECT_TRUE(serves(n, addr));
    EXPECT_TRUE(exchange_byte(live_c, live_s)) << "the old connection is unharmed";

    /* and the restarted listener is still not shared: nobody else binds its address */
    Sock other;
    ASSERT_OK(sp_socket_open(other.out(), SP_AF_INET, SP_SOCK_STREAM));
    EXPECT_SP(SP_EADDRINUSE, sp_listen(other, &addr, 16, 0)) << "a second listener";
}

/*
 * Item 5, live (Linux, Wine), user CI (macOS, BSD). A wildcard listener beside a listener on
 * 127.0.0.1 with the same port. Linux refuses (inet_csk_bind_conflict: reuse only when the
 * holder is not listening); Windows refuses (both sockets SO_EXCLUSIVEADDRUSE). XNU and
 * FreeBSD allow it when the newcomer has SO_REUSEADDR, which sockport sets for stream
 * sockets (XNU bsd/netinet/in_pcb.c in_pcbbind: without SO_REUSEADDR|SO_REUSEPORT `wild`
 * is set and in_pcblookup_local matches any address on the port; with it, only the same
 * address conflicts). The holder keeps the connections to 127.0.0.1.
 */
TEST_F(PlatformSock, WildcardListenerBesideLoopbackListener)
{
    Sock a;
    sp_addr addr;
    ASSERT_TRUE(listen_loopback(a, &addr));
    sp_addr any;
    ASSERT_OK(sp_addr_any(&any, SP_AF_INET, sp_addr_port(&addr)));
    Sock b;
    ASSERT_OK(sp_socket_open(b.out(), SP_AF_INET, SP_SOCK_STREAM));
    int rc = sp_listen(b, &any, 16, 0);
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) ||   \
    defined(__DragonFly__)
    EXPECT_OK(rc) << "BSD: SO_REUSEADDR lets a wildcard bind beside a specific address";
#elif defined(_WIN32)
    /* The exclusive bind is refused; the plain bind that follows is allowed beside a
     * specific address ("Sharing Transport Addresses": SUCCESS). */
    if (is_wine() && rc == SP_EADDRINUSE)
        note_wine("a plain wildcard bind beside an exclusive specific listener is "
                  "WSAEADDRINUSE (Windows: SUCCESS, 'Sharing Transport Addresses')");
    else
        EXPECT_OK(rc) << "Windows: the plain bind after the refused exclusive one";
#else
    EXPECT_SP(SP_EADDRINUSE, rc) << "a listener on " << addr_str(any) << " beside "
                                 << addr_str(addr);
#endif
    EXPECT_TRUE(serves(a, addr)) << "connections to 127.0.0.1 still reach the first listener";
}

/*
 * Item 5, live (Linux, Wine), user CI (macOS, BSD, Windows). The other way round: a
 * listener on 127.0.0.1 beside a wildcard listener on the same port would take the
 * loopback connections from it. Linux refuses (EADDRINUSE). Windows: both sockets have
 * SO_EXCLUSIVEADDRUSE, and a specific bind beside an exclusive wildcard is "DENIED"
 * (WSAEACCES) in Microsoft's table ("Sharing Transport Addresses", WSK). XNU / FreeBSD
 * allow it to a newcomer with SO_REUSEADDR of the same user (in_pcbbind's uid check
 * refuses another user); the newcomer then gets the connections to 127.0.0.1.
 */
TEST_F(PlatformSock, LoopbackListenerBesideWildcardListener)
{
    Sock a;
    sp_addr any, lo;
    ASSERT_OK(sp_socket_open(a.out(), SP_AF_INET, SP_SOCK_STREAM));
    ASSERT_OK(sp_addr_any(&any, SP_AF_INET, 0));
    ASSERT_OK(sp_listen(a, &any, 16, 0));
    ASSERT_OK(sp_local_addr(a, &any));
    ASSERT_OK(sp_addr_loopback(&lo, SP_AF_INET, sp_addr_port(&any)));
    Sock b;
    ASSERT_OK(sp_socket_open(b.out(), SP_AF_INET, SP_SOCK_STREAM));
    int rc = sp_listen(b, &lo, 16, 0);
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) ||   \
    defined(__DragonFly__)
    EXPECT_OK(rc) << "BSD: the same user may bind a specific address beside a wildcard";
    if (rc == 0) {
        EXPECT_TRUE(serves(b, lo)) << "and the more specific listener gets the connections";
    }
#elif defined(_WIN32)
    if (is_wine() && rc == SP_EADDRINUSE)
        note_wine("a specific bind beside an exclusive wildcard is WSAEADDRINUSE (Windows: "
                  "WSAEACCES, 'Sharing Transport Addresses')");
    else
        EXPECT_SP(SP_EACCES, rc) << "Windows: DENIED beside an exclusive wildcard";
    EXPECT_TRUE(serves(a, lo)) << "the wildcard listener keeps the loopback connections";
#else
    EXPECT_SP(SP_EADDRINUSE, rc) << "a listener on " << addr_str(lo) << " beside " << addr_str(any);
    EXPECT_TRUE(serves(a, lo)) << "the wildcard listener keeps the loopback connections";
#endif
}

#ifdef _WIN32
/*
 * Item 6, live (Wine), user CI (Windows). Whatever sockport does for restarts, a socket
 * of another program that sets SO_REUSEADDR itself must not take the port: "DENIED" for
 * both an exclusive and a default first socket in Microsoft's table ("Sharing Transport
 * Addresses": second bind SO_REUSEADDR, specific, against a first specific bind).
 */
TEST_F(PlatformSock, WindowsReuseAddrSocketCannotStealListener)
{
    Sock a;
    sp_addr addr;
    ASSERT_TRUE(listen_loopback(a, &addr));
    SOCKET thief = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    ASSERT_NE(INVALID_SOCKET, thief);
    BOOL yes = TRUE;
    ASSERT_EQ(0, setsockopt(thief, SOL_SOCKET, SO_REUSEADDR, (const char *)&yes, sizeof yes));
    int r = bind(thief, (const struct sockaddr *)(const void *)addr.u.bytes, (int)addr.len);
    int err = r == 0 ? 0 : WSAGetLastError();
    closesocket(thief);
    EXPECT_NE(0, r) << "a SO_REUSEADDR socket bound " << addr_str(addr);
    EXPECT_TRUE(err == WSAEACCES || err == WSAEADDRINUSE) << "error " << err;
    EXPECT_TRUE(serves(a, addr));
}
#endif

/* ==== EINTR and timeouts (issue #12 item 12) =============================================== */

#ifndef _WIN32
namespace
{

void on_signal(int) {}

/*
 * Signals the creating thread every `period_us` microseconds from a thread of its own (at
 * most for max_ms), with a handler installed without SA_RESTART: a blocking call made
 * meanwhile fails with EINTR over and over.
 */
class SignalStorm
{
  public:
    SignalStorm(int period_us, int max_ms)
        : action_(SIGUSR1, on_signal, 0), target_(pthread_self()),
          thread_([this, period_us, max_ms] {
              double end = now_ms() + max_ms;
              while (!stop_ && now_ms() < end) {
                  if (pthread_kill(target_, SIGUSR1) == 0)
                      sent_++;
                  std::this_thread::sleep_for(std::chrono::microseconds(period_us));
              }
          })
    {
    }
    ~SignalStorm()
    {
        stop();
    }
    SignalStorm(const SignalStorm &) = delete;
    SignalStorm &operator=(const SignalStorm &) = delete;
    void stop()
    {
        stop_ = true;
        if (thread_.joinable())
            thread_.join();
    }
    int sent() const
    {
        return sent_;
    }
    bool ok() const
    {
        return action_.ok();
    }

  private:
    SignalAction action_;
    pthread_t target_;
    std::atomic<bool> stop_{false};
    std::atomic<int> sent_{0};
    std::thread thread_; /* last: starts after the members it uses */
};

} // namespace

/*
 * Item 12, live (Linux). A 200 ms receive timeout under a signal every millisecond: each
 * EINTR used to restart the whole SO_RCVTIMEO wait, so the call returned only after the
 * signals stopped. The README promises EINTR is retried "with the time left".
 */
TEST_F(PlatformSock, RecvTimeoutFiresUnderFrequentSignals)
{
    Sock c, s;
    ASSERT_TRUE(tcp_pair(c, s));
    ASSERT_OK(sp_set_recv_timeout(s, 200));
    char buf[4];
    SignalStorm storm(1000, 3000);
    ASSERT_TRUE(storm.ok());
    double t0 = now_ms();
    ptrdiff_t rc = sp_recv(s, buf, sizeof buf);
    double took = now_ms() - t0;
    storm.stop();
    EXPECT_SP(SP_ETIMEDOUT, rc);
    EXPECT_GE(took, 190.0);
    EXPECT_LT(took, 1000.0) << "a 200 ms receive timeout took " << took << " ms under "
                            << storm.sent() << " signals";
    EXPECT_GT(storm.sent(), 20) << "the signals were sent";
}

/* Item 12, live (Linux): the same for a datagram receive (recvmsg). */
TEST_F(PlatformSock, RecvfromTimeoutFiresUnderFrequentSignals)
{
    Sock u;
    sp_addr addr;
    ASSERT_TRUE(udp_loopback(u, &addr));
    ASSERT_OK(sp_set_recv_timeout(u, 200));
    char buf[4];
    SignalStorm storm(1000, 3000);
    ASSERT_TRUE(storm.ok());
    double t0 = now_ms();
    ptrdiff_t rc = sp_recvfrom(u, buf, sizeof buf, nullptr);
    double took = now_ms() - t0;
    storm.stop();
    EXPECT_SP(SP_ETIMEDOUT, rc);
    EXPECT_LT(took, 1000.0) << "a 200 ms receive timeout took " << took << " ms";
}

/* Item 12, live (Linux): a send timeout on a full connection under the same signals. */
TEST_F(PlatformSock, SendTimeoutFiresUnderFrequentSignals)
{
    Sock c, s;
    ASSERT_TRUE(tcp_pair(c, s, 4096));
    std::vector<char> chunk(65536, 'a');
    ASSERT_OK(sp_set_nonblocking(c, 1));
    for (int quiet = 0; quiet < 3;) { /* full: nothing taken, three times 20 ms apart */
        if (sp_send(c, chunk.data(), chunk.size()) > 0) {
            quiet = 0;
            continue;
        }
        quiet++;
        sleep_ms(20);
    }
    ASSERT_OK(sp_set_nonblocking(c, 0));
    ASSERT_OK(sp_set_send_timeout(c, 200));
    SignalStorm storm(1000, 3000);
    ASSERT_TRUE(storm.ok());
    /* A send interrupted after it took some bytes returns their count (POSIX): send again
     * until nothing more fits; each call must end within its timeout. */
    ptrdiff_t rc;
    double took, longest = 0;
    int calls = 0;
    do {
        double t0 = now_ms();
        rc = sp_send(c, chunk.data(), chunk.size());
        took = now_ms() - t0;
        longest = took > longest ? took : longest;
    } while (rc > 0 && ++calls < 100);
    storm.stop();
    EXPECT_SP(SP_ETIMEDOUT, rc) << "after " << calls << " partial sends";
    EXPECT_GE(took, 190.0) << "the last send waited its timeout";
    EXPECT_LT(longest, 1000.0) << "a 200 ms send timeout took " << longest << " ms";
}

/* Item 12, live (Linux): data that arrives during the signals is still received. */
TEST_F(PlatformSock, RecvUnderFrequentSignalsGetsData)
{
    Sock c, s;
    ASSERT_TRUE(tcp_pair(c, s));
    ASSERT_OK(sp_set_recv_timeout(s, 3000));
    SignalStorm storm(1000, 3000);
    ASSERT_TRUE(storm.ok());
    std::thread peer([&] {
        sleep_ms(150);
        sp_send(c, "hello", 5);
    });
    char buf[8];
    double t0 = now_ms();
    ptrdiff_t rc = sp_recv(s, buf, sizeof buf);
    double took = now_ms() - t0;
    storm.stop();
    peer.join();
    EXPECT_EQ(5, rc) << code_str(rc);
    EXPECT_LT(took, 1500.0);
}
#endif

/* ==== options (issue #13 item 3) ============================================================= */

/*
 * Issue #13 item 3, live (Linux, Wine), user CI (Windows before 10 1709). Where the system
 * takes keepalive but not all of its timing (Windows before 1709 and Wine: no TCP_KEEPCNT,
 * SIO_KEEPALIVE_VALS sets idle and interval only), keepalive is on: the result must not be
 * a failure.
 */
TEST_F(PlatformSock, KeepaliveWithoutCountIsNotAFailure)
{
    Sock c, s;
    ASSERT_TRUE(tcp_pair(c, s));
    int rc = sp_set_keepalive(c, 1, 5, 2, 3);
    EXPECT_GE(rc, 0) << "keepalive on with idle 5 s, interval 2 s, count 3: " << code_str(rc);
    if (is_wine() && rc == SP_KEEPALIVE_PARTIAL)
        note_wine("no TCP_KEEPCNT (Windows 10 1709+ has it): SP_KEEPALIVE_PARTIAL");
    else
        EXPECT_OK(rc) << "every timing value is settable here";
    int on = -1;
    int get = sp_get_keepalive(c, &on, nullptr, nullptr, nullptr);
    EXPECT_TRUE(get == 0 || get == SP_ENOPROTOOPT) << code_str(get);
    EXPECT_EQ(1, on) << "keepalive is on";
}

/* ==== replays: the decisions of sockplan.h, per OS ========================================= */

/*
 * Items 5, 6, 13, replay. What each OS's backend sets around bind(). Rows: (OS, IP or Unix,
 * stream or datagram, flags) -> options. The reasons are in sockplan.h and
 * docs/porting.md (Address reuse and restarts).
 */
TEST(PlatformSockReplay, BindPlan)
{
    struct row {
        int os, ip, stream;
        unsigned flags, want;
        const char *why;
    };
    const unsigned R = SP__BIND_REUSEADDR, P = SP__BIND_REUSEPORT, X = SP__BIND_EXCLUSIVE,
                   T = SP__BIND_RETRY_PLAIN, BAD = SP__BIND_INVALID;
    const unsigned DS = SP_BIND_DUALSTACK, NR = SP_BIND_NOREUSE, SH = SP_BIND_SHARED;
    const row rows[] = {
        /* stream: restart past TIME_WAIT */
        {SP__OS_LINUX, 1, 1, 0, R, "Linux TCP: SO_REUSEADDR (TIME_WAIT refuses the bind)"},
        {SP__OS_BSD, 1, 1, 0, R, "BSD TCP: SO_REUSEADDR (in_pcbbind: TIME_WAIT matches wild)"},
        {SP__OS_WINDOWS, 1, 1, 0, X | T, "Windows TCP: exclusive, then plain on WSAEADDRINUSE"},
        {SP__OS_LINUX, 1, 1, DS, R, "dual-stack does not change reuse"},
        {SP__OS_LINUX, 1, 1, NR, 0, "SP_BIND_NOREUSE: no SO_REUSEADDR"},
        {SP__OS_BSD, 1, 1, NR, 0, "SP_BIND_NOREUSE: no SO_REUSEADDR"},
        {SP__OS_WINDOWS, 1, 1, NR, X, "SP_BIND_NOREUSE on Windows: exclusive, no retry"},
        /* datagram: no sharing unless asked (issue #12 item 13) */
        {SP__OS_LINUX, 1, 0, 0, 0, "Linux UDP: SO_REUSEADDR would let a second socket in"},
        {SP__OS_BSD, 1, 0, 0, 0, "BSD UDP: no SO_REUSEADDR (a wildcard could sit beside)"},
        {SP__OS_WINDOWS, 1, 0, 0, X, "Windows UDP: exclusive; no TIME_WAIT to wait out"},
        {SP__OS_LINUX, 1, 0, SH, R, "SP_BIND_SHARED on Linux: SO_REUSEADDR"},
        {SP__OS_BSD, 1, 0, SH, R | P, "SP_BIND_SHARED on BSD: SO_REUSEPORT for one address"},
        {SP__OS_WINDOWS, 1, 0, SH, R, "SP_BIND_SHARED on Windows: SO_REUSEADDR, not exclusive"},
        {SP__OS_WINDOWS, 1, 0, SH | DS, R, "dual-stack with sharing"},
        /* what cannot be */
        {SP__OS_LINUX, 1, 1, SH, BAD, "SP_BIND_SHARED on a stream socket"},
        {SP__OS_WINDOWS, 1, 1, SH, BAD, "SP_BIND_SHARED on a stream socket"},
        {SP__OS_BSD, 1, 0, SH | NR, BAD, "SP_BIND_SHARED with SP_BIND_NOREUSE"},
        /* Unix sockets: no address options */
        {SP__OS_LINUX, 0, 1, 0, 0, "Unix stream socket"},
        {SP__OS_WINDOWS, 0, 1, 0, 0, "Unix stream socket on Windows"},
        {SP__OS_BSD, 0, 0, SH, 0, "Unix datagram socket, shared: nothing to set"},
    };
    for (const row &r : rows)
        EXPECT_EQ(r.want, sp__bind_plan(r.os, r.ip, r.stream, r.flags))
            << r.why << " (os " << r.os << ", ip " << r.ip << ", stream " << r.stream << ", flags "
            << r.flags << ")";
}

namespace
{

/*
 * XNU's SO_LINGER arithmetic, as bsd/kern/uipc_socket.c has it: sosetoptlock stores
 * so_linger = (short)l_linger for SO_LINGER and (short)(l_linger * hz) for SO_LINGER_SEC
 * (hz = 100, bsd/kern/kern_clock.c); soclose_locked sleeps so_linger / 100 seconds and
 * (so_linger % 100) * 10 ms while so_linger > 0. Returns the longest linger in ms.
 */
long long xnu_linger_ms(bool linger_sec, int l_linger)
{
    const int hz = 100;
    short so_linger = linger_sec ? (short)((long)l_linger * hz) : (short)l_linger;
    if (so_linger <= 0)
        return 0;
    return (long long)(so_linger / 100) * 1000 + (long long)(so_linger % 100) * 10;
}

} // namespace

/*
 * Item 3, replay. sp_set_linger(s, 1, n) must linger n seconds on macOS. XNU's SO_LINGER
 * counts ticks (5 -> 50 ms), so sockport uses SO_LINGER_SEC with sp__linger_sec_value(n),
 * which keeps n * hz inside XNU's short (more than 327 s would wrap and not linger).
 */
TEST(PlatformSockReplay, LingerSecondsOnXnu)
{
    EXPECT_EQ(50, xnu_linger_ms(false, 5)) << "XNU SO_LINGER 5 is 5 ticks: the defect";
    const int asked[] = {1, 5, 60, 326, 327, 328, 1000, 65535};
    for (int n : asked) {
        long long want = (long long)(n < SP__XNU_LINGER_MAX_S ? n : SP__XNU_LINGER_MAX_S) * 1000;
        EXPECT_EQ(want, xnu_linger_ms(true, sp__linger_sec_value(n))) << n << " s asked";
    }
    EXPECT_EQ(0, xnu_linger_ms(true, 400)) << "unclamped, 400 s would wrap: no linger at all";
    EXPECT_EQ(0, sp__linger_sec_value(0)) << "0 is the abortive close";
}

/* Issue #13 item 3, replay: the keepalive result from what was asked and what was set. */
TEST(PlatformSockReplay, KeepaliveResult)
{
    const unsigned I = SP__KA_IDLE, V = SP__KA_INTVL, C = SP__KA_CNT;
    EXPECT_EQ(0, sp__keepalive_result(0, 0)) << "keepalive on, no timing asked";
    EXPECT_EQ(0, sp__keepalive_result(I | V | C, I | V | C)) << "Linux, macOS, Windows 1709+";
    EXPECT_EQ(SP_KEEPALIVE_PARTIAL, sp__keepalive_result(I | V | C, I | V))
        << "Windows before 1709, Wine: SIO_KEEPALIVE_VALS sets idle and interval only";
    EXPECT_EQ(0, sp__keepalive_result(I | V, I | V)) << "the same without a count asked";
    EXPECT_EQ(SP_KEEPALIVE_PARTIAL, sp__keepalive_result(I | V, 0))
        << "OpenBSD: no TCP_KEEPIDLE / TCP_KEEPINTVL in its headers";
    EXPECT_GT(SP_KEEPALIVE_PARTIAL, 0) << "never a failure for `if (rc < 0)`";
}

/*
 * Item 7, replay. The ioctls that quiet a Windows UDP socket, against Microsoft's own
 * definitions (ws2def.h / mswsock.h: IOC_IN 0x80000000, IOC_VENDOR 0x18000000,
 * _WSAIOW(x, y) = IOC_IN | x | y): SIO_UDP_CONNRESET is vendor 12, SIO_UDP_NETRESET
 * vendor 15 (Microsoft "Winsock IOCTLs"). The win32 backend checks the same values
 * against its SDK at compile time. A system that does not know SIO_UDP_NETRESET keeps
 * the socket; SIO_UDP_CONNRESET failing gives it up.
 */
TEST(PlatformSockReplay, WindowsUdpIoctls)
{
    const unsigned long ioc_in = 0x80000000ul, ioc_vendor = 0x18000000ul;
    EXPECT_EQ(ioc_in | ioc_vendor | 12ul, (unsigned long)SP__SIO_UDP_CONNRESET);
    EXPECT_EQ(ioc_in | ioc_vendor | 15ul, (unsigned long)SP__SIO_UDP_NETRESET);
    const int wsaeinval = 10022, wsaeopnotsupp = 10045, wsaenotsock = 10038;
    EXPECT_FALSE(sp__udp_ioctl_fatal(SP__SIO_UDP_NETRESET, wsaeinval));
    EXPECT_FALSE(sp__udp_ioctl_fatal(SP__SIO_UDP_NETRESET, wsaeopnotsupp));
    EXPECT_TRUE(sp__udp_ioctl_fatal(SP__SIO_UDP_NETRESET, wsaenotsock));
    EXPECT_TRUE(sp__udp_ioctl_fatal(SP__SIO_UDP_CONNRESET, wsaeinval));
}

#ifdef _WIN32
/*
 * Item 7, live (Wine), user CI (Windows). Windows takes SIO_UDP_NETRESET = FALSE on a UDP
 * socket; what this Wine says is recorded (sockport keeps the socket either way).
 */
TEST_F(PlatformSock, WindowsUdpNetresetIoctl)
{
    SOCKET u = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    ASSERT_NE(INVALID_SOCKET, u);
    BOOL off = FALSE;
    DWORD bytes = 0;
    int r = WSAIoctl(u, (DWORD)SP__SIO_UDP_NETRESET, &off, sizeof off, nullptr, 0, &bytes, nullptr,
                     nullptr);
    int err = r == 0 ? 0 : WSAGetLastError();
    closesocket(u);
    if (is_wine() && r != 0)
        note_wine("WSAIoctl(SIO_UDP_NETRESET) fails with " + std::to_string(err) +
                  " (Windows takes it); sockport keeps the UDP socket");
    else
        EXPECT_EQ(0, r) << "WSAIoctl(SIO_UDP_NETRESET, FALSE): error " << err;
    Sock s;
    EXPECT_OK(sp_socket_open(s.out(), SP_AF_INET, SP_SOCK_DGRAM)) << "a sockport UDP socket";
}
#endif

/* ==== SP_BIND_SHARED (item 13: address reuse for datagrams only when asked) =============== */

/* Live (Linux, Wine). Two UDP sockets that both ask SP_BIND_SHARED share the port. */
TEST_F(PlatformSock, UdpSharedBindWhenAsked)
{
    Sock a, b;
    sp_addr addr;
    ASSERT_TRUE(udp_loopback(a, &addr, 0, SP_BIND_SHARED));
    ASSERT_OK(sp_socket_open(b.out(), SP_AF_INET, SP_SOCK_DGRAM));
    EXPECT_OK(sp_bind(b, &addr, SP_BIND_SHARED)) << "a second shared UDP socket";

    Sock t;
    ASSERT_OK(sp_socket_open(t.out(), SP_AF_INET, SP_SOCK_STREAM));
    sp_addr lo;
    ASSERT_OK(sp_addr_loopback(&lo, SP_AF_INET, 0));
    EXPECT_SP(SP_EINVAL, sp_bind(t, &lo, SP_BIND_SHARED)) << "SP_BIND_SHARED on TCP";
    Sock u;
    ASSERT_OK(sp_socket_open(u.out(), SP_AF_INET, SP_SOCK_DGRAM));
    EXPECT_SP(SP_EINVAL, sp_bind(u, &lo, SP_BIND_SHARED | SP_BIND_NOREUSE));
    EXPECT_SP(SP_EINVAL, sp_bind(u, &lo, 8u)) << "an unknown flag";
}

/* ==== the clock (issue #13) ================================================================== */

/* Live. sp_now_ms never goes back and follows real time (within the timer step). */
TEST_F(PlatformSock, NowMsIsMonotonic)
{
    uint64_t a = sp_now_ms();
    double t0 = now_ms();
    uint64_t prev = a;
    for (int i = 0; i < 100000; i++) {
        uint64_t t = sp_now_ms();
        ASSERT_GE(t, prev) << "sp_now_ms went back";
        prev = t;
    }
    sleep_ms(120);
    uint64_t b = sp_now_ms();
    double took = now_ms() - t0;
    EXPECT_GE((double)(b - a), took - 40.0)
        << "sp_now_ms advanced " << (b - a) << " ms in " << took << " ms";
    EXPECT_LE((double)(b - a), took + 40.0);
}

/* Live. sp_sleep_ms sleeps at least as asked; a negative time is SP_EINVAL. */
TEST_F(PlatformSock, SleepMsSleeps)
{
    double t0 = now_ms();
    EXPECT_OK(sp_sleep_ms(80));
    double took = now_ms() - t0;
    EXPECT_GE(took, 79.0);
    EXPECT_LT(took, 2000.0);
    EXPECT_OK(sp_sleep_ms(0));
    EXPECT_SP(SP_EINVAL, sp_sleep_ms(-1));
}

#ifndef _WIN32
/* Live (Linux). Signals do not cut sp_sleep_ms short. */
TEST_F(PlatformSock, SleepMsUnderFrequentSignals)
{
    SignalStorm storm(1000, 3000);
    ASSERT_TRUE(storm.ok());
    double t0 = now_ms();
    EXPECT_OK(sp_sleep_ms(150));
    double took = now_ms() - t0;
    storm.stop();
    EXPECT_GE(took, 149.0) << "interrupted by " << storm.sent() << " signals";
    EXPECT_LT(took, 2000.0);
}
#endif
