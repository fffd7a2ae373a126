/* server.c (Windows) - no fork: threads are the default model, SP_MODEL_FORK is
 * SP_ENOTSUP (sp_server_create refuses it). */
#include "server.h"

int sp__server_default_model(void)
{
    return SP_MODEL_THREADS;
}

const sp__model *sp__server_fork_model(void)
{
    return NULL;
}

/* Winsock's shutdown(SD_RECEIVE) is not documented to wake a recv blocked in another thread, and
 * does not (docs/platforms.md): the thread model polls its kick and stop waker there. */
int sp__server_recv_wakes(void)
{
    return 0;
}
