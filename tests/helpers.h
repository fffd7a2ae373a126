/*
 * helpers.h - what the sockport test suites share: a fixture that starts and stops the
 * socket layer, an owning socket handle, a connected TCP pair over 127.0.0.1, a monotonic
 * clock, Wine detection, byte patterns and readable error-code assertions.
 *
 * Every test talks to loopback only (127.0.0.1 / ::1).
 */
#ifndef SOCKPORT_TESTS_HELPERS_H
#define SOCKPORT_TESTS_HELPERS_H

#include <gtest/gtest.h>

#include "sockport.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#ifdef _WIN32
#    ifndef WIN32_LEAN_AND_MEAN
#        define WIN32_LEAN_AND_MEAN
#    endif
#    ifndef NOMINMAX
#        define NOMINMAX
#    endif
#    include <winsock2.h>
#    include <windows.h>
#    include <tlhelp32.h>
#    include <cstdlib>
#else
#    include <cerrno>
#    include <csignal>
#    include <cstdlib>
#    include <set>
#    include <dirent.h>
#    include <fcntl.h>
#    include <sys/resource.h>
#    include <sys/types.h>
#    include <sys/wait.h>
#    include <unistd.h>
#    if defined(__APPLE__)
#        include <mach/mach.h>
#    elif defined(__FreeBSD__) || defined(__DragonFly__)
#        include <sys/sysctl.h>
#        include <sys/user.h>
#    endif
#    if defined(__has_include)
#        if __has_include(<valgrind/valgrind.h>)
#            include <valgrind/valgrind.h>
#        endif
#    endif
#    include <pthread.h>
#    include <signal.h>
#endif

namespace sptest
{

/* ---- environment (read) ---------------------------------------------------------------- */

/*
 * The value of the environment variable `name` into *value (when not null); false when it
 * is not set. MSVC's UCRT deprecates getenv (warning C4996; the tests build with /W4 /WX):
 * Microsoft's getenv page ("getenv, _wgetenv", learn.microsoft.com) names _dupenv_s as the
 * secure version, which copies the value into a buffer the caller frees. (mingw-w64
 * declares _dupenv_s but the msvcrt.dll it links lacks it: getenv there.)
 */
inline bool env_get(const char *name, std::string *value = nullptr)
{
#ifdef _MSC_VER
    char *buf = nullptr;
    size_t len = 0;
    if (_dupenv_s(&buf, &len, name) != 0 || buf == nullptr)
        return false;
    if (value != nullptr)
        value->assign(buf);
    std::free(buf);
    return true;
#else
    const char *v = std::getenv(name);
    if (v == nullptr)
        return false;
    if (value != nullptr)
        value->assign(v);
    return true;
#endif
}

/* Whether the environment variable `name` is set to exactly `want`. */
inline bool env_is(const char *name, const char *want)
{
    std::string v;
    return env_get(name, &v) && v == want;
}

/* ---- platform ------------------------------------------------------------------------ */

/*
 * True when the Windows build runs under Wine (ntdll exports wine_get_version there and
 * never on Windows). Tests accept a Wine-only behaviour (see shared/wine-notes.md) only
 * when this is true, and name the difference where they do.
 */
inline bool is_wine()
{
#ifdef _WIN32
    static const bool wine =
        GetProcAddress(GetModuleHandleA("ntdll.dll"), "wine_get_version") != nullptr;
    return wine;
#else
    return false;
#endif
}

/*
 * True under valgrind: its client request says so when <valgrind/valgrind.h> was found at
 * build time; otherwise SOCKPORT_TEST_VALGRIND=1 in the environment (which
 * scripts/checks/60-valgrind.sh sets) says so. Heavy tests then do less work, and say so.
 */
inline bool is_valgrind()
{
#ifdef RUNNING_ON_VALGRIND
    if (RUNNING_ON_VALGRIND)
        return true;
#endif
    std::string v;
    return env_get("SOCKPORT_TEST_VALGRIND", &v) && !v.empty() && v[0] == '1';
}

/* Whether this is an ASan or TSan build (gcc's and clang's macros). */
inline bool sanitized_build()
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return true;
#elif defined(__has_feature)
#    if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return true;
#    else
    return false;
#    endif
#else
    return false;
#endif
}

/*
 * How late a bounded call may return: `ms` natively; four times that under a sanitizer,
 * valgrind or Wine, where thread start-up, the resolver and wineserver round trips run
 * several times slower on a loaded 2-core host. Only upper bounds ("returned long after
 * the deadline") use it: lower bounds (a deadline honoured, a head start given) are never
 * relaxed.
 */
inline double late_slack(double ms)
{
    return sanitized_build() || is_valgrind() || is_wine() ? 4 * ms : ms;
}

/*
 * Say, in the test output and in the XML report, that a Wine-only behaviour was accepted.
 * Call it only on a branch taken under Wine.
 */
inline void note_wine(const std::string &difference)
{
    std::printf("[   WINE   ] %s\n", difference.c_str());
    std::fflush(stdout);
    ::testing::Test::RecordProperty("wine_difference", difference);
}

/* ---- time ---------------------------------------------------------------------------- */

/* Monotonic clock in milliseconds (fractional). */
inline double now_ms()
{
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

inline void sleep_ms(int ms)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

/*
 * Watchdog: runs `fire` after ms milliseconds unless destroyed first. A test whose library
 * call might block for ever under a bug (a timeout not honoured) uses it to shut the socket
 * down from another thread, so the call returns and the test fails instead of hanging.
 */
class Watchdog
{
  public:
    Watchdog(int ms, std::function<void()> fire)
        : thread_([this, ms, fire] {
              std::unique_lock<std::mutex> lock(mutex_);
              if (!cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return done_; })) {
                  fired_ = true;
                  fire();
              }
          })
    {
    }
    ~Watchdog()
    {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    Watchdog(const Watchdog &) = delete;
    Watchdog &operator=(const Watchdog &) = delete;
    bool fired() const
    {
        return fired_;
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    std::atomic<bool> fired_{false};
    std::thread thread_; /* last: starts after the members it uses */
};

/* ---- error codes --------------------------------------------------------------------- */

/* "-14 (ETIMEDOUT: timed out)" for a code, "5" for a count. */
inline std::string code_str(long long rc)
{
    std::string s = std::to_string(rc);
    if (rc < 0 && rc >= INT32_MIN) {
        const char *name = sp_err_name((int)rc);
        s += " (";
        s += name ? name : "not an SP_E* code";
        s += ": ";
        s += sp_strerror((int)rc);
        s += ")";
    }
    return s;
}

inline ::testing::AssertionResult sp_code_eq(const char *expected_expr, const char *actual_expr,
                                             long long expected, long long actual)
{
    if (expected == actual)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << actual_expr << " is " << code_str(actual) << ", expected " << expected_expr << " = "
           << code_str(expected);
}

/* EXPECT_SP(SP_ETIMEDOUT, rc): compare sockport codes and print both by name. */
#define EXPECT_SP(expected, actual)                                                                \
    EXPECT_PRED_FORMAT2(::sptest::sp_code_eq, (long long)(expected), (long long)(actual))
#define ASSERT_SP(expected, actual)                                                                \
    ASSERT_PRED_FORMAT2(::sptest::sp_code_eq, (long long)(expected), (long long)(actual))
#define EXPECT_OK(actual) EXPECT_SP(0, actual)
#define ASSERT_OK(actual) ASSERT_SP(0, actual)

/* ---- fixture ------------------------------------------------------------------------- */

/* Every test of the socket layers runs between sp_init() and sp_cleanup(). */
class SpTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        ASSERT_OK(sp_init());
    }
    void TearDown() override
    {
        EXPECT_OK(sp_cleanup());
    }
};

/* ---- owning socket handles and sets -------------------------------------------------- */

class Sock
{
  public:
    Sock() = default;
    explicit Sock(sp_socket_t s) : s_(s) {}
    ~Sock()
    {
        reset();
    }
    Sock(const Sock &) = delete;
    Sock &operator=(const Sock &) = delete;
    Sock(Sock &&o) noexcept : s_(o.release()) {}
    Sock &operator=(Sock &&o) noexcept
    {
        if (this != &o)
            reset(o.release());
        return *this;
    }

    operator sp_socket_t() const
    {
        return s_;
    }
    sp_socket_t get() const
    {
        return s_;
    }
    bool valid() const
    {
        return s_ != SP_INVALID_SOCKET;
    }
    /* Close what is held and give the slot to an sp_* call that fills it. */
    sp_socket_t *out()
    {
        reset();
        return &s_;
    }
    sp_socket_t release()
    {
        sp_socket_t s = s_;
        s_ = SP_INVALID_SOCKET;
        return s;
    }
    void reset(sp_socket_t s = SP_INVALID_SOCKET)
    {
        if (s_ != SP_INVALID_SOCKET)
            sp_close(s_);
        s_ = s;
    }

  private:
    sp_socket_t s_ = SP_INVALID_SOCKET;
};

/* An owning socket set: an sp_sockset freed at the end of the scope; &set is the
 * sp_sockset * the calls take. */
struct SockSet {
    sp_sockset s = SP_SOCKSET_INIT;
    SockSet() = default;
    SockSet(const SockSet &) = delete;
    SockSet &operator=(const SockSet &) = delete;
    ~SockSet()
    {
        sp_sockset_free(&s);
    }
    sp_sockset *operator&()
    {
        return &s;
    }
};

/* ---- addresses ----------------------------------------------------------------------- */

inline std::string addr_str(const sp_addr &a)
{
    char buf[SP_ADDR_STRLEN];
    int n = sp_addr_format(&a, buf, sizeof buf);
    return n < 0 ? "<" + code_str(n) + ">" : std::string(buf, (size_t)n);
}

/* The local port of a bound or connected socket (-1 on failure). */
inline int local_port(sp_socket_t s)
{
    sp_addr a;
    return sp_local_addr(s, &a) == 0 ? sp_addr_port(&a) : -1;
}

/* ---- connections --------------------------------------------------------------------- */

inline ::testing::AssertionResult step_failed(const char *what, long long rc)
{
    return ::testing::AssertionFailure() << what << " failed: " << code_str(rc);
}

/* Set SO_SNDBUF and SO_RCVBUF to `bytes` (nothing when bytes <= 0). */
inline ::testing::AssertionResult set_buffers(sp_socket_t s, int bytes)
{
    int rc;
    if (bytes <= 0)
        return ::testing::AssertionSuccess();
    if ((rc = sp_set_send_buffer(s, bytes)) != 0)
        return step_failed("sp_set_send_buffer", rc);
    if ((rc = sp_set_recv_buffer(s, bytes)) != 0)
        return step_failed("sp_set_recv_buffer", rc);
    return ::testing::AssertionSuccess();
}

/*
 * A listening TCP socket on the loopback address of `family` with an ephemeral port;
 * *addr is the address to connect to. bufsize > 0 sets both buffer sizes before listen
 * (accepted sockets inherit them and the window scale is fixed at the handshake).
 */
inline ::testing::AssertionResult listen_loopback(Sock &listener, sp_addr *addr,
                                                  int family = SP_AF_INET, int backlog = 16,
                                                  unsigned flags = 0, int bufsize = 0)
{
    sp_addr local;
    int rc;
    if ((rc = sp_socket_open(listener.out(), family, SP_SOCK_STREAM)) != 0)
        return step_failed("sp_socket_open", rc);
    auto b = set_buffers(listener, bufsize);
    if (!b)
        return b;
    if ((rc = sp_addr_loopback(&local, family, 0)) != 0)
        return step_failed("sp_addr_loopback", rc);
    if ((rc = sp_listen(listener, &local, backlog, flags)) != 0)
        return step_failed("sp_listen", rc);
    if ((rc = sp_local_addr(listener, addr)) != 0)
        return step_failed("sp_local_addr", rc);
    if (sp_addr_port(addr) == 0)
        return ::testing::AssertionFailure() << "listener has port 0: " << addr_str(*addr);
    return ::testing::AssertionSuccess();
}

/*
 * A connected TCP pair over 127.0.0.1: sp_listen_on("127.0.0.1:0") + sp_local_addr +
 * sp_connect + sp_accept. Both ends are blocking. With bufsize > 0 the send and receive
 * buffers of both ends are set to it before connect / listen.
 */
inline ::testing::AssertionResult tcp_pair(Sock &client, Sock &server, int bufsize = 0)
{
    Sock listener;
    sp_addr addr;
    int rc;
    if (bufsize <= 0) {
        if ((rc = sp_listen_on(listener.out(), "127.0.0.1:0", 4, 0)) != 0)
            return step_failed("sp_listen_on(\"127.0.0.1:0\")", rc);
        if ((rc = sp_local_addr(listener, &addr)) != 0)
            return step_failed("sp_local_addr(listener)", rc);
    } else {
        auto l = listen_loopback(listener, &addr, SP_AF_INET, 4, 0, bufsize);
        if (!l)
            return l;
    }
    if ((rc = sp_socket_open(client.out(), SP_AF_INET, SP_SOCK_STREAM)) != 0)
        return step_failed("sp_socket_open(client)", rc);
    auto b = set_buffers(client, bufsize);
    if (!b)
        return b;
    if ((rc = sp_connect(client, &addr)) != 0)
        return step_failed("sp_connect(127.0.0.1)", rc);
    if ((rc = sp_accept(listener, server.out(), nullptr, 0)) != 0)
        return step_failed("sp_accept", rc);
    b = set_buffers(server, bufsize);
    if (!b)
        return b;
    return ::testing::AssertionSuccess();
}

/* Both ends of sp_socketpair: two connected blocking stream sockets (socket.h). */
inline ::testing::AssertionResult socket_pair(Sock &a, Sock &b)
{
    sp_socket_t pair[2];
    int rc = sp_socketpair(pair);
    if (rc != 0)
        return step_failed("sp_socketpair", rc);
    a.reset(pair[0]);
    b.reset(pair[1]);
    return ::testing::AssertionSuccess();
}

/* A loopback port that was just bound and closed again: nothing listens on it. */
inline int closed_port(int family = SP_AF_INET)
{
    Sock l;
    sp_addr a;
    if (!listen_loopback(l, &a, family))
        return -1;
    return sp_addr_port(&a);
}

/* sp_wait for `events` and say whether one of them is ready (a negative result is not). */
inline bool ready(sp_socket_t s, int events, int timeout_ms)
{
    int r = sp_wait(s, events, timeout_ms);
    return r > 0 && (r & events) != 0;
}

/*
 * Begin a non-blocking connect that is refused: nothing listens on the port (closed_port).
 * *rc is what sp_connect_start said (0 or SP_EINPROGRESS are expected; on Linux a
 * loopback refusal still comes as EINPROGRESS, then the socket turns writable with the
 * error pending).
 */
inline ::testing::AssertionResult start_refused_connect(Sock &s, int *rc_out)
{
    int port = closed_port(), rc;
    sp_addr to;
    if (port <= 0)
        return ::testing::AssertionFailure() << "no closed port: " << port;
    if ((rc = sp_socket_open(s.out(), SP_AF_INET, SP_SOCK_STREAM)) != 0)
        return step_failed("sp_socket_open", rc);
    if ((rc = sp_addr_loopback(&to, SP_AF_INET, port)) != 0)
        return step_failed("sp_addr_loopback", rc);
    *rc_out = sp_connect_start(s, &to);
    return ::testing::AssertionSuccess();
}

/* ---- environment --------------------------------------------------------------------- */

/* Sets (or, with nullptr, removes) an environment variable, restoring it when destroyed. */
class EnvVar
{
  public:
    explicit EnvVar(const char *name) : name_(name)
    {
        had_ = env_get(name, &old_);
    }
    EnvVar(const char *name, const char *value) : EnvVar(name)
    {
        set(value);
    }
    ~EnvVar()
    {
        set(had_ ? old_.c_str() : nullptr);
    }
    EnvVar(const EnvVar &) = delete;
    EnvVar &operator=(const EnvVar &) = delete;
    /* nullptr removes the variable (on Windows "" removes it too: _putenv_s's rule). */
    void set(const char *value)
    {
#ifdef _WIN32
        _putenv_s(name_.c_str(), value ? value : "");
#else
        if (value)
            setenv(name_.c_str(), value, 1);
        else
            unsetenv(name_.c_str());
#endif
    }

  private:
    std::string name_, old_;
    bool had_ = false;
};

/* ---- signals (POSIX) ----------------------------------------------------------------- */

#ifndef _WIN32
/*
 * Installs `handler` for `sig` with sigaction flags `flags` (0: no SA_RESTART, so the
 * blocking call the signal interrupts fails with EINTR) and restores the previous action.
 */
class SignalAction
{
  public:
    SignalAction(int sig, void (*handler)(int), int flags = 0) : sig_(sig)
    {
        struct sigaction sa;
        std::memset(&sa, 0, sizeof sa);
        sa.sa_handler = handler;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = flags;
        ok_ = sigaction(sig, &sa, &old_) == 0;
    }
    ~SignalAction()
    {
        if (ok_)
            sigaction(sig_, &old_, nullptr);
    }
    SignalAction(const SignalAction &) = delete;
    SignalAction &operator=(const SignalAction &) = delete;
    bool ok() const
    {
        return ok_;
    }

  private:
    int sig_;
    bool ok_ = false;
    struct sigaction old_;
};

/* Sends `sig` to the thread that creates it after delay_ms, from a thread of its own;
 * the destructor waits for that thread. */
class DelayedSignal
{
  public:
    DelayedSignal(int sig, int delay_ms)
        : target_(pthread_self()), thread_([this, sig, delay_ms] {
              sleep_ms(delay_ms);
              sent_ = pthread_kill(target_, sig) == 0;
          })
    {
    }
    ~DelayedSignal()
    {
        join();
    }
    DelayedSignal(const DelayedSignal &) = delete;
    DelayedSignal &operator=(const DelayedSignal &) = delete;
    /* Wait for the sending thread; then sent() says whether pthread_kill succeeded. */
    void join()
    {
        if (thread_.joinable())
            thread_.join();
    }
    bool sent()
    {
        join();
        return sent_;
    }

  private:
    pthread_t target_;
    std::atomic<bool> sent_{false};
    std::thread thread_; /* last: starts after the members it uses */
};
#endif

/* ---- what the process holds (leak checks) --------------------------------------------- */

#ifndef _WIN32
/*
 * The descriptors open in this process. Linux: /proc/self/fd (without the one reading it).
 * Elsewhere (macOS, the BSDs: no /proc) POSIX's fcntl(fd, F_GETFD) on every number below
 * the descriptor limit (at most 65,536).
 */
inline std::set<int> open_fds()
{
    std::set<int> out;
#    if defined(__linux__)
    DIR *d = opendir("/proc/self/fd");
    if (d == nullptr)
        return out;
    int self = dirfd(d);
    while (struct dirent *e = readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        int fd = std::atoi(e->d_name);
        if (fd != self)
            out.insert(fd);
    }
    closedir(d);
#    else
    struct rlimit rl;
    int limit = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)limit)
        limit = (int)rl.rlim_cur;
    for (int fd = 0; fd < limit; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            out.insert(fd);
#    endif
    return out;
}
#endif

/* Open descriptors (POSIX) or handles (Windows: GetProcessHandleCount); -1 if unknown. */
inline int count_fds()
{
#ifdef _WIN32
    DWORD n = 0;
    if (!GetProcessHandleCount(GetCurrentProcess(), &n))
        return -1;
    if (n == 0 && is_wine()) {
        /* Wine 8's GetProcessHandleCount reports 0: count the handle values that are open
         * instead (handles are multiples of 4; a socket is a handle there too) */
        DWORD flags;
        for (uintptr_t v = 4; v < ((uintptr_t)1 << 14); v += 4)
            if (GetHandleInformation((HANDLE)v, &flags))
                n++;
    }
    return (int)n;
#else
    auto s = open_fds();
    return s.empty() ? -1 : (int)s.size();
#endif
}

/* What count_fds() counts, for messages: "handles" or "descriptors". */
inline const char *fd_kind()
{
#ifdef _WIN32
    return "handles";
#else
    return "descriptors";
#endif
}

/*
 * This process's threads; -1 if unknown. Windows: a Toolhelp32 snapshot; Linux:
 * /proc/self/task; macOS: task_threads() (Mach); FreeBSD: sysctl kern.proc.pid with
 * KERN_PROC_INC_THREAD (one kinfo_proc per thread).
 */
inline int count_threads()
{
#if defined(_WIN32)
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    if (snap == INVALID_HANDLE_VALUE)
        return -1;
    THREADENTRY32 te;
    te.dwSize = sizeof te;
    int n = 0;
    DWORD me = GetCurrentProcessId();
    for (BOOL ok = Thread32First(snap, &te); ok; ok = Thread32Next(snap, &te))
        if (te.th32OwnerProcessID == me)
            n++;
    CloseHandle(snap);
    return n;
#elif defined(__linux__)
    DIR *d = opendir("/proc/self/task");
    if (d == nullptr)
        return -1;
    int n = 0;
    while (struct dirent *e = readdir(d))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
#elif defined(__APPLE__)
    thread_act_array_t list;
    mach_msg_type_number_t n = 0;
    if (task_threads(mach_task_self(), &list, &n) != KERN_SUCCESS)
        return -1;
    for (mach_msg_type_number_t i = 0; i < n; i++)
        mach_port_deallocate(mach_task_self(), list[i]);
    vm_deallocate(mach_task_self(), (vm_address_t)list, n * sizeof list[0]);
    return (int)n;
#elif defined(__FreeBSD__) || defined(__DragonFly__)
    int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID | KERN_PROC_INC_THREAD, (int)getpid()};
    size_t len = 0;
    if (sysctl(mib, 4, nullptr, &len, nullptr, 0) != 0)
        return -1;
    return (int)(len / sizeof(struct kinfo_proc));
#else
    return -1;
#endif
}

/*
 * The thread count once it is at most `want`, or the last count after `ms`: a joined
 * thread may still be listed for a moment after the join returned (Linux wakes the joiner
 * from the exiting thread's mm_release, before release_task takes it out of
 * /proc/self/task). A thread really left running keeps the count above `want`.
 */
inline int count_threads_at_most(int want, int ms = 2000)
{
    const double end = now_ms() + ms;
    int n = count_threads();
    while (n > want && now_ms() < end) {
        sleep_ms(5);
        n = count_threads();
    }
    return n;
}

/* No child process is left to reap (a zombie): waitpid fails with ECHILD. Windows has no
 * fork model and no children of the tests' own to leave. */
inline ::testing::AssertionResult no_child_left()
{
#ifdef _WIN32
    return ::testing::AssertionSuccess();
#else
    errno = 0;
    const pid_t pid = waitpid(-1, nullptr, WNOHANG);
    const int e = errno;
    if (pid == -1 && e == ECHILD)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "a child is left to reap (zombie): waitpid(-1, WNOHANG) = " << pid << ", errno " << e;
#endif
}

/* ---- the descriptor limit ------------------------------------------------------------ */

/*
 * Raises the soft descriptor limit (RLIMIT_NOFILE) to the hard one for its life; the old
 * one comes back after. allows(n): n descriptors fit under it (always on Windows, which has
 * no per-process socket limit); shortfall(n): why not, for a skip message.
 */
class FdLimit
{
  public:
    FdLimit()
    {
#ifndef _WIN32
        if (getrlimit(RLIMIT_NOFILE, &old_) != 0)
            return;
        soft_ = old_.rlim_cur;
        hard_ = old_.rlim_max;
        struct rlimit raised = old_;
        raised.rlim_cur = old_.rlim_max;
        if (raised.rlim_cur != old_.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0) {
            changed_ = true;
            soft_ = raised.rlim_cur;
        }
#endif
    }
    ~FdLimit()
    {
#ifndef _WIN32
        if (changed_)
            setrlimit(RLIMIT_NOFILE, &old_);
#endif
    }
    FdLimit(const FdLimit &) = delete;
    FdLimit &operator=(const FdLimit &) = delete;

    bool allows(unsigned long long n) const
    {
#ifdef _WIN32
        (void)n;
        return true;
#else
        return soft_ >= (rlim_t)n;
#endif
    }
    std::string shortfall(unsigned long long n) const
    {
#ifdef _WIN32
        (void)n;
        return std::string();
#else
        return "RLIMIT_NOFILE: soft " + std::to_string((unsigned long long)soft_) + ", hard " +
               std::to_string((unsigned long long)hard_) +
               " (after raising the soft one): " + "fewer than the " + std::to_string(n) +
               " descriptors this test needs";
#endif
    }

  private:
#ifndef _WIN32
    struct rlimit old_ = {};
    bool changed_ = false;
    rlim_t soft_ = 0, hard_ = 0; /* 0 when the limit cannot be read: nothing allowed */
#endif
};

/* ---- byte patterns ------------------------------------------------------------------- */

/* A position-dependent pseudo-random pattern: lost, doubled or moved bytes all show. */
inline std::vector<unsigned char> make_pattern(size_t n, uint64_t seed = 1)
{
    std::vector<unsigned char> v(n);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (unsigned char)(x >> 56);
    }
    return v;
}

/* Empty when equal, else where the first difference is. */
inline ::testing::AssertionResult same_bytes(const unsigned char *want, const unsigned char *got,
                                             size_t n)
{
    if (std::memcmp(want, got, n) == 0)
        return ::testing::AssertionSuccess();
    size_t i = 0;
    while (want[i] == got[i])
        i++;
    return ::testing::AssertionFailure()
           << "first differing byte at offset " << i << " of " << n << ": expected " << (int)want[i]
           << ", got " << (int)got[i];
}

/* Read until the peer's orderly close (recv returns 0) or an error; returns that result.
 * A receive timeout of timeout_ms is set first so that a broken peer cannot hang a test. */
inline long long read_to_eof(sp_socket_t s, std::string &out, int timeout_ms = 5000)
{
    char buf[4096];
    sp_set_recv_timeout(s, timeout_ms);
    for (;;) {
        ptrdiff_t r = sp_recv(s, buf, sizeof buf);
        if (r <= 0)
            return r;
        out.append(buf, (size_t)r);
    }
}

/* socket.h sp_recv_all, "done receives the number of bytes stored in buf, whatever is
 * returned" and "SP_EEOF when the peer closed first": `writer` sends `data` and closes;
 * sp_recv_all(reader, want bytes, timeout_ms) with want > data's size is SP_EEOF, done
 * counts data's bytes and buf holds them. Every mismatch is named. */
inline ::testing::AssertionResult recv_all_eof_counts(Sock &writer, Sock &reader,
                                                      const std::string &data, size_t want,
                                                      int timeout_ms)
{
    ptrdiff_t sent = sp_send(writer, data.data(), data.size());
    if (sent != (ptrdiff_t)data.size())
        return ::testing::AssertionFailure() << "send of " << data.size() << ": " << code_str(sent);
    writer.reset();
    std::string buf(want, '\0');
    size_t done = 0;
    int rc = sp_recv_all(reader, &buf[0], want, timeout_ms, &done);
    std::string wrong;
    if (rc != SP_EEOF)
        wrong += "; sp_recv_all returned " + code_str(rc) + ", not SP_EEOF";
    if (done != data.size())
        wrong += "; done " + std::to_string(done) + ", not " + std::to_string(data.size());
    if (buf.compare(0, data.size(), data) != 0)
        wrong += "; buf holds \"" + buf.substr(0, data.size()) + "\"";
    if (!wrong.empty())
        return ::testing::AssertionFailure() << "\"" << data << "\" then the close" << wrong;
    return ::testing::AssertionSuccess();
}

} // namespace sptest

#endif /* SOCKPORT_TESTS_HELPERS_H */
