/*
 * poll.c - the shared part of readiness: socket sets, the poller's registry and dispatch,
 * backend choice, and the select backend (the reference: it runs everywhere).
 */
#include "poller.h"

#include <stdlib.h>
#include <string.h>

/* ---- sp_sockset ---------------------------------------------------------------------- */

static size_t hash_sock(sp_socket_t s, size_t cap)
{
    /* Fibonacci hashing: sockets are small integers (POSIX) or multiples of 4 (Windows) */
    uint64_t h = (uint64_t)s * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (cap - 1);
}

/*
 * A set is an array of slots in the order added, plus an open-addressed index (linear
 * probing, at most half full) from socket to slot number + 1 (0: empty), so that add,
 * remove and the lookups of sp_sockset_ready / _error / _data take constant time. A
 * removed slot becomes a hole (sock SP_INVALID_SOCKET) until sp_select or clear compacts
 * the array; sp_select lists the ready slots in `ready`, which sp_sockset_next_ready walks.
 * The select poller backend's own sets use slot_push alone (no index, no holes).
 */

void sp_sockset_init(sp_sockset *set)
{
    if (set != NULL)
        memset(set, 0, sizeof *set);
}

void sp_sockset_free(sp_sockset *set)
{
    if (set == NULL)
        return;
    free(set->slots);
    free(set->index);
    free(set->ready);
    memset(set, 0, sizeof *set);
}

/* The index position that holds s, or the empty one where it would go; adds the positions
 * looked at to *probes (when not NULL). */
static size_t index_find(const sp_sockset *set, sp_socket_t s, size_t *probes)
{
    size_t i = hash_sock(s, set->index_cap), n = 1;
    while (set->index[i] != 0 && set->slots[set->index[i] - 1].sock != s) {
        i = (i + 1) & (set->index_cap - 1);
        n++;
    }
    if (probes != NULL)
        *probes += n;
    return i;
}

/* index_find for the calls that change the set: they count their probes in the set. */
static size_t index_probe(sp_sockset *set, sp_socket_t s)
{
    return index_find(set, s, &set->probes);
}

static struct sp__sockslot *slot_of(const sp_sockset *set, sp_socket_t s)
{
    size_t i;
    if (set->index_cap == 0 || s == SP_INVALID_SOCKET)
        return NULL;
    i = index_find(set, s, NULL);
    return set->index[i] != 0 ? &set->slots[set->index[i] - 1] : NULL;
}

/* Build the index anew with room for `want` members (a power of two, at most half full). */
static int index_rebuild(sp_sockset *set, size_t want)
{
    size_t cap = 16, i;
    size_t *index;
    while (cap < want * 2)
        cap *= 2;
    index = (size_t *)calloc(cap, sizeof *index);
    if (index == NULL)
        return SP_ENOMEM;
    free(set->index);
    set->index = index;
    set->index_cap = cap;
    for (i = 0; i < set->count; i++)
        if (set->slots[i].sock != SP_INVALID_SOCKET)
            set->index[index_probe(set, set->slots[i].sock)] = i + 1;
    return 0;
}

/* Append a slot for s (no search for duplicates, no index). */
static int slot_push(sp_sockset *set, sp_socket_t s, void *reg)
{
    if (set->count == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        struct sp__sockslot *n = (struct sp__sockslot *)realloc(set->slots, cap * sizeof *n);
        if (n == NULL)
            return SP_ENOMEM;
        set->slots = n;
        set->cap = cap;
    }
    memset(&set->slots[set->count], 0, sizeof set->slots[0]);
    set->slots[set->count].sock = s;
    set->slots[set->count++].reg = reg;
    return 0;
}

/* Drop the holes that removals left, keeping the order; rebuilds the index. */
static int compact(sp_sockset *set)
{
    size_t i, j = 0;
    if (set->dead == 0)
        return 0;
    for (i = 0; i < set->count; i++)
        if (set->slots[i].sock != SP_INVALID_SOCKET)
            set->slots[j++] = set->slots[i];
    set->count = j;
    set->dead = 0;
    set->nready = 0;
    return index_rebuild(set, set->count);
}

int sp_sockset_add_data(sp_sockset *set, sp_socket_t s, void *data)
{
    struct sp__sockslot *slot;
    int rc;
    if (set == NULL || s == SP_INVALID_SOCKET)
        return SP_EINVAL;
    if ((slot = slot_of(set, s)) != NULL) {
        slot->reg = data;
        return 0;
    }
    /* the index stays at most half full, counting the holes' old entries out */
    if ((set->count + 1) * 2 > set->index_cap &&
        (rc = index_rebuild(set, (set->count + 1) * 2)) != 0)
        return rc;
    if ((rc = slot_push(set, s, data)) != 0)
        return rc;
    set->index[index_probe(set, s)] = set->count;
    return 0;
}

int sp_sockset_add(sp_sockset *set, sp_socket_t s)
{
    struct sp__sockslot *slot = set != NULL ? slot_of(set, s) : NULL;
    if (slot != NULL)
        return 0; /* adding twice is a no-op: the pointer stays */
    return sp_sockset_add_data(set, s, NULL);
}

int sp_sockset_remove(sp_sockset *set, sp_socket_t s)
{
    size_t i, j;
    if (set == NULL)
        return SP_EINVAL;
    if (slot_of(set, s) == NULL)
        return SP_ENOENT;
    i = index_probe(set, s);
    set->slots[set->index[i] - 1].sock = SP_INVALID_SOCKET; /* a hole: the order stays */
    set->slots[set->index[i] - 1].ready = 0;
    set->index[i] = 0;
    set->dead++;
    /* re-place the rest of the probe cluster so that lookups still find them */
    for (j = (i + 1) & (set->index_cap - 1); set->index[j] != 0;
         j = (j + 1) & (set->index_cap - 1)) {
        size_t moved = set->index[j];
        set->index[j] = 0;
        set->index[index_probe(set, set->slots[moved - 1].sock)] = moved;
    }
    return 0;
}

void sp_sockset_clear(sp_sockset *set)
{
    if (set == NULL)
        return;
    set->count = 0;
    set->dead = 0;
    set->nready = 0;
    if (set->index != NULL)
        memset(set->index, 0, set->index_cap * sizeof *set->index);
}

size_t sp_sockset_count(const sp_sockset *set)
{
    return set ? set->count - set->dead : 0;
}

sp_socket_t sp_sockset_get(const sp_sockset *set, size_t i)
{
    size_t k;
    if (set == NULL || i >= set->count - set->dead)
        return SP_INVALID_SOCKET;
    if (set->dead == 0)
        return set->slots[i].sock;
    for (k = 0;; k++) /* holes since the last compaction: count the live ones */
        if (set->slots[k].sock != SP_INVALID_SOCKET && i-- == 0)
            return set->slots[k].sock;
}

int sp_sockset_ready(const sp_sockset *set, sp_socket_t s)
{
    const struct sp__sockslot *slot = set ? slot_of(set, s) : NULL;
    return slot ? slot->ready : 0;
}

int sp_sockset_error(const sp_sockset *set, sp_socket_t s)
{
    const struct sp__sockslot *slot = set ? slot_of(set, s) : NULL;
    return slot ? slot->error : 0;
}

void *sp_sockset_data(const sp_sockset *set, sp_socket_t s)
{
    const struct sp__sockslot *slot = set ? slot_of(set, s) : NULL;
    return slot ? slot->reg : NULL;
}

int sp_sockset_next_ready(const sp_sockset *set, size_t *pos, sp_socket_t *s, void **data)
{
    if (set == NULL || pos == NULL)
        return 0;
    while (*pos < set->nready) {
        const struct sp__sockslot *slot = &set->slots[set->ready[(*pos)++]];
        if (slot->sock == SP_INVALID_SOCKET || !slot->ready)
            continue; /* removed since the select */
        if (s != NULL)
            *s = slot->sock;
        if (data != NULL)
            *data = slot->reg;
        return 1;
    }
    return 0;
}

size_t sp_sockset_ready_count(const sp_sockset *set)
{
    return set ? set->nready : 0;
}

static void reset_slots(sp_sockset *set)
{
    size_t i;
    for (i = 0; set && i < set->count; i++) {
        set->slots[i].ready = 0;
        set->slots[i].error = 0;
    }
}

/* Compact a user set and make room for its ready list. */
static int prepare_set(sp_sockset *set)
{
    if (set == NULL)
        return 0;
    set->nready = 0;
    if (compact(set) != 0)
        return SP_ENOMEM;
    if (set->ready_cap < set->count) {
        size_t *r = (size_t *)realloc(set->ready, set->cap * sizeof *r);
        if (r == NULL)
            return SP_ENOMEM;
        set->ready = r;
        set->ready_cap = set->cap;
    }
    reset_slots(set);
    return 0;
}

static void list_ready(sp_sockset *set)
{
    size_t i;
    for (i = 0; set && i < set->count; i++)
        if (set->slots[i].ready)
            set->ready[set->nready++] = i;
}

int sp_select(sp_sockset *rd, sp_sockset *wr, sp_sockset *ex, int timeout_ms)
{
    int rc;
    /* one set given twice: each set keeps one answer per member and one ready list */
    if ((rd != NULL && (rd == wr || rd == ex)) || (wr != NULL && wr == ex))
        return SP_EINVAL;
    if (prepare_set(rd) != 0 || prepare_set(wr) != 0 || prepare_set(ex) != 0)
        return SP_ENOMEM;
    rc = sp__select(rd, wr, ex, timeout_ms, SP__SELECT_TAKE_ERRORS);
    if (rc > 0) {
        list_ready(rd);
        list_ready(wr);
        list_ready(ex);
    }
    return rc;
}

/* ---- the registry -------------------------------------------------------------------- */

sp__reg *sp__regmap_find(const sp__regmap *m, sp_socket_t s)
{
    size_t i;
    if (m->cap == 0)
        return NULL;
    for (i = hash_sock(s, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i] == NULL)
            return NULL;
        if (m->slots[i]->sock == s)
            return m->slots[i];
    }
}

static void regmap_place(sp__reg **slots, size_t cap, sp__reg *r)
{
    size_t i = hash_sock(r->sock, cap);
    while (slots[i] != NULL)
        i = (i + 1) & (cap - 1);
    slots[i] = r;
}

static int regmap_insert(sp__regmap *m, sp__reg *r)
{
    if ((m->count + 1) * 4 > m->cap * 3) { /* keep the load at most three quarters */
        size_t cap = m->cap ? m->cap * 2 : 64, i;
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sized right */
        sp__reg **slots = (sp__reg **)calloc(cap, sizeof *slots);
        if (slots == NULL)
            return SP_ENOMEM;
        for (i = 0; i < m->cap; i++)
            if (m->slots[i] != NULL)
                regmap_place(slots, cap, m->slots[i]);
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    regmap_place(m->slots, m->cap, r);
    m->count++;
    return 0;
}

static void regmap_erase(sp__regmap *m, sp__reg *r)
{
    size_t i = hash_sock(r->sock, m->cap), j;
    while (m->slots[i] != r)
        i = (i + 1) & (m->cap - 1);
    m->slots[i] = NULL;
    m->count--;
    /* re-place the rest of the cluster so that lookups still find them */
    for (j = (i + 1) & (m->cap - 1); m->slots[j] != NULL; j = (j + 1) & (m->cap - 1)) {
        sp__reg *moved = m->slots[j];
        m->slots[j] = NULL;
        regmap_place(m->slots, m->cap, moved);
    }
}

/* ---- sp_poller ----------------------------------------------------------------------- */

static const char *const backend_names[] = {"auto", "epoll", "kqueue", "poll", "select", "wsapoll"};

const char *sp_poller_backend_name(int backend)
{
    if (backend < 0 || backend > SP_POLLER_WSAPOLL)
        return "unknown";
    return backend_names[backend];
}

/* SOCKPORT_POLLER=name forces a backend for SP_POLLER_AUTO (so that every backend can
 * run the same tests); an unknown name is SP_EINVAL rather than a silent default. The
 * backend reads the variable (sp__poller_env): no getenv here, which MSVC deprecates. */
static int backend_from_env(int *backend)
{
    char env[16];
    int i, rc = sp__poller_env(env, sizeof env);
    if (rc <= 0)
        return rc;
    for (i = SP_POLLER_EPOLL; i <= SP_POLLER_WSAPOLL; i++) {
        if (strcmp(env, backend_names[i]) == 0) {
            *backend = i;
            return 0;
        }
    }
    return SP_EINVAL;
}

int sp_poller_create(sp_poller **out, int backend)
{
    const sp__poller_ops *ops;
    sp_poller *p;
    int rc = 0;
    if (out == NULL)
        return SP_EINVAL;
    *out = NULL;
    if (backend < SP_POLLER_AUTO || backend > SP_POLLER_WSAPOLL)
        return SP_EINVAL;
    if (backend == SP_POLLER_AUTO) {
        backend = sp__poller_default();
        rc = backend_from_env(&backend);
        if (rc != 0)
            return rc;
    }
    ops = backend == SP_POLLER_SELECT ? &sp__poller_select_ops : sp__poller_ops_for(backend, &rc);
    if (ops == NULL)
        return rc;
    p = (sp_poller *)calloc(1, sizeof *p);
    if (p == NULL)
        return SP_ENOMEM;
    p->ops = ops;
    rc = ops->init(p);
    if (rc != 0) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void sp_poller_destroy(sp_poller *p)
{
    size_t i;
    if (p == NULL)
        return;
    p->ops->fini(p);
    for (i = 0; i < p->regs.cap; i++)
        if (p->regs.slots[i] != NULL && !(p->regs.slots[i]->events & SP__REG_OWNED))
            free(p->regs.slots[i]);
    free(p->regs.slots);
    free(p);
}

int sp_poller_backend(const sp_poller *p)
{
    return p ? p->ops->backend : SP_EINVAL;
}

static int bad_interest(int events)
{
    return (events & ~(SP_EV_READ | SP_EV_WRITE)) != 0;
}

int sp__poller_add_reg(sp_poller *p, sp__reg *r)
{
    int rc;
    if (sp__regmap_find(&p->regs, r->sock) != NULL)
        return SP_EEXIST;
    rc = regmap_insert(&p->regs, r);
    if (rc == 0) {
        rc = p->ops->add(p, r);
        if (rc != 0)
            regmap_erase(&p->regs, r);
    }
    return rc;
}

int sp_poller_add(sp_poller *p, sp_socket_t s, int events, void *data)
{
    sp__reg *r;
    int rc;
    if (p == NULL || s == SP_INVALID_SOCKET || bad_interest(events))
        return SP_EINVAL;
    if (sp__regmap_find(&p->regs, s) != NULL)
        return SP_EEXIST;
    r = (sp__reg *)calloc(1, sizeof *r);
    if (r == NULL)
        return SP_ENOMEM;
    r->sock = s;
    r->events = events;
    r->data = data;
    rc = sp__poller_add_reg(p, r);
    if (rc != 0)
        free(r);
    return rc;
}

int sp__poller_modify_reg(sp_poller *p, sp__reg *r, int events)
{
    int old_events = r->events, rc;
    r->events = events | (old_events & SP__REG_OWNED);
    rc = p->ops->modify(p, r);
    if (rc != 0)
        r->events = old_events;
    return rc;
}

int sp_poller_modify(sp_poller *p, sp_socket_t s, int events, void *data)
{
    sp__reg *r;
    void *old_data;
    int rc;
    if (p == NULL || bad_interest(events))
        return SP_EINVAL;
    r = sp__regmap_find(&p->regs, s);
    if (r == NULL)
        return SP_ENOENT;
    old_data = r->data;
    r->data = data;
    rc = sp__poller_modify_reg(p, r, events);
    if (rc != 0)
        r->data = old_data;
    return rc;
}

void sp__poller_remove_reg(sp_poller *p, sp__reg *r)
{
    p->ops->remove(p, r);
    regmap_erase(&p->regs, r);
}

int sp_poller_remove(sp_poller *p, sp_socket_t s)
{
    sp__reg *r;
    if (p == NULL)
        return SP_EINVAL;
    r = sp__regmap_find(&p->regs, s);
    if (r == NULL)
        return SP_ENOENT;
    sp__poller_remove_reg(p, r);
    if (!(r->events & SP__REG_OWNED))
        free(r);
    return 0;
}

sp__reg *sp__poller_next_reg(const sp_poller *p, size_t *pos)
{
    while (*pos < p->regs.cap) {
        sp__reg *r = p->regs.slots[(*pos)++];
        if (r != NULL)
            return r;
    }
    return NULL;
}

int sp_poller_wait(sp_poller *p, sp_event *events, int max, int timeout_ms)
{
    if (p == NULL || events == NULL || max <= 0)
        return SP_EINVAL;
    return p->ops->wait(p, events, max, timeout_ms);
}

/* ---- sp_waker -------------------------------------------------------------------------- */

int sp_waker_create(sp_waker **out)
{
    sp_waker *w;
    int rc;
    if (out == NULL)
        return SP_EINVAL;
    *out = NULL;
    w = (sp_waker *)malloc(sizeof *w);
    if (w == NULL)
        return SP_ENOMEM;
    rc = sp__waker_open(w);
    if (rc != 0) {
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void sp_waker_destroy(sp_waker *w)
{
    if (w == NULL)
        return;
    sp__waker_close(w);
    free(w);
}

sp_socket_t sp_waker_socket(const sp_waker *w)
{
    return w != NULL ? w->watch : SP_INVALID_SOCKET;
}

int sp_waker_wake(sp_waker *w)
{
    return w != NULL ? sp__waker_wake(w) : SP_EINVAL; /* async-signal-safe */
}

int sp_waker_drain(sp_waker *w)
{
    return w != NULL ? sp__waker_drain(w) : SP_EINVAL;
}

/* ---- what the backends share ---------------------------------------------------------- */

int sp__poller_state_new(sp_poller *p, size_t size)
{
    void *st = calloc(1, size);
    if (st == NULL)
        return SP_ENOMEM;
    p->impl = st;
    return 0;
}

int sp__polltab_reserve(sp__polltab *t, size_t elem, size_t max)
{
    size_t cap;
    void *fds;
    sp__reg **regs;
    if (t->count < t->cap)
        return 0;
    cap = t->cap ? t->cap * 2 : 64;
    if (cap > max || cap > SIZE_MAX / elem)
        return SP_ENOMEM;
    fds = realloc(t->fds, cap * elem);
    if (fds == NULL)
        return SP_ENOMEM;
    t->fds = fds; /* bigger, still valid for the old cap if the next step fails */
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sized right */
    regs = (sp__reg **)realloc(t->regs, cap * sizeof *regs);
    if (regs == NULL)
        return SP_ENOMEM;
    t->regs = regs;
    t->cap = cap;
    return 0;
}

void sp__polltab_swap(sp__polltab *t, size_t elem, size_t i, size_t j)
{
    unsigned char tmp[64];
    unsigned char *a = (unsigned char *)t->fds + i * elem;
    unsigned char *b = (unsigned char *)t->fds + j * elem;
    sp__reg *r;
    if (i == j || elem > sizeof tmp)
        return;
    memcpy(tmp, a, elem);
    memcpy(a, b, elem);
    memcpy(b, tmp, elem);
    r = t->regs[i];
    t->regs[i] = t->regs[j];
    t->regs[j] = r;
    t->regs[i]->index = i;
    t->regs[j]->index = j;
}

void sp__polltab_free(sp__polltab *t)
{
    free(t->fds);
    free(t->regs);
    t->fds = NULL;
    t->regs = NULL;
    t->count = t->cap = 0;
}

void sp__polltab_fini(sp_poller *p)
{
    sp__polltab_free((sp__polltab *)p->impl);
    free(p->impl);
}

/* ---- the select backend -------------------------------------------------------------- */

/*
 * Three socket sets rebuilt from the registry when it changes: read interest, write
 * interest, and every socket in the except set, where errors show (and where Windows
 * reports a failed connect). Each slot carries its registration; the registration's
 * `index` field accumulates the events of one wait.
 */
typedef struct sel_state {
    sp_sockset rd, wr, ex;
    size_t next; /* where the next wait starts reporting: every ready socket gets a turn */
    int dirty;
} sel_state;

static int sel_init(sp_poller *p)
{
    return sp__poller_state_new(p, sizeof(sel_state));
}

static void sel_fini(sp_poller *p)
{
    sel_state *st = (sel_state *)p->impl;
    sp_sockset_free(&st->rd);
    sp_sockset_free(&st->wr);
    sp_sockset_free(&st->ex);
    free(st);
}

static int sel_changed(sp_poller *p, sp__reg *r)
{
    (void)r;
    ((sel_state *)p->impl)->dirty = 1;
    return 0;
}

static void sel_remove(sp_poller *p, sp__reg *r)
{
    sel_changed(p, r);
}

static int sel_rebuild(sp_poller *p, sel_state *st)
{
    size_t i;
    st->rd.count = st->wr.count = st->ex.count = 0;
    for (i = 0; i < p->regs.cap; i++) {
        sp__reg *r = p->regs.slots[i];
        if (r == NULL)
            continue;
        if (((r->events & SP_EV_READ) && slot_push(&st->rd, r->sock, r) != 0) ||
            ((r->events & SP_EV_WRITE) && slot_push(&st->wr, r->sock, r) != 0) ||
            slot_push(&st->ex, r->sock, r) != 0)
            return SP_ENOMEM;
    }
    st->dirty = 0;
    return 0;
}

/* What sel_wait accumulates in a registration's `index` from its slots. */
#define SEL_RD  1u
#define SEL_WR  2u
#define SEL_EX  4u
#define SEL_ERR 8u

/* OR `bit` (and SEL_ERR for an error) into the accumulator of every ready slot of set. */
static void sel_collect(const sp_sockset *set, size_t bit)
{
    size_t i;
    for (i = 0; i < set->count; i++) {
        const struct sp__sockslot *slot = &set->slots[i];
        sp__reg *r = (sp__reg *)slot->reg;
        if (slot->ready)
            r->index |= bit | (slot->error != 0 ? SEL_ERR : 0u);
    }
}

static int sel_wait(sp_poller *p, sp_event *ev, int max, int timeout_ms)
{
    sel_state *st = (sel_state *)p->impl;
    size_t i, k, start = st->next;
    int rc, n = 0;
    if (st->dirty && (rc = sel_rebuild(p, st)) != 0)
        return rc;
    reset_slots(&st->rd);
    reset_slots(&st->wr);
    reset_slots(&st->ex);
    rc = sp__select(&st->rd, &st->wr, &st->ex, timeout_ms, 0);
    if (rc <= 0)
        return rc;
    for (i = 0; i < st->ex.count; i++)
        ((sp__reg *)st->ex.slots[i].reg)->index = 0;
    sel_collect(&st->rd, SEL_RD);
    sel_collect(&st->wr, SEL_WR);
    sel_collect(&st->ex, SEL_EX);
    for (k = 0; k < st->ex.count && n < max; k++) {
        sp__reg *r;
        size_t a;
        int e;
        i = (start + k) % st->ex.count;
        r = (sp__reg *)st->ex.slots[i].reg;
        a = r->index;
        e = sp__select_to_events((a & SEL_RD) != 0, (a & SEL_WR) != 0, (a & SEL_EX) != 0,
                                 (a & SEL_ERR) != 0, r->events);
        if (e != 0) {
            ev[n].sock = r->sock;
            ev[n].events = e;
            ev[n].data = r->data;
            n++;
            st->next = i + 1;
        }
    }
    return n;
}

const sp__poller_ops sp__poller_select_ops = {SP_POLLER_SELECT, sel_init,   sel_fini, sel_changed,
                                              sel_changed,      sel_remove, sel_wait};
