/*
 * msvc_deprecated.h - force-included (-include) when the test sources are compiled with
 * mingw-w64 to find what MSVC's /W4 /WX would reject: the CRT functions that MSVC's UCRT
 * marks deprecated (warning C4996: "This function or variable may be unsafe", and "The
 * POSIX name for this item is deprecated") are redeclared here as deprecated, so that gcc's
 * -Wdeprecated-declarations names each use. Microsoft's pages list the secure or ISO
 * replacement of each (getenv -> _dupenv_s / getenv_s, strerror -> strerror_s, ...).
 * mingw-w64's printf / scanf family are inline wrappers that cannot be redeclared: the
 * check greps for sprintf, vsprintf and the scanf family instead.
 * The command is in tests/portability/check-msvc-warnings.sh.
 */
#ifndef SOCKPORT_TESTS_MSVC_DEPRECATED_H
#define SOCKPORT_TESTS_MSVC_DEPRECATED_H

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#define SP_MSVC_C4996 __attribute__((deprecated("MSVC C4996 (deprecated in the UCRT)")))

extern "C" {
/* "may be unsafe": the _s versions */
SP_MSVC_C4996 char *getenv(const char *);
SP_MSVC_C4996 char *strerror(int);
SP_MSVC_C4996 char *strcpy(char *, const char *);
SP_MSVC_C4996 char *strcat(char *, const char *);
SP_MSVC_C4996 char *strncpy(char *, const char *, size_t);
SP_MSVC_C4996 char *strncat(char *, const char *, size_t);
SP_MSVC_C4996 char *strtok(char *, const char *);
SP_MSVC_C4996 FILE *fopen(const char *, const char *);
SP_MSVC_C4996 FILE *freopen(const char *, const char *, FILE *);
SP_MSVC_C4996 struct tm *gmtime(const time_t *);
SP_MSVC_C4996 struct tm *localtime(const time_t *);
SP_MSVC_C4996 char *ctime(const time_t *);
SP_MSVC_C4996 char *asctime(const struct tm *);
SP_MSVC_C4996 char *tmpnam(char *);
/* "The POSIX name for this item is deprecated": the _ names */
SP_MSVC_C4996 char *strdup(const char *);
SP_MSVC_C4996 int close(int);
SP_MSVC_C4996 int dup(int);
SP_MSVC_C4996 int dup2(int, int);
SP_MSVC_C4996 int unlink(const char *);
SP_MSVC_C4996 int fileno(FILE *);
SP_MSVC_C4996 int isatty(int);
SP_MSVC_C4996 int getpid(void);
SP_MSVC_C4996 int putenv(const char *);
}

#endif /* SOCKPORT_TESTS_MSVC_DEPRECATED_H */
