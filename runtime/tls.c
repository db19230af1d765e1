/* Every OpenSSL function is called through a pointer resolved by dl_load: asyncrun never
 * links libssl. OpenSSL's headers give the types and constants only. Several of OpenSSL's
 * "functions" are macros over SSL_ctrl and SSL_CTX_ctrl: those are called with the macro's
 * arguments. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "dl.h"
#include "tls.h"

/* X(name): the functions of libssl, then those of libcrypto */
#define TLS_SSL_FUNCS(X)                                                                     \
    X(TLS_client_method) X(TLS_server_method) X(SSL_CTX_new) X(SSL_CTX_free) X(SSL_CTX_ctrl) \
    X(SSL_CTX_set_options) X(SSL_CTX_set_verify) X(SSL_CTX_set_default_verify_paths)         \
    X(SSL_CTX_load_verify_locations) X(SSL_CTX_use_certificate_chain_file)                   \
    X(SSL_CTX_use_PrivateKey_file) X(SSL_new) X(SSL_free) X(SSL_set_fd)                      \
    X(SSL_set_connect_state) X(SSL_set_accept_state) X(SSL_set_verify) X(SSL_set1_host)      \
    X(SSL_ctrl) X(SSL_do_handshake) X(SSL_read) X(SSL_write) X(SSL_shutdown)                 \
    X(SSL_get_error) X(SSL_get_verify_result) X(SSL_has_pending)
#define TLS_CRYPTO_FUNCS(X) \
    X(ERR_get_error) X(ERR_peek_last_error) X(ERR_clear_error) X(ERR_reason_error_string) \
    X(X509_verify_cert_error_string)

#define TLS_FIELD(name) __typeof__(name) *name;
#define TLS_SYM(name) {#name, (void **)&t->name},

struct tls {
    struct dl_lib ssl, crypto;
    TLS_SSL_FUNCS(TLS_FIELD)
    TLS_CRYPTO_FUNCS(TLS_FIELD)
};

struct tls_conn {
    const struct tls *t;
    SSL *ssl;
    bool ready;  /* the handshake is done */
    bool broken; /* a fatal error: OpenSSL forbids SSL_shutdown after one */
    bool drained; /* the last read took all the socket had: the next waits for readiness */
};

size_t tls_size(void)
{
    return sizeof(struct tls);
}

int tls_load(struct tls *t, char *err, size_t errsize)
{
    const struct dl_sym ssl[] = {TLS_SSL_FUNCS(TLS_SYM){NULL, NULL}};
    const struct dl_sym crypto[] = {TLS_CRYPTO_FUNCS(TLS_SYM){NULL, NULL}};
    memset(t, 0, sizeof *t);
    t->ssl = (struct dl_lib){"async.tls", "libssl", "libssl.so.3", "libssl3", ssl, NULL};
    t->crypto =
        (struct dl_lib){"async.tls", "libcrypto", "libcrypto.so.3", "libssl3", crypto, NULL};
    int r = dl_load(&t->ssl, err, errsize) || dl_load(&t->crypto, err, errsize) ? -1 : 0;
    t->ssl.syms = t->crypto.syms = NULL; /* they were on this stack */
    return r;
}

/* OpenSSL's reason for the last error, and an empty error queue. */
static const char *tls_reason(const struct tls *t)
{
    const char *why = t->ERR_reason_error_string(t->ERR_peek_last_error());
    t->ERR_clear_error();
    return why ? why : "unknown error";
}

__attribute__((format(printf, 3, 4)))
static void tls_fail(struct tls_error *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = code;
}

/* Whether path can be opened: OpenSSL's own message for a missing file names no file. */
static bool tls_readable(const char *path, struct tls_error *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tls_fail(e, errno, "%s: %s", path, strerror(errno));
        return false;
    }
    close(fd);
    return true;
}

static SSL_CTX *tls_ctx_new(struct tls *t, const SSL_METHOD *method, struct tls_error *e)
{
    SSL_CTX *ctx = t->SSL_CTX_new(method);
    if (!ctx) {
        tls_fail(e, ENOMEM, "TLS: %s", tls_reason(t));
        return NULL;
    }
    t->SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
    /* a partial write is a short write, and a retry may come from a buffer that moved */
    t->SSL_CTX_ctrl(ctx, SSL_CTRL_MODE,
                    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, NULL);
    /* a record in one recv, not a header and then a body */
    t->SSL_CTX_ctrl(ctx, SSL_CTRL_SET_READ_AHEAD, 1, NULL);
    /* a hang-up without close_notify is the end of the stream, as for curl and Python;
     * no renegotiation: a write never has to wait for readability */
    t->SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    return ctx;
}

SSL_CTX *tls_ctx_client(struct tls *t, const char *cafile, struct tls_error *e)
{
    if (cafile && !tls_readable(cafile, e))
        return NULL;
    SSL_CTX *ctx = tls_ctx_new(t, t->TLS_client_method(), e);
    if (!ctx)
        return NULL;
    t->SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (!cafile) {
        t->SSL_CTX_set_default_verify_paths(ctx); /* none there: every peer fails to verify */
        t->ERR_clear_error();
    } else if (t->SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
        tls_fail(e, EINVAL, "%s: not a CA certificate file (%s)", cafile, tls_reason(t));
        t->SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *tls_ctx_server(struct tls *t, const char *cert, const char *key, struct tls_error *e)
{
    if (!tls_readable(cert, e) || !tls_readable(key, e))
        return NULL;
    SSL_CTX *ctx = tls_ctx_new(t, t->TLS_server_method(), e);
    if (!ctx)
        return NULL;
    if (t->SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        tls_fail(e, EINVAL, "%s: not a certificate (%s)", cert, tls_reason(t));
    else if (t->SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        tls_fail(e, EINVAL, "%s: not the certificate's private key (%s)", key, tls_reason(t));
    else
        return ctx;
    t->SSL_CTX_free(ctx);
    return NULL;
}

void tls_ctx_free(struct tls *t, SSL_CTX *ctx)
{
    t->SSL_CTX_free(ctx);
}

/* Whether name is an IP address: SNI carries host names only (RFC 6066). */
static bool tls_is_address(const char *name)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

struct tls_conn *tls_conn_new(struct tls *t, SSL_CTX *ctx, int fd, bool server,
                              const char *servername, bool insecure)
{
    struct tls_conn *c = calloc(1, sizeof *c);
    if (!c || !(c->ssl = t->SSL_new(ctx)) || t->SSL_set_fd(c->ssl, fd) != 1)
        goto fail;
    c->t = t;
    if (server) {
        t->SSL_set_accept_state(c->ssl);
        return c;
    }
    t->SSL_set_connect_state(c->ssl);
    if (servername && !tls_is_address(servername)
        && t->SSL_ctrl(c->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                       (void *)servername) != 1)
        goto fail;
    if (insecure)
        t->SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
    else if (servername && t->SSL_set1_host(c->ssl, servername) != 1)
        goto fail; /* an address is checked against the certificate's IP entries */
    return c;
fail:
    if (c && c->ssl)
        t->SSL_free(c->ssl);
    free(c);
    t->ERR_clear_error();
    return NULL;
}

enum tls_step tls_handshake(struct tls_conn *c, struct tls_error *e)
{
    const struct tls *t = c->t;
    int r = t->SSL_do_handshake(c->ssl);
    int err = errno;
    if (r == 1) {
        c->ready = true;
        return TLS_DONE;
    }
    int why = t->SSL_get_error(c->ssl, r);
    if (why == SSL_ERROR_WANT_READ)
        return TLS_WANT_READ;
    if (why == SSL_ERROR_WANT_WRITE)
        return TLS_WANT_WRITE;
    long v = t->SSL_get_verify_result(c->ssl);
    if (why == SSL_ERROR_SYSCALL && err && !t->ERR_peek_last_error())
        tls_fail(e, err, "TLS handshake: %s", strerror(err));
    else if (v != X509_V_OK)
        tls_fail(e, EPROTO, "TLS handshake: certificate verify failed: %s",
                 t->X509_verify_cert_error_string(v));
    else if (t->ERR_peek_last_error())
        tls_fail(e, EPROTO, "TLS handshake: %s", tls_reason(t));
    else /* a hang-up */
        tls_fail(e, ECONNRESET, "TLS handshake: the peer closed the connection");
    c->broken = true;
    t->ERR_clear_error();
    return TLS_FAILED;
}

/* The outcome of a SSL_read or SSL_write that returned r <= 0 (errno: err), as tls.h says. */
static ssize_t tls_result(struct tls_conn *c, int r, int err, bool reading, bool *other)
{
    const struct tls *t = c->t;
    switch (t->SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        *other = !reading;
        err = EAGAIN;
        break;
    case SSL_ERROR_WANT_WRITE:
        *other = reading;
        err = EAGAIN;
        break;
    case SSL_ERROR_ZERO_RETURN: /* the peer's close_notify */
        if (reading)
            return 0;
        err = EPIPE;
        break;
    case SSL_ERROR_SYSCALL:
        c->broken = true;
        t->ERR_clear_error();
        if (err == 0 && reading)
            return 0; /* a hang-up */
        err = err ? err : EPIPE;
        break;
    default:
        c->broken = true;
        t->ERR_clear_error();
        err = EPROTO;
    }
    errno = err;
    return -1;
}

/* With read-ahead, OpenSSL asks the socket for more than a record: when nothing is left in
 * its buffer after a read, the socket had no more, and the next read would only find EAGAIN
 * at the cost of a failing SSL_read and a system call. It waits for readiness instead (a
 * short read ends reading in libuv too); level-triggered epoll reports what came since. */
ssize_t tls_read(struct tls_conn *c, void *p, size_t n, bool *other)
{
    if (c->drained) {
        c->drained = false;
        *other = false;
        errno = EAGAIN;
        return -1;
    }
    int r = c->t->SSL_read(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
    if (r <= 0)
        return tls_result(c, r, errno, true, other);
    c->drained = !c->t->SSL_has_pending(c->ssl);
    return r;
}

ssize_t tls_write(struct tls_conn *c, const void *p, size_t n, bool *other)
{
    if (n == 0)
        return 0;
    int r = c->t->SSL_write(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
    return r > 0 ? r : tls_result(c, r, errno, false, other);
}

bool tls_established(const struct tls_conn *c)
{
    return c->ready && !c->broken;
}

void tls_close(struct tls_conn *c)
{
    const struct tls *t = c->t;
    if (c->ready && !c->broken) {
        t->SSL_shutdown(c->ssl); /* close_notify if the socket takes it now */
        t->ERR_clear_error();
    }
    t->SSL_free(c->ssl);
    free(c);
}
