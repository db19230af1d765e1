/* --trace=html: one self-contained page that a person explores offline (zoom, pan, #t=A-B).
 *
 * A busy run traces millions of events, so they are embedded once, packed, and streamed as
 * they happen: each event is a row of integers
 *   op, dt, field...
 * where op numbers the event's shape ("suspend task:i name:s on:s ran:n at:s": its name,
 * then its keys and their types), dt is t in microseconds since the previous event (t is
 * the text trace's t=, rounded as it prints it, so #t= finds a line of it), a string is the
 * index of its first use in a table of strings, and any other number of seconds is in
 * microseconds. An integer is written zigzagged (0, -1, 1, -2... as 0, 1, 2, 3...) in
 * groups of 5 bits, the most significant first: a group from HTML_MORE when more follow,
 * the last from HTML_LAST, so most take one character and need no separator. The rows end
 * with '.'; the tables of shapes and strings follow (JSON), then the renderer
 * (trace_html.js, embedded at build time), which decodes the rows into columns per task and
 * draws them on a canvas. A new event or field needs no change here. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "trace_html.h"
#include "trace_html_js.h"

/* Strings in order of first use, found again through an open-addressing hash of indexes. */
struct intern {
    char **strs;     /* owned: n of them, each owned */
    uint32_t *slots; /* owned: cap of them (a power of two), index + 1 or 0 for empty */
    uint32_t n, cap;
};

struct trace_html {
    struct intern strings, shapes;
    int64_t last_us; /* t of the previous event */
    uint64_t rows;   /* events written */
    bool lost;       /* out of memory once: later events are dropped, and the page says so */
};

static uint32_t intern_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int intern_grow(struct intern *in)
{
    uint32_t cap = in->cap ? in->cap * 2 : 256;
    uint32_t *slots = calloc(cap, sizeof *slots);
    char **strs = slots ? realloc(in->strs, cap / 2 * sizeof *strs) : NULL;
    if (!strs) {
        free(slots);
        return -1;
    }
    for (uint32_t k = 0; k < in->n; k++) {
        uint32_t i = intern_hash(strs[k]) & (cap - 1);
        while (slots[i])
            i = (i + 1) & (cap - 1);
        slots[i] = k + 1;
    }
    free(in->slots);
    in->strs = strs;
    in->slots = slots;
    in->cap = cap;
    return 0;
}

/* The index of s, added if new; -1 when out of memory. */
static int64_t intern_index(struct intern *in, const char *s)
{
    uint32_t h = intern_hash(s);
    if (in->cap)
        for (uint32_t i = h & (in->cap - 1); in->slots[i]; i = (i + 1) & (in->cap - 1))
            if (strcmp(in->strs[in->slots[i] - 1], s) == 0)
                return in->slots[i] - 1;
    /* at most half full, so that a probe ends soon */
    if ((in->n + 1) * 2 > in->cap && intern_grow(in) < 0)
        return -1;
    char *copy = strdup(s);
    if (!copy)
        return -1;
    uint32_t i = h & (in->cap - 1);
    while (in->slots[i])
        i = (i + 1) & (in->cap - 1);
    in->slots[i] = in->n + 1;
    in->strs[in->n] = copy;
    return in->n++;
}

static void intern_free(struct intern *in)
{
    for (uint32_t k = 0; k < in->n; k++)
        free(in->strs[k]);
    free(in->strs);
    free(in->slots);
}

static const char HTML_LAST[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
static const char HTML_MORE[] = "WXYZabcdefghijklmnopqrstuvwxyz-_";

/* v packed at buf (room for 13 characters); returns the length. */
static size_t html_int(char *buf, int64_t v)
{
    uint64_t z = v >= 0 ? (uint64_t)v << 1 : ((uint64_t)-(v + 1) << 1) | 1;
    char tmp[13];
    size_t n = 0;
    tmp[n++] = HTML_LAST[z & 31];
    while ((z >>= 5) != 0)
        tmp[n++] = HTML_MORE[z & 31];
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

/* Seconds in whole microseconds, rounded as the text trace prints them. */
static int64_t html_us(double d)
{
    if (!(d > -9e12 && d < 9e12))
        return 0;
    return d >= 0 ? (int64_t)(d * 1e6 + 0.5) : -(int64_t)(-d * 1e6 + 0.5);
}

/* The next code point of a UTF-8 string at *s, advancing *s; an invalid sequence (overlong,
 * surrogate, beyond U+10FFFF, cut short) is one byte long and decodes to U+FFFD. */
static uint32_t html_utf8_next(const unsigned char **s)
{
    const unsigned char *p = *s;
    uint32_t c = p[0], min;
    int len;
    if (c < 0x80) {
        *s = p + 1;
        return c;
    }
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, c &= 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, c &= 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, c &= 0x07, min = 0x10000;
    else
        len = 0, min = 0;
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            len = 0;
            break;
        }
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (len == 0 || c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        *s = p + 1;
        return 0xfffd;
    }
    *s = p + len;
    return c;
}

/* A JSON string that is safe inside a <script> element of any page: plain printable ASCII
 * only, everything else \u-escaped (so no "</script", "<!--", U+2028 or U+2029 can appear),
 * invalid UTF-8 replaced by U+FFFD. */
static void html_json_string(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    putc_unlocked('"', f);
    while (*s) {
        uint32_t c = html_utf8_next(&s);
        if (c >= 0x20 && c < 0x7f && !strchr("\"\\<>&", (int)c)) {
            putc_unlocked((int)c, f);
        } else if (c == '"' || c == '\\') {
            putc_unlocked('\\', f);
            putc_unlocked((int)c, f);
        } else if (c < 0x10000) {
            fprintf(f, "\\u%04x", (unsigned)c);
        } else {
            c -= 0x10000;
            fprintf(f, "\\u%04x\\u%04x", (unsigned)(0xd800 + (c >> 10)), (unsigned)(0xdc00 + (c & 0x3ff)));
        }
    }
    putc_unlocked('"', f);
}

static void html_json_strings(FILE *f, const struct intern *in)
{
    putc_unlocked('[', f);
    for (uint32_t k = 0; k < in->n; k++) {
        if (k)
            fputs(",\n", f);
        html_json_string(f, in->strs[k]);
    }
    putc_unlocked(']', f);
}

struct trace_html *trace_html_begin(FILE *f)
{
    struct trace_html *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width\">\n"
          "<title>asyncrun trace</title>\n<style>\n"
          "html,body{height:100%;margin:0}\n"
          "body{font:13px/1.4 system-ui,sans-serif;color:#222;display:flex;flex-direction:column}\n"
          "header{padding:8px 12px 6px;border-bottom:1px solid #ddd;flex:none}\n"
          "h1{font-size:16px;margin:0 8px 0 0;display:inline}\n#summary{color:#555}\n"
          "#controls{margin-top:6px;display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center}\n"
          "#legend span{display:inline-flex;align-items:center;margin-right:10px;color:#444}\n"
          "#legend i{display:inline-block;width:14px;height:10px;margin-right:4px;border-radius:2px}\n"
          "#help{color:#777}\nkbd{font:11px monospace;border:1px solid #ccc;border-radius:3px;"
          "padding:0 3px;background:#f7f7f7}\n"
          "#view{position:relative;flex:1;overflow-y:auto;overflow-x:hidden;outline:none}\n"
          "#view canvas{position:sticky;top:0;left:0;display:block;cursor:grab}\n"
          "#view canvas.drag{cursor:grabbing}\n"
          "#tip{position:fixed;display:none;max-width:480px;background:#fff;border:1px solid #bbb;"
          "box-shadow:0 2px 8px #0003;padding:6px 8px;font:12px/1.45 monospace;"
          "white-space:pre-wrap;word-break:break-all;pointer-events:none;z-index:2}\n"
          "#tip.pinned{border-color:#333}\n"
          "</style></head><body>\n"
          "<header><h1>asyncrun trace</h1><span id=\"summary\"></span>\n"
          "<div id=\"controls\"><input id=\"filter\" type=\"search\" size=\"24\" "
          "placeholder=\"filter: task name or id\">\n"
          "<label><input id=\"collapse\" type=\"checkbox\"> collapse finished tasks</label>\n"
          "<button id=\"reset\" type=\"button\">reset view</button>\n"
          "<span id=\"legend\"></span>\n"
          "<span id=\"help\">zoom: wheel, pinch, <kbd>W</kbd> <kbd>S</kbd> <kbd>+</kbd> "
          "<kbd>-</kbd> &middot; pan: drag, <kbd>A</kbd> <kbd>D</kbd> &middot; reset: "
          "<kbd>0</kbd> &middot; click a step for details &middot; #t=A-B in the URL opens "
          "seconds A to B</span></div></header>\n"
          "<div id=\"view\" tabindex=\"0\"><canvas id=\"canvas\"></canvas></div>\n"
          "<div id=\"tip\"></div><pre id=\"drawn\" hidden></pre>\n"
          "<script type=\"text/plain\" id=\"events\">\n",
          f);
    return h;
}

void trace_html_event(struct trace_html *h, FILE *f, const struct field *fs, int n)
{
    char shape[512], row[256];
    size_t sn = 0, rn = 0;
    if (h->lost)
        return;
    /* fields have short constant keys: a few of them fill a fraction of shape and row */
    if (n < 2 || n > 16)
        return;
    sn = strlen(fs[1].v.s);
    if (sn >= 64)
        return;
    memcpy(shape, fs[1].v.s, sn);
    for (int i = 2; i < n; i++) {
        if (fs[i].klen >= 32)
            return;
        shape[sn++] = ' ';
        memcpy(shape + sn, fs[i].key, fs[i].klen);
        sn += fs[i].klen;
        shape[sn++] = ':';
        shape[sn++] = fs[i].type == F_STR ? 's' : fs[i].type == F_INT ? 'i' : 'n';
    }
    shape[sn] = '\0';
    int64_t op = intern_index(&h->shapes, shape), t = html_us(fs[0].v.d);
    if (op < 0)
        goto lost;
    rn += html_int(row + rn, op);
    rn += html_int(row + rn, t - h->last_us);
    h->last_us = t;
    for (int i = 2; i < n; i++) {
        int64_t v = fs[i].type == F_INT ? fs[i].v.i
                    : fs[i].type == F_NUM ? html_us(fs[i].v.d)
                                          : intern_index(&h->strings, fs[i].v.s);
        if (fs[i].type == F_STR && v < 0)
            goto lost;
        rn += html_int(row + rn, v);
    }
    /* a line now and then, for the tools that read lines */
    if (++h->rows % 64 == 0)
        row[rn++] = '\n';
    fwrite_unlocked(row, 1, rn, f);
    return;
lost:
    h->lost = true;
}

void trace_html_end(struct trace_html *h, FILE *f)
{
    fputs(".</script>\n<script type=\"application/json\" id=\"tables\">{\"shapes\":", f);
    html_json_strings(f, &h->shapes);
    fputs(",\n\"strings\":", f);
    html_json_strings(f, &h->strings);
    fprintf(f, ",\n\"lost\":%s}</script>\n<script>\n", h->lost ? "true" : "false");
    fwrite(trace_html_js, 1, sizeof trace_html_js, f);
    fputs("</script></body></html>\n", f);
    intern_free(&h->shapes);
    intern_free(&h->strings);
    free(h);
}
