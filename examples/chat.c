/*
 * chat.c - a line-delimited chat room: every line a client sends goes to every other
 * client. Runs on the event and thread models (the fork model has no shared room).
 *
 *   sockport_chat server MODEL [ADDRESS]   serve until Ctrl-C (MODEL: auto, threads, events)
 *   sockport_chat demo MODEL               three clients in this process; prints what each
 *                                          one heard
 */
#include "models.h"

#include <sockport.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

static sp_framer lines;
static sp_server *running_server;

static int on_line(sp_conn *c, const void *line, size_t len)
{
    sp_server_broadcast(sp_conn_server(c), c, line, len);
    return 0;
}

static const sp_server_handler chat_handler = {NULL, on_line, NULL, NULL, NULL};

static int make_server(sp_server **srv, int model, const char *address)
{
    sp_server_config cfg;
    int rc;
    sp_server_config_init(&cfg);
    cfg.model = model;
    cfg.handler = &chat_handler;
    cfg.framer = &lines;
    rc = sp_server_create(srv, &cfg);
    if (rc == 0 && (rc = sp_server_listen(*srv, address)) != 0)
        sp_server_destroy(*srv);
    return rc;
}

static void on_sigint(int sig)
{
    (void)sig;
    if (running_server)
        sp_server_stop(running_server);
}

/* Three clients: alice speaks, bob and carol each hear her line, alice hears nothing. */
static int demo(int model)
{
    static const char *const names[3] = {"alice", "bob", "carol"};
    sp_server *srv;
    sp_socket_t s[3];
    sp_frame_decoder dec[3];
    sp_frame_msg m;
    sp_addr where;
    char address[SP_ADDR_STRLEN];
    int i, heard = 0, rc = make_server(&srv, model, "127.0.0.1:0");
    if (rc != 0) {
        printf("chat: %s\n", sp_strerror(rc));
        return 1;
    }
    sp_server_local_addr(srv, 0, &where);
    sp_addr_format(&where, address, sizeof address);
    sp_server_start(srv);
    for (i = 0; i < 3; i++) {
        sp_dial(&s[i], address, 5000);
        sp_frame_decoder_init(&dec[i], &lines);
    }
    /* wait until the server has all three before speaking */
    for (i = 0; i < 500 && sp_server_connections(srv) < 3; i++)
        sp_wait(s[0], SP_EV_READ, 10);
    sp_frame_send(s[0], &lines, "hello, room", 11, 5000);
    for (i = 1; i < 3; i++) {
        if (sp_frame_recv(s[i], &dec[i], &m, 5000) == 1) {
            printf("%s heard: %.*s\n", names[i], (int)m.len, (const char *)m.data);
            heard++;
        }
    }
    if (sp_frame_recv(s[0], &dec[0], &m, 200) == SP_ETIMEDOUT)
        printf("alice heard nothing of her own line\n");
    else
        heard = -1;
    for (i = 0; i < 3; i++) {
        sp_frame_decoder_free(&dec[i]);
        sp_close(s[i]);
    }
    sp_server_stop(srv);
    sp_server_wait(srv);
    sp_server_destroy(srv);
    printf("chat demo: %s\n", heard == 2 ? "ok" : "FAILED");
    return heard == 2 ? 0 : 1;
}

int main(int argc, char **argv)
{
    int model = -1, rc = 2;
    sp_init();
    sp_framer_delim(&lines, "\n", 1, 4096);
    if (argc > 2)
        model = strcmp(argv[2], "threads") == 0  ? SP_MODEL_THREADS
                : strcmp(argv[2], "events") == 0 ? SP_MODEL_EVENTS
                : strcmp(argv[2], "auto") == 0   ? SP_MODEL_AUTO
                                                 : -1;
    if (argc > 2 && model >= 0 && strcmp(argv[1], "demo") == 0) {
        rc = demo(model);
    } else if (argc > 2 && model >= 0 && strcmp(argv[1], "server") == 0) {
        const char *address = argc > 3 ? argv[3] : "127.0.0.1:7778";
        rc = make_server(&running_server, model, address);
        if (rc == 0) {
            catch_stop_signals(on_sigint);
            printf("chat: serving on %s\n", address);
            fflush(stdout);
            rc = sp_server_run(running_server) != 0;
            sp_server_destroy(running_server);
        } else {
            fprintf(stderr, "chat: %s\n", sp_strerror(rc));
            rc = 1;
        }
    } else {
        fprintf(stderr, "usage: %s server|demo threads|events|auto [ADDRESS]\n", argv[0]);
    }
    sp_cleanup();
    return rc;
}
