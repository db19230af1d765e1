/* Stream userdata, shared by the bindings that create streams (processes, sockets). */
#ifndef ASYNCRUN_LSTREAM_H
#define ASYNCRUN_LSTREAM_H

#include "stream.h"

#define STREAM_MT "async.Stream"

/* [-0, +1, m] a new, not yet initialised stream userdata (closed until stream_init) */
struct stream *lstream_new(lua_State *L);
/* [-0, +0, v] an open stream at idx */
struct stream *lstream_check(lua_State *L, int idx);

#endif
