#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dl.h"

/* Whether ASYNCRUN_DL_HIDE names soname as a whole item. */
static bool dl_hidden(const char *soname)
{
    const char *list = getenv("ASYNCRUN_DL_HIDE");
    size_t n = strlen(soname);
    for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, soname, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

int dl_load(struct dl_lib *lib, char *err, size_t errsize)
{
    char why[256];
    if (lib->handle)
        return 0;
    if (dl_hidden(lib->soname)) {
        snprintf(why, sizeof why, "%s: hidden by ASYNCRUN_DL_HIDE", lib->soname);
        goto fail;
    }
    void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, sizeof why, "%s", dlerror());
        goto fail;
    }
    for (const struct dl_sym *s = lib->syms; s->name; s++) {
        if (!(*s->addr = dlsym(h, s->name))) {
            snprintf(why, sizeof why, "%s: no symbol %s", lib->soname, s->name);
            dlclose(h);
            goto fail;
        }
    }
    lib->handle = h;
    return 0;
fail:
    snprintf(err, errsize, "asyncrun: %s needs %s (%s); install %s", lib->api, lib->what, why,
             lib->package);
    return -1;
}
