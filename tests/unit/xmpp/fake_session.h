/* A client with a fake connection (xmpp_internal.h) for the extension
 * tests: what it sends collects in out, the test's callbacks write to log.
 * Include after <cmocka.h>. */
#ifndef IPOP_TEST_FAKE_SESSION_H
#define IPOP_TEST_FAKE_SESSION_H

#include <string.h>
#include <uv.h>

#include "jbind.h"
#include "stanza.h"
#include "xmpp.h"
#include "xmpp_internal.h"

#define FS_HDR "<stream:stream xmlns='jabber:client' " \
               "xmlns:stream='http://etherx.jabber.org/streams' id='s1' " \
               "from='xmpp.test' version='1.0'>"
#define FS_ME "alice@xmpp.test/ipop-1"

struct fixture {
  uv_loop_t loop;
  struct xmpp_config cfg;
  struct xmpp_client *c;
  struct sbuf out, log;
};

/* The loop and alice's configuration; adjust f->cfg, then fs_start(). */
static inline void fs_init(struct fixture *f)
{
  memset(f, 0, sizeof(*f));
  assert_int_equal(uv_loop_init(&f->loop), 0);
  jb_defaults(&xmpp_config_schema, &f->cfg);
  strcpy(f->cfg.jid, "alice@xmpp.test");
  sbuf_init(&f->out);
  sbuf_init(&f->log);
}

static inline const char *out(struct fixture *f)
{
  return f->out.data ? f->out.data : "";
}

static inline const char *logs(struct fixture *f)
{
  return f->log.data ? f->log.data : "";
}

static inline int feed(struct fixture *f, const char *s)
{
  sbuf_reset(&f->out);
  sbuf_reset(&f->log);
  return xmpp__client_test_feed(f->c, s, strlen(s));
}

/* (Re)connect: a fresh fake connection, logged in as FS_ME. */
static inline void attach(struct fixture *f)
{
  sbuf_reset(&f->out);
  assert_int_equal(xmpp__client_test_attach(f->c, &f->out, FS_ME), 0);
  assert_int_equal(xmpp__client_test_feed(f->c, FS_HDR, strlen(FS_HDR)), 0);
}

static inline void fs_start(struct fixture *f, const char *node_id,
                            const struct xmpp_callbacks *cbs)
{
  assert_int_equal(xmpp__client_new_nopw(&f->loop, &f->cfg, node_id, cbs, f, &f->c), 0);
}

static inline void fx_teardown(struct fixture *f)
{
  xmpp_client_free(f->c);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  sbuf_free(&f->out);
  sbuf_free(&f->log);
}

#endif
