/* Signal names without the SIG prefix ("TERM", "KILL"), both ways. */
#ifndef ASYNCRUN_SIGNAME_H
#define ASYNCRUN_SIGNAME_H

/* The number for "TERM" (or "SIGTERM"), or 0 if unknown. */
int signame_number(const char *name);
/* "TERM" for SIGTERM, or NULL if unknown. */
const char *signame_name(int signo);

#endif
