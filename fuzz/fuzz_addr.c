/*
 * fuzz_addr.c - libFuzzer target for the address text forms (sp_addr_parse and
 * sp_addr_format in sockport/addr.h).
 *
 * The input is taken as text (cut at its first NUL). Checked:
 *  - parsing anything returns 0 or a negative SP_E* code, never crashes or overreads;
 *  - an address that parsed formats, into a buffer of exactly the size it needs, to a
 *    terminated string of the length returned; every smaller buffer (each its own heap
 *    block of that exact size) gives SP_ENOSPC and an empty, terminated string;
 *  - the formatted text parses again to an equal address (same family and port) that
 *    formats to the same text: format is canonical.
 */
#include <sockport.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *text)
{
    fprintf(stderr, "fuzz_addr: %s (input \"%s\")\n", what, text);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = (char *)malloc(size + 1); /* exact size: ASan sees any overread */
    char out[SP_ADDR_STRLEN], again[SP_ADDR_STRLEN];
    sp_addr a, b;
    int rc, n, m;
    size_t cap;
    if (text == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';

    rc = sp_addr_parse(&a, text);
    if (rc > 0)
        fail("parse returned a positive value", text);
    if (rc < 0) {
        if (sp_err_name(rc) == NULL)
            fail("parse returned an unknown code", text);
        free(text);
        return 0;
    }

    n = sp_addr_format(&a, out, sizeof out);
    if (n < 0)
        fail("an address that parsed does not format", text);
    if ((size_t)n != strlen(out) || n >= SP_ADDR_STRLEN)
        fail("format returned a wrong length", text);
    for (cap = 0; cap <= (size_t)n + 1; cap++) {
        char *small = (char *)malloc(cap ? cap : 1);
        if (small == NULL)
            abort();
        m = sp_addr_format(&a, small, cap);
        if (cap <= (size_t)n) {
            if (m != SP_ENOSPC)
                fail("format into a small buffer is not SP_ENOSPC", text);
            if (cap > 0 && small[0] != '\0')
                fail("format left a small buffer unterminated or not empty", text);
        } else if (m != n || memcmp(small, out, (size_t)n + 1) != 0) {
            fail("format into an exact buffer differs", text);
        }
        free(small);
    }

    rc = sp_addr_parse(&b, out);
    if (rc != 0)
        fail("formatted text does not parse again", text);
    if (!sp_addr_equal(&a, &b) || sp_addr_family(&a) != sp_addr_family(&b) ||
        sp_addr_port(&a) != sp_addr_port(&b))
        fail("formatted text parses to another address", text);
    m = sp_addr_format(&b, again, sizeof again);
    if (m != n || strcmp(out, again) != 0)
        fail("format is not canonical", text);
    free(text);
    return 0;
}
