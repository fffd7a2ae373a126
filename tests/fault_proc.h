/*
 * fault_proc.h - what the process-level fault tests (test_fault_proc.cc) need beyond
 * helpers.h: counts of the process's descriptors / handles and threads, its CPU time, the
 * path of the test binary (re-run in a helper mode), a log that a server's handlers write
 * to from any thread or forked child, and a storm of signals (POSIX).
 */
#ifndef SOCKPORT_TESTS_FAULT_PROC_H
#define SOCKPORT_TESTS_FAULT_PROC_H

#include "helpers.h"

#include <algorithm>
#include <set>

#ifdef _WIN32
#    include <ws2tcpip.h>
#else
#    include <arpa/inet.h>
#    include <fcntl.h>
#    include <netinet/in.h>
#    include <poll.h>
#    include <sys/socket.h>
#    include <sys/resource.h>
#    include <time.h>
#    include <unistd.h>
#    if defined(__APPLE__)
#        include <mach-o/dyld.h>
#    elif defined(__FreeBSD__) || defined(__DragonFly__)
#        include <sys/types.h>
#        include <sys/sysctl.h>
#    endif
#endif

namespace sptest
{
namespace fp
{

/* Sanitizer builds and Wine run slower: tests that scale say so with [  SCALED  ]. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#    define SP_FP_SANITIZED 1
#elif defined(__has_feature)
#    if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#        define SP_FP_SANITIZED 1
#    endif
#endif
#ifndef SP_FP_SANITIZED
#    define SP_FP_SANITIZED 0
#endif
#if defined(__SANITIZE_THREAD__)
#    define SP_FP_TSAN 1
#elif defined(__has_feature)
#    if __has_feature(thread_sanitizer)
#        define SP_FP_TSAN 1
#    endif
#endif
#ifndef SP_FP_TSAN
#    define SP_FP_TSAN 0
#endif

inline bool slow_build()
{
    return SP_FP_SANITIZED || is_wine();
}

/* The process's CPU time (user + system), in seconds. */
inline double cpu_seconds()
{
#ifdef _WIN32
    FILETIME c, e, k, u;
    if (!GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &u))
        return -1;
    auto t = [](const FILETIME &f) {
        return (double)(((uint64_t)f.dwHighDateTime << 32) | f.dwLowDateTime) / 1e7;
    };
    return t(k) + t(u);
#else
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
#endif
}

/* The path of the running test binary, to re-run it in a helper mode ("" if unknown). */
inline std::string self_exe()
{
#if defined(_WIN32)
    char buf[MAX_PATH];
    DWORD n = GetModuleFileNameA(nullptr, buf, sizeof buf);
    return std::string(buf, n);
#elif defined(__APPLE__)
    /* dyld(3): _NSGetExecutablePath; the path may hold symbolic links, exec takes them */
    char buf[4096];
    uint32_t size = sizeof buf;
    return _NSGetExecutablePath(buf, &size) == 0 ? std::string(buf) : std::string();
#elif defined(__FreeBSD__) || defined(__DragonFly__)
    /* sysctl(3): kern.proc.pathname of pid -1, this process */
    int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PATHNAME, -1};
    char buf[4096];
    size_t size = sizeof buf;
    return sysctl(mib, 4, buf, &size, nullptr, 0) == 0 ? std::string(buf) : std::string();
#elif defined(__linux__)
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, (size_t)n) : std::string();
#else
    return std::string(); /* the tests that re-run this binary then fail, saying so */
#endif
}

/*
 * Run this binary again with one argument (a --gtest_filter) and wait at most 60 s; its
 * exit code, or -1. Windows: CreateProcess, inheriting the handles marked inheritable
 * when inherit_handles is true; POSIX: fork + exec (descriptors without FD_CLOEXEC are
 * always inherited there).
 */
inline int run_self(const char *arg, bool inherit_handles)
{
    const std::string exe = self_exe();
    if (exe.empty())
        return -1;
#ifdef _WIN32
    std::string cmd = "\"" + exe + "\" " + arg;
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    std::memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    if (!CreateProcessA(exe.c_str(), &cmd[0], nullptr, nullptr, inherit_handles ? TRUE : FALSE, 0,
                        nullptr, nullptr, &si, &pi))
        return -1;
    DWORD code = (DWORD)-1;
    if (WaitForSingleObject(pi.hProcess, 60000) == WAIT_OBJECT_0)
        GetExitCodeProcess(pi.hProcess, &code);
    else
        TerminateProcess(pi.hProcess, 99);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    return (int)code;
#else
    (void)inherit_handles;
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl(exe.c_str(), exe.c_str(), arg, (char *)nullptr);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
#endif
}

/*
 * Bind a plain socket of the OS's own API (not sockport's: this is the other process that
 * tries to take a port) to 127.0.0.1:port, or 0.0.0.0:port with any, with SO_REUSEADDR
 * set. True when bound; *err is the native error otherwise (errno / WSAGetLastError).
 */
inline bool raw_bind_reuseaddr(int port, bool any, int *err)
{
#ifdef _WIN32
    WSADATA wsa;
    WSAStartup(MAKEWORD(2, 2), &wsa);
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    BOOL on = TRUE;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, (const char *)&on, sizeof on);
#else
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
#endif
    struct sockaddr_in a;
    std::memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(any ? INADDR_ANY : INADDR_LOOPBACK);
    const int rc = bind(s, (struct sockaddr *)&a, sizeof a);
#ifdef _WIN32
    *err = rc == 0 ? 0 : WSAGetLastError();
    closesocket(s);
    WSACleanup();
#else
    *err = rc == 0 ? 0 : errno;
    close(s);
#endif
    return rc == 0;
}

/*
 * EventLog: records of four ints that a server's handlers add from any thread, and from a
 * child of the fork model (POSIX: through a pipe that a thread of the test drains; the
 * child writes each record with one write(), atomic below PIPE_BUF), each with the time
 * it was added (now_ms(): the monotonic clock, the same in a forked child). A test that
 * bounds how long the server took between two of its own calls compares these times: the
 * test thread's late wake-up to see a record is not the server's.
 */
struct Rec {
    int kind, port, a, b;
    double at; /* now_ms() when added */
};

class EventLog
{
  public:
    EventLog()
    {
#ifndef _WIN32
        int p[2];
        if (pipe(p) == 0) {
            rfd_ = p[0];
            wfd_ = p[1];
            fcntl(rfd_, F_SETFD, FD_CLOEXEC);
            fcntl(wfd_, F_SETFD, FD_CLOEXEC);
            reader_ = std::thread([this] { drain(); });
        }
#endif
    }
    ~EventLog()
    {
#ifndef _WIN32
        stop_ = true;
        if (reader_.joinable())
            reader_.join();
        if (rfd_ >= 0)
            close(rfd_);
        if (wfd_ >= 0)
            close(wfd_);
#endif
    }
    EventLog(const EventLog &) = delete;
    EventLog &operator=(const EventLog &) = delete;

    void add(int kind, int port, int a, int b)
    {
        Rec r = {kind, port, a, b, now_ms()};
#ifdef _WIN32
        std::lock_guard<std::mutex> lock(mutex_);
        recs_.push_back(r);
#else
        ssize_t n;
        do
            n = write(wfd_, &r, sizeof r);
        while (n < 0 && errno == EINTR);
#endif
    }
    std::vector<Rec> snapshot()
    {
        std::lock_guard<std::mutex> lock(mutex_);
        return recs_;
    }
    /* Wait at most timeout_ms until pred(records) holds; the records at that time. */
    std::vector<Rec> wait(const std::function<bool(const std::vector<Rec> &)> &pred, int timeout_ms)
    {
        double end = now_ms() + timeout_ms;
        for (;;) {
            auto v = snapshot();
            if (pred(v) || now_ms() > end)
                return v;
            sleep_ms(5);
        }
    }

  private:
#ifndef _WIN32
    void drain()
    {
        char buf[sizeof(Rec) * 64];
        size_t have = 0;
        while (!stop_) {
            struct pollfd p = {rfd_, POLLIN, 0};
            if (poll(&p, 1, 20) <= 0)
                continue;
            ssize_t n = read(rfd_, buf + have, sizeof buf - have);
            if (n <= 0)
                continue;
            have += (size_t)n;
            size_t whole = have / sizeof(Rec) * sizeof(Rec);
            {
                std::lock_guard<std::mutex> lock(mutex_);
                for (size_t off = 0; off < whole; off += sizeof(Rec)) {
                    Rec r;
                    std::memcpy(&r, buf + off, sizeof r);
                    recs_.push_back(r);
                }
            }
            std::memmove(buf, buf + whole, have - whole);
            have -= whole;
        }
    }
    int rfd_ = -1, wfd_ = -1;
    std::atomic<bool> stop_{false};
    std::thread reader_;
#endif
    std::mutex mutex_;
    std::vector<Rec> recs_;
};

#ifndef _WIN32
/*
 * SignalStorm: while it lives, SIGUSR1 (handler installed WITHOUT SA_RESTART, so any
 * blocking call it lands in fails with EINTR in the kernel) every `period_us`: to each
 * thread registered with target() (pthread_kill) and to the process (kill), which
 * reaches the server's own threads. The storm's thread blocks the signal itself.
 */
class SignalStorm
{
  public:
    explicit SignalStorm(int period_us = 1000) : action_(SIGUSR1, on_signal, 0)
    {
        targets_.push_back(pthread_self());
        thread_ = std::thread([this, period_us] {
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, SIGUSR1);
            pthread_sigmask(SIG_BLOCK, &set, nullptr);
            struct timespec ts = {0, (long)period_us * 1000};
            while (!stop_) {
                {
                    std::lock_guard<std::mutex> lock(mutex_);
                    for (auto t : targets_)
                        pthread_kill(t, SIGUSR1);
                }
                kill(getpid(), SIGUSR1);
                nanosleep(&ts, nullptr);
            }
        });
    }
    ~SignalStorm()
    {
        stop();
    }
    SignalStorm(const SignalStorm &) = delete;
    SignalStorm &operator=(const SignalStorm &) = delete;
    /* Signal this thread too (call from the thread; untarget before it ends). */
    void target_me()
    {
        std::lock_guard<std::mutex> lock(mutex_);
        targets_.push_back(pthread_self());
    }
    void untarget_me()
    {
        std::lock_guard<std::mutex> lock(mutex_);
        pthread_t me = pthread_self();
        targets_.erase(std::remove_if(targets_.begin(), targets_.end(),
                                      [me](pthread_t t) { return pthread_equal(t, me); }),
                       targets_.end());
    }
    void stop()
    {
        stop_ = true;
        if (thread_.joinable())
            thread_.join();
    }
    bool installed() const
    {
        return action_.ok();
    }
    static long delivered()
    {
        return count_.load();
    }
    static void reset()
    {
        count_ = 0;
    }

  private:
    static void on_signal(int)
    {
        count_.fetch_add(1, std::memory_order_relaxed);
    }
    SignalAction action_;
    std::mutex mutex_;
    std::vector<pthread_t> targets_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    static inline std::atomic<long> count_{0};
};
#endif

} // namespace fp
} // namespace sptest

#endif /* SOCKPORT_TESTS_FAULT_PROC_H */
