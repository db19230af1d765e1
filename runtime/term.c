/* The terminal's state at start, restored at exit (term.h). */
#include <string.h>
#include <unistd.h>

#include "term.h"

void term_save(struct term *t)
{
    t->saved_ok = tcgetattr(STDIN_FILENO, &t->saved) == 0;
}

void term_restore(const struct term *t)
{
    struct termios now;
    if (t->saved_ok && tcgetattr(STDIN_FILENO, &now) == 0 && memcmp(&now, &t->saved, sizeof now) != 0
        && tcgetpgrp(STDIN_FILENO) == getpgrp())
        tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
}
