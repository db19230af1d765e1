#ifndef ASYNCRUN_USAGE_H
#define ASYNCRUN_USAGE_H

#include <stdio.h>

void usage_print(FILE *out);
/* "Try 'asyncrun --help' for more information." */
void usage_hint(void);

#endif
