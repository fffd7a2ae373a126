/*
 * server_post.c - replying later, from any thread: sp_server_post, and the references
 * (sp_conn_hold / sp_conn_release) that keep a connection's handle valid for such a reply.
 *
 * Event model: a post is queued (a mutex-guarded FIFO) and the loop is woken; the loop
 * runs the queue once per wakeup, in the order posted. Thread and fork models: the post
 * runs at once on the calling thread (sends are thread-safe there). In every model posts
 * are accepted from the run's start to its end; those queued at the end run before
 * sp_server_run returns, and the end waits for those running on other threads, so that
 * no post runs after the run (nor after sp_server_destroy).
 */
#include "server.h"

#include <stdlib.h>

struct sp__post {
    void (*fn)(sp_server *srv, void *arg);
    void *arg;
    sp__post *next;
};

int sp__posts_init(sp_server *srv)
{
    int rc = sp__mutex_init(&srv->posts.lock);
    if (rc == 0 && (rc = sp__cond_init(&srv->posts.idle)) != 0)
        sp__mutex_destroy(&srv->posts.lock);
    return rc;
}

void sp__posts_fini(sp_server *srv)
{
    sp__cond_destroy(&srv->posts.idle);
    sp__mutex_destroy(&srv->posts.lock);
}

void sp__posts_open(sp_server *srv)
{
    sp__mutex_lock(&srv->posts.lock);
    srv->posts.open = 1;
    sp__mutex_unlock(&srv->posts.lock);
}

/* Take the queue (in order). */
static sp__post *take(sp_server *srv)
{
    sp__post *list;
    sp__mutex_lock(&srv->posts.lock);
    list = srv->posts.head;
    srv->posts.head = srv->posts.tail = NULL;
    sp__mutex_unlock(&srv->posts.lock);
    return list;
}

static void run_list(sp_server *srv, sp__post *list)
{
    while (list != NULL) {
        sp__post *p = list;
        list = p->next;
        p->fn(srv, p->arg);
        free(p);
    }
}

void sp__posts_drain(sp_server *srv)
{
    /* posts made by these (from the loop) wake the loop again: the next pass runs them */
    run_list(srv, take(srv));
}

void sp__posts_close(sp_server *srv)
{
    sp__post *list;
    sp__mutex_lock(&srv->posts.lock);
    srv->posts.open = 0;
    while (srv->posts.busy > 0)
        (void)sp__cond_wait(&srv->posts.idle, &srv->posts.lock, -1);
    sp__mutex_unlock(&srv->posts.lock);
    /* refused from now on: what is queued is all there will be (a post it makes fails) */
    while ((list = take(srv)) != NULL)
        run_list(srv, list);
}

int sp_server_post(sp_server *srv, void (*fn)(sp_server *srv, void *arg), void *arg)
{
    sp__post *p;
    int wake;
    if (srv == NULL || fn == NULL)
        return SP_EINVAL;
    if (srv->model->blocking) { /* at once, on this thread */
        sp__mutex_lock(&srv->posts.lock);
        if (!srv->posts.open) {
            sp__mutex_unlock(&srv->posts.lock);
            return SP_EINVAL;
        }
        srv->posts.busy++;
        sp__mutex_unlock(&srv->posts.lock);
        fn(srv, arg);
        sp__mutex_lock(&srv->posts.lock);
        if (--srv->posts.busy == 0)
            sp__cond_broadcast(&srv->posts.idle);
        sp__mutex_unlock(&srv->posts.lock);
        return 0;
    }
    p = (sp__post *)malloc(sizeof *p);
    if (p == NULL)
        return SP_ENOMEM;
    p->fn = fn;
    p->arg = arg;
    p->next = NULL;
    sp__mutex_lock(&srv->posts.lock);
    if (!srv->posts.open) {
        sp__mutex_unlock(&srv->posts.lock);
        free(p);
        return SP_EINVAL;
    }
    wake = srv->posts.head == NULL; /* else a wake is on its way already */
    if (srv->posts.tail != NULL)
        srv->posts.tail->next = p;
    else
        srv->posts.head = p;
    srv->posts.tail = p;
    sp__mutex_unlock(&srv->posts.lock);
    return wake ? sp_waker_wake(srv->waker) : 0;
}

/* ---- references ---------------------------------------------------------------------- */

void sp_conn_hold(sp_conn *c)
{
    if (c != NULL)
        (void)sp__atomic_add(&c->refs, 1);
}

void sp_conn_release(sp_conn *c)
{
    if (c == NULL || sp__atomic_add(&c->refs, -1) != 0)
        return;
    /* the last one: the server is done with it (sp__conn_free freed the rest) */
    if (c->srv->model->blocking) {
        sp__mutex_destroy(&SP__BLOCKING(c)->send_lock);
        free(SP__BLOCKING(c)->stage); /* a held connection's send may have gathered */
    }
    free(c);
}

int sp_conn_is_open(const sp_conn *c)
{
    int open;
    if (c == NULL)
        return 0;
    if (!c->srv->model->blocking)
        return c->reg.sock != SP_INVALID_SOCKET; /* on the loop's thread */
    sp__mutex_lock(&SP__BLOCKING(c)->send_lock); /* closed under it (any thread) */
    open = c->reg.sock != SP_INVALID_SOCKET;
    sp__mutex_unlock(&SP__BLOCKING(c)->send_lock);
    return open;
}
