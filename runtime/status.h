/* Exit statuses of asyncrun (SPEC §2), mapped to a number in one place: rt_exit_status(). */
#ifndef ASYNCRUN_STATUS_H
#define ASYNCRUN_STATUS_H

enum rt_status {
    ST_OK = 0,
    ST_FAILURE = 1,   /* error escaped main, script missing, syntax error, unretrieved failure */
    ST_USAGE = 2,
    ST_DEADLOCK = 3,
    ST_TIMEOUT = 124,
    ST_SIGPIPE = 141, /* 128 + SIGPIPE: a reader of stdout/stderr went away */
    ST_SIGINT = 130,  /* 128 + SIGINT */
    ST_SIGTERM = 143, /* 128 + SIGTERM */
};

#endif
