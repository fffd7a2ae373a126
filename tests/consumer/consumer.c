/*
 * consumer.c - a program outside sockport that uses it the way a user would: through the
 * installed header and library (find_package, pkg-config) or a source subdirectory.
 * scripts/checks/20-consumer.sh builds it each way and runs it. It exits 0 only when a
 * loopback TCP exchange and a socketpair exchange both carried their bytes intact and the
 * library linked is the version of the header compiled against.
 */
#include <sockport.h>
#include <stdio.h>
#include <string.h>

static int failed(const char *what, int rc)
{
    fprintf(stderr, "consumer: %s: %s (%s)\n", what, sp_strerror(rc), sp_err_name(rc));
    return 1;
}

/* Send `msg` from `a`, receive it whole on `b`, compare. */
static int exchange(sp_socket_t a, sp_socket_t b, const char *msg)
{
    char buf[64];
    size_t len = strlen(msg);
    int rc = sp_send_all(a, msg, len, 5000, NULL);
    if (rc < 0)
        return failed("send_all", rc);
    rc = sp_recv_all(b, buf, len, 5000, NULL);
    if (rc < 0)
        return failed("recv_all", rc);
    if (memcmp(buf, msg, len) != 0) {
        fprintf(stderr, "consumer: received bytes differ from \"%s\"\n", msg);
        return 1;
    }
    return 0;
}

int main(void)
{
    sp_socket_t lst = SP_INVALID_SOCKET, cli = SP_INVALID_SOCKET, srv = SP_INVALID_SOCKET;
    sp_socket_t pair[2] = {SP_INVALID_SOCKET, SP_INVALID_SOCKET};
    sp_addr where;
    char text[SP_ADDR_STRLEN];
    int rc, bad = 0;

    if (strcmp(sp_version(), SP_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer: header %s but library %s\n", SP_VERSION_STRING, sp_version());
        return 1;
    }
    rc = sp_init();
    if (rc < 0)
        return failed("init", rc);

    rc = sp_listen_on(&lst, "127.0.0.1:0", 4, 0);
    if (rc < 0)
        return failed("listen_on 127.0.0.1:0", rc);
    if ((rc = sp_local_addr(lst, &where)) < 0 ||
        (rc = sp_addr_format(&where, text, sizeof text)) < 0)
        return failed("local address", rc);
    if (sp_addr_port(&where) <= 0) {
        fprintf(stderr, "consumer: no port bound (%s)\n", text);
        return 1;
    }
    rc = sp_dial(&cli, text, 5000);
    if (rc < 0)
        return failed("dial", rc);
    rc = sp_accept(lst, &srv, NULL, 0);
    if (rc < 0)
        return failed("accept", rc);
    bad |= exchange(cli, srv, "ping over tcp");
    bad |= exchange(srv, cli, "pong over tcp");

    rc = sp_socketpair(pair);
    if (rc < 0)
        return failed("socketpair", rc);
    bad |= exchange(pair[0], pair[1], "one way");
    bad |= exchange(pair[1], pair[0], "the other way");

    sp_close(pair[0]);
    sp_close(pair[1]);
    sp_close(srv);
    sp_close(cli);
    sp_close(lst);
    rc = sp_cleanup();
    if (rc < 0)
        return failed("cleanup", rc);
    if (bad)
        return 1;
    printf("consumer: ok: sockport %s (%s), tcp %s and socketpair exchanges\n", sp_version(),
           sp_platform(), text);
    return 0;
}
