/* The control handlers: every tincan request of proto/messages.h.  Each
 * handler validates its body beyond what the schema checks, compares it with
 * the dataplane's own state, then acts and answers. */
#include "tincan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataplane.h"
#include "error.h"
#include "link.h"
#include "procstat.h"
#include "route.h"
#include "secret.h"
#include "tap.h"
#include "validate.h"

#define WHYLEN 256

static struct tc_overlay *overlay_find(struct tc_daemon *d, const char *id)
{
  for (struct tc_overlay *o = d->overlays; o; o = o->next)
    if (strcmp(o->cfg.overlay_id, id) == 0)
      return o;
  return NULL;
}

static void overlay_info(const struct tc_overlay *o, struct ctl_overlay_info *i)
{
  memset(i, 0, sizeof *i);
  snprintf(i->overlay_id, sizeof i->overlay_id, "%s", o->cfg.overlay_id);
  snprintf(i->node_id, sizeof i->node_id, "%s", o->cfg.node_id);
  snprintf(i->tap_name, sizeof i->tap_name, "%s", o->cfg.tap_name);
  memcpy(i->mac, o->cfg.mac, 6);
  i->mtu = o->cfg.mtu;
  i->ip4 = o->cfg.ip4;
  i->ip4_prefix = o->cfg.has_ip4 ? o->cfg.ip4_prefix : 0;
  i->has_ip4 = o->cfg.has_ip4;
  i->ip6 = o->cfg.ip6;
  i->ip6_prefix = o->cfg.has_ip6 ? o->cfg.ip6_prefix : 0;
  i->has_ip6 = o->cfg.has_ip6;
  snprintf(i->fingerprint, sizeof i->fingerprint, "%s", o->d->id.fpr_text);
  i->n_links = o->n_links;
  i->mac_entries = o->sw->count;
  i->mac_evicted = o->sw->stats.evicted;
  const struct tc_fwd_stats *f = &o->fwd.st;
  i->forwarding = o->fwd.forwarding;
  i->routes = o->fwd.n;
  for (uint32_t k = 0; k < o->fwd.n; k++)
    i->routes_reachable += o->fwd.nodes[k].n_via > 0;
  i->routed_out = f->routed_out;
  i->routed_in = f->routed_in;
  i->routed_in_hops = f->routed_in_hops;
  i->forwarded = f->forwarded;
  i->fwd_hop_limit = f->hop_limit;
  i->fwd_bad_header = f->bad_header;
  i->fwd_origin = f->origin;
  i->fwd_reverse_path = f->reverse_path;
  i->fwd_no_route = f->no_route;
  i->fwd_loop = f->loop;
  i->fwd_refused = f->refused;
  i->arp_answered = f->arp_answered;
  i->nd_answered = f->nd_answered;
  i->nd_bad = f->nd_bad;
  i->nd_unknown = f->nd_unknown;
}

/* An overlay's unknown-id error, naming the field. */
#define NO_OVERLAY(req, id) \
  ctl_reply_error((req), IPOP_ENOENT, "overlay_id: no overlay \"%s\"", (id))

/* The link a request names by overlay_id + peer_id, or NULL after replying
 * with the error that names the missing one. */
static struct tc_link *link_or_reply(struct tc_daemon *d, struct ctl_request *req,
                                     const char *overlay_id, const char *peer_id,
                                     struct tc_overlay **ovp)
{
  struct tc_overlay *ov = overlay_find(d, overlay_id);
  if (!ov) {
    NO_OVERLAY(req, overlay_id);
    return NULL;
  }
  struct tc_link *l = tc_link_find(ov, peer_id);
  if (!l) {
    ctl_reply_error(req, IPOP_ENOENT, "peer_id: no link to \"%s\"", peer_id);
    return NULL;
  }
  if (ovp)
    *ovp = ov;
  return l;
}

/* ---- echo, configure_logging (register, subscribe: access.c) ------------ */

static void h_echo(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                   void *ctx)
{
  (void)ep; (void)ctx;
  ctl_reply(req, body);
}

/* query_process: our CPU time, memory and descriptors, which the
 * controller exports as process_*{daemon="tincan"} (a privileged process's
 * /proc/PID/fd is not readable by the unprivileged controller). */
static void h_query_process(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                            void *ctx)
{
  (void)ep; (void)body; (void)ctx;
  struct ipop_procstat ps;
  if (ipop_procstat_self(&ps) != 0) {
    ctl_reply_error(req, IPOP_EIO, "cannot read /proc/self");
    return;
  }
  struct ctl_process_info pi = {
    .pid = ps.pid, .cpu_ms = ps.cpu_ms, .rss_bytes = ps.rss_bytes,
    .vsize_bytes = ps.vsize_bytes, .open_fds = ps.open_fds, .max_fds = ps.max_fds,
    .start_time_s = ps.start_time_s,
  };
  ctl_reply(req, &pi);
}

static void h_configure_logging(struct ctl_endpoint *ep, struct ctl_request *req,
                                const void *body, void *ctx)
{
  const struct ctl_configure_logging *r = body;
  struct tc_daemon *d = ctx;
  char why[WHYLEN + 64];
  (void)ep;
  if (r->has_file) {
    if (r->file[0] && r->file[0] != '/') {
      ctl_reply_error(req, IPOP_EFIELD, "file: must be an absolute path");
      return;
    }
    /* Still uid 0 (Tincan.User ""): every root-owned file would pass the
     * owner check, so only the configured file may be reopened. */
    if (r->file[0] && geteuid() == 0 && strcmp(r->file, d->log_file) != 0) {
      ctl_reply_error(req, IPOP_EPERM, "file: tincan runs as uid 0 (Tincan.User \"\"): "
                      "only Tincan.Log.File may be (re)opened");
      return;
    }
    if (ipop_log_set_file(r->file[0] ? r->file : NULL, why, sizeof why) != 0) {
      ctl_reply_error(req, IPOP_ESYS, "file: %s", why);
      return;
    }
  }
  ipop_log_set_level((enum ipop_log_level)r->level);
  ctl_reply(req, r);
}

/* ---- overlays ----------------------------------------------------------- */

static void tap_cb(uv_poll_t *h, int status, int events)
{
  struct tc_overlay *ov = h->data;
  (void)events;
  if (status < 0 || ov->dead)
    return;
  tc_route_tap_readable(ov);
}

static void overlay_closed(uv_handle_t *h)
{
  struct tc_overlay *ov = h->data;
  tc_tap_close(ov->tap_fd);
  free(ov->sw);
  free(ov->am);
  tc_fwd_free(&ov->fwd);
  free(ov);
}

static void overlay_destroy(struct tc_overlay *ov)
{
  struct tc_daemon *d = ov->d;
  for (struct tc_overlay **po = &d->overlays; *po; po = &(*po)->next)
    if (*po == ov) {
      *po = ov->next;
      d->n_overlays--;
      break;
    }
  ov->dead = true;
  while (ov->links)
    tc_link_destroy(ov->links);
  LOG_INFO("tincan", "overlay %s removed (TAP %s)", ov->cfg.overlay_id, ov->cfg.tap_name);
  /* Close the TAP fd now so the device disappears at once; the poll handle
   * is closed first (libuv must not watch a closed fd). */
  uv_poll_stop(&ov->tap_poll);
  uv_close((uv_handle_t *)&ov->tap_poll, overlay_closed);
}

static void h_create_overlay(struct ctl_endpoint *ep, struct ctl_request *req,
                             const void *body, void *ctx)
{
  const struct ctl_create_overlay *r = body;
  struct tc_daemon *d = ctx;
  char why[WHYLEN];
  (void)ep;
  if (tc_validate_create_overlay(r, why, sizeof why) != 0) {
    ctl_reply_error(req, IPOP_EFIELD, "%s", why);
    return;
  }
  if (overlay_find(d, r->overlay_id)) {
    ctl_reply_error(req, IPOP_EEXIST, "overlay_id: overlay \"%s\" already exists",
                    r->overlay_id);
    return;
  }
  for (struct tc_overlay *o = d->overlays; o; o = o->next)
    if (strcmp(o->cfg.tap_name, r->tap_name) == 0) {
      ctl_reply_error(req, IPOP_EEXIST, "tap_name: %s is used by overlay \"%s\"",
                      r->tap_name, o->cfg.overlay_id);
      return;
    }
  if (d->n_overlays >= TC_MAX_OVERLAYS) {
    ctl_reply_error(req, IPOP_EBUSY, "at most %d overlays", TC_MAX_OVERLAYS);
    return;
  }
  struct tc_overlay *ov = calloc(1, sizeof *ov);
  if (!ov) {
    ctl_reply_error(req, IPOP_ENOMEM, "out of memory");
    return;
  }
  ov->d = d;
  ov->cfg = *r;
  if (!r->has_mac) {
    ipop_random_bytes(ov->cfg.mac, 6);
    ov->cfg.mac[0] = (uint8_t)((ov->cfg.mac[0] & 0xfe) | 0x02); /* local, unicast */
    ov->cfg.has_mac = true;
  }
  uint64_t seed = 0;
  ipop_random_bytes(&seed, sizeof seed);
  ov->sw = malloc(sizeof *ov->sw);
  ov->am = malloc(sizeof *ov->am);
  if (!ov->sw || !ov->am || switch_init(ov->sw, 0, 0, seed, ov->cfg.mac) != 0 ||
      addrmap_init(ov->am, ov->cfg.mac) != 0) {
    free(ov->sw);
    free(ov->am);
    free(ov);
    ctl_reply_error(req, IPOP_ENOMEM, "out of memory");
    return;
  }
  if (r->mtu > TC_SAFE_MTU)
    LOG_WARN("tincan", "overlay %s: mtu %u exceeds %d; full frames are split into two records",
             r->overlay_id, r->mtu, TC_SAFE_MTU);
  struct tc_tap_config tc = {
    .name = r->tap_name, .mac = ov->cfg.mac, .mtu = r->mtu,
    .ip4 = r->has_ip4 ? &r->ip4 : NULL, .ip4_prefix = r->ip4_prefix,
    .ip6 = r->has_ip6 ? &r->ip6 : NULL, .ip6_prefix = r->ip6_prefix,
  };
  int fd = tc_tap_open(&tc, why, sizeof why);
  if (fd < 0) {
    free(ov->sw);
    free(ov->am);
    free(ov);
    ctl_reply_error(req, fd, "%s", why);
    return;
  }
  ov->tap_fd = fd;
  ov->tap_offload = tc_tap_set_offload(fd, true) == 0;
  if (!ov->tap_offload)
    LOG_WARN("tincan", "overlay %s: TAP offloads (TSO) unavailable: %s", r->overlay_id,
             strerror(errno));
  if (uv_poll_init(d->loop, &ov->tap_poll, fd) != 0) {
    tc_tap_close(fd);
    free(ov->sw);
    free(ov->am);
    free(ov);
    ctl_reply_error(req, IPOP_ESYS, "cannot watch the TAP device");
    return;
  }
  ov->tap_poll.data = ov;
  uv_poll_start(&ov->tap_poll, UV_READABLE, tap_cb);
  ov->next = d->overlays;
  d->overlays = ov;
  d->n_overlays++;
  LOG_INFO("tincan", "overlay %s created: TAP %s, node %s", r->overlay_id, r->tap_name,
           r->node_id);
  struct ctl_overlay_info info;
  overlay_info(ov, &info);
  ctl_reply(req, &info);
}

static void h_remove_overlay(struct ctl_endpoint *ep, struct ctl_request *req,
                             const void *body, void *ctx)
{
  const struct ctl_overlay_ref *r = body;
  struct tc_daemon *d = ctx;
  (void)ep;
  struct tc_overlay *ov = overlay_find(d, r->overlay_id);
  if (!ov) {
    NO_OVERLAY(req, r->overlay_id);
    return;
  }
  overlay_destroy(ov);
  struct ctl_ack ack;
  memset(&ack, 0, sizeof ack);
  snprintf(ack.message, sizeof ack.message, "overlay %s removed", r->overlay_id);
  ctl_reply(req, &ack);
}

static void h_query_overlay_info(struct ctl_endpoint *ep, struct ctl_request *req,
                                 const void *body, void *ctx)
{
  const struct ctl_overlay_ref *r = body;
  struct tc_daemon *d = ctx;
  (void)ep;
  struct tc_overlay *ov = overlay_find(d, r->overlay_id);
  if (!ov) {
    NO_OVERLAY(req, r->overlay_id);
    return;
  }
  struct ctl_overlay_info info;
  overlay_info(ov, &info);
  ctl_reply(req, &info);
}

/* ---- links -------------------------------------------------------------- */

static void h_query_candidates(struct ctl_endpoint *ep, struct ctl_request *req,
                               const void *body, void *ctx)
{
  const struct ctl_query_candidates *q = body;
  struct ctl_link_ref ref, *r = &ref;
  struct tc_daemon *d = ctx;
  char why[WHYLEN];
  (void)ep;
  memcpy(ref.overlay_id, q->overlay_id, sizeof ref.overlay_id);
  memcpy(ref.peer_id, q->peer_id, sizeof ref.peer_id);
  if (tc_validate_link_ref(r, why, sizeof why)) {
    ctl_reply_error(req, IPOP_EFIELD, "%s", why);
    return;
  }
  struct tc_overlay *ov = overlay_find(d, r->overlay_id);
  if (!ov) {
    NO_OVERLAY(req, r->overlay_id);
    return;
  }
  if (strcmp(r->peer_id, ov->cfg.node_id) == 0) {
    ctl_reply_error(req, IPOP_EFIELD, "peer_id: is this node's own id");
    return;
  }
  struct tc_link *l = tc_link_find(ov, r->peer_id);
  if (!l) {
    if (ov->n_links >= TC_MAX_LINKS_PER_OVERLAY) {
      ctl_reply_error(req, IPOP_EBUSY, "overlay %s has %d links already", r->overlay_id,
                      TC_MAX_LINKS_PER_OVERLAY);
      return;
    }
    if (q->relay == CTL_RELAY_ALWAYS && ov->cfg.n_turn == 0) {
      ctl_reply_error(req, IPOP_EFIELD,
                      "relay: \"always\" needs a TURN server, and overlay %s has none",
                      r->overlay_id);
      return;
    }
    int rc = tc_link_create(ov, r->peer_id, q->relay, &l, why, sizeof why);
    if (rc) {
      ctl_reply_error(req, rc, "%s", why);
      return;
    }
  }
  tc_link_want_candidates(l, req);
}

/* Frames from the peer may carry only its MAC (route.c checks), and frames
 * to that MAC go only to its link: the switch binds it.  A MAC is one
 * peer's: ours, or one bound to another link, is refused. */
static int bind_peer_mac(struct tc_overlay *ov, struct tc_link *l, const uint8_t mac[6],
                         struct ctl_request *req)
{
  int rc = switch_bind(ov->sw, mac, l->slot);
  if (rc == IPOP_EEXIST) {
    uint32_t other = 0;
    switch_lookup(ov->sw, mac, 0, &other);
    ctl_reply_error(req, rc, "peer_mac: %02x:%02x:%02x:%02x:%02x:%02x is the MAC of the link "
                    "to \"%s\"", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
                    other < TC_MAX_LINKS_PER_OVERLAY && ov->slot[other]
                        ? ov->slot[other]->peer_id : "?");
  } else if (rc == IPOP_EPERM) {
    ctl_reply_error(req, IPOP_EFIELD, "peer_mac: is this overlay's own MAC");
  } else if (rc) {
    ctl_reply_error(req, rc, "peer_mac: cannot bind it: %s", ipop_strerror(rc));
  }
  return rc;
}

static void h_create_link(struct ctl_endpoint *ep, struct ctl_request *req,
                          const void *body, void *ctx)
{
  const struct ctl_create_link *r = body;
  struct tc_daemon *d = ctx;
  char why[WHYLEN];
  (void)ep;
  if (tc_validate_create_link(r, why, sizeof why)) {
    ctl_reply_error(req, IPOP_EFIELD, "%s", why);
    return;
  }
  struct tc_overlay *ov = overlay_find(d, r->overlay_id);
  if (!ov) {
    NO_OVERLAY(req, r->overlay_id);
    return;
  }
  struct tc_link *l = tc_link_find(ov, r->peer_id);
  if (!l) {
    ctl_reply_error(req, IPOP_ESTATE,
                    "peer_id: no link to \"%s\"; call query_candidates first (the peer "
                    "needs our candidates)", r->peer_id);
    return;
  }
  if (l->sess.state != TC_SESSION_NONE) {
    ctl_reply_error(req, IPOP_EEXIST,
                    "peer_id: link to \"%s\" already created (state %s); remove_link first",
                    r->peer_id, ctl_link_state_names[l->state]);
    return;
  }
  if (r->has_peer_mac && bind_peer_mac(ov, l, r->peer_mac, req) != 0)
    return;
  int rc = tc_link_connect(l, r, why, sizeof why);
  if (rc) {
    switch_remove_link(ov->sw, l->slot);
    ctl_reply_error(req, rc, "%s", why);
    return;
  }
  struct ctl_link_stat st;
  tc_link_stat(l, &st);
  ctl_reply(req, &st);
}

static void h_remove_link(struct ctl_endpoint *ep, struct ctl_request *req,
                          const void *body, void *ctx)
{
  const struct ctl_link_ref *r = body;
  struct tc_daemon *d = ctx;
  (void)ep;
  struct tc_link *l = link_or_reply(d, req, r->overlay_id, r->peer_id, NULL);
  if (!l)
    return;
  LOG_INFO("tincan", "link %s/%s removed", r->overlay_id, r->peer_id);
  tc_link_destroy(l);
  struct ctl_ack ack;
  memset(&ack, 0, sizeof ack);
  snprintf(ack.message, sizeof ack.message, "link %s/%s removed", r->overlay_id, r->peer_id);
  ctl_reply(req, &ack);
}

static void collect_stats(struct tc_daemon *d, const char *overlay_id, const char *peer_id,
                          struct ctl_link_stats *out)
{
  unsigned diag = 0; /* links with reasons and candidates: the answer must fit a datagram */
  memset(out, 0, sizeof *out);
  for (struct tc_overlay *o = d->overlays; o; o = o->next) {
    if (overlay_id && strcmp(o->cfg.overlay_id, overlay_id) != 0)
      continue;
    for (struct tc_link *l = o->links; l; l = l->next) {
      if (peer_id && strcmp(l->peer_id, peer_id) != 0)
        continue;
      if (out->n_links >= CTL_MAX_LINKS_REPORTED)
        return;
      struct ctl_link_stat *s = &out->links[out->n_links++];
      tc_link_stat(l, s);
      if ((peer_id || l->state != TC_LINK_UP) && diag < CTL_MAX_DIAG_LINKS) {
        tc_link_stat_paths(l, s);
        diag++;
      }
    }
  }
}

static void h_query_link_stats(struct ctl_endpoint *ep, struct ctl_request *req,
                               const void *body, void *ctx)
{
  const struct ctl_link_stats_query *r = body;
  struct tc_daemon *d = ctx;
  (void)ep;
  struct tc_overlay *ov = NULL;
  if (r->has_overlay_id && !(ov = overlay_find(d, r->overlay_id))) {
    NO_OVERLAY(req, r->overlay_id);
    return;
  }
  if (r->has_peer_id) {
    bool found = false;
    for (struct tc_overlay *o = d->overlays; o && !found; o = o->next)
      if ((!ov || o == ov) && tc_link_find(o, r->peer_id))
        found = true;
    if (!found) {
      ctl_reply_error(req, IPOP_ENOENT, "peer_id: no link to \"%s\"", r->peer_id);
      return;
    }
  }
  struct ctl_link_stats *s = malloc(sizeof *s);
  if (!s) {
    ctl_reply_error(req, IPOP_ENOMEM, "out of memory");
    return;
  }
  collect_stats(d, r->has_overlay_id ? r->overlay_id : NULL,
                r->has_peer_id ? r->peer_id : NULL, s);
  ctl_reply(req, s);
  free(s);
}

/* mapped_ip6 must be where the local host looks for it: a host address of
 * the overlay's IPv6 subnet (the TAP's on-link prefix), not the TAP's own. */
static bool mapped6_in_overlay(const struct tc_overlay *ov, const struct in6_addr *a)
{
  if (!ov->cfg.has_ip6 || memcmp(a, &ov->cfg.ip6, 16) == 0)
    return false;
  uint32_t bits = ov->cfg.ip6_prefix;
  for (uint32_t i = 0; i < 16; i++, bits = bits > 8 ? bits - 8 : 0) {
    uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
    if ((a->s6_addr[i] ^ ov->cfg.ip6.s6_addr[i]) & mask)
      return false;
  }
  return true;
}

static void h_set_address_mapping(struct ctl_endpoint *ep, struct ctl_request *req,
                                  const void *body, void *ctx)
{
  const struct ctl_address_mapping *r = body;
  struct tc_daemon *d = ctx;
  (void)ep;
  struct tc_overlay *ov = NULL;
  struct tc_link *l = link_or_reply(d, req, r->overlay_id, r->peer_id, &ov);
  if (!l)
    return;
  if (ov->cfg.has_ip4 && r->mapped_ip4.s_addr == ov->cfg.ip4.s_addr) {
    ctl_reply_error(req, IPOP_EFIELD, "mapped_ip4: is this overlay's own TAP address");
    return;
  }
  if (r->has_mapped_ip6 != r->has_peer_ip6) {
    ctl_reply_error(req, IPOP_EFIELD, "%s: mapped_ip6 and peer_ip6 go together",
                    r->has_mapped_ip6 ? "peer_ip6" : "mapped_ip6");
    return;
  }
  if (r->has_mapped_ip6 && !mapped6_in_overlay(ov, &r->mapped_ip6)) {
    ctl_reply_error(req, IPOP_EFIELD, "mapped_ip6: not a host address of this overlay's IPv6 "
                    "subnet, or its own TAP address (or the overlay has no IPv6)");
    return;
  }
  /* Replaced as a whole: on a refused IPv6 part the old mapping stays. */
  const struct addrmap_entry *old = addrmap_find_link(ov->am, l->slot);
  struct addrmap_entry prev;
  bool had = old != NULL;
  if (had)
    prev = *old;
  int rc = addrmap_set(ov->am, l->slot, r->mapped_ip4.s_addr, r->peer_ip4.s_addr);
  if (rc == IPOP_EEXIST) {
    ctl_reply_error(req, rc, "mapped_ip4: already used for another peer of this overlay");
    return;
  }
  if (rc == IPOP_EINVAL) {
    ctl_reply_error(req, IPOP_EFIELD, "mapped_ip4/peer_ip4: must be unicast IPv4 addresses");
    return;
  }
  if (rc) {
    ctl_reply_error(req, rc, "cannot add the mapping: %s", ipop_strerror(rc));
    return;
  }
  rc = r->has_mapped_ip6 ? addrmap_set6(ov->am, l->slot, r->mapped_ip6.s6_addr, r->peer_ip6.s6_addr)
                         : addrmap_set6(ov->am, l->slot, NULL, NULL);
  if (rc) {
    if (had) {
      addrmap_set(ov->am, l->slot, prev.mapped_ip4, prev.peer_ip4);
      addrmap_set6(ov->am, l->slot, prev.has_ip6 ? prev.mapped_ip6 : NULL,
                   prev.has_ip6 ? prev.peer_ip6 : NULL);
    } else {
      addrmap_remove(ov->am, l->slot);
    }
    ctl_reply_error(req, rc == IPOP_EEXIST ? rc : IPOP_EFIELD, "%s",
                    rc == IPOP_EEXIST ? "mapped_ip6: already used for another peer of this overlay"
                                      : "mapped_ip6/peer_ip6: must be unicast IPv6 addresses "
                                        "(not link-local, multicast, loopback or IPv4-mapped)");
    return;
  }
  char m[INET_ADDRSTRLEN], p[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &r->mapped_ip4, m, sizeof m);
  inet_ntop(AF_INET, &r->peer_ip4, p, sizeof p);
  char m6[INET6_ADDRSTRLEN] = "", p6[INET6_ADDRSTRLEN] = "";
  if (r->has_mapped_ip6) {
    inet_ntop(AF_INET6, &r->mapped_ip6, m6, sizeof m6);
    inet_ntop(AF_INET6, &r->peer_ip6, p6, sizeof p6);
  }
  LOG_INFO("tincan", "link %s/%s: peer %s appears here as %s%s%s%s%s", r->overlay_id, r->peer_id,
           p, m, m6[0] ? ", " : "", p6, m6[0] ? " as " : "", m6);
  /* addrmap rewrites addresses with checksum updates, which needs complete
   * frames: no more TSO super-frames or partial checksums on this TAP. */
  if (ov->tap_offload && tc_tap_set_offload(ov->tap_fd, false) == 0)
    ov->tap_offload = false;
  struct ctl_ack ack;
  memset(&ack, 0, sizeof ack);
  snprintf(ack.message, sizeof ack.message, "%s/%s: %s appears as %s", r->overlay_id,
           r->peer_id, p, m);
  ctl_reply(req, &ack);
}

/* Undo set_address_mapping: the peer's frames pass unchanged again.  When
 * the overlay has no mapping left, the TAP offloads come back on. */
static void h_remove_address_mapping(struct ctl_endpoint *ep, struct ctl_request *req,
                                     const void *body, void *ctx)
{
  const struct ctl_link_ref *r = body;
  struct tc_daemon *d = ctx;
  (void)ep;
  struct tc_overlay *ov = NULL;
  struct tc_link *l = link_or_reply(d, req, r->overlay_id, r->peer_id, &ov);
  if (!l)
    return;
  if (addrmap_remove(ov->am, l->slot) != 0) {
    ctl_reply_error(req, IPOP_ENOENT, "peer_id: link to \"%s\" has no address mapping",
                    r->peer_id);
    return;
  }
  LOG_INFO("tincan", "link %s/%s: address mapping removed", r->overlay_id, r->peer_id);
  if (!ov->tap_offload && ov->am->n == 0 && ov->fwd.n == 0 &&
      tc_tap_set_offload(ov->tap_fd, true) == 0)
    ov->tap_offload = true;
  struct ctl_ack ack;
  memset(&ack, 0, sizeof ack);
  snprintf(ack.message, sizeof ack.message, "%s/%s: mapping removed", r->overlay_id,
           r->peer_id);
  ctl_reply(req, &ack);
}

/* set_routes' view of the overlay's links: a peer id's slot and bound MAC. */
static uint32_t fwd_link_of(void *ctx, const char *peer_id, const uint8_t **mac)
{
  struct tc_link *l = tc_link_find(ctx, peer_id);
  if (!l)
    return TC_FWD_NONE;
  if (mac)
    *mac = (l->flags & TC_LINK_HAS_PEER_MAC) ? l->peer_mac : NULL;
  return l->slot;
}

/* The forwarding table (fwd.h): every entry checked, all or nothing.  An
 * overlay with a table takes complete frames only (no TSO super-frames:
 * the overlay header goes on each frame); an empty table gives the
 * offloads back (unless an address mapping needs them off). */
static void h_set_routes(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                         void *ctx)
{
  const struct ctl_set_routes *r = body;
  struct tc_daemon *d = ctx;
  (void)ep;
  struct tc_overlay *ov = overlay_find(d, r->overlay_id);
  if (!ov) {
    NO_OVERLAY(req, r->overlay_id);
    return;
  }
  char why[256];
  struct tc_fwd_own own = { ov->cfg.mac, ov->cfg.has_ip4 ? ov->cfg.ip4.s_addr : 0,
                            ov->cfg.has_ip6 ? &ov->cfg.ip6 : NULL };
  int rc = tc_fwd_install(&ov->fwd, r, ov->cfg.node_id, &own, fwd_link_of, ov, why,
                          sizeof why);
  if (rc) {
    ctl_reply_error(req, rc, "%s", why);
    return;
  }
  if (ov->fwd.n && ov->tap_offload && tc_tap_set_offload(ov->tap_fd, false) == 0)
    ov->tap_offload = false;
  else if (!ov->fwd.n && !ov->tap_offload && ov->am->n == 0 &&
           tc_tap_set_offload(ov->tap_fd, true) == 0)
    ov->tap_offload = true;
  LOG_DEBUG("tincan", "overlay %s: %u routes, forwarding %s", r->overlay_id, ov->fwd.n,
            ov->fwd.forwarding ? "on" : "off");
  struct ctl_ack ack;
  memset(&ack, 0, sizeof ack);
  snprintf(ack.message, sizeof ack.message, "%s: %u routes, forwarding %s", r->overlay_id,
           ov->fwd.n, ov->fwd.forwarding ? "on" : "off");
  ctl_reply(req, &ack);
}

const struct ctl_handler tc_handlers[] = {
  { "echo", h_echo },
  { "register", tc_h_register },
  { "subscribe", tc_h_subscribe },
  { "configure_logging", h_configure_logging },
  { "create_overlay", h_create_overlay },
  { "remove_overlay", h_remove_overlay },
  { "query_overlay_info", h_query_overlay_info },
  { "query_candidates", h_query_candidates },
  { "create_link", h_create_link },
  { "remove_link", h_remove_link },
  { "query_link_stats", h_query_link_stats },
  { "set_address_mapping", h_set_address_mapping },
  { "remove_address_mapping", h_remove_address_mapping },
  { "query_process", h_query_process },
  { "set_routes", h_set_routes },
};
const unsigned tc_handlers_count = sizeof tc_handlers / sizeof tc_handlers[0];

/* ---- daemon ------------------------------------------------------------- */

static void stats_cb(uv_timer_t *t)
{
  struct tc_daemon *d = t->data;
  if (!d->has_controller || !d->ep || !d->overlays)
    return;
  struct ctl_link_stats *s = malloc(sizeof *s);
  if (!s)
    return;
  collect_stats(d, NULL, NULL, s);
  if (s->n_links)
    ctl_event_send(d->ep, (const struct sockaddr *)&d->controller,
                   ctl_msg_find(ctl_tincan_messages, ctl_tincan_messages_count, "stats"), s);
  free(s);
}

static void expire_cb(uv_timer_t *t)
{
  struct tc_daemon *d = t->data;
  uint64_t now = ipop_now_ms();
  for (struct tc_overlay *o = d->overlays; o; o = o->next)
    switch_expire(o->sw, now);
}

int tc_daemon_init(struct tc_daemon *d)
{
  d->gctx = g_main_context_new();
  if (!d->gctx)
    return IPOP_ENOMEM;
  int rc = tc_gloop_init(&d->gloop, d->loop, d->gctx);
  if (rc)
    return rc;
  d->ssl_ctx = tc_dtls_ctx_new(&d->id);
  if (!d->ssl_ctx)
    return IPOP_ECRYPTO;
  d->dp = calloc(1, sizeof *d->dp);
  if (!d->dp)
    return IPOP_ENOMEM;
  d->dp->deliver = tc_route_deliver;
  d->dp->path_msg = tc_link_paths_msg;
  d->dp->deliver_routed = tc_route_routed_deliver;
  if (!d->rekey_interval_ms)
    d->rekey_interval_ms = TC_REKEY_DEFAULT_INTERVAL_S * 1000u;
  uv_timer_init(d->loop, &d->stats_timer);
  d->stats_timer.data = d;
  uv_timer_start(&d->stats_timer, stats_cb, TC_STATS_INTERVAL_MS, TC_STATS_INTERVAL_MS);
  uv_timer_init(d->loop, &d->expire_timer);
  d->expire_timer.data = d;
  uv_timer_start(&d->expire_timer, expire_cb, 1000, 1000);
  return 0;
}

void tc_daemon_shutdown(struct tc_daemon *d)
{
  if (d->stopping)
    return;
  d->stopping = true;
  while (d->overlays)
    overlay_destroy(d->overlays);
  if (d->ep)
    ctl_endpoint_close(d->ep);
  d->ep = NULL;
  uv_close((uv_handle_t *)&d->stats_timer, NULL);
  uv_close((uv_handle_t *)&d->expire_timer, NULL);
  tc_gloop_close(&d->gloop);
  /* No dataplane callback runs once every link and overlay is closing. */
  free(d->dp);
  d->dp = NULL;
}
