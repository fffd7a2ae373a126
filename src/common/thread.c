/* thread.c - a thread's start and end, the same everywhere, over the backend's spawn and
 * wait (thread.h). */
#include "thread.h"

#include <stdlib.h>

void sp__thread_run(sp__thread *t)
{
    t->fn(t->arg);
}

int sp__thread_start(sp__thread **out, void (*fn)(void *), void *arg)
{
    sp__thread *t = (sp__thread *)malloc(sizeof *t);
    int rc;
    if (t == NULL)
        return SP_ENOMEM;
    t->fn = fn;
    t->arg = arg;
    rc = sp__thread_spawn(t);
    if (rc != 0) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void sp__thread_join(sp__thread *t)
{
    sp__thread_wait(t);
    free(t);
}
