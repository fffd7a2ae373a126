/*
 * dial_ns.h - a private world for the dial tests (test_dial.cc): a child process in a
 * network namespace and a mount namespace of its own, where /etc/hosts, /etc/resolv.conf
 * and /etc/nsswitch.conf are files the test wrote, and where ip6tables / iptables rules
 * blackhole ports on the child's own loopback.
 *
 * Why a child: unshare(CLONE_NEWNS) fails once a process has a second thread (the mount
 * namespace goes with the filesystem context that threads share), and the dial tests
 * leave resolver workers behind on purpose. A forked child is single-threaded; it runs
 * the test body, and its GoogleTest failures are printed by the child and counted by its
 * exit status. The child ends with exit() (not _exit) so that LeakSanitizer and valgrind
 * check its heap: a resolution freed late must be freed by then.
 *
 * Linux only: the Windows build runs under Wine, whose sockets and resolver live in the
 * wineserver's process (see wine_has_no_private_namespace).
 */
#ifndef SOCKPORT_TESTS_DIAL_NS_H
#define SOCKPORT_TESTS_DIAL_NS_H

#include "helpers.h"

#include <string>

#ifndef _WIN32
#    include <cerrno>
#    include <dirent.h>
#    include <fcntl.h>
#    include <net/if.h>
#    include <sched.h>
#    include <sys/ioctl.h>
#    include <sys/socket.h>
#    include <sys/stat.h>
#    include <sys/wait.h>
#    include <unistd.h>
#    ifdef __linux__
#        include <sys/mount.h>
#    endif
#endif

namespace dialns
{

/* Why the Windows build cannot run a namespace test here. */
inline const char *wine_has_no_private_namespace()
{
    return "a private /etc/hosts, resolv.conf and firewall need a namespace of the test's "
           "own; under Wine the sockets and getaddrinfo run in wineserver / the host's "
           "resolver, which a Windows program can neither move nor redirect; the native "
           "build runs this test";
}

#ifndef _WIN32

/* What the child's /etc looks like. */
struct Config {
    std::string hosts = "127.0.0.1 localhost\n";
    /* a silent server needs the resolver to ask 127.0.0.1 (and to give up one day) */
    std::string resolv = "nameserver 127.0.0.1\noptions timeout:2 attempts:1\n";
    std::string nsswitch = "hosts: files dns\n";
};

/* Open descriptors and threads of this process: the portable counters of helpers.h. */
inline int open_fds()
{
    return sptest::count_fds();
}

inline int threads()
{
    return sptest::count_threads();
}

#    ifdef __linux__
/* Mount and network namespaces, a private /etc and iptables: Linux only. */
#        define SP_DIAL_NS 1

/* Run a command through sh (in the calling process's namespaces). "" or why it failed. */
inline std::string run(const std::string &cmd)
{
    std::string full = "PATH=/usr/sbin:/sbin:/usr/bin:/bin:$PATH " + cmd + " 2>&1";
    FILE *p = popen(full.c_str(), "r");
    if (p == nullptr)
        return "popen: " + std::string(std::strerror(errno));
    std::string out;
    char buf[256];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        out.append(buf, n);
    int st = pclose(p);
    if (st != 0)
        return "'" + cmd + "' failed (" + std::to_string(st) + "): " + out;
    return "";
}

/* Drop TCP packets to `port` on the loopback: tool is "iptables" or "ip6tables". */
inline std::string blackhole(const char *tool, int port)
{
    return run(std::string(tool) + " -A INPUT -p tcp --dport " + std::to_string(port) + " -j DROP");
}

inline bool write_file(const std::string &path, const std::string &text)
{
    FILE *f = std::fopen(path.c_str(), "w");
    if (f == nullptr)
        return false;
    bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    return std::fclose(f) == 0 && ok;
}

/* In the child: new namespaces, private /etc files, lo up. "" or why not. */
inline std::string enter(const Config &c, const std::string &dir)
{
    if (unshare(CLONE_NEWNS | CLONE_NEWNET) != 0)
        return std::string("unshare(CLONE_NEWNS|CLONE_NEWNET): ") + std::strerror(errno) +
               " (needs root or CAP_SYS_ADMIN)";
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, nullptr) != 0)
        return std::string("mount --make-rprivate /: ") + std::strerror(errno);
    const struct {
        const char *name;
        const std::string *text;
    } files[] = {{"hosts", &c.hosts}, {"resolv.conf", &c.resolv}, {"nsswitch.conf", &c.nsswitch}};
    for (const auto &f : files) {
        std::string src = dir + "/" + f.name, dst = std::string("/etc/") + f.name;
        if (!write_file(src, *f.text))
            return "cannot write " + src;
        struct stat st;
        if (stat(dst.c_str(), &st) != 0 && !write_file(dst, ""))
            return "no " + dst + " to mount over";
        if (mount(src.c_str(), dst.c_str(), "none", MS_BIND, nullptr) != 0)
            return "bind mount " + src + " on " + dst + ": " + std::strerror(errno);
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    std::memset(&ifr, 0, sizeof ifr);
    std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    bool up = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    up = up && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
    if (fd >= 0)
        close(fd);
    if (!up)
        return std::string("lo up: ") + std::strerror(errno);
    std::string err = run("iptables -L INPUT -n");
    if (err.empty())
        err = run("ip6tables -L INPUT -n");
    return err.empty() ? "" : "the firewall does not work here: " + err;
}

/*
 * Run body in a child in its own namespaces (see the top of this file). The test fails
 * when the child fails, and is skipped (saying why) when the namespaces cannot be made.
 */
template <class Body> void in_namespace(const Config &c, Body body)
{
    char tmpl[] = "/tmp/spdial.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << std::strerror(errno);
    const std::string dir = tmpl;
    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    /* Let resolver workers of earlier tests end first: a worker's job copied into the
     * child would have no thread there to free it (a leak of the fork, not of sockport). */
    for (int i = 0; i < 500 && threads() > 1; i++)
        usleep(20000);
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) {
        close(pipefd[0]);
        std::string why = enter(c, dir);
        if (!why.empty()) {
            (void)!write(pipefd[1], why.data(), why.size());
            _exit(77);
        }
        close(pipefd[1]);
        body();
        std::fflush(stdout);
        std::exit(::testing::Test::HasFailure() ? 1 : 0);
    }
    close(pipefd[1]);
    std::string why;
    char buf[512];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof buf)) > 0)
        why.append(buf, (size_t)n);
    close(pipefd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    (void)run("rm -rf " + dir);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
        GTEST_SKIP() << why;
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
        << "the namespace child failed (its output is above): status " << st;
}

#    endif /* __linux__ */
#endif     /* !_WIN32 */

} /* namespace dialns */

#endif /* SOCKPORT_TESTS_DIAL_NS_H */
