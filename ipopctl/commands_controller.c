/* ipop-controller's requests as ipopctl subcommands, plus the two that
 * work with either daemon (echo, call).  The group and block commands
 * follow the contract of issue #7 (docs/ipopctl.md lists the wire names). */
#include <string.h>

#include "cli.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define GROUP_POS A(NULL, "NAME", "name", ARG_GROUP, ARG_REQUIRED, "group name")

static int finish_echo(const struct cli_command *c, json_t *body, json_t *local, char *err,
                       size_t len)
{
  if (!json_object_get(body, "message"))
    json_object_set_new(body, "message", json_string("ping"));
  return 0;
}

static int finish_join(const struct cli_command *c, json_t *body, json_t *local, char *err,
                       size_t len)
{
  if (!json_object_get(body, "name") && !json_object_get(body, "room")) {
    snprintf(err, len, "%s: give the group NAME (a pending invitation's, or NAME@service) or "
             "--room ROOMJID", c->name);
    return EXIT_USAGE;
  }
  return 0;
}

static const struct cli_arg echo_a[] = {
  A(NULL, "TEXT", "message", ARG_TEXT, 0, "text to echo (default \"ping\")"),
};
static const struct cli_arg call_a[] = {
  A(NULL, "NAME", "name", ARG_STR, ARG_REQUIRED, "the request's wire name"),
  A(NULL, "JSON", "body", ARG_STR, 0, "its body, a JSON object (- reads stdin; default {})"),
};
static const struct cli_arg group_a[] = { GROUP_POS };
static const struct cli_arg group_create_a[] = {
  GROUP_POS,
  A("--subnet", "CIDR", "subnet", ARG_CIDR, 0,
    "the group's IPv4 subnet, e.g. 10.254.7.0/24 (default: the controller's choice)"),
};
static const struct cli_arg group_jid_a[] = {
  GROUP_POS,
  A(NULL, "JID", "jid", ARG_USER_JID, ARG_REQUIRED, "the user's bare JID"),
};
static const struct cli_arg group_join_a[] = {
  A(NULL, "NAME", "name", ARG_GROUP, 0, "group name"),
  A("--room", "ROOMJID", "room", ARG_ROOM, 0, "the room's bare JID (room@service)"),
};
static const struct cli_arg jid_a[] = {
  A(NULL, "JID", "jid", ARG_JID, ARG_REQUIRED, "bare JID"),
};
static const struct cli_arg trust_a[] = {
  A(NULL, "JID", "jid", ARG_USER_JID, ARG_REQUIRED, "the node's account (bare JID)"),
  A(NULL, "NODE", "node_id", ARG_ID, ARG_REQUIRED, "its node id (32 hex digits, `known`)"),
  A(NULL, "FINGERPRINT", "fingerprint", ARG_TEXT, 0,
    "\"sha-256 AB:CD:...\" (default: the refused one, else the one it published)"),
};
static const struct cli_arg untrust_a[] = {
  A(NULL, "JID", "jid", ARG_USER_JID, ARG_REQUIRED, "the node's account (bare JID)"),
  A(NULL, "NODE", "node_id", ARG_ID, ARG_REQUIRED, "its node id (32 hex digits)"),
};

const struct cli_command cli_controller_commands[] = {
  { "echo", "echo", CLI_ANY, 0, "check that the daemon is alive and accepts our key",
    "Sends TEXT and prints the daemon's copy of it. Exit 0 means the daemon runs and our key "
    "is right.", echo_a, N(echo_a), finish_echo, NULL, NULL },
  { "call", NULL, CLI_ANY, CLI_RAW, "send any request with a JSON body",
    "Sends request NAME with the JSON object given (or read from stdin with -) as its body, "
    "and prints the result: for requests that have no command of their own.",
    call_a, N(call_a), NULL, NULL, NULL },
  { "status", "status", CLI_CONTROLLER, 0, "the controller's state",
    "Version, uptime, tincan's state, mode, XMPP state and JID, node id, overlay and "
    "address, peers online and links up, address conflict.", NULL, 0, NULL, out_status,
    NULL },
  { "peers", "peers", CLI_CONTROLLER, 0, "peer nodes: JID, node id, address, link",
    NULL, NULL, 0, NULL, out_peers, NULL },
  { "links", "links", CLI_CONTROLLER, 0, "the overlay's links, as tincan reports them",
    NULL, NULL, 0, NULL, out_links, NULL },
  { "stats", "counters", CLI_CONTROLLER, 0,
    "controller counters (XMPP, negotiation, control socket)", NULL, NULL, 0, NULL, NULL,
    NULL },
  { "group list", "groups", CLI_CONTROLLER, 0, "groups, their members, pending invitations",
    "Lists the groups this node is in (name, room, subnet, role, state, our address) with "
    "their members, then the invitations waiting for `group join`.",
    NULL, 0, NULL, out_groups, NULL },
  { "group create", "group_create", CLI_CONTROLLER, 0, "create a group (a members-only room)",
    "Creates a persistent, members-only, unlisted room NAME@<MUC service> owned by us, with "
    "the group's subnet stored in the room, and a GroupVPN overlay for it.",
    group_create_a, N(group_create_a), NULL, out_group, NULL },
  { "group invite", "group_invite", CLI_CONTROLLER, 0, "grant membership and invite a user",
    NULL, group_jid_a, N(group_jid_a), NULL, NULL, "invited {jid} to {name}" },
  { "group join", "group_join", CLI_CONTROLLER, 0, "join a group",
    "Joins the room of a pending invitation whose room is NAME@..., or NAME@<MUC service>, or "
    "the room given with --room.", group_join_a, N(group_join_a), finish_join, out_group,
    NULL },
  { "group leave", "group_leave", CLI_CONTROLLER, 0, "leave a group (its links go away)",
    NULL, group_a, N(group_a), NULL, NULL, "left {name}" },
  { "group remove", "group_remove", CLI_CONTROLLER, 0,
    "owner: revoke a member (all members drop their links)", NULL, group_jid_a,
    N(group_jid_a), NULL, NULL, "removed {jid} from {name}" },
  { "block", "block", CLI_CONTROLLER, 0, "block a JID (XEP-0191): no links, signals dropped",
    NULL, jid_a, N(jid_a), NULL, NULL, "blocked {jid}" },
  { "unblock", "unblock", CLI_CONTROLLER, 0, "unblock a JID", NULL, jid_a, N(jid_a), NULL,
    NULL, "unblocked {jid}" },
  { "blocklist", "blocklist", CLI_CONTROLLER, 0, "the blocked JIDs", NULL, NULL, 0, NULL,
    out_blocklist, NULL },
  { "known", "known", CLI_CONTROLLER, 0, "friend nodes' pinned fingerprints (known_nodes)",
    "Lists StateDir/known_nodes: each friend node (account, node id) with the DTLS "
    "fingerprint pinned for it, whether it is online, a fingerprint it presented that was "
    "refused (state changed or pending, until `trust`), and what its account publishes "
    "over PEP when that differs.", NULL, 0, NULL, out_known, NULL },
  { "trust", "trust", CLI_CONTROLLER, 0, "accept a node's (new) fingerprint",
    "Pins FINGERPRINT for the node, or the fingerprint it presented and was refused, or the "
    "one its account published; links with it form again. Compare it with `ipopctl status` "
    "on that node first: a changed fingerprint means a new identity file, or someone "
    "(its XMPP server) posing as it.", trust_a, N(trust_a), NULL, NULL,
    "trusted {node_id} of {jid}" },
  { "untrust", "untrust", CLI_CONTROLLER, 0, "forget a node's pinned fingerprint",
    "Removes the pin and tears the node's links down. Under Trust tofu its next link pins "
    "again; to refuse a person, `block` them.", untrust_a, N(untrust_a), NULL, NULL,
    "forgot {node_id} of {jid}" },
};
const unsigned cli_controller_commands_count = N(cli_controller_commands);
