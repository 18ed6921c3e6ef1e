/* XMPP client: the roster store (RFC 6121 2), subscription names, JID
 * helpers, and who may signal us: sender_allowed() admits only mutual
 * contacts (in the roster group, if one is set) and our own other nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client_internal.h"

const char *xmpp_subscription_name(enum xmpp_subscription s)
{
  static const char *const n[] = { "none", "to", "from", "both", "remove" };
  return (unsigned)s < 5 ? n[s] : "none";
}

static enum xmpp_subscription sub_parse(const char *s)
{
  if (!s)
    return XMPP_SUB_NONE;
  if (strcmp(s, "to") == 0) return XMPP_SUB_TO;
  if (strcmp(s, "from") == 0) return XMPP_SUB_FROM;
  if (strcmp(s, "both") == 0) return XMPP_SUB_BOTH;
  if (strcmp(s, "remove") == 0) return XMPP_SUB_REMOVE;
  return XMPP_SUB_NONE;
}

/* Bare part of a JID into out ("" if it does not fit). */
void xmpp__jid_bare(const char *jid, char *out, size_t outlen)
{
  size_t n = strcspn(jid, "/");
  if (n >= outlen)
    n = 0;
  memcpy(out, jid, n);
  out[n] = '\0';
}

bool xmpp__jid_bare_eq(const char *a, const char *b)
{
  size_t na = strcspn(a, "/"), nb = strcspn(b, "/");
  return na == nb && strncasecmp(a, b, na) == 0;
}

/* --------------------------------------------------------- roster store */

static void entry_free(struct roster_entry *e)
{
  free(e->jid);
  for (size_t i = 0; i < e->ngroups; i++)
    free(e->groups[i]);
  free(e->groups);
  memset(e, 0, sizeof(*e));
}

void xmpp__roster_clear(struct xmpp_client *c)
{
  for (size_t i = 0; i < c->nroster; i++)
    entry_free(&c->roster[i]);
  free(c->roster);
  c->roster = NULL;
  c->nroster = 0;
}

struct roster_entry *xmpp__roster_find(struct xmpp_client *c, const char *jid)
{
  for (size_t i = 0; i < c->nroster; i++)
    if (xmpp__jid_bare_eq(c->roster[i].jid, jid))
      return &c->roster[i];
  return NULL;
}

static void roster_remove(struct xmpp_client *c, struct roster_entry *e)
{
  entry_free(e);
  size_t i = (size_t)(e - c->roster);
  memmove(&c->roster[i], &c->roster[i + 1],
          (c->nroster - i - 1) * sizeof(*c->roster));
  c->nroster--;
}

/* Update from one <item/>; returns the entry (NULL if removed/invalid). */
struct roster_entry *xmpp__roster_apply(struct xmpp_client *c,
                                        const struct xmpp_stanza *item,
                                        enum xmpp_subscription *sub)
{
  const char *jid = xmpp_stanza_attr(item, "jid");
  *sub = sub_parse(xmpp_stanza_attr(item, "subscription"));
  if (!jid || !*jid || strlen(jid) >= XMPP_JID_MAX || strchr(jid, '/'))
    return NULL;
  struct roster_entry *e = xmpp__roster_find(c, jid);
  if (*sub == XMPP_SUB_REMOVE) {
    if (e)
      roster_remove(c, e);
    return NULL;
  }
  if (!e) {
    if (c->nroster >= XMPP_ROSTER_MAX)
      return NULL;
    struct roster_entry *n = realloc(c->roster, (c->nroster + 1) * sizeof(*n));
    if (!n)
      return NULL;
    c->roster = n;
    e = &c->roster[c->nroster];
    memset(e, 0, sizeof(*e));
    e->jid = strdup(jid);
    if (!e->jid)
      return NULL;
    c->nroster++;
  }
  for (size_t i = 0; i < e->ngroups; i++)
    free(e->groups[i]);
  free(e->groups);
  e->groups = NULL;
  e->ngroups = 0;
  e->sub = *sub;
  size_t ng = 0;
  for (const struct xmpp_stanza *g = item->children; g; g = g->next)
    if (strcmp(g->name, "group") == 0)
      ng++;
  if (ng > 64)
    ng = 64;
  if (ng) {
    e->groups = calloc(ng, sizeof(char *));
    for (const struct xmpp_stanza *g = item->children; e->groups && g &&
         e->ngroups < ng; g = g->next)
      if (strcmp(g->name, "group") == 0) {
        char *s = strdup(g->text ? g->text : "");
        if (s)
          e->groups[e->ngroups++] = s;
      }
  }
  return e;
}

void xmpp__roster_report(struct xmpp_client *c, const char *jid,
                         const struct roster_entry *e,
                         enum xmpp_subscription sub, bool full)
{
  if (!c->cbs.on_roster)
    return;
  struct xmpp_roster_item it = { .jid = jid, .subscription = sub };
  if (e) {
    it.groups = (const char *const *)e->groups;
    it.ngroups = e->ngroups;
  }
  c->cbs.on_roster(c, &it, full, c->ctx);
}

/* May this bare JID signal us / be reported as a peer? */
bool xmpp__is_mutual(struct xmpp_client *c, const char *from)
{
  if (!from || !strchr(from, '@'))
    return false;
  char own[XMPP_JID_MAX];
  snprintf(own, sizeof(own), "%s@%s", c->local, c->domain);
  if (xmpp__jid_bare_eq(from, own))
    return true;  /* another node of the same user */
  const struct roster_entry *e = xmpp__roster_find(c, from);
  return e && e->sub == XMPP_SUB_BOTH;
}

bool xmpp__sender_allowed(struct xmpp_client *c, const char *from)
{
  if (!xmpp__is_mutual(c, from))
    return false;
  char own[XMPP_JID_MAX];
  snprintf(own, sizeof(own), "%s@%s", c->local, c->domain);
  if (xmpp__jid_bare_eq(from, own) || !c->cfg.roster_group[0])
    return true;
  const struct roster_entry *e = xmpp__roster_find(c, from);
  for (size_t i = 0; i < e->ngroups; i++)
    if (strcmp(e->groups[i], c->cfg.roster_group) == 0)
      return true;
  return false;
}

