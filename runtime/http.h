/* HTTP(S) transfers on libcurl's multi-socket interface, driven by the loop: one multi handle
 * per run (connections reused, HTTP/2 multiplexed), its sockets as ev_io watchers and its
 * deadline as one ev_timer. libcurl is opened on the first request (dl.h): linked in, it would
 * cost every run its start-up time. No curl_* function is called but through the pointers
 * dl_load resolves; <curl/curl.h> is there for the types and constants. */
#ifndef ASYNCRUN_HTTP_H
#define ASYNCRUN_HTTP_H

#include <curl/curl.h>

#include "core.h"

/* Where the response body goes. */
enum http_sink {
    HTTP_TO_MEMORY, /* x->body, for res.body */
    HTTP_TO_FILE,   /* a Lua file (FILE *) */
    HTTP_TO_STREAM, /* an async stream: its buffer first, then its fd */
    HTTP_TO_PIPE,   /* opts.stream: our end of a socket pair whose other end is res.body */
};

/* Where the request body comes from (a string goes to curl as it is). */
enum http_source { HTTP_FROM_NONE, HTTP_FROM_STRING, HTTP_FROM_FILE, HTTP_FROM_STREAM };

struct http_buf {
    char *p;                  /* owned */
    size_t len, cap;
};

/* One request: the block of a Lua userdata (memory the GC owns), whose descriptors, curl
 * handle and buffers are released at once by http_release when it ends, fails or is given
 * up, never at collection. A registry reference anchors it while it is in flight. */
struct http_xfer {
    struct resource res;      /* linked while in flight: shutdown ends what nobody awaits */
    struct rt *rt;
    CURL *easy;               /* owned: until the transfer is done */
    struct curl_slist *headers; /* owned */
    struct task *task;        /* borrowed: the requesting task until its continuation ran */
    lua_Integer task_id;
    int ref;                  /* ref: registry, the userdata while in flight */
    bool waiting;             /* the task waits on it (WAIT_HTTP): the loop stays alive */
    bool streamed;            /* opts.stream: the task wakes once the headers are in */
    bool follow, released, in_multi;
    bool head_done;           /* the final response's headers are in */
    bool location;            /* the header block being read has a Location */
    uint8_t sink, source;
    FILE *out_file, *in_file; /* borrowed: Lua files, anchored by the userdata */
    struct stream *out_stream, *in_stream; /* borrowed: the same */
    int pipe_fd;              /* owned: our end of the socket pair, or -1 */
    int peer_fd;              /* owned: res.body's end until handed over, or -1 */
    int sink_err;             /* errno of a failed write to the sink, or 0 */
    struct http_buf body;     /* HTTP_TO_MEMORY: the body; else what the sink did not take yet */
    struct http_buf head;     /* the header block of the last response */
    ev_io out_w;              /* HTTP_TO_PIPE: room in the socket pair (unref'd) */
    struct waiter out_wait, in_wait; /* on the output's or the body stream's I/O source while
                                        curl is paused on it: woken by readiness or a close */
    bool stream_closed;       /* a body or output stream was closed under it: "closed" */
    int result;               /* CURLcode once done */
    long status;
    long version;             /* CURL_HTTP_VERSION_* */
    uint64_t bytes;           /* body bytes delivered */
    double started;           /* rt_now at submission */
    char *url;                /* owned: the effective URL once done, else the requested one */
    char method[16];
    char error[CURL_ERROR_SIZE];
};

/* A request's options besides x's url, method, sink and source (SPEC §4). */
struct http_opts {
    double timeout;           /* seconds, 0: none */
    long max_redirs;          /* 0: do not follow */
    const char *cafile;       /* NULL: the system's CAs */
    bool insecure;
    const char *body;         /* HTTP_FROM_STRING: borrowed, anchored by the userdata */
    size_t body_len;
    curl_off_t body_size;     /* a file or stream: its size, or -1 (sent chunked) */
    const char **headers;     /* "Name: value" lines, NULL-terminated, or NULL */
};

/* Opens libcurl and the run's multi handle, once; 0, or -1 with the message to raise in err. */
int http_open(struct rt *rt, char *err, size_t errsize);
/* [-0, +0, -] zeroes x: no descriptors, no reference, not a resource yet */
void http_init(struct rt *rt, struct http_xfer *x);
/* Makes x's easy handle (x->url, method, sink and source set); 0 or -ENOMEM. On failure the
 * caller still calls http_release. */
int http_prepare(struct rt *rt, struct http_xfer *x, const struct http_opts *o);
/* Starts the transfer, the task waiting (from sched_arm); -ENOMEM. */
int http_submit(struct rt *rt, struct http_xfer *x);
/* The task gives up (cancelled, timed out): the transfer ends now. */
void http_abandon(struct rt *rt, struct http_xfer *x);
/* The continuation took what it needed: for opts.stream, the transfer goes on by itself to
 * its end; otherwise everything is released now. */
void http_settle(struct rt *rt, struct http_xfer *x);
/* Releases everything x holds (idempotent); a task still waiting wakes and finds it failed. */
void http_release(struct rt *rt, struct http_xfer *x);
/* curl's message for x's failure. */
const char *http_strerror(const struct http_xfer *x);
/* Ends what is left and the multi handle, at the close of the loop. */
void http_close(struct rt *rt);

#endif
