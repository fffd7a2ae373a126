/*
 * sendfile.c (POSIX) - the file verbs of backend.h for sp_conn_sendfile: a descriptor's
 * file (fstat, a close-on-exec dup), pread, and the OS's sendfile(2), whose signature and
 * partial-send reporting differ (CMake decides which one this system has):
 *
 *   SP_HAVE_SENDFILE_OFFPTR  Linux: ssize_t sendfile(out, in, off_t *off, size_t n); a
 *                            partial send returns its count, EAGAIN means nothing sent,
 *                            0 the end of the file; EINVAL / ENOSYS for a file it cannot
 *                            map (a pipe before Linux 5.12). A socket shut for writing
 *                            raises SIGPIPE (no MSG_NOSIGNAL here): masked around the call.
 *   SP_HAVE_SENDFILE_SBYTES  FreeBSD: int sendfile(fd, s, off, size_t n, hdtr, off_t
 *                            *sbytes, flags); on a full non-blocking socket -1 / EAGAIN
 *                            with *sbytes already sent (sys/kern/kern_sendfile.c:
 *                            vn_sendfile copies sbytes out whatever the error), 0 with
 *                            *sbytes < n at the end of the file; EINVAL for a descriptor
 *                            that is not a vnode (invfo_sendfile).
 *   SP_HAVE_SENDFILE_LENPTR  macOS: int sendfile(fd, s, off, off_t *len, hdtr, flags);
 *                            *len in: the bytes to send, out: the bytes sent, on EAGAIN
 *                            and EINTR too; 0 with a shorter *len at the end of the file;
 *                            ENOTSUP for a file that is not regular (xnu
 *                            bsd/kern/uipc_syscalls.c, sendfile()).
 *
 * None of them: SP_ENOTSUP, and the shared code reads and sends.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(SP_HAVE_SENDFILE_OFFPTR)
#    include <pthread.h>
#    include <signal.h>
#    include <sys/sendfile.h>
#    include <time.h>
#elif defined(SP_HAVE_SENDFILE_SBYTES) || defined(SP_HAVE_SENDFILE_LENPTR)
#    include <sys/socket.h>
#    include <sys/uio.h>
#endif

int sp__file_open(int fd, int dup, sp__file *out, uint64_t *size)
{
    struct stat st;
    int d;
    if (fd < 0 || fstat(fd, &st) != 0)
        return fd < 0 ? SP_EBADF : sp__fail_last();
    *size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : SP__FILE_SIZE_UNKNOWN;
    if (!dup) {
        *out = fd;
        return 0;
    }
    d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0)
        return sp__fail_last();
    *out = d;
    return 0;
}

void sp__file_close(sp__file f)
{
    (void)close((int)f); /* a duplicate: no retry on EINTR (the descriptor is gone) */
}

ptrdiff_t sp__file_pread(sp__file f, void *buf, size_t len, uint64_t off)
{
    ssize_t r;
    if (off != SP__FILE_SEQUENTIAL &&
        (off > (uint64_t)INT64_MAX || (sizeof(off_t) < 8 && off > (uint64_t)LONG_MAX)))
        return SP_EINVAL;
    do
        r = off == SP__FILE_SEQUENTIAL ? read((int)f, buf, len)
                                       : pread((int)f, buf, len, (off_t)off);
    while (r < 0 && errno == EINTR);
    return r < 0 ? sp__fail_last() : (ptrdiff_t)r;
}

#if defined(SP_HAVE_SENDFILE_OFFPTR)

/* Linux's sendfile on a socket shut for writing (the peer reset it) raises SIGPIPE, and
 * it takes no MSG_NOSIGNAL: block it in this thread around the call, and take a SIGPIPE
 * the call raised (not one already pending) before restoring the mask. */
static ptrdiff_t sendfile_nosig(int s, int fd, off_t *o, size_t len)
{
    sigset_t pipe_set, old, pending;
    int was_pending, err;
    ssize_t r;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0)
        return SP_ENOTSUP; /* cannot keep SIGPIPE away: read and send instead */
    was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    do
        r = sendfile(s, fd, o, len);
    while (r < 0 && errno == EINTR);
    err = errno;
    if (r < 0 && err == EPIPE && !was_pending && sigpending(&pending) == 0 &&
        sigismember(&pending, SIGPIPE)) {
        static const struct timespec zero = {0, 0};
        (void)sigtimedwait(&pipe_set, NULL, &zero);
    }
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return r;
}

ptrdiff_t sp__sendfile(sp_socket_t s, sp__file f, uint64_t off, size_t len, int client_ok,
                       int (*wait)(void *arg), void *arg)
{
    off_t o = (off_t)off;
    ptrdiff_t r;
    (void)client_ok;
    (void)wait;
    (void)arg;
    if (off > (uint64_t)INT64_MAX - len || (sizeof(off_t) < 8 && off + len > (uint64_t)LONG_MAX))
        return SP_ENOTSUP;
    if (len > 0x7ffff000u) /* the most one call moves (sendfile(2)) */
        len = 0x7ffff000u;
    r = sendfile_nosig((int)s, (int)f, &o, len);
    if (r >= 0)
        return r;
    if (r == SP_ENOTSUP)
        return r;
    if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
        return SP_ENOTSUP; /* this file (or socket) is not for sendfile: nothing sent */
    return sp__fail_last();
}

#elif defined(SP_HAVE_SENDFILE_SBYTES) || defined(SP_HAVE_SENDFILE_LENPTR)

ptrdiff_t sp__sendfile(sp_socket_t s, sp__file f, uint64_t off, size_t len, int client_ok,
                       int (*wait)(void *arg), void *arg)
{
    off_t sent;
    int r;
    (void)client_ok;
    (void)wait;
    (void)arg;
    if (len == 0)
        return 0; /* a count of 0 means "to the end of the file" to both calls */
    if (off > (uint64_t)INT64_MAX - len)
        return SP_ENOTSUP;
    if (len > (size_t)INT_MAX)
        len = (size_t)INT_MAX;
    for (;;) {
#    if defined(SP_HAVE_SENDFILE_SBYTES)
        sent = 0;
        r = sendfile((int)f, (int)s, (off_t)off, len, NULL, &sent, 0);
#    else
        sent = (off_t)len;
        r = sendfile((int)f, (int)s, (off_t)off, &sent, NULL, 0);
#    endif
        /* a partial send reports its count with EAGAIN / EINTR / EBUSY: it counts */
        if (sent > 0 || r == 0)
            return (ptrdiff_t)sent; /* 0 with r == 0: the file ends at off */
        if (errno != EINTR)
            break;
    }
    if (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP || errno == ENOTSOCK ||
        errno == ENOSYS)
        return SP_ENOTSUP;
    return sp__fail_last(); /* EAGAIN: SP_EAGAIN, nothing sent */
}

#else

ptrdiff_t sp__sendfile(sp_socket_t s, sp__file f, uint64_t off, size_t len, int client_ok,
                       int (*wait)(void *arg), void *arg)
{
    (void)s;
    (void)f;
    (void)off;
    (void)len;
    (void)client_ok;
    (void)wait;
    (void)arg;
    return SP_ENOTSUP; /* no sendfile(2) here */
}

#endif
