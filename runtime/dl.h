/* Shared libraries loaded on first use (libcurl for async.http, libssl for async.tls):
 * linked in, each would cost every run its start-up time whether the script uses it or not.
 * A library is opened by its SONAME (the runtime package, not the -dev link), once per
 * process, and kept to the end. */
#ifndef ASYNCRUN_DL_H
#define ASYNCRUN_DL_H

#include <stdbool.h>
#include <stddef.h>

/* A symbol to resolve: *addr receives it (functions travel through void *, as POSIX says). */
struct dl_sym {
    const char *name;
    void **addr;
};

/* One library: what the user called, what it is, where it lives, the package that ships it. */
struct dl_lib {
    const char *api;          /* "async.http" */
    const char *what;         /* "libcurl" */
    const char *soname;       /* "libcurl.so.4" */
    const char *package;      /* "libcurl4" */
    const struct dl_sym *syms; /* terminated by a NULL name */
    void *handle;             /* owned: set by dl_load, never closed */
};

/* Opens lib and resolves its symbols unless that was done; 0 when they are all there. Otherwise
 * -1 and err holds the message to raise, e.g. "asyncrun: async.http needs libcurl
 * (libcurl.so.4: cannot open shared object file: No such file or directory); install
 * libcurl4". ASYNCRUN_DL_HIDE (a comma-separated list of SONAMEs) makes those libraries
 * count as missing, for the tests of that path. */
int dl_load(struct dl_lib *lib, char *err, size_t errsize);

#endif
