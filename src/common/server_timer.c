/*
 * server_timer.c - timers on the server (sp_server_timer) and on a connection
 * (sp_conn_timer): a binary min-heap per thread that runs them, the heap index kept in
 * each timer, so adding and cancelling are O(log n) and the next due time is O(1).
 *
 *   event model: one heap per server (its timers and every connection's), run by the
 *                loop; a connection's timers are also linked in a list found through a
 *                map from the connection (so a connection without timers costs nothing),
 *                cancelled after its on_close;
 *   thread and fork models: the server's heap runs on the accepting thread (the parent in
 *                fork); each connection has a heap of its own in its sp__conn_blocking,
 *                run by its connection loop.
 *
 * A repeating timer does not drift: its next due time is the previous one plus the period
 * (the periods missed while the thread was busy are skipped, not run late in a burst).
 */
#include "server.h"

#include <stdint.h>
#include <stdlib.h>

struct sp_timer {
    uint64_t due;
    sp_timer_fn fn;
    void *arg;
    sp__theap *heap;
    sp_conn *conn;           /* bound to (NULL: a server timer) */
    sp_timer *cnext, *cprev; /* event model: the connection's timers */
    size_t index;            /* in heap->v while waiting */
    int period;              /* 0: one shot */
    int cancelled;           /* cancelled while its callback runs */
};

/* ---- the heap ------------------------------------------------------------------------ */

static void put(sp__theap *h, size_t i, sp_timer *t)
{
    h->v[i] = t;
    t->index = i;
}

static void sift_up(sp__theap *h, size_t i)
{
    sp_timer *t = h->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p]->due <= t->due)
            break;
        put(h, i, h->v[p]);
        i = p;
    }
    put(h, i, t);
}

static void sift_down(sp__theap *h, size_t i)
{
    sp_timer *t = h->v[i];
    for (;;) {
        size_t l = 2 * i + 1, m;
        if (l >= h->n)
            break;
        m = l + 1 < h->n && h->v[l + 1]->due < h->v[l]->due ? l + 1 : l;
        if (t->due <= h->v[m]->due)
            break;
        put(h, i, h->v[m]);
        i = m;
    }
    put(h, i, t);
}

static int heap_push(sp__theap *h, sp_timer *t)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
        sp_timer **v = (sp_timer **)realloc(h->v, cap * sizeof *v);
        if (v == NULL)
            return SP_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    put(h, h->n++, t);
    sift_up(h, h->n - 1);
    return 0;
}

static void heap_remove(sp__theap *h, size_t i)
{
    sp_timer *last = h->v[--h->n];
    if (i == h->n)
        return;
    put(h, i, last);
    if (i > 0 && h->v[(i - 1) / 2]->due > last->due)
        sift_up(h, i);
    else
        sift_down(h, i);
}

/* ---- the map from a connection to its timers (event model) --------------------------- */

static size_t slot_of(const sp__tmap *m, const sp_conn *c)
{
    /* Fibonacci hashing of the pointer (its low bits are the allocator's alignment) */
    uintptr_t k = ((uintptr_t)c >> 4) * (uintptr_t)2654435761u;
    return (size_t)((k ^ (k >> 16)) & (m->cap - 1));
}

static sp_timer **map_find(const sp__tmap *m, const sp_conn *c)
{
    size_t i;
    if (m->cap == 0)
        return NULL;
    for (i = slot_of(m, c); m->keys[i] != NULL; i = (i + 1) & (m->cap - 1))
        if (m->keys[i] == c)
            return &m->heads[i];
    return NULL;
}

static int map_grow(sp__tmap *m)
{
    sp__tmap g;
    size_t i;
    g.cap = m->cap ? m->cap * 2 : 16;
    g.count = 0;
    g.keys = (sp_conn **)calloc(g.cap, sizeof *g.keys);
    g.heads = (sp_timer **)calloc(g.cap, sizeof *g.heads);
    if (g.keys == NULL || g.heads == NULL) {
        free((void *)g.keys);
        free((void *)g.heads);
        return SP_ENOMEM;
    }
    for (i = 0; i < m->cap; i++) {
        if (m->keys[i] != NULL) {
            size_t j = slot_of(&g, m->keys[i]);
            while (g.keys[j] != NULL)
                j = (j + 1) & (g.cap - 1);
            g.keys[j] = m->keys[i];
            g.heads[j] = m->heads[i];
            g.count++;
        }
    }
    free((void *)m->keys);
    free((void *)m->heads);
    *m = g;
    return 0;
}

/* The head of c's list, made (empty) when absent; NULL on SP_ENOMEM. */
static sp_timer **map_get(sp__tmap *m, sp_conn *c)
{
    sp_timer **h = map_find(m, c);
    size_t i;
    if (h != NULL)
        return h;
    if ((m->count + 1) * 4 > m->cap * 3 && map_grow(m) != 0)
        return NULL;
    for (i = slot_of(m, c); m->keys[i] != NULL; i = (i + 1) & (m->cap - 1))
        ;
    m->keys[i] = c;
    m->heads[i] = NULL;
    m->count++;
    return &m->heads[i];
}

/* Remove c (linear probing: the entries after it move back into the hole). */
static void map_remove(sp__tmap *m, const sp_conn *c)
{
    size_t i, j, mask = m->cap - 1;
    sp_timer **h = map_find(m, c);
    if (h == NULL)
        return;
    i = (size_t)(h - m->heads);
    m->keys[i] = NULL;
    m->count--;
    for (j = (i + 1) & mask; m->keys[j] != NULL; j = (j + 1) & mask) {
        size_t home = slot_of(m, m->keys[j]);
        /* the entry at j may move to the hole at i when its home is not in (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            m->keys[i] = m->keys[j];
            m->heads[i] = m->heads[j];
            m->keys[j] = NULL;
            i = j;
        }
    }
}

static void unlink_conn_timer(sp_server *srv, sp_timer *t)
{
    if (t->cprev != NULL) {
        t->cprev->cnext = t->cnext;
    } else {
        sp_timer **head = map_find(&srv->tmap, t->conn);
        if (head != NULL) {
            *head = t->cnext;
            if (*head == NULL)
                map_remove(&srv->tmap, t->conn);
        }
    }
    if (t->cnext != NULL)
        t->cnext->cprev = t->cprev;
}

/* ---- timers -------------------------------------------------------------------------- */

static void release(sp_timer *t)
{
    /* an event-model connection timer leaves its connection's list */
    if (t->conn != NULL && !t->conn->srv->model->blocking)
        unlink_conn_timer(t->conn->srv, t);
    free(t);
}

static int add(sp__theap *h, sp_conn *c, sp_timer **out, int delay_ms, int repeat_ms,
               sp_timer_fn fn, void *arg)
{
    sp_timer *t;
    int rc;
    if (out != NULL)
        *out = NULL;
    if (fn == NULL || delay_ms < 0 || repeat_ms < 0)
        return SP_EINVAL;
    t = (sp_timer *)calloc(1, sizeof *t);
    if (t == NULL)
        return SP_ENOMEM;
    /* the clock's millisecond is already under way: one more, so that it never runs
     * before delay_ms have passed */
    t->due = sp__now_ms() + (uint64_t)delay_ms + (delay_ms > 0 ? 1 : 0);
    t->fn = fn;
    t->arg = arg;
    t->heap = h;
    t->period = repeat_ms;
    t->conn = c;
    if (c != NULL && !c->srv->model->blocking) {
        sp_timer **head = map_get(&c->srv->tmap, c);
        if (head == NULL) {
            free(t);
            return SP_ENOMEM;
        }
        t->cnext = *head;
        if (*head != NULL)
            (*head)->cprev = t;
        *head = t;
    }
    if ((rc = heap_push(h, t)) != 0) {
        release(t);
        return rc;
    }
    if (out != NULL)
        *out = t;
    return 0;
}

int sp_server_timer(sp_server *srv, sp_timer **out, int delay_ms, int repeat_ms, sp_timer_fn fn,
                    void *arg)
{
    if (out != NULL)
        *out = NULL;
    if (srv == NULL)
        return SP_EINVAL;
    return add(&srv->timers, NULL, out, delay_ms, repeat_ms, fn, arg);
}

int sp_conn_timer(sp_conn *c, sp_timer **out, int delay_ms, int repeat_ms, sp_timer_fn fn,
                  void *arg)
{
    if (out != NULL)
        *out = NULL;
    if (c == NULL)
        return SP_EINVAL;
    if (c->reg.sock == SP_INVALID_SOCKET)
        return SP_EPIPE; /* closed: its timers are gone */
    return add(c->srv->model->blocking ? &SP__BLOCKING(c)->timers : &c->srv->timers, c, out,
               delay_ms, repeat_ms, fn, arg);
}

int sp_timer_cancel(sp_timer *t)
{
    if (t == NULL)
        return SP_EINVAL;
    if (t->heap->running == t) {
        t->cancelled = 1; /* freed when its callback returns */
        return 0;
    }
    heap_remove(t->heap, t->index);
    release(t);
    return 0;
}

int sp__timers_timeout(const sp__theap *h, uint64_t now, int t)
{
    int left;
    if (h->n == 0)
        return t;
    left = h->v[0]->due <= now                      ? 0
           : h->v[0]->due - now > (uint64_t)INT_MAX ? INT_MAX
                                                    : (int)(h->v[0]->due - now);
    return t < 0 || left < t ? left : t;
}

void sp__timers_run(sp__theap *h, uint64_t now)
{
    /* a timer added by a callback with delay 0 runs in the next pass, not in this one */
    size_t budget = h->n;
    while (budget-- > 0 && h->n > 0 && h->v[0]->due <= now) {
        sp_timer *t = h->v[0];
        if (t->period > 0) { /* rescheduled before it runs: no allocation, no drift */
            uint64_t p = (uint64_t)t->period;
            t->due += p;
            if (t->due <= now)
                t->due += ((now - t->due) / p + 1) * p;
            sift_down(h, 0);
        } else {
            heap_remove(h, 0);
        }
        h->running = t;
        t->cancelled = 0;
        t->fn(t, t->arg);
        h->running = NULL;
        if (t->cancelled) {
            if (t->period > 0)
                heap_remove(h, t->index);
            release(t);
        } else if (t->period == 0) {
            release(t);
        }
    }
}

void sp__timers_conn_closed(sp_conn *c)
{
    sp_server *srv = c->srv;
    if (srv->model->blocking) {
        sp__theap *h = &SP__BLOCKING(c)->timers;
        while (h->n > 0)
            (void)sp_timer_cancel(h->v[h->n - 1]);
        free((void *)h->v);
        h->v = NULL;
        h->cap = 0;
    } else {
        sp_timer **head = map_find(&srv->tmap, c);
        while (head != NULL && *head != NULL) {
            (void)sp_timer_cancel(*head); /* unlinks it (the map entry goes with the last) */
            head = map_find(&srv->tmap, c);
        }
    }
}

void sp__timers_free(sp_server *srv)
{
    sp__theap *h = &srv->timers;
    while (h->n > 0)
        (void)sp_timer_cancel(h->v[h->n - 1]);
    free((void *)h->v);
    h->v = NULL;
    h->cap = 0;
    free((void *)srv->tmap.keys);
    free((void *)srv->tmap.heads);
    srv->tmap.keys = NULL;
    srv->tmap.heads = NULL;
    srv->tmap.cap = srv->tmap.count = 0;
}
