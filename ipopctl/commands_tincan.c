/* ipop-tincan's requests as ipopctl subcommands (docs/control-protocol.md,
 * "Messages to ipop-tincan").  Names are verb-noun with dashes; the wire
 * name is in each entry and in the table of docs/ipopctl.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "messages.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define OVERLAY_REQ A("--overlay", "ID", "overlay_id", ARG_ID, ARG_REQUIRED, "overlay id")
#define PEER_REQ A("--peer", "ID", "peer_id", ARG_ID, ARG_REQUIRED, "the peer's node id")

/* A secret from a file: its first line.  Secrets never go on the command
 * line, where ps shows them to every local user. */
static int read_secret_line(const char *path, const char *what, char *out, size_t outlen,
                            char *err, size_t len)
{
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
  if (!f) {
    snprintf(err, len, "%s %s: %s", what, path, strerror(errno));
    return EXIT_LOCAL;
  }
  char *line = fgets(out, (int)outlen, f);
  if (f != stdin)
    fclose(f);
  if (!line) {
    snprintf(err, len, "%s %s: the file is empty", what, path);
    return EXIT_LOCAL;
  }
  out[strcspn(out, "\r\n")] = '\0';
  if (!*out) {
    snprintf(err, len, "%s %s: the first line is empty", what, path);
    return EXIT_LOCAL;
  }
  return 0;
}

bool cli_tap_valid(const char *tap)
{
  return strlen(tap) < CTL_IFNAME_LEN && ctl_id_valid(tap);
}

static int finish_create_overlay(const struct cli_command *c, json_t *body, json_t *local,
                                 char *err, size_t len)
{
  const char *tap = json_string_value(json_object_get(body, "tap_name"));
  if (tap && !cli_tap_valid(tap)) {
    snprintf(err, len, "%s: --tap \"%s\": an interface name, 1..%d characters of "
             "A-Z a-z 0-9 _ . -", c->name, tap, CTL_IFNAME_LEN - 1);
    return EXIT_USAGE;
  }
  json_t *turn = json_object_get(body, "turn");
  const char *pwfile = json_string_value(json_object_get(local, "turn_password_file"));
  if (turn && !pwfile) {
    snprintf(err, len, "%s: --turn needs --turn-password-file FILE (the TURN password, first "
             "line)", c->name);
    return EXIT_USAGE;
  }
  if (!turn && pwfile) {
    snprintf(err, len, "%s: --turn-password-file without --turn", c->name);
    return EXIT_USAGE;
  }
  if (turn) {
    char pw[CTL_PASSWORD_LEN + 2];
    int rc = read_secret_line(pwfile, "--turn-password-file", pw, sizeof pw, err, len);
    if (rc)
      return rc;
    size_t i;
    json_t *t;
    json_array_foreach(turn, i, t)
      json_object_set_new(t, "password", json_string(pw));
    memset(pw, 0, sizeof pw);
  }
  return 0;
}

static int load_json_file(const char *path, json_t **out, char *err, size_t len)
{
  json_error_t je;
  *out = strcmp(path, "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &je)
                                : json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if (!*out) {
    snprintf(err, len, "--remote %s: %s (line %d)", path, je.text, je.line);
    return EXIT_LOCAL;
  }
  if (!json_is_object(*out)) {
    json_decref(*out);
    snprintf(err, len, "--remote %s: expected the JSON object `ipopctl -j candidates` prints",
             path);
    return EXIT_LOCAL;
  }
  return 0;
}

void cli_link_body_from_set(json_t *body, const json_t *set)
{
  static const char *const map[][2] = {
    { "fingerprint", "peer_fingerprint" }, { "ufrag", "peer_ufrag" },
    { "pwd", "peer_pwd" }, { "candidates", "peer_candidates" },
    { "node_id", "peer_id" }, { "overlay_id", "overlay_id" }, { "mac", "peer_mac" },
  };
  for (size_t i = 0; i < N(map); i++) {
    json_t *v = json_object_get(set, map[i][0]);
    if (v && !json_object_get(body, map[i][1]))
      json_object_set(body, map[i][1], v);
  }
}

/* create-link takes the peer's candidate set as `ipopctl -j candidates`
 * printed it on the peer (a file or stdin), or field by field; explicit
 * flags win over the file.  The file is checked to be the peer's set for
 * us, the common mistake being to pass our own. */
static int finish_create_link(const struct cli_command *c, json_t *body, json_t *local,
                              char *err, size_t len)
{
  const char *path = json_string_value(json_object_get(local, "remote"));
  if (path) {
    json_t *set;
    int rc = load_json_file(path, &set, err, len);
    if (rc)
      return rc;
    const char *from = json_string_value(json_object_get(set, "node_id"));
    const char *peer = json_string_value(json_object_get(body, "peer_id"));
    if (from && peer && strcmp(from, peer) != 0) {
      snprintf(err, len, "%s: --remote %s is the candidate set of node \"%s\" (for peer \"%s\"), "
               "not of --peer %s; pass the set that %s printed", c->name, path, from,
               json_string_value(json_object_get(set, "peer_id")) ?: "?", peer, peer);
      json_decref(set);
      return EXIT_USAGE;
    }
    cli_link_body_from_set(body, set);
    json_decref(set);
  }
  static const char *const need[][2] = {
    { "overlay_id", "--overlay ID" }, { "peer_id", "--peer ID" },
    { "peer_fingerprint", "--fingerprint FPR" }, { "peer_ufrag", "--ufrag UFRAG" },
    { "peer_pwd", "--pwd PWD" }, { "peer_candidates", "--candidate CAND" },
  };
  for (size_t i = 0; i < N(need); i++)
    if (!json_object_get(body, need[i][0])) {
      snprintf(err, len, "%s: %s is required (or --remote FILE with the peer's candidate set)",
               c->name, need[i][1]);
      return EXIT_USAGE;
    }
  return 0;
}

static const struct cli_arg register_a[] = {
  A("--address", "HOST:PORT", "address", ARG_HOSTPORT, 0,
    "send events there instead of to ipopctl's own socket"),
};
static const struct cli_arg logging_a[] = {
  A(NULL, "LEVEL", "level", ARG_ENUM, ARG_REQUIRED, "log level", .names = ctl_log_level_names),
  A("--file", "PATH", "file", ARG_TEXT, 0, "also log to PATH (\"\" closes the log file)"),
};
static const struct cli_arg create_overlay_a[] = {
  OVERLAY_REQ,
  A("--node", "ID", "node_id", ARG_ID, ARG_REQUIRED, "this node's id"),
  A("--tap", "NAME", "tap_name", ARG_STR, ARG_REQUIRED, "TAP device name (<= 15 chars)"),
  A("--ip4", "ADDR[/PREFIX]", "ip4", ARG_IP4_NET, 0, "TAP IPv4 address (prefix default 24)"),
  A("--ip6", "ADDR[/PREFIX]", "ip6", ARG_IP6_NET, 0, "TAP IPv6 address (prefix default 64)"),
  A("--mac", "MAC", "mac", ARG_MAC, 0, "TAP MAC (default: random, locally administered)"),
  A("--mtu", "N", "mtu", ARG_U32, 0, "TAP MTU (default 1280)", .min = CTL_MTU_MIN,
    .max = CTL_MTU_MAX),
  A("--stun", "HOST:PORT", "stun", ARG_HOSTPORT, ARG_REPEAT, "STUN server"),
  A("--turn", "USER@HOST:PORT[/T]", "turn", ARG_TURN, ARG_REPEAT,
    "TURN server; T = udp (default), tcp or tls"),
  A("--turn-password-file", "FILE", "turn_password_file", ARG_PATH, ARG_LOCAL,
    "TURN password (first line; - = stdin)"),
};
static const struct cli_arg overlay_a[] = { OVERLAY_REQ };
static const struct cli_arg link_a[] = { OVERLAY_REQ, PEER_REQ };
static const struct cli_arg candidates_a[] = {
  OVERLAY_REQ, PEER_REQ,
  A("--relay", "POLICY", "relay", ARG_ENUM, 0,
    "auto: a TURN relay only if nothing direct works (default); never; always",
    .names = ctl_relay_policy_names),
};
static const struct cli_arg create_link_a[] = {
  A("--overlay", "ID", "overlay_id", ARG_ID, 0, "overlay id (default: from --remote)"),
  A("--peer", "ID", "peer_id", ARG_ID, 0, "the peer's node id (default: from --remote)"),
  A("--remote", "FILE", "remote", ARG_PATH, ARG_LOCAL,
    "the peer's candidate set, as `ipopctl -j candidates` printed it there (- = stdin)"),
  A("--fingerprint", "FPR", "peer_fingerprint", ARG_STR, 0, "the peer's DTLS fingerprint"),
  A("--ufrag", "UFRAG", "peer_ufrag", ARG_STR, 0, "the peer's ICE ufrag"),
  A("--pwd", "PWD", "peer_pwd", ARG_STR, 0, "the peer's ICE password"),
  A("--candidate", "CAND", "peer_candidates", ARG_STR, ARG_REPEAT, "one peer candidate"),
  A("--role", "ROLE", "role", ARG_ENUM, 0, "ICE role (default auto)", .names = ctl_ice_role_names),
  A("--peer-mac", "MAC", "peer_mac", ARG_MAC, 0,
    "the peer's TAP MAC: its frames must carry it (default: from --remote)"),
  A("--bridge", "yes|no", "bridge", ARG_BOOL, 0,
    "the peer bridges a LAN: accept any source MAC not bound to another link"),
};
static const struct cli_arg link_stats_a[] = {
  A("--overlay", "ID", "overlay_id", ARG_ID, 0, "only this overlay"),
  A("--peer", "ID", "peer_id", ARG_ID, 0, "only the link to this peer"),
};
static const struct cli_arg mapping_a[] = {
  OVERLAY_REQ, PEER_REQ,
  A("--mapped", "IP4", "mapped_ip4", ARG_IP4, ARG_REQUIRED,
    "the address this host sees the peer at"),
  A("--peer-ip4", "IP4", "peer_ip4", ARG_IP4, ARG_REQUIRED, "the peer's own TAP address"),
  A("--mapped6", "IP6", "mapped_ip6", ARG_IP6, 0,
    "the IPv6 address this host sees the peer at (with --peer-ip6)"),
  A("--peer-ip6", "IP6", "peer_ip6", ARG_IP6, 0, "the peer's own TAP IPv6 address"),
};

const struct cli_command cli_tincan_commands[] = {
  { "create-overlay", "create_overlay", CLI_TINCAN, 0, "create an overlay and its TAP device",
    "Creates an overlay: a TAP device plus the settings its links share (STUN and TURN "
    "servers). Prints the overlay info, including this node's DTLS fingerprint.",
    create_overlay_a, N(create_overlay_a), finish_create_overlay, NULL, NULL },
  { "overlay-info", "query_overlay_info", CLI_TINCAN, 0, "show one overlay",
    "Shows an overlay: TAP name, MAC, MTU, addresses, fingerprint and number of links.",
    overlay_a, N(overlay_a), NULL, NULL, NULL },
  { "remove-overlay", "remove_overlay", CLI_TINCAN, 0, "remove an overlay, its links and TAP",
    NULL, overlay_a, N(overlay_a), NULL, NULL, NULL },
  { "candidates", "query_candidates", CLI_TINCAN, 0,
    "this node's candidate set for a link to a peer",
    "Prints what the peer needs for create-link: fingerprint, ICE ufrag and password, "
    "candidates. Creates the link's ICE agent and waits for gathering. Save it with -j and "
    "give the file to create-link --remote on the peer.",
    candidates_a, N(candidates_a), NULL, out_candidates, NULL },
  { "create-link", "create_link", CLI_TINCAN, 0, "connect a link with the peer's candidates",
    "Starts connectivity checks and DTLS with the peer, whose certificate must match the "
    "fingerprint of its candidate set. The link's own candidates must have been queried "
    "first (candidates). Frames from the link must carry the peer's MAC (--peer-mac, or the "
    "set's mac) unless --bridge yes. Prints the link's state; watch it with link-stats.",
    create_link_a, N(create_link_a), finish_create_link, NULL, NULL },
  { "remove-link", "remove_link", CLI_TINCAN, 0, "remove a link", NULL, link_a, N(link_a),
    NULL, NULL, NULL },
  { "link-stats", "query_link_stats", CLI_TINCAN, 0, "links and their counters",
    "Lists links (all, one overlay's, or one) with state, selected pair, RTT and counters.",
    link_stats_a, N(link_stats_a), NULL, out_links, NULL },
  { "add-mapping", "set_address_mapping", CLI_TINCAN, 0,
    "SocialVPN: show a peer at a local address",
    "On this overlay the peer appears to the local host at --mapped while it really uses "
    "--peer-ip4 on its own TAP; tincan rewrites addresses both ways and answers ARP. The "
    "same for IPv6 with --mapped6 and --peer-ip6 (Neighbor Discovery answered); without "
    "them the link carries no IPv6.",
    mapping_a, N(mapping_a), NULL, NULL, NULL },
  { "remove-mapping", "remove_address_mapping", CLI_TINCAN, 0, "remove a peer's mapping",
    NULL, link_a, N(link_a), NULL, NULL, NULL },
  { "configure-logging", "configure_logging", CLI_TINCAN, 0, "change tincan's log level/file",
    NULL, logging_a, N(logging_a), NULL, NULL, NULL },
  { "register", "register", CLI_TINCAN, 0, "send tincan's events to an endpoint",
    "Makes tincan send its events (link_state, unknown_destination, stats) to --address, or "
    "to ipopctl (which then exits: use listen). Only while no controller is registered "
    "(tincan answers \"permission\" otherwise): a registered ipop-controller keeps its "
    "events. To watch events, use listen.",
    register_a, N(register_a), NULL, NULL, NULL },
  { "listen", "subscribe", CLI_TINCAN, CLI_LISTEN, "print tincan's events until Ctrl-C",
    "Subscribes as a monitor and prints each event as one JSON line "
    "{\"body\":{...},\"event\":NAME} until SIGINT or SIGTERM. Monitors get copies: the "
    "events still reach ipop-controller. The subscription is renewed every 10 s and lapses "
    "30 s after ipopctl stops; tincan takes at most 4 monitors.",
    NULL, 0, NULL, NULL, NULL },
};
const unsigned cli_tincan_commands_count = N(cli_tincan_commands);
