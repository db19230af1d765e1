/* TLS over a connected socket with OpenSSL, loaded on first use (dl.h): linked in, libssl
 * would cost every run its start-up time. A connection is an SSL object on the socket's fd;
 * handshakes, reads and writes never block and say which readiness they wait for. */
#ifndef ASYNCRUN_TLS_H
#define ASYNCRUN_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tls;         /* libssl's and libcrypto's functions, resolved once */
struct tls_conn;    /* one connection */
struct ssl_ctx_st;  /* OpenSSL's SSL_CTX */

/* The size of struct tls, for the caller to place it (it lives as long as the process). */
size_t tls_size(void);
/* Opens libssl and libcrypto into t: 0, or -1 with the "needs libssl" message in err. */
int tls_load(struct tls *t, char *err, size_t errsize);

/* A failure: the message (naming the file, or what the handshake found) and a code (an
 * errno; EPROTO for what TLS itself refused). */
struct tls_error {
    char msg[256];
    int code;
};

/* A client context trusting cafile, or the system's CAs when cafile is NULL; NULL on failure. */
struct ssl_ctx_st *tls_ctx_client(struct tls *t, const char *cafile, struct tls_error *e);
/* A server context presenting cert (a PEM chain) with key; NULL on failure. */
struct ssl_ctx_st *tls_ctx_server(struct tls *t, const char *cert, const char *key,
                                  struct tls_error *e);
void tls_ctx_free(struct tls *t, struct ssl_ctx_st *ctx);

/* A connection on fd (not owned) in ctx: the server side, or a client sending servername as
 * SNI and, unless insecure, verifying the peer's chain and that name. NULL: no memory. */
struct tls_conn *tls_conn_new(struct tls *t, struct ssl_ctx_st *ctx, int fd, bool server,
                              const char *servername, bool insecure);

enum tls_step { TLS_DONE, TLS_WANT_READ, TLS_WANT_WRITE, TLS_FAILED };
/* One step of the handshake: TLS_DONE, TLS_WANT_* (wait for that readiness and call again),
 * or TLS_FAILED with e filled in. */
enum tls_step tls_handshake(struct tls_conn *c, struct tls_error *e);

/* As read(2) and write(2) on a non-blocking socket: bytes, 0 at the end (close_notify or the
 * peer's hang-up), or -1 with errno set (EAGAIN; EPROTO: a TLS error). After EAGAIN, *other
 * says whether the call waits for the other readiness (a read that must write, or the
 * reverse). */
ssize_t tls_read(struct tls_conn *c, void *p, size_t n, bool *other);
ssize_t tls_write(struct tls_conn *c, const void *p, size_t n, bool *other);

/* Whether the handshake is done and no fatal error came since. */
bool tls_established(const struct tls_conn *c);

/* Sends close_notify when the connection is sound (without waiting for the peer's) and
 * frees c; the fd stays open. */
void tls_close(struct tls_conn *c);

#endif
