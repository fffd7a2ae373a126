/*
 * test_dial.cc - sp_dial / sp_dial_ex / the dialer (include/sockport/dial.h): one deadline
 * for the whole dial, Happy Eyeballs (RFC 8305), a resolver that cannot hold the caller,
 * the most useful error, and many dials at once from threads and from one poller loop.
 *
 * Two kinds of "address that does not answer":
 *  - a firewall DROP rule (iptables / ip6tables) in a namespace of the test's own
 *    (dial_ns.h), with a private /etc/hosts that makes a name resolve to the addresses
 *    the test wants: Linux only;
 *  - a listener whose accept queue is full: Linux drops the SYNs it cannot queue
 *    (tcp_conn_request counts them as ListenOverflows), so a connect to it hangs. This one
 *    needs no privilege and also works for the Windows build under Wine, whose sockets are
 *    Linux sockets of wineserver. On real Windows a full backlog is refused (RST) instead:
 *    these tests then see SP_ECONNREFUSED early, and say so.
 */
#include "dial_ns.h"
#include "helpers.h"

#include <algorithm>
#include <memory>

using namespace sptest;

namespace
{

std::string hostport(const char *host, int port)
{
    return std::string(host) + ":" + std::to_string(port);
}

/* A loopback listener whose accept queue is full: connects to it hang (see the top). */
struct FullListener {
    Sock listener;
    std::vector<Sock> fillers;
    sp_addr addr;
    int port = 0;
};

::testing::AssertionResult make_full_listener(FullListener &f, int family = SP_AF_INET)
{
    auto r = listen_loopback(f.listener, &f.addr, family, 1);
    if (!r)
        return r;
    f.port = sp_addr_port(&f.addr);
    for (int i = 0; i < 16; i++) {
        Sock c;
        int rc = sp_socket_open(c.out(), family, SP_SOCK_STREAM);
        if (rc != 0)
            return step_failed("sp_socket_open(filler)", rc);
        rc = sp_connect_start(c, &f.addr);
        if (rc != 0 && rc != SP_EINPROGRESS)
            return step_failed("sp_connect_start(filler)", rc);
        bool connected = rc == 0 || sp_connect_finish(c, 300) == 0;
        f.fillers.push_back(std::move(c));
        if (!connected)
            return ::testing::AssertionSuccess(); /* this one's SYN was dropped: full */
    }
    return ::testing::AssertionFailure() << "16 connects to a backlog-1 listener all went "
                                            "through: this system does not drop SYNs there";
}

class Dial : public SpTest
{
};

/* ---- literal addresses, options, errors (every platform) ----------------------------- */

TEST_F(Dial, LiteralAddressesConnectWithoutTheResolver)
{
    Sock l4;
    sp_addr a4;
    ASSERT_TRUE(listen_loopback(l4, &a4, SP_AF_INET));
    Sock c;
    ASSERT_OK(sp_dial(c.out(), addr_str(a4).c_str(), 2000));
    Sock srv;
    ASSERT_OK(sp_accept(l4, srv.out(), nullptr, 0));
    ASSERT_OK(sp_set_nonblocking(srv, 0));
    EXPECT_EQ(1, sp_send(c, "x", 1)) << "a blocking, connected socket";
    char ch = 0;
    EXPECT_EQ(1, sp_recv(srv, &ch, 1));

    Sock l6;
    sp_addr a6;
    if (listen_loopback(l6, &a6, SP_AF_INET6)) {
        Sock c6;
        EXPECT_OK(sp_dial(c6.out(), addr_str(a6).c_str(), 2000)) << addr_str(a6);
    }
}

TEST_F(Dial, RefusedLiteralIsRefusedAtOnce)
{
    int port = closed_port();
    ASSERT_GT(port, 0);
    Sock c;
    double t0 = now_ms();
    EXPECT_SP(SP_ECONNREFUSED, sp_dial(c.out(), hostport("127.0.0.1", port).c_str(), 5000));
    EXPECT_FALSE(c.valid());
    /* Windows retries a refused SYN for about 2 s; Linux and Wine answer at once */
    EXPECT_LT(now_ms() - t0, 3000.0);
}

TEST_F(Dial, OptionsAreChecked)
{
    sp_dial_options o;
    sp_dial_options_init(&o);
    EXPECT_EQ(sizeof o, o.size);
    EXPECT_EQ(SP_DIAL_DELAY_DEFAULT, o.attempt_delay_ms);
    EXPECT_EQ(250, SP_DIAL_DELAY_DEFAULT);
    Sock c;
    const std::string a = hostport("127.0.0.1", closed_port());
    o.attempt_delay_ms = SP_DIAL_DELAY_MIN - 1;
    EXPECT_SP(SP_EINVAL, sp_dial_ex(c.out(), a.c_str(), 100, &o));
    o.attempt_delay_ms = SP_DIAL_DELAY_MAX + 1;
    EXPECT_SP(SP_EINVAL, sp_dial_ex(c.out(), a.c_str(), 100, &o));
    o.attempt_delay_ms = SP_DIAL_DELAY_MIN;
    EXPECT_SP(SP_ECONNREFUSED, sp_dial_ex(c.out(), a.c_str(), 1000, &o));
    o.size = 0;
    EXPECT_SP(SP_EINVAL, sp_dial_ex(c.out(), a.c_str(), 100, &o)) << "size not set";
    sp_dial_options_init(&o);
    o.family = 99;
    EXPECT_SP(SP_EINVAL, sp_dial_ex(c.out(), a.c_str(), 100, &o));
    sp_dial_options_init(&o);
    o.flags = 2;
    EXPECT_SP(SP_EINVAL, sp_dial_ex(c.out(), a.c_str(), 100, &o));
    sp_dial_options_init(&o);
    o.family = SP_AF_INET6;
    EXPECT_SP(SP_EAI_FAMILY, sp_dial_ex(c.out(), a.c_str(), 100, &o)) << "IPv4 text, IPv6 asked";
    sp_poller *p = nullptr;
    ASSERT_OK(sp_poller_create(&p, SP_POLLER_AUTO));
    sp_dial_options_init(&o);
    o.poller = p;
    EXPECT_SP(SP_EINVAL, sp_dial_ex(c.out(), a.c_str(), 100, &o)) << "a poller, blocking call";
    sp_poller_destroy(p);
    EXPECT_SP(SP_EINVAL, sp_dial_ex(nullptr, a.c_str(), 100, nullptr));
    EXPECT_SP(SP_EINVAL, sp_dial_ex(c.out(), nullptr, 100, nullptr));
    EXPECT_SP(SP_EINVAL, sp_dial_ex(c.out(), "127.0.0.1", 100, nullptr)) << "no port";
    sp_dialer *d = nullptr;
    EXPECT_SP(SP_EINVAL, sp_dial_start(&d, "[::1", 100, nullptr));
    EXPECT_EQ(nullptr, d);
    EXPECT_SP(SP_EINVAL, sp_dial_step(nullptr, nullptr));
    sp_dial_free(nullptr);
}

TEST_F(Dial, NonblockFlagKeepsTheSocketNonBlocking)
{
    Sock l;
    sp_addr a;
    ASSERT_TRUE(listen_loopback(l, &a));
    sp_dial_options o;
    sp_dial_options_init(&o);
    o.flags = SP_DIAL_NONBLOCK;
    Sock c;
    ASSERT_OK(sp_dial_ex(c.out(), addr_str(a).c_str(), 2000, &o));
    char ch;
    EXPECT_SP(SP_EAGAIN, sp_recv(c, &ch, 1)) << "nothing to read, and the socket does not block";
}

/* A name goes through the resolver's worker thread (the system's own hosts file: localhost
 * is 127.0.0.1 here, and ::1 too on Windows, where ::1 then loses the race). */
TEST_F(Dial, NameDialsThroughTheResolver)
{
    Sock l;
    sp_addr a;
    ASSERT_TRUE(listen_loopback(l, &a, SP_AF_INET));
    const std::string name = hostport("localhost", sp_addr_port(&a));
    Sock c;
    ASSERT_OK(sp_dial(c.out(), name.c_str(), 5000));
    sp_addr peer;
    ASSERT_OK(sp_peer_addr(c, &peer));
    EXPECT_TRUE(sp_addr_equal(&peer, &a)) << addr_str(peer);
    sp_dialer *d = nullptr;
    ASSERT_OK(sp_dial_start(&d, name.c_str(), 5000, nullptr));
    int rc = SP_EINPROGRESS, t = 0;
    for (int round = 0; round < 1000 && rc == SP_EINPROGRESS; round++) {
        rc = sp_dial_step(d, &t);
        sp_socket_t s[8];
        int ev[8];
        int n = sp_dial_watch(d, s, ev, 8);
        if (rc == SP_EINPROGRESS && n > 0) /* the waker (read), then the attempt (write) */
            (void)sp_wait(s[0], ev[0], t < 0 || t > 50 ? 50 : t);
    }
    ASSERT_OK(rc);
    Sock c2;
    EXPECT_OK(sp_dial_finish(d, c2.out()));
    sp_dial_free(d);
    /* .invalid never resolves (RFC 2606); without a network the resolver may say "try
     * again" instead of "no such name" */
    rc = sp_dial(c.out(), "no-such-host.invalid:80", 5000);
    EXPECT_TRUE(rc == SP_EAI_NONAME || rc == SP_EAI_AGAIN || rc == SP_EAI_FAIL ||
                rc == SP_EAI_NODATA)
        << code_str(rc);
}

/* One literal address that does not answer: the deadline, once. */
TEST_F(Dial, BlackholedLiteralTimesOutAtTheDeadline)
{
    FullListener f;
    ASSERT_TRUE(make_full_listener(f));
    Sock c;
    double t0 = now_ms();
    int rc = sp_dial(c.out(), addr_str(f.addr).c_str(), 400);
    double took = now_ms() - t0;
    EXPECT_SP(SP_ETIMEDOUT, rc);
    EXPECT_GE(took, 395.0);
    EXPECT_LT(took, 400.0 + late_slack(250));
    c.release();
}

/* ---- the dialer on a poller, and on sp_select ---------------------------------------- */

/* Drive many dialers from one poller loop until each is done; return their results. */
/* Whether the dialer has a connection attempt in flight (a handle watched for
 * SP_EV_WRITE: dial.h sp_dial_watch), that is, its name is resolved. */
bool attempting(const sp_dialer *d)
{
    sp_socket_t socks[SP_DIAL_MAX_ADDRS + 1];
    int events[SP_DIAL_MAX_ADDRS + 1];
    const int n = sp_dial_watch(d, socks, events, SP_DIAL_MAX_ADDRS + 1);
    for (int i = 0; i < n && i < SP_DIAL_MAX_ADDRS + 1; i++)
        if (events[i] & SP_EV_WRITE)
            return true;
    return false;
}

/* Run the dials of `targets` on one poller loop; took: each one's ms from the start to
 * its end; first_attempt (when given): the ms from the start to the step in which its
 * first connection attempt began (-1: none began). */
std::vector<int> run_poller_loop(const std::vector<std::string> &targets, int timeout_ms,
                                 std::vector<double> *took, std::vector<Sock> *socks,
                                 std::vector<double> *first_attempt = nullptr)
{
    sp_poller *p = nullptr;
    EXPECT_OK(sp_poller_create(&p, SP_POLLER_AUTO));
    if (p == nullptr)
        return {};
    const size_t n = targets.size();
    std::vector<sp_dialer *> ds(n, nullptr);
    std::vector<int> rcs(n, SP_EINPROGRESS);
    took->assign(n, 0.0);
    if (first_attempt != nullptr)
        first_attempt->assign(n, -1.0);
    socks->clear();
    socks->resize(n);
    double t0 = now_ms();
    for (size_t i = 0; i < n; i++) {
        sp_dial_options o;
        sp_dial_options_init(&o);
        o.poller = p;
        o.poller_data = (void *)(uintptr_t)(i + 1);
        int rc = sp_dial_start(&ds[i], targets[i].c_str(), timeout_ms, &o);
        EXPECT_OK(rc) << targets[i];
        if (rc != 0)
            rcs[i] = rc;
    }
    size_t left = n;
    while (left > 0 && now_ms() - t0 < timeout_ms + 5000) {
        int wait = -1;
        for (size_t i = 0; i < n; i++) {
            if (rcs[i] != SP_EINPROGRESS || ds[i] == nullptr)
                continue;
            int t = -1;
            const double before = now_ms() - t0;
            int rc = sp_dial_step(ds[i], &t);
            if (first_attempt != nullptr && (*first_attempt)[i] < 0 && attempting(ds[i]))
                (*first_attempt)[i] = before; /* this step took the answer and connects */
            if (rc != SP_EINPROGRESS) {
                rcs[i] = rc;
                (*took)[i] = now_ms() - t0;
                if (rc == 0) {
                    EXPECT_OK(sp_dial_finish(ds[i], (*socks)[i].out()));
                }
                sp_dial_free(ds[i]);
                ds[i] = nullptr;
                left--;
                continue;
            }
            if (t >= 0 && (wait < 0 || t < wait))
                wait = t;
        }
        if (left == 0)
            break;
        sp_event ev[64];
        int k = sp_poller_wait(p, ev, 64, wait);
        EXPECT_GE(k, 0);
        /* every dialer is stepped each round: a step is cheap and says what is due */
    }
    for (size_t i = 0; i < n; i++)
        sp_dial_free(ds[i]);
    sp_poller_destroy(p);
    return rcs;
}

TEST_F(Dial, ManyDialsFromOnePollerLoopAreEachBounded)
{
    Sock l;
    sp_addr a;
    ASSERT_TRUE(listen_loopback(l, &a, SP_AF_INET, 64));
    FullListener f;
    ASSERT_TRUE(make_full_listener(f));
    const int refused = closed_port();
#ifndef _WIN32
    const int fds0 = dialns::open_fds();
#endif
    std::vector<std::string> targets;
    for (int i = 0; i < 10; i++) {
        targets.push_back(addr_str(a));
        targets.push_back(addr_str(f.addr));
        targets.push_back(hostport("127.0.0.1", refused));
    }
    std::vector<double> took;
    std::vector<Sock> socks;
    const int deadline = 500;
    std::vector<int> rcs = run_poller_loop(targets, deadline, &took, &socks);
    ASSERT_EQ(targets.size(), rcs.size());
    for (size_t i = 0; i < rcs.size(); i++) {
        SCOPED_TRACE(targets[i]);
        if (i % 3 == 0) {
            EXPECT_OK(rcs[i]);
            EXPECT_TRUE(socks[i].valid());
        } else if (i % 3 == 1) {
            EXPECT_SP(SP_ETIMEDOUT, rcs[i]);
            EXPECT_GE(took[i], deadline - 5.0);
        } else {
            EXPECT_SP(SP_ECONNREFUSED, rcs[i]);
        }
        EXPECT_LT(took[i], deadline + late_slack(300));
    }
    socks.clear();
#ifndef _WIN32
    EXPECT_EQ(fds0, dialns::open_fds()) << "every attempt and every dialer handle is closed";
#endif
}

TEST_F(Dial, DialerWatchListDrivesSelect)
{
    Sock l;
    sp_addr a;
    ASSERT_TRUE(listen_loopback(l, &a));
    sp_dialer *d = nullptr;
    ASSERT_OK(sp_dial_start(&d, addr_str(a).c_str(), 2000, nullptr));
    int rc = SP_EINPROGRESS, t = 0;
    for (int round = 0; round < 100 && rc == SP_EINPROGRESS; round++) {
        rc = sp_dial_step(d, &t);
        if (rc != SP_EINPROGRESS)
            break;
        sp_socket_t s[8];
        int ev[8];
        int n = sp_dial_watch(d, s, ev, 8);
        ASSERT_GE(n, 1);
        sp_sockset wr = SP_SOCKSET_INIT, ex = SP_SOCKSET_INIT;
        for (int i = 0; i < n; i++) {
            EXPECT_EQ(SP_EV_WRITE, ev[i]);
            sp_sockset_add(&wr, s[i]);
            sp_sockset_add(&ex, s[i]);
        }
        EXPECT_GE(sp_select(nullptr, &wr, &ex, t), 0);
        sp_sockset_free(&wr);
        sp_sockset_free(&ex);
    }
    ASSERT_OK(rc);
    EXPECT_EQ(0, sp_dial_watch(d, nullptr, nullptr, 0)) << "nothing to watch once done";
    Sock c;
    EXPECT_OK(sp_dial_finish(d, c.out()));
    EXPECT_TRUE(c.valid());
    sp_socket_t again;
    EXPECT_SP(SP_EALREADY, sp_dial_finish(d, &again));
    sp_dial_free(d);
}

TEST_F(Dial, ConcurrentDialsFromThreadsAreEachBounded)
{
    FullListener f;
    ASSERT_TRUE(make_full_listener(f));
    Sock l;
    sp_addr a;
    ASSERT_TRUE(listen_loopback(l, &a, SP_AF_INET, 64));
#ifndef _WIN32
    const int fds0 = dialns::open_fds();
#endif
    const int n = 16, deadline = 400;
    std::vector<int> rcs(n, 1);
    std::vector<double> took(n, 0.0);
    std::vector<std::thread> ts;
    const std::string hole = addr_str(f.addr), good = addr_str(a);
    for (int i = 0; i < n; i++) {
        ts.emplace_back([&, i] {
            sp_socket_t s = SP_INVALID_SOCKET;
            double t0 = now_ms();
            rcs[i] = sp_dial(&s, (i % 2 ? good : hole).c_str(), deadline);
            took[i] = now_ms() - t0;
            if (s != SP_INVALID_SOCKET)
                sp_close(s);
        });
    }
    for (auto &t : ts)
        t.join();
    for (int i = 0; i < n; i++) {
        SCOPED_TRACE(i);
        EXPECT_SP(i % 2 ? 0 : SP_ETIMEDOUT, rcs[i]);
        EXPECT_LT(took[i], deadline + late_slack(300));
    }
#ifndef _WIN32
    EXPECT_EQ(fds0, dialns::open_fds());
#endif
}

/* ---- names: Happy Eyeballs, the deadline, the resolver (Linux namespaces) ------------ */

#if defined(_WIN32)
#    define NEEDS_NAMESPACE() GTEST_SKIP() << dialns::wine_has_no_private_namespace()
#elif !defined(SP_DIAL_NS)
#    define NEEDS_NAMESPACE()                                                                      \
        GTEST_SKIP() << "a private /etc/hosts, resolv.conf and firewall need Linux's mount and "   \
                        "network namespaces; the Linux build runs this test"
#else
#    define NEEDS_NAMESPACE() (void)0
#endif

#ifdef SP_DIAL_NS
/* What the resolver says for name:port, as text ("[::1]:80 127.0.0.1:80"). */
std::string resolved(const std::string &text)
{
    sp_addr as[32];
    int n = sp_addr_resolve(text.c_str(), SP_AF_UNSPEC, SP_SOCK_STREAM, as, 32);
    if (n < 0)
        return code_str(n);
    std::string out;
    for (int i = 0; i < n && i < 32; i++)
        out += (i ? " " : "") + addr_str(as[i]);
    return out;
}

/* The peer's family of a connected socket. */
int peer_family(sp_socket_t s)
{
    sp_addr p;
    return sp_peer_addr(s, &p) == 0 ? sp_addr_family(&p) : -1;
}

dialns::Config both_localhost()
{
    dialns::Config c;
    c.hosts = "::1 localhost\n127.0.0.1 localhost\n";
    return c;
}
#endif

TEST_F(Dial, V6RefusedGoesToV4AtOnce)
{
    NEEDS_NAMESPACE();
#ifdef SP_DIAL_NS
    dialns::in_namespace(both_localhost(), [] {
        Sock l;
        sp_addr a;
        ASSERT_TRUE(listen_loopback(l, &a, SP_AF_INET));
        const int port = sp_addr_port(&a);
        const std::string name = hostport("localhost", port);
        ASSERT_EQ("[::1]:" + std::to_string(port) + " 127.0.0.1:" + std::to_string(port),
                  resolved(name))
            << "the private hosts file gives ::1 first";
        Sock c;
        double t0 = now_ms();
        ASSERT_OK(sp_dial(c.out(), name.c_str(), 2000));
        double took = now_ms() - t0;
        EXPECT_EQ(SP_AF_INET, peer_family(c));
        /* ::1 answers with a reset: RFC 8305 section 5 starts the next attempt at once */
        EXPECT_LT(took, late_slack(SP_DIAL_DELAY_DEFAULT)) << "no wait for the attempt delay";
    });
#endif
}

TEST_F(Dial, V6BlackholedConnectsViaV4AfterTheAttemptDelay)
{
    NEEDS_NAMESPACE();
#ifdef SP_DIAL_NS
    dialns::in_namespace(both_localhost(), [] {
        Sock l4, l6;
        sp_addr a4, a6;
        ASSERT_TRUE(listen_loopback(l4, &a4, SP_AF_INET));
        const int port = sp_addr_port(&a4);
        ASSERT_OK(sp_socket_open(l6.out(), SP_AF_INET6, SP_SOCK_STREAM));
        ASSERT_OK(sp_addr_loopback(&a6, SP_AF_INET6, port));
        ASSERT_OK(sp_listen(l6, &a6, 16, 0));
        ASSERT_EQ("", dialns::blackhole("ip6tables", port));
        const std::string name = hostport("localhost", port);
        for (int delay : {SP_DIAL_DELAY_DEFAULT, 100}) {
            SCOPED_TRACE("attempt delay " + std::to_string(delay));
            sp_dial_options o;
            sp_dial_options_init(&o);
            o.attempt_delay_ms = delay;
            Sock c;
            double t0 = now_ms();
            ASSERT_OK(sp_dial_ex(c.out(), name.c_str(), 3000, &o));
            double took = now_ms() - t0;
            EXPECT_EQ(SP_AF_INET, peer_family(c));
            EXPECT_GE(took, delay - 2.0) << "IPv6 had its head start";
            EXPECT_LT(took, delay + late_slack(100)) << "IPv4 went as soon as the delay was over";
        }
        /* prefer IPv4: the blackholed family is never waited for */
        sp_dial_options o;
        sp_dial_options_init(&o);
        o.prefer = SP_AF_INET;
        Sock c;
        double t0 = now_ms();
        ASSERT_OK(sp_dial_ex(c.out(), name.c_str(), 3000, &o));
        EXPECT_LT(now_ms() - t0, late_slack(100));
        EXPECT_EQ(SP_AF_INET, peer_family(c));
    });
#endif
}

TEST_F(Dial, BothFamiliesBlackholedTimeOutAtOneDeadline)
{
    NEEDS_NAMESPACE();
#ifdef SP_DIAL_NS
    dialns::in_namespace(both_localhost(), [] {
        const int port = closed_port();
        ASSERT_EQ("", dialns::blackhole("ip6tables", port));
        ASSERT_EQ("", dialns::blackhole("iptables", port));
        const int fds0 = dialns::open_fds();
        Sock c;
        double t0 = now_ms();
        EXPECT_SP(SP_ETIMEDOUT, sp_dial(c.out(), hostport("localhost", port).c_str(), 600));
        double took = now_ms() - t0;
        EXPECT_GE(took, 595.0);
        EXPECT_LT(took, 600.0 + late_slack(150)) << "one deadline, not one per address";
        EXPECT_EQ(fds0, dialns::open_fds());
    });
#endif
}

TEST_F(Dial, SixteenBlackholedAddressesTimeOutAtOneDeadline)
{
    NEEDS_NAMESPACE();
#ifdef SP_DIAL_NS
    dialns::Config cfg;
    for (int i = 2; i < 18; i++)
        cfg.hosts += "127.0.0." + std::to_string(i) + " many.test\n";
    dialns::in_namespace(cfg, [] {
        const int port = closed_port();
        ASSERT_EQ("", dialns::blackhole("iptables", port));
        const std::string name = hostport("many.test", port);
        sp_addr as[32];
        ASSERT_EQ(16, sp_addr_resolve(name.c_str(), SP_AF_UNSPEC, SP_SOCK_STREAM, as, 32));
        for (int delay : {SP_DIAL_DELAY_DEFAULT, SP_DIAL_DELAY_MIN}) {
            SCOPED_TRACE("attempt delay " + std::to_string(delay));
            sp_dial_options o;
            sp_dial_options_init(&o);
            o.attempt_delay_ms = delay; /* 10 ms: all 16 attempts run within the deadline */
            Sock c;
            double t0 = now_ms();
            EXPECT_SP(SP_ETIMEDOUT, sp_dial_ex(c.out(), name.c_str(), 700, &o));
            double took = now_ms() - t0;
            EXPECT_GE(took, 695.0);
            EXPECT_LT(took, 700.0 + late_slack(150)) << "16 addresses, one deadline";
        }
    });
#endif
}

TEST_F(Dial, RefusedOnOneFamilyAndSilentOnTheOtherIsRefused)
{
    NEEDS_NAMESPACE();
#ifdef SP_DIAL_NS
    dialns::in_namespace(both_localhost(), [] {
        const int port = closed_port();
        /* ::1 refuses (nothing listens), 127.0.0.1 never answers */
        ASSERT_EQ("", dialns::blackhole("iptables", port));
        Sock c;
        EXPECT_SP(SP_ECONNREFUSED, sp_dial(c.out(), hostport("localhost", port).c_str(), 500));
        /* and the other way round: ::1 silent, 127.0.0.1 refuses */
        const int port2 = closed_port();
        ASSERT_EQ("", dialns::blackhole("ip6tables", port2));
        double t0 = now_ms();
        EXPECT_SP(SP_ECONNREFUSED, sp_dial(c.out(), hostport("localhost", port2).c_str(), 500));
        EXPECT_LT(now_ms() - t0, 500.0 + late_slack(150));
        /* both refuse: the first family's error (the same code here) */
        EXPECT_SP(SP_ECONNREFUSED,
                  sp_dial(c.out(), hostport("localhost", closed_port()).c_str(), 500));
    });
#endif
}

#ifdef SP_DIAL_NS
/* A DNS server that reads every query and never answers. */
struct SilentDns {
    Sock s;
    std::atomic<int> queries{0};
    std::atomic<bool> stop{false};
    std::thread t;
    ::testing::AssertionResult start()
    {
        sp_addr a;
        int rc = sp_socket_open(s.out(), SP_AF_INET, SP_SOCK_DGRAM);
        if (rc != 0)
            return step_failed("sp_socket_open(udp)", rc);
        if ((rc = sp_addr_parse(&a, "127.0.0.1:53")) != 0 || (rc = sp_bind(s, &a, 0)) != 0)
            return step_failed("bind 127.0.0.1:53", rc);
        if ((rc = sp_set_recv_timeout(s, 50)) != 0)
            return step_failed("sp_set_recv_timeout", rc);
        t = std::thread([this] {
            char buf[1500];
            while (!stop.load())
                if (sp_recvfrom(s, buf, sizeof buf, nullptr) > 0)
                    queries++;
        });
        return ::testing::AssertionSuccess();
    }
    ~SilentDns()
    {
        stop = true;
        if (t.joinable())
            t.join();
    }
};

/* Wait until only `want` threads are left (the resolver workers have ended). */
bool threads_settle(int want, int ms)
{
    double t0 = now_ms();
    while (now_ms() - t0 < ms) {
        if (dialns::threads() <= want)
            return true;
        sleep_ms(20);
    }
    return false;
}
#endif

TEST_F(Dial, SilentResolverTimesOutAtTheDeadlineAndTheLateAnswerIsFreed)
{
    NEEDS_NAMESPACE();
#ifdef SP_DIAL_NS
    dialns::in_namespace(dialns::Config(), [] {
        SilentDns dns;
        ASSERT_TRUE(dns.start());
        const int threads0 = dialns::threads();
        const int fds0 = dialns::open_fds();
        Sock c;
        double t0 = now_ms();
        EXPECT_SP(SP_ETIMEDOUT, sp_dial(c.out(), "silent.test:80", 300));
        double took = now_ms() - t0;
        EXPECT_GE(took, 295.0);
        EXPECT_LT(took, 300.0 + late_slack(150)) << "resolution did not hold the caller";

        /* the dialer too, abandoned while resolving */
        sp_dialer *d = nullptr;
        ASSERT_OK(sp_dial_start(&d, "silent2.test:80", -1, nullptr));
        int t = 0;
        EXPECT_SP(SP_EINPROGRESS, sp_dial_step(d, &t));
        EXPECT_EQ(-1, t) << "no deadline: wait for the resolver's waker";
        sp_socket_t w;
        int ev = 0;
        ASSERT_EQ(1, sp_dial_watch(d, &w, &ev, 1));
        EXPECT_EQ(SP_EV_READ, ev);
        EXPECT_FALSE(ready(w, SP_EV_READ, 100)) << "no answer yet";
        sp_dial_free(d);

        EXPECT_GT(dialns::threads(), threads0) << "the resolver workers still wait for DNS";
        /* resolv.conf: timeout 2 s, 1 attempt: getaddrinfo gives up and each worker frees
         * its job (LeakSanitizer / valgrind check this process's heap at its exit) */
        EXPECT_TRUE(threads_settle(threads0, 15000))
            << dialns::threads() << " threads, " << threads0 << " before";
        EXPECT_GT(dns.queries.load(), 0) << "the resolver did ask the silent server";
        EXPECT_EQ(fds0, dialns::open_fds()) << "the waker is closed by the late worker";
    });
#endif
}

TEST_F(Dial, DialerResolvesANameOnAPollerLoop)
{
    NEEDS_NAMESPACE();
#ifdef SP_DIAL_NS
    dialns::in_namespace(both_localhost(), [] {
        Sock l4;
        sp_addr a4;
        ASSERT_TRUE(listen_loopback(l4, &a4, SP_AF_INET, 64));
        const int port = sp_addr_port(&a4);
        ASSERT_EQ("", dialns::blackhole("ip6tables", port));
        const int fds0 = dialns::open_fds();
        std::vector<std::string> targets(8, hostport("localhost", port));
        targets.push_back(hostport("localhost", closed_port())); /* ::1 refused, v4 refused */
        std::vector<double> took, first;
        std::vector<Sock> socks;
        std::vector<int> rcs = run_poller_loop(targets, 2000, &took, &socks, &first);
        ASSERT_EQ(targets.size(), rcs.size());
        for (size_t i = 0; i + 1 < targets.size(); i++) {
            SCOPED_TRACE(i);
            EXPECT_OK(rcs[i]);
            EXPECT_EQ(SP_AF_INET, peer_family(socks[i]));
            /* The attempt delay counts from the first attempt (::1, blackholed), which
             * starts once the name is resolved (nine resolver threads here). Counted from
             * the dials' start, the resolution's time under load was the delay's: 1090 ms
             * against 400 at load 40-220. Both bounds count from the step that started
             * the first attempt (its start: the attempt began no earlier, so the lower
             * bound is stricter than from the dials' start). Beside 80 busy loops the
             * connect came up to 336 ms after it (the timer's and the connect's wake-ups):
             * natively the bound is 490 ms, the widest that still fails a dialer that runs
             * the delay twice (500 ms at least, whatever the load); a dialer that waits
             * for the ::1 attempt ends with SP_ETIMEDOUT at the 2 s deadline. */
            const double late =
                std::max(SP_DIAL_DELAY_DEFAULT + late_slack(150), 2.0 * SP_DIAL_DELAY_DEFAULT - 10);
            ASSERT_GE(first[i], 0.0) << "no attempt began";
            EXPECT_GE(took[i] - first[i], SP_DIAL_DELAY_DEFAULT - 2.0) << "IPv6's head start";
            EXPECT_LT(took[i] - first[i], late)
                << took[i] << " ms from the start, the first attempt at " << first[i];
        }
        EXPECT_SP(SP_ECONNREFUSED, rcs.back());
        double latest = 0, longest = 0;
        for (size_t i = 0; i + 1 < targets.size(); i++) {
            latest = std::max(latest, first[i]);
            longest = std::max(longest, took[i] - first[i]);
        }
        std::printf("[ MEASURED ] first attempts began by %.0f ms; connected at most %.0f ms "
                    "after them\n",
                    latest, longest);
        socks.clear();
        EXPECT_EQ(fds0, dialns::open_fds());
    });
#endif
}

} /* namespace */
