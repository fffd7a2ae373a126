/*
 * models.h - the names the examples give the server's concurrency models on their command
 * lines and in what they print ("auto", "threads", "fork", "events": ::sp_model's order).
 * Shared by echo.c and httpd.c (models.c).
 */
#ifndef SOCKPORT_EXAMPLES_MODELS_H
#define SOCKPORT_EXAMPLES_MODELS_H

/* The SP_MODEL_* a name stands for, or -1 for an unknown name. */
int parse_model(const char *name);

/* The name of an SP_MODEL_* value ("?" for any other). */
const char *model_name(int model);

#endif /* SOCKPORT_EXAMPLES_MODELS_H */
