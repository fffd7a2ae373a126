/*
 * fault_net.h - network faults for the tests in test_fault_net.cc: a private network
 * namespace per test, and firewall rules (iptables) inside it.
 *
 * A test that needs the firewall calls FAULT_NET_NAMESPACE() first. On Linux it moves the
 * calling thread into a new network namespace with only `lo` (brought up here), so that
 * rules made afterwards can touch nothing but the test's own loopback traffic and vanish
 * with the process (ctest runs every test in a process of its own). Threads and child
 * processes started afterwards by this thread inherit the namespace; make every socket
 * and every rule from this thread or from threads it starts afterwards.
 *
 * The test is skipped, saying why, when no namespace can be made (no CAP_NET_ADMIN and no
 * user namespaces), when iptables is missing or refuses, and off Linux: on Windows, macOS
 * and the BSDs (see firewall_unavailable).
 */
#ifndef SOCKPORT_TESTS_FAULT_NET_H
#define SOCKPORT_TESTS_FAULT_NET_H

#include "helpers.h"

#include <cstdio>
#include <string>
#include <vector>

#ifdef _WIN32
#    ifndef PSAPI_VERSION
#        define PSAPI_VERSION 2 /* GetProcessMemoryInfo is kernel32's K32GetProcessMemoryInfo */
#    endif
#    include <psapi.h>
#elif defined(__linux__)
#    include <cerrno>
#    include <fcntl.h>
#    include <net/if.h>
#    include <sched.h>
#    include <sys/ioctl.h>
#    include <sys/socket.h>
#    include <sys/wait.h>
#    include <unistd.h>
#    define SP_TEST_HAVE_NETNS 1 /* unshare(CLONE_NEWNET) and iptables: Linux only */
#else
#    include <sys/resource.h>
#endif

namespace sptest
{

#ifndef SP_TEST_HAVE_NETNS
/*
 * Why this build cannot make firewall faults.
 *
 * Windows (under Wine): Wine's sockets are made by wineserver (server/sock.c calls
 * socket()), a Unix process that lives in the network namespace of whichever program
 * started it first and is shared by every test using the prefix; a Windows program can
 * neither enter a namespace of its own nor tell which one that is. A rule made from here
 * would land in a namespace the test does not own (perhaps the host's).
 *
 * macOS and the BSDs: network namespaces (unshare(CLONE_NEWNET)) and iptables are Linux's.
 * pf or ipfw rules would apply to the whole host's loopback, not to the test's own: the
 * tests do not touch the host's firewall.
 */
inline const char *firewall_unavailable()
{
#    ifdef _WIN32
    return "firewall faults need a network namespace of the test's own: under Wine the "
           "sockets belong to wineserver (a shared Unix process in someone else's namespace) "
           "and a Windows program cannot make or enter one; the native build runs this test";
#    else
    return "firewall faults need a network namespace of the test's own (Linux's "
           "unshare(CLONE_NEWNET) and iptables); on this system a rule would reach the "
           "host's loopback, so the Linux build runs this test";
#    endif
}
#else

/* Write `text` to a /proc file (uid_map, gid_map, setgroups). */
inline bool write_proc(const char *path, const std::string &text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = write(fd, text.data(), text.size()) == (ssize_t)text.size();
    close(fd);
    return ok;
}

/* Bring `lo` up in the current namespace (what `ip link set lo up` does). */
inline std::string loopback_up()
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return std::string("socket for SIOCSIFFLAGS: ") + std::strerror(errno);
    struct ifreq ifr;
    std::memset(&ifr, 0, sizeof ifr);
    std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    std::string err;
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) {
        err = std::string("SIOCGIFFLAGS lo: ") + std::strerror(errno);
    } else {
        ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
            err = std::string("SIOCSIFFLAGS lo up: ") + std::strerror(errno);
    }
    close(fd);
    return err;
}

/*
 * Move the calling thread into a new network namespace with `lo` up. Returns "" on
 * success, else why not. As root (CAP_SYS_ADMIN): unshare(CLONE_NEWNET). Otherwise a
 * user namespace too, mapping the caller to root inside it (works only while the process
 * has a single thread, as at the start of a test in its own process).
 */
inline std::string enter_private_netns()
{
    if (unshare(CLONE_NEWNET) != 0) {
        const int e1 = errno;
        const uid_t uid = getuid();
        const gid_t gid = getgid();
        if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0)
            return std::string("unshare(CLONE_NEWNET): ") + std::strerror(e1) +
                   "; unshare(CLONE_NEWUSER|CLONE_NEWNET): " + std::strerror(errno);
        if (!write_proc("/proc/self/setgroups", "deny") ||
            !write_proc("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
            !write_proc("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1"))
            return std::string("user namespace: cannot write uid_map/gid_map: ") +
                   std::strerror(errno);
    }
    return loopback_up();
}

/* Where iptables is: PATH often lacks /usr/sbin for a non-root user. "" if nowhere. */
inline std::string iptables_path()
{
    static const char *const dirs[] = {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/",
                                       "/usr/local/sbin/"};
    for (const char *d : dirs) {
        std::string p = std::string(d) + "iptables";
        if (access(p.c_str(), X_OK) == 0)
            return p;
    }
    return "";
}

/*
 * Run "iptables <args>" (from the calling thread, so in its namespace). Returns "" when
 * it exited 0, else what it said and its status.
 */
inline std::string iptables(const std::string &args, std::string *output = nullptr)
{
    const std::string bin = iptables_path();
    if (bin.empty())
        return "iptables not found (install the iptables package)";
    const std::string cmd = bin + " -w " + args + " 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    if (p == nullptr)
        return std::string("popen: ") + std::strerror(errno);
    std::string out;
    char buf[256];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        out.append(buf, n);
    const int st = pclose(p);
    if (output != nullptr)
        *output = out;
    if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return "";
    while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
        out.pop_back();
    return "'iptables " + args + "' failed (status " + std::to_string(st) + "): " + out;
}
#endif

/*
 * Firewall: rules added to the test's namespace (iptables -A), deleted again when
 * destroyed or by remove_all() (the namespace dies with the process anyway).
 */
class Firewall
{
  public:
    Firewall() = default;
    Firewall(const Firewall &) = delete;
    Firewall &operator=(const Firewall &) = delete;
    ~Firewall()
    {
        remove_all();
    }
    /* Append a rule, e.g. "INPUT -p tcp --dport 4000 -j DROP". */
    ::testing::AssertionResult add(const std::string &rule)
    {
#ifndef SP_TEST_HAVE_NETNS
        return ::testing::AssertionFailure() << firewall_unavailable() << ": " << rule;
#else
        std::string err = iptables("-A " + rule);
        if (!err.empty())
            return ::testing::AssertionFailure() << err;
        rules_.push_back(rule);
        return ::testing::AssertionSuccess();
#endif
    }
    /*
     * How many packets the rules added so far matched (iptables -L -v counts them), or -1
     * when they cannot be read. A fault that was never made shows here as 0.
     */
    long long packets()
    {
#ifndef SP_TEST_HAVE_NETNS
        return -1;
#else
        std::string out;
        if (!iptables("-L INPUT -v -n -x", &out).empty())
            return -1;
        /* "    pkts bytes target prot opt in out source destination ...": rule lines
         * start with the packet count; the two header lines do not */
        long long total = 0;
        size_t pos = 0;
        while (pos < out.size()) {
            size_t end = out.find('\n', pos);
            if (end == std::string::npos)
                end = out.size();
            const std::string line = out.substr(pos, end - pos);
            pos = end + 1;
            char *stop = nullptr;
            const long long n = std::strtoll(line.c_str(), &stop, 10);
            if (stop != line.c_str() && stop != nullptr && (*stop == ' ' || *stop == '\t'))
                total += n;
        }
        return total;
#endif
    }
    /* Delete every rule added, newest first. */
    ::testing::AssertionResult remove_all()
    {
        std::string errs;
#ifdef SP_TEST_HAVE_NETNS
        while (!rules_.empty()) {
            std::string err = iptables("-D " + rules_.back());
            if (!err.empty())
                errs += err + "; ";
            rules_.pop_back();
        }
#endif
        if (!errs.empty())
            return ::testing::AssertionFailure() << errs;
        return ::testing::AssertionSuccess();
    }

  private:
    std::vector<std::string> rules_;
};

/*
 * "" when this test can make firewall faults: it is now in a namespace of its own with
 * `lo` up and iptables works there (a harmless rule was listed). Else why not.
 */
inline std::string firewall_ready()
{
#ifndef SP_TEST_HAVE_NETNS
    return firewall_unavailable();
#else
    std::string err = enter_private_netns();
    if (!err.empty())
        return "no private network namespace: " + err;
    err = iptables("-L INPUT -n");
    if (!err.empty())
        return "iptables does not work in the test's namespace: " + err;
    return "";
#endif
}

/*
 * Whether the firewall faults must run: natively as root under scripts/test.sh (which
 * sets SOCKPORT_NETNS=1 in its namespace) nothing excuses skipping them, so a missing
 * iptables fails there instead of passing unseen.
 */
inline bool firewall_required()
{
#ifndef SP_TEST_HAVE_NETNS
    return false;
#else
    return env_is("SOCKPORT_NETNS", "1") && geteuid() == 0;
#endif
}

/* At the start of a test body: enter a private namespace for firewall rules, or skip
 * saying why (visibly: the reason is printed and recorded in the XML report), or fail
 * where they are required. */
#define FAULT_NET_NAMESPACE()                                                                      \
    do {                                                                                           \
        const std::string fault_net_why_ = ::sptest::firewall_ready();                             \
        if (!fault_net_why_.empty()) {                                                             \
            if (::sptest::firewall_required())                                                     \
                FAIL() << fault_net_why_ << " (required: root under scripts/test.sh)";             \
            ::testing::Test::RecordProperty("skipped_because", fault_net_why_);                    \
            GTEST_SKIP() << fault_net_why_;                                                        \
        }                                                                                          \
    } while (0)

/* Resident memory of this process in bytes (0 when unknown). */
inline size_t resident_bytes()
{
#if defined(_WIN32)
    /* PSAPI_VERSION 2: kernel32's K32GetProcessMemoryInfo (Windows 7+), no psapi.lib */
    PROCESS_MEMORY_COUNTERS pmc;
    std::memset(&pmc, 0, sizeof pmc);
    pmc.cb = sizeof pmc;
    return GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc) ? pmc.WorkingSetSize : 0;
#elif defined(__linux__)
    FILE *f = std::fopen("/proc/self/status", "r");
    if (f == nullptr)
        return 0;
    char line[256];
    size_t kib = 0;
    while (std::fgets(line, sizeof line, f) != nullptr)
        if (std::strncmp(line, "VmRSS:", 6) == 0)
            kib = (size_t)std::strtoull(line + 6, nullptr, 10);
    std::fclose(f);
    return kib * 1024;
#else
    /* POSIX has no current resident size: getrusage's ru_maxrss is the peak (bytes on
     * macOS, KiB on the BSDs: getrusage(2) of each), which only grows - a growth bound on
     * it is still a bound on the current size's growth past the old peak */
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
#    ifdef __APPLE__
    return (size_t)ru.ru_maxrss;
#    else
    return (size_t)ru.ru_maxrss * 1024;
#    endif
#endif
}

} // namespace sptest

#endif /* SOCKPORT_TESTS_FAULT_NET_H */
