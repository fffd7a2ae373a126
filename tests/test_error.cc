/*
 * test_error.cc - sockport/error.h: the code table, names and messages, the native maps
 * (src/common/errmap.h, this platform's column), the classification helpers and the
 * per-thread native error.
 */
#include "helpers.h"

#include "errmap.h"

#ifdef _WIN32
#    include <winsock2.h>
#    include <ws2tcpip.h>
#else
#    include <cerrno>
#    include <netdb.h>
#endif

#include <climits>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace sptest;

namespace
{

struct CodeRow {
    int value;
    const char *name;
    const char *msg;
};

const std::vector<CodeRow> &code_table()
{
#define ROW(name, value, msg) {SP_##name, #name, msg},
    static const std::vector<CodeRow> rows = {SP_ERROR_MAP(ROW)};
#undef ROW
    return rows;
}

/* One row of a native map, in this platform's column. */
struct NativeRow {
    int code;
    int native;
    const char *sp_name;
    const char *native_name;
};

/* The POSIX column names optional errno values; the backend maps nothing for the missing
 * ones (src/posix/error.c does the same). */
#ifndef _WIN32
#    ifndef EPFNOSUPPORT
#        define EPFNOSUPPORT 0
#    endif
#    ifndef ESOCKTNOSUPPORT
#        define ESOCKTNOSUPPORT 0
#    endif
#    ifndef EHOSTDOWN
#        define EHOSTDOWN 0
#    endif
/* src/posix/error.c maps EAI_NODATA where the system has it (glibc: with _GNU_SOURCE, which
 * both it and g++ define), else 0: the row is then skipped like any 0 entry. */
#    ifdef EAI_NODATA
#        define SP__EAI_NODATA EAI_NODATA
#    else
#        define SP__EAI_NODATA 0
#    endif
#endif

#ifdef _WIN32
#    define NATIVE_ROW(sp, posix, win) {SP_##sp, win, #    sp, #    win},
#else
#    define NATIVE_ROW(sp, posix, win) {SP_##sp, posix, #    sp, #    posix},
#endif

const std::vector<NativeRow> &native_table()
{
    static const std::vector<NativeRow> rows = {SP_NATIVE_ERRMAP(NATIVE_ROW)};
    return rows;
}

const std::vector<NativeRow> &gai_table()
{
    static const std::vector<NativeRow> rows = {SP_GAI_ERRMAP(NATIVE_ROW)};
    return rows;
}
#undef NATIVE_ROW

/* Every code the table knows, plus SP_OK. */
std::vector<int> all_codes()
{
    std::vector<int> v = {SP_OK};
    for (const auto &r : code_table())
        v.push_back(r.value);
    return v;
}

} // namespace

/* ---- the table ----------------------------------------------------------------------- */

TEST(ErrorTable, ValuesAreDistinctNegativeAndDownToErrMin)
{
    std::map<int, const char *> seen;
    int lowest = 0;
    for (const auto &r : code_table()) {
        EXPECT_LT(r.value, 0) << "SP_" << r.name << " must be negative";
        auto ins = seen.emplace(r.value, r.name);
        EXPECT_TRUE(ins.second) << "SP_" << r.name << " has the value " << r.value << " of SP_"
                                << ins.first->second;
        if (r.value < lowest)
            lowest = r.value;
    }
    EXPECT_EQ(SP__ERR_MIN, lowest) << "SP__ERR_MIN must be the lowest code of the table";
    EXPECT_EQ(0, (int)SP_OK);
}

TEST(ErrorTable, EveryRowHasItsNameAndMessage)
{
    for (const auto &r : code_table()) {
        const char *name = sp_err_name(r.value);
        ASSERT_NE(nullptr, name) << "sp_err_name(SP_" << r.name << ")";
        EXPECT_STREQ(r.name, name);
        const char *msg = sp_strerror(r.value);
        ASSERT_NE(nullptr, msg) << "sp_strerror(SP_" << r.name << ")";
        EXPECT_STREQ(r.msg, msg) << "sp_strerror(SP_" << r.name << ")";
        EXPECT_GT(std::strlen(msg), 0u);
    }
}

TEST(ErrorTable, OkAndUnknownCodes)
{
    EXPECT_STREQ("OK", sp_err_name(SP_OK));
    EXPECT_STREQ("success", sp_strerror(SP_OK));
    EXPECT_STREQ("success", sp_strerror(7)) << "a code >= 0 gives \"success\"";
    EXPECT_STREQ("success", sp_strerror(INT_MAX));
    for (int unknown : {SP__ERR_MIN - 1, -1000, INT_MIN, 1, 42, INT_MAX}) {
        EXPECT_EQ(nullptr, sp_err_name(unknown)) << "sp_err_name(" << unknown << ")";
        const char *msg = sp_strerror(unknown);
        ASSERT_NE(nullptr, msg) << "sp_strerror(" << unknown << ") must never be NULL";
        if (unknown < 0) {
            EXPECT_STREQ("unknown error", msg) << "sp_strerror(" << unknown << ")";
        }
    }
}

/* ---- native map (this platform's column of SP_NATIVE_ERRMAP) --------------------------- */

TEST(ErrorNative, EveryRowMapsNativeToCode)
{
    int checked = 0;
    for (const auto &r : native_table()) {
        if (r.native == 0)
            continue; /* the platform has no such code */
        EXPECT_SP(r.code, sp_err_from_native(r.native))
            << "sp_err_from_native(" << r.native_name << " = " << r.native << ")";
        checked++;
    }
    EXPECT_GE(checked, 30) << "the native map lost its rows";
}

TEST(ErrorNative, MainNativeCodeIsFirstNonZeroRowAndMapsBack)
{
    /* errmap.h: the first row of an SP name gives its main native code. */
    std::map<int, int> first;
    for (const auto &r : native_table())
        if (r.native != 0 && first.find(r.code) == first.end())
            first[r.code] = r.native;
    for (int code : all_codes()) {
        if (code == SP_OK)
            continue;
        int native = sp_err_to_native(code);
        auto it = first.find(code);
        if (it == first.end()) {
            EXPECT_EQ(0, native) << "sp_err_to_native(SP_" << sp_err_name(code)
                                 << "): no native code on this platform";
            continue;
        }
        EXPECT_EQ(it->second, native) << "sp_err_to_native(SP_" << sp_err_name(code) << ")";
        if (native != 0) {
            EXPECT_SP(code, sp_err_from_native(native))
                << "round trip of SP_" << sp_err_name(code) << " via native " << native;
        }
    }
}

TEST(ErrorNative, HeaderExamplesAndCodesWithoutNative)
{
#ifdef _WIN32
    EXPECT_EQ(WSAECONNRESET, sp_err_to_native(SP_ECONNRESET));
    EXPECT_SP(SP_EAGAIN, sp_err_from_native(WSAEWOULDBLOCK));
    EXPECT_SP(SP_ENOTINIT, sp_err_from_native(WSANOTINITIALISED));
#else
    EXPECT_EQ(ECONNRESET, sp_err_to_native(SP_ECONNRESET));
    EXPECT_SP(SP_EAGAIN, sp_err_from_native(EAGAIN));
    EXPECT_SP(SP_EAGAIN, sp_err_from_native(EWOULDBLOCK));
    EXPECT_SP(SP_EPIPE, sp_err_from_native(EPIPE));
#endif
    /* error.h: SP_EEOF, SP_ENOSPC and SP_EAI_* have no native code. */
    for (int code : {SP_EEOF, SP_ENOSPC, SP_EAI_NONAME, SP_EAI_AGAIN, SP_EAI_FAIL, SP_EAI_FAMILY,
                     SP_EAI_SERVICE, SP_EAI_NODATA})
        EXPECT_EQ(0, sp_err_to_native(code)) << "sp_err_to_native(SP_" << sp_err_name(code) << ")";
    EXPECT_EQ(0, sp_err_to_native(SP_OK));
    EXPECT_EQ(0, sp_err_to_native(-1000));
}

TEST(ErrorNative, ZeroAndUnknownNative)
{
    EXPECT_SP(SP_OK, sp_err_from_native(0));
    std::set<int> natives;
    for (const auto &r : native_table())
        natives.insert(r.native);
    int unknown = 987654;
    while (natives.count(unknown))
        unknown++;
    EXPECT_SP(SP_EUNKNOWN, sp_err_from_native(unknown));
    EXPECT_SP(SP_EUNKNOWN, sp_err_from_native(-unknown));
}

/* ---- getaddrinfo map ------------------------------------------------------------------- */

TEST(ErrorGai, EveryRowMapsToItsCode)
{
    int checked = 0;
    for (const auto &r : gai_table()) {
        if (r.native == 0) {
            /* EAI_NODATA where the system lacks it (FreeBSD): nothing to check. */
            continue;
        }
        EXPECT_SP(r.code, sp_err_from_gai(r.native))
            << "sp_err_from_gai(" << r.native_name << " = " << r.native << ")";
        checked++;
    }
    EXPECT_GE(checked, 8);
#if defined(__GLIBC__)
    /* glibc has EAI_NODATA (with _GNU_SOURCE): the row must be live here. */
    EXPECT_SP(SP_EAI_NODATA, sp_err_from_gai(EAI_NODATA));
#endif
    EXPECT_SP(SP_EAI_NONAME, sp_err_from_gai(EAI_NONAME));
}

TEST(ErrorGai, ZeroAndUnknown)
{
    EXPECT_SP(SP_OK, sp_err_from_gai(0));
    std::set<int> natives;
    for (const auto &r : gai_table())
        natives.insert(r.native);
    int unknown = 424242;
    while (natives.count(unknown))
        unknown++;
    EXPECT_SP(SP_EUNKNOWN, sp_err_from_gai(unknown));
}

/* ---- classification ---------------------------------------------------------------------- */

TEST(ErrorClassify, RetryInProgressPeerGone)
{
    const std::set<int> retry = {SP_EAGAIN, SP_EINTR};
    const std::set<int> inprogress = {SP_EINPROGRESS, SP_EALREADY};
    const std::set<int> gone = {SP_ECONNRESET, SP_EPIPE, SP_ECONNABORTED, SP_ENOTCONN,
                                SP_ENETRESET,  SP_EEOF,  SP_ETIMEDOUT};
    for (int code : all_codes()) {
        const char *name = sp_err_name(code);
        EXPECT_EQ(retry.count(code) ? 1 : 0, sp_err_is_retry(code) ? 1 : 0)
            << "sp_err_is_retry(SP_" << name << ")";
        EXPECT_EQ(inprogress.count(code) ? 1 : 0, sp_err_is_inprogress(code) ? 1 : 0)
            << "sp_err_is_inprogress(SP_" << name << ")";
        EXPECT_EQ(gone.count(code) ? 1 : 0, sp_err_is_peer_gone(code) ? 1 : 0)
            << "sp_err_is_peer_gone(SP_" << name << ")";
    }
    for (int other : {1, 100, -1000}) {
        EXPECT_FALSE(sp_err_is_retry(other) || sp_err_is_inprogress(other) ||
                     sp_err_is_peer_gone(other))
            << other;
    }
}

/* ---- per-thread native error -------------------------------------------------------------- */

class ErrorThread : public SpTest
{
};

TEST_F(ErrorThread, LastNativeErrorIsPerThread)
{
    /* This thread: a shutdown of an unconnected TCP socket fails with ENOTCONN. */
    Sock s;
    ASSERT_OK(sp_socket_open(s.out(), SP_AF_INET, SP_SOCK_STREAM));
    ASSERT_SP(SP_ENOTCONN, sp_shutdown(s, SP_SHUT_RDWR));
    const int mine = sp_last_native_error();
    EXPECT_EQ(sp_err_to_native(SP_ENOTCONN), mine);

    int other_before = -1, other_after = -1, other_rc = 0;
    std::thread t([&] {
        other_before = sp_last_native_error(); /* nothing failed in this thread yet */
        other_rc = sp_close(SP_INVALID_SOCKET);
        other_after = sp_last_native_error();
    });
    t.join();
    EXPECT_EQ(0, other_before) << "a new thread must start with no native error";
    EXPECT_SP(SP_EBADF, other_rc) << "sp_close(SP_INVALID_SOCKET)";
    EXPECT_NE(0, other_after);
    EXPECT_NE(mine, other_after);
    EXPECT_SP(SP_EBADF, sp_err_from_native(other_after));

    EXPECT_EQ(mine, sp_last_native_error()) << "another thread's failure changed this thread's";

    /* A successful call leaves it unchanged. */
    ASSERT_OK(sp_set_nodelay(s, 1));
    EXPECT_EQ(mine, sp_last_native_error());
}
