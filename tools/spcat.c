/*
 * spcat - a portable netcat built on sockport.
 *
 * SYNOPSIS
 *   spcat [options] HOST:PORT        connect over TCP (UDP with -u); also: HOST PORT
 *   spcat [options] unix:/PATH       connect to a Unix-domain stream socket
 *   spcat -l [options] [HOST:]PORT   listen for one connection (PORT 0: any free port)
 *   spcat -l [options] unix:/PATH    listen on a Unix-domain stream socket
 *
 * Addresses use sockport's syntax: 127.0.0.1:80, [::1]:80, host.example:80, *:80,
 * unix:/run/x.sock. In listen mode a bare PORT means *:PORT (IPv4), or [::]:PORT with -6.
 *
 * DESCRIPTION
 *   spcat relays standard input to the socket and the socket to standard output, both
 *   ways at once, byte for byte (binary-safe; on Windows both streams are put in binary
 *   mode). When standard input ends, spcat shuts down its write side (the peer reads
 *   end-of-stream) and goes on printing what the peer sends until the peer closes its
 *   side. A stream session ends when both directions have ended: input at its end and
 *   the write side shut down, and the peer closed. Use -q to end as soon as the peer
 *   closes. A listener accepts one connection and closes the listening socket at once
 *   (further connects are refused). With -k it keeps listening (later connects wait in
 *   its queue) and serves one connection after another; a session that fails or times
 *   out is reported and the next one accepted.
 *
 *   UDP (-u): each datagram sent carries what one read of standard input gave, at most
 *   8192 bytes; each datagram received is written to standard output as it is. A
 *   listener waits for the first datagram and then talks to its sender only. A datagram
 *   session has no end of stream: it ends after -w SECONDS without traffic (exit 0 when
 *   at least one datagram arrived, 3 when none did), or never without -w.
 *
 *   Standard input is read by a second thread that writes it into a socket pair; the main
 *   thread waits with sp_select on that pair and on the network socket. This is the one
 *   code path on every OS: Windows cannot select on standard input, and POSIX runs the
 *   same code that Windows runs, so the tests on Linux exercise it too.
 *
 * OPTIONS
 *   -l            listen instead of connecting
 *   -k            with -l: after a connection ends, accept the next one (until killed)
 *   -u            UDP instead of TCP (not with unix: addresses)
 *   -4, -6        IPv4 only, IPv6 only (for names and for a bare listening PORT)
 *   -w SECONDS    time limit (decimals allowed): for connecting (the whole connect:
 *                 resolution and every address, raced by Happy Eyeballs), for waiting for a
 *                 connection or the first datagram (with -k the wait for a connection has
 *                 no limit), and for silence (no byte moved either way) during the session
 *   -q            end when the peer closes its side, even if standard input has not ended
 *   --keepalive IDLE,INTVL,CNT
 *                 TCP keepalive: first probe after IDLE s of silence, then every INTVL s,
 *                 the connection fails after CNT unanswered probes (0: system default)
 *   --frame       message mode on a stream: every line of standard input (up to LF; the
 *                 LF and a CR just before it are dropped; a last line without LF counts)
 *                 is sent as one message with a 4-byte big-endian length prefix
 *                 (sockport's sp_framer_prefix(4, 0, 1 MiB)); every message received is
 *                 written as its bytes followed by LF. Messages are at most 1 MiB.
 *   -v            verbose: say what happens on standard error (the listening address,
 *                 with the real port when PORT was 0; the peer; ends of stream)
 *   -h, --help    this help;  --version  the version of spcat and of sockport
 *
 * EXIT STATUS
 *   0  the session ended normally
 *   1  usage: a bad option, argument or address
 *   2  setup failed: resolve, socket, connect, bind, listen, accept (also a refused
 *      connection), or the socket layer
 *   3  timed out (-w): connecting, waiting for a peer, or silence during the session
 *   4  the transfer failed: a send or receive error (a reset), standard output failed,
 *      a --frame message too long or cut by the end of the stream
 *
 *   Errors are one line on standard error, with sockport's message and code name:
 *     spcat: connect 127.0.0.1:9: connection refused (SP_ECONNREFUSED)
 */
#include <sockport.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The only platform code of the tool: binary standard streams and the stdin thread. */
#ifdef _WIN32
#    include <fcntl.h>
#    include <io.h>
#    include <process.h>
#else
#    include <pthread.h>
#    include <unistd.h>
#endif

/* The C library's message for errno `err`. MSVC deprecates strerror (C4996) and names
 * strerror_s as its replacement, which also keeps the text in the caller's buffer. */
static const char *errno_text(int err, char *buf, size_t size)
{
#ifdef _MSC_VER
    if (strerror_s(buf, size, err) != 0)
        (void)snprintf(buf, size, "error %d", err);
    return buf;
#else
    (void)buf;
    (void)size;
    return strerror(err);
#endif
}

enum { EXIT_USAGE = 1, EXIT_SETUP = 2, EXIT_TIMEOUT = 3, EXIT_TRANSFER = 4 };

#define IO_CHUNK  65536
#define UDP_CHUNK 8192
#define FRAME_MAX ((size_t)1 << 20)
#define MAX_ADDRS 16
#define ADDR_TEXT (SP_ADDR_STRLEN + 16)

typedef struct options {
    int listen, keep, udp, family, quit, frame, verbose;
    int timeout_ms; /* -1: none */
    int ka, ka_idle, ka_intvl, ka_cnt;
    char address[512];
} options;

static options opt;

/* ---- messages ------------------------------------------------------------------------ */

static void say(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    if (!opt.verbose)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "spcat: %s\n", line); /* one write: lines of two programs do not mix */
    fflush(stderr);
}

/* One line: "spcat: WHAT[ WHERE]: message (SP_NAME)". */
static void sp_fail(const char *what, const char *where, int rc)
{
    const char *name = sp_err_name(rc);
    fprintf(stderr, "spcat: %s%s%s: %s (SP_%s)\n", what, where ? " " : "", where ? where : "",
            sp_strerror(rc), name ? name : "EUNKNOWN");
    fflush(stderr);
}

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("spcat: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nusage: spcat [-lkuq46v] [-w SECONDS] [--keepalive I,N,C] [--frame] ADDRESS"
          " (spcat -h for help)\n",
          stderr);
    return EXIT_USAGE;
}

static void help(void)
{
    fputs("usage: spcat [options] HOST:PORT | HOST PORT | unix:/PATH\n"
          "       spcat -l [options] [HOST:]PORT | unix:/PATH\n"
          "Relay standard input to a socket and the socket to standard output.\n"
          "Addresses: 127.0.0.1:80  [::1]:80  name:80  *:80  unix:/path  (listen: PORT = *:PORT)\n"
          "  -l          listen for one connection (PORT 0: any free port; -v prints it)\n"
          "  -k          with -l: accept the next connection after one ends\n"
          "  -u          UDP (a datagram per read of standard input, at most 8192 bytes)\n"
          "  -4, -6      IPv4 only, IPv6 only\n"
          "  -w SECONDS  limit for connecting, for waiting for a peer, and for silence\n"
          "  -q          end when the peer closes, without waiting for the end of input\n"
          "  --keepalive IDLE,INTVL,CNT   TCP keepalive timing (seconds, seconds, probes)\n"
          "  --frame     each input line goes as one message with a 4-byte big-endian\n"
          "              length prefix; each message received is printed as a line\n"
          "  -v          verbose, on standard error\n"
          "  -h, --help  this help; --version: versions\n"
          "At the end of standard input the write side is shut down and spcat keeps\n"
          "printing until the peer closes its side.\n"
          "Exit status: 0 ok, 1 usage, 2 resolve/connect/bind/listen failure, 3 timeout,\n"
          "4 transfer error.\n",
          stdout);
}

/* ---- options ------------------------------------------------------------------------- */

static int parse_seconds(const char *text, int *ms)
{
    char *end;
    double s;
    errno = 0;
    s = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !(s > 0.0) || s > 2000000.0)
        return -1;
    *ms = (int)(s * 1000.0 + 0.5);
    if (*ms < 1)
        *ms = 1;
    return 0;
}

static int parse_count(const char **p, int *out)
{
    char *end;
    long v;
    if (**p < '0' || **p > '9')
        return -1;
    errno = 0;
    v = strtol(*p, &end, 10);
    if (errno != 0 || v < 0 || v > 1000000)
        return -1;
    *out = (int)v;
    *p = end;
    return 0;
}

static int parse_keepalive(const char *text)
{
    const char *p = text;
    if (parse_count(&p, &opt.ka_idle) < 0 || *p++ != ',' || parse_count(&p, &opt.ka_intvl) < 0 ||
        *p++ != ',' || parse_count(&p, &opt.ka_cnt) < 0 || *p != '\0')
        return -1;
    opt.ka = 1;
    return 0;
}

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static int set_address(const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(opt.address, sizeof opt.address, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= sizeof opt.address ? -1 : 0;
}

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv)
{
    const char *pos[2];
    int npos = 0, i, rc;
    opt.timeout_ms = -1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                if (npos == 2)
                    return usage_error("too many arguments");
                pos[npos++] = argv[i];
            }
            break;
        }
        if (strncmp(a, "--", 2) == 0) {
            const char *val = strchr(a, '=');
            size_t nlen = val ? (size_t)(val - a) : strlen(a);
            if (nlen == 6 && strncmp(a, "--help", nlen) == 0 && !val) {
                help();
                return 0;
            } else if (nlen == 9 && strncmp(a, "--version", nlen) == 0 && !val) {
                printf("spcat %s (sockport %s, %s)\n", SP_VERSION_STRING, sp_version(),
                       sp_platform());
                return 0;
            } else if (nlen == 7 && strncmp(a, "--frame", nlen) == 0 && !val) {
                opt.frame = 1;
            } else if (nlen == 11 && strncmp(a, "--keepalive", nlen) == 0) {
                if (!val && i + 1 >= argc)
                    return usage_error("--keepalive needs IDLE,INTVL,CNT");
                val = val ? val + 1 : argv[++i];
                if (parse_keepalive(val) < 0)
                    return usage_error("--keepalive %s: want three counts: IDLE,INTVL,CNT", val);
            } else {
                return usage_error("unknown option %s", a);
            }
            continue;
        }
        if (a[0] == '-' && a[1] != '\0') {
            const char *c;
            for (c = a + 1; *c; c++) {
                switch (*c) {
                case 'l':
                    opt.listen = 1;
                    break;
                case 'k':
                    opt.keep = 1;
                    break;
                case 'u':
                    opt.udp = 1;
                    break;
                case 'q':
                    opt.quit = 1;
                    break;
                case 'v':
                    opt.verbose = 1;
                    break;
                case '4':
                    opt.family = SP_AF_INET;
                    break;
                case '6':
                    opt.family = SP_AF_INET6;
                    break;
                case 'h':
                    help();
                    return 0;
                case 'w': {
                    const char *val = c[1] ? c + 1 : (i + 1 < argc ? argv[++i] : NULL);
                    if (!val)
                        return usage_error("-w needs SECONDS");
                    if (parse_seconds(val, &opt.timeout_ms) < 0)
                        return usage_error("-w %s: want a number of seconds above 0", val);
                    c = val + strlen(val) - 1;
                    break;
                }
                default:
                    return usage_error("unknown option -%c", *c);
                }
            }
            continue;
        }
        if (npos == 2)
            return usage_error("too many arguments");
        pos[npos++] = a;
    }

    if (npos == 0)
        return usage_error("no address");
    if (npos == 1) {
        if (opt.listen && all_digits(pos[0]))
            rc = set_address("%s:%s", opt.family == SP_AF_INET6 ? "[::]" : "*", pos[0]);
        else
            rc = set_address("%s", pos[0]);
    } else {
        /* HOST PORT: an IPv6 literal gets its brackets */
        int v6 = strchr(pos[0], ':') != NULL && pos[0][0] != '[';
        if (!all_digits(pos[1]))
            return usage_error("port %s: want a number", pos[1]);
        rc = set_address("%s%s%s:%s", v6 ? "[" : "", pos[0], v6 ? "]" : "", pos[1]);
    }
    if (rc < 0)
        return usage_error("address too long");
    if (opt.keep && !opt.listen)
        return usage_error("-k needs -l");
    if (opt.keep && opt.udp)
        return usage_error("-k is for stream sockets, not -u");
    if (strncmp(opt.address, "unix:", 5) == 0) {
        if (opt.udp)
            return usage_error("-u: spcat speaks only stream sockets over unix: addresses");
        if (opt.ka)
            return usage_error("--keepalive is for TCP, not unix: addresses");
    }
    if (opt.frame && opt.udp)
        return usage_error("--frame is for stream sockets (a datagram is already a message)");
    if (opt.ka && opt.udp)
        return usage_error("--keepalive is for TCP, not -u");
    return -1;
}

/* ---- standard input: a thread that copies it into a socket pair ---------------------- */

static sp_socket_t pump_in = SP_INVALID_SOCKET;  /* the main loop reads this end */
static sp_socket_t pump_out = SP_INVALID_SOCKET; /* the thread writes this end */

static void pump_run(void)
{
    static char buf[IO_CHUNK]; /* used by this thread only */
    for (;;) {
#ifdef _WIN32
        int n = _read(0, buf, (unsigned)sizeof buf);
#else
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
#endif
        if (n < 0) {
            /* e.g. standard input closed: treat it as empty, and say so */
            char why[128];
            fprintf(stderr, "spcat: read standard input: %s (taken as its end)\n",
                    errno_text(errno, why, sizeof why));
            break;
        }
        if (n == 0)
            break;
        if (sp_send_all(pump_out, buf, (size_t)n, -1, NULL) != 0)
            return; /* the main loop is gone */
    }
    sp_shutdown(pump_out, SP_SHUT_WR);
}

#ifdef _WIN32
static void pump_thread(void *arg)
{
    (void)arg;
    pump_run();
}

static int pump_start(void)
{
    return _beginthread(pump_thread, 0, NULL) == (uintptr_t)-1L ? -1 : 0;
}
#else
static void *pump_thread(void *arg)
{
    (void)arg;
    pump_run();
    return NULL;
}

static int pump_start(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, pump_thread, NULL) != 0)
        return -1;
    pthread_detach(t);
    return 0;
}
#endif

/* ---- the session --------------------------------------------------------------------- */

typedef struct outbuf {
    char *p;
    size_t off, len, cap;
} outbuf;

static int out_append(outbuf *b, const void *data, size_t n)
{
    if (b->off == b->len)
        b->off = b->len = 0;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : IO_CHUNK;
        char *p;
        while (cap < b->len + n)
            cap *= 2;
        if (!(p = (char *)realloc(b->p, cap)))
            return SP_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static sp_framer line_framer, msg_framer;
static sp_frame_decoder line_dec, msg_dec; /* input lines; received messages */
static int input_ended;                    /* standard input reached its end (kept across -k) */
static unsigned long long total_in;        /* bytes of standard input taken */

static int write_stdout(const void *p, size_t n)
{
    if (n > 0 && fwrite(p, 1, n, stdout) != n) {
        char why[128];
        fprintf(stderr, "spcat: write standard output: %s\n", errno_text(errno, why, sizeof why));
        return EXIT_TRANSFER;
    }
    return 0;
}

static int flush_stdout(void)
{
    if (fflush(stdout) != 0) {
        char why[128];
        fprintf(stderr, "spcat: write standard output: %s\n", errno_text(errno, why, sizeof why));
        return EXIT_TRANSFER;
    }
    return 0;
}

/* --frame: the lines of `n` input bytes become length-prefixed messages in `out`. */
static int frame_lines(outbuf *out, const char *p, size_t n)
{
    sp_frame_msg m;
    int rc;
    while (n > 0) {
        size_t used;
        if ((rc = sp_frame_decoder_feed(&line_dec, p, n, &used)) < 0)
            goto fail;
        while ((rc = sp_frame_decoder_next(&line_dec, &m)) > 0) {
            unsigned char hdr[SP_FRAME_HEADER_MAX];
            size_t len = m.len;
            int h;
            if (len > 0 && ((const char *)m.data)[len - 1] == '\r')
                len--;
            if ((h = sp_frame_header(&msg_framer, len, hdr, sizeof hdr)) < 0 ||
                (rc = out_append(out, hdr, (size_t)h)) < 0 ||
                (rc = out_append(out, m.data, len)) < 0) {
                rc = h < 0 ? h : rc;
                goto fail;
            }
        }
        if (rc < 0)
            goto fail;
        p += used;
        n -= used;
    }
    return 0;
fail:
    if (rc == SP_EMSGSIZE)
        fprintf(stderr,
                "spcat: --frame: a line of standard input is longer than %lu bytes: %s"
                " (SP_EMSGSIZE)\n",
                (unsigned long)FRAME_MAX, sp_strerror(rc));
    else
        sp_fail("--frame: input", NULL, rc);
    return EXIT_TRANSFER;
}

/* Take what the stdin thread has passed on. Returns 0 or an exit status. */
static int take_input(outbuf *out, int dgram)
{
    static char buf[IO_CHUNK];
    ptrdiff_t n = sp_recv(pump_in, buf, dgram ? UDP_CHUNK : sizeof buf);
    if (n == SP_EAGAIN)
        return 0;
    if (n < 0) {
        sp_fail("read standard input (from its thread)", NULL, (int)n);
        return EXIT_TRANSFER;
    }
    if (n == 0) {
        input_ended = 1;
        /* a last line without LF is a message too */
        if (opt.frame && sp_frame_decoder_pending(&line_dec) > 0)
            return frame_lines(out, "\n", 1);
        return 0;
    }
    total_in += (unsigned long long)n;
    if (opt.frame)
        return frame_lines(out, buf, (size_t)n);
    if (out_append(out, buf, (size_t)n) < 0) {
        sp_fail("read standard input", NULL, SP_ENOMEM);
        return EXIT_TRANSFER;
    }
    return 0;
}

/* Receive from the network and print. *eof is set at the end of the peer's stream, *got
 * when bytes (or a datagram, even an empty one) arrived. */
static int take_network(sp_socket_t s, int dgram, int *eof, unsigned long long *total, int *got)
{
    static char buf[IO_CHUNK];
    sp_frame_msg m;
    ptrdiff_t n;
    int rc;
    if (!opt.frame) {
        n = sp_recv(s, buf, sizeof buf);
        if (n == SP_EAGAIN)
            return 0;
        if (n < 0) {
            sp_fail("recv", NULL, (int)n);
            return EXIT_TRANSFER;
        }
        if (n == 0 && !dgram) {
            *eof = 1;
            return 0;
        }
        *got = 1;
        *total += (unsigned long long)n;
        if ((rc = write_stdout(buf, (size_t)n)) != 0)
            return rc;
        return flush_stdout();
    }

    {
        void *room;
        ptrdiff_t cap = sp_frame_decoder_space(&msg_dec, &room);
        if (cap < 0) {
            sp_fail("--frame: receive", NULL, (int)cap);
            return EXIT_TRANSFER;
        }
        n = sp_recv(s, room, (size_t)cap);
    }
    if (n == SP_EAGAIN)
        return 0;
    if (n < 0) {
        sp_fail("recv", NULL, (int)n);
        return EXIT_TRANSFER;
    }
    if (n == 0) {
        *eof = 1;
        if (sp_frame_decoder_pending(&msg_dec) > 0) {
            fprintf(stderr,
                    "spcat: --frame: the peer closed in the middle of a message"
                    " (%lu bytes of it arrived)\n",
                    (unsigned long)sp_frame_decoder_pending(&msg_dec));
            return EXIT_TRANSFER;
        }
        return 0;
    }
    *got = 1;
    *total += (unsigned long long)n;
    sp_frame_decoder_commit(&msg_dec, (size_t)n);
    while ((rc = sp_frame_decoder_next(&msg_dec, &m)) > 0) {
        if ((rc = write_stdout(m.data, m.len)) != 0 || (rc = write_stdout("\n", 1)) != 0)
            return rc;
    }
    if (rc < 0) {
        if (rc == SP_EMSGSIZE)
            fprintf(stderr,
                    "spcat: --frame: received a message longer than %lu bytes: %s"
                    " (SP_EMSGSIZE)\n",
                    (unsigned long)FRAME_MAX, sp_strerror(rc));
        else
            sp_fail("--frame: receive", NULL, rc);
        return EXIT_TRANSFER;
    }
    return flush_stdout();
}

static void format_addr(const sp_addr *a, char *buf, size_t size)
{
    if (sp_addr_format(a, buf, size) < 0)
        snprintf(buf, size, "?");
}

/*
 * Relay between standard input/output and s until the session ends. peer_known is 0 for
 * a UDP listener that has not heard from anyone yet. Returns an exit status.
 */
static int relay(sp_socket_t s, int dgram, int peer_known)
{
    outbuf out = {NULL, 0, 0, 0};
    sp_sockset rd = SP_SOCKSET_INIT, wr = SP_SOCKSET_INIT;
    int net_eof = 0, shut = 0, got = 0, status = 0, rc;
    unsigned long long total_net = 0, in_at_start = total_in;

    if ((rc = sp_set_nonblocking(s, 1)) < 0) {
        sp_fail("set non-blocking", NULL, rc);
        return EXIT_SETUP;
    }
    sp_frame_decoder_reset(&msg_dec);
    for (;;) {
        int pending = out.off < out.len, n;
        /* the end of input, once sent, shuts the write side down */
        if (!dgram && input_ended && !pending && !shut) {
            shut = 1;
            rc = sp_shutdown(s, SP_SHUT_WR);
            say("end of standard input after %llu bytes; write side shut down%s%s",
                total_in - in_at_start, rc < 0 ? ": " : "", rc < 0 ? sp_strerror(rc) : "");
        }
        if (!dgram && net_eof && (shut || opt.quit))
            break;

        sp_sockset_clear(&rd);
        sp_sockset_clear(&wr);
        if (peer_known && !input_ended && !pending)
            sp_sockset_add(&rd, pump_in);
        if (!net_eof)
            sp_sockset_add(&rd, s);
        if (pending)
            sp_sockset_add(&wr, s);
        n = sp_select(&rd, &wr, NULL, opt.timeout_ms);
        if (n < 0) {
            sp_fail("select", NULL, n);
            status = EXIT_TRANSFER;
            break;
        }
        if (n == 0) {
            if (dgram && got) {
                say("no datagram for %.3g s: done", opt.timeout_ms / 1000.0);
                break;
            }
            fprintf(stderr, "spcat: %s for %.3g s: %s (SP_ETIMEDOUT)\n",
                    dgram ? "no datagram" : "idle", opt.timeout_ms / 1000.0,
                    sp_strerror(SP_ETIMEDOUT));
            status = EXIT_TIMEOUT;
            break;
        }

        if (!net_eof && sp_sockset_ready(&rd, s)) {
            if (dgram && !peer_known) {
                /* a UDP listener: the first datagram names the peer */
                static char buf[IO_CHUNK];
                sp_addr from;
                char text[ADDR_TEXT];
                ptrdiff_t r = sp_recvfrom(s, buf, sizeof buf, &from);
                if (r == SP_EAGAIN)
                    continue;
                if (r < 0) {
                    sp_fail("recvfrom", NULL, (int)r);
                    status = EXIT_TRANSFER;
                    break;
                }
                format_addr(&from, text, sizeof text);
                if ((rc = sp_connect(s, &from)) < 0) {
                    sp_fail("connect (UDP) to", text, rc);
                    status = EXIT_TRANSFER;
                    break;
                }
                say("datagram from %s", text);
                peer_known = got = 1;
                total_net += (unsigned long long)r;
                if ((status = write_stdout(buf, (size_t)r)) != 0 || (status = flush_stdout()) != 0)
                    break;
            } else {
                if ((status = take_network(s, dgram, &net_eof, &total_net, &got)) != 0)
                    break;
                if (net_eof)
                    say("the peer closed its side after %llu bytes", total_net);
            }
        }
        if (peer_known && !input_ended && !pending && sp_sockset_ready(&rd, pump_in)) {
            if ((status = take_input(&out, dgram)) != 0)
                break;
        }
        if (out.off < out.len) {
            /* try at once: the socket is non-blocking */
            ptrdiff_t r = sp_send(s, out.p + out.off, out.len - out.off);
            if (r == SP_EAGAIN)
                continue;
            if (r < 0) {
                sp_fail("send", NULL, (int)r);
                status = EXIT_TRANSFER;
                break;
            }
            /* a datagram goes whole or not at all */
            out.off = dgram ? out.len : out.off + (size_t)r;
        }
    }
    free(out.p);
    sp_sockset_free(&rd);
    sp_sockset_free(&wr);
    return status;
}

static void set_keepalive(sp_socket_t s)
{
    int rc, on = 0, idle = -1, intvl = -1, cnt = -1;
    if (!opt.ka)
        return;
    rc = sp_set_keepalive(s, 1, opt.ka_idle, opt.ka_intvl, opt.ka_cnt);
    if (rc == SP_KEEPALIVE_PARTIAL)
        say("warning: keepalive on, timing %d,%d,%d partly applied (SP_KEEPALIVE_PARTIAL)",
            opt.ka_idle, opt.ka_intvl, opt.ka_cnt);
    if (rc < 0) {
        char what[96];
        snprintf(what, sizeof what, "warning: keepalive %d,%d,%d not fully applied", opt.ka_idle,
                 opt.ka_intvl, opt.ka_cnt);
        sp_fail(what, NULL, rc);
    }
    rc = sp_get_keepalive(s, &on, &idle, &intvl, &cnt);
    if (rc == 0)
        say("keepalive %s: idle %d s, interval %d s, count %d", on ? "on" : "off", idle, intvl,
            cnt);
    else
        say("keepalive %s (this system does not report its timing: %s, %s)", on ? "on" : "off",
            sp_strerror(rc), sp_err_name(rc));
}

static int resolve(int type, sp_addr *addrs)
{
    int n = sp_addr_resolve(opt.address, opt.family, type, addrs, MAX_ADDRS);
    if (n == SP_EINVAL) {
        sp_fail("bad address", opt.address, n);
        return -EXIT_USAGE;
    }
    if (n < 0) {
        sp_fail("resolve", opt.address, n);
        return -EXIT_SETUP;
    }
    if (n == 0) {
        sp_fail("resolve", opt.address, SP_EAI_NODATA);
        return -EXIT_SETUP;
    }
    return n > MAX_ADDRS ? MAX_ADDRS : n;
}

/* TCP and Unix: sp_dial_ex, so -w bounds the whole connect (resolution and every address,
 * raced by Happy Eyeballs). */
static sp_socket_t dial_stream(char *text, size_t size, int *status)
{
    sp_dial_options o;
    sp_addr peer;
    sp_socket_t s;
    int rc;
    sp_dial_options_init(&o);
    o.family = opt.family;
    rc = sp_dial_ex(&s, opt.address, opt.timeout_ms, &o);
    if (rc != 0) {
        int resolving = rc <= SP_EAI_NONAME && rc >= SP_EAI_NODATA;
        sp_fail(rc == SP_EINVAL ? "bad address"
                : resolving     ? "resolve"
                                : "connect",
                opt.address, rc);
        *status = rc == SP_EINVAL ? EXIT_USAGE : rc == SP_ETIMEDOUT ? EXIT_TIMEOUT : EXIT_SETUP;
        return SP_INVALID_SOCKET;
    }
    if (sp_peer_addr(s, &peer) == 0)
        format_addr(&peer, text, size);
    else
        snprintf(text, size, "%.*s", (int)(size - 1), opt.address); /* may cut it: a label */
    return s;
}

static int run_connect(void)
{
    sp_addr addrs[MAX_ADDRS], local;
    char text[ADDR_TEXT], ltext[ADDR_TEXT];
    sp_socket_t s = SP_INVALID_SOCKET;
    int type = opt.udp ? SP_SOCK_DGRAM : SP_SOCK_STREAM;
    int n, i, rc = SP_EUNKNOWN, status = EXIT_SETUP;
    const char *step = "connect";
    if (!opt.udp) {
        s = dial_stream(text, sizeof text, &status);
        if (s == SP_INVALID_SOCKET)
            return status;
        n = 0;
    } else {
        n = resolve(type, addrs);
        if (n < 0)
            return -n;
    }
    for (i = 0; i < n; i++) {
        format_addr(&addrs[i], text, sizeof text);
        if ((rc = sp_socket_open(&s, sp_addr_family(&addrs[i]), type)) < 0) {
            step = "socket";
            say("socket for %s: %s", text, sp_strerror(rc));
            continue;
        }
        step = "connect";
        rc = sp_connect(s, &addrs[i]);
        if (rc == 0)
            break;
        say("connect %s: %s", text, sp_strerror(rc));
        sp_close(s);
        s = SP_INVALID_SOCKET;
    }
    if (s == SP_INVALID_SOCKET) {
        sp_fail(step, text, rc);
        return rc == SP_ETIMEDOUT ? EXIT_TIMEOUT : EXIT_SETUP;
    }
    if (sp_local_addr(s, &local) == 0)
        format_addr(&local, ltext, sizeof ltext);
    else
        snprintf(ltext, sizeof ltext, "?");
    say("%s %s from %s", opt.udp ? "sending to" : "connected to", text, ltext);
    set_keepalive(s);
    status = relay(s, opt.udp, 1);
    sp_close(s);
    return status;
}

static int run_listen(void)
{
    sp_addr addrs[MAX_ADDRS], local;
    char text[ADDR_TEXT];
    sp_socket_t l = SP_INVALID_SOCKET, c;
    int type = opt.udp ? SP_SOCK_DGRAM : SP_SOCK_STREAM;
    int n = resolve(type, addrs), i, rc = SP_EUNKNOWN, status = 0;
    const char *step = "listen";
    int is_unix = strncmp(opt.address, "unix:", 5) == 0;
    if (n < 0)
        return -n;
    for (i = 0; i < n; i++) {
        format_addr(&addrs[i], text, sizeof text);
        if ((rc = sp_socket_open(&l, sp_addr_family(&addrs[i]), type)) < 0) {
            step = "socket";
            continue;
        }
        step = opt.udp ? "bind" : "listen";
        rc = opt.udp ? sp_bind(l, &addrs[i], 0) : sp_listen(l, &addrs[i], opt.keep ? 16 : 1, 0);
        if (rc == 0)
            break;
        sp_close(l);
        l = SP_INVALID_SOCKET;
    }
    if (l == SP_INVALID_SOCKET) {
        sp_fail(step, text, rc);
        return EXIT_SETUP;
    }
    if (sp_local_addr(l, &local) == 0 && !is_unix)
        format_addr(&local, text, sizeof text);
    say("listening on %s%s", text, opt.udp ? " (UDP)" : "");

    if (opt.udp) {
        status = relay(l, 1, 0);
        sp_close(l);
        return status;
    }
    do {
        sp_addr peer;
        char ptext[ADDR_TEXT];
        if (!opt.keep && opt.timeout_ms >= 0) {
            rc = sp_wait(l, SP_EV_READ, opt.timeout_ms);
            if (rc == 0) {
                fprintf(stderr, "spcat: no connection within %.3g s: %s (SP_ETIMEDOUT)\n",
                        opt.timeout_ms / 1000.0, sp_strerror(SP_ETIMEDOUT));
                status = EXIT_TIMEOUT;
                break;
            }
        }
        rc = sp_accept(l, &c, &peer, 0);
        if (rc == SP_ECONNABORTED || rc == SP_EINTR)
            continue;
        if (rc < 0) {
            sp_fail("accept", NULL, rc);
            status = EXIT_SETUP;
            break;
        }
        if (!opt.keep) {
            sp_close(l);
            l = SP_INVALID_SOCKET;
        }
        if (is_unix)
            snprintf(ptext, sizeof ptext, "a unix socket");
        else
            format_addr(&peer, ptext, sizeof ptext);
        say("connection from %s", ptext);
        set_keepalive(c);
        status = relay(c, 0, 1);
        sp_close(c);
    } while (opt.keep);
    if (l != SP_INVALID_SOCKET)
        sp_close(l);
    if (is_unix)
        remove(opt.address + 5);
    return status;
}

int main(int argc, char **argv)
{
    sp_socket_t pair[2];
    int rc;

    if ((rc = parse_args(argc, argv)) >= 0)
        return rc;
#ifdef _WIN32
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
#endif
#ifdef SIGPIPE
    /* a closed standard output is a write error (exit 4), not a silent death */
    signal(SIGPIPE, SIG_IGN);
#endif
    if ((rc = sp_init()) < 0) {
        sp_fail("init", NULL, rc);
        return EXIT_SETUP;
    }
    sp_framer_delim(&line_framer, "\n", 1, FRAME_MAX);
    sp_framer_prefix(&msg_framer, 4, 0, FRAME_MAX);
    sp_frame_decoder_init(&line_dec, &line_framer);
    sp_frame_decoder_init(&msg_dec, &msg_framer);

    if ((rc = sp_socketpair(pair)) < 0) {
        sp_fail("socketpair (for standard input)", NULL, rc);
        return EXIT_SETUP;
    }
    pump_in = pair[0];
    pump_out = pair[1];
    if ((rc = sp_set_nonblocking(pump_in, 1)) < 0 || pump_start() < 0) {
        sp_fail("start the standard input thread", NULL, rc < 0 ? rc : SP_ENOMEM);
        return EXIT_SETUP;
    }

    rc = opt.listen ? run_listen() : run_connect();
    fflush(stdout);
    sp_frame_decoder_free(&line_dec);
    sp_frame_decoder_free(&msg_dec);
    /* The stdin thread may still be blocked reading standard input: it ends with the
     * process (the socket pair and the socket layer go with it). */
    exit(rc);
}
