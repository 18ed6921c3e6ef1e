#include "negotiate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "grow.h"
#include "secret.h"

const char *const neg_state_names[] = { "idle",       "querying", "requesting",
                                        "answering",  "connecting", "up",
                                        "backoff",    "given_up", NULL };
const char *const neg_action_names[] = { "send",   "query_candidates", "create_link",
                                         "remove_link", "link_up", "give_up", "rejected",
                                         NULL };

struct peer {
  char id[NODEID_BUF];
  enum neg_state state;
  bool wanted;
  bool ondemand;                   /* our requests say "ondemand" */
  bool initiator;
  bool agent;                      /* tincan may hold an ICE agent / link */
  uint32_t attempts;
  uint64_t deadline;
  char req_id[SIGMSG_REQ_ID_LEN];  /* current attempt (ours or theirs) */
  struct sigmsg_link *remote;      /* ANSWERING: the peer's parameters */
  struct ctl_candidates *local;    /* our candidates for the current agent */
  char *last_resp;                 /* our accept, re-sent on a duplicate request */
  uint64_t bad_total;
  uint32_t bad_recent;
  uint64_t ignored_until;
  uint64_t last_request;           /* when we last took up a new request */
};

struct negotiate {
  struct negotiate_config cfg;
  struct peer **peers;
  size_t n_peers, cap_peers;
  struct neg_counters ctr;
};

/* ---- actions --------------------------------------------------------------- */

void negotiate_actions_clear(struct neg_actions *a)
{
  for (size_t i = 0; i < a->n; i++) {
    free(a->v[i].payload);
    free(a->v[i].create);
  }
  a->n = 0;
}

void negotiate_actions_free(struct neg_actions *a)
{
  negotiate_actions_clear(a);
  free(a->v);
  a->v = NULL;
  a->cap = 0;
}

static struct neg_action *push(struct neg_actions *a, enum neg_action_type type,
                               const struct peer *p)
{
  if (ipop_grow(&a->v, &a->cap, a->n, sizeof *a->v, 8))
    return NULL;
  struct neg_action *x = &a->v[a->n++];
  memset(x, 0, sizeof *x);
  x->type = type;
  memcpy(x->peer_id, p->id, sizeof x->peer_id);
  return x;
}

/* ---- config, lifetime ------------------------------------------------------ */

void negotiate_config_defaults(struct negotiate_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->timeout_ms = 60000;
  cfg->backoff_base_ms = 2000;
  cfg->backoff_max_ms = 300000;
  cfg->jitter_pct = 25;
  cfg->max_attempts = 8;
  cfg->bad_limit = 8;
  cfg->ignore_ms = 600000;
  cfg->max_peers = 4096;
  cfg->min_request_gap_ms = 1000;
}

int negotiate_create(struct negotiate **out, const struct negotiate_config *cfg)
{
  *out = NULL;
  if (!nodeid_valid(cfg->node_id) || !ctl_id_valid(cfg->overlay_id) || !cfg->rnd ||
      cfg->timeout_ms == 0 || cfg->backoff_base_ms == 0 ||
      cfg->backoff_max_ms < cfg->backoff_base_ms || cfg->jitter_pct > 100 ||
      cfg->bad_limit == 0 || cfg->max_peers == 0)
    return IPOP_EINVAL;
  struct negotiate *n = calloc(1, sizeof *n);
  if (!n)
    return IPOP_ENOMEM;
  n->cfg = *cfg;
  *out = n;
  return 0;
}

static void peer_drop_state(struct peer *p)
{
  free(p->remote);
  p->remote = NULL;
  free(p->local);
  p->local = NULL;
  free(p->last_resp);
  p->last_resp = NULL;
}

void negotiate_free(struct negotiate *n)
{
  if (!n)
    return;
  for (size_t i = 0; i < n->n_peers; i++) {
    peer_drop_state(n->peers[i]);
    free(n->peers[i]);
  }
  free(n->peers);
  free(n);
}

void negotiate_set_local(struct negotiate *n, const uint8_t mac[6], struct in_addr ip4)
{
  memcpy(n->cfg.mac, mac, 6);
  n->cfg.ip4 = ip4;
}

void negotiate_set_local6(struct negotiate *n, const struct in6_addr *ip6)
{
  n->cfg.has_ip6 = ip6 != NULL;
  if (ip6)
    n->cfg.ip6 = *ip6;
}

uint64_t negotiate_backoff_ms(const struct negotiate_config *cfg, uint32_t attempt,
                              uint32_t r32)
{
  uint64_t d = cfg->backoff_base_ms;
  for (uint32_t i = 1; i < attempt && d < cfg->backoff_max_ms; i++)
    d *= 2;
  if (d > cfg->backoff_max_ms)
    d = cfg->backoff_max_ms;
  uint64_t span = d * cfg->jitter_pct / 100;
  return d + (span ? r32 % (span + 1) : 0);
}

/* ---- peers ------------------------------------------------------------------ */

static struct peer *find_peer(const struct negotiate *n, const char *id)
{
  for (size_t i = 0; i < n->n_peers; i++)
    if (strcmp(n->peers[i]->id, id) == 0)
      return n->peers[i];
  return NULL;
}

static int add_peer(struct negotiate *n, const char *id, struct peer **out)
{
  *out = find_peer(n, id);
  if (*out)
    return 0;
  if (n->n_peers >= n->cfg.max_peers)
    return IPOP_EBUSY;
  if (ipop_grow(&n->peers, &n->cap_peers, n->n_peers, sizeof *n->peers, 16))
    return IPOP_ENOMEM;
  struct peer *p = calloc(1, sizeof *p);
  if (!p)
    return IPOP_ENOMEM;
  memcpy(p->id, id, NODEID_BUF);
  n->peers[n->n_peers++] = p;
  *out = p;
  return 0;
}

static void forget_peer(struct negotiate *n, struct peer *p)
{
  for (size_t i = 0; i < n->n_peers; i++) {
    if (n->peers[i] == p) {
      n->peers[i] = n->peers[--n->n_peers];
      break;
    }
  }
  peer_drop_state(p);
  free(p);
}

static bool ignored(const struct peer *p, uint64_t now)
{
  return p && p->ignored_until > now;
}

/* ---- building blocks ---------------------------------------------------------- */

static void new_request_id(struct negotiate *n, char out[SIGMSG_REQ_ID_LEN])
{
  uint8_t raw[8] = { 0 };
  if (n->cfg.rnd(n->cfg.rnd_ctx, raw, sizeof raw))
    memset(raw, 0, sizeof raw);
  ipop_hex_encode(raw, sizeof raw, out); /* 16 chars */
}

static void fill_head(const struct negotiate *n, const struct peer *p,
                      struct sigmsg_head *h, const char *req_id)
{
  h->v = SIGMSG_VERSION;
  snprintf(h->request_id, sizeof h->request_id, "%s", req_id);
  memcpy(h->from, n->cfg.node_id, NODEID_BUF);
  memcpy(h->to, p->id, NODEID_BUF);
  memcpy(h->overlay_id, n->cfg.overlay_id, CTL_ID_LEN);
}

static void fill_link(const struct negotiate *n, const struct ctl_candidates *c,
                      struct sigmsg_link *l)
{
  memcpy(l->fingerprint, c->fingerprint, sizeof l->fingerprint);
  memcpy(l->mac, n->cfg.mac, 6);
  l->ip4 = n->cfg.ip4;
  l->ip6 = n->cfg.ip6;
  l->has_ip6 = n->cfg.has_ip6;
  memcpy(l->ufrag, c->ufrag, sizeof l->ufrag);
  memcpy(l->pwd, c->pwd, sizeof l->pwd);
  l->n_candidates = c->n_candidates;
  memcpy(l->candidates, c->candidates, c->n_candidates * sizeof l->candidates[0]);
}

/* Encode m and queue it for the peer; *copy (optional) gets a copy of the text. */
static int send_msg(struct negotiate *n, struct peer *p, const struct sigmsg *m,
                    struct neg_actions *out, char **copy)
{
  const char *type;
  char *json;
  int rc = sigmsg_encode(m, &type, &json, NULL);
  if (rc)
    return rc;
  struct neg_action *a = push(out, NEG_ACT_SEND, p);
  if (!a) {
    free(json);
    return IPOP_ENOMEM;
  }
  a->msg_type = type;
  a->payload = json;
  memcpy(a->request_id, m->u.head.request_id, SIGMSG_REQ_ID_LEN);
  if (copy) {
    free(*copy);
    *copy = strdup(json);
  }
  return 0;
}

/* Our request p->req_id, with our candidates p->local. */
static int send_request(struct negotiate *n, struct peer *p, struct neg_actions *out)
{
  struct sigmsg m = { .type = SIGMSG_LINK_REQUEST };
  fill_head(n, p, &m.u.head, p->req_id);
  fill_link(n, p->local, &m.u.req.link);
  m.u.req.ondemand = p->ondemand;
  m.u.req.has_ondemand = p->ondemand; /* the key only appears when true */
  return send_msg(n, p, &m, out, NULL);
}

static void send_cancel(struct negotiate *n, struct peer *p, int reason,
                        struct neg_actions *out)
{
  if (!p->req_id[0])
    return;
  struct sigmsg m = { .type = SIGMSG_LINK_CANCEL };
  fill_head(n, p, &m.u.head, p->req_id);
  m.u.cancel.reason = reason;
  send_msg(n, p, &m, out, NULL);
}

/* A reject answers in the overlay the request named: for wrong_overlay
 * that is not ours, and the requester's negotiation of that overlay is the
 * one waiting for the answer (in ours it would be stale, and the request
 * would wait out its timeout). */
static void send_reject(struct negotiate *n, struct peer *p, const struct sigmsg_head *rh,
                        int reason, struct neg_actions *out)
{
  struct sigmsg m = { .type = SIGMSG_LINK_RESPONSE };
  fill_head(n, p, &m.u.head, rh->request_id);
  memcpy(m.u.head.overlay_id, rh->overlay_id, CTL_ID_LEN);
  m.u.resp.result = SIGMSG_REJECT;
  m.u.resp.reason = reason;
  m.u.resp.has_reason = true;
  n->ctr.refused_by_us++;
  send_msg(n, p, &m, out, NULL);
}

static void remove_link(struct peer *p, struct neg_actions *out)
{
  if (p->agent)
    push(out, NEG_ACT_REMOVE_LINK, p);
  p->agent = false;
  free(p->local);
  p->local = NULL;
}

static int create_link(struct negotiate *n, struct peer *p, const struct sigmsg_link *l,
                       struct neg_actions *out)
{
  struct ctl_create_link *cl = calloc(1, sizeof *cl);
  if (!cl)
    return IPOP_ENOMEM;
  struct neg_action *a = push(out, NEG_ACT_CREATE_LINK, p);
  if (!a) {
    free(cl);
    return IPOP_ENOMEM;
  }
  memcpy(cl->overlay_id, n->cfg.overlay_id, CTL_ID_LEN);
  memcpy(cl->peer_id, p->id, NODEID_BUF);
  memcpy(cl->peer_fingerprint, l->fingerprint, sizeof cl->peer_fingerprint);
  memcpy(cl->peer_ufrag, l->ufrag, sizeof cl->peer_ufrag);
  memcpy(cl->peer_pwd, l->pwd, sizeof cl->peer_pwd);
  cl->n_peer_candidates = l->n_candidates;
  memcpy(cl->peer_candidates, l->candidates, l->n_candidates * sizeof l->candidates[0]);
  cl->role = CTL_ROLE_AUTO;
  /* tincan binds the link to the MAC the peer told us: its frames must
   * carry it, and frames to it go to this link only. */
  memcpy(cl->peer_mac, l->mac, 6);
  cl->has_peer_mac = true;
  a->create = cl;
  memcpy(a->peer_mac, l->mac, 6);
  a->peer_ip4 = l->ip4;
  a->peer_ip6 = l->ip6;
  a->has_peer_ip6 = l->has_ip6;
  memcpy(a->request_id, p->req_id, SIGMSG_REQ_ID_LEN);
  p->agent = true;
  return 0;
}

static void start_attempt(struct negotiate *n, struct peer *p, uint64_t now,
                          struct neg_actions *out)
{
  peer_drop_state(p);
  p->initiator = true;
  p->req_id[0] = '\0';
  p->state = NEG_QUERYING;
  p->deadline = now + n->cfg.timeout_ms;
  p->agent = true;
  n->ctr.started++;
  push(out, NEG_ACT_QUERY_CANDIDATES, p);
}

/* The current attempt is over without a link.  Clean up tincan's side, then
 * retry later if we want the link, else rest. */
/* Close the current attempt: queue the removal of its link and forget its
 * state.  Returns false when the link is not wanted any more: the peer is
 * back to idle and there is nothing to retry. */
static bool end_attempt(struct peer *p, struct neg_actions *out)
{
  remove_link(p, out);
  peer_drop_state(p);
  p->req_id[0] = '\0';
  p->initiator = false;
  if (p->wanted)
    return true;
  p->state = NEG_IDLE;
  p->deadline = 0;
  p->attempts = 0;
  return false;
}

/* A peer that answers "busy" is alive and asks us to come back soon (its
 * overlay is still being created, its tincan is restarting): retry within
 * NEG_BUSY_RETRY_MAX_MS and never give up on that alone.  Exponential
 * backoff here once cost a fresh group member a minute of waiting for a
 * TAP that took a few seconds. */
static void busy_retry(struct negotiate *n, struct peer *p, uint64_t now, struct neg_actions *out)
{
  if (!end_attempt(p, out))
    return;
  if (p->attempts < 16)
    p->attempts++;
  uint64_t d = negotiate_backoff_ms(&n->cfg, p->attempts, policy_rand_u32(n->cfg.rnd, n->cfg.rnd_ctx));
  p->state = NEG_BACKOFF;
  p->deadline = now + (d < NEG_BUSY_RETRY_MAX_MS ? d : NEG_BUSY_RETRY_MAX_MS);
}

static void fail_attempt(struct negotiate *n, struct peer *p, uint64_t now, int err,
                         const char *why, struct neg_actions *out)
{
  n->ctr.failed++;
  if (!end_attempt(p, out))
    return;
  p->attempts++;
  if (n->cfg.max_attempts && p->attempts >= n->cfg.max_attempts) {
    p->state = NEG_GIVEN_UP;
    p->deadline = 0;
    struct neg_action *a = push(out, NEG_ACT_GIVE_UP, p);
    if (a) {
      a->err = err;
      snprintf(a->why, sizeof a->why, "%u attempts failed, last: %s", p->attempts, why);
    }
    return;
  }
  p->state = NEG_BACKOFF;
  p->deadline =
      now + negotiate_backoff_ms(&n->cfg, p->attempts, policy_rand_u32(n->cfg.rnd, n->cfg.rnd_ctx));
}

/* Answer the request stored in p (remote, req_id) with our candidates. */
static int answer(struct negotiate *n, struct peer *p, uint64_t now, struct neg_actions *out)
{
  struct sigmsg m = { .type = SIGMSG_LINK_RESPONSE };
  fill_head(n, p, &m.u.head, p->req_id);
  m.u.resp.result = SIGMSG_ACCEPT;
  m.u.resp.has_link = true;
  fill_link(n, p->local, &m.u.resp.link);
  int rc = sigmsg_validate(&m, NULL);
  if (rc) {
    /* Our own tincan's data does not pass: tell the peer, do not retry blindly. */
    send_reject(n, p, &m.u.head, SIGMSG_R_BUSY, out);
    fail_attempt(n, p, now, rc, "local candidates invalid", out);
    return rc;
  }
  rc = create_link(n, p, p->remote, out);
  if (!rc)
    rc = send_msg(n, p, &m, out, &p->last_resp);
  free(p->remote);
  p->remote = NULL;
  p->state = NEG_CONNECTING;
  p->deadline = now + n->cfg.timeout_ms;
  return rc;
}

/* ---- public events ------------------------------------------------------------ */

int negotiate_connect(struct negotiate *n, const char *peer_id, bool ondemand,
                      uint64_t now_ms, struct neg_actions *out)
{
  if (!nodeid_valid(peer_id) || strcmp(peer_id, n->cfg.node_id) == 0)
    return IPOP_EINVAL;
  struct peer *p;
  int rc = add_peer(n, peer_id, &p);
  if (rc)
    return rc;
  p->wanted = true;
  p->ondemand = ondemand;
  if (p->state == NEG_IDLE || p->state == NEG_GIVEN_UP) {
    p->attempts = 0;
    start_attempt(n, p, now_ms, out);
  }
  return 0;
}

int negotiate_disconnect(struct negotiate *n, const char *peer_id, bool cancel, int reason,
                         uint64_t now_ms, struct neg_actions *out)
{
  struct peer *p = nodeid_valid(peer_id) ? find_peer(n, peer_id) : NULL;
  if (!p)
    return IPOP_ENOENT;
  p->wanted = false;
  if (cancel && (p->state == NEG_REQUESTING || p->state == NEG_ANSWERING ||
                 p->state == NEG_CONNECTING || p->state == NEG_UP))
    send_cancel(n, p, reason, out);
  remove_link(p, out);
  if (p->bad_total == 0) {
    forget_peer(n, p);
  } else {
    peer_drop_state(p); /* keep the record: it carries the bad-message count */
    p->state = NEG_IDLE;
    p->deadline = 0;
    p->attempts = 0;
    p->req_id[0] = '\0';
  }
  return 0;
}

static void count_bad(struct negotiate *n, const char *peer_id, uint64_t now)
{
  n->ctr.bad_msgs++;
  struct peer *p = NULL;
  if (!peer_id || !nodeid_valid(peer_id) || strcmp(peer_id, n->cfg.node_id) == 0 ||
      add_peer(n, peer_id, &p))
    return;
  p->bad_total++;
  if (++p->bad_recent >= n->cfg.bad_limit) {
    p->ignored_until = now + n->cfg.ignore_ms;
    p->bad_recent = 0;
  }
}

static int on_request(struct negotiate *n, struct peer *p, const struct sigmsg_link_request *r,
                      uint64_t now, struct neg_actions *out)
{
  bool ours_pending = p->initiator && (p->state == NEG_QUERYING || p->state == NEG_REQUESTING);
  if (ours_pending) {
    n->ctr.glare++;
    if (strcmp(n->cfg.node_id, p->id) < 0) {
      /* Our request wins; the peer will answer it.  Send it once more: a
       * peer that asks us may never have got it (a server dropped it, e.g.
       * while the peer blocked us), and it would wait for our answer as
       * long as we wait for its.  A duplicate is answered again or
       * ignored. */
      if (p->state == NEG_REQUESTING && p->local)
        send_request(n, p, out);
      return 0;
    }
    /* Theirs wins: drop ours (its responses will be stale) and answer. */
    p->initiator = false;
  } else if (strcmp(r->h.request_id, p->req_id) == 0 &&
             (p->state == NEG_ANSWERING || p->state == NEG_CONNECTING || p->state == NEG_UP)) {
    /* A duplicate (the peer re-sent or the server delivered twice). */
    if (p->state != NEG_ANSWERING && p->last_resp && !p->initiator) {
      struct neg_action *a = push(out, NEG_ACT_SEND, p);
      if (a) {
        a->msg_type = sigmsg_type_names[SIGMSG_LINK_RESPONSE];
        a->payload = strdup(p->last_resp);
        memcpy(a->request_id, p->req_id, SIGMSG_REQ_ID_LEN);
      }
    }
    n->ctr.stale_msgs++;
    return 0;
  }

  if (p->last_request && now - p->last_request < n->cfg.min_request_gap_ms) {
    n->ctr.rate_limited++;
    return IPOP_EBUSY;
  }
  p->last_request = now;

  if (!ours_pending && (p->state == NEG_CONNECTING || p->state == NEG_UP ||
                        p->state == NEG_ANSWERING || p->state == NEG_REQUESTING)) {
    /* The peer started over: whatever we had is dead on its side. */
    remove_link(p, out);
  }
  struct sigmsg_link *remote = malloc(sizeof *remote);
  if (!remote)
    return IPOP_ENOMEM;
  memcpy(remote, &r->link, sizeof *remote);
  free(p->remote);
  p->remote = remote;
  free(p->last_resp);
  p->last_resp = NULL;
  memcpy(p->req_id, r->h.request_id, SIGMSG_REQ_ID_LEN);
  p->initiator = false;
  if (p->local && p->agent) /* glare loser: our agent and candidates exist */
    return answer(n, p, now, out);
  /* A glare loser still querying has its query_candidates outstanding. */
  bool query_pending = p->state == NEG_QUERYING && p->agent;
  p->state = NEG_ANSWERING;
  p->deadline = now + n->cfg.timeout_ms;
  p->agent = true;
  if (!query_pending)
    push(out, NEG_ACT_QUERY_CANDIDATES, p);
  return 0;
}

static int on_response(struct negotiate *n, struct peer *p,
                       const struct sigmsg_link_response *r, uint64_t now,
                       struct neg_actions *out)
{
  if (p->state != NEG_REQUESTING || !p->initiator ||
      strcmp(r->h.request_id, p->req_id) != 0) {
    n->ctr.stale_msgs++;
    return 0;
  }
  if (r->result == SIGMSG_ACCEPT && n->cfg.verify) {
    int v = n->cfg.verify(n->cfg.accept_ctx, p->id, r->link.fingerprint);
    if (v < 0)
      return NEG_HELD; /* still REQUESTING: its deadline runs on */
    if (v > 0) {
      n->ctr.fpr_refused++;
      send_cancel(n, p, v - 1 == SIGMSG_R_BUSY ? SIGMSG_R_BUSY : SIGMSG_R_NOT_ALLOWED, out);
      if (v - 1 == SIGMSG_R_BUSY)
        busy_retry(n, p, now, out);
      else
        fail_attempt(n, p, now, IPOP_EPERM, "the peer's fingerprint was refused", out);
      return 0;
    }
  }
  if (r->result == SIGMSG_REJECT) {
    n->ctr.refused_by_peer++;
    struct neg_action *a = push(out, NEG_ACT_REJECTED, p);
    if (a)
      a->reason = r->reason;
    if (r->reason == SIGMSG_R_BUSY) {
      busy_retry(n, p, now, out);
      return 0;
    }
    char why[96];
    snprintf(why, sizeof why, "peer rejected the request (%s)",
             sigmsg_reason_names[r->reason]);
    fail_attempt(n, p, now, IPOP_ECONNREFUSED, why, out);
    return 0;
  }
  int rc = create_link(n, p, &r->link, out);
  p->state = NEG_CONNECTING;
  p->deadline = now + n->cfg.timeout_ms;
  return rc;
}

static int on_cancel(struct negotiate *n, struct peer *p, const struct sigmsg_link_cancel *c,
                     uint64_t now, struct neg_actions *out)
{
  if (!p->req_id[0] || strcmp(c->h.request_id, p->req_id) != 0 ||
      !(p->state == NEG_REQUESTING || p->state == NEG_ANSWERING ||
        p->state == NEG_CONNECTING || p->state == NEG_UP)) {
    n->ctr.stale_msgs++;
    return 0;
  }
  char why[96];
  snprintf(why, sizeof why, "peer cancelled (%s)", sigmsg_reason_names[c->reason]);
  fail_attempt(n, p, now, IPOP_ECONNREFUSED, why, out);
  return 0;
}

int negotiate_on_signal(struct negotiate *n, const char *sender_node_id, const char *type,
                        const char *payload, size_t len, uint64_t now_ms,
                        struct neg_actions *out, struct jb_error *err)
{
  struct jb_error local_err;
  if (!err)
    err = &local_err;
  memset(err, 0, sizeof *err);
  if (!sender_node_id) {
    n->ctr.bad_msgs++;
    snprintf(err->msg, sizeof err->msg, "the sender announced no node id of its own");
    return err->code = IPOP_EPERM;
  }
  if (ignored(find_peer(n, sender_node_id), now_ms)) {
    n->ctr.ignored_msgs++;
    snprintf(err->msg, sizeof err->msg, "sender is ignored after too many bad messages");
    return err->code = IPOP_EPERM;
  }
  struct sigmsg *m = malloc(sizeof *m);
  if (!m)
    return IPOP_ENOMEM;
  int rc = sigmsg_decode(type, payload, len, m, err);
  if (rc) {
    count_bad(n, sender_node_id, now_ms);
    goto out;
  }
  const struct sigmsg_head *h = &m->u.head;
  if (strcmp(h->from, sender_node_id) != 0) {
    snprintf(err->path, sizeof err->path, "from");
    snprintf(err->msg, sizeof err->msg,
             "from: %s is not the node id the sender announced", h->from);
    rc = err->code = IPOP_EPERM;
    count_bad(n, sender_node_id, now_ms);
    goto out;
  }
  if (strcmp(h->to, n->cfg.node_id) != 0) {
    n->ctr.misdirected_msgs++; /* servers may fan out to every resource */
    goto out;
  }
  struct peer *p = find_peer(n, h->from);
  if (strcmp(h->overlay_id, n->cfg.overlay_id) != 0) {
    struct peer tmp = { 0 };
    memcpy(tmp.id, h->from, NODEID_BUF);
    if (m->type == SIGMSG_LINK_REQUEST)
      send_reject(n, &tmp, h, SIGMSG_R_WRONG_OVERLAY, out);
    else
      n->ctr.stale_msgs++;
    goto out;
  }
  if (!p && m->type != SIGMSG_LINK_REQUEST) {
    n->ctr.stale_msgs++;
    goto out;
  }
  if (m->type == SIGMSG_LINK_REQUEST) {
    /* Policy first, so that a refused sender leaves no record behind. */
    int reject = n->cfg.accept ? n->cfg.accept(n->cfg.accept_ctx, h->from, m->u.req.ondemand)
                               : 0;
    if (reject <= 0 && n->cfg.verify) {
      reject = n->cfg.verify(n->cfg.accept_ctx, h->from, m->u.req.link.fingerprint);
      if (reject < 0) {
        rc = NEG_HELD; /* not a trace: it comes again */
        goto out;
      }
      if (reject > 0)
        n->ctr.fpr_refused++;
    }
    if (reject <= 0 && !p && add_peer(n, h->from, &p))
      reject = SIGMSG_R_BUSY + 1; /* max_peers reached: not the sender's fault */
    if (reject > 0) {
      struct peer tmp = { 0 };
      memcpy(tmp.id, h->from, NODEID_BUF);
      send_reject(n, &tmp, h, reject - 1, out);
      goto out;
    }
  }
  switch (m->type) {
  case SIGMSG_LINK_REQUEST:
    rc = on_request(n, p, &m->u.req, now_ms, out);
    if (rc == IPOP_EBUSY) {
      snprintf(err->msg, sizeof err->msg, "new link requests less than %u ms apart",
               n->cfg.min_request_gap_ms);
      err->code = rc;
      count_bad(n, h->from, now_ms);
      /* Answered, so that an honest peer (one that cancelled and asked
       * again at once, e.g. after unblocking us) retries within seconds;
       * unanswered, it waited out its timeout, and if it also won the
       * glare with our own request, we waited just as long. */
      send_reject(n, p, h, SIGMSG_R_BUSY, out);
    }
    break;
  case SIGMSG_LINK_RESPONSE:
    rc = on_response(n, p, &m->u.resp, now_ms, out);
    break;
  case SIGMSG_LINK_CANCEL:
    rc = on_cancel(n, p, &m->u.cancel, now_ms, out);
    break;
  }
out:
  free(m);
  return rc;
}

int negotiate_on_candidates(struct negotiate *n, const struct ctl_candidates *c,
                            uint64_t now_ms, struct neg_actions *out)
{
  struct peer *p = find_peer(n, c->peer_id);
  if (!p || strcmp(c->overlay_id, n->cfg.overlay_id) != 0)
    return IPOP_ENOENT;
  if (p->state != NEG_QUERYING && p->state != NEG_ANSWERING)
    return IPOP_ESTATE; /* late answer for an attempt that is over */
  struct ctl_candidates *copy = malloc(sizeof *copy);
  if (!copy)
    return IPOP_ENOMEM;
  memcpy(copy, c, sizeof *copy);
  free(p->local);
  p->local = copy;
  if (p->state == NEG_ANSWERING)
    return answer(n, p, now_ms, out);

  new_request_id(n, p->req_id);
  int rc = send_request(n, p, out);
  if (rc) {
    fail_attempt(n, p, now_ms, rc, "local candidates invalid", out);
    return rc;
  }
  p->state = NEG_REQUESTING;
  p->deadline = now_ms + n->cfg.timeout_ms;
  return 0;
}

int negotiate_on_tincan_error(struct negotiate *n, const char *peer_id, int err,
                              uint64_t now_ms, struct neg_actions *out)
{
  struct peer *p = nodeid_valid(peer_id) ? find_peer(n, peer_id) : NULL;
  if (!p)
    return IPOP_ENOENT;
  if (p->state != NEG_QUERYING && p->state != NEG_ANSWERING && p->state != NEG_CONNECTING)
    return IPOP_ESTATE;
  char why[96];
  snprintf(why, sizeof why, "tincan: %s", ipop_strerror(err));
  if (p->state != NEG_QUERYING)
    send_cancel(n, p, SIGMSG_R_FAILED, out);
  fail_attempt(n, p, now_ms, err, why, out);
  return 0;
}

int negotiate_on_link_state(struct negotiate *n, const char *peer_id, int state,
                            uint64_t now_ms, struct neg_actions *out)
{
  struct peer *p = nodeid_valid(peer_id) ? find_peer(n, peer_id) : NULL;
  if (!p)
    return IPOP_ENOENT;
  switch (state) {
  case CTL_LINK_UP:
    if (p->state == NEG_UP && p->deadline) {
      p->deadline = 0; /* back within the grace: tincan recovered the path */
      return 0;
    }
    if (p->state != NEG_CONNECTING)
      return IPOP_ESTATE;
    p->state = NEG_UP;
    p->deadline = 0;
    p->attempts = 0;
    n->ctr.links_up++;
    push(out, NEG_ACT_LINK_UP, p);
    return 0;
  case CTL_LINK_DOWN:
  case CTL_LINK_FAILED:
    if (p->state != NEG_CONNECTING && p->state != NEG_UP)
      return IPOP_ESTATE;
    if (state == CTL_LINK_DOWN && p->state == NEG_UP && n->cfg.down_grace_ms) {
      if (!p->deadline)
        p->deadline = now_ms + n->cfg.down_grace_ms; /* negotiate_tick decides */
      return 0;
    }
    send_cancel(n, p, SIGMSG_R_FAILED, out);
    fail_attempt(n, p, now_ms, IPOP_ECONNREFUSED,
                 state == CTL_LINK_DOWN ? "link went down" : "link failed", out);
    return 0;
  default:
    return 0;
  }
}

void negotiate_reset(struct negotiate *n, uint64_t now_ms, struct neg_actions *out)
{
  for (size_t i = 0; i < n->n_peers; i++) {
    struct peer *p = n->peers[i];
    p->agent = false; /* tincan lost them all: nothing to remove */
    peer_drop_state(p);
    p->req_id[0] = '\0';
    p->initiator = false;
    p->attempts = 0;
    if (p->wanted) {
      start_attempt(n, p, now_ms, out);
    } else {
      p->state = NEG_IDLE;
      p->deadline = 0;
    }
  }
}

void negotiate_tick(struct negotiate *n, uint64_t now_ms, struct neg_actions *out)
{
  for (size_t i = 0; i < n->n_peers; i++) {
    struct peer *p = n->peers[i];
    if (!p->deadline || p->deadline > now_ms)
      continue;
    switch (p->state) {
    case NEG_QUERYING:
    case NEG_REQUESTING:
    case NEG_ANSWERING:
    case NEG_CONNECTING: {
      static const char *const what[] = {
        [NEG_QUERYING] = "no candidates from tincan",
        [NEG_REQUESTING] = "no response from the peer",
        [NEG_ANSWERING] = "no candidates from tincan",
        [NEG_CONNECTING] = "link did not come up",
      };
      n->ctr.timeouts++;
      if (p->state != NEG_QUERYING)
        send_cancel(n, p, SIGMSG_R_TIMEOUT, out);
      fail_attempt(n, p, now_ms, IPOP_ETIMEDOUT, what[p->state], out);
      break;
    }
    case NEG_UP: /* down for the whole grace */
      send_cancel(n, p, SIGMSG_R_FAILED, out);
      fail_attempt(n, p, now_ms, IPOP_ECONNREFUSED, "link went down", out);
      break;
    case NEG_BACKOFF:
      if (p->wanted) {
        start_attempt(n, p, now_ms, out);
      } else {
        p->state = NEG_IDLE;
        p->deadline = 0;
      }
      break;
    default:
      p->deadline = 0;
      break;
    }
  }
}

uint64_t negotiate_next_deadline(const struct negotiate *n)
{
  uint64_t d = UINT64_MAX;
  for (size_t i = 0; i < n->n_peers; i++)
    if (n->peers[i]->deadline && n->peers[i]->deadline < d)
      d = n->peers[i]->deadline;
  return d;
}

int negotiate_peer_info(const struct negotiate *n, const char *peer_id, uint64_t now_ms,
                        struct neg_peer_info *info)
{
  memset(info, 0, sizeof *info);
  const struct peer *p = find_peer(n, peer_id);
  if (!p)
    return IPOP_ENOENT;
  info->state = p->state;
  info->wanted = p->wanted;
  info->initiator = p->initiator;
  info->attempts = p->attempts;
  info->deadline_ms = p->deadline;
  info->bad_msgs = p->bad_total;
  info->ignored = ignored(p, now_ms);
  memcpy(info->request_id, p->req_id, SIGMSG_REQ_ID_LEN);
  return 0;
}

size_t negotiate_current(const struct negotiate *n, char (*ids)[NODEID_BUF], size_t max)
{
  size_t k = 0;
  for (size_t i = 0; i < n->n_peers; i++) {
    const struct peer *p = n->peers[i];
    if (!p->wanted && p->state == NEG_IDLE)
      continue;
    if (k < max)
      memcpy(ids[k], p->id, NODEID_BUF);
    k++;
  }
  return k;
}

void negotiate_counters(const struct negotiate *n, struct neg_counters *c)
{
  *c = n->ctr;
}
