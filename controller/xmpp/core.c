/* XMPP client core: state changes, the extension table and its dispatch,
 * and freeing the client once everything it owns has closed.  The core
 * knows the extensions only through their struct xmpp_ext. */
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "error.h"

#define M "xmpp"

void xmpp__set_state(struct xmpp_client *c, enum xmpp_state s,
                     const char *reason)
{
  if (c->state == s && s != XMPP_STATE_OFFLINE)
    return;
  if (c->state == s && s == XMPP_STATE_OFFLINE && !reason)
    return;
  enum xmpp_state old = c->state;
  c->state = s;
  /* Requests fail, rooms wait: before on_state. */
  for (size_t i = 0; old == XMPP_STATE_ONLINE && i < c->next; i++)
    if (c->ext[i]->offline)
      c->ext[i]->offline(c);
  if (c->cbs.on_state)
    c->cbs.on_state(c, s, reason, c->ctx);
}

void xmpp__client_maybe_free(struct xmpp_client *c)
{
  if (!c->freeing || c->timers_open || c->conns_alive)
    return;
  for (size_t i = 0; i < c->next; i++)
    if (c->ext[i]->free)
      c->ext[i]->free(c);
  SSL_CTX_free(c->ssl_ctx);
  if (c->password) {
    OPENSSL_cleanse(c->password, strlen(c->password));
    free(c->password);
  }
  free(c);
}

void xmpp__ext_add(struct xmpp_client *c, const struct xmpp_ext *e)
{
  if (c->next < XMPP_EXT_MAX)
    c->ext[c->next++] = e;
}

bool xmpp__ext_presence(struct conn *k, const struct xmpp_stanza *st)
{
  struct xmpp_client *c = k->c;
  for (size_t i = 0; i < c->next && !k->dead; i++)
    if (c->ext[i]->presence && c->ext[i]->presence(k, st))
      return true;
  return false;
}

bool xmpp__ext_message(struct conn *k, const struct xmpp_stanza *st)
{
  struct xmpp_client *c = k->c;
  for (size_t i = 0; i < c->next && !k->dead; i++)
    if (c->ext[i]->message && c->ext[i]->message(k, st))
      return true;
  return false;
}

bool xmpp__ext_iq(struct conn *k, const struct xmpp_stanza *iq)
{
  struct xmpp_client *c = k->c;
  for (size_t i = 0; i < c->next && !k->dead; i++)
    if (c->ext[i]->iq && c->ext[i]->iq(k, iq))
      return true;
  return false;
}

void xmpp__ext_presence_children(struct xmpp_client *c, struct sbuf *b)
{
  for (size_t i = 0; i < c->next; i++)
    if (c->ext[i]->presence_children)
      c->ext[i]->presence_children(c, b);
}

/* A callback may stop the client: every hook checks that we are still
 * online before it sends. */
void xmpp__ext_online(struct xmpp_client *c)
{
  for (size_t i = 0; i < c->next && xmpp__online(c); i++)
    if (c->ext[i]->online)
      c->ext[i]->online(c);
}

void xmpp__ext_caps_changed(struct xmpp_client *c)
{
  for (size_t i = 0; i < c->next && xmpp__online(c); i++)
    if (c->ext[i]->caps_changed)
      c->ext[i]->caps_changed(c);
}

struct conn *xmpp__online(struct xmpp_client *c)
{
  struct conn *k = c->conn;
  return k && !k->dead && k->phase == P_ONLINE ? k : NULL;
}

void xmpp__drop(struct xmpp_client *c, uint64_t *counter, const char *what,
                const char *from)
{
  (*counter)++;
  ipop_log_rl(&c->rl_muc, IPOP_LOG_WARN, M, "ignored %s from %s", what,
              from && strlen(from) < 300 ? from : "(none or too long)");
}

void xmpp__own_bare(const struct xmpp_client *c, char *out, size_t len)
{
  snprintf(out, len, "%s@%s", c->local, c->domain);
}
