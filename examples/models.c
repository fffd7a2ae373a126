/* models.c - model names for the examples' command lines, and their stop signals
 * (models.h). */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#    define _POSIX_C_SOURCE 200809L /* sigaction() under strict C11 */
#endif
#include "models.h"

#include <sockport.h>

#include <signal.h>
#include <string.h>

static const struct {
    int model;
    const char *name;
} models[] = {
    {SP_MODEL_AUTO, "auto"},
    {SP_MODEL_THREADS, "threads"},
    {SP_MODEL_FORK, "fork"},
    {SP_MODEL_EVENTS, "events"},
};

#define N_MODELS (sizeof models / sizeof models[0])

int parse_model(const char *name)
{
    size_t i;
    for (i = 0; i < N_MODELS; i++)
        if (strcmp(name, models[i].name) == 0)
            return models[i].model;
    return -1;
}

const char *model_name(int model)
{
    size_t i;
    for (i = 0; i < N_MODELS; i++)
        if (models[i].model == model)
            return models[i].name;
    return "?";
}

#ifdef _WIN32
/* The CRT resets a handler to SIG_DFL before it calls it ("signal", Microsoft Learn): a
 * second Ctrl-C would end the process in the middle of the stop. The trampoline puts
 * itself back first, so that every Ctrl-C asks for the stop again (sp_server_stop is
 * idempotent). */
static void (*volatile stop_handler)(int sig);

static void stop_trampoline(int sig)
{
    signal(sig, stop_trampoline);
    stop_handler(sig);
}
#endif

void catch_stop_signals(void (*handler)(int sig))
{
#ifdef _WIN32
    stop_handler = handler;
    signal(SIGINT, stop_trampoline);
    signal(SIGTERM, stop_trampoline);
#else
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler; /* no SA_RESETHAND: it stays; no SA_RESTART: sockport retries */
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
#endif
}
