/*
 * test_server_sendfile.cc - issue #13's streams beside messages, in every model the OS has:
 * sp_conn_sendfile (a file range sent in order with the connection's other output, with
 * each sp_sendfile_mode: the OS's call, or reads and sends) and sp_conn_unread (the bytes
 * after a raw body handed back to the framer, so a request pipelined behind a body in the
 * same segment is served).
 */
#include "output_fixture.h"

#include <sockport.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifdef _WIN32
#    include <fcntl.h>
#    include <io.h>
#    include <process.h>
#else
#    include <csignal>
#    include <fcntl.h>
#    include <unistd.h>
#endif

using namespace sptest;
using namespace sptest::fp;

namespace
{

enum { R_CLOSE = 1, R_RESULT, R_QUEUED, R_UNREAD };

EventLog *g_log;
std::string *g_path;                    /* the test file: kFile bytes of make_pattern */
const int64_t kFile = (int64_t)8 << 20; /* 8 MiB */
std::vector<unsigned char> *g_bytes;    /* its contents */

long process_id()
{
#ifdef _WIN32
    return (long)_getpid();
#else
    return (long)getpid();
#endif
}

int open_file()
{
#ifdef _WIN32
    return _open(g_path->c_str(), _O_RDONLY | _O_BINARY);
#else
    return open(g_path->c_str(), O_RDONLY | O_CLOEXEC);
#endif
}

void close_file(int fd)
{
#ifdef _WIN32
    _close(fd);
#else
    close(fd);
#endif
}

/* A pipe holding n pattern bytes, its writing end closed: its reading end, or -1. */
int pipe_with(size_t n)
{
    int p[2];
#ifdef _WIN32
    if (_pipe(p, 1 << 17, _O_BINARY) != 0)
        return -1;
    int w = _write(p[1], g_bytes->data(), (unsigned)n);
    _close(p[1]);
#else
    if (pipe(p) != 0)
        return -1;
    ssize_t w = write(p[1], g_bytes->data(), n);
    close(p[1]);
#endif
    if (w != (decltype(w))n) {
        close_file(p[0]);
        return -1;
    }
    return p[0];
}

/* Log a sendfile's result: a = the code (0 when it returned len), b = which call. */
void log_result(int which, int64_t rc, int64_t len)
{
    g_log->add(R_RESULT, which, rc == len ? 0 : rc < 0 ? (int)rc : -1000, 0);
}

/*
 * Lines: "get OFF LEN" sends that range; "mix" writes "<A>", the 100 bytes at 5, "<B>",
 * the whole file, "<C>"; "bad" logs the argument checks and writes "ok"; "short" asks
 * past the end of the file, then writes "ok"; "pipe N M" sends M bytes of a pipe that
 * holds N, then writes "ok".
 */
int sf_message(sp_conn *c, const void *msg, size_t len)
{
    std::string m((const char *)msg, len);
    if (m.compare(0, 4, "get ") == 0) {
        long long off = 0, n = 0, inherited = -1;
        std::istringstream(m.substr(4)) >> off >> n >> inherited;
#ifndef _WIN32
        /* a fork model's child holds a copy of the client's socket (fork keeps every
         * descriptor of the test's process): closed here, the client's close resets */
        if (inherited >= 0 && sp_server_model(sp_conn_server(c)) == SP_MODEL_FORK)
            close((int)inherited);
#endif
        int fd = open_file();
        int64_t rc = sp_conn_sendfile(c, fd, off, n);
        close_file(fd); /* at once: the event model keeps a duplicate */
        log_result(0, rc, n);
        g_log->add(R_QUEUED, 0, (int)(sp_conn_queued(c) >> 10), 0);
        return rc < 0 ? -1 : 0;
    }
    if (m == "mix") {
        int fd = open_file();
        int rc = sp_conn_write(c, "<A>", 3);
        log_result(1, sp_conn_sendfile(c, fd, 5, 100), 100);
        rc |= sp_conn_write(c, "<B>", 3);
        log_result(2, sp_conn_sendfile(c, fd, 0, kFile), kFile);
        rc |= sp_conn_send(c, "<C>", 3); /* framed: "<C>\n" */
        close_file(fd);
        return rc;
    }
    if (m == "bad") {
        int fd = open_file();
        log_result(10, sp_conn_sendfile(c, -1, 0, 10), 10);
        log_result(11, sp_conn_sendfile(c, 1 << 20, 0, 10), 10);
        log_result(12, sp_conn_sendfile(c, fd, -1, 10), 10);
        log_result(13, sp_conn_sendfile(c, fd, 0, -1), -1);
        log_result(14, sp_conn_sendfile(c, fd, INT64_MAX, 1), 1);
        log_result(15, sp_conn_sendfile(nullptr, fd, 0, 1), 1);
        log_result(16, sp_conn_sendfile(c, fd, kFile, 0), 0);
        close_file(fd);
        return sp_conn_write(c, "ok", 2);
    }
    if (m == "short") {
        int fd = open_file();
        log_result(20, sp_conn_sendfile(c, fd, kFile - 10, 100), 100);
        close_file(fd);
        return sp_conn_write(c, "ok", 2);
    }
    if (m.compare(0, 5, "pipe ") == 0) {
        unsigned long long have = 0, want = 0;
        std::istringstream(m.substr(5)) >> have >> want;
        int fd = pipe_with((size_t)have);
        int64_t rc = sp_conn_sendfile(c, fd, 0, (int64_t)want);
        close_file(fd);
        log_result(30, rc, (int64_t)want);
        return rc < 0 ? -1 : sp_conn_write(c, "ok", 2);
    }
    return -1;
}

void sf_close(sp_conn *, int reason, int error)
{
    g_log->add(R_CLOSE, 0, reason, error);
}

const sp_server_handler kFiles = {nullptr, sf_message, nullptr, sf_close, nullptr};

/* Small kernel buffers on the server's side: a reader that stops stalls the send soon. */
void small_open(sp_conn *c)
{
    sp_set_send_buffer(sp_conn_socket(c), 8192);
}

const sp_server_handler kFilesSmall = {small_open, sf_message, nullptr, sf_close, nullptr};

int count(const std::vector<Rec> &v, int kind, int port = -1)
{
    return port < 0 ? count_recs(v, kind) : count_recs(v, kind, REC_PORT, port);
}

const Rec *find(const std::vector<Rec> &v, int kind, int port)
{
    for (const auto &r : v)
        if (r.kind == kind && r.port == port)
            return &r;
    return nullptr;
}

#ifdef __linux__
/* This process's resident memory in KiB (/proc/self/statm), or -1. */
long rss_kib()
{
    std::ifstream in("/proc/self/statm");
    long pages = 0, resident = -1;
    if (!(in >> pages >> resident))
        return -1;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}
#endif

const char *mode_name(int m)
{
    return m == SP_SENDFILE_AUTO ? "auto" : m == SP_SENDFILE_OFF ? "off" : "on";
}

typedef std::tuple<int, int> Param; /* model, sendfile mode */

std::string param_name(const ::testing::TestParamInfo<Param> &p)
{
    return std::string(model_name(std::get<0>(p.param))) + "_" + mode_name(std::get<1>(p.param));
}

class ServerSendfile : public OutputFixture, public ::testing::WithParamInterface<Param>
{
  protected:
    void SetUp() override
    {
        set_up(std::get<0>(GetParam()));
        if (IsSkipped())
            return;
        g_log = &log_;
        if (g_bytes == nullptr) {
            g_bytes = new std::vector<unsigned char>(make_pattern((size_t)kFile, 7));
            /* one file per process: ctest runs the tests of this suite in parallel */
            g_path = new std::string("sp_sendfile_test." + std::to_string(process_id()) + ".bin");
            std::atexit([] { std::remove(g_path->c_str()); });
            std::ofstream out(*g_path, std::ios::binary | std::ios::trunc);
            out.write((const char *)g_bytes->data(), (std::streamsize)g_bytes->size());
            ASSERT_TRUE(out.good()) << "writing " << *g_path;
        }
#ifndef _WIN32
        old_pipe_ = std::signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would end the test run */
#endif
#ifdef __linux__
        rss_at_start_ = rss_kib();
#endif
    }
    void TearDown() override
    {
        OutputFixture::TearDown();
#ifndef _WIN32
        std::signal(SIGPIPE, old_pipe_);
#endif
    }
    void start(sp_server_config &cfg)
    {
        cfg.sendfile_mode = std::get<1>(GetParam());
        OutputFixture::start(cfg);
    }
    /* The file server on lines; send_timeout_ms and grace_ms 0: the defaults; no
     * reply_timeout_ms unless given. */
    void start_files(const sp_server_handler *h = &kFiles, int send_timeout_ms = 0,
                     int grace_ms = 0, int reply_timeout_ms = 0)
    {
        sp_server_config cfg;
        sp_server_config_init(&cfg);
        cfg.handler = h;
        cfg.framer = &lines_;
        cfg.send_timeout_ms = send_timeout_ms;
        cfg.grace_ms = grace_ms;
        cfg.reply_timeout_ms = reply_timeout_ms;
        start(cfg);
    }
    std::string file_bytes(size_t off, size_t n)
    {
        return std::string((const char *)g_bytes->data() + off, n);
    }
    std::vector<Rec> wait_results(int n)
    {
        return log_.wait([&](const std::vector<Rec> &r) { return count(r, R_RESULT) >= n; }, 10000);
    }

    long rss_at_start_ = 0;
#ifndef _WIN32
    void (*old_pipe_)(int) = SIG_DFL;
#endif
};

/* A multi-MiB range through a reader slower than the server: byte-identical; the event
 * model queues the range (not its bytes: it counts in sp_conn_queued), the blocking
 * models have sent it when the call returns. */
TEST_P(ServerSendfile, WholeFileThroughASlowReaderArrivesIntact)
{
    start_files();
    Sock c;
    connect(c, 65536);
    send_text(c, "get 0 " + std::to_string(kFile) + "\n");
    std::string got = recv_n(c, (size_t)kFile, 65536, 2);
    ASSERT_EQ((size_t)kFile, got.size());
    EXPECT_TRUE(same_bytes(g_bytes->data(), (const unsigned char *)got.data(), got.size()));
    auto v = log_.wait([&](const std::vector<Rec> &r) { return count(r, R_QUEUED) == 1; }, 5000);
    ASSERT_EQ(1, count(v, R_RESULT));
    EXPECT_SP(0, find(v, R_RESULT, 0)->a);
    ASSERT_EQ(1, count(v, R_QUEUED));
    if (model_ == SP_MODEL_EVENTS) {
        EXPECT_EQ((int)(kFile >> 10), find(v, R_QUEUED, 0)->a) << "KiB queued after the call";
    } else {
        EXPECT_EQ(0, find(v, R_QUEUED, 0)->a) << "KiB queued after the call";
    }
}

/* An offset and a length inside the file; then the connection goes on. */
TEST_P(ServerSendfile, OffsetAndLength)
{
    start_files();
    Sock c;
    connect(c);
    send_text(c, "get 12345 70000\nget 0 1\n");
    EXPECT_EQ(file_bytes(12345, 70000), recv_n(c, 70000));
    EXPECT_EQ(file_bytes(0, 1), recv_n(c, 1));
}

/* Writes and framed sends before, between and after two ranges keep their order. */
TEST_P(ServerSendfile, OrderWithSendsBeforeAndAfter)
{
    start_files();
    Sock c;
    connect(c, 65536);
    send_text(c, "mix\nget 1 2\n");
    std::string want = "<A>" + file_bytes(5, 100) + "<B>" + file_bytes(0, (size_t)kFile) + "<C>\n" +
                       file_bytes(1, 2);
    std::string got = recv_n(c, want.size(), 65536, 1);
    ASSERT_EQ(want.size(), got.size());
    EXPECT_TRUE(same_bytes((const unsigned char *)want.data(), (const unsigned char *)got.data(),
                           want.size()));
    auto v = wait_results(3);
    EXPECT_SP(0, find(v, R_RESULT, 1)->a);
    EXPECT_SP(0, find(v, R_RESULT, 2)->a);
}

/* The argument checks: a bad descriptor is SP_EBADF, bad ranges SP_EINVAL, nothing sent. */
TEST_P(ServerSendfile, BadDescriptorAndRangesAreRefused)
{
    start_files();
    Sock c;
    connect(c);
    send_text(c, "bad\n");
    EXPECT_EQ("ok", recv_n(c, 2));
    auto v = wait_results(7);
    ASSERT_EQ(7, count(v, R_RESULT));
    EXPECT_SP(SP_EBADF, find(v, R_RESULT, 10)->a) << "fd -1";
    EXPECT_SP(SP_EBADF, find(v, R_RESULT, 11)->a) << "fd 1 << 20 (not open)";
    EXPECT_SP(SP_EINVAL, find(v, R_RESULT, 12)->a) << "offset -1";
    EXPECT_SP(SP_EINVAL, find(v, R_RESULT, 13)->a) << "len -1";
    EXPECT_SP(SP_EINVAL, find(v, R_RESULT, 14)->a) << "offset + len over INT64_MAX";
    EXPECT_SP(SP_EINVAL, find(v, R_RESULT, 15)->a) << "NULL connection";
    EXPECT_SP(0, find(v, R_RESULT, 16)->a) << "len 0 at the end: 0";
}

/* A regular file shorter than offset + len: SP_EEOF at once, nothing sent, the connection
 * goes on. */
TEST_P(ServerSendfile, FileShorterThanLenIsAnErrorNotAHang)
{
    start_files();
    Sock c;
    connect(c);
    double t0 = now_ms();
    send_text(c, "short\nget 0 3\n");
    EXPECT_EQ("ok" + file_bytes(0, 3), recv_n(c, 5));
    EXPECT_LT(now_ms() - t0, 5000.0);
    auto v = wait_results(2);
    EXPECT_SP(SP_EEOF, find(v, R_RESULT, 20)->a);
}

/* A pipe (not regular: read, never the OS's sendfile) that holds all that is asked is
 * sent; one that ends early closes the connection after its bytes (SP_CLOSE_ERROR,
 * SP_EEOF): the thread and fork models say SP_EEOF from the call, the event model, which
 * sends later, closes then. */
TEST_P(ServerSendfile, PipeThatEndsEarlyClosesTheConnection)
{
    start_files();
    {
        Sock c;
        connect(c);
        send_text(c, "pipe 50000 50000\n");
        EXPECT_EQ(file_bytes(0, 50000) + "ok", recv_n(c, 50002));
    }
    Sock c;
    connect(c);
    send_text(c, "pipe 30000 50000\n");
    EXPECT_EQ(file_bytes(0, 30000), recv_n(c, 30000));
    std::string rest;
    EXPECT_GE(read_to_eof(c, rest, 10000), 0) << "the connection closes";
    EXPECT_EQ("", rest);
    auto v = log_.wait([&](const std::vector<Rec> &r) { return count(r, R_CLOSE) >= 2; }, 10000);
    ASSERT_EQ(2, count(v, R_RESULT, 30));
    bool eeof_close = false;
    for (const auto &r : v)
        if (r.kind == R_CLOSE && r.a == SP_CLOSE_ERROR && r.b == SP_EEOF)
            eeof_close = true;
    EXPECT_TRUE(eeof_close) << "a close with SP_CLOSE_ERROR / SP_EEOF";
    int early = 0;
    for (const auto &r : v)
        if (r.kind == R_RESULT && r.port == 30 && r.a != 0)
            early = r.a;
    if (model_ == SP_MODEL_EVENTS) {
        EXPECT_SP(0, early) << "queued: the end is found later";
    } else {
        EXPECT_SP(SP_EEOF, early);
    }
}

/* The peer resets the connection in the middle of a file: the connection closes with
 * SP_CLOSE_ERROR (no SIGPIPE: its default action would end this process), and the server
 * serves the next client. */
TEST_P(ServerSendfile, PeerResetMidFile)
{
    start_files();
    {
        Sock c;
        connect(c, 65536);
        send_text(c, "get 0 " + std::to_string(kFile) + " " + std::to_string((long long)c.get()) +
                         "\n");
        EXPECT_EQ(file_bytes(0, 100000), recv_n(c, 100000));
        ASSERT_OK(sp_set_linger(c, 1, 0)); /* abortive: an RST */
    }
    auto v = log_.wait([&](const std::vector<Rec> &r) { return count(r, R_CLOSE) >= 1; }, 20000);
    ASSERT_EQ(1, count(v, R_CLOSE));
    EXPECT_EQ(SP_CLOSE_ERROR, find(v, R_CLOSE, 0)->a)
        << reason_name(find(v, R_CLOSE, 0)->a) << " " << code_str(find(v, R_CLOSE, 0)->b);
    Sock c;
    connect(c);
    send_text(c, "get 7 9\n");
    EXPECT_EQ(file_bytes(7, 9), recv_n(c, 9));
}

/* A reader that takes nothing: send_timeout_ms closes its connection (SP_CLOSE_ERROR,
 * SP_ETIMEDOUT) in every model, the file's range as queued bytes are: not before the
 * timeout, within it plus a quarter and a bound. */
TEST_P(ServerSendfile, SendDeadlineCutsAStalledFile)
{
    const int kSend = 300;
    start_files(&kFilesSmall, kSend);
    Sock c;
    connect(c, 4096);
    const Cut cut =
        request_until_closed(c, "get 0 " + std::to_string(kFile) + "\n", log_, R_CLOSE, 20000);
    const double took = cut.took;
    ASSERT_TRUE(closed_by_timeout(cut.v, R_CLOSE)) << took << " ms after the request";
    EXPECT_GE(took, (double)kSend) << "closed before the timeout";
    EXPECT_LE(took, late_slack(kSend + kSend / 4 + 300.0));
}

/* A steady reader of a 2 MiB range (64 KiB every 50 ms, so that the range lasts more than
 * three times send_timeout_ms) gets every byte in every model and sendfile mode:
 * send_timeout_ms counts from the last byte taken (the event model once cut a queued range
 * send_timeout_ms after its queueing, however steadily it went). */
TEST_P(ServerSendfile, SteadySlowReaderOfAFileIsNotCut)
{
    const int kSend = 300;
    const size_t kRange = (size_t)2 << 20;
    start_files(&kFilesSmall, kSend);
    steady_reader_is_not_cut("get 0 " + std::to_string(kRange) + "\n", g_bytes->data(), kRange,
                             kSend, R_CLOSE, "2 MiB range");
}

/* A reader that takes 32 KiB every 50 ms (never silent for send_timeout_ms; the 8 MiB take
 * 13 s) of the whole file: the range is one reply, cut by reply_timeout_ms (SP_CLOSE_ERROR
 * / SP_ETIMEDOUT) within the deadline plus a quarter and a bound, never earlier, in every
 * model and mode. Not slower: TransmitFile (Windows, SP_SENDFILE_ON here under Wine) shows
 * progress once per 64 KiB call (server.h): a reader that took 2 KiB every 50 ms was cut by
 * the 300 ms progress timeout there (308 ms, threads_on under Wine). */
TEST_P(ServerSendfile, TricklingReaderOfAFileIsCutByReplyTimeout)
{
    const int kSend = 300, kReply = 600, kBound = 300, kStep = 50, kRead = 32768;
    start_files(&kFilesSmall, kSend, 0, kReply);
    Sock c;
    connect(c, kRead);
    const Cut cut = request_until_closed(c, "get 0 " + std::to_string(kFile) + "\n", log_, R_CLOSE,
                                         kReply + kBound + 5000, kRead, kStep);
    const double took = cut.took;
    ASSERT_TRUE(closed_by_timeout(cut.v, R_CLOSE))
        << took << " ms after the request (" << cut.reads << " reads, " << cut.got << " bytes)";
    EXPECT_GE(took, (double)kReply) << "closed before the deadline";
    EXPECT_LE(took, late_slack(kReply + kReply / 4 + (double)kBound));
    expect_kept_reading(cut, kStep, ""); /* the premise */
}

/* A stop while a file goes to a reader that takes nothing ends within grace_ms plus a
 * small bound in every model (the blocking send is cut; the queued range dropped). */
TEST_P(ServerSendfile, StopDuringAStalledFileIsBounded)
{
    start_files(&kFilesSmall, -1, 300);
    Sock c;
    connect(c, 4096);
    send_text(c, "get 0 " + std::to_string(kFile) + "\n");
    sleep_ms(300); /* the transfer has stalled */
    double t0 = now_ms();
    ASSERT_OK(sp_server_stop(srv_));
    ASSERT_OK(sp_server_wait(srv_));
    double took = now_ms() - t0;
    EXPECT_LT(took, 300.0 + late_slack(2000)) << "ms for the stop (grace 300 ms)";
    auto v = log_.wait([&](const std::vector<Rec> &r) { return count(r, R_CLOSE) >= 1; }, 5000);
    ASSERT_EQ(1, count(v, R_CLOSE));
    sp_server_destroy(srv_);
    srv_ = nullptr;
}

/* The same with a reader that keeps taking a little (16 KiB every 20 ms): each chunk of
 * the file makes progress, and the stop must still end within grace_ms plus a bound. */
TEST_P(ServerSendfile, StopDuringASlowFileIsBounded)
{
    start_files(&kFilesSmall, 0, 300);
    Sock c;
    connect(c, 4096);
    send_text(c, "get 0 " + std::to_string(kFile) + "\n");
    std::atomic<bool> done{false};
    std::thread reader([&] {
        std::vector<char> buf(16384);
        while (!done && sp_recv(c, buf.data(), buf.size()) > 0)
            sleep_ms(20);
    });
    sleep_ms(300);
    double t0 = now_ms();
    EXPECT_OK(sp_server_stop(srv_));
    EXPECT_OK(sp_server_wait(srv_));
    double took = now_ms() - t0;
    done = true;
    sp_shutdown(c, SP_SHUT_RDWR);
    reader.join();
    EXPECT_LT(took, 300.0 + late_slack(2000)) << "ms for the stop (grace 300 ms)";
    sp_server_destroy(srv_);
    srv_ = nullptr;
}

#ifdef __linux__
/* Eight downloads of the whole file to readers that took 64 KiB and stopped: the server's
 * memory grows by a few MiB at most, not by the 64 MiB the files hold (the event model
 * queues the files, not their bytes; the blocking models send from the file). The fork
 * model's memory is its children's: not measured here. */
TEST_P(ServerSendfile, EightStalledDownloadsHoldLittleMemory)
{
    if (model_ == SP_MODEL_FORK)
        GTEST_SKIP() << "the fork model's connections live in child processes";
    /* a sanitizer's or valgrind's own memory per thread is resident too: under TSan the
     * thread model grew 10.8 MiB with 8 connection threads (CI). The plain build measures
     * the library's. */
    if (sanitized_build() || is_valgrind())
        GTEST_SKIP() << "resident memory under a sanitizer or valgrind is mostly theirs";
    start_files();
    std::vector<Sock> socks(8);
    for (auto &s : socks) {
        connect(s, 65536);
        send_text(s, "get 0 " + std::to_string(kFile) + "\n");
    }
    for (auto &s : socks) {
        EXPECT_EQ(file_bytes(0, 65536), recv_n(s, 65536));
    }
    sleep_ms(300); /* the server has filled every socket it can */
    long after = rss_kib();
    ASSERT_GT(rss_at_start_, 0);
    ASSERT_GT(after, 0);
    std::printf("[  MEMORY  ] %s: %+ld KiB resident with 8 stalled downloads of %lld MiB\n",
                param_name(::testing::TestParamInfo<Param>(GetParam(), 0)).c_str(),
                after - rss_at_start_, (long long)(kFile >> 20));
    /* the memory the test itself holds (the file's bytes, two copies) is there before the
     * downloads: compare with the start of the test */
    EXPECT_LT(after - rss_at_start_, 8L * 1024) << "KiB grown during the downloads";
}
#endif

std::vector<Param> params()
{
    std::vector<Param> v;
    for (int m : os_models())
        for (int mode : {SP_SENDFILE_AUTO, SP_SENDFILE_OFF, SP_SENDFILE_ON})
            v.emplace_back(m, mode);
    return v;
}

INSTANTIATE_TEST_SUITE_P(Models, ServerSendfile, ::testing::ValuesIn(params()), param_name);

/* ---- sp_conn_unread: back from raw input with the bytes after a body -------------------- */

/* Heads end with "\r\n\r\n". "LEN n": n raw bytes follow, answered "got:<bytes>" raw; the
 * bytes after them go back to the framer. "PING": "PONG" framed. */
struct BodyState {
    size_t want;
    std::string body;
};

int ur_message(sp_conn *c, const void *msg, size_t len)
{
    std::string m((const char *)msg, len);
    if (m.compare(0, 4, "LEN ") == 0) {
        g_log->add(R_UNREAD, 0, sp_conn_unread(c, 0), 0); /* not in on_data: refused */
        sp_conn_set_user(c, new BodyState{(size_t)std::stoul(m.substr(4)), std::string()});
        return sp_conn_set_raw(c, 1);
    }
    if (m == "PING")
        return sp_conn_send(c, "PONG", 4);
    return -1;
}

int ur_data(sp_conn *c, const void *data, size_t len)
{
    BodyState *st = (BodyState *)sp_conn_user(c);
    size_t take = std::min(len, st->want - st->body.size());
    st->body.append((const char *)data, take);
    if (st->body.size() < st->want)
        return 0;
    g_log->add(R_UNREAD, 1, sp_conn_unread(c, len - take), 0); /* still raw: refused */
    std::string reply = "got:" + st->body;
    delete st;
    sp_conn_set_user(c, nullptr);
    sp_conn_set_raw(c, 0);
    g_log->add(R_UNREAD, 2, sp_conn_unread(c, len + 1), 0); /* more than it has: refused */
    g_log->add(R_UNREAD, 3, sp_conn_unread(c, len - take), (int)(len - take));
    return sp_conn_write(c, reply.data(), reply.size());
}

void ur_close(sp_conn *c, int, int)
{
    delete (BodyState *)sp_conn_user(c);
}

const sp_server_handler kUnread = {nullptr, ur_message, ur_data, ur_close, nullptr};

class ServerUnread : public ServerSendfile
{
};

/* A body and the next request in one segment (the body arrives with its head: the
 * decoder's rest), then a body split over two segments whose second holds two more
 * requests (a raw read's tail): every request is answered, in order. */
TEST_P(ServerUnread, PipelinedRequestAfterABodyIsNotLost)
{
    sp_framer heads;
    sp_framer_delim(&heads, "\r\n\r\n", 4, 4096);
    sp_server_config cfg;
    sp_server_config_init(&cfg);
    cfg.handler = &kUnread;
    cfg.framer = &heads;
    start(cfg); /* ServerSendfile's: in this test's sendfile mode */
    Sock c;
    connect(c);
    send_text(c, "LEN 5\r\n\r\nhelloPING\r\n\r\n");
    EXPECT_EQ("got:helloPONG\r\n\r\n", recv_n(c, 17));
    send_text(c, "LEN 6\r\n\r\nab");
    sleep_ms(100);
    send_text(c, "cdefPING\r\n\r\nLEN 2\r\n\r\nxyPING\r\n\r\n");
    EXPECT_EQ("got:abcdefPONG\r\n\r\ngot:xyPONG\r\n\r\n", recv_n(c, 32));
    auto v = log_.wait([&](const std::vector<Rec> &r) { return count(r, R_UNREAD, 3) >= 3; }, 5000);
    ASSERT_EQ(3, count(v, R_UNREAD, 3));
    for (const auto &r : v) {
        if (r.kind != R_UNREAD)
            continue;
        if (r.port == 3) {
            EXPECT_SP(0, r.a) << "unread of " << r.b << " after the switch";
        } else {
            EXPECT_SP(SP_EINVAL, r.a) << "unread case " << r.port;
        }
    }
}

std::vector<Param> unread_params()
{
    std::vector<Param> v;
    for (int m : os_models())
        v.emplace_back(m, SP_SENDFILE_AUTO);
    return v;
}

std::string unread_name(const ::testing::TestParamInfo<Param> &p)
{
    return model_name(std::get<0>(p.param));
}

INSTANTIATE_TEST_SUITE_P(Models, ServerUnread, ::testing::ValuesIn(unread_params()), unread_name);

} // namespace
