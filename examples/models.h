/*
 * models.h - what the server examples share (models.c): the names they give the server's
 * concurrency models on their command lines and in what they print ("auto", "threads",
 * "fork", "events": ::sp_model's order), and how they catch the stop signals. Shared by
 * echo.c, chat.c and httpd.c.
 */
#ifndef SOCKPORT_EXAMPLES_MODELS_H
#define SOCKPORT_EXAMPLES_MODELS_H

/* The SP_MODEL_* a name stands for, or -1 for an unknown name. */
int parse_model(const char *name);

/* The name of an SP_MODEL_* value ("?" for any other). */
const char *model_name(int model);

/*
 * Run handler on SIGINT and SIGTERM for as long as the program runs. On POSIX through
 * sigaction() without SA_RESETHAND: signal() in strict C11 has System V semantics there
 * (glibc: the handler is reset to SIG_DFL as the signal is delivered), so a second SIGINT
 * arriving before the handler could install itself again killed the program - and
 * coreutils' timeout, for one, forwards a SIGINT to its child twice (to it, then to its
 * process group). On Windows through signal() and a trampoline that installs itself
 * again before it calls handler (the CRT resets a handler to SIG_DFL as it delivers it).
 */
void catch_stop_signals(void (*handler)(int sig));

#endif /* SOCKPORT_EXAMPLES_MODELS_H */
