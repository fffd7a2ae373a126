/*
 * base.c (Windows) - sp_init / sp_cleanup around WSAStartup / WSACleanup, the backend
 * name and the monotonic clock.
 */
#include "internal.h"

#include <winsock2.h>
#include <windows.h>

/*
 * The init count. An SRWLOCK needs no initialisation call (SRWLOCK_INIT is a constant),
 * so there is no start-up race; WSAStartup/WSACleanup run under it, which also keeps a
 * concurrent sp_init from seeing Winsock half torn down by the last sp_cleanup.
 */
static SRWLOCK init_lock = SRWLOCK_INIT;
static int init_count;

int sp_init(void)
{
    int rc = 0;
    AcquireSRWLockExclusive(&init_lock);
    if (init_count == 0) {
        WSADATA wsa;
        int err = WSAStartup(MAKEWORD(2, 2), &wsa); /* returns the error, no WSAGetLastError */
        if (err != 0) {
            rc = sp__fail(err);
        } else if (LOBYTE(wsa.wVersion) != 2 || HIBYTE(wsa.wVersion) != 2) {
            WSACleanup();
            rc = sp__fail(WSAVERNOTSUPPORTED);
        }
    }
    if (rc == 0) {
        if (init_count == INT_MAX)
            rc = SP_EINVAL;
        else
            init_count++;
    }
    ReleaseSRWLockExclusive(&init_lock);
    return rc;
}

int sp_cleanup(void)
{
    int rc = 0;
    AcquireSRWLockExclusive(&init_lock);
    if (init_count == 0) {
        rc = SP_ENOTINIT;
    } else if (--init_count == 0) {
        WSACleanup();
    }
    ReleaseSRWLockExclusive(&init_lock);
    return rc;
}

const char *sp_platform(void)
{
    return "win32";
}

uint64_t sp__now_ms(void)
{
    return (uint64_t)GetTickCount64();
}
