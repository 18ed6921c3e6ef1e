/* Commands that send several requests until a condition holds or a
 * deadline passes: wait (link, peers, overlay) and connect (two tincans
 * linked from each other's candidate files).  This file: their tables,
 * which request a wait polls and how one answer is judged, without I/O;
 * steps.c sends, repeats and keeps the deadline. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "messages.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define DEADLINE                                                                    \
  A("--deadline", "SEC", "deadline", ARG_U32, ARG_LOCAL,                            \
    "give up after SEC seconds: exit 6 (default 30)", .min = 1, .max = 86400)
#define GROUP_OPT                                                                   \
  A("--group", "NAME", "group", ARG_GROUP, ARG_LOCAL,                               \
    "ipop-controller: in this group (default: the configured overlay)")

static const char *lstr(const json_t *o, const char *k)
{
  return json_string_value(json_object_get(o, k));
}

/* PEER is a node id, or for ipop-controller a JID (bare or full). */
static bool peer_valid(const char *p)
{
  if (ctl_id_valid(p))
    return true;
  char bare[CTL_JID_LEN];
  size_t n = strcspn(p, "/");
  if (n >= sizeof bare || (p[n] == '/' && !p[n + 1]))
    return false;
  memcpy(bare, p, n);
  bare[n] = '\0';
  return cli_jid_valid(bare, true);
}

static int finish_wait(const struct cli_command *c, json_t *body, json_t *local, char *err,
                       size_t len)
{
  const char *peer = lstr(local, "peer");
  if (peer && !peer_valid(peer)) {
    snprintf(err, len, "%s: PEER \"%s\": expected a node id (1..64 of A-Z a-z 0-9 _ . -) or a "
             "JID such as bob@example.org", c->name, peer);
    return EXIT_USAGE;
  }
  if (json_object_get(local, "overlay_id") && json_object_get(local, "group")) {
    snprintf(err, len, "%s: --overlay (ipop-tincan, with -t) and --group (ipop-controller) "
             "exclude each other", c->name);
    return EXIT_USAGE;
  }
  return 0;
}

int wait_check_target(const struct cli_command *c, const json_t *local, bool tincan,
                      char *err, size_t len)
{
  if (!tincan && json_object_get(local, "overlay_id")) {
    snprintf(err, len, "%s: --overlay ID is tincan's overlay: give -t (ipop-controller "
             "knows its overlays by --group NAME, or the configured one without it)", c->name);
    return EXIT_USAGE;
  }
  if (tincan && json_object_get(local, "group")) {
    snprintf(err, len, "%s: --group is for ipop-controller: drop -t (ipop-tincan knows "
             "overlays by --overlay ID)", c->name);
    return EXIT_USAGE;
  }
  const char *peer = lstr(local, "peer");
  if (tincan && peer && !ctl_id_valid(peer)) {
    snprintf(err, len, "%s: PEER \"%s\": ipop-tincan knows peers by node id only (a JID "
             "needs ipop-controller: drop -t)", c->name, peer);
    return EXIT_USAGE;
  }
  if (tincan && strcmp(c->name, "wait overlay") == 0 && !json_object_get(local, "overlay_id")) {
    snprintf(err, len, "%s: with -t, --overlay ID is required", c->name);
    return EXIT_USAGE;
  }
  return 0;
}

const char *wait_request(const struct cli_command *c, const json_t *local, bool tincan,
                         json_t **body)
{
  const char *what = c->name + strlen("wait ");
  const char *ov = lstr(local, "overlay_id");
  bool group = json_object_get(local, "group") != NULL;
  *body = json_object();
  if (tincan && strcmp(what, "link") == 0) {
    json_object_set_new(*body, "peer_id", json_string(lstr(local, "peer")));
    if (ov)
      json_object_set_new(*body, "overlay_id", json_string(ov));
    return "query_link_stats";
  }
  if (tincan) { /* overlay */
    json_object_set_new(*body, "overlay_id", json_string(ov));
    return "query_overlay_info";
  }
  if (group)
    return "groups";
  return strcmp(what, "link") == 0 ? "peers" : "status";
}

/* A peer entry or group member that PEER names: its node id, its JID, or
 * the bare part of its JID. */
static bool names_peer(const json_t *e, const char *peer)
{
  const char *jid = lstr(e, "jid"), *node = lstr(e, "node_id");
  if (node && strcmp(node, peer) == 0)
    return true;
  if (!jid)
    return false;
  size_t bare = strcspn(jid, "/");
  return strcmp(jid, peer) == 0 || (strlen(peer) == bare && strncmp(jid, peer, bare) == 0);
}

static const json_t *group_named(const json_t *result, const char *name)
{
  size_t i;
  json_t *g;
  json_array_foreach(json_object_get(result, "groups"), i, g)
    if (lstr(g, "name") && strcmp(lstr(g, "name"), name) == 0)
      return g;
  return NULL;
}

/* The first entry of `list` naming peer whose `key` is "up" (*match), or
 * the last state seen in state. */
static enum wait_verdict link_in(const json_t *list, const char *key, const char *peer,
                                 const json_t **match, char *state, size_t len)
{
  size_t i;
  json_t *e;
  snprintf(state, len, "no link to %s yet", peer);
  json_array_foreach(list, i, e) {
    if (!names_peer(e, peer))
      continue;
    const char *st = lstr(e, key);
    if (st && strcmp(st, "up") == 0) {
      *match = e;
      return WAIT_MET;
    }
    if (st)
      snprintf(state, len, "link to %s: %s", lstr(e, "jid") ? lstr(e, "jid") : peer, st);
    else
      snprintf(state, len, "%s has no link yet%s%s", lstr(e, "jid") ? lstr(e, "jid") : peer,
               lstr(e, "negotiation") ? ", negotiation " : "",
               lstr(e, "negotiation") ? lstr(e, "negotiation") : "");
  }
  return WAIT_NOT_YET;
}

/* tincan's link stats: links to node PEER (all overlays, or --overlay). */
static enum wait_verdict tincan_link(const json_t *result, const char *peer,
                                     const json_t **match, char *state, size_t len)
{
  size_t i;
  json_t *e;
  snprintf(state, len, "no link to %s yet", peer);
  json_array_foreach(json_object_get(result, "links"), i, e) {
    const char *id = lstr(e, "peer_id"), *st = lstr(e, "state");
    if (!id || strcmp(id, peer) != 0 || !st)
      continue;
    if (strcmp(st, "up") == 0) {
      *match = e;
      return WAIT_MET;
    }
    snprintf(state, len, "link %s/%s: %s", lstr(e, "overlay_id") ? lstr(e, "overlay_id") : "?",
             peer, st);
  }
  return WAIT_NOT_YET;
}

enum wait_verdict wait_judge(const struct cli_command *c, const json_t *local, bool tincan,
                             const json_t *result, const json_t **match, char *state,
                             size_t len)
{
  const char *what = c->name + strlen("wait ");
  const char *gname = lstr(local, "group"), *peer = lstr(local, "peer");
  const json_t *g = gname ? group_named(result, gname) : NULL;
  *match = NULL;
  if (gname && !g) {
    snprintf(state, len, "not in group %s (yet)", gname);
    return WAIT_NOT_YET;
  }
  if (strcmp(what, "link") == 0) {
    if (tincan)
      return tincan_link(result, peer, match, state, len);
    return link_in(json_object_get(g ? g : result, g ? "members" : "peers"), "link_state",
                   peer, match, state, len);
  }
  if (strcmp(what, "peers") == 0) {
    long long want = json_integer_value(json_object_get(local, "n"));
    long long have = 0;
    if (g) {
      size_t i;
      json_t *m;
      json_array_foreach(json_object_get(g, "members"), i, m)
        have += json_is_true(json_object_get(m, "online")) && lstr(m, "node_id");
    } else {
      have = json_integer_value(json_object_get(result, "peers"));
    }
    snprintf(state, len, "%lld of %lld peers online", have, want);
    if (have < want)
      return WAIT_NOT_YET;
    *match = g ? g : result;
    return WAIT_MET;
  }
  /* overlay */
  if (tincan) { /* query_overlay_info answered: it exists */
    *match = result;
    return WAIT_MET;
  }
  if (g) {
    const char *st = lstr(g, "state"), *ov = lstr(g, "overlay_id");
    snprintf(state, len, "group %s: %s", gname, st ? st : "?");
    if (!st || strcmp(st, "joined") != 0 || !ov || !*ov)
      return WAIT_NOT_YET;
    *match = g;
    return WAIT_MET;
  }
  const char *mode = lstr(result, "mode");
  if (!mode || !*mode)
    snprintf(state, len, "ipop-controller has no overlay configured (Controller.Overlay)");
  else
    snprintf(state, len, "overlay %s not created in ipop-tincan yet (tincan: %s)",
             lstr(result, "overlay_id") ? lstr(result, "overlay_id") : "?",
             lstr(result, "tincan") ? lstr(result, "tincan") : "?");
  if (!json_is_true(json_object_get(result, "overlay_ready")))
    return WAIT_NOT_YET;
  *match = result;
  return WAIT_MET;
}

void wait_describe(FILE *f, const struct cli_command *c, const json_t *local, bool tincan,
                   const json_t *m, double waited_s)
{
  const char *what = c->name + strlen("wait ");
  const char *gname = lstr(local, "group");
  if (strcmp(what, "link") == 0) {
    const char *pair = lstr(m, "pair_type");
    double rtt = json_integer_value(json_object_get(m, "rtt_us")) / 1000.0;
    if (tincan)
      fprintf(f, "link %s/%s is up", lstr(m, "overlay_id"), lstr(m, "peer_id"));
    else
      fprintf(f, "link to %s%s%s%s is up", lstr(m, "jid"), lstr(m, "node_id") ? " (node " : "",
              lstr(m, "node_id") ? lstr(m, "node_id") : "", lstr(m, "node_id") ? ")" : "");
    if (pair && strcmp(pair, "none") != 0)
      fprintf(f, ": %s pair, rtt %.1f ms", pair, rtt);
  } else if (strcmp(what, "peers") == 0) {
    fprintf(f, "%lld peer%s online%s%s", json_integer_value(json_object_get(local, "n")),
            json_integer_value(json_object_get(local, "n")) == 1 ? "" : "s",
            gname ? " in group " : "", gname ? gname : "");
  } else if (tincan) {
    fprintf(f, "overlay %s exists (TAP %s)", lstr(m, "overlay_id"), lstr(m, "tap_name"));
  } else if (gname) {
    fprintf(f, "group %s is joined (overlay %s)", gname, lstr(m, "overlay_id"));
  } else {
    fprintf(f, "overlay %s is ready", lstr(m, "overlay_id"));
  }
  fprintf(f, " (after %.1f s)\n", waited_s);
}

/* ---- connect ------------------------------------------------------------- */

static int finish_connect(const struct cli_command *c, json_t *body, json_t *local, char *err,
                          size_t len)
{
  const char *tap = lstr(body, "tap_name");
  if (tap && !cli_tap_valid(tap)) {
    snprintf(err, len, "%s: --tap \"%s\": an interface name, 1..%d characters of "
             "A-Z a-z 0-9 _ . -", c->name, tap, CTL_IFNAME_LEN - 1);
    return EXIT_USAGE;
  }
  if (strcmp(lstr(local, "peer"), lstr(body, "node_id")) == 0) {
    snprintf(err, len, "%s: --peer and --node are both \"%s\": a link joins two nodes",
             c->name, lstr(local, "peer"));
    return EXIT_USAGE;
  }
  if (strcmp(lstr(local, "remote"), "-") == 0) {
    snprintf(err, len, "%s: --remote - : the peer's set is waited for as a file, not read from "
             "stdin (--out - prints ours)", c->name);
    return EXIT_USAGE;
  }
  if (strcmp(lstr(local, "out"), lstr(local, "remote")) == 0) {
    snprintf(err, len, "%s: --out and --remote are the same file: ours goes to --out, the "
             "peer's comes from --remote", c->name);
    return EXIT_USAGE;
  }
  if (!tap && (json_object_get(body, "ip4") || json_object_get(body, "mtu") ||
               json_object_get(body, "stun"))) {
    snprintf(err, len, "%s: --ip4, --mtu and --stun create the overlay: give --tap NAME too",
             c->name);
    return EXIT_USAGE;
  }
  return 0;
}

int connect_check_set(const json_t *set, const json_t *body, const json_t *local, char *err,
                      size_t len)
{
  const char *path = lstr(local, "remote");
  const char *from = lstr(set, "node_id"), *for_ = lstr(set, "peer_id");
  const char *ov = lstr(set, "overlay_id");
  if (!json_is_object(set) || !from || !for_ || !ov || !json_object_get(set, "candidates")) {
    snprintf(err, len, "--remote %s: expected the JSON object `ipopctl -j candidates` (or "
             "connect --out) prints", path);
    return EXIT_USAGE;
  }
  if (strcmp(from, lstr(body, "node_id")) == 0) {
    snprintf(err, len, "--remote %s is our own candidate set (node \"%s\"); give the one %s "
             "wrote", path, from, lstr(local, "peer"));
    return EXIT_USAGE;
  }
  if (strcmp(from, lstr(local, "peer")) != 0 || strcmp(for_, lstr(body, "node_id")) != 0) {
    snprintf(err, len, "--remote %s is node \"%s\"'s set for peer \"%s\", not --peer %s's "
             "for --node %s", path, from, for_, lstr(local, "peer"), lstr(body, "node_id"));
    return EXIT_USAGE;
  }
  if (strcmp(ov, lstr(body, "overlay_id")) != 0) {
    snprintf(err, len, "--remote %s is for overlay \"%s\", not --overlay %s", path, ov,
             lstr(body, "overlay_id"));
    return EXIT_USAGE;
  }
  return 0;
}

static const struct cli_arg wait_link_a[] = {
  A(NULL, "PEER", "peer", ARG_STR, ARG_REQUIRED | ARG_LOCAL,
    "the peer's node id, or (ipop-controller) its JID, bare or full"),
  A("--overlay", "ID", "overlay_id", ARG_ID, ARG_LOCAL, "with -t: only this overlay"),
  GROUP_OPT,
  DEADLINE,
};
static const struct cli_arg wait_peers_a[] = {
  A(NULL, "N", "n", ARG_U32, ARG_REQUIRED | ARG_LOCAL, "how many peer nodes", .min = 0,
    .max = 100000),
  GROUP_OPT,
  DEADLINE,
};
static const struct cli_arg wait_overlay_a[] = {
  A("--overlay", "ID", "overlay_id", ARG_ID, ARG_LOCAL, "with -t: the overlay id (required)"),
  GROUP_OPT,
  DEADLINE,
};
static const struct cli_arg connect_a[] = {
  A("--overlay", "ID", "overlay_id", ARG_ID, ARG_REQUIRED, "overlay id (same on both sides)"),
  A("--node", "ID", "node_id", ARG_ID, ARG_REQUIRED, "this node's id"),
  A("--peer", "ID", "peer", ARG_ID, ARG_REQUIRED | ARG_LOCAL, "the peer's node id"),
  A("--out", "FILE", "out", ARG_PATH, ARG_REQUIRED | ARG_LOCAL,
    "write our candidate set there, for the peer's --remote (- = stdout)"),
  A("--remote", "FILE", "remote", ARG_PATH, ARG_REQUIRED | ARG_LOCAL,
    "the peer's candidate set (its --out, or its `ipopctl -j candidates`); waited for"),
  A("--tap", "NAME", "tap_name", ARG_STR, 0, "create the overlay with this TAP if it is missing"),
  A("--ip4", "ADDR[/PREFIX]", "ip4", ARG_IP4_NET, 0, "new overlay: TAP IPv4 address"),
  A("--mtu", "N", "mtu", ARG_U32, 0, "new overlay: TAP MTU (default 1280)", .min = CTL_MTU_MIN,
    .max = CTL_MTU_MAX),
  A("--stun", "HOST:PORT", "stun", ARG_HOSTPORT, ARG_REPEAT, "new overlay: STUN server"),
  DEADLINE,
};

const struct cli_command cli_step_commands[] = {
  { "wait link", NULL, CLI_ANY, CLI_STEPS, "wait until the link to a peer is up",
    "Polls until a link to PEER is up: ipop-controller's (PEER = JID or node id; the "
    "configured overlay, or --group NAME), or with -t ipop-tincan's (PEER = node id; any "
    "overlay, or --overlay ID). Exit 0 once it is, 6 at the deadline, 3 if the daemon never "
    "answered. --json prints the link (or peer entry).",
    wait_link_a, N(wait_link_a), finish_wait, NULL, NULL },
  { "wait peers", NULL, CLI_CONTROLLER, CLI_STEPS, "wait until N peer nodes are online",
    "Polls ipop-controller until at least N peer nodes are online: members of the configured "
    "overlay (status: peers), or nodes in the room of --group NAME. Exit 0, or 6 at the "
    "deadline.", wait_peers_a, N(wait_peers_a), finish_wait, NULL, NULL },
  { "wait overlay", NULL, CLI_ANY, CLI_STEPS, "wait until an overlay exists",
    "Polls until ipop-controller's configured overlay is created in tincan (status: "
    "overlay_ready), or the group --group NAME is joined with its overlay; with -t until "
    "ipop-tincan has overlay --overlay ID. Exit 0, or 6 at the deadline.",
    wait_overlay_a, N(wait_overlay_a), finish_wait, NULL, NULL },
  { "connect", NULL, CLI_TINCAN, CLI_STEPS, "link two tincans: one command on each side",
    "Without ipop-controller: creates the overlay if it is missing (with --tap), writes our "
    "candidate set for --peer to --out, waits for the peer's set in --remote (copy our "
    "--out there as its --remote), creates the link and waits until it is up. A link to the "
    "peer that is already up is kept; one that failed is replaced. Exit 0, 6 at the deadline, "
    "1 if the link failed.", connect_a, N(connect_a), finish_connect, NULL, NULL },
};
const unsigned cli_step_commands_count = N(cli_step_commands);
