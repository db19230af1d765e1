/* The page of --trace=html: what comes before and after the streamed events. */
#ifndef ASYNCRUN_TRACE_HTML_H
#define ASYNCRUN_TRACE_HTML_H

#include <stdio.h>

void trace_html_begin(FILE *f);
void trace_html_end(FILE *f);

#endif
