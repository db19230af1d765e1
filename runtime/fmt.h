/* Number formatting for the hot diagnostic paths (trace events, task names, places), where
 * snprintf's parsing of a format costs more than the rest of the event. */
#ifndef ASYNCRUN_FMT_H
#define ASYNCRUN_FMT_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Writes v in decimal at buf (room for 20 characters), unterminated; returns the length. */
static inline size_t fmt_int(char *buf, int64_t v)
{
    char tmp[20], *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(tmp + sizeof tmp - p);
    memcpy(buf, p, n);
    return n;
}

/* head, sep and v in decimal into buf ("task-12", "task:3", "file.lua:7"), as snprintf
 * would write them (truncated to size); returns buf. */
static inline const char *fmt_joined(char *buf, size_t size, const char *head, char sep, int64_t v)
{
    size_t n = strlen(head);
    if (n + 1 + 20 >= size) {
        snprintf(buf, size, "%s%c%" PRId64, head, sep, v);
        return buf;
    }
    memcpy(buf, head, n);
    buf[n] = sep;
    buf[n + 1 + fmt_int(buf + n + 1, v)] = '\0';
    return buf;
}

#endif
