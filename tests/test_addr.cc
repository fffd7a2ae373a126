/*
 * test_addr.cc - sockport/addr.h: parse and format (RFC 5952 output), the builders,
 * comparison and resolution (loopback names and numeric text only: no DNS traffic).
 */
#include "helpers.h"

#include <set>
#include <string>
#include <vector>

using namespace sptest;

namespace
{

std::string format(const sp_addr &a)
{
    char buf[SP_ADDR_STRLEN];
    int n = sp_addr_format(&a, buf, sizeof buf);
    if (n < 0)
        return "<error " + code_str(n) + ">";
    EXPECT_EQ(std::strlen(buf), (size_t)n) << "the returned length must be the string's";
    return buf;
}

/* parse `in`, format it, expect `out` */
void expect_formats_as(const char *in, const char *out)
{
    sp_addr a;
    ASSERT_OK(sp_addr_parse(&a, in)) << "sp_addr_parse(\"" << in << "\")";
    EXPECT_EQ(out, format(a)) << "formatting the parse of \"" << in << "\"";
    /* and the canonical text parses back to the same address */
    sp_addr b;
    ASSERT_OK(sp_addr_parse(&b, out)) << "sp_addr_parse(\"" << out << "\")";
    EXPECT_TRUE(sp_addr_equal(&a, &b)) << in << " vs " << out;
}

} // namespace

class Addr : public SpTest
{
};

TEST_F(Addr, ParseFormatRoundTrips)
{
    struct Case {
        const char *text;
        int family;
        int port;
    } cases[] = {
        {"1.2.3.4:80", SP_AF_INET, 80},
        {"0.0.0.0:0", SP_AF_INET, 0},
        {"255.255.255.255:65535", SP_AF_INET, 65535},
        {"127.0.0.1:8080", SP_AF_INET, 8080},
        {"[::1]:80", SP_AF_INET6, 80},
        {"[::]:0", SP_AF_INET6, 0},
        {"[2001:db8::1]:443", SP_AF_INET6, 443},
        {"[::ffff:1.2.3.4]:80", SP_AF_INET6, 80},
        {"[fe80::1%2]:80", SP_AF_INET6, 80},
        {"[1:2:3:4:5:6:7:8]:65535", SP_AF_INET6, 65535},
    };
    for (const auto &c : cases) {
        sp_addr a;
        ASSERT_OK(sp_addr_parse(&a, c.text)) << c.text;
        EXPECT_EQ(c.family, sp_addr_family(&a)) << c.text;
        EXPECT_EQ(c.port, sp_addr_port(&a)) << c.text;
        EXPECT_EQ(c.text, format(a));
    }
}

TEST_F(Addr, Rfc5952CanonicalOutput)
{
    /* leading zeros dropped, the zero run compressed */
    expect_formats_as("[2001:0db8:0000:0000:0000:0000:0000:0001]:1", "[2001:db8::1]:1");
    /* lower case */
    expect_formats_as("[2001:DB8::ABCD:EF]:1", "[2001:db8::abcd:ef]:1");
    /* the longest run is compressed, not the first */
    expect_formats_as("[2001:db8:0:0:1:0:0:0]:1", "[2001:db8:0:0:1::]:1");
    expect_formats_as("[1:0:0:2:0:0:0:3]:1", "[1:0:0:2::3]:1");
    /* of equal runs, the first */
    expect_formats_as("[2001:0:0:1:0:0:1:1]:1", "[2001::1:0:0:1:1]:1");
    expect_formats_as("[1:0:0:1:1:0:0:1]:1", "[1::1:1:0:0:1]:1");
    /* a single zero group is not compressed */
    expect_formats_as("[2001:db8:0:1:1:1:1:1]:1", "[2001:db8:0:1:1:1:1:1]:1");
    expect_formats_as("[1:2:3:4:5:6:7:0]:1", "[1:2:3:4:5:6:7:0]:1");
    expect_formats_as("[0:1:2:3:4:5:6:7]:1", "[0:1:2:3:4:5:6:7]:1");
    /* runs at either end, and all zero */
    expect_formats_as("[0:0:0:0:0:0:0:1]:1", "[::1]:1");
    expect_formats_as("[1:0:0:0:0:0:0:0]:1", "[1::]:1");
    expect_formats_as("[0:0:0:0:0:0:0:0]:1", "[::]:1");
    expect_formats_as("[0:0:1:0:0:0:0:0]:1", "[0:0:1::]:1");
    /* IPv4-mapped addresses keep the dotted quad */
    expect_formats_as("[::FFFF:0102:0304]:80", "[::ffff:1.2.3.4]:80");
    /* zone */
    expect_formats_as("[FE80:0::0001%7]:80", "[fe80::1%7]:80");
}

TEST_F(Addr, WildcardAndUnix)
{
    sp_addr a, any;
    ASSERT_OK(sp_addr_parse(&a, "*:80"));
    ASSERT_OK(sp_addr_any(&any, SP_AF_INET, 80));
    EXPECT_EQ(SP_AF_INET, sp_addr_family(&a));
    EXPECT_TRUE(sp_addr_equal(&a, &any));
    EXPECT_EQ("0.0.0.0:80", format(a));

    sp_addr u;
    ASSERT_OK(sp_addr_parse(&u, "unix:/tmp/x.sock"));
    EXPECT_EQ(SP_AF_UNIX, sp_addr_family(&u));
    EXPECT_EQ(0, sp_addr_port(&u)) << "a Unix address has no port";
    EXPECT_EQ("unix:/tmp/x.sock", format(u));
    sp_addr u2;
    ASSERT_OK(sp_addr_unix(&u2, "/tmp/x.sock"));
    EXPECT_TRUE(sp_addr_equal(&u, &u2));
}

TEST_F(Addr, Rejects)
{
    const char *bad[] = {
        "",
        "1.2.3.4",
        "1.2.3.4:",
        "1.2.3.4:65536",
        "1.2.3.4:-1",
        "1.2.3.4:99999999999999999999",
        "256.1.1.1:1",
        "1.2.3:1",
        "1.2.3.4.5:1",
        "01.2.3.4:1",
        "1.2.3.4:80x",
        "1.2.3.4 :80",
        ":80",
        "::1:80",
        "[1.2.3.4]:80",
        "[::1]80",
        "[::1]",
        "[::1]:",
        "[::1",
        "::1]:80",
        "[]:80",
        "[1::2::3]:1",
        "1::2::3",
        "[1:2:3:4:5:6:7:8:9]:1",
        "[1:2:3:4:5:6:7]:1",
        "[12345::]:1",
        "[::g]:1",
        "[:1]:1",
        "[1:]:1",
        "[fe80::1%]:80",
        "[fe80::1%eth0]:80",
        "*",
        "*:",
    };
    for (const char *text : bad) {
        sp_addr a;
        EXPECT_SP(SP_EINVAL, sp_addr_parse(&a, text)) << "sp_addr_parse(\"" << text << "\")";
    }
}

TEST_F(Addr, UnixPathLimits)
{
    /* sun_path is 108 bytes on Linux and Windows, 104 on macOS: 200 fits nowhere */
    std::string long_path = "/tmp/" + std::string(200, 'p');
    sp_addr a;
    EXPECT_SP(SP_ENAMETOOLONG, sp_addr_parse(&a, ("unix:" + long_path).c_str()));
    EXPECT_SP(SP_ENAMETOOLONG, sp_addr_unix(&a, long_path.c_str()));

    std::string ok_path = "/tmp/" + std::string(90, 'q');
    ASSERT_OK(sp_addr_unix(&a, ok_path.c_str()));
    EXPECT_EQ("unix:" + ok_path, format(a));
}

TEST_F(Addr, NullInputs)
{
    sp_addr a;
    char buf[SP_ADDR_STRLEN];
    EXPECT_SP(SP_EINVAL, sp_addr_parse(nullptr, "1.2.3.4:80"));
    EXPECT_SP(SP_EINVAL, sp_addr_parse(&a, nullptr));
    ASSERT_OK(sp_addr_parse(&a, "1.2.3.4:80"));
    EXPECT_SP(SP_EINVAL, sp_addr_format(nullptr, buf, sizeof buf));
    EXPECT_SP(SP_EINVAL, sp_addr_format(&a, nullptr, sizeof buf));
    EXPECT_SP(SP_EINVAL, sp_addr_unix(nullptr, "/tmp/x"));
    EXPECT_SP(SP_EINVAL, sp_addr_unix(&a, nullptr));
    const unsigned char ip[4] = {1, 2, 3, 4};
    EXPECT_SP(SP_EINVAL, sp_addr_ip(nullptr, SP_AF_INET, ip, 1));
    EXPECT_SP(SP_EINVAL, sp_addr_ip(&a, SP_AF_INET, nullptr, 1));
    EXPECT_SP(SP_EINVAL, sp_addr_loopback(nullptr, SP_AF_INET, 1));
    EXPECT_SP(SP_EINVAL, sp_addr_any(nullptr, SP_AF_INET, 1));
    EXPECT_SP(SP_EINVAL, sp_addr_set_port(nullptr, 1));
    EXPECT_EQ(0, sp_addr_equal(nullptr, &a));
    EXPECT_EQ(0, sp_addr_equal(&a, nullptr));
    sp_addr out[2];
    EXPECT_SP(SP_EINVAL, sp_addr_resolve(nullptr, SP_AF_UNSPEC, SP_SOCK_STREAM, out, 2));
}

TEST_F(Addr, FormatTooSmallBuffer)
{
    for (const char *text : {"1.2.3.4:80", "[2001:db8::1]:443", "unix:/tmp/x.sock"}) {
        sp_addr a;
        ASSERT_OK(sp_addr_parse(&a, text));
        const size_t len = std::strlen(text);
        for (size_t size = 1; size <= len; size++) {
            std::vector<char> buf(size + 8, 'Z');
            EXPECT_SP(SP_ENOSPC, sp_addr_format(&a, buf.data(), size))
                << text << " into " << size << " bytes";
            EXPECT_EQ('\0', buf[0]) << "the buffer must hold an empty string after ENOSPC";
            for (size_t i = size; i < buf.size(); i++) {
                ASSERT_EQ('Z', buf[i]) << text << ": wrote past the buffer of " << size;
            }
        }
        std::vector<char> buf(len + 1);
        EXPECT_EQ((int)len, sp_addr_format(&a, buf.data(), buf.size())) << text;
        EXPECT_STREQ(text, buf.data());
        char none = 'Z';
        EXPECT_SP(SP_ENOSPC, sp_addr_format(&a, &none, 0)) << "size 0";
        EXPECT_EQ('Z', none) << "size 0: nothing may be written";
    }
    /* an empty address cannot be formatted */
    sp_addr empty;
    std::memset(&empty, 0, sizeof empty);
    char buf[SP_ADDR_STRLEN] = "x";
    EXPECT_SP(SP_EINVAL, sp_addr_format(&empty, buf, sizeof buf));
    EXPECT_EQ('\0', buf[0]);
}

TEST_F(Addr, LongestFormFits)
{
    sp_addr a;
    ASSERT_OK(sp_addr_parse(&a, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%2147483647]:65535"));
    char buf[SP_ADDR_STRLEN];
    EXPECT_GT(sp_addr_format(&a, buf, sizeof buf), 0);
    EXPECT_STREQ("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%2147483647]:65535", buf);
}

TEST_F(Addr, Builders)
{
    sp_addr a;
    ASSERT_OK(sp_addr_loopback(&a, SP_AF_INET, 8080));
    EXPECT_EQ("127.0.0.1:8080", format(a));
    ASSERT_OK(sp_addr_loopback(&a, SP_AF_INET6, 8080));
    EXPECT_EQ("[::1]:8080", format(a));
    ASSERT_OK(sp_addr_any(&a, SP_AF_INET, 0));
    EXPECT_EQ("0.0.0.0:0", format(a));
    ASSERT_OK(sp_addr_any(&a, SP_AF_INET6, 5));
    EXPECT_EQ("[::]:5", format(a));
    for (int fam : {(int)SP_AF_UNSPEC, (int)SP_AF_UNIX, 99}) {
        EXPECT_SP(SP_EINVAL, sp_addr_loopback(&a, fam, 1)) << "family " << fam;
        EXPECT_SP(SP_EINVAL, sp_addr_any(&a, fam, 1)) << "family " << fam;
    }

    const unsigned char v4[4] = {192, 0, 2, 7};
    ASSERT_OK(sp_addr_ip(&a, SP_AF_INET, v4, 443));
    EXPECT_EQ("192.0.2.7:443", format(a));
    const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    ASSERT_OK(sp_addr_ip(&a, SP_AF_INET6, v6, 443));
    EXPECT_EQ("[2001:db8::1]:443", format(a));
    EXPECT_SP(SP_EINVAL, sp_addr_ip(&a, SP_AF_INET, v4, 65536));
    EXPECT_SP(SP_EINVAL, sp_addr_ip(&a, SP_AF_INET, v4, -1));
    EXPECT_SP(SP_EINVAL, sp_addr_ip(&a, SP_AF_UNIX, v4, 1));
    EXPECT_SP(SP_EINVAL, sp_addr_loopback(&a, SP_AF_INET, 65536));
}

TEST_F(Addr, PortAndFamily)
{
    sp_addr a;
    ASSERT_OK(sp_addr_parse(&a, "1.2.3.4:80"));
    ASSERT_OK(sp_addr_set_port(&a, 65535));
    EXPECT_EQ(65535, sp_addr_port(&a));
    EXPECT_EQ("1.2.3.4:65535", format(a));
    ASSERT_OK(sp_addr_set_port(&a, 0));
    EXPECT_EQ("1.2.3.4:0", format(a));
    ASSERT_OK(sp_addr_set_port(&a, 1234));
    EXPECT_SP(SP_EINVAL, sp_addr_set_port(&a, 65536));
    EXPECT_SP(SP_EINVAL, sp_addr_set_port(&a, -1));
    EXPECT_EQ("1.2.3.4:1234", format(a)) << "a failed set_port must not change the address";

    ASSERT_OK(sp_addr_parse(&a, "[fe80::1%3]:80"));
    ASSERT_OK(sp_addr_set_port(&a, 8443));
    EXPECT_EQ("[fe80::1%3]:8443", format(a)) << "set_port keeps address and zone";

    ASSERT_OK(sp_addr_parse(&a, "unix:/tmp/x.sock"));
    EXPECT_SP(SP_EINVAL, sp_addr_set_port(&a, 80)) << "Unix addresses have no port";
    EXPECT_EQ(SP_AF_UNIX, sp_addr_family(&a));

    sp_addr empty;
    std::memset(&empty, 0, sizeof empty);
    EXPECT_EQ(SP_AF_UNSPEC, sp_addr_family(&empty));
    EXPECT_EQ(0, sp_addr_port(&empty));
    EXPECT_SP(SP_EINVAL, sp_addr_set_port(&empty, 80));
}

TEST_F(Addr, Equal)
{
    auto parse = [](const char *t) {
        sp_addr a;
        EXPECT_OK(sp_addr_parse(&a, t)) << t;
        return a;
    };
    sp_addr a = parse("1.2.3.4:80");
    sp_addr b = parse("1.2.3.4:80");
    EXPECT_TRUE(sp_addr_equal(&a, &b));
    EXPECT_TRUE(sp_addr_equal(&a, &a));
    sp_addr c = parse("1.2.3.4:81");
    EXPECT_FALSE(sp_addr_equal(&a, &c)) << "different port";
    sp_addr d = parse("1.2.3.5:80");
    EXPECT_FALSE(sp_addr_equal(&a, &d)) << "different address";
    sp_addr e = parse("[::ffff:1.2.3.4]:80");
    EXPECT_FALSE(sp_addr_equal(&a, &e)) << "IPv4 and IPv4-mapped IPv6 are different families";
    sp_addr f = parse("[fe80::1%1]:80");
    sp_addr g = parse("[fe80::1%2]:80");
    sp_addr h = parse("[fe80::1%2]:80");
    EXPECT_FALSE(sp_addr_equal(&f, &g)) << "different zone";
    EXPECT_TRUE(sp_addr_equal(&g, &h));
    sp_addr u1 = parse("unix:/tmp/a.sock");
    sp_addr u2 = parse("unix:/tmp/a.sock");
    sp_addr u3 = parse("unix:/tmp/b.sock");
    EXPECT_TRUE(sp_addr_equal(&u1, &u2));
    EXPECT_FALSE(sp_addr_equal(&u1, &u3));
    EXPECT_FALSE(sp_addr_equal(&u1, &a));
}

/* ---- resolve ------------------------------------------------------------------------- */

TEST_F(Addr, ResolveLocalhostGivesOnlyLoopback)
{
    sp_addr out[16];
    int n = sp_addr_resolve("localhost:80", SP_AF_UNSPEC, SP_SOCK_STREAM, out, 16);
    ASSERT_GE(n, 1) << code_str(n);
    ASSERT_LE(n, 16);
    for (int i = 0; i < n; i++) {
        std::string s = format(out[i]);
        EXPECT_EQ(80, sp_addr_port(&out[i])) << s;
        if (sp_addr_family(&out[i]) == SP_AF_INET) {
            EXPECT_EQ(0u, s.rfind("127.", 0)) << s << " is not an IPv4 loopback address";
        } else
            EXPECT_EQ("[::1]:80", s) << "not loopback";
        for (int j = 0; j < i; j++) {
            EXPECT_FALSE(sp_addr_equal(&out[i], &out[j])) << "duplicate " << s;
        }
    }
    /* like snprintf: the count with no room is the same */
    EXPECT_EQ(n, sp_addr_resolve("localhost:80", SP_AF_UNSPEC, SP_SOCK_STREAM, nullptr, 0));
    sp_addr one[1];
    EXPECT_EQ(n, sp_addr_resolve("localhost:80", SP_AF_UNSPEC, SP_SOCK_STREAM, one, 1));
    EXPECT_TRUE(sp_addr_equal(&one[0], &out[0])) << "the first address comes first";

    /* one family only */
    int n4 = sp_addr_resolve("localhost:8080", SP_AF_INET, SP_SOCK_DGRAM, out, 16);
    ASSERT_GE(n4, 1) << code_str(n4);
    for (int i = 0; i < n4 && i < 16; i++) {
        EXPECT_EQ(SP_AF_INET, sp_addr_family(&out[i])) << format(out[i]);
        EXPECT_EQ(8080, sp_addr_port(&out[i]));
    }
}

TEST_F(Addr, ResolveNumeric)
{
    sp_addr out[4], want;
    ASSERT_EQ(1, sp_addr_resolve("127.0.0.1:8080", SP_AF_UNSPEC, SP_SOCK_STREAM, out, 4));
    ASSERT_OK(sp_addr_parse(&want, "127.0.0.1:8080"));
    EXPECT_TRUE(sp_addr_equal(&want, &out[0])) << format(out[0]);

    ASSERT_EQ(1, sp_addr_resolve("[::1]:443", SP_AF_INET6, SP_SOCK_STREAM, out, 4));
    EXPECT_EQ("[::1]:443", format(out[0]));

    ASSERT_EQ(1, sp_addr_resolve("*:80", SP_AF_UNSPEC, SP_SOCK_STREAM, out, 4));
    EXPECT_EQ("0.0.0.0:80", format(out[0]));

    /* a literal of the other family is no answer */
    EXPECT_LT(sp_addr_resolve("[::1]:443", SP_AF_INET, SP_SOCK_STREAM, out, 4), 0);
    EXPECT_LT(sp_addr_resolve("127.0.0.1:1", SP_AF_INET6, SP_SOCK_STREAM, out, 4), 0);
}

TEST_F(Addr, ResolveMalformed)
{
    sp_addr out[4];
    const std::string long_name = std::string(300, 'a') + ".example:80"; /* > 255: no DNS name */
    for (const std::string &text :
         {std::string("localhost"), std::string("localhost:"), std::string("localhost:http"),
          std::string("localhost:65536"), std::string("localhost:-1"), std::string(":80"),
          std::string(""), std::string("::1:80"), long_name}) {
        EXPECT_SP(SP_EINVAL, sp_addr_resolve(text.c_str(), SP_AF_UNSPEC, SP_SOCK_STREAM, out, 4))
            << "sp_addr_resolve(\"" << text.substr(0, 40) << "\")";
    }
    EXPECT_SP(SP_EINVAL, sp_addr_resolve("localhost:80", 99, SP_SOCK_STREAM, out, 4))
        << "bad family";
    EXPECT_SP(SP_EINVAL, sp_addr_resolve("localhost:80", SP_AF_UNSPEC, 99, out, 4)) << "bad type";
}

TEST_F(Addr, ResolveUnix)
{
    sp_addr out[2], want;
    ASSERT_EQ(1, sp_addr_resolve("unix:/tmp/x.sock", SP_AF_UNSPEC, SP_SOCK_STREAM, out, 2));
    EXPECT_EQ(SP_AF_UNIX, sp_addr_family(&out[0]));
    ASSERT_OK(sp_addr_unix(&want, "/tmp/x.sock"));
    EXPECT_TRUE(sp_addr_equal(&want, &out[0]));
    const std::string long_unix = "unix:/tmp/" + std::string(200, 'u');
    EXPECT_SP(SP_ENAMETOOLONG,
              sp_addr_resolve(long_unix.c_str(), SP_AF_UNSPEC, SP_SOCK_STREAM, out, 2));
}
