/* The one escaping scheme of everything asyncrun writes about a run (traces, dumps, reports):
 * task names and error messages may come from the network, so that what is written can
 * neither break a JSON parser nor act on the terminal that shows it.
 *
 * A byte is written as it is unless it is a control byte (0x00-0x1f, 0x7f), a C1 control
 * (U+0080-U+009F, which terminals obey too) or a byte that is not part of valid UTF-8:
 * - ESC_TEXT (text trace values): \n \t \r, \" and \\, the rest as \xNN (a C1 control as the
 *   two escapes of its two bytes, \xc2\xNN);
 * - ESC_REPORT (dumps, stderr reports, several lines): \n and \t as they are, the rest as
 *   in ESC_TEXT except that quotes and backslashes stay as they are;
 * - ESC_JSON (json, chrome, html traces): JSON escapes (\uNNNN for controls, C1 included,
 *   and for '<', so that a page can embed the string), each invalid byte as U+FFFD. */
#ifndef ASYNCRUN_ESCAPE_H
#define ASYNCRUN_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

enum esc_mode { ESC_TEXT, ESC_REPORT, ESC_JSON, ESC_MODES };

/* the longest escape of one character */
enum { ESC_MAX = 8 };

/* Bytes that the modes write as they are (1), and those that start a UTF-8 sequence to
 * check (2); ESC_TEXT's table also tells whether a text trace value can go unquoted. */
extern const unsigned char esc_class[ESC_MODES][256];

/* The length of the valid UTF-8 sequence at s, 0 if it is not one or is a C1 control. */
size_t esc_utf8_len(const char *s);

/* The length of the longest prefix of the C string s that mode m writes as it is. */
static inline size_t esc_plain(const char *s, enum esc_mode m)
{
    const unsigned char *c = esc_class[m];
    size_t n = 0;
    for (;;) {
        while (c[(unsigned char)s[n]] == 1)
            n++;
        if (c[(unsigned char)s[n]] != 2)
            return n;
        size_t u = esc_utf8_len(s + n);
        if (u == 0)
            return n;
        n += u;
    }
}

/* Writes the escape of the character at s (where esc_plain stopped, not at the end) at out
 * (room for ESC_MAX), returns its length and sets *used to the bytes of s it stands for. */
size_t esc_char(const char *s, enum esc_mode m, char *out, size_t *used);

/* Writes the C string s escaped in mode m by calls of put(sink, bytes, length). */
typedef void esc_put(void *sink, const char *s, size_t n);
void esc_write(const char *s, enum esc_mode m, esc_put *put, void *sink);

/* fputs of s in mode m */
void esc_fputs(const char *s, enum esc_mode m, FILE *f);

/* fprintf to f of a report: the whole message escaped in ESC_REPORT (asyncrun's own formats
 * hold no control byte but \n) */
void esc_report(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
