/*
 * sendfile.c (Windows) - the file verbs of backend.h for sp_conn_sendfile: a C runtime
 * descriptor's HANDLE (_get_osfhandle), DuplicateHandle, ReadFile at an offset, and
 * TransmitFile.
 *
 * TransmitFile (mswsock.h; "TransmitFile function", Microsoft Learn) is looked up with
 * SIO_GET_EXTENSION_FUNCTION_POINTER, as Microsoft recommends for the mswsock extensions,
 * and called overlapped: the OVERLAPPED's Offset / OffsetHigh give the file offset (a NULL
 * OVERLAPPED would read at the file's position), and the socket's mode does not matter.
 * It ends only by completing, so a caller that cannot wait (the event model) gets
 * SP_ENOTSUP and reads and sends instead; a blocking model waits for it in 50 ms slices,
 * asking its wait callback between them (the send deadline, the stop). The same page:
 * "Workstation and client versions of Windows optimize the TransmitFile function for
 * minimum memory and resource utilization by limiting the number of concurrent
 * TransmitFile operations allowed on the system to a maximum of two" - one slow reader
 * would hold a slot the whole download, so client editions read and send unless the
 * server asked for SP_SENDFILE_ON.
 */
#include "internal.h"

#include <winsock2.h>
#include <mswsock.h>
#include <windows.h>

#include <io.h>
#include <string.h>

#define TF_CHUNK 65536u /* bytes per TransmitFile call: a wait that cannot see progress */
#define TF_SLICE 50u    /* ms between the caller's wait checks */

#if defined(_MSC_VER) || defined(_UCRT)
/* The UCRT calls its invalid-parameter handler (by default: end the process) for a
 * descriptor it does not know; for the duration of one lookup this thread's handler
 * returns instead, and _get_osfhandle reports -1. */
static void quiet_handler(const wchar_t *expr, const wchar_t *fn, const wchar_t *file,
                          unsigned int line, uintptr_t reserved)
{
    (void)expr;
    (void)fn;
    (void)file;
    (void)line;
    (void)reserved;
}

static intptr_t os_handle(int fd)
{
    _invalid_parameter_handler old = _set_thread_local_invalid_parameter_handler(quiet_handler);
    intptr_t h = _get_osfhandle(fd);
    (void)_set_thread_local_invalid_parameter_handler(old);
    return h;
}
#else
static intptr_t os_handle(int fd)
{
    return _get_osfhandle(fd); /* msvcrt: -1 for a descriptor it does not know */
}
#endif

int sp__file_open(int fd, int dup, sp__file *out, uint64_t *size)
{
    intptr_t osh;
    HANDLE h, d;
    DWORD type;
    if (fd < 0)
        return SP_EBADF;
    /* -1: not open; -2: a standard stream without a console (the CRT's _NO_CONSOLE_FILENO) */
    osh = os_handle(fd);
    if (osh == -1 || osh == -2)
        return SP_EBADF;
    h = (HANDLE)osh;
    type = GetFileType(h);
    if (type == FILE_TYPE_UNKNOWN && GetLastError() != NO_ERROR)
        return SP_EBADF;
    *size = SP__FILE_SIZE_UNKNOWN;
    if (type == FILE_TYPE_DISK) {
        LARGE_INTEGER sz;
        if (!GetFileSizeEx(h, &sz))
            return sp__fail((int)GetLastError());
        *size = (uint64_t)sz.QuadPart;
    }
    if (!dup) {
        *out = (sp__file)h;
        return 0;
    }
    if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &d, 0, FALSE,
                         DUPLICATE_SAME_ACCESS))
        return sp__fail((int)GetLastError());
    *out = (sp__file)d;
    return 0;
}

void sp__file_close(sp__file f)
{
    (void)CloseHandle((HANDLE)f);
}

ptrdiff_t sp__file_pread(sp__file f, void *buf, size_t len, uint64_t off)
{
    OVERLAPPED ov;
    DWORD n = 0, err;
    memset(&ov, 0, sizeof ov);
    ov.Offset = (DWORD)off;
    ov.OffsetHigh = (DWORD)(off >> 32);
    if (ReadFile((HANDLE)f, buf, (DWORD)len, &n, off == SP__FILE_SEQUENTIAL ? NULL : &ov))
        return (ptrdiff_t)n;
    err = GetLastError();
    if (err == ERROR_IO_PENDING) { /* a handle opened for overlapped reads */
        if (GetOverlappedResult((HANDLE)f, &ov, &n, TRUE))
            return (ptrdiff_t)n;
        err = GetLastError();
    }
    if (err == ERROR_HANDLE_EOF || err == ERROR_BROKEN_PIPE)
        return 0; /* the end of the file (or of a pipe) */
    return sp__fail((int)err);
}

/* TransmitFile, looked up once (a race only looks it up twice). */
static LPFN_TRANSMITFILE transmit_file(SOCKET s)
{
    static LPFN_TRANSMITFILE fn;
    static LONG looked;
    if (InterlockedCompareExchange(&looked, 0, 0) == 0) {
        GUID id = WSAID_TRANSMITFILE;
        LPFN_TRANSMITFILE found = NULL;
        DWORD got = 0;
        if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &found, sizeof found,
                     &got, NULL, NULL) != 0)
            return NULL; /* not looked up: tried again next time */
        fn = found;
        InterlockedExchange(&looked, 1);
    }
    return fn;
}

/* Whether this is a client (workstation) edition of Windows: two TransmitFile at once. */
static int client_edition(void)
{
    OSVERSIONINFOEXW v;
    memset(&v, 0, sizeof v);
    v.dwOSVersionInfoSize = sizeof v;
    v.wProductType = VER_NT_WORKSTATION;
    return VerifyVersionInfoW(&v, VER_PRODUCT_TYPE,
                              VerSetConditionMask(0, VER_PRODUCT_TYPE, VER_EQUAL)) != 0;
}

/* Errors that mean "not this file or socket": nothing sent, read and send instead. */
static int not_for_transmit(DWORD err)
{
    return err == WSAEOPNOTSUPP || err == WSAEINVAL || err == ERROR_INVALID_PARAMETER ||
           err == ERROR_NOT_SUPPORTED || err == ERROR_INVALID_FUNCTION;
}

ptrdiff_t sp__sendfile(sp_socket_t s, sp__file f, uint64_t off, size_t len, int client_ok,
                       int (*wait)(void *arg), void *arg)
{
    LPFN_TRANSMITFILE fn;
    OVERLAPPED ov;
    DWORD n = 0, flags = 0, err = 0;
    BOOL ok;
    if (wait == NULL || (!client_ok && client_edition()) || (fn = transmit_file((SOCKET)s)) == NULL)
        return SP_ENOTSUP;
    if (len == 0)
        return 0; /* a count of 0 means "the whole file" to TransmitFile */
    if (len > TF_CHUNK)
        len = TF_CHUNK;
    memset(&ov, 0, sizeof ov);
    ov.Offset = (DWORD)off;
    ov.OffsetHigh = (DWORD)(off >> 32);
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (ov.hEvent == NULL)
        return sp__fail((int)GetLastError());
    if (!fn((SOCKET)s, (HANDLE)f, (DWORD)len, 0, &ov, NULL, 0)) {
        err = (DWORD)WSAGetLastError();
        if (err != WSA_IO_PENDING && err != ERROR_IO_PENDING) {
            CloseHandle(ov.hEvent);
            return not_for_transmit(err) ? SP_ENOTSUP : sp__fail((int)err);
        }
        while (WaitForSingleObject(ov.hEvent, TF_SLICE) != WAIT_OBJECT_0) {
            int rc = wait(arg);
            if (rc != 0) { /* the deadline or the stop: cancel; what went out is unknown */
                (void)CancelIoEx((HANDLE)s, &ov);
                (void)WSAGetOverlappedResult((SOCKET)s, &ov, &n, TRUE, &flags);
                CloseHandle(ov.hEvent);
                return rc;
            }
        }
    }
    ok = WSAGetOverlappedResult((SOCKET)s, &ov, &n, FALSE, &flags);
    if (!ok)
        err = (DWORD)WSAGetLastError();
    CloseHandle(ov.hEvent);
    if (!ok)
        return n == 0 && not_for_transmit(err) ? SP_ENOTSUP : sp__fail((int)err);
    return (ptrdiff_t)n; /* fewer than len: the file ended */
}
