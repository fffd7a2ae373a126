/* server.c (Windows) - no fork: threads are the default model, SP_MODEL_FORK is
 * SP_ENOTSUP (sp_server_create refuses it). */
#include "server.h"

int sp__server_default_model(void)
{
    return SP_MODEL_THREADS;
}

int sp__server_has_fork(void)
{
    return 0;
}

int sp__server_run_fork(sp_server *srv)
{
    (void)srv;
    return SP_ENOTSUP;
}
