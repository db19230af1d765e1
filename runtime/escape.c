/* The escaping scheme (see escape.h): tables for the fast scan, the escapes themselves. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

/* Printable ASCII is written as it is but for the characters a mode quotes; lead bytes of
 * multi-byte UTF-8 (0xc2-0xf4) are checked. Ranges do not overlap (-Woverride-init). */
#define ESC_UTF8 [0xc2 ... 0xf4] = 2
const unsigned char esc_class[ESC_MODES][256] = {
    [ESC_TEXT] = {[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1, ESC_UTF8},
    [ESC_REPORT] = {['\t'] = 1, ['\n'] = 1, [0x20 ... 0x7e] = 1, ESC_UTF8},
    [ESC_JSON] = {[0x20 ... 0x21] = 1, [0x23 ... 0x3b] = 1, [0x3d ... 0x5b] = 1,
                  [0x5d ... 0x7e] = 1, ESC_UTF8},
};

size_t esc_utf8_len(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
    size_t n;
    if (u[0] >= 0xc2 && u[0] <= 0xdf) {
        n = 2;
        if (u[0] == 0xc2)
            lo = 0xa0; /* U+0080-U+009F are the C1 controls */
    } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
        n = 3;
        if (u[0] == 0xe0)
            lo = 0xa0; /* no overlong form */
        else if (u[0] == 0xed)
            hi = 0x9f; /* no surrogate */
    } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
        n = 4;
        if (u[0] == 0xf0)
            lo = 0x90;
        else if (u[0] == 0xf4)
            hi = 0x8f; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (u[1] < lo || u[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((u[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

size_t esc_char(const char *s, enum esc_mode m, char *out, size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = (unsigned char)s[0], next = (unsigned char)s[1];
    *used = 1;
    out[0] = '\\';
    switch (c) {
    case '"':
    case '\\':
        out[1] = (char)c;
        return 2;
    case '\n':
        out[1] = 'n';
        return 2;
    case '\t':
        out[1] = 't';
        return 2;
    case '\r':
        out[1] = 'r';
        return 2;
    default:
        break;
    }
    if (m != ESC_JSON) { /* a C1 control comes here as 0xc2, then as a stray second byte */
        out[1] = 'x';
        out[2] = hex[c >> 4];
        out[3] = hex[c & 15];
        return 4;
    }
    if (c == 0xc2 && next >= 0x80 && next < 0xa0) {
        *used = 2;
        c = next;
    } else if (c >= 0x80) {
        memcpy(out, "\\ufffd", 6);
        return 6;
    }
    memcpy(out, "\\u00", 4);
    out[4] = hex[c >> 4];
    out[5] = hex[c & 15];
    return 6;
}

void esc_write(const char *s, enum esc_mode m, esc_put *put, void *sink)
{
    for (;;) {
        char e[ESC_MAX];
        size_t n = esc_plain(s, m), used;
        put(sink, s, n);
        s += n;
        if (!*s)
            return;
        put(sink, e, esc_char(s, m, e, &used));
        s += used;
    }
}

static void esc_put_file(void *f, const char *s, size_t n)
{
    fwrite(s, 1, n, f);
}

void esc_fputs(const char *s, enum esc_mode m, FILE *f)
{
    esc_write(s, m, esc_put_file, f);
}

void esc_report(FILE *f, const char *fmt, ...)
{
    char buf[1024], *s = buf;
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0)
        buf[0] = '\0';
    /* a longer one (a traceback) in a buffer of its size; truncated if there is no memory */
    if (n >= (int)sizeof buf && (s = malloc((size_t)n + 1)) != NULL)
        vsnprintf(s, (size_t)n + 1, fmt, again);
    va_end(again);
    va_end(ap);
    esc_fputs(s ? s : buf, ESC_REPORT, f);
    if (s != buf)
        free(s);
}
