/*
 * error.c (Windows) - WSA* and getaddrinfo codes onto sockport codes; the per-thread
 * native code of the last failure.
 */
#include "internal.h"
#include "errmap.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

/* The Winsock column of the maps (rows with 0 there are skipped by sp__errmap_*). */
#define SP__WIN_ROW(sp, posix, win) {win, SP_##sp},
static const sp__errrow native_rows[] = {SP_NATIVE_ERRMAP(SP__WIN_ROW)};
static const sp__errrow gai_rows[] = {SP_GAI_ERRMAP(SP__WIN_ROW)};
#undef SP__WIN_ROW

#define SP__COUNT(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The native code of this thread's last failure, in a Win32 TLS slot rather than a
 * _Thread_local variable: gcc for mingw-w64 implements _Thread_local with emulated TLS
 * over winpthreads, which would make the DLL depend on libwinpthread-1.dll. The slot is
 * made once, on first use (sp__fail may run before sp_init), and holds the int itself.
 */
static INIT_ONCE tls_once = INIT_ONCE_STATIC_INIT;
static DWORD tls_slot = TLS_OUT_OF_INDEXES;

static BOOL CALLBACK tls_make(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    tls_slot = TlsAlloc(); /* TLS_OUT_OF_INDEXES on failure: nothing is recorded then */
    return TRUE;
}

static DWORD tls_get_slot(void)
{
    InitOnceExecuteOnce(&tls_once, tls_make, NULL, NULL);
    return tls_slot;
}

void sp__set_last_native(int native)
{
    DWORD slot = tls_get_slot();
    if (slot != TLS_OUT_OF_INDEXES)
        TlsSetValue(slot, (LPVOID)(intptr_t)native);
}

int sp_last_native_error(void)
{
    DWORD slot = tls_get_slot();
    DWORD saved;
    intptr_t v;
    if (slot == TLS_OUT_OF_INDEXES)
        return 0;
    saved = GetLastError(); /* TlsGetValue clears it; keep it for the caller */
    v = (intptr_t)TlsGetValue(slot);
    SetLastError(saved);
    return (int)v;
}

const sp__errrow *sp__native_errmap(size_t *n)
{
    *n = SP__COUNT(native_rows);
    return native_rows;
}

/*
 * getaddrinfo on Windows returns WSA* codes (EAI_* are aliases of them), and may return
 * any socket error besides the EAI_* ones (WSANOTINITIALISED before WSAStartup): look in
 * the getaddrinfo rows first, then in the socket rows.
 */
int sp_err_from_gai(int gai_code)
{
    int code = sp__errmap_from(gai_rows, SP__COUNT(gai_rows), gai_code);
    return code == SP_EUNKNOWN ? sp_err_from_native(gai_code) : code;
}

int sp__fail_last(void)
{
    return sp__fail(WSAGetLastError());
}

int sp__fail_gai(int gai_code)
{
    int code = sp_err_from_gai(gai_code);
    sp__set_last_native(gai_code);
    return code == SP_OK ? SP_EUNKNOWN : code;
}
