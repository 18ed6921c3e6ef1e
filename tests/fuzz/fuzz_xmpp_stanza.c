/* libFuzzer target for everything the XMPP client does with what a server
 * sends once a session is up: the stream parser and every stanza handler
 * (roster, presence, signals, the MUC, blocking and PEP extensions: room
 * presence, invitations, block pushes, pubsub events and items, disco#info
 * requests, iq answers).  The input follows a stream header on a client
 * with a fake connection (xmpp_internal.h); a few requests of ours are
 * pending first, so that forged answers to them are exercised too.
 * Or the session starts just after authentication, and the input brings
 * the stream features, the bind and session answers and the roster.
 * Stanzas beyond the limits inside one stanza are skipped (stanza.h);
 * the answers made up for skipped ones go through the same handlers.
 * Nothing may crash, leak or hang; the callbacks check the invariants the
 * library promises (validated JIDs and bounded texts). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "jbind.h"
#include "log.h"
#include "muc.h"
#include "pep.h"
#include "stanza.h"
#include "xmpp.h"
#include "xmpp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR "<stream:stream xmlns='jabber:client' " \
            "xmlns:stream='http://etherx.jabber.org/streams' id='s1' " \
            "from='xmpp.test' version='1.0'>"

static void check_jid(const char *j)
{
  if (j && (strlen(j) >= XMPP_JID_MAX || strchr(j, '<') || strchr(j, '\'')))
    abort();
}

static void on_presence(struct xmpp_client *c, const struct xmpp_presence *p, void *ctx)
{
  check_jid(p->from);
  if (!strchr(p->from, '/') || (p->node_id && strlen(p->node_id) > XMPP_NODE_ID_MAX))
    abort();
}

static void on_signal(struct xmpp_client *c, const struct xmpp_signal *s, void *ctx)
{
  check_jid(s->from);
  if (s->payload_len > XMPP_SIGNAL_PAYLOAD_MAX)
    abort();
}

static void on_pep(struct xmpp_client *c, const struct xmpp_pep_event *ev, void *ctx)
{
  check_jid(ev->from);
  if (ev->n > XMPP_PEP_ITEMS_MAX || ev->n_retracted > XMPP_PEP_ITEMS_MAX)
    abort();
  for (size_t i = 0; i < ev->n; i++)
    if (strlen(ev->items[i].node_id) > XMPP_NODE_ID_MAX ||
        strlen(ev->items[i].fingerprint) > XMPP_FPR_MAX)
      abort();
}

static void on_occupant(struct xmpp_client *c, const struct xmpp_muc_occupant *o, void *ctx)
{
  check_jid(o->jid);
  check_jid(o->room);
}

static void on_blocklist(struct xmpp_client *c, const struct xmpp_blocklist_event *ev, void *ctx)
{
  if (ev->n > XMPP_BLOCKLIST_MAX)
    abort();
  for (size_t i = 0; i < ev->n; i++)
    check_jid(ev->jids[i]);
}

static const struct xmpp_callbacks cbs = {
  .on_presence = on_presence, .on_signal = on_signal, .on_pep = on_pep,
  .on_muc_occupant = on_occupant, .on_blocklist = on_blocklist,
};

/* Made once, reused by every input: the loop (each input must leave it
 * with no handle at all, checked below) and the TLS context (read-only
 * here: the connection is fake; SSL_CTX_new costs more than an input). */
static uv_loop_t loop;
static SSL_CTX *ssl_ctx;

static void config(struct xmpp_config *cfg)
{
  jb_defaults(&xmpp_config_schema, cfg);
  strcpy(cfg->jid, "alice@xmpp.test");
  cfg->max_stanza = 64 * 1024;
  cfg->tls.verify_peer = false; /* no CA store to load */
}

static void count_handle(uv_handle_t *h, void *arg)
{
  (*(unsigned *)arg)++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  ipop_log_init("fuzz_xmpp_stanza", IPOP_LOG_ERROR);
  if (uv_loop_init(&loop) != 0)
    abort();
  struct xmpp_config cfg;
  config(&cfg);
  struct xmpp_client *c = NULL;
  if (xmpp__client_new_nopw(&loop, &cfg, "a0000000000000000000000000000000", &cbs, NULL, &c))
    abort();
  ssl_ctx = xmpp__client_ssl_ctx(c);
  SSL_CTX_up_ref(ssl_ctx);
  xmpp_client_free(c);
  uv_run(&loop, UV_RUN_DEFAULT);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct xmpp_config cfg;
  config(&cfg);
  /* An input that does not start with '<' begins with a control byte:
   * bit 0 sets MaxDepth to 4 (so that skipped stanzas, and the answers
   * made up for them, are reached often); bit 1 starts the session just
   * after authentication (features, bind, session, roster come from the
   * input); bits 2..7 say where to split the rest in two feeds. */
  size_t cut = size;
  bool login = false;
  if (size && data[0] != '<') {
    if (data[0] & 1)
      cfg.max_depth = 4;
    login = data[0] & 2;
    cut = (size - 1) * (data[0] >> 2) / 63;
    data++;
    size--;
  }
  struct xmpp_client *c = NULL;
  struct sbuf out;
  sbuf_init(&out);
  if (xmpp__client_new_shared(&loop, &cfg, "a0000000000000000000000000000000", &cbs, NULL,
                              ssl_ctx, &c) ||
      xmpp__client_test_attach(c, &out, login ? NULL : "alice@xmpp.test/ipop-1") != 0)
    abort();
  /* Requests whose answers the input may forge: ipop1 blocklist (sent at
   * login), then a publish, a PEP fetch, a room join and room info. */
  xmpp_pep_publish(c, "sha-256 AA:BB");
  xmpp_pep_fetch(c, "bob@xmpp.test");
  xmpp_muc_join(c, "lab@conference.xmpp.test", NULL);
  xmpp_muc_room_info(c, "lab@conference.xmpp.test");
  if (xmpp__client_test_feed(c, HDR, strlen(HDR)) == 0 &&
      xmpp__client_test_feed(c, (const char *)data, cut) == 0)
    xmpp__client_test_feed(c, (const char *)data + cut, size - cut);
  xmpp_client_free(c);
  uv_run(&loop, UV_RUN_DEFAULT);
  /* Nothing of this input may outlive it (what uv_loop_close checked
   * when each input had its own loop). */
  unsigned left = 0;
  uv_walk(&loop, count_handle, &left);
  if (left != 0)
    abort();
  sbuf_free(&out);
  return 0;
}
