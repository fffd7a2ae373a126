/*
 * demo.c - an echo server and client over loopback in one program, printing what they
 * exchanged. No threads are needed: the kernel queues the client's connection and bytes
 * until the server gets to them, so one thread can play both sides in turn.
 */
#include <sockport.h>

#include <stdio.h>
#include <string.h>

static int check(int rc, const char *what)
{
    if (rc < 0)
        fprintf(stderr, "demo: %s: %s (%s)\n", what, sp_strerror(rc), sp_err_name(rc));
    return rc;
}

int main(void)
{
    static const char *const messages[] = {"hello", "sockport says the same thing everywhere",
                                           "bye"};
    sp_socket_t listener, client, server;
    sp_addr where;
    char text[SP_ADDR_STRLEN], buf[128];
    size_t i;
    int rc = 1;

    if (check(sp_init(), "init") < 0)
        return 1;
    if (check(sp_listen_on(&listener, "127.0.0.1:0", 16, 0), "listen") < 0 ||
        check(sp_local_addr(listener, &where), "local address") < 0)
        goto done;
    sp_addr_format(&where, text, sizeof text);
    printf("server listening on %s (%s backend)\n", text, sp_platform());

    if (check(sp_dial(&client, text, 2000), "dial") < 0)
        goto done;
    if (check(sp_accept(listener, &server, &where, 0), "accept") < 0)
        goto done;
    sp_addr_format(&where, text, sizeof text);
    printf("server accepted a client from %s\n", text);

    for (i = 0; i < sizeof messages / sizeof messages[0]; i++) {
        size_t n = strlen(messages[i]);
        ptrdiff_t got;
        if (check(sp_send_all(client, messages[i], n, 2000, NULL), "client send") < 0)
            goto done;
        got = sp_recv(server, buf, sizeof buf);
        if (check((int)got, "server recv") < 0)
            goto done;
        printf("server got  %2d bytes: \"%.*s\" and echoes them\n", (int)got, (int)got, buf);
        if (check(sp_send_all(server, buf, (size_t)got, 2000, NULL), "server send") < 0 ||
            check(sp_recv_all(client, buf, n, 2000, NULL), "client recv") < 0)
            goto done;
        printf("client got  %2d bytes: \"%.*s\"\n", (int)n, (int)n, buf);
    }
    /* The client is done: shut down its sending side; the server sees end-of-stream. */
    sp_shutdown(client, SP_SHUT_WR);
    if (sp_recv(server, buf, sizeof buf) == 0)
        printf("server saw the client's orderly close\n");
    sp_close(server);
    sp_close(client);
    sp_close(listener);
    printf("demo: ok\n");
    rc = 0;
done:
    sp_cleanup();
    return rc;
}
