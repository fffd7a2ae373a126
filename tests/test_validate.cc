/*
 * test_validate.cc - the argument checks every public socket call makes, once, in
 * src/common/socket.c: the same code on every OS, before the system is asked (issue #11).
 * Each check here once differed between src/posix and src/win32: SP_INVALID_SOCKET was
 * caught up front only on Windows; sp_sendv(s, NULL, 0) failed on POSIX and went ahead
 * on Windows; the linger range and the keepalive bounds were Windows-only.
 */
#include "helpers.h"

#include <climits>

using namespace sptest;

namespace
{

class Validate : public SpTest
{
};

/* The native code a call on SP_INVALID_SOCKET leaves behind: the OS's own "not a
 * socket" (EBADF on POSIX, WSAENOTSOCK on Windows), as if the OS had been asked. */
void expect_badf_native()
{
    EXPECT_EQ(sp_err_to_native(SP_EBADF), sp_last_native_error());
    EXPECT_NE(0, sp_last_native_error());
}

#define EXPECT_BADF(call)                                                                          \
    do {                                                                                           \
        EXPECT_SP(SP_EBADF, (call)) << #call;                                                      \
        expect_badf_native();                                                                      \
    } while (0)

TEST_F(Validate, InvalidSocketIsEbadfInEveryCall)
{
    const sp_socket_t bad = SP_INVALID_SOCKET;
    sp_addr to, out;
    char buf[4] = {0};
    sp_iovec iov = sp_iovec_make(buf, sizeof buf);
    sp_socket_t acc = 12345;
    size_t done = 99;
    int v = 7;
    ASSERT_OK(sp_addr_loopback(&to, SP_AF_INET, closed_port()));

    EXPECT_BADF(sp_close(bad));
    EXPECT_BADF(sp_close_abortive(bad));
    EXPECT_BADF(sp_set_nonblocking(bad, 1));
    EXPECT_BADF(sp_connect(bad, &to));
    EXPECT_BADF(sp_connect_start(bad, &to));
    EXPECT_BADF(sp_connect_timeout(bad, &to, 100));
    EXPECT_BADF(sp_connect_finish(bad, 0));
    EXPECT_BADF(sp_bind(bad, &to, 0));
    EXPECT_BADF(sp_listen(bad, &to, 1, 0));
    EXPECT_BADF(sp_accept(bad, &acc, nullptr, 0));
    EXPECT_EQ(SP_INVALID_SOCKET, acc);
    EXPECT_BADF(sp_shutdown(bad, SP_SHUT_WR));
    EXPECT_BADF(sp_send(bad, buf, sizeof buf));
    EXPECT_BADF(sp_recv(bad, buf, sizeof buf));
    EXPECT_BADF(sp_sendv(bad, &iov, 1));
    EXPECT_BADF(sp_recvv(bad, &iov, 1));
    EXPECT_BADF(sp_send_all(bad, buf, sizeof buf, 100, &done));
    EXPECT_EQ(0u, done);
    EXPECT_BADF(sp_recv_all(bad, buf, sizeof buf, -1, &done));
    EXPECT_BADF(sp_sendv_all(bad, &iov, 1, -1, &done));
    EXPECT_BADF(sp_sendto(bad, buf, sizeof buf, &to));
    EXPECT_BADF(sp_recvfrom(bad, buf, sizeof buf, &out));
    EXPECT_BADF(sp_wait(bad, SP_EV_READ, 1000)); /* at once, not after the timeout */
    EXPECT_BADF(sp_set_nodelay(bad, 1));
    EXPECT_BADF(sp_set_keepalive(bad, 1, 10, 5, 3));
    EXPECT_BADF(sp_get_keepalive(bad, &v, nullptr, nullptr, nullptr));
    EXPECT_BADF(sp_set_recv_timeout(bad, 10));
    EXPECT_BADF(sp_set_send_timeout(bad, 10));
    EXPECT_BADF(sp_get_recv_timeout(bad, &v));
    EXPECT_BADF(sp_get_send_timeout(bad, &v));
    EXPECT_BADF(sp_set_send_buffer(bad, 4096));
    EXPECT_BADF(sp_set_recv_buffer(bad, 4096));
    EXPECT_BADF(sp_get_send_buffer(bad, &v));
    EXPECT_BADF(sp_get_recv_buffer(bad, &v));
    EXPECT_BADF(sp_set_linger(bad, 1, 0));
    EXPECT_BADF(sp_socket_error(bad));
    EXPECT_BADF(sp_local_addr(bad, &out));
    EXPECT_BADF(sp_peer_addr(bad, &out));
}

TEST_F(Validate, InvalidSocketWaitFailsAtOnce)
{
    double t0 = now_ms();
    EXPECT_SP(SP_EBADF, sp_wait(SP_INVALID_SOCKET, SP_EV_READ | SP_EV_WRITE, 3000));
    EXPECT_LT(now_ms() - t0, 1000.0);
}

/* The header: SP_EINVAL for a NULL iov, whatever n is (Windows used to accept n == 0). */
TEST_F(Validate, NullIovIsEinvalEvenForZeroBuffers)
{
    Sock c, s;
    char byte = 'x';
    sp_iovec one = sp_iovec_make(&byte, 1);
    size_t done = 99;
    ASSERT_TRUE(tcp_pair(c, s));
    EXPECT_SP(SP_EINVAL, sp_sendv(c, nullptr, 0));
    EXPECT_SP(SP_EINVAL, sp_recvv(s, nullptr, 0));
    EXPECT_SP(SP_EINVAL, sp_sendv(c, nullptr, 1));
    EXPECT_SP(SP_EINVAL, sp_sendv(c, &one, -1));
    EXPECT_SP(SP_EINVAL, sp_recvv(s, &one, -1));
    EXPECT_SP(SP_EINVAL, sp_sendv_all(c, nullptr, 0, 100, &done));
    EXPECT_EQ(0u, done);
    /* An empty array that is there is a send of nothing. */
    EXPECT_EQ(0, sp_sendv(c, &one, 0));
    EXPECT_OK(sp_sendv_all(c, &one, 0, 100, &done));
    EXPECT_EQ(0u, done);
    /* The connection is untouched by the refused calls. */
    ASSERT_EQ(1, sp_sendv(c, &one, 1));
    char got = 0;
    sp_iovec in = sp_iovec_make(&got, 1);
    ASSERT_EQ(1, sp_recvv(s, &in, 1));
    EXPECT_EQ('x', got);
}

TEST_F(Validate, NullBufferWithLengthIsEinval)
{
    Sock c, s;
    sp_addr to, from;
    ASSERT_TRUE(tcp_pair(c, s));
    ASSERT_OK(sp_local_addr(s, &to));
    EXPECT_SP(SP_EINVAL, sp_send(c, nullptr, 1));
    EXPECT_SP(SP_EINVAL, sp_recv(s, nullptr, 1));
    EXPECT_SP(SP_EINVAL, sp_sendto(c, nullptr, 1, &to));
    EXPECT_SP(SP_EINVAL, sp_recvfrom(s, nullptr, 1, &from));
    EXPECT_SP(SP_EINVAL, sp_send_all(c, nullptr, 1, 100, nullptr));
    EXPECT_SP(SP_EINVAL, sp_recv_all(s, nullptr, 1, 100, nullptr));
    EXPECT_EQ(0, sp_send(c, nullptr, 0));
}

/* One range on every OS: 0..65535 (Windows' u_short l_linger), checked before the OS. */
TEST_F(Validate, LingerRangeIsZeroTo65535)
{
    Sock s;
    ASSERT_OK(sp_socket_open(s.out(), SP_AF_INET, SP_SOCK_STREAM));
    EXPECT_SP(SP_EINVAL, sp_set_linger(s, 1, -1));
    EXPECT_SP(SP_EINVAL, sp_set_linger(s, 1, 65536));
    EXPECT_SP(SP_EINVAL, sp_set_linger(s, 0, 65536));
    EXPECT_SP(SP_EINVAL, sp_set_linger(s, 1, INT_MAX));
    EXPECT_OK(sp_set_linger(s, 1, 65535));
    EXPECT_OK(sp_set_linger(s, 1, 0));
    EXPECT_OK(sp_set_linger(s, 0, 0));
}

/* One set of bounds on every OS, checked before anything is set: idle and interval up to
 * INT_MAX / 1000 seconds, count up to 255; a rejected call leaves keepalive as it was. */
TEST_F(Validate, KeepaliveBoundsAndNoSideEffect)
{
    Sock s;
    int on = -1;
    const int too_long = INT_MAX / 1000 + 1;
    ASSERT_OK(sp_socket_open(s.out(), SP_AF_INET, SP_SOCK_STREAM));
    EXPECT_SP(SP_EINVAL, sp_set_keepalive(s, 1, -1, 0, 0));
    EXPECT_SP(SP_EINVAL, sp_set_keepalive(s, 1, 0, -1, 0));
    EXPECT_SP(SP_EINVAL, sp_set_keepalive(s, 1, 0, 0, -1));
    EXPECT_SP(SP_EINVAL, sp_set_keepalive(s, 1, too_long, 0, 0));
    EXPECT_SP(SP_EINVAL, sp_set_keepalive(s, 1, 0, too_long, 0));
    EXPECT_SP(SP_EINVAL, sp_set_keepalive(s, 1, 0, 0, 256));
    EXPECT_SP(SP_EINVAL, sp_set_keepalive(s, 0, -1, 0, 0)); /* checked when off too */
    EXPECT_SP(SP_EINVAL, sp_set_keepalive(s, 1, INT_MAX, INT_MAX, INT_MAX));
    /* None of these turned SO_KEEPALIVE on (POSIX used to set it before its checks
     * reached the system's range). */
    int rc = sp_get_keepalive(s, &on, nullptr, nullptr, nullptr);
    ASSERT_OK(rc);
    EXPECT_EQ(0, on);
    EXPECT_OK(sp_set_keepalive(s, 1, 0, 0, 0));
    ASSERT_OK(sp_get_keepalive(s, &on, nullptr, nullptr, nullptr));
    EXPECT_EQ(1, on);
}

TEST_F(Validate, BindFlagsAndAddressLength)
{
    Sock s;
    sp_addr a;
    ASSERT_OK(sp_socket_open(s.out(), SP_AF_INET, SP_SOCK_STREAM));
    ASSERT_OK(sp_addr_loopback(&a, SP_AF_INET, 0));
    EXPECT_SP(SP_EINVAL, sp_bind(s, &a, 4));
    EXPECT_SP(SP_EINVAL, sp_bind(s, &a, ~0u));
    EXPECT_SP(SP_EINVAL, sp_bind(s, nullptr, 0));
    EXPECT_SP(SP_EINVAL, sp_listen(s, &a, 1, 8));
    sp_addr bad = a;
    bad.len = 0;
    EXPECT_SP(SP_EINVAL, sp_bind(s, &bad, 0));
    bad.len = 1; /* shorter than a family field */
    EXPECT_SP(SP_EINVAL, sp_bind(s, &bad, 0));
    bad.len = (uint32_t)sizeof bad.u.bytes + 1; /* longer than its storage */
    EXPECT_SP(SP_EINVAL, sp_bind(s, &bad, 0));
    EXPECT_SP(SP_EINVAL, sp_connect(s, &bad));
    EXPECT_SP(SP_EINVAL, sp_connect_start(s, &bad));
    EXPECT_SP(SP_EINVAL, sp_sendto(s, "x", 1, &bad));
    /* Nothing was bound by the refused calls: the known flags still work. */
    EXPECT_OK(sp_bind(s, &a, SP_BIND_DUALSTACK | SP_BIND_NOREUSE));
}

TEST_F(Validate, OpenAcceptShutdownArguments)
{
    sp_socket_t out = 12345;
    Sock l, c, srv;
    EXPECT_SP(SP_EINVAL, sp_socket_open(nullptr, SP_AF_INET, SP_SOCK_STREAM));
    EXPECT_SP(SP_EINVAL, sp_socket_open(&out, 99, SP_SOCK_STREAM));
    EXPECT_EQ(SP_INVALID_SOCKET, out);
    out = 12345;
    EXPECT_SP(SP_EINVAL, sp_socket_open(&out, SP_AF_UNSPEC, SP_SOCK_STREAM));
    EXPECT_EQ(SP_INVALID_SOCKET, out);
    EXPECT_SP(SP_EINVAL, sp_socket_open(&out, SP_AF_INET, 99));
    EXPECT_SP(SP_EINVAL, sp_socketpair(nullptr));

    ASSERT_TRUE(tcp_pair(c, srv));
    ASSERT_OK(sp_listen_on(l.out(), "127.0.0.1:0", 1, 0));
    out = 12345;
    EXPECT_SP(SP_EINVAL, sp_accept(l, &out, nullptr, 2));
    EXPECT_EQ(SP_INVALID_SOCKET, out);
    EXPECT_SP(SP_EINVAL, sp_accept(l, nullptr, nullptr, 0));
    EXPECT_SP(SP_EINVAL, sp_shutdown(c, 3));
    EXPECT_SP(SP_EINVAL, sp_shutdown(c, -1));
    EXPECT_OK(sp_shutdown(c, SP_SHUT_WR)); /* a refused how changed nothing before */
}

TEST_F(Validate, OptionArguments)
{
    Sock s;
    ASSERT_OK(sp_socket_open(s.out(), SP_AF_INET, SP_SOCK_STREAM));
    EXPECT_SP(SP_EINVAL, sp_set_recv_timeout(s, -1));
    EXPECT_SP(SP_EINVAL, sp_set_send_timeout(s, -1));
    EXPECT_SP(SP_EINVAL, sp_get_recv_timeout(s, nullptr));
    EXPECT_SP(SP_EINVAL, sp_get_send_timeout(s, nullptr));
    EXPECT_SP(SP_EINVAL, sp_set_send_buffer(s, 0));
    EXPECT_SP(SP_EINVAL, sp_set_recv_buffer(s, -5));
    EXPECT_SP(SP_EINVAL, sp_get_send_buffer(s, nullptr));
    EXPECT_SP(SP_EINVAL, sp_get_recv_buffer(s, nullptr));
    EXPECT_SP(SP_EINVAL, sp_local_addr(s, nullptr));
    EXPECT_SP(SP_EINVAL, sp_peer_addr(s, nullptr));
    int ms = -1;
    ASSERT_OK(sp_set_recv_timeout(s, 1500));
    ASSERT_OK(sp_get_recv_timeout(s, &ms));
    EXPECT_GE(ms, 1500);
    EXPECT_LT(ms, 1600);
}

/* An empty Unix path names no socket file: SP_EINVAL on every OS (POSIX used to make an
 * address of it). */
TEST_F(Validate, EmptyUnixPathIsEinval)
{
    sp_addr a;
    EXPECT_SP(SP_EINVAL, sp_addr_unix(&a, ""));
    EXPECT_SP(SP_EINVAL, sp_addr_parse(&a, "unix:"));
    EXPECT_OK(sp_addr_unix(&a, "x.sock"));
    EXPECT_EQ(SP_AF_UNIX, sp_addr_family(&a));
}

/* An IP address shorter than its sockaddr, or one longer than sp_addr's storage, has no
 * family on every OS (POSIX used to read the family field alone). */
TEST_F(Validate, AddrFamilyNeedsAWholeSockaddr)
{
    sp_addr a;
    ASSERT_OK(sp_addr_loopback(&a, SP_AF_INET, 80));
    sp_addr shortv4 = a;
    shortv4.len -= 1;
    EXPECT_EQ(SP_AF_UNSPEC, sp_addr_family(&shortv4));
    EXPECT_EQ(0, sp_addr_port(&shortv4));
    sp_addr huge = a;
    huge.len = (uint32_t)sizeof huge.u.bytes + 1;
    EXPECT_EQ(SP_AF_UNSPEC, sp_addr_family(&huge));
    ASSERT_OK(sp_addr_loopback(&a, SP_AF_INET6, 80));
    sp_addr shortv6 = a;
    shortv6.len -= 1;
    EXPECT_EQ(SP_AF_UNSPEC, sp_addr_family(&shortv6));
    EXPECT_EQ(SP_AF_INET6, sp_addr_family(&a));
    EXPECT_EQ(SP_AF_UNSPEC, sp_addr_family(nullptr));
}

} // namespace
