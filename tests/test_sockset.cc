/*
 * test_sockset.cc - sp_sockset at scale: add, remove and the lookups take constant time (a
 * select loop over n sockets costs O(n) per round, not O(n^2)), a user pointer per socket,
 * and sp_sockset_next_ready walks exactly the sockets the last sp_select found ready, with
 * their pointers. 10,000 sockets (5,000 socket pairs, both ends in the set); the soft
 * descriptor limit is raised to the hard one. Loopback only.
 */
#include "helpers.h"

#include <algorithm>
#include <map>
#include <vector>

using namespace sptest;

namespace
{

class Sockset : public SpTest
{
};

/* n sockets in pairs: socks[2k] and socks[2k + 1] are connected. */
::testing::AssertionResult make_pairs(std::vector<Sock> &socks, int n)
{
    socks.resize((size_t)n);
    for (int k = 0; k < n / 2; k++) {
        sp_socket_t pair[2];
        int rc = sp_socketpair(pair);
        if (rc != 0)
            return step_failed("sp_socketpair", rc) << " (pair " << k << ")";
        socks[(size_t)2 * k].reset(pair[0]);
        socks[(size_t)2 * k + 1].reset(pair[1]);
    }
    return ::testing::AssertionSuccess();
}

/* The peer of socket i (its pair's other end). */
size_t peer_of(size_t i)
{
    return i ^ 1u;
}

/* One round of a select loop over n members, the set work alone timed (not the kernel's
 * select): add every socket with its pointer, ask ready for each, walk the ready ones,
 * remove every socket. Returns the set work in ms; counts what the walk found and the
 * hash index's probes (the private counter sp_sockset::probes: add and remove count the
 * positions of the index they look at, rebuilds included). */
double select_round(std::vector<Sock> &socks, std::vector<int> &tag, size_t n, size_t *walked,
                    int *selected, size_t *probes)
{
    SockSet set;
    double t0 = now_ms(), work;
    for (size_t i = 0; i < n; i++)
        EXPECT_OK(sp_sockset_add_data(&set, socks[i].get(), &tag[i]));
    work = now_ms() - t0;
    *selected = sp_select(&set, NULL, NULL, 1000);
    t0 = now_ms();
    size_t pos = 0, nready = 0;
    sp_socket_t s;
    void *data;
    while (sp_sockset_next_ready(&set, &pos, &s, &data))
        (*walked)++;
    for (size_t i = 0; i < n; i++)
        nready += (size_t)sp_sockset_ready(&set, socks[i].get());
    for (size_t i = 0; i < n; i++)
        EXPECT_OK(sp_sockset_remove(&set, socks[i].get()));
    work += now_ms() - t0;
    EXPECT_EQ(*walked, nready);
    EXPECT_EQ(0u, sp_sockset_count(&set));
    *probes = set.s.probes;
    return work;
}

/* ---- scale --------------------------------------------------------------------------- */

TEST_F(Sockset, SelectLoopOverTenThousandSocketsIsLinear)
{
    const int N = 10000, SMALL = 2500;
    FdLimit lim;
    if (!lim.allows(N + 64))
        GTEST_SKIP() << lim.shortfall(N + 64);
    std::vector<Sock> socks;
    ASSERT_TRUE(make_pairs(socks, N));
    std::vector<int> tag((size_t)N);
    /* every 10th socket readable: its peer sent a byte */
    size_t want_small = 0, want_big = 0;
    for (size_t i = 0; i < (size_t)N; i += 10) {
        ASSERT_EQ(1, sp_send(socks[peer_of(i)].get(), "x", 1)) << "socket " << i;
        want_big++;
        want_small += i < (size_t)SMALL;
    }
    ASSERT_TRUE(ready(socks[(size_t)N - 10].get(), SP_EV_READ, 5000));
    /* the best of 5 rounds each: the machine is shared */
    double small = 1e9, big = 1e9;
    size_t probes_small = 0, probes_big = 0;
    for (int r = 0; r < 5; r++) {
        size_t walked = 0;
        int selected = 0;
        small = std::min(
            small, select_round(socks, tag, (size_t)SMALL, &walked, &selected, &probes_small));
        EXPECT_EQ(want_small, walked);
        EXPECT_EQ((int)want_small, selected);
        walked = 0;
        big = std::min(big, select_round(socks, tag, (size_t)N, &walked, &selected, &probes_big));
        EXPECT_EQ(want_big, walked);
        EXPECT_EQ((int)want_big, selected);
    }
    std::printf("per select round: %zu index probes, %.3f ms of set work for %d sockets; "
                "%zu probes, %.3f ms for %d\n",
                probes_small, small, SMALL, probes_big, big, N);
    /* Counted, not timed: add and remove look at a few index positions each, whatever the
     * size (the linear scans this replaced looked at n / 2 members each: 2,500 per call
     * for 10,000 sockets). Two calls per socket and round, rebuilds included. */
    EXPECT_LT(probes_big, (size_t)N * 2 * 4);
    EXPECT_LT(probes_small, (size_t)SMALL * 2 * 4);
    /* and the time, loosely (linear: about 4 times for 4 times the sockets; quadratic:
     * about 16) */
    EXPECT_LT(big, 40 * std::max(small, 0.05)) << "set work for " << N << " sockets: " << big
                                               << " ms, for " << SMALL << ": " << small << " ms";
}

/* ---- the ready walk ------------------------------------------------------------------ */

TEST_F(Sockset, NextReadyGivesExactlyTheReadyOnesWithTheirPointers)
{
    const int N = 2000;
    FdLimit lim;
    if (!lim.allows(N + 64))
        GTEST_SKIP() << lim.shortfall(N + 64);
    std::vector<Sock> socks;
    ASSERT_TRUE(make_pairs(socks, N));
    std::vector<int> tag((size_t)N);
    SockSet rd;
    std::map<sp_socket_t, void *> want;
    for (size_t i = 0; i < (size_t)N; i++)
        ASSERT_OK(sp_sockset_add_data(&rd, socks[i].get(), &tag[i]));
    for (size_t i = 3; i < (size_t)N; i += 7) {
        ASSERT_EQ(1, sp_send(socks[peer_of(i)].get(), "y", 1));
        want[socks[i].get()] = &tag[i];
    }
    ASSERT_EQ(&tag[5], sp_sockset_data(&rd, socks[5].get()));
    /* wait until the last one arrived, then select */
    size_t last = 3 + ((size_t)N - 4) / 7 * 7;
    ASSERT_TRUE(ready(socks[last].get(), SP_EV_READ, 5000));
    ASSERT_EQ((int)want.size(), sp_select(&rd, NULL, NULL, 1000));
    EXPECT_EQ(want.size(), sp_sockset_ready_count(&rd));
    std::map<sp_socket_t, void *> got;
    size_t pos = 0;
    sp_socket_t s;
    void *data;
    while (sp_sockset_next_ready(&rd, &pos, &s, &data)) {
        EXPECT_TRUE(got.emplace(s, data).second) << "socket " << s << " reported twice";
        EXPECT_EQ(1, sp_sockset_ready(&rd, s));
    }
    EXPECT_EQ(want, got);
    EXPECT_EQ(0, sp_sockset_next_ready(&rd, &pos, &s, &data)) << "the end stays the end";

    /* a member removed during the walk is skipped; the others still come */
    pos = 0;
    ASSERT_TRUE(sp_sockset_next_ready(&rd, &pos, &s, &data));
    sp_socket_t second = socks[10].get(); /* 10 = 3 + 7: the second ready one */
    ASSERT_OK(sp_sockset_remove(&rd, second));
    size_t rest = 0;
    while (sp_sockset_next_ready(&rd, &pos, &s, &data)) {
        EXPECT_NE(second, s);
        rest++;
    }
    EXPECT_EQ(want.size() - 2, rest);
    EXPECT_EQ((size_t)N - 1, sp_sockset_count(&rd));
    EXPECT_EQ(0, sp_sockset_ready(&rd, second));
    EXPECT_EQ(nullptr, sp_sockset_data(&rd, second));

    /* order kept across the hole, before and after the compaction of the next select */
    EXPECT_EQ(socks[9].get(), sp_sockset_get(&rd, 9));
    EXPECT_EQ(socks[11].get(), sp_sockset_get(&rd, 10));
    EXPECT_EQ(SP_INVALID_SOCKET, sp_sockset_get(&rd, (size_t)N - 1));
    ASSERT_EQ((int)want.size() - 1, sp_select(&rd, NULL, NULL, 1000));
    EXPECT_EQ(socks[11].get(), sp_sockset_get(&rd, 10));
    EXPECT_EQ(&tag[11], sp_sockset_data(&rd, socks[11].get()));
    EXPECT_EQ(&tag[(size_t)N - 1], sp_sockset_data(&rd, socks[(size_t)N - 1].get()));

    /* re-adding with a new pointer changes it; sp_sockset_add keeps it */
    int other = 0;
    ASSERT_OK(sp_sockset_add_data(&rd, socks[3].get(), &other));
    ASSERT_OK(sp_sockset_add(&rd, socks[3].get()));
    EXPECT_EQ(&other, sp_sockset_data(&rd, socks[3].get()));
    ASSERT_OK(sp_sockset_add(&rd, second));
    EXPECT_EQ(nullptr, sp_sockset_data(&rd, second));
    EXPECT_EQ((size_t)N, sp_sockset_count(&rd));
    EXPECT_EQ(second, sp_sockset_get(&rd, (size_t)N - 1)) << "a re-added socket comes last";

    /* clear ends a walk and empties the set */
    pos = 0;
    sp_sockset_clear(&rd);
    EXPECT_EQ(0, sp_sockset_next_ready(&rd, &pos, &s, &data));
    EXPECT_EQ(0u, sp_sockset_count(&rd));
    EXPECT_EQ(nullptr, sp_sockset_data(&rd, socks[3].get()));
}

TEST_F(Sockset, BadArguments)
{
    SockSet set;
    size_t pos = 0;
    EXPECT_SP(SP_EINVAL, sp_sockset_add_data(NULL, 3, NULL));
    EXPECT_SP(SP_EINVAL, sp_sockset_add_data(&set, SP_INVALID_SOCKET, NULL));
    EXPECT_EQ(nullptr, sp_sockset_data(NULL, 3));
    EXPECT_EQ(nullptr, sp_sockset_data(&set, 3));
    EXPECT_EQ(0, sp_sockset_next_ready(NULL, &pos, NULL, NULL));
    EXPECT_EQ(0, sp_sockset_next_ready(&set, NULL, NULL, NULL));
    EXPECT_EQ(0, sp_sockset_next_ready(&set, &pos, NULL, NULL));
    EXPECT_EQ(0u, sp_sockset_ready_count(NULL));
}

} // namespace
