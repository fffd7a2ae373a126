/*
 * dial.c - sp_dial and the dialer: one deadline for the whole dial, Happy Eyeballs v2
 * (RFC 8305 sections 4 and 5) over non-blocking connects and one wait, and name
 * resolution on a worker thread that the caller can leave behind (resolve.c).
 *
 * The engine is one function, advance(), that makes as much progress as it can within a
 * given wait: sp_dial_ex() calls it in a loop with the time left, sp_dial_step() with a
 * wait of 0 so that an event loop does the waiting.
 */
#include "resolve.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum { ST_RESOLVING, ST_CONNECTING, ST_DONE, ST_FAILED, ST_TAKEN };

typedef struct attempt {
    sp_socket_t s;
    int family;
} attempt;

struct sp_dialer {
    sp_dial_options opt;
    sp__deadline deadline; /* 0: none */
    int state;
    int err; /* the final error in ST_FAILED */
    sp__resolve_job *job;
    int waker_watched; /* the job's waker is in opt.poller */
    sp_addr addrs[SP_DIAL_MAX_ADDRS];
    int naddr, next;                /* the sorted addresses; the next one to try */
    attempt att[SP_DIAL_MAX_ADDRS]; /* attempts in flight */
    int natt;
    uint64_t next_at; /* sp__now_ms() when the next attempt may start */
    int first_family;
    int fam_err[2]; /* the most useful error per family: [0] the first family, [1] other */
    sp_socket_t won;
    sp_sockset wr, ex;
};

void sp_dial_options_init(sp_dial_options *opt)
{
    if (opt == NULL)
        return;
    memset(opt, 0, sizeof *opt);
    opt->size = sizeof *opt;
    opt->attempt_delay_ms = SP_DIAL_DELAY_DEFAULT;
    opt->family = SP_AF_UNSPEC;
    opt->prefer = SP_AF_UNSPEC;
}

static int family_ok(int f)
{
    return f == SP_AF_UNSPEC || f == SP_AF_INET || f == SP_AF_INET6;
}

/* Defaults, overwritten by the fields the caller's struct has (its `size`). */
static int read_options(sp_dial_options *o, const sp_dial_options *in)
{
    size_t n;
    sp_dial_options_init(o);
    if (in == NULL)
        return 0;
    n = in->size;
    if (n < offsetof(sp_dial_options, attempt_delay_ms) + sizeof(int) || n > sizeof *o)
        return SP_EINVAL;
    memcpy(o, in, n);
    o->size = sizeof *o;
    if (o->attempt_delay_ms < SP_DIAL_DELAY_MIN || o->attempt_delay_ms > SP_DIAL_DELAY_MAX ||
        !family_ok(o->family) || !family_ok(o->prefer) || (o->flags & ~SP_DIAL_NONBLOCK) != 0)
        return SP_EINVAL;
    return 0;
}

/* SP_ECONNREFUSED (someone answered) > any other error > SP_ETIMEDOUT > none. */
static int err_rank(int e)
{
    if (e == 0)
        return 0;
    if (e == SP_ETIMEDOUT)
        return 1;
    return e == SP_ECONNREFUSED ? 3 : 2;
}

static void note_err(sp_dialer *d, int family, int e)
{
    int *slot = &d->fam_err[family == d->first_family ? 0 : 1];
    if (err_rank(e) > err_rank(*slot))
        *slot = e;
}

/* The first family's error unless the other family's ranks higher. */
static int best_err(const sp_dialer *d)
{
    int e = err_rank(d->fam_err[1]) > err_rank(d->fam_err[0]) ? d->fam_err[1] : d->fam_err[0];
    return e != 0 ? e : SP_ETIMEDOUT;
}

static void unwatch(sp_dialer *d, sp_socket_t s)
{
    if (d->opt.poller != NULL)
        (void)sp_poller_remove(d->opt.poller, s);
}

static void drop_job(sp_dialer *d)
{
    if (d->job == NULL)
        return;
    if (d->waker_watched)
        unwatch(d, sp__resolve_waker(d->job));
    d->waker_watched = 0;
    sp__resolve_release(d->job);
    d->job = NULL;
}

static void close_attempt(sp_dialer *d, int i)
{
    unwatch(d, d->att[i].s);
    (void)sp_close(d->att[i].s);
    d->att[i] = d->att[--d->natt];
}

static int fail(sp_dialer *d, int e)
{
    while (d->natt > 0)
        close_attempt(d, d->natt - 1);
    drop_job(d);
    d->state = ST_FAILED;
    d->err = e;
    return e;
}

static int win(sp_dialer *d, sp_socket_t s)
{
    unwatch(d, s);
    while (d->natt > 0)
        close_attempt(d, d->natt - 1);
    d->won = s;
    d->state = ST_DONE;
    return 0;
}

/*
 * RFC 8305 section 4: interleave the families, starting with the preferred one (else the
 * family of the resolver's first answer), each family keeping the resolver's order.
 */
static void sort_addresses(sp_dialer *d, const sp_addr *in, int n)
{
    int first = d->opt.prefer, i, a = 0, b = 0, k = 0;
    int have_first = 0;
    for (i = 0; i < n; i++)
        have_first |= sp_addr_family(&in[i]) == first;
    if (first == SP_AF_UNSPEC || !have_first)
        first = sp_addr_family(&in[0]);
    d->first_family = first;
    while (k < n && k < SP_DIAL_MAX_ADDRS) {
        while (a < n && sp_addr_family(&in[a]) != first)
            a++;
        if (a < n)
            d->addrs[k++] = in[a++];
        while (b < n && sp_addr_family(&in[b]) == first)
            b++;
        if (b < n && k < SP_DIAL_MAX_ADDRS)
            d->addrs[k++] = in[b++];
    }
    d->naddr = k;
    d->next = 0;
}

/* Start the next address's connect. Failure at once is noted, and lets the next start. */
static void start_attempt(sp_dialer *d)
{
    const sp_addr *a = &d->addrs[d->next++];
    int family = sp_addr_family(a);
    sp_socket_t s;
    int rc = sp_socket_open(&s, family, SP_SOCK_STREAM);
    if (rc == 0) {
        rc = sp_connect_start(s, a);
        if (rc == 0) {
            (void)win(d, s);
            return;
        }
        if (rc == SP_EINPROGRESS && d->opt.poller != NULL)
            rc = sp_poller_add(d->opt.poller, s, SP_EV_WRITE, d->opt.poller_data);
        if (rc == SP_EINPROGRESS || rc == 0) {
            d->att[d->natt].s = s;
            d->att[d->natt].family = family;
            d->natt++;
            d->next_at = sp__now_ms() + (uint64_t)d->opt.attempt_delay_ms;
            return;
        }
        (void)sp_close(s);
    }
    note_err(d, family, rc);
}

/* The shorter of two waits (negative: no limit). */
static int min_wait(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

/* Wait up to wait_ms for an attempt to finish; take the winner or drop the losers. */
static int poll_attempts(sp_dialer *d, int wait_ms)
{
    int i, r;
    sp_sockset_clear(&d->wr);
    sp_sockset_clear(&d->ex);
    for (i = 0; i < d->natt; i++) {
        /* POSIX reports a failed connect as writable, Windows only in the except set */
        if (sp_sockset_add(&d->wr, d->att[i].s) != 0 || sp_sockset_add(&d->ex, d->att[i].s) != 0)
            return fail(d, SP_ENOMEM);
    }
    r = sp_select(NULL, &d->wr, &d->ex, wait_ms);
    if (r < 0)
        return fail(d, r);
    for (i = d->natt - 1; i >= 0 && r > 0; i--) {
        sp_socket_t s = d->att[i].s;
        int e;
        if (!sp_sockset_ready(&d->wr, s) && !sp_sockset_ready(&d->ex, s))
            continue;
        e = sp_sockset_error(&d->wr, s);
        if (e == 0)
            e = sp_sockset_error(&d->ex, s);
        if (e == 0) {
            /* ready without an error: connected, unless the error was already taken */
            sp_addr peer;
            e = sp_peer_addr(s, &peer);
            if (e == SP_ENOTCONN)
                e = SP_ECONNREFUSED;
        }
        if (e == 0) {
            d->att[i] = d->att[--d->natt];
            return win(d, s);
        }
        note_err(d, d->att[i].family, e);
        close_attempt(d, i);
        d->next_at = sp__now_ms(); /* a failure lets the next attempt start at once */
    }
    return SP_EINPROGRESS;
}

/* Resolution is over with rc (a count or an error): sort, or fail. */
static int resolved(sp_dialer *d, int rc, const sp_addr *addrs)
{
    drop_job(d);
    if (rc < 0)
        return fail(d, rc);
    if (rc == 0)
        return fail(d, SP_EAI_NODATA);
    sort_addresses(d, addrs, rc);
    d->state = ST_CONNECTING;
    d->next_at = sp__now_ms();
    return SP_EINPROGRESS;
}

/* As much progress as wait_ms allows (0: none of waiting; negative: up to the deadline). */
static int advance(sp_dialer *d, int wait_ms)
{
    int left = sp__deadline_left(d->deadline), r;
    if (d->state == ST_RESOLVING) {
        sp_addr got[SP__RESOLVE_CAP];
        r = sp__resolve_wait(d->job, min_wait(wait_ms, left), got, SP__RESOLVE_CAP);
        if (r == SP_EINPROGRESS) {
            if (sp__deadline_left(d->deadline) == 0)
                return fail(d, SP_ETIMEDOUT);
            return SP_EINPROGRESS;
        }
        r = resolved(d, r, got);
        if (r != SP_EINPROGRESS)
            return r;
        wait_ms = 0; /* the waiting went into resolution: come back to wait on connects */
        left = sp__deadline_left(d->deadline);
    }
    if (d->state == ST_CONNECTING) {
        uint64_t now = sp__now_ms();
        int t;
        while (d->state == ST_CONNECTING && d->next < d->naddr &&
               (d->natt == 0 || now >= d->next_at)) {
            start_attempt(d);
            now = sp__now_ms();
        }
        if (d->state == ST_DONE)
            return 0;
        if (d->natt == 0)
            return fail(d, best_err(d)); /* every address failed at once */
        t = min_wait(wait_ms, left);
        if (d->next < d->naddr)
            t = min_wait(t, d->next_at > now ? (int)(d->next_at - now) : 0);
        r = poll_attempts(d, t);
        if (r != SP_EINPROGRESS)
            return r;
        if (d->natt == 0 && d->next == d->naddr)
            return fail(d, best_err(d));
        if (d->deadline != 0 && sp__deadline_left(d->deadline) == 0) {
            int i;
            for (i = 0; i < d->natt; i++)
                note_err(d, d->att[i].family, SP_ETIMEDOUT);
            if (d->natt == 0)
                note_err(d, d->first_family, SP_ETIMEDOUT);
            return fail(d, best_err(d));
        }
        return SP_EINPROGRESS;
    }
    if (d->state == ST_DONE || d->state == ST_TAKEN)
        return 0;
    return d->err;
}

/* Set up a dialer: literal addresses go straight to connecting, names to a worker. */
static int dialer_init(sp_dialer *d, const char *address, int timeout_ms,
                       const sp_dial_options *opt, int async)
{
    char host[256];
    sp_addr lit;
    int port, rc;
    d->won = SP_INVALID_SOCKET;
    sp_sockset_init(&d->wr);
    sp_sockset_init(&d->ex);
    if (address == NULL)
        return SP_EINVAL;
    rc = read_options(&d->opt, opt);
    if (rc != 0)
        return rc;
    if (!async && d->opt.poller != NULL)
        return SP_EINVAL;
    d->deadline = sp__deadline_in(timeout_ms);
    if (sp_addr_parse(&lit, address) == 0) { /* numeric or unix: no resolver */
        int f = sp_addr_family(&lit);
        if (d->opt.family != SP_AF_UNSPEC && f != SP_AF_UNIX && f != d->opt.family)
            return SP_EAI_FAMILY;
        return resolved(d, 1, &lit) == SP_EINPROGRESS ? 0 : d->err;
    }
    if (strncmp(address, "unix:", 5) == 0)
        return sp_addr_parse(&lit, address); /* the path did not fit */
    rc = sp__split_hostport(address, host, sizeof host, &port);
    if (rc != 0)
        return rc;
    rc = sp__resolve_start(&d->job, host, port, d->opt.family, async);
    if (rc != 0)
        return rc;
    d->state = ST_RESOLVING;
    if (async && d->opt.poller != NULL) {
        rc =
            sp_poller_add(d->opt.poller, sp__resolve_waker(d->job), SP_EV_READ, d->opt.poller_data);
        if (rc != 0)
            return rc;
        d->waker_watched = 1;
    }
    return 0;
}

static void dialer_clear(sp_dialer *d)
{
    while (d->natt > 0)
        close_attempt(d, d->natt - 1);
    drop_job(d);
    if (d->state == ST_DONE) {
        (void)sp_close(d->won);
        d->state = ST_TAKEN;
    }
    sp_sockset_free(&d->wr);
    sp_sockset_free(&d->ex);
}

static int take(sp_dialer *d, sp_socket_t *out)
{
    int rc;
    if (d->state != ST_DONE)
        return d->state == ST_TAKEN ? SP_EALREADY : d->state == ST_FAILED ? d->err : SP_EINPROGRESS;
    rc = (d->opt.flags & SP_DIAL_NONBLOCK) ? 0 : sp_set_nonblocking(d->won, 0);
    if (rc != 0)
        return rc;
    *out = d->won;
    d->won = SP_INVALID_SOCKET;
    d->state = ST_TAKEN;
    return 0;
}

/* A new dialer, set up (freed again on failure). */
static int dialer_new(sp_dialer **out, const char *address, int timeout_ms,
                      const sp_dial_options *opt, int async)
{
    sp_dialer *d = (sp_dialer *)calloc(1, sizeof *d);
    int rc;
    *out = NULL;
    if (d == NULL)
        return SP_ENOMEM;
    rc = dialer_init(d, address, timeout_ms, opt, async);
    if (rc != 0) {
        dialer_clear(d);
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int sp_dial_ex(sp_socket_t *out, const char *address, int timeout_ms, const sp_dial_options *opt)
{
    sp_dialer *d;
    int rc;
    if (out == NULL)
        return SP_EINVAL;
    *out = SP_INVALID_SOCKET;
    rc = dialer_new(&d, address, timeout_ms, opt, 0);
    if (rc != 0)
        return rc;
    while ((rc = advance(d, sp__deadline_left(d->deadline))) == SP_EINPROGRESS) {
    }
    if (rc == 0)
        rc = take(d, out);
    sp_dial_free(d);
    return rc;
}

int sp_dial(sp_socket_t *out, const char *address, int timeout_ms)
{
    return sp_dial_ex(out, address, timeout_ms, NULL);
}

int sp_dial_start(sp_dialer **out, const char *address, int timeout_ms, const sp_dial_options *opt)
{
    int rc;
    if (out == NULL)
        return SP_EINVAL;
    rc = dialer_new(out, address, timeout_ms, opt, 1);
    if (rc == 0 && (*out)->state == ST_CONNECTING)
        (void)advance(*out, 0); /* start the first connect now; step reports how it went */
    return rc;
}

int sp_dial_step(sp_dialer *d, int *timeout_ms)
{
    int rc, t = 0;
    if (timeout_ms != NULL)
        *timeout_ms = 0;
    if (d == NULL)
        return SP_EINVAL;
    rc = advance(d, 0);
    if (rc == SP_EINPROGRESS) {
        t = sp__deadline_left(d->deadline);
        if (d->state == ST_CONNECTING && d->next < d->naddr) {
            uint64_t now = sp__now_ms();
            t = min_wait(t, d->next_at > now ? (int)(d->next_at - now) : 0);
        }
    }
    if (timeout_ms != NULL)
        *timeout_ms = t;
    return rc;
}

int sp_dial_watch(const sp_dialer *d, sp_socket_t *socks, int *events, size_t cap)
{
    int i;
    if (d == NULL || (socks == NULL && cap > 0))
        return SP_EINVAL;
    if (d->state == ST_RESOLVING) {
        if (cap > 0) {
            socks[0] = sp__resolve_waker(d->job);
            if (events != NULL)
                events[0] = SP_EV_READ;
        }
        return 1;
    }
    if (d->state != ST_CONNECTING)
        return 0;
    for (i = 0; i < d->natt && (size_t)i < cap; i++) {
        socks[i] = d->att[i].s;
        if (events != NULL)
            events[i] = SP_EV_WRITE;
    }
    return d->natt;
}

int sp_dial_finish(sp_dialer *d, sp_socket_t *out)
{
    if (out != NULL)
        *out = SP_INVALID_SOCKET;
    if (d == NULL || out == NULL)
        return SP_EINVAL;
    return take(d, out);
}

void sp_dial_free(sp_dialer *d)
{
    if (d == NULL)
        return;
    dialer_clear(d);
    free(d);
}
