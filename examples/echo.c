/*
 * echo.c - a framed echo server and its client, the same source on every OS.
 *
 *   sockport_echo server MODEL ADDRESS     serve until SIGINT / Ctrl-C (MODEL: auto,
 *                                          threads, fork, events)
 *   sockport_echo client ADDRESS N SIZE    send N messages of SIZE bytes, check each echo
 *   sockport_echo demo MODEL [CLIENTS N]   both in one process: print one line per model
 *
 * Messages are length-prefixed (4 bytes, big-endian), up to 1 MiB.
 */
#include "models.h"

#include <sockport.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sp_framer framer;
static sp_server *running_server;

static int echo_message(sp_conn *c, const void *msg, size_t len)
{
    return sp_conn_send(c, msg, len);
}

static const sp_server_handler echo_handler = {NULL, echo_message, NULL, NULL, NULL};

static int make_server(sp_server **srv, int model, const char *address)
{
    sp_server_config cfg;
    int rc;
    sp_server_config_init(&cfg);
    cfg.model = model;
    cfg.handler = &echo_handler;
    cfg.framer = &framer;
    rc = sp_server_create(srv, &cfg);
    if (rc == 0 && (rc = sp_server_listen(*srv, address)) != 0)
        sp_server_destroy(*srv);
    return rc;
}

/* Send n messages of size bytes and check every echo. Counts into *msgs, *bytes. */
static int run_client(const char *address, long n, size_t size, long *msgs, long *bytes)
{
    sp_socket_t s;
    sp_frame_decoder dec;
    sp_frame_msg m;
    unsigned char *buf = (unsigned char *)malloc(size ? size : 1);
    long i;
    int rc = sp_dial(&s, address, 5000);
    if (rc != 0 || buf == NULL) {
        free(buf);
        return rc ? rc : SP_ENOMEM;
    }
    sp_frame_decoder_init(&dec, &framer);
    for (i = 0; i < n && rc == 0; i++) {
        size_t k;
        for (k = 0; k < size; k++)
            buf[k] = (unsigned char)(i * 31 + (long)k);
        rc = sp_frame_send(s, &framer, buf, size, 10000);
        if (rc == 0)
            rc = sp_frame_recv(s, &dec, &m, 10000);
        if (rc == 1)
            rc = m.len == size && memcmp(m.data, buf, size) == 0 ? 0 : SP_EINVAL;
        else if (rc == 0)
            rc = SP_EEOF;
        if (rc == 0) {
            (*msgs)++;
            *bytes += (long)size;
        }
    }
    sp_frame_decoder_free(&dec);
    sp_close(s);
    free(buf);
    return rc;
}

static void on_sigint(int sig)
{
    (void)sig;
    if (running_server)
        sp_server_stop(running_server); /* async-signal-safe */
}

static int cmd_server(int model, const char *address)
{
    sp_server *srv;
    int rc = make_server(&srv, model, address);
    if (rc != 0) {
        fprintf(stderr, "echo: %s: %s\n", address, sp_strerror(rc));
        return 1;
    }
    running_server = srv;
    catch_stop_signals(on_sigint);
    printf("echo: serving on %s with the %s model\n", address, model_name(sp_server_model(srv)));
    fflush(stdout);
    rc = sp_server_run(srv);
    sp_server_destroy(srv);
    return rc == 0 ? 0 : 1;
}

/* The demo runs the server on a thread of its own (sp_server_start) and the clients in
 * this one, one after another. */
static int cmd_demo(int model, long clients, long n)
{
    sp_server *srv;
    sp_addr where;
    char address[SP_ADDR_STRLEN];
    long c, msgs = 0, bytes = 0, errors = 0;
    int rc = make_server(&srv, model, "127.0.0.1:0");
    if (rc != 0) {
        printf("%-8s not available here: %s\n", model_name(model), sp_strerror(rc));
        return rc == SP_ENOTSUP ? 0 : 1;
    }
    sp_server_local_addr(srv, 0, &where);
    sp_addr_format(&where, address, sizeof address);
    rc = sp_server_start(srv);
    for (c = 0; c < clients && rc == 0; c++)
        if (run_client(address, n, (size_t)(64 + c * 97 % 4000), &msgs, &bytes) != 0)
            errors++;
    sp_server_stop(srv);
    if (sp_server_wait(srv) != 0)
        errors++;
    printf("%-8s %6ld clients %8ld messages %10ld bytes %3ld errors\n",
           model_name(sp_server_model(srv)), clients, msgs, bytes, errors);
    sp_server_destroy(srv);
    return errors != 0;
}

int main(int argc, char **argv)
{
    int model = argc > 2 ? parse_model(argv[2]) : -1, rc;
    sp_init();
    sp_framer_prefix(&framer, 4, 0, (size_t)1 << 20);
    if (argc >= 3 && strcmp(argv[1], "server") == 0 && model >= 0) {
        rc = cmd_server(model, argc > 3 ? argv[3] : "127.0.0.1:7777");
    } else if (argc >= 3 && strcmp(argv[1], "client") == 0) {
        long msgs = 0, bytes = 0;
        rc = run_client(argv[2], argc > 3 ? atol(argv[3]) : 1000,
                        (size_t)(argc > 4 ? atol(argv[4]) : 64), &msgs, &bytes);
        printf("client: %ld messages, %ld bytes echoed, %s\n", msgs, bytes,
               rc == 0 ? "ok" : sp_strerror(rc));
        rc = rc != 0;
    } else if (argc >= 3 && strcmp(argv[1], "demo") == 0 && model >= 0) {
        rc = cmd_demo(model, argc > 3 ? atol(argv[3]) : 4, argc > 4 ? atol(argv[4]) : 250);
    } else {
        fprintf(stderr,
                "usage: %s server MODEL [ADDRESS] | client ADDRESS [N [SIZE]] | "
                "demo MODEL [CLIENTS [N]]\n(MODEL: auto, threads, fork, events)\n",
                argv[0]);
        rc = 2;
    }
    sp_cleanup();
    return rc;
}
