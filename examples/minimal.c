/* minimal.c - the README's example, built and run by the tests so that it stays true. */
#include <sockport.h>
#include <stdio.h>

int main(void)
{
    sp_socket_t lst, cli, srv;
    sp_addr where;
    char text[SP_ADDR_STRLEN], buf[64];
    sp_init();
    sp_listen_on(&lst, "127.0.0.1:0", 16, 0); /* any free port */
    sp_local_addr(lst, &where);
    sp_addr_format(&where, text, sizeof text);
    int rc = sp_dial(&cli, text, 2000); /* 2 s connect timeout */
    if (rc < 0) {
        printf("dial: %s\n", sp_strerror(rc));
        return 1;
    }
    sp_accept(lst, &srv, NULL, 0);
    sp_send_all(cli, "ping", 4, 1000, NULL); /* all 4 bytes or an error */
    sp_recv_all(srv, buf, 4, 1000, NULL);    /* exactly 4 bytes */
    sp_send_all(srv, buf, 4, 1000, NULL);
    sp_shutdown(cli, SP_SHUT_WR);                /* no more requests */
    ptrdiff_t n = sp_recv(cli, buf, sizeof buf); /* the echo */
    printf("%.*s\n", (int)n, buf);
    sp_close(srv);
    sp_close(cli);
    sp_close(lst);
    return sp_cleanup();
}
