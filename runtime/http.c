/* libcurl's multi-socket interface on the loop. curl tells which sockets to watch
 * (http_socket_cb) and when to call it back (http_timer_cb); the loop hands readiness and
 * expiry to curl_multi_socket_action, then collects the finished transfers. Every watcher here
 * is unref'd: what keeps the loop alive is the tasks that wait on a transfer (one ev_ref and
 * one rt->io_waits each, so --fake-time never jumps over a request in flight), or the reader
 * of a streamed body, waiting on its stream. A transfer nobody waits for keeps nothing alive.
 * Back-pressure: a sink that does not take a chunk keeps the rest in x->body and curl pauses
 * (CURL_WRITEFUNC_PAUSE) until the sink has room and x->body is flushed; a source stream with
 * no data pauses the upload (CURL_READFUNC_PAUSE) until it is readable. A transfer paused on
 * a stream waits on the stream's own I/O source, as a task would: a close wakes it too. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <lauxlib.h>

#include "http.h"
#include "clock.h"
#include "dl.h"
#include "io.h"
#include "resource.h"
#include "sched.h"
#include "stats.h"
#include "stream.h"
#include "trace.h"

/* The run's side of libcurl. */
struct http {
    CURLM *multi;             /* owned */
    ev_timer timer;           /* curl's next deadline */
    size_t waits;             /* tasks waiting on a transfer */
    int hup_fd;               /* owned: an epoll set of our ends of the socket pairs, for
                                 EPOLLHUP alone (the loop's watchers cannot ask for it) */
    ev_io hup_w;              /* hup_fd has news: a streamed body's reader went away */
};

/* A socket curl asked to watch. */
struct http_sock {
    ev_io w;
};

/* libcurl's functions. Like the library itself (dl.h), they are the process's, resolved once
 * and never changed: the one global table besides the loop context. */
static struct {
    CURLcode (*global_init)(long);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
    CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    CURLMcode (*multi_cleanup)(CURLM *);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    CURLcode (*easy_pause)(CURL *, int);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} curl;

#define HTTP_SYM(f) {"curl_" #f, (void **)&curl.f}
static const struct dl_sym http_syms[] = {
    HTTP_SYM(global_init), HTTP_SYM(multi_init), HTTP_SYM(multi_setopt),
    HTTP_SYM(multi_add_handle), HTTP_SYM(multi_remove_handle), HTTP_SYM(multi_socket_action),
    HTTP_SYM(multi_assign), HTTP_SYM(multi_info_read), HTTP_SYM(multi_cleanup),
    HTTP_SYM(easy_init), HTTP_SYM(easy_setopt), HTTP_SYM(easy_getinfo), HTTP_SYM(easy_pause),
    HTTP_SYM(easy_cleanup), HTTP_SYM(easy_strerror), HTTP_SYM(slist_append),
    HTTP_SYM(slist_free_all), {NULL, NULL},
};

static struct dl_lib http_libcurl = {
    .api = "async.http", .what = "libcurl", .soname = "libcurl.so.4", .package = "libcurl4",
    .syms = http_syms,
};

static void http_progress(struct rt *rt, struct http_xfer *x);
static void http_done(struct rt *rt, struct http_xfer *x, CURLcode rc);
static void http_collect(struct rt *rt);

/* ---- unref'd watchers ---- */

static void http_watch(struct rt *rt, ev_io *w)
{
    if (!ev_is_active(w)) {
        ev_io_start(rt->loop, w);
        ev_unref(rt->loop);
    }
}

static void http_unwatch(struct rt *rt, ev_io *w)
{
    if (ev_is_active(w)) {
        ev_ref(rt->loop);
        ev_io_stop(rt->loop, w);
    }
}

static void http_timer_stop(struct rt *rt)
{
    if (ev_is_active(&rt->http->timer)) {
        ev_ref(rt->loop);
        ev_timer_stop(rt->loop, &rt->http->timer);
    }
}

/* Closes our end of the socket pair: the reader sees the end. Taken out of the hup set first:
 * a child forked meanwhile holds a copy that would keep it there, with x. */
static void http_close_pipe(struct rt *rt, struct http_xfer *x)
{
    if (x->pipe_fd < 0)
        return;
    if (rt->http)
        epoll_ctl(rt->http->hup_fd, EPOLL_CTL_DEL, x->pipe_fd, NULL);
    close(x->pipe_fd);
    x->pipe_fd = -1;
}

/* ---- buffers ---- */

static int http_buf_add(struct http_buf *b, const char *p, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->len < n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return -ENOMEM;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static void http_buf_free(struct http_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- the sink: body bytes to a stream or the socket pair ---- */

static ssize_t http_send(struct http_xfer *x, const char *p, size_t n)
{
    if (x->sink == HTTP_TO_STREAM && x->out_stream->closed) {
        x->stream_closed = true;
        return -EBADF;
    }
    if (x->sink == HTTP_TO_STREAM)
        return stream_send(x->out_stream, p, n);
    ssize_t w;
    do
        w = send(x->pipe_fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    return w < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : w;
}

/* Hands over what waits: the stream's own buffer (written before us), then x->body. 0 once
 * empty, -EAGAIN, or -errno (sink_err set, the rest dropped). */
static int http_flush(struct http_xfer *x)
{
    struct stream *s = x->out_stream;
    int err = 0;
    if (x->sink == HTTP_TO_STREAM && !s->closed && s->wlen > 0)
        err = stream_flush_some(s);
    size_t done = 0;
    while (!err && done < x->body.len) {
        ssize_t w = http_send(x, x->body.p + done, x->body.len - done);
        if (w < 0)
            err = (int)w;
        else
            done += (size_t)w;
    }
    if (err && err != -EAGAIN) {
        x->sink_err = -err;
        x->body.len = 0;
        if (!x->easy) /* curl had it all: the request fails all the same */
            x->result = CURLE_WRITE_ERROR;
        return err;
    }
    if (done > 0) {
        memmove(x->body.p, x->body.p + done, x->body.len - done);
        x->body.len -= done;
    }
    return err;
}

/* Waits for room in the sink: the socket pair's watcher, or the output stream's source. */
static void http_wait_room(struct rt *rt, struct http_xfer *x)
{
    if (x->sink == HTTP_TO_PIPE)
        http_watch(rt, &x->out_w);
    else
        iosrc_wait_node(rt, stream_wr_src(x->out_stream), &x->out_wait);
}

static size_t http_deliver(struct http_xfer *x, const char *p, size_t n)
{
    if (x->sink_err)
        return 0;
    int err = http_flush(x);
    if (err == -EAGAIN) {
        http_wait_room(x->rt, x);
        return CURL_WRITEFUNC_PAUSE; /* nothing of p taken: curl hands it again */
    }
    if (err)
        return 0;
    ssize_t w = http_send(x, p, n);
    if (w == -EAGAIN)
        w = 0;
    if (w < 0) {
        x->sink_err = (int)-w;
        return 0;
    }
    if ((size_t)w < n) {
        if (http_buf_add(&x->body, p + w, n - (size_t)w) != 0)
            return 0;
        http_wait_room(x->rt, x);
    }
    return n;
}

/* Lets a paused transfer go on, or ends it once its sink has failed or its source stream was
 * closed (the code curl gives a read callback's abort). curl does not end a transfer whose
 * unpausing failed (the chunk it held, handed to a sink that failed meanwhile): left to curl,
 * its socket would stay unwatched and the connection open for good. */
static void http_resume(struct rt *rt, struct http_xfer *x)
{
    CURLcode rc = x->sink_err ? CURLE_WRITE_ERROR
                  : x->stream_closed ? CURLE_ABORTED_BY_CALLBACK
                  : curl.easy_pause(x->easy, CURLPAUSE_CONT);
    if (rc != CURLE_OK)
        http_done(rt, x, rc);
    http_collect(rt);
}

/* The sink has room again, or failed (a closed output stream too): flush, then let curl go
 * on (or, once done, finish). */
static void http_sink_ready(struct rt *rt, struct http_xfer *x)
{
    if (http_flush(x) == -EAGAIN) {
        http_wait_room(rt, x);
        return;
    }
    http_unwatch(rt, &x->out_w);
    if (x->easy)
        http_resume(rt, x);
    else
        http_progress(rt, x);
}

/* The socket pair's watcher (HTTP_TO_PIPE). */
static void http_pipe_ready(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct http_xfer *x = (struct http_xfer *)((char *)w - offsetof(struct http_xfer, out_w));
    http_sink_ready(ev_userdata(loop), x);
}

/* The output stream's source woke its waiters (HTTP_TO_STREAM). */
static void http_output_woken(struct rt *rt, struct waiter *w)
{
    http_sink_ready(rt, (struct http_xfer *)((char *)w - offsetof(struct http_xfer, out_wait)));
}

/* The body stream has data, or was closed: the upload goes on, or ends. */
static void http_source_woken(struct rt *rt, struct waiter *w)
{
    struct http_xfer *x = (struct http_xfer *)((char *)w - offsetof(struct http_xfer, in_wait));
    if (x->in_stream->closed)
        x->stream_closed = true;
    if (x->easy)
        http_resume(rt, x);
}

/* ---- curl's callbacks on a transfer ---- */

/* Status, version and URL of the response whose headers are in. */
static void http_note_response(struct http_xfer *x)
{
    char *url = NULL;
    curl.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    curl.easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &x->version);
    if (curl.easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url
        && strcmp(url, x->url) != 0) {
        char *copy = strdup(url);
        if (copy) {
            free(x->url);
            x->url = copy;
        }
    }
}

static size_t http_on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct http_xfer *x = ud;
    size_t n = size * nmemb, took = n;
    if (!x->head_done) {
        http_note_response(x);
        x->head_done = true;
        http_progress(x->rt, x);
    }
    switch (x->sink) {
    case HTTP_TO_MEMORY:
        if (http_buf_add(&x->body, p, n) != 0)
            return 0;
        break;
    case HTTP_TO_FILE:
        if (fwrite(p, 1, n, x->out_file) != n) {
            x->sink_err = errno ? errno : EIO;
            return 0;
        }
        break;
    default:
        took = http_deliver(x, p, n);
        break;
    }
    if (took == n)
        x->bytes += n;
    return took;
}

static size_t http_on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct http_xfer *x = ud;
    size_t n = size * nmemb;
    long code = 0;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a new response: after a redirect, a 100 */
        x->head.len = 0;
        x->location = false;
    } else if (n >= 9 && strncasecmp(p, "location:", 9) == 0) {
        x->location = true;
    } else if (n <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        /* the end of a block: the last one unless curl goes on to a redirect */
        curl.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && !(x->follow && code / 100 == 3 && x->location) && !x->head_done) {
            http_note_response(x);
            x->head_done = true;
            http_progress(x->rt, x);
        }
    }
    return http_buf_add(&x->head, p, n) == 0 ? n : 0;
}

static size_t http_on_read(char *p, size_t size, size_t nmemb, void *ud)
{
    struct http_xfer *x = ud;
    size_t n = size * nmemb;
    if (x->source == HTTP_FROM_FILE) {
        size_t got = fread(p, 1, n, x->in_file);
        return got == 0 && ferror(x->in_file) ? CURL_READFUNC_ABORT : got;
    }
    struct stream *s = x->in_stream;
    if (s->closed) {
        x->stream_closed = true;
        return CURL_READFUNC_ABORT;
    }
    if (s->len == 0) {
        ssize_t r = s->eof ? 0 : stream_fill(x->rt, s);
        if (r == 0)
            return 0;
        if (r == -EAGAIN) {
            iosrc_wait_node(x->rt, stream_rd_src(s), &x->in_wait);
            return CURL_READFUNC_PAUSE;
        }
        if (r < 0)
            return CURL_READFUNC_ABORT;
    }
    if (n > s->len)
        n = s->len;
    memcpy(p, s->buf + s->off, n);
    stream_consume(s, n);
    return n;
}

/* ---- the transfer's life ---- */

static void http_unwait(struct rt *rt, struct http_xfer *x)
{
    if (!x->waiting)
        return;
    x->waiting = false;
    rt->http->waits--;
    rt->io_waits--;
    ev_unref(rt->loop);
}

static void http_wake(struct rt *rt, struct http_xfer *x)
{
    if (!x->waiting)
        return;
    http_unwait(rt, x);
    sched_ready(rt, x->task, WAKE_OK);
}

/* Done and everything handed to the sink. */
static bool http_complete(const struct http_xfer *x)
{
    return !x->easy && (x->body.len == 0 || x->sink == HTTP_TO_MEMORY || x->sink_err);
}

/* Moves x on after any event: wakes its task when its result is there (a streamed body: once
 * the headers are), ends a streamed body, releases a transfer nobody holds any more. */
static void http_progress(struct rt *rt, struct http_xfer *x)
{
    bool complete = http_complete(x);
    if (complete || (x->streamed && x->head_done))
        http_wake(rt, x);
    if (complete && !x->task)
        http_close_pipe(rt, x);
    if (complete && !x->task)
        http_release(rt, x);
}

static void http_detach(struct rt *rt, struct http_xfer *x)
{
    if (!x->easy)
        return;
    if (x->in_multi)
        curl.multi_remove_handle(rt->http->multi, x->easy);
    x->in_multi = false;
    curl.easy_cleanup(x->easy);
    x->easy = NULL;
}

static double http_info_time(CURL *e, CURLINFO what)
{
    curl_off_t us = 0;
    curl.easy_getinfo(e, what, &us);
    return (double)us * 1e-6;
}

/* The trace event and the --stats counters of a finished transfer. */
static void http_report(struct rt *rt, struct http_xfer *x)
{
    bool failed = x->result != CURLE_OK;
    if (rt->stats)
        stats_http(rt, failed, x->bytes);
    if (!rt_tracing(rt))
        return;
    struct trace_http e = {
        .task = x->task_id, .method = x->method, .url = x->url, .status = x->status,
        .bytes = x->bytes, .error = failed ? http_strerror(x) : NULL,
        .lookup = http_info_time(x->easy, CURLINFO_NAMELOOKUP_TIME_T),
        .connect = http_info_time(x->easy, CURLINFO_CONNECT_TIME_T),
        .tls = http_info_time(x->easy, CURLINFO_APPCONNECT_TIME_T),
        .first_byte = http_info_time(x->easy, CURLINFO_STARTTRANSFER_TIME_T),
        .total = http_info_time(x->easy, CURLINFO_TOTAL_TIME_T),
    };
    trace_http(rt, &e);
}

static void http_done(struct rt *rt, struct http_xfer *x, CURLcode rc)
{
    x->result = rc;
    http_note_response(x);
    http_report(rt, x);
    http_detach(rt, x); /* the connection stays in the multi handle's pool */
    http_progress(rt, x);
}

static void http_collect(struct rt *rt)
{
    CURLMsg *m;
    int left;
    while (rt->http && (m = curl.multi_info_read(rt->http->multi, &left))) {
        struct http_xfer *x = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl.easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        http_done(rt, x, m->data.result);
    }
}

/* ---- curl's callbacks on the multi handle ---- */

static void http_socket_ready(struct ev_loop *loop, ev_io *w, int revents)
{
    struct rt *rt = ev_userdata(loop);
    int running, action = (revents & EV_READ ? CURL_CSELECT_IN : 0)
                          | (revents & EV_WRITE ? CURL_CSELECT_OUT : 0)
                          | (revents & EV_ERROR ? CURL_CSELECT_ERR : 0);
    curl.multi_socket_action(rt->http->multi, w->fd, action, &running); /* may free w */
    http_collect(rt);
}

static int http_socket_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
    struct rt *rt = userp;
    struct http_sock *hs = sockp;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (hs) {
            http_unwatch(rt, &hs->w);
            free(hs);
        }
        return 0;
    }
    if (!hs) {
        if (!(hs = malloc(sizeof *hs)))
            return -1;
        ev_init(&hs->w, http_socket_ready);
        curl.multi_assign(rt->http->multi, fd, hs);
    }
    http_unwatch(rt, &hs->w);
    ev_io_set(&hs->w, fd, (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0));
    http_watch(rt, &hs->w);
    return 0;
}

/* Every copy of a streamed body's reader end is closed (EPOLLHUP on ours): nothing will read
 * it, so its transfer ends now, not at the server's next bytes, which may never come. */
static void http_readers_gone(struct ev_loop *loop, ev_io *w, int revents)
{
    struct rt *rt = ev_userdata(loop);
    struct epoll_event ev;
    (void)revents;
    /* one at a time: ending a transfer may release others, whose events are then gone too */
    while (rt->http && epoll_wait(w->fd, &ev, 1, 0) == 1) {
        struct http_xfer *x = ev.data.ptr;
        x->sink_err = EPIPE;
        x->body.len = 0;
        if (x->easy)
            http_done(rt, x, CURLE_WRITE_ERROR);
        else
            http_progress(rt, x);
    }
}

static void http_timer_fired(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct rt *rt = ev_userdata(loop);
    int running;
    (void)w;
    (void)revents;
    ev_ref(loop); /* libev stopped the unref'd one-shot timer: rebalance */
    curl.multi_socket_action(rt->http->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    http_collect(rt);
}

static int http_timer_cb(CURLM *m, long ms, void *userp)
{
    struct rt *rt = userp;
    (void)m;
    http_timer_stop(rt);
    if (ms >= 0) {
        ev_timer_set(&rt->http->timer, (double)ms * 1e-3, 0);
        ev_timer_start(rt->loop, &rt->http->timer);
        ev_unref(rt->loop);
    }
    return 0;
}

/* ---- resources ---- */

static void http_shutdown(struct rt *rt, struct resource *r)
{
    http_release(rt, (struct http_xfer *)r);
}

static void http_describe(struct resource *r, char *buf, size_t size)
{
    struct http_xfer *x = (struct http_xfer *)r;
    snprintf(buf, size, "%s %s", x->method, x->url);
}

/* ---- the interface ---- */

int http_open(struct rt *rt, char *err, size_t errsize)
{
    if (rt->http)
        return 0;
    if (dl_load(&http_libcurl, err, errsize) != 0)
        return -1;
    int hup_fd = epoll_create1(EPOLL_CLOEXEC);
    struct http *h = hup_fd >= 0 ? calloc(1, sizeof *h) : NULL;
    if (!h || curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(h->multi = curl.multi_init())) {
        snprintf(err, errsize, "async.http: cannot start libcurl: %s",
                 strerror(hup_fd < 0 ? errno : ENOMEM));
        free(h);
        if (hup_fd >= 0)
            close(hup_fd);
        return -1;
    }
    curl.multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
    curl.multi_setopt(h->multi, CURLMOPT_SOCKETDATA, rt);
    curl.multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
    curl.multi_setopt(h->multi, CURLMOPT_TIMERDATA, rt);
    ev_init(&h->timer, http_timer_fired);
    h->hup_fd = hup_fd;
    ev_io_init(&h->hup_w, http_readers_gone, hup_fd, EV_READ);
    rt->http = h;
    http_watch(rt, &h->hup_w);
    return 0;
}

void http_init(struct rt *rt, struct http_xfer *x)
{
    memset(x, 0, sizeof *x);
    x->rt = rt;
    x->ref = LUA_NOREF;
    x->pipe_fd = x->peer_fd = -1;
    x->res.kind = "http request";
    x->res.shutdown = http_shutdown;
    x->res.describe = http_describe;
    x->out_wait.wake = http_output_woken;
    x->in_wait.wake = http_source_woken;
}

#define HTTP_SET(e, opt, v) (curl.easy_setopt((e), (opt), (v)) == CURLE_OK)

int http_prepare(struct rt *rt, struct http_xfer *x, const struct http_opts *o)
{
    CURL *e = x->easy = curl.easy_init();
    bool ok = e != NULL;
    x->follow = o->max_redirs > 0;
    ok = ok && HTTP_SET(e, CURLOPT_PRIVATE, x) && HTTP_SET(e, CURLOPT_URL, x->url)
         && HTTP_SET(e, CURLOPT_NOSIGNAL, 1L) && HTTP_SET(e, CURLOPT_ERRORBUFFER, x->error)
         && HTTP_SET(e, CURLOPT_ACCEPT_ENCODING, "") /* every coding curl decodes */
         && HTTP_SET(e, CURLOPT_PROTOCOLS_STR, "http,https")
         && HTTP_SET(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
         /* a request to a host being connected waits to learn whether it multiplexes
          * (HTTP/2) rather than opening a connection of its own */
         && HTTP_SET(e, CURLOPT_PIPEWAIT, 1L)
         && HTTP_SET(e, CURLOPT_HEADERFUNCTION, http_on_header) && HTTP_SET(e, CURLOPT_HEADERDATA, x)
         && HTTP_SET(e, CURLOPT_WRITEFUNCTION, http_on_body) && HTTP_SET(e, CURLOPT_WRITEDATA, x);
    /* a transfer ended during its name lookup leaves curl's resolver thread to finish on its
     * own instead of joining it: a name server that does not answer would hold the loop
     * for its whole timeout (libcurl >= 7.87; older ones refuse the option and join) */
    if (ok)
        curl.easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
    if (ok && x->follow)
        ok = HTTP_SET(e, CURLOPT_FOLLOWLOCATION, 1L) && HTTP_SET(e, CURLOPT_MAXREDIRS, o->max_redirs);
    if (ok && o->timeout > 0) {
        long ms = (long)(o->timeout * 1000.0);
        ok = HTTP_SET(e, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
    }
    if (ok && o->cafile)
        ok = HTTP_SET(e, CURLOPT_CAINFO, o->cafile);
    if (ok && o->insecure)
        ok = HTTP_SET(e, CURLOPT_SSL_VERIFYPEER, 0L) && HTTP_SET(e, CURLOPT_SSL_VERIFYHOST, 0L);
    if (ok && x->source != HTTP_FROM_NONE) {
        ok = HTTP_SET(e, CURLOPT_POST, 1L)
             && (strcmp(x->method, "POST") == 0 || HTTP_SET(e, CURLOPT_CUSTOMREQUEST, x->method));
        if (x->source == HTTP_FROM_STRING)
            ok = ok && HTTP_SET(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len)
                 && HTTP_SET(e, CURLOPT_POSTFIELDS, o->body);
        else
            ok = ok && HTTP_SET(e, CURLOPT_READFUNCTION, http_on_read) && HTTP_SET(e, CURLOPT_READDATA, x)
                 && HTTP_SET(e, CURLOPT_POSTFIELDSIZE_LARGE, o->body_size);
        /* no "Expect: 100-continue": many servers never answer it, curl then waits 1 s */
        ok = ok && (x->headers = curl.slist_append(x->headers, "Expect:")) != NULL;
    } else if (ok && strcmp(x->method, "HEAD") == 0) {
        ok = HTTP_SET(e, CURLOPT_NOBODY, 1L);
    } else if (ok && strcmp(x->method, "GET") != 0) {
        ok = HTTP_SET(e, CURLOPT_CUSTOMREQUEST, x->method);
    }
    for (const char **h = o->headers; ok && h && *h; h++) {
        struct curl_slist *l = curl.slist_append(x->headers, *h);
        ok = l != NULL;
        x->headers = l ? l : x->headers;
    }
    if (ok && x->headers)
        ok = HTTP_SET(e, CURLOPT_HTTPHEADER, x->headers);
    if (ok && x->sink == HTTP_TO_PIPE) {
        int sv[2];
        ok = socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0;
        if (ok) {
            x->pipe_fd = sv[0];
            x->peer_fd = sv[1];
            shutdown(sv[0], SHUT_RD);
            shutdown(sv[1], SHUT_WR);
        }
        /* EPOLLHUP (always asked for) once the other end is closed, reported once */
        struct epoll_event ev = {.events = EPOLLONESHOT, .data.ptr = x};
        ok = ok && epoll_ctl(rt->http->hup_fd, EPOLL_CTL_ADD, x->pipe_fd, &ev) == 0;
    }
    if (x->sink == HTTP_TO_PIPE)
        ev_io_init(&x->out_w, http_pipe_ready, x->pipe_fd, EV_WRITE);
    return ok ? 0 : -ENOMEM;
}

int http_submit(struct rt *rt, struct http_xfer *x)
{
    struct http *h = rt->http;
    if (curl.multi_add_handle(h->multi, x->easy) != CURLM_OK)
        return -ENOMEM;
    x->in_multi = true;
    resource_add(rt, &x->res);
    x->waiting = true;
    h->waits++;
    rt->io_waits++;
    ev_ref(rt->loop);
    return 0;
}

void http_abandon(struct rt *rt, struct http_xfer *x)
{
    http_unwait(rt, x);
    if (rt->stats && x->easy)
        stats_http(rt, true, x->bytes);
    http_release(rt, x);
}

void http_settle(struct rt *rt, struct http_xfer *x)
{
    x->task = NULL;
    if (x->streamed && !x->released)
        http_progress(rt, x);
    else
        http_release(rt, x);
}

void http_release(struct rt *rt, struct http_xfer *x)
{
    if (x->released)
        return;
    x->released = true;
    if (x->waiting) {
        x->result = CURLE_ABORTED_BY_CALLBACK;
        snprintf(x->error, sizeof x->error, "closed");
        http_wake(rt, x);
    }
    resource_remove(rt, &x->res);
    http_detach(rt, x);
    http_unwatch(rt, &x->out_w);
    iosrc_unwait_node(rt, &x->out_wait);
    iosrc_unwait_node(rt, &x->in_wait);
    if (x->headers)
        curl.slist_free_all(x->headers);
    x->headers = NULL;
    http_close_pipe(rt, x);
    if (x->peer_fd >= 0)
        close(x->peer_fd);
    x->peer_fd = -1;
    http_buf_free(&x->body);
    http_buf_free(&x->head);
    free(x->url);
    x->url = NULL;
    luaL_unref(rt->L, LUA_REGISTRYINDEX, x->ref);
    x->ref = LUA_NOREF;
}

const char *http_strerror(const struct http_xfer *x)
{
    if (x->stream_closed)
        return "closed";
    if (x->sink_err)
        return strerror(x->sink_err);
    return x->error[0] ? x->error : curl.easy_strerror((CURLcode)x->result);
}

void http_close(struct rt *rt)
{
    struct http *h = rt->http;
    if (!h)
        return;
    for (struct resource *r = rt->resources, *next; r; r = next) {
        next = r->next;
        if (r->shutdown == http_shutdown)
            http_release(rt, (struct http_xfer *)r);
    }
    curl.multi_cleanup(h->multi);
    http_timer_stop(rt);
    http_unwatch(rt, &h->hup_w);
    close(h->hup_fd);
    rt->http = NULL;
    free(h);
}
