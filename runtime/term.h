/* The terminal on stdin as the run found it, put back on every way out: the prompt's line
 * editing holds it in raw mode while it reads, and an os.exit from another task, a second
 * Ctrl-C or a child left killed mid-edit would leave it so for the shell. */
#ifndef ASYNCRUN_TERM_H
#define ASYNCRUN_TERM_H

#include <stdbool.h>
#include <termios.h>

struct term {
    struct termios saved;
    bool saved_ok;            /* stdin is a terminal */
};

/* Notes the terminal's state, if stdin is one. */
void term_save(struct term *t);
/* Puts it back if it changed, and only from the foreground (a background process setting
 * it would be stopped by SIGTTOU). Async-signal-safe. */
void term_restore(const struct term *t);

#endif
