/*
 * test_byteorder.cc - sockport/byteorder.h: big-endian load/store at any alignment and
 * host/network conversion, checked against the system's htons/htonl.
 */
#include "sockport/byteorder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#ifdef _WIN32
#    include <winsock2.h>
#else
#    include <arpa/inet.h>
#endif

namespace
{

std::vector<uint64_t> sample_values()
{
    std::vector<uint64_t> v = {0,
                               1,
                               0xff,
                               0x100,
                               0x7fff,
                               0x8000,
                               0xffff,
                               0x01020304,
                               0x80000000u,
                               0xffffffffu,
                               0x0102030405060708ull,
                               0x8000000000000000ull,
                               0xffffffffffffffffull,
                               0xfedcba9876543210ull};
    uint64_t x = 0x243F6A8885A308D3ull;
    for (int i = 0; i < 64; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push_back(x);
    }
    return v;
}

} // namespace

TEST(ByteOrder, KnownBytePatterns)
{
    unsigned char b[8];
    sp_store_be16(b, 0x0102);
    EXPECT_EQ(1, b[0]);
    EXPECT_EQ(2, b[1]);
    sp_store_be32(b, 0x01020304u);
    const unsigned char want32[4] = {1, 2, 3, 4};
    EXPECT_EQ(0, std::memcmp(want32, b, 4));
    sp_store_be64(b, 0x0102030405060708ull);
    const unsigned char want64[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    EXPECT_EQ(0, std::memcmp(want64, b, 8));

    const unsigned char hi[8] = {0xf1, 0xe2, 0xd3, 0xc4, 0xb5, 0xa6, 0x97, 0x88};
    EXPECT_EQ(0xf1e2u, sp_load_be16(hi));
    EXPECT_EQ(0xf1e2d3c4u, sp_load_be32(hi));
    EXPECT_EQ(0xf1e2d3c4b5a69788ull, sp_load_be64(hi));
}

TEST(ByteOrder, RoundTrips)
{
    for (uint64_t v : sample_values()) {
        unsigned char b[8];
        uint16_t v16 = (uint16_t)v;
        uint32_t v32 = (uint32_t)v;
        sp_store_be16(b, v16);
        EXPECT_EQ(v16, sp_load_be16(b));
        sp_store_be32(b, v32);
        EXPECT_EQ(v32, sp_load_be32(b));
        sp_store_be64(b, v);
        EXPECT_EQ(v, sp_load_be64(b));
        /* most significant byte first */
        for (int i = 0; i < 8; i++) {
            EXPECT_EQ((unsigned)(v >> (56 - 8 * i)) & 0xffu, b[i]) << "byte " << i << " of " << v;
        }
    }
}

TEST(ByteOrder, UnalignedAtEveryOffset)
{
    for (uint64_t v : sample_values()) {
        for (size_t off = 0; off < 8; off++) {
            /* 8-byte aligned storage, then every offset into it; canaries around */
            alignas(8) unsigned char buf[24];
            std::memset(buf, 0xA5, sizeof buf);
            unsigned char *p = buf + off;

            sp_store_be64(p, v);
            EXPECT_EQ(v, sp_load_be64(p)) << "offset " << off;
            for (int i = 0; i < 8; i++) {
                ASSERT_EQ((unsigned)(v >> (56 - 8 * i)) & 0xffu, p[i]) << "offset " << off;
            }
            for (size_t i = 0; i < sizeof buf; i++)
                if (i < off || i >= off + 8) {
                    ASSERT_EQ(0xA5, buf[i]) << "store_be64 at " << off << " wrote byte " << i;
                }

            std::memset(buf, 0xA5, sizeof buf);
            sp_store_be32(p, (uint32_t)v);
            EXPECT_EQ((uint32_t)v, sp_load_be32(p)) << "offset " << off;
            for (size_t i = 0; i < sizeof buf; i++)
                if (i < off || i >= off + 4) {
                    ASSERT_EQ(0xA5, buf[i]) << "store_be32 at " << off << " wrote byte " << i;
                }

            std::memset(buf, 0xA5, sizeof buf);
            sp_store_be16(p, (uint16_t)v);
            EXPECT_EQ((uint16_t)v, sp_load_be16(p)) << "offset " << off;
            for (size_t i = 0; i < sizeof buf; i++)
                if (i < off || i >= off + 2) {
                    ASSERT_EQ(0xA5, buf[i]) << "store_be16 at " << off << " wrote byte " << i;
                }
        }
    }
}

TEST(ByteOrder, HostNetworkConversion)
{
    for (uint64_t v : sample_values()) {
        uint16_t v16 = (uint16_t)v;
        uint32_t v32 = (uint32_t)v;
        /* the same function both ways: inverse of each other */
        EXPECT_EQ(v16, sp_ntoh16(sp_hton16(v16)));
        EXPECT_EQ(v32, sp_ntoh32(sp_hton32(v32)));
        EXPECT_EQ(v, sp_ntoh64(sp_hton64(v)));
        EXPECT_EQ(v16, sp_hton16(sp_ntoh16(v16)));
        EXPECT_EQ(v32, sp_hton32(sp_ntoh32(v32)));
        EXPECT_EQ(v, sp_hton64(sp_ntoh64(v)));
        /* the same as the system's */
        EXPECT_EQ(htons(v16), sp_hton16(v16));
        EXPECT_EQ(htonl(v32), sp_hton32(v32));
        EXPECT_EQ(ntohs(v16), sp_ntoh16(v16));
        EXPECT_EQ(ntohl(v32), sp_ntoh32(v32));
        /* network order in memory is big-endian */
        uint64_t n64 = sp_hton64(v);
        unsigned char b[8];
        std::memcpy(b, &n64, 8);
        EXPECT_EQ(v, sp_load_be64(b));
        uint32_t n32 = sp_hton32(v32);
        std::memcpy(b, &n32, 4);
        EXPECT_EQ(v32, sp_load_be32(b));
    }
    const uint32_t n = sp_hton32(0x01020304u);
    unsigned char b[4];
    std::memcpy(b, &n, 4);
    EXPECT_EQ(1, b[0]);
    EXPECT_EQ(4, b[3]);
}
