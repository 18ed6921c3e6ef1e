/* Text output: tables for lists (peers, links, groups, blocked JIDs),
 * "key: value" lines for single objects.  --json bypasses all of it and
 * prints the daemon's result as it came. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

void out_json(FILE *f, const json_t *j)
{
  char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  if (s) {
    fprintf(f, "%s\n", s);
    free(s);
  }
}

static const char *jstr(const json_t *o, const char *k, const char *def)
{
  const char *v = json_string_value(json_object_get(o, k));
  return v && *v ? v : def;
}

static long long jint(const json_t *o, const char *k)
{
  return json_integer_value(json_object_get(o, k));
}

/* "key: value" lines; arrays of strings one element per line. */
void out_kv(FILE *f, const struct cli_command *c, const json_t *body, const json_t *result)
{
  const char *k;
  json_t *v;
  if (json_object_size(result) == 1 && json_is_string(json_object_get(result, "message"))) {
    fprintf(f, "%s\n", json_string_value(json_object_get(result, "message")));
    return;
  }
  json_object_foreach((json_t *)result, k, v) {
    if (json_is_string(v)) {
      fprintf(f, "%s: %s\n", k, json_string_value(v));
    } else if (json_is_array(v) && json_array_size(v) && json_is_string(json_array_get(v, 0))) {
      size_t i;
      json_t *e;
      json_array_foreach(v, i, e)
        fprintf(f, "%s: %s\n", k, json_string_value(e) ? json_string_value(e) : "?");
    } else {
      char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
      fprintf(f, "%s: %s\n", k, s ? s : "?");
      free(s);
    }
  }
}

static void uptime(char *buf, size_t len, long long s)
{
  if (s >= 86400)
    snprintf(buf, len, "%lld d %lld h", s / 86400, s % 86400 / 3600);
  else if (s >= 3600)
    snprintf(buf, len, "%lld h %lld min", s / 3600, s % 3600 / 60);
  else if (s >= 60)
    snprintf(buf, len, "%lld min %lld s", s / 60, s % 60);
  else
    snprintf(buf, len, "%lld s", s);
}

/* status: the answers to "is it working?" first, in sentences a sysadmin
 * reads at a glance; keys this version does not know follow as key: value. */
void out_status(FILE *f, const struct cli_command *c, const json_t *body, const json_t *result)
{
  static const char *const known[] = { "version", "uptime_s", "tincan", "tincan_endpoint",
                                       "mode", "xmpp", "jid", "node_id", "overlay_id",
                                       "overlay_ready", "ip4", "ip4_prefix", "ip6",
                                       "ip6_prefix", "peers",
                                       "links_up", "conflict" };
  char up[64];
  uptime(up, sizeof up, jint(result, "uptime_s"));
  fprintf(f, "ipop-controller %s, up %s\n", jstr(result, "version", "?"), up);
  fprintf(f, "tincan:    %s (%s)\n", jstr(result, "tincan", "?"),
          jstr(result, "tincan_endpoint", "?"));
  fprintf(f, "mode:      %s\n", jstr(result, "mode", "none (no Controller.Overlay)"));
  if (jstr(result, "jid", NULL))
    fprintf(f, "xmpp:      %s as %s\n", jstr(result, "xmpp", "?"), jstr(result, "jid", "?"));
  else
    fprintf(f, "xmpp:      %s\n", jstr(result, "xmpp", "?"));
  fprintf(f, "node id:   %s\n", jstr(result, "node_id", "-"));
  if (jstr(result, "overlay_id", NULL)) {
    fprintf(f, "overlay:   %s (%s)", jstr(result, "overlay_id", "?"),
            json_is_true(json_object_get(result, "overlay_ready")) ? "ready" : "not ready");
    if (jstr(result, "ip4", NULL))
      fprintf(f, ", address %s/%lld", jstr(result, "ip4", "?"), jint(result, "ip4_prefix"));
    if (jstr(result, "ip6", NULL))
      fprintf(f, " and %s/%lld", jstr(result, "ip6", "?"), jint(result, "ip6_prefix"));
    fputc('\n', f);
  }
  fprintf(f, "peers:     %lld online, %lld links up\n", jint(result, "peers"),
          jint(result, "links_up"));
  if (jstr(result, "conflict", NULL))
    fprintf(f, "CONFLICT:  %s\n", jstr(result, "conflict", ""));
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)result, k, v) {
    bool seen = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
      seen = seen || strcmp(k, known[i]) == 0;
    if (seen)
      continue;
    char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    fprintf(f, "%s: %s\n", k, s ? s : json_string_value(v) ? json_string_value(v) : "?");
    free(s);
  }
}

/* The candidate set: the same lines, the candidates last (they are long). */
void out_candidates(FILE *f, const struct cli_command *c, const json_t *body,
                    const json_t *result)
{
  static const char *const keys[] = { "overlay_id", "peer_id", "node_id", "fingerprint",
                                      "ufrag", "pwd" };
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    fprintf(f, "%s: %s\n", keys[i], jstr(result, keys[i], "-"));
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(result, "candidates"), i, e)
    fprintf(f, "candidate: %s\n", json_string_value(e) ? json_string_value(e) : "?");
}

/* peers: one row per peer node; a peer with IPv6 addresses gets a second
 * row under the first with them in the ADDRESS and MAPPED columns. */
void out_peers(FILE *f, const struct cli_command *c, const json_t *body, const json_t *result)
{
  const json_t *arr = json_object_get(result, "peers");
  size_t i;
  const json_t *p;
  fprintf(f, "%-36s %-10s %-15s %-15s %-11s %-10s %-6s %8s %12s %12s\n", "JID", "NODE",
          "ADDRESS", "MAPPED", "NEGOTIATION", "LINK", "PAIR", "RTT_MS", "TX_BYTES", "RX_BYTES");
  json_array_foreach(arr, i, p) {
    fprintf(f, "%-36s %-10.8s %-15s %-15s %-11s %-10s %-6s %8.1f %12lld %12lld\n",
            jstr(p, "jid", "-"), jstr(p, "node_id", "-"), jstr(p, "ip4", "-"),
            jstr(p, "mapped_ip4", "-"), jstr(p, "negotiation", "-"), jstr(p, "link_state", "-"),
            jstr(p, "pair_type", "-"), jint(p, "rtt_us") / 1000.0, jint(p, "tx_bytes"),
            jint(p, "rx_bytes"));
    if (jstr(p, "ip6", NULL) || jstr(p, "mapped_ip6", NULL))
      fprintf(f, "%-36s %-10s %s %s\n", "", "", jstr(p, "ip6", "-"), jstr(p, "mapped_ip6", "-"));
  }
  long long total = jint(result, "total");
  if (total > (long long)json_array_size(arr))
    fprintf(f, "(%lld more not shown)\n", total - (long long)json_array_size(arr));
}

/* links and link-stats: one row per link. */
void out_links(FILE *f, const struct cli_command *c, const json_t *body, const json_t *result)
{
  const json_t *arr = json_object_get(result, "links");
  size_t i;
  const json_t *l;
  fprintf(f, "%-12s %-10s %-10s %-6s %-22s %-22s %8s %12s %12s %7s %7s %6s\n", "OVERLAY",
          "PEER", "STATE", "PAIR", "LOCAL", "REMOTE", "RTT_MS", "TX_BYTES", "RX_BYTES", "DROPS",
          "SPOOFED", "REKEYS");
  json_array_foreach(arr, i, l) {
    fprintf(f, "%-12s %-10.8s %-10s %-6s %-22s %-22s %8.1f %12lld %12lld %7lld %7lld %6lld\n",
            jstr(l, "overlay_id", "-"), jstr(l, "peer_id", "-"), jstr(l, "state", "-"),
            jstr(l, "pair_type", "-"), jstr(l, "local_addr", "-"), jstr(l, "remote_addr", "-"),
            jint(l, "rtt_us") / 1000.0, jint(l, "tx_bytes"), jint(l, "rx_bytes"),
            jint(l, "drops"), jint(l, "spoofed"), jint(l, "rekeys"));
  }
  if (json_array_size(arr) == 0)
    fprintf(f, "(no links)\n");
}

static void group_rows(FILE *f, const json_t *g)
{
  char subnet[64];
  snprintf(subnet, sizeof subnet, "%s", jstr(g, "subnet", "-"));
  const char *tap = jstr(g, "tap_name", "-"), *error = jstr(g, "error", NULL);
  fprintf(f, "%-16s %-34s %-18s %-6s %-8s %-15s ", jstr(g, "name", "-"), jstr(g, "room", "-"),
          subnet, jstr(g, "role", "-"), jstr(g, "state", "-"), jstr(g, "address", "-"));
  if (error)
    fprintf(f, "%-10s %s\n", tap, error);
  else
    fprintf(f, "%s\n", tap);
  if (jstr(g, "address6", NULL))
    fprintf(f, "%-16s %-34s %-18s %-6s %-8s %s\n", "", "", "", "", "", jstr(g, "address6", ""));
  size_t i;
  const json_t *m;
  json_array_foreach(json_object_get(g, "members"), i, m) {
    fprintf(f, "  member %-34s %-10.8s %-7s %-10s %s\n", jstr(m, "jid", "-"),
            jstr(m, "node_id", "-"), json_is_true(json_object_get(m, "online")) ? "online"
                                                                                : "offline",
            jstr(m, "link_state", "-"), jstr(m, "address", "-"));
    if (jstr(m, "address6", NULL))
      fprintf(f, "  %-6s %-34s %-10s %-7s %-10s %s\n", "", "", "", "", "", jstr(m, "address6", ""));
  }
}

static void group_header(FILE *f)
{
  fprintf(f, "%-16s %-34s %-18s %-6s %-8s %-15s %-10s %s\n", "GROUP", "ROOM", "SUBNET", "ROLE",
          "STATE", "ADDRESS", "TAP", "ERROR");
}

/* group list: each group with its members indented below it, then the
 * pending invitations. */
void out_groups(FILE *f, const struct cli_command *c, const json_t *body, const json_t *result)
{
  const json_t *groups = json_object_get(result, "groups");
  const json_t *inv = json_object_get(result, "invitations");
  size_t i;
  const json_t *g;
  if (json_array_size(groups) == 0) {
    fprintf(f, "(no groups)\n");
  } else {
    group_header(f);
    json_array_foreach(groups, i, g)
      group_rows(f, g);
  }
  if (json_array_size(inv) == 0)
    return;
  fprintf(f, "\n%-34s %-34s %s\n", "INVITATION (ROOM)", "FROM", "REASON");
  json_array_foreach(inv, i, g) {
    const char *reason = jstr(g, "reason", NULL), *from = jstr(g, "from", "-");
    int pad = (int)strlen(from) < 34 ? 35 - (int)strlen(from) : 1;
    fprintf(f, "%-34s %s%*s%s\n", jstr(g, "room", "-"), from, reason ? pad : 0, "",
            reason ? reason : "");
  }
}

void out_group(FILE *f, const struct cli_command *c, const json_t *body, const json_t *result)
{
  group_header(f);
  group_rows(f, result);
}

void out_blocklist(FILE *f, const struct cli_command *c, const json_t *body,
                   const json_t *result)
{
  size_t i;
  const json_t *j;
  const json_t *arr = json_object_get(result, "jids");
  if (json_array_size(arr) == 0) {
    fprintf(f, "(no one is blocked)\n");
    return;
  }
  fprintf(f, "BLOCKED\n");
  json_array_foreach(arr, i, j)
    fprintf(f, "%s\n", json_string_value(j) ? json_string_value(j) : "?");
}

/* known: one line per node of known_nodes; a refused fingerprint waiting
 * for `trust` is shown below its pin. */
void out_known(FILE *f, const struct cli_command *c, const json_t *body, const json_t *result)
{
  size_t i;
  const json_t *n;
  const json_t *arr = json_object_get(result, "nodes");
  fprintf(f, "trust: %s\n", jstr(result, "trust", "?"));
  if (json_array_size(arr) == 0) {
    fprintf(f, "(no known nodes)\n");
    return;
  }
  fprintf(f, "%-30s %-32s %-8s %-6s %s\n", "JID", "NODE", "STATE", "ONLINE", "FINGERPRINT");
  json_array_foreach(arr, i, n) {
    const char *pin = jstr(n, "fingerprint", NULL), *pend = jstr(n, "pending", NULL);
    const char *pub = jstr(n, "published", NULL);
    fprintf(f, "%-30s %-32s %-8s %-6s %s\n", jstr(n, "jid", "?"), jstr(n, "node_id", "?"),
            pin && pend ? "changed" : pin ? "pinned" : "pending",
            json_is_true(json_object_get(n, "online")) ? "yes" : "no", pin ? pin : pend);
    if (pin && pend)
      fprintf(f, "%-30s %-32s %-8s %-6s %s\n", "", "", "refused", "", pend);
    if (pub && !(pin && strcasecmp(pub, pin) == 0) && !(!pin && pend && strcasecmp(pub, pend) == 0))
      fprintf(f, "%-30s %-32s %-8s %-6s %s\n", "", "", "on PEP", "", pub);
  }
  json_int_t total = json_integer_value(json_object_get(result, "total"));
  if ((size_t)total > json_array_size(arr))
    fprintf(f, "(%lld more; ipopctl -j known lists them all up to %zu)\n",
            (long long)total - (long long)json_array_size(arr), json_array_size(arr));
}

/* "invited {jid} to {name}" with the body's values. */
static void out_done(FILE *f, const char *tmpl, const json_t *body)
{
  for (const char *p = tmpl; *p; p++) {
    const char *close = *p == '{' ? strchr(p, '}') : NULL;
    if (!close) {
      fputc(*p, f);
      continue;
    }
    char key[32];
    snprintf(key, sizeof key, "%.*s", (int)(close - p - 1), p + 1);
    fputs(jstr(body, key, "?"), f);
    p = close;
  }
  fputc('\n', f);
}

void out_result(FILE *f, const struct cli_command *c, const json_t *body, const json_t *result)
{
  if (c->done && json_object_size(result) == 0)
    out_done(f, c->done, body);
  else if (c->print)
    c->print(f, c, body, result);
  else
    out_kv(f, c, body, result);
}

/* Daemons name fields as "body.overlay_id"; users typed "--overlay". */
void out_field_hint(const struct cli_command *c, const char *msg, char *buf, size_t len)
{
  buf[0] = '\0';
  if (!msg || !c || (c->flags & CLI_RAW)) /* call: the user wrote the JSON keys */
    return;
  /* "body.FIELD: ..." anywhere, or the message starts with "FIELD: " */
  const char *p = strstr(msg, "body.");
  p = p ? p + 5 : msg;
  size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
  for (unsigned k = 0; k < c->n_args; k++) {
    const struct cli_arg *a = &c->args[k];
    size_t fl = strlen(a->field);
    bool match = (fl == n && strncmp(a->field, p, n) == 0) ||
                 ((a->type == ARG_IP4_NET || a->type == ARG_IP6_NET) && n == fl + 7 &&
                  strncmp(a->field, p, fl) == 0 && strncmp(p + fl, "_prefix", 7) == 0);
    if (match && p == msg && p[n] != ':')
      match = false;
    if (match && !(a->flags & ARG_LOCAL)) {
      snprintf(buf, len, " (%s %s)", a->flag ? a->flag : "argument", a->meta);
      return;
    }
  }
}
