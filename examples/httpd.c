/*
 * httpd.c - a small static-file HTTP/1.1 server on sockport's server API, the same source
 * on every OS and in every model.
 *
 *   sockport_httpd [-m auto|threads|fork|events] [-r ROOT] [-t HEAD_S] [-s SEND_MS]
 *                  [-d REPLY_MS] [-g GRACE_MS] [-b sendfile|stream] ADDRESS
 *
 * It prints "httpd: listening on HOST:PORT (MODEL)" once it listens (port 0 is resolved),
 * serves GET and HEAD for the regular files under ROOT (default "."), and stops on SIGINT
 * (Ctrl-C) or SIGTERM: sp_server_stop() from the signal handler, then sp_server_run()
 * returns after at most GRACE_MS and the program exits 0.
 *
 * HTTP: the request line and headers (the head) up to 8 KiB (431 beyond), HTTP/1.1 and
 * HTTP/1.0; keep-alive (1.1 unless "Connection: close", 1.0 with "Connection:
 * keep-alive"); pipelining (several requests in one read are answered in order, a request
 * waits until the previous reply has been sent); request bodies are refused (a request with
 * a body gets 405 for POST and friends, 411 / 413 else, and the connection closes, since
 * its body is not read). Paths: percent-decoded, no "..", no backslash, no ':' (drive
 * letters), no NUL; "/" ends in index.html. Status codes: 200, 400, 403, 404, 405, 408,
 * 411, 413, 431, 500, 505.
 *
 * Bodies go out with sp_conn_sendfile() (-b sendfile, the default): the kernel's file
 * transmission where the server's sendfile mode has it (sendfile(2); TransmitFile on
 * Windows Server), else reads and sends inside sockport; the event model queues the file,
 * not its bytes. With -b stream they are read here in 64 KiB chunks, the next one sent from
 * on_drain (the way to stream what is not a file: a generated or compressed body). Either
 * way a download never holds the whole file in memory, and a request pipelined behind a
 * download is answered once the download's queue has drained. A request whose head is not complete
 * within HEAD_S seconds (default 10) is answered 408 and closed (slowloris); a client that
 * takes no byte of a reply for SEND_MS (default 30000) is closed, however long a download
 * that keeps going lasts (nginx's send_timeout); with -d, a reply (a head, a body sent with
 * sp_conn_sendfile(), or one 64 KiB chunk of a stream) not wholly taken within REPLY_MS
 * closes the connection too, however much a client that trickles takes (slow read; off by
 * default: set it above what your largest file takes to your slowest client).
 */
#include "models.h"

#include <sockport.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef S_ISREG /* MSVC */
#    define S_ISREG(m) (((m)&_S_IFMT) == _S_IFREG)
#endif
#ifdef _MSC_VER
#    define fileno _fileno /* MSVC's name for POSIX fileno() */
#endif

#define HEAD_MAX  8192         /* bytes of a request head (request line + headers) */
#define CHUNK     (64 * 1024)  /* one read of a file */
#define PATH_MAX_ (1024 + 256) /* ROOT + request path */

static const char *root = ".";
static int head_timeout_s = 10;
static int send_timeout_ms = 30000;
static int reply_timeout_ms = 0; /* -d: none unless given */
static int use_sendfile = 1;     /* -b sendfile (1) or -b stream (0) */
static sp_server *running_server;

/* One connection's state: the head bytes not yet answered and the body being sent. */
typedef struct conn_state {
    char in[HEAD_MAX + 1]; /* received bytes not yet consumed (heads of pipelined requests) */
    size_t in_len;
    sp_conn *conn;
    sp_timer *head_timer; /* runs while a head is incomplete (slowloris), or NULL */
    FILE *file;           /* the body being streamed, or NULL */
    long left;            /* its bytes still to send */
    int draining;         /* a sent file is still queued: the next request waits */
    int close_after;      /* close once the current reply is out */
    int closing;          /* sp_conn_close() asked: ignore further input */
    char chunk[CHUNK];
} conn_state;

/* ---- responses ----------------------------------------------------------------------- */

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Internal Server Error";
    }
}

static const char *mime_of(const char *path)
{
    static const char *const map[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"},
        {".css", "text/css"},
        {".js", "text/javascript"},
        {".json", "application/json"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".svg", "image/svg+xml"},
    };
    const char *dot = strrchr(path, '.');
    size_t i;
    if (dot != NULL && strchr(dot, '/') == NULL)
        for (i = 0; i < sizeof map / sizeof map[0]; i++)
            if (strcmp(dot, map[i][0]) == 0)
                return map[i][1];
    return "application/octet-stream";
}

/* Send the head of a reply; keep: the connection stays open afterwards. */
static int send_head(sp_conn *c, int status, const char *type, long length, int keep)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nServer: sockport-httpd\r\nContent-Type: %s\r\n"
                     "Content-Length: %ld\r\n%sConnection: %s\r\n\r\n",
                     status, reason_of(status), type, length,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "", keep ? "keep-alive" : "close");
    if (n < 0 || (size_t)n >= sizeof head)
        return SP_EINVAL;
    return sp_conn_write(c, head, (size_t)n);
}

/* An error reply with a one-line body. */
static int send_error(sp_conn *c, conn_state *st, int status, int head_only, int keep)
{
    char body[80];
    int n = snprintf(body, sizeof body, "%d %s\n", status, reason_of(status));
    int rc = send_head(c, status, "text/plain; charset=utf-8", (long)n, keep);
    if (rc == 0 && !head_only)
        rc = sp_conn_write(c, body, (size_t)n);
    if (!keep)
        st->close_after = 1;
    return rc;
}

/* Send the next chunk of the body being streamed and ask for on_drain while more is left:
 * the same code in every model (blocking models call on_drain right after the handler;
 * the event model when its queue is down to drain_low_water), so a download holds one
 * chunk and the low water mark, never the file. */
static int stream_body(sp_conn *c, conn_state *st)
{
    if (st->file != NULL && st->left > 0) {
        size_t want = st->left < CHUNK ? (size_t)st->left : CHUNK;
        size_t got = fread(st->chunk, 1, want, st->file);
        int rc;
        if (got == 0)
            return SP_EEOF; /* the file shrank: the length is promised, close */
        rc = sp_conn_write(c, st->chunk, got);
        if (rc != 0)
            return rc;
        st->left -= (long)got;
        if (st->left > 0)
            return sp_conn_want_drain(c);
    }
    if (st->file != NULL) {
        fclose(st->file);
        st->file = NULL;
    }
    return 0;
}

/* The body in one call: sp_conn_sendfile() sends the whole file (thread and fork models)
 * or queues it (event model: a duplicate descriptor, not its bytes), so the file closes
 * at once. While it is queued the next pipelined request waits for on_drain. */
static int send_file(sp_conn *c, conn_state *st)
{
    int64_t sent = sp_conn_sendfile(c, fileno(st->file), 0, (int64_t)st->left);
    fclose(st->file);
    st->file = NULL;
    st->left = 0;
    if (sent < 0)
        return (int)sent; /* the connection closes */
    if (sp_conn_queued(c) == 0)
        return 0;
    st->draining = 1;
    return sp_conn_want_drain(c);
}

/* ---- requests ------------------------------------------------------------------------ */

static int hex_value(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Turn a request target into a file path under root. Returns 0, or the status to answer:
 * 400 (not an origin-form path, a bad escape, a NUL, a backslash or ':'), 403 (a ".."
 * segment). */
static int map_path(const char *target, size_t len, char *out, size_t cap)
{
    char path[1024];
    size_t i, n = 0, seg;
    if (len == 0 || target[0] != '/')
        return 400; /* absolute-form, authority-form, "*": not for a file server */
    for (i = 0; i < len && target[i] != '?' && target[i] != '#'; i++) {
        int ch = (unsigned char)target[i];
        if (ch == '%') {
            int hi = i + 2 < len ? hex_value(target[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(target[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return 400;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch == 0 || ch == '\\' || ch == ':')
            return 400;
        if (n + 1 >= sizeof path)
            return 400;
        path[n++] = (char)ch;
    }
    path[n] = '\0';
    /* every segment between slashes: "." and "" are harmless, ".." is refused */
    for (seg = 1; seg <= n;) {
        size_t end = seg;
        while (end < n && path[end] != '/')
            end++;
        if (end - seg == 2 && path[seg] == '.' && path[seg + 1] == '.')
            return 403;
        seg = end + 1;
    }
    if ((size_t)snprintf(out, cap, "%s%s%s", root, path, path[n - 1] == '/' ? "index.html" : "") >=
        cap)
        return 400;
    return 0;
}

/* Case-insensitive compare of a header name or token of length n with a C string. */
static int same_token(const char *p, size_t n, const char *word)
{
    size_t i;
    if (strlen(word) != n)
        return 0;
    for (i = 0; i < n; i++) {
        int a = (unsigned char)p[i], b = (unsigned char)word[i];
        if (a >= 'A' && a <= 'Z')
            a += 'a' - 'A';
        if (a != b)
            return 0;
    }
    return 1;
}

/* Does a comma-separated header value hold the token? */
static int has_token(const char *v, size_t n, const char *word)
{
    size_t i = 0;
    while (i < n) {
        size_t s, e;
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        s = i;
        while (i < n && v[i] != ',')
            i++;
        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e > s && same_token(v + s, e - s, word))
            return 1;
    }
    return 0;
}

/* Answer one request whose head is head[0 .. len) (the final CRLF CRLF excluded). */
static int handle_request(sp_conn *c, conn_state *st, const char *head, size_t len)
{
    const char *end = head + len, *p, *sp1, *sp2, *eol;
    int minor, keep, is_head, is_get, has_host = 0, has_body = 0, status;
    char file[PATH_MAX_];
    struct stat sb;
    /* request line: METHOD SP TARGET SP HTTP/1.x */
    eol = head;
    while (eol + 1 < end && !(eol[0] == '\r' && eol[1] == '\n'))
        eol++;
    if (eol + 1 >= end)
        eol = end;
    sp1 = memchr(head, ' ', (size_t)(eol - head));
    sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1 == head || sp2 == sp1 + 1)
        return send_error(c, st, 400, 0, 0);
    if (eol - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
        (sp2[8] != '0' && sp2[8] != '1'))
        return send_error(c, st, memcmp(sp2 + 1, "HTTP/", 5) == 0 ? 505 : 400, 0, 0);
    minor = sp2[8] - '0';
    keep = minor == 1;
    is_get = sp1 - head == 3 && memcmp(head, "GET", 3) == 0;
    is_head = sp1 - head == 4 && memcmp(head, "HEAD", 4) == 0;
    /* headers */
    for (p = eol + 2; p < end; p = eol + 2) {
        const char *colon, *v, *ve;
        eol = p;
        while (eol + 1 < end && !(eol[0] == '\r' && eol[1] == '\n'))
            eol++;
        if (eol + 1 >= end)
            eol = end;
        if (*p == ' ' || *p == '\t') /* obsolete line folding (RFC 9112, 5.2) */
            return send_error(c, st, 400, is_head, 0);
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL || colon == p || colon[-1] == ' ' || colon[-1] == '\t')
            return send_error(c, st, 400, is_head, 0);
        v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        ve = eol;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (same_token(p, (size_t)(colon - p), "host")) {
            has_host = 1;
        } else if (same_token(p, (size_t)(colon - p), "connection")) {
            if (has_token(v, (size_t)(ve - v), "close"))
                keep = 0;
            else if (has_token(v, (size_t)(ve - v), "keep-alive"))
                keep = 1;
        } else if (same_token(p, (size_t)(colon - p), "content-length")) {
            const char *d;
            if (v == ve)
                return send_error(c, st, 400, is_head, 0);
            for (d = v; d < ve; d++) {
                if (*d < '0' || *d > '9')
                    return send_error(c, st, 400, is_head, 0);
                if (*d != '0')
                    has_body = 1;
            }
        } else if (same_token(p, (size_t)(colon - p), "transfer-encoding")) {
            has_body = 2;
        }
        if (eol == end)
            break;
    }
    if (minor == 1 && !has_host)
        return send_error(c, st, 400, is_head, 0);
    if (!is_get && !is_head) /* the body (if any) is not read: close */
        return send_error(c, st, 405, 0, keep && !has_body);
    if (has_body) /* a GET / HEAD with a body: refused, the connection closes */
        return send_error(c, st, has_body == 2 ? 411 : 413, is_head, 0);
    status = map_path(sp1 + 1, (size_t)(sp2 - sp1 - 1), file, sizeof file);
    if (status != 0)
        return send_error(c, st, status, is_head, status == 403 && keep);
    if (stat(file, &sb) != 0 || !S_ISREG(sb.st_mode))
        return send_error(c, st, 404, is_head, keep);
    if (!is_head) {
        st->file = fopen(file, "rb");
        if (st->file == NULL)
            return send_error(c, st, errno == EACCES ? 403 : 404, 0, keep);
        st->left = (long)sb.st_size;
    }
    st->close_after = !keep;
    status = send_head(c, 200, mime_of(file), (long)sb.st_size, keep);
    if (status != 0 || st->file == NULL || !use_sendfile)
        return status != 0 ? status : stream_body(c, st);
    return send_file(c, st);
}

/* The head timer ran out: 408 and close (a client that trickles a head, slowloris). */
static void head_timeout(sp_timer *t, void *arg)
{
    conn_state *st = (conn_state *)arg;
    (void)t;
    st->head_timer = NULL; /* a one-shot timer is freed after it ran */
    if (st->closing || st->file != NULL || st->draining || st->in_len == 0)
        return;
    st->closing = 1;
    send_error(st->conn, st, 408, 0, 0);
    sp_conn_close(st->conn);
}

/* Run the head timer while an incomplete head is held and nothing is being sent. */
static void arm_head_timer(sp_conn *c, conn_state *st)
{
    int waiting = st->in_len > 0 && st->file == NULL && !st->draining && !st->closing;
    if (waiting && st->head_timer == NULL && head_timeout_s > 0) {
        sp_conn_timer(c, &st->head_timer, head_timeout_s * 1000, 0, head_timeout, st);
    } else if (!waiting && st->head_timer != NULL) {
        sp_timer_cancel(st->head_timer);
        st->head_timer = NULL;
    }
}

/* Answer every complete head held, in order. */
static int serve_input(sp_conn *c, conn_state *st)
{
    for (;;) {
        size_t i, used;
        int rc;
        if (st->closing || st->file != NULL || st->draining)
            return 0;
        if (st->close_after) {
            st->closing = 1;
            return sp_conn_close(c);
        }
        for (i = 0; i + 3 < st->in_len; i++)
            if (memcmp(st->in + i, "\r\n\r\n", 4) == 0)
                break;
        if (i + 3 >= st->in_len) {
            if (st->in_len >= HEAD_MAX) {
                st->closing = 1;
                rc = send_error(c, st, 431, 0, 0);
                sp_conn_close(c);
                return rc;
            }
            return 0;
        }
        used = i + 4;
        if (st->head_timer != NULL) { /* this head is complete: the next one starts afresh */
            sp_timer_cancel(st->head_timer);
            st->head_timer = NULL;
        }
        rc = handle_request(c, st, st->in, i);
        memmove(st->in, st->in + used, st->in_len - used);
        st->in_len -= used;
        if (rc != 0)
            return rc;
    }
}

/* ---- the handler --------------------------------------------------------------------- */

static void http_open(sp_conn *c)
{
    conn_state *st = (conn_state *)calloc(1, sizeof *st);
    if (st == NULL) {
        sp_conn_close(c);
        return;
    }
    st->conn = c;
    sp_conn_set_user(c, st);
}

static int http_data(sp_conn *c, const void *data, size_t len)
{
    conn_state *st = (conn_state *)sp_conn_user(c);
    const char *p = (const char *)data;
    if (st == NULL)
        return -1;
    while (len > 0 && !st->closing) {
        size_t room = HEAD_MAX - st->in_len, n = len < room ? len : room;
        int rc;
        memcpy(st->in + st->in_len, p, n);
        st->in_len += n;
        p += n;
        len -= n;
        rc = serve_input(c, st);
        if (rc != 0)
            return rc;
        if (n == 0 && (st->file != NULL || st->draining))
            return -1; /* 8 KiB of pipelined requests behind a download: too much, close */
    }
    arm_head_timer(c, st);
    return 0;
}

/* The queued output is down to the low water mark: the next chunk, or the next request. */
static void http_drain(sp_conn *c)
{
    conn_state *st = (conn_state *)sp_conn_user(c);
    int rc;
    if (st == NULL || st->closing)
        return;
    st->draining = 0; /* a sent file's queue is down to the low water mark */
    rc = stream_body(c, st);
    if (rc == 0 && st->file == NULL)
        rc = serve_input(c, st); /* requests pipelined behind the download */
    if (rc != 0) {
        st->closing = 1;
        sp_conn_close(c);
        return;
    }
    arm_head_timer(c, st);
}

static void http_close(sp_conn *c, int reason, int error)
{
    conn_state *st = (conn_state *)sp_conn_user(c);
    (void)reason;
    (void)error;
    if (st == NULL)
        return;
    if (st->file != NULL)
        fclose(st->file);
    /* its timer, if any, is cancelled by the server after this call */
    free(st);
    sp_conn_set_user(c, NULL);
}

static const sp_server_handler http_handler = {http_open, NULL, http_data, http_close, http_drain};

/* ---- main ---------------------------------------------------------------------------- */

static void on_signal(int sig)
{
    (void)sig; /* the handler stays (catch_stop_signals) */
    if (running_server)
        sp_server_stop(running_server); /* async-signal-safe */
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [-m auto|threads|fork|events] [-r ROOT] [-t HEAD_S] [-s SEND_MS] "
            "[-d REPLY_MS] [-g GRACE_MS] [-b sendfile|stream] ADDRESS\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    sp_server_config cfg;
    sp_server *srv;
    sp_addr where;
    char bound[SP_ADDR_STRLEN];
    const char *address = NULL;
    int i, rc, model = SP_MODEL_AUTO, grace_ms = 2000;
    for (i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (opt[0] == '-' && opt[1] != '\0' && opt[2] == '\0' && i + 1 < argc) {
            const char *val = argv[++i];
            switch (opt[1]) {
            case 'm':
                model = parse_model(val);
                break;
            case 'r':
                root = val;
                break;
            case 't':
                head_timeout_s = atoi(val);
                break;
            case 's':
                send_timeout_ms = atoi(val);
                break;
            case 'd':
                reply_timeout_ms = atoi(val);
                break;
            case 'g':
                grace_ms = atoi(val);
                break;
            case 'b':
                if (strcmp(val, "sendfile") != 0 && strcmp(val, "stream") != 0)
                    return usage(argv[0]);
                use_sendfile = strcmp(val, "sendfile") == 0;
                break;
            default:
                return usage(argv[0]);
            }
            if (model < 0)
                return usage(argv[0]);
        } else if (address == NULL && opt[0] != '-') {
            address = opt;
        } else {
            return usage(argv[0]);
        }
    }
    if (address == NULL || strlen(root) > 1000)
        return usage(argv[0]);
    sp_init();
    sp_server_config_init(&cfg);
    cfg.model = model;
    cfg.handler = &http_handler;
    cfg.grace_ms = grace_ms > 0 ? grace_ms : 1;
    cfg.idle_timeout_ms = 60000;             /* an idle keep-alive connection */
    cfg.send_timeout_ms = send_timeout_ms;   /* a reader that stops reading is closed */
    cfg.reply_timeout_ms = reply_timeout_ms; /* and, with -d, one that trickles */
    rc = sp_server_create(&srv, &cfg);
    if (rc == 0 && (rc = sp_server_listen(srv, address)) != 0)
        sp_server_destroy(srv);
    if (rc != 0) {
        fprintf(stderr, "httpd: %s: %s\n", address, sp_strerror(rc));
        sp_cleanup();
        return 1;
    }
    sp_server_local_addr(srv, 0, &where);
    sp_addr_format(&where, bound, sizeof bound);
    running_server = srv;
    catch_stop_signals(on_signal); /* a second SIGINT must not kill the stop */
    printf("httpd: listening on %s (%s)\n", bound, model_name(sp_server_model(srv)));
    fflush(stdout);
    rc = sp_server_run(srv);
    running_server = NULL;
    sp_server_destroy(srv);
    printf("httpd: stopped%s%s\n", rc ? ": " : "", rc ? sp_strerror(rc) : "");
    fflush(stdout);
    sp_cleanup();
    return rc == 0 ? 0 : 1;
}
