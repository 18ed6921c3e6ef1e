/* Seams for the unit tests (tests/unit/xmpp): drive a client without a
 * socket.  Not for the controller. */
#ifndef IPOP_XMPP_INTERNAL_H
#define IPOP_XMPP_INTERNAL_H

#include <openssl/types.h>

#include "stanza.h"
#include "xmpp.h"

/* Give c a fake connection whose output is appended to capture, bound as
 * full_jid, past roster retrieval (phase online, state ONLINE); full_jid
 * NULL: just authenticated, waiting for the stream features (then bind,
 * session, roster).  The test then feeds a stream header and stanzas with
 * xmpp__client_test_feed. */
int xmpp__client_test_attach(struct xmpp_client *c, struct sbuf *capture,
                             const char *full_jid);
/* Feed server bytes; returns 0, or the IPOP_E* that closed the fake
 * connection. */
int xmpp__client_test_feed(struct xmpp_client *c, const char *data,
                           size_t len);
/* "host port" of a pending see-other-host redirect ("" if none). */
const char *xmpp__client_redirect(struct xmpp_client *c);
/* Send raw bytes on the stream when online (hostile-peer tests). */
int xmpp__client_send_raw(struct xmpp_client *c, const char *data, size_t len);
/* Construct without reading a password file. */
int xmpp__client_new_nopw(uv_loop_t *loop, const struct xmpp_config *cfg,
                          const char *node_id, const struct xmpp_callbacks *cbs,
                          void *ctx, struct xmpp_client **out);
/* The same, sharing another client's TLS context (taking a reference)
 * instead of building one: a fuzz target makes a client per input, and
 * SSL_CTX_new costs more than the input.  ssl_ctx must have been made for
 * the same cfg->tls. */
int xmpp__client_new_shared(uv_loop_t *loop, const struct xmpp_config *cfg,
                            const char *node_id, const struct xmpp_callbacks *cbs,
                            void *ctx, SSL_CTX *ssl_ctx, struct xmpp_client **out);
/* The client's TLS context (borrowed). */
SSL_CTX *xmpp__client_ssl_ctx(struct xmpp_client *c);

#endif
