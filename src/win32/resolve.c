/*
 * resolve.c (Windows) - the resolver's worker: a thread whose handle is closed at once
 * (Windows' way to detach: the thread runs on and its object goes when it ends).
 *
 * Why not GetAddrInfoExW with its timeout: its asynchronous form (lpOverlapped, which the
 * timeout needs) exists only from Windows 8 / Server 2012 (Microsoft's pages "GetAddrInfoExW
 * function (ws2tcpip.h)" and "GetAddrInfoExOverlappedResult function", learn.microsoft.com),
 * and sockport supports Windows 7. A worker thread that the caller can leave behind gives
 * the same bound on every version, with the same code as POSIX.
 */
#include "resolve.h"

#include <windows.h>
#include <process.h>

static unsigned __stdcall worker(void *arg)
{
    sp__resolve_run((sp__resolve_job *)arg);
    return 0;
}

int sp__resolve_spawn(sp__resolve_job *j)
{
    uintptr_t h = _beginthreadex(NULL, 0, worker, j, 0, NULL);
    if (h == 0)
        return SP_EAGAIN;
    CloseHandle((HANDLE)h);
    return 0;
}
