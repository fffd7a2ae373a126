/*
 * output_fixture.h - what the suites of the server's output share (test_server_output.cc,
 * test_server_sendfile.cc): a server on 127.0.0.1 with a line framer in one model, the
 * client's side of a download (connect with a fixed receive buffer, send a request, read
 * n bytes, a slow reader thread) and the records the handlers log.
 *
 *   OutputFixture  a GoogleTest fixture: set_up(model) skips the fork model under a
 *                  sanitizer; start(cfg) starts the server; TearDown stops and destroys it;
 *                  request_until_closed() sends a request (a SlowReader reading, if asked)
 *                  and waits for the server's close.
 *   SlowReader     a client thread that reads up to a chunk every step (keeping the bytes
 *                  when asked) until stopped or the connection ends.
 *   count_recs     the records of a kind (and a value of a or port).
 *   closed_by_timeout  the log holds one close, with SP_CLOSE_ERROR / SP_ETIMEDOUT.
 */
#ifndef SOCKPORT_TESTS_OUTPUT_FIXTURE_H
#define SOCKPORT_TESTS_OUTPUT_FIXTURE_H

#include "fault_proc.h"
#include "server_fixture.h"

#include <sockport.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace sptest
{

/* Which field of a record count_recs compares with its value. */
enum { REC_ANY = 0, REC_A, REC_PORT };

/* The records of this kind (whose a or port, as `field` says, is `value`). */
inline int count_recs(const std::vector<fp::Rec> &v, int kind, int field = REC_ANY, int value = 0)
{
    return (int)std::count_if(v.begin(), v.end(), [&](const fp::Rec &r) {
        return r.kind == kind && (field == REC_ANY || (field == REC_A ? r.a : r.port) == value);
    });
}

/* The reasons and errors of the records of kind close_kind, as text. */
inline std::string closes(const std::vector<fp::Rec> &v, int close_kind)
{
    std::string out;
    for (const auto &r : v)
        if (r.kind == close_kind)
            out += std::string(out.empty() ? "" : ", ") + reason_name(r.a) + " / " + code_str(r.b);
    return out.empty() ? "none" : out;
}

/* The log holds one record of kind close_kind, and it is SP_CLOSE_ERROR / SP_ETIMEDOUT (a
 * send deadline: a = the reason, b = the error). */
inline ::testing::AssertionResult closed_by_timeout(const std::vector<fp::Rec> &v, int close_kind)
{
    for (const auto &r : v)
        if (r.kind == close_kind && (r.a != SP_CLOSE_ERROR || r.b != SP_ETIMEDOUT))
            return ::testing::AssertionFailure()
                   << "closed with " << reason_name(r.a) << " / " << code_str(r.b);
    if (count_recs(v, close_kind) != 1)
        return ::testing::AssertionFailure() << count_recs(v, close_kind) << " closes";
    return ::testing::AssertionSuccess();
}

/* A client's reader thread: up to `chunk` bytes every step_ms until stopped or the
 * connection ends; counts the bytes and the reads that returned some, and keeps the bytes
 * when `keep` (data, read once stopped or ended). It notes when each read was called and
 * returned: gap_before() says how long it left the server's bytes unread (a loaded host
 * wakes its step_ms sleep late). */
class SlowReader
{
  public:
    SlowReader(sp_socket_t s, size_t chunk, int step_ms, bool keep = false)
        : s_(s), thread_([this, chunk, step_ms, keep] {
              std::vector<char> buf(chunk);
              while (!quit_) {
                  calls_.push_back(now_ms());
                  ptrdiff_t r = sp_recv(s_, buf.data(), buf.size());
                  returns_.push_back(now_ms());
                  if (r <= 0) {
                      end = r;
                      return;
                  }
                  if (keep)
                      data.append(buf.data(), (size_t)r);
                  got += r;
                  reads++;
                  sleep_ms(step_ms);
              }
          })
    {
    }
    ~SlowReader()
    {
        stop();
    }
    SlowReader(const SlowReader &) = delete;
    SlowReader &operator=(const SlowReader &) = delete;
    /* End the thread: the socket is shut down (a blocked read returns). */
    void stop()
    {
        quit_ = true;
        sp_shutdown(s_, SP_SHUT_RDWR);
        join();
    }
    /* Wait for the thread to end by itself (the connection ended). */
    void join()
    {
        if (thread_.joinable())
            thread_.join();
    }
    /* Once stopped or joined: the longest time before `t` (now_ms()) that the reader
     * spent out of sp_recv, from a read's return to the next read's call (or to t, when
     * that came later or never). While it is out of sp_recv, its receive buffer fills and
     * the server's sends make no progress. */
    double gap_before(double t) const
    {
        double worst = 0;
        for (size_t i = 0; i < returns_.size() && returns_[i] < t; i++) {
            const double next = i + 1 < calls_.size() ? std::min(calls_[i + 1], t) : t;
            worst = std::max(worst, next - returns_[i]);
        }
        return worst;
    }
    std::atomic<long long> got{0};
    std::atomic<int> reads{0};
    std::atomic<long long> end{1}; /* the read that ended it: 0 (EOF) or an error */
    std::string data;

  private:
    sp_socket_t s_;
    std::atomic<bool> quit_{false};
    std::vector<double> calls_, returns_; /* the thread's; read once it ended */
    std::thread thread_;                  /* last: starts after the members it uses */
};

/* The time (Rec::at) of the last record of this kind, or -1. */
inline double last_at(const std::vector<fp::Rec> &v, int kind)
{
    double at = -1;
    for (const auto &r : v)
        if (r.kind == kind)
            at = r.at;
    return at;
}

class OutputFixture : public SpTest
{
  protected:
    /* From the suite's SetUp: the model of this test (the fork model is skipped in a
     * sanitizer build) and a line framer. */
    void set_up(int model)
    {
        SpTest::SetUp();
        model_ = model;
        if (model == SP_MODEL_FORK && SP_FP_SANITIZED)
            GTEST_SKIP() << "fork model in a sanitizer build: a child of a threaded process may "
                            "stall in the sanitizer's allocator (server.h)";
        sp_framer_delim(&lines_, "\n", 1, 1024);
    }
    void TearDown() override
    {
        if (srv_ != nullptr) {
            sp_server_stop(srv_);
            sp_server_destroy(srv_);
            srv_ = nullptr;
        }
        SpTest::TearDown();
    }
    void start(sp_server_config &cfg)
    {
        cfg.model = model_;
        ASSERT_OK(sp_server_create(&srv_, &cfg));
        ASSERT_OK(sp_server_listen(srv_, "127.0.0.1:0"));
        ASSERT_OK(sp_server_local_addr(srv_, 0, &addr_));
        ASSERT_OK(sp_server_start(srv_));
    }
    /* start() with the default config but for the handler and the framer. */
    void start(const sp_server_handler *h, const sp_framer *f)
    {
        sp_server_config cfg;
        sp_server_config_init(&cfg);
        cfg.handler = h;
        cfg.framer = f;
        start(cfg);
    }
    /* Stop the server (the stop must succeed) and destroy it: the next round starts anew. */
    void finish()
    {
        if (srv_ == nullptr)
            return;
        sp_server_stop(srv_);
        EXPECT_OK(sp_server_wait(srv_));
        sp_server_destroy(srv_);
        srv_ = nullptr;
    }
    /* A client with a fixed receive buffer (rcvbuf > 0) and a 20 s receive timeout. */
    void connect(Sock &s, int rcvbuf = 0)
    {
        ASSERT_OK(sp_socket_open(s.out(), SP_AF_INET, SP_SOCK_STREAM));
        if (rcvbuf > 0) {
            ASSERT_OK(sp_set_recv_buffer(s, rcvbuf));
        }
        ASSERT_OK(sp_connect(s, &addr_));
        ASSERT_OK(sp_set_recv_timeout(s, 20000));
    }
    void send_text(Sock &s, const std::string &t)
    {
        ASSERT_OK(sp_send_all(s, t.data(), t.size(), 5000, nullptr));
    }
    /* n bytes, read in pieces of at most `piece`, with a pause every 4 reads (slow). */
    std::string recv_n(Sock &s, size_t n, size_t piece = 262144, int pause_ms = 0)
    {
        std::string out(n, '\0');
        size_t have = 0;
        int reads = 0;
        while (have < n) {
            ptrdiff_t r = sp_recv(s, &out[have], std::min(n - have, piece));
            if (r <= 0) {
                ADD_FAILURE() << "recv after " << have << " of " << n << ": " << code_str(r);
                break;
            }
            have += (size_t)r;
            if (pause_ms > 0 && ++reads % 4 == 0)
                sleep_ms(pause_ms);
        }
        out.resize(have);
        return out;
    }

    /* Read c at a steady pace (up to chunk bytes every step_ms) for run_ms; the records
     * logged by then (before the client's end) in *seen; the bytes read. */
    long long read_for(Sock &c, size_t chunk, int step_ms, int run_ms, std::vector<fp::Rec> *seen)
    {
        SlowReader reader(c, chunk, step_ms);
        sleep_ms(run_ms);
        const long long got = reader.got;
        *seen = log_.snapshot();
        reader.stop();
        return got;
    }
    /* What read_steadily saw: the ms from the request to the last byte (or the end), the
     * reader's longest time out of sp_recv, and whether the server closed meanwhile. */
    struct Steady {
        double took = 0, max_gap = 0;
        bool cut = false;
    };
    /* Send `request` on c, then read the n bytes it asks for at a steady pace (up to chunk
     * bytes every step_ms): they must all come, equal to want's, with no close of kind
     * close_kind logged meanwhile; unless the reader itself left its bytes unread for
     * `excused_gap_ms` or more (> 0 only: then a close is the server's right, and nothing
     * is checked: see steady_reader_is_not_cut). */
    Steady read_steadily(Sock &c, const std::string &request, const unsigned char *want, size_t n,
                         size_t chunk, int step_ms, int close_kind, double excused_gap_ms = 0)
    {
        Steady out;
        const int closes0 = count_recs(log_.snapshot(), close_kind); /* earlier tries' */
        const double t0 = now_ms();
        send_text(c, request);
        SlowReader reader(c, chunk, step_ms, true);
        while ((size_t)reader.got < n && reader.end > 0 && now_ms() - t0 < 60000)
            sleep_ms(10);
        out.took = now_ms() - t0;
        auto v = log_.snapshot(); /* before the client's end */
        reader.stop();
        out.cut = count_recs(v, close_kind) > closes0;
        out.max_gap = reader.gap_before(out.cut ? last_at(v, close_kind) : now_ms());
        if (out.cut && excused_gap_ms > 0 && out.max_gap >= excused_gap_ms)
            return out;
        EXPECT_EQ(closes0, count_recs(v, close_kind))
            << "closed after " << out.took << " ms, " << reader.got
            << " bytes read, the reader out of its reads for " << out.max_gap
            << " ms at most: " << closes(v, close_kind);
        EXPECT_EQ(n, reader.data.size()) << "after " << out.took << " ms";
        if (reader.data.size() == n) {
            EXPECT_TRUE(same_bytes(want, (const unsigned char *)reader.data.data(), n));
        }
        return out;
    }

    /* A steady slow reader of one big reply (n bytes, equal to want's, asked for by
     * `request`) on a new client with a 64 KiB receive buffer: read_steadily's 64 KiB every
     * 50 ms, no close of kind close_kind meanwhile, and the premise: the reply outlasted
     * three times send_timeout_ms (else it does not test that timeout).
     * The reader must be steady for the promise to apply: a loaded host (load 40-220) woke
     * its 50 ms sleep hundreds of ms late, and a reader that leaves the server's bytes
     * unread for send_timeout_ms is rightly cut (send_timeout_ms is a progress timeout).
     * The host delays the loopback's delivery too (its softirq work): beside 200 busy
     * loops a reader out of its reads for 202 ms at most was cut after 300 ms without
     * progress. So a try that was cut while the reader was out of its reads for half the
     * timeout or more (three times its 50 ms step; 50-54 ms on a quiet host) proves
     * nothing either way: the test tries again, up to 5 times. A cut of a reader that was
     * steady fails at once; so does any other defect. */
    void steady_reader_is_not_cut(const std::string &request, const unsigned char *want, size_t n,
                                  int send_timeout_ms, int close_kind, const char *what)
    {
        const double excused = 0.5 * send_timeout_ms;
        std::string starved;
        for (int attempt = 0; attempt < 5; attempt++) {
            Sock c;
            connect(c, 65536);
            const Steady s =
                read_steadily(c, request, want, n, (size_t)64 << 10, 50, close_kind, excused);
            if (s.cut && s.max_gap >= excused) {
                starved += " " + std::to_string((int)s.max_gap);
                std::printf("try %d: cut after %.0f ms, the reader was out of its reads for "
                            "%.0f ms (starved by the host): tried again\n",
                            attempt, s.took, s.max_gap);
                continue;
            }
            EXPECT_GE(s.took, 3.0 * send_timeout_ms)
                << "the " << what << " must outlast the timeout to test it";
            std::printf("%s read in %.0f ms (send_timeout_ms %d; the reader's longest gap "
                        "%.0f ms)\n",
                        what, s.took, send_timeout_ms, s.max_gap);
            return;
        }
        GTEST_SKIP() << "the host starved the reader in every try (its longest gaps, ms:" << starved
                     << "): the premise of a steady reader never held";
    }
    /* What a client saw of a request that its server was to cut: the records logged by
     * the close (or by the end of the wait), the ms from the request, and what the
     * client's SlowReader took meanwhile (nothing without one). */
    struct Cut {
        std::vector<fp::Rec> v;
        double took = 0;
        long long got = 0;
        int reads = 0;
        double max_gap = 0; /* the SlowReader's gap_before the close (or the wait's end) */
    };
    /* Send `request` on c and wait up to wait_ms for one close of kind close_kind in log;
     * with chunk > 0 a SlowReader takes up to chunk bytes every step_ms meanwhile. */
    Cut request_until_closed(Sock &c, const std::string &request, fp::EventLog &log, int close_kind,
                             int wait_ms, size_t chunk = 0, int step_ms = 0)
    {
        Cut cut;
        const double t0 = now_ms();
        send_text(c, request);
        std::unique_ptr<SlowReader> reader;
        if (chunk > 0)
            reader.reset(new SlowReader(c, chunk, step_ms));
        cut.v = log.wait(
            [&](const std::vector<fp::Rec> &r) { return count_recs(r, close_kind) == 1; }, wait_ms);
        cut.took = now_ms() - t0;
        if (reader) {
            cut.got = reader->got;
            cut.reads = reader->reads;
            reader->stop();
            const double at = last_at(cut.v, close_kind);
            cut.max_gap = reader->gap_before(at >= 0 ? at : now_ms());
        }
        return cut;
    }
    /* The premise of a trickling reader's cut: the client kept reading until the close (at
     * half its pace of a read every step_ms at least: on a loaded machine, or under
     * valgrind, its sleeps and the server's sends come late; a client that stopped would
     * read nothing more). */
    void expect_kept_reading(const Cut &cut, int step_ms, const std::string &what)
    {
        EXPECT_GE(cut.reads, (int)(cut.took / (2 * step_ms)) - 2)
            << what << "the client kept reading until the close";
        std::printf("%sclosed after %.0f ms, the client read %lld bytes in %d reads\n",
                    what.c_str(), cut.took, cut.got, cut.reads);
    }

    int model_ = 0;
    fp::EventLog log_;
    sp_framer lines_;
    sp_server *srv_ = nullptr;
    sp_addr addr_;
};

} // namespace sptest

#endif /* SOCKPORT_TESTS_OUTPUT_FIXTURE_H */
