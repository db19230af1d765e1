/* The page of --trace=html, and the fields of an event as trace.c builds them for every
 * format. */
#ifndef ASYNCRUN_TRACE_HTML_H
#define ASYNCRUN_TRACE_HTML_H

#include <stdint.h>
#include <stdio.h>

enum field_type { F_STR, F_INT, F_NUM };

/* One key=value of an event; fs[0] is always t, fs[1] the event's name. */
struct field {
    const char *key;
    size_t klen;
    enum field_type type;
    union {
        const char *s;
        int64_t i;
        double d;
    } v;
};

#define FSTR(k, x) {.key = (k), .klen = sizeof(k) - 1, .type = F_STR, .v.s = (x)}
#define FINT(k, x) {.key = (k), .klen = sizeof(k) - 1, .type = F_INT, .v.i = (int64_t)(x)}
#define FNUM(k, x) {.key = (k), .klen = sizeof(k) - 1, .type = F_NUM, .v.d = (x)}

struct trace_html;

/* Writes the page's head; returns the page's state (owned: freed by trace_html_end), or NULL
 * when out of memory. */
struct trace_html *trace_html_begin(FILE *f);
void trace_html_event(struct trace_html *h, FILE *f, const struct field *fs, int n);
/* Writes the strings seen, the renderer and the end of the page; frees h. */
void trace_html_end(struct trace_html *h, FILE *f);

#endif
