/* A link's paths over time (paths.h). */
#include "paths.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "log.h"
#include "validate.h"

struct tc_path *tc_paths_slot(struct tc_link *l, unsigned i)
{
  return i ? &l->alt : &l->path;
}

unsigned tc_paths_index(struct tc_link *l, const struct tc_path *p)
{
  return p == &l->alt;
}

/* Records can leave by p: its own socket, or an ICE pair that works. */
static bool usable(struct tc_path *p)
{
  if (p->mode == TC_PATH_SOCKET)
    return true;
  if (p->mode != TC_PATH_ICE || !(p->flags & TC_PATH_REMOTE))
    return false;
  NiceComponentState st = tc_path_ice_state(p);
  return st == NICE_COMPONENT_STATE_CONNECTED || st == NICE_COMPONENT_STATE_READY;
}

/* Our pings by p were answered lately (answers come back by the same
 * path): it works both ways. */
static bool alive(const struct tc_path *p, uint64_t now)
{
  return p->last_pong_ms && now - p->last_pong_ms < TC_PATHS_ALIVE_MS;
}

static bool relayed(struct tc_path *p)
{
  int type = CTL_PAIR_NONE;
  char a[CTL_HOSTPORT_LEN], b[CTL_HOSTPORT_LEN];
  tc_path_stat(p, &type, a, b, sizeof a);
  return type == CTL_PAIR_RELAY;
}

static struct tc_path *other(struct tc_link *l)
{
  return l->tx == &l->path ? &l->alt : &l->path;
}

static void set_tx(struct tc_link *l, struct tc_path *p, const char *why)
{
  char a[CTL_HOSTPORT_LEN], b[CTL_HOSTPORT_LEN];
  int type = CTL_PAIR_NONE;
  tc_path_flush(l->tx);
  l->tx = p;
  l->dp.path = p;
  l->pm.switches++;
  tc_path_stat(p, &type, a, b, sizeof a);
  LOG_INFO("tincan", "link %s/%s: records now leave by slot %u, %s %s -> %s (%s)",
           l->ov->cfg.overlay_id, l->peer_id, tc_paths_index(l, p), ctl_pair_type_names[type],
           a, b, why);
}

/* ---- slots ---------------------------------------------------------------- */

static void slot_closed(uv_handle_t *h)
{
  struct tc_link *l = h->data;
  unsigned i = h == (uv_handle_t *)&l->alt.poll;
  l->pm.closing[i]--;
  if (l->state == TC_LINK_DEAD)
    l->handle_closed(h);
}

static void close_slot(struct tc_link *l, unsigned i)
{
  struct tc_path *p = tc_paths_slot(l, i);
  if (p->mode == TC_PATH_CLOSED)
    return;
  l->pm.closing[i] += tc_path_close(p, slot_closed, l);
}

/* A new path in slot i (closed before), relay policy `relay`. */
static bool open_slot(struct tc_link *l, unsigned i, int relay, bool controlling)
{
  struct tc_path *p = tc_paths_slot(l, i);
  char why[CTL_REASON_LEN];
  if (l->pm.closing[i] || p->mode != TC_PATH_CLOSED)
    return false;
  struct tc_path_config pc = l->pcfg;
  pc.relay = relay;
  pc.controlling = controlling;
  pc.aggressive = false; /* regular, as these paths were tested with (docs/tincan.md, ICE) */
  if (relay == CTL_RELAY_NEVER)
    pc.n_turn = 0;
  if (tc_path_init(p, &pc, l->pops, l, why, sizeof why) != 0) {
    LOG_INFO("tincan", "link %s/%s: no new path: %s", l->ov->cfg.overlay_id, l->peer_id, why);
    p->mode = TC_PATH_CLOSED;
    p->fd = -1;
    return false;
  }
  return true;
}

/* ---- messages ------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Our credentials and candidates for slot p as a message in l->pm.msg. */
static void build(struct tc_link *l, uint8_t op, struct tc_path *p)
{
  struct ctl_candidates *c = calloc(1, sizeof *c);
  uint8_t *m = l->pm.msg;
  l->pm.msg_len = 0;
  if (!c)
    return;
  tc_path_local(p, c);
  m[0] = TC_DP_PATHS;
  m[1] = op;
  m[2] = l->pm.slot;
  m[3] = l->pm.want;
  put_be32(m + 4, l->pm.gen);
  char *t = (char *)m + TC_PATHS_HDR;
  int n = snprintf(t, TC_PATHS_TEXT, "%s\n%s", c->ufrag, c->pwd);
  size_t len = n > 0 ? (size_t)n : 0;
  for (uint32_t i = 0; i < c->n_candidates; i++) {
    size_t cl = strlen(c->candidates[i]);
    if (len + 1 + cl > TC_PATHS_TEXT)
      break; /* what does not fit stays out: fewer pairs to try */
    t[len++] = '\n';
    memcpy(t + len, c->candidates[i], cl);
    len += cl;
  }
  l->pm.msg_len = TC_PATHS_HDR + len;
  OPENSSL_cleanse(c->pwd, sizeof c->pwd);
  free(c);
}

static void send_msg(struct tc_link *l)
{
  if (l->pm.msg_len)
    tc_dp_send_msg(&l->dp, l->pm.msg, l->pm.msg_len);
}

bool tc_paths_parse(const uint8_t *t, size_t n, struct ctl_create_link *r)
{
  char buf[TC_PATHS_TEXT + 1];
  if (n == 0 || n > TC_PATHS_TEXT)
    return false;
  memcpy(buf, t, n);
  buf[n] = '\0';
  if (strlen(buf) != n)
    return false; /* a NUL inside */
  char *save = NULL;
  char *ufrag = strtok_r(buf, "\n", &save), *pwd = strtok_r(NULL, "\n", &save);
  if (!ufrag || !pwd || strlen(ufrag) < 4 || strlen(ufrag) >= sizeof r->peer_ufrag ||
      strlen(pwd) < 22 || strlen(pwd) >= sizeof r->peer_pwd || tc_valid_ice_chars(ufrag) ||
      tc_valid_ice_chars(pwd))
    return false;
  snprintf(r->peer_ufrag, sizeof r->peer_ufrag, "%s", ufrag);
  snprintf(r->peer_pwd, sizeof r->peer_pwd, "%s", pwd);
  bool ok = true;
  for (char *c; ok && (c = strtok_r(NULL, "\n", &save));) {
    ok = r->n_peer_candidates < CTL_MAX_CANDS && strlen(c) < CTL_CAND_LEN &&
         strncmp(c, "candidate:", 10) == 0;
    if (ok)
      snprintf(r->peer_candidates[r->n_peer_candidates++], CTL_CAND_LEN, "%s", c);
  }
  OPENSSL_cleanse(buf, sizeof buf);
  return ok && r->n_peer_candidates > 0;
}

static uint32_t get_be32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Answerer: a new offer makes a new path in its slot. */
static void take_offer(struct tc_link *l, unsigned slot, int relay, uint32_t gen,
                       struct ctl_create_link *r, uint64_t now)
{
  struct tc_path *p = tc_paths_slot(l, slot);
  if ((l->relay == CTL_RELAY_NEVER && relay == CTL_RELAY_ALWAYS) ||
      (l->relay == CTL_RELAY_ALWAYS && relay == CTL_RELAY_NEVER))
    return; /* our own relay policy for this link says no */
  if (gen == l->pm.gen && (l->pm.flags & TC_PATHS_SETUP)) {
    send_msg(l); /* a retransmission: our answer again, once we have one */
    return;
  }
  if ((int32_t)(gen - l->pm.gen) <= 0 && l->pm.gen)
    return; /* older than one we took */
  if (l->pm.gen && now - l->pm.setup_ms < TC_PATHS_OFFER_GAP_MS) {
    l->pm.bad_msgs++; /* faster than any honest initiator: no agent churn */
    return;
  }
  if (p == l->tx) {
    /* The initiator no longer sends by this slot: move first, if we can. */
    struct tc_path *o = other(l);
    if (!usable(o) || !alive(o, now))
      return;
    set_tx(l, o, "the peer re-makes the other path");
  }
  close_slot(l, slot);
  l->pm.gen = gen;
  l->pm.slot = (uint8_t)slot;
  l->pm.want = (uint8_t)relay;
  l->pm.flags = TC_PATHS_SETUP;
  l->pm.msg_len = 0;
  l->pm.setup_ms = now;
  r->role = CTL_ROLE_CONTROLLED;
  char why[CTL_REASON_LEN];
  if (!open_slot(l, slot, relay, false) || tc_path_connect(p, r, why, sizeof why) != 0) {
    l->pm.flags = 0;
    close_slot(l, slot);
    return;
  }
  LOG_DEBUG("tincan", "link %s/%s: peer offers a %s path in slot %u", l->ov->cfg.overlay_id,
            l->peer_id, relay == CTL_RELAY_ALWAYS ? "relayed" : "direct", slot);
  if (p->flags & TC_PATH_GATHERED)
    tc_paths_gathered(l, p);
}

void tc_paths_msg(struct tc_link *l, const uint8_t *m, size_t n, uint64_t now)
{
  if (n < TC_PATHS_HDR || m[2] > 1 ||
      (m[3] != CTL_RELAY_NEVER && m[3] != CTL_RELAY_ALWAYS) ||
      (m[1] != TC_PATHS_OFFER && m[1] != TC_PATHS_ANSWER) ||
      (m[1] == TC_PATHS_OFFER) == l->initiator) {
    l->pm.bad_msgs++;
    LOG_DEBUG("tincan", "link %s/%s: bad path message header", l->ov->cfg.overlay_id,
              l->peer_id);
    return;
  }
  uint32_t gen = get_be32(m + 4);
  if (m[1] == TC_PATHS_ANSWER &&
      (!(l->pm.flags & TC_PATHS_SETUP) || gen != l->pm.gen || m[2] != l->pm.slot ||
       (l->pm.flags & TC_PATHS_ANSWERED)))
    return; /* late or duplicate */
  struct ctl_create_link *r = calloc(1, sizeof *r);
  if (!r)
    return;
  char why[CTL_REASON_LEN];
  if (!tc_paths_parse(m + TC_PATHS_HDR, n - TC_PATHS_HDR, r)) {
    l->pm.bad_msgs++;
    LOG_DEBUG("tincan", "link %s/%s: bad path message", l->ov->cfg.overlay_id, l->peer_id);
  } else if (m[1] == TC_PATHS_OFFER) {
    take_offer(l, m[2], m[3], gen, r, now);
  } else {
    r->role = CTL_ROLE_CONTROLLING;
    if (tc_path_connect(tc_paths_slot(l, l->pm.slot), r, why, sizeof why) == 0)
      l->pm.flags |= TC_PATHS_ANSWERED;
    else
      l->pm.bad_msgs++;
  }
  OPENSSL_cleanse(r->peer_pwd, sizeof r->peer_pwd);
  free(r);
}

void tc_paths_gathered(struct tc_link *l, struct tc_path *p)
{
  if (!(l->pm.flags & TC_PATHS_SETUP) || p != tc_paths_slot(l, l->pm.slot))
    return;
  build(l, l->initiator ? TC_PATHS_OFFER : TC_PATHS_ANSWER, p);
  LOG_DEBUG("tincan", "link %s/%s: %s for slot %u (%zu bytes)", l->ov->cfg.overlay_id,
            l->peer_id, l->initiator ? "offer" : "answer", l->pm.slot, l->pm.msg_len);
  send_msg(l);
  if (l->initiator) {
    l->pm.flags |= TC_PATHS_SENT;
    l->pm.resend_ms = ipop_now_ms();
  }
}

static void setup_failed(struct tc_link *l, const char *why)
{
  LOG_INFO("tincan", "link %s/%s: %s path in slot %u: %s", l->ov->cfg.overlay_id, l->peer_id,
           l->pm.want == CTL_RELAY_ALWAYS ? "relayed" : "direct", l->pm.slot, why);
  l->pm.flags = 0;
  if (tc_paths_slot(l, l->pm.slot) != l->tx)
    close_slot(l, l->pm.slot);
  l->pm.next_try_ms = ipop_now_ms() + l->pm.retry_ms;
  l->pm.retry_ms = l->pm.retry_ms * 2 > TC_PATHS_RETRY_MAX_MS ? TC_PATHS_RETRY_MAX_MS
                                                              : l->pm.retry_ms * 2;
}

void tc_paths_ice_state(struct tc_link *l, struct tc_path *p, NiceComponentState st)
{
  if (st == NICE_COMPONENT_STATE_FAILED && (l->pm.flags & TC_PATHS_SETUP) &&
      p == tc_paths_slot(l, l->pm.slot))
    setup_failed(l, "ice failed");
}

/* ---- the tick --------------------------------------------------------------- */

/* Initiator: start setting up slot i with policy want. */
static void start_setup(struct tc_link *l, unsigned i, int want, uint64_t now)
{
  close_slot(l, i);
  l->pm.gen++;
  l->pm.slot = (uint8_t)i;
  l->pm.want = (uint8_t)want;
  l->pm.flags = TC_PATHS_SETUP;
  l->pm.setup_ms = now;
  l->pm.msg_len = 0;
  if (!open_slot(l, i, want, true)) {
    l->pm.flags = 0;
    l->pm.next_try_ms = now + l->pm.retry_ms;
    return;
  }
  LOG_DEBUG("tincan", "link %s/%s: setting up a %s path in slot %u", l->ov->cfg.overlay_id,
            l->peer_id, want == CTL_RELAY_ALWAYS ? "relayed" : "direct", i);
  struct tc_path *p = tc_paths_slot(l, i);
  if (p->flags & TC_PATH_GATHERED)
    tc_paths_gathered(l, p);
}

/* What the initiator wants in the other slot, if anything. */
static void plan(struct tc_link *l, uint64_t now)
{
  struct tc_path *o = other(l);
  if (l->relay != CTL_RELAY_AUTO || (l->pm.flags & TC_PATHS_SETUP) || now < l->pm.next_try_ms ||
      l->pm.closing[tc_paths_index(l, o)])
    return;
  if (usable(o) && now - l->pm.ready_ms < TC_PATHS_GRACE_MS)
    return; /* just made: the peer's pings over it have yet to come */
  bool tx_relayed = relayed(l->tx);
  if (tx_relayed) {
    /* Upgrade: a direct path, unless the other slot already is one that
     * works. */
    if (!(usable(o) && !relayed(o) && alive(o, now)))
      start_setup(l, tc_paths_index(l, o), CTL_RELAY_NEVER, now);
  } else if (l->pcfg.n_turn && !(usable(o) && relayed(o) && alive(o, now))) {
    /* Standby: a relayed path next to the direct one. */
    start_setup(l, tc_paths_index(l, o), CTL_RELAY_ALWAYS, now);
  }
}

/* Ping the non-tx path too: its pongs tell us it works. */
static void probe_other(struct tc_link *l, uint64_t now, uint64_t now_us)
{
  struct tc_path *o = other(l);
  if (now - l->pm.probe_ms < TC_KEEPALIVE_MS || !usable(o))
    return;
  l->pm.probe_ms = now;
  l->dp.path = o;
  tc_dp_send_ping(&l->dp, now_us);
  l->dp.path = l->tx;
}

void tc_paths_tick(struct tc_link *l, uint64_t now, uint64_t now_us)
{
  struct tc_path *o = other(l);
  if (!l->pm.retry_ms)
    l->pm.retry_ms = TC_PATHS_RETRY_MS;
  /* Switches: away from a silent tx to a path that delivers; to a direct
   * path that delivers from a relayed tx. */
  bool tx_quiet = !l->tx->last_pong_ms || now - l->tx->last_pong_ms >= TC_PATHS_SILENT_MS;
  if (usable(o) && alive(o, now)) {
    if (tx_quiet)
      set_tx(l, o, "the other path went quiet");
    else if (!relayed(o) && relayed(l->tx))
      set_tx(l, o, "direct path works: upgrade");
    o = other(l);
  }
  probe_other(l, now, now_us);
  /* A pong overdue on tx: ping it every tick (250 ms) until one comes, so
   * that "quiet" means several lost pings, not one or two lost under load. */
  if (l->tx->last_pong_ms && now - l->tx->last_pong_ms > TC_PATHS_SUSPECT_MS &&
      now - l->pm.suspect_ms >= TC_TICK_MS) {
    l->pm.suspect_ms = now;
    tc_dp_send_ping(&l->dp, now_us);
  }
  /* In-band setup: resend the offer; give up after a while; done once the
   * new path works. */
  if (l->pm.flags & TC_PATHS_SETUP) {
    struct tc_path *p = tc_paths_slot(l, l->pm.slot);
    bool ready = l->pm.want == CTL_RELAY_ALWAYS
                     ? usable(p) && tc_path_ice_state(p) == NICE_COMPONENT_STATE_READY
                     : p->mode == TC_PATH_SOCKET;
    if (ready) {
      l->pm.flags = 0;
      l->pm.ready_ms = now;
      l->pm.retry_ms = TC_PATHS_RETRY_MS;
      LOG_INFO("tincan", "link %s/%s: %s path ready in slot %u", l->ov->cfg.overlay_id,
               l->peer_id, l->pm.want == CTL_RELAY_ALWAYS ? "relayed" : "direct",
               tc_paths_index(l, p));
    } else if (now - l->pm.setup_ms > TC_PATHS_SETUP_MS) {
      setup_failed(l, "not ready in time");
    } else if (l->initiator && (l->pm.flags & TC_PATHS_SENT) &&
               !(l->pm.flags & TC_PATHS_ANSWERED) && now - l->pm.resend_ms >= TC_PATHS_RESEND_MS) {
      l->pm.resend_ms = now;
      send_msg(l);
    }
  }
  if (l->initiator)
    plan(l, now);
}

int tc_paths_close(struct tc_link *l, uv_close_cb cb)
{
  int n = l->pm.closing[0] + l->pm.closing[1];
  n += tc_path_close(&l->path, cb, l);
  n += tc_path_close(&l->alt, cb, l);
  return n;
}
