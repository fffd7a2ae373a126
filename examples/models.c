/* models.c - model names for the examples' command lines (models.h). */
#include "models.h"

#include <sockport.h>

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
