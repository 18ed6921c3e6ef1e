/* Control protocol messages: one typed struct per message body, each with a
 * jbind schema in messages.c.  docs/control-protocol.md is the prose version
 * of this file; keep the two in step.
 *
 * All strings are fixed-size arrays, so a decoded message owns no memory.
 * Field names on the wire are snake_case and match the member names. */
#ifndef IPOP_PROTO_MESSAGES_H
#define IPOP_PROTO_MESSAGES_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "jbind.h"

/* Limits (one place for all of them). */
enum {
  CTL_ID_LEN = 65,          /* overlay/node/peer ids: 1..64 chars [A-Za-z0-9_.-] */
  CTL_IFNAME_LEN = 16,      /* IFNAMSIZ */
  CTL_HOSTPORT_LEN = 256,   /* "host:port", "[v6]:port" */
  CTL_USER_LEN = 128,
  CTL_PASSWORD_LEN = 256,
  CTL_FPR_LEN = 128,        /* "sha-256 AB:CD:..." (RFC 8122 form) */
  CTL_UFRAG_LEN = 65,       /* ICE ufrag, 4..64 chars */
  CTL_PWD_LEN = 129,        /* ICE password, 22..128 chars */
  CTL_CAND_LEN = 256,       /* one SDP a=candidate value */
  CTL_MAX_CANDS = 32,
  CTL_MAX_STUN = 8,
  CTL_MAX_TURN = 8,
  CTL_MAX_LINKS_REPORTED = 64,
  CTL_REASON_LEN = 256,
  CTL_MAX_DIAG_LINKS = 16,  /* links with candidates/reason in one stats answer */
  CTL_MAX_DIAG_CANDS = 8,
  CTL_DIAG_LEN = 64,        /* "relay [v6]:port (udp)" */
  CTL_ECHO_LEN = 1024,
  CTL_PATH_LEN = 256,
  CTL_MTU_MIN = 576,
  CTL_MTU_MAX = 9000,
  CTL_JID_LEN = 512,        /* JIDs in controller answers */
  CTL_MAX_PEERS_REPORTED = 64,
  CTL_GROUP_NAME_LEN = 33,  /* group name: 1..32 of [a-z0-9._-] */
  CTL_SUBNET_LEN = 64,      /* "10.254.7.0/24" */
  CTL_MAX_GROUPS = 16,      /* groups reported (one overlay each) */
  CTL_MAX_GROUP_MEMBERS = 32, /* members reported per group */
  CTL_MAX_INVITATIONS = 16, /* pending invitations reported */
  CTL_MAX_BLOCKED = 64,     /* blocked JIDs reported */
  CTL_MAX_KNOWN = 64,       /* known_nodes entries reported */
  CTL_MAX_ROUTES = 64,      /* set_routes entries per message */
  CTL_ROUTE_VIA = 4,        /* next hops per route, in preference order */
  CTL_ROUTE_FROM = 8,       /* links a node's forwarded frames may arrive on */
};

/* ---- requests to ipop-tincan ------------------------------------------ */

/* echo: liveness and auth check; the answer repeats the message. */
struct ctl_echo {
  char message[CTL_ECHO_LEN];
};

/* register: send events to the sender of this request (or to the given
 * endpoint).  Answered with ctl_register. */
struct ctl_register {
  char address[CTL_HOSTPORT_LEN]; /* optional "127.0.0.1:5801" */
  bool has_address;
};

enum ctl_log_level { CTL_LOG_ERROR, CTL_LOG_WARN, CTL_LOG_INFO, CTL_LOG_DEBUG, CTL_LOG_TRACE };

/* configure_logging: answered with the resulting settings. */
struct ctl_configure_logging {
  int level;                    /* enum ctl_log_level */
  char file[CTL_PATH_LEN];      /* optional; "" closes the log file */
  bool has_file;
};

enum ctl_turn_transport { CTL_TURN_UDP, CTL_TURN_TCP, CTL_TURN_TLS };

struct ctl_turn_server {
  char address[CTL_HOSTPORT_LEN];
  char user[CTL_USER_LEN];
  char password[CTL_PASSWORD_LEN]; /* secret: never logged or echoed */
  int transport;                   /* enum ctl_turn_transport, default udp */
};

/* create_overlay: a TAP device plus the settings its links share.
 * Answered with ctl_overlay_info. */
struct ctl_create_overlay {
  char overlay_id[CTL_ID_LEN];
  char node_id[CTL_ID_LEN];       /* this node; ICE role = (node_id < peer_id) */
  char tap_name[CTL_IFNAME_LEN];
  uint8_t mac[6];
  bool has_mac;                   /* absent: a random locally administered MAC */
  uint32_t mtu;                   /* default 1280 */
  struct in_addr ip4;
  uint32_t ip4_prefix;
  bool has_ip4;
  struct in6_addr ip6;
  uint32_t ip6_prefix;
  bool has_ip6;
  char stun[CTL_MAX_STUN][CTL_HOSTPORT_LEN];
  uint32_t n_stun;
  struct ctl_turn_server turn[CTL_MAX_TURN];
  uint32_t n_turn;
};

/* remove_overlay, query_overlay_info. */
struct ctl_overlay_ref {
  char overlay_id[CTL_ID_LEN];
};

/* Answer to create_overlay and query_overlay_info. */
struct ctl_overlay_info {
  char overlay_id[CTL_ID_LEN];
  char node_id[CTL_ID_LEN];
  char tap_name[CTL_IFNAME_LEN];
  uint8_t mac[6];
  uint32_t mtu;
  struct in_addr ip4;
  uint32_t ip4_prefix;
  bool has_ip4;
  struct in6_addr ip6;
  uint32_t ip6_prefix;
  bool has_ip6;
  char fingerprint[CTL_FPR_LEN];  /* this node's DTLS certificate */
  uint32_t n_links;
  uint32_t mac_entries;           /* MACs in the switch (bound + learned) */
  uint64_t mac_evicted;           /* learned MACs evicted because the table was full */
  /* forwarding (set_routes; docs/topology.md "Forwarding") */
  bool forwarding;                /* we carry other members' frames */
  uint32_t routes;                /* nodes in the forwarding table */
  uint32_t routes_reachable;      /* ... with a next hop */
  uint64_t routed_out;            /* our frames sent with an overlay header */
  uint64_t routed_in;             /* frames with an overlay header for us */
  uint64_t routed_in_hops;        /* sum of their hop counts (mean = / routed_in) */
  uint64_t forwarded;             /* frames we carried for others */
  uint64_t fwd_hop_limit;         /* dropped: hop limit ran out */
  uint64_t fwd_bad_header;        /* dropped: hop limit out of range, own or equal ids */
  uint64_t fwd_origin;            /* dropped: source node unknown or MAC not its own */
  uint64_t fwd_reverse_path;      /* dropped: source node not expected over that link */
  uint64_t fwd_no_route;          /* dropped: destination unknown, no usable next hop */
  uint64_t fwd_loop;              /* dropped: next hop is the link it came in on */
  uint64_t fwd_refused;           /* dropped: forwarding is off here */
  uint64_t arp_answered;          /* ARP requests for members answered locally */
  uint64_t nd_answered;           /* Neighbor Solicitations for members answered locally */
  uint64_t nd_bad;                /* malformed solicitations from the TAP, dropped */
  uint64_t nd_unknown;            /* solicitations for an address no member has */
};

/* remove_link (and the link part of query_candidates): one link of one
 * overlay. */
struct ctl_link_ref {
  char overlay_id[CTL_ID_LEN];
  char peer_id[CTL_ID_LEN];
};

/* Which paths a link may use: a TURN relay only if nothing direct works
 * (auto), never (no relay candidate gathered or accepted), or always (all
 * traffic through the relay, e.g. to hide addresses from the peer). */
enum ctl_relay_policy { CTL_RELAY_AUTO, CTL_RELAY_NEVER, CTL_RELAY_ALWAYS };

/* query_candidates: creates the link's ICE agent (gathering) if it does not
 * exist yet; relay applies to that new agent. */
struct ctl_query_candidates {
  char overlay_id[CTL_ID_LEN];
  char peer_id[CTL_ID_LEN];
  int relay;                      /* enum ctl_relay_policy, default auto */
};

/* Answer to query_candidates: what the peer needs for create_link.
 * Creates the link's ICE agent (gathering) if it does not exist yet. */
struct ctl_candidates {
  char overlay_id[CTL_ID_LEN];
  char peer_id[CTL_ID_LEN];
  char node_id[CTL_ID_LEN];
  char fingerprint[CTL_FPR_LEN];
  uint8_t mac[6];                 /* this overlay's TAP MAC (the peer's peer_mac) */
  bool has_mac;
  char ufrag[CTL_UFRAG_LEN];
  char pwd[CTL_PWD_LEN];
  char candidates[CTL_MAX_CANDS][CTL_CAND_LEN];
  uint32_t n_candidates;
};

enum ctl_ice_role { CTL_ROLE_AUTO, CTL_ROLE_CONTROLLING, CTL_ROLE_CONTROLLED };

/* create_link: start connectivity checks and DTLS with the peer.  The peer's
 * certificate must match peer_fingerprint.  Frames from the link must carry
 * peer_mac as their source MAC (others are dropped and counted), unless
 * bridge is set: then any source MAC that is not ours nor bound to another
 * link (a peer bridging a LAN).  One of the two is required.  Answered with
 * ctl_link_stat. */
struct ctl_create_link {
  char overlay_id[CTL_ID_LEN];
  char peer_id[CTL_ID_LEN];
  char peer_fingerprint[CTL_FPR_LEN];
  char peer_ufrag[CTL_UFRAG_LEN];
  char peer_pwd[CTL_PWD_LEN];
  char peer_candidates[CTL_MAX_CANDS][CTL_CAND_LEN];
  uint32_t n_peer_candidates;
  int role;                       /* enum ctl_ice_role, default auto */
  uint8_t peer_mac[6];            /* the peer's TAP MAC */
  bool has_peer_mac;
  bool bridge;                    /* default false */
};

/* query_link_stats: all links, one overlay, or one link. */
struct ctl_link_stats_query {
  char overlay_id[CTL_ID_LEN];
  bool has_overlay_id;
  char peer_id[CTL_ID_LEN];
  bool has_peer_id;
};

enum ctl_link_state {
  CTL_LINK_NEW, CTL_LINK_CONNECTING, CTL_LINK_UP, CTL_LINK_DOWN, CTL_LINK_FAILED,
};
enum ctl_pair_type { CTL_PAIR_NONE, CTL_PAIR_HOST, CTL_PAIR_SRFLX, CTL_PAIR_PRFLX, CTL_PAIR_RELAY };

struct ctl_link_stat {
  char overlay_id[CTL_ID_LEN];
  char peer_id[CTL_ID_LEN];
  int state;                      /* enum ctl_link_state */
  int role;                       /* enum ctl_ice_role (never auto here) */
  int pair_type;                  /* enum ctl_pair_type of the selected pair */
  char local_addr[CTL_HOSTPORT_LEN];
  char remote_addr[CTL_HOSTPORT_LEN];
  uint32_t rtt_us;
  uint64_t tx_bytes, rx_bytes, tx_packets, rx_packets;
  uint64_t drops;
  uint64_t up_ms;                 /* ms since the link came up, 0 if not up */
  uint8_t peer_mac[6];            /* as create_link gave it */
  bool has_peer_mac;
  bool bridge;
  uint64_t spoofed;               /* frames dropped: source MAC/address not the peer's */
  uint64_t rekeys;                /* key rotations completed (new epochs) */
  /* Paths (docs/troubleshooting.md).  reason and the candidates are
   * filled for a link that is not up (at most CTL_MAX_DIAG_LINKS per
   * answer) or when one link is asked for. */
  int relay;                      /* enum ctl_relay_policy */
  uint64_t roams;                 /* the peer's address changed under the link */
  uint32_t relay_channel;         /* TURN channel of tincan's own relayed socket (tx), 0 if none */
  uint64_t relay_dropped;         /* datagrams on relayed sockets dropped: not from the server,
                                     another channel or peer, bad length, junk */
  char reason[CTL_REASON_LEN];    /* why it is not up: ICE, DTLS, TURN (server's code) */
  char local_candidates[CTL_MAX_DIAG_CANDS][CTL_DIAG_LEN]; /* "host 198.19.1.10:40000" */
  uint32_t n_local_candidates;
  char remote_candidates[CTL_MAX_DIAG_CANDS][CTL_DIAG_LEN];
  uint32_t n_remote_candidates;
};

struct ctl_link_stats {
  struct ctl_link_stat links[CTL_MAX_LINKS_REPORTED];
  uint32_t n_links;
};

/* set_address_mapping (SocialVPN): on this overlay, the peer appears to the
 * local host at mapped_ip4 (from the local subnet) while it really uses
 * peer_ip4 on its own TAP.  tincan rewrites addresses both ways and answers
 * ARP for mapped_ip4.  The same for IPv6 with mapped_ip6 / peer_ip6 (both
 * or neither; Neighbor Discovery answered for mapped_ip6); without them the
 * link carries no IPv6. */
struct ctl_address_mapping {
  char overlay_id[CTL_ID_LEN];
  char peer_id[CTL_ID_LEN];
  struct in_addr mapped_ip4;
  struct in_addr peer_ip4;
  struct in6_addr mapped_ip6;
  bool has_mapped_ip6;
  struct in6_addr peer_ip6;
  bool has_peer_ip6;
};

/* query_process (empty body): the daemon's own CPU time, memory and file
 * descriptors (Prometheus process_* metrics; common/procstat.h). */
struct ctl_process_info {
  uint32_t pid;
  uint64_t cpu_ms;                /* user + system */
  uint64_t rss_bytes, vsize_bytes;
  uint32_t open_fds, max_fds;
  uint64_t start_time_s;          /* since the Unix epoch */
};

/* One node of a GroupVPN forwarding table (set_routes). */
struct ctl_route {
  char node_id[CTL_ID_LEN];       /* 32 hex: the member's node id */
  uint8_t mac[6];                 /* its TAP MAC */
  struct in_addr ip4;             /* its overlay address: ARP answered locally */
  bool has_ip4;
  struct in6_addr ip6;
  bool has_ip6;
  char via[CTL_ROUTE_VIA][CTL_ID_LEN]; /* next-hop links (peer ids), best first; */
  uint32_t n_via;                 /*   the first one up carries the frame */
  char from[CTL_ROUTE_FROM][CTL_ID_LEN]; /* links its frames may arrive on when */
  uint32_t n_from;                /*   forwarded (reverse-path check) */
};

/* set_routes: the overlay's forwarding table, from the controller.  replace
 * (default true) starts a new table; false adds to the one being sent
 * (tables above CTL_MAX_ROUTES go in several messages).  forwarding: carry
 * other members' frames (default true).  All or nothing: a bad entry
 * changes nothing.  Answered with ctl_ack. */
struct ctl_set_routes {
  char overlay_id[CTL_ID_LEN];
  bool forwarding;
  bool replace;
  struct ctl_route routes[CTL_MAX_ROUTES];
  uint32_t n_routes;
};

/* Generic answer carrying only a confirmation text. */
struct ctl_ack {
  char message[CTL_REASON_LEN];
};

/* ---- events from ipop-tincan ------------------------------------------- */

/* link_state: a link changed state; reason says why for down/failed
 * ("fingerprint mismatch", "ice failed", "consent lost", "turn auth: ..."). */
struct ctl_ev_link_state {
  char overlay_id[CTL_ID_LEN];
  char peer_id[CTL_ID_LEN];
  int state;                      /* enum ctl_link_state */
  char reason[CTL_REASON_LEN];
};

/* unknown_destination: a unicast frame from the TAP whose destination MAC is
 * on no link, or an ARP request from the TAP (dst_ip4 = its target), or a
 * Neighbor Solicitation (dst_ip6 = its target), so the controller can open
 * a link to a member it has none to (rate-limited per destination); with
 * routed_bytes, a frame to a member that went through the forwarding
 * table. */
struct ctl_ev_unknown_dest {
  char overlay_id[CTL_ID_LEN];
  uint8_t dst_mac[6];
  uint8_t src_mac[6];
  uint32_t ethertype;
  struct in_addr dst_ip4;
  bool has_dst_ip4;
  struct in6_addr dst_ip6;
  bool has_dst_ip6;
  uint32_t frame_len;
  /* GroupVPN forwarding: the destination is a member we route to (no
   * link); bytes sent to it that way so far, for the controller's
   * heavy-pair threshold (docs/topology.md "Heavy pairs") */
  uint64_t routed_bytes;
  bool has_routed_bytes;
};

/* stats: periodic link statistics (same body as the query answer). */

/* Body of requests that take no arguments. */
struct ctl_empty {
  uint8_t unused;
};

/* ---- requests to ipop-controller (ipopctl) ------------------------------ */

enum ctl_peer_state { CTL_DAEMON_UNKNOWN, CTL_DAEMON_UP, CTL_DAEMON_UNREACHABLE,
                      CTL_DAEMON_REFUSED };

/* status: answered with ctl_status. */
struct ctl_status {
  char version[32];
  uint64_t uptime_s;
  int tincan;                     /* enum ctl_peer_state, from the heartbeat */
  char tincan_endpoint[CTL_HOSTPORT_LEN];
  char mode[16];                  /* "group" | "social" | "" (no overlay configured) */
  char xmpp[16];                  /* xmpp_state_name(): offline, connecting, online, auth_failed */
  char jid[CTL_JID_LEN];          /* our full JID once bound */
  char node_id[CTL_ID_LEN];
  char overlay_id[CTL_ID_LEN];
  bool overlay_ready;             /* created in the running tincan */
  struct in_addr ip4;             /* our overlay address */
  uint32_t ip4_prefix;
  bool has_ip4;
  struct in6_addr ip6;            /* ... and IPv6 one (absent: IPv4 only) */
  uint32_t ip6_prefix;
  bool has_ip6;
  uint32_t peers;                 /* peer nodes online and allowed */
  uint32_t links_up;
  char conflict[CTL_REASON_LEN];  /* GroupVPN: our address is also claimed by ... ("" none) */
  char fingerprint[CTL_FPR_LEN];  /* our DTLS fingerprint ("" until tincan said) */
  char trust[16];                 /* Controller.Trust: tofu, pinned, open */
};

/* peers: answered with ctl_peers, one entry per known peer node. */
struct ctl_peer_entry {
  char jid[CTL_JID_LEN];          /* full JID of the node */
  char node_id[CTL_ID_LEN];
  bool online;
  bool member;                    /* allowed by roster / group */
  char negotiation[16];           /* negotiation state (idle, requesting, up, backoff, ...) */
  int link_state;                 /* enum ctl_link_state; absent = no link */
  bool has_link_state;
  struct in_addr ip4;             /* the peer's own overlay address */
  bool has_ip4;
  struct in_addr mapped_ip4;      /* SocialVPN: its address in our subnet */
  bool has_mapped_ip4;
  struct in6_addr ip6;            /* the same for IPv6 */
  bool has_ip6;
  struct in6_addr mapped_ip6;
  bool has_mapped_ip6;
  int pair_type;                  /* enum ctl_pair_type */
  uint32_t rtt_us;
  uint64_t tx_bytes, rx_bytes;
};

struct ctl_peers {
  struct ctl_peer_entry peers[CTL_MAX_PEERS_REPORTED];
  uint32_t n_peers;
  uint32_t total;                 /* peers known (may exceed n_peers) */
};

/* stats: controller counters (links: answered with ctl_link_stats). */
struct ctl_controller_stats {
  uint64_t xmpp_reconnects, signals_in, signals_out, signals_dropped, signals_bad;
  uint64_t neg_bad, neg_ignored, neg_stale, neg_glare, neg_timeouts, neg_links_up;
  uint64_t links_created, tincan_errors, unknown_dest_events;
  uint64_t ctl_requests_in, ctl_auth_rejected;
  /* who is who (docs/security.md) */
  uint64_t identity_conflicts;    /* node ids claimed by a second account */
  uint64_t signals_unbound;       /* from a JID without a node id of its own */
  uint64_t fingerprints_refused;  /* not the pinned / published one */
  uint64_t fingerprints_pinned;   /* pinned on first use */
  uint64_t addr_claims_refused;   /* GroupVPN: an IPv6 address derived from another
                                     node's id, claimed by a node it is not derived from */
  uint64_t xmpp_stanzas_skipped;  /* beyond a limit inside one stanza */
};

/* ---- groups over XMPP rooms and blocking (docs/groups.md) -------------- */

enum ctl_group_role { CTL_GROUP_OWNER, CTL_GROUP_MEMBER };
enum ctl_group_state { CTL_GROUP_CREATING, CTL_GROUP_JOINING, CTL_GROUP_JOINED, CTL_GROUP_LEFT,
                       CTL_GROUP_REMOVED, CTL_GROUP_ERROR };

struct ctl_group_member {
  char jid[CTL_JID_LEN];          /* bare */
  char node_id[CTL_ID_LEN];
  bool has_node_id;
  bool online;                    /* in the room now */
  int link_state;                 /* enum ctl_link_state; absent = no link */
  bool has_link_state;
  struct in_addr address;         /* its overlay address, when known */
  bool has_address;
  struct in6_addr address6;       /* ... and IPv6 one */
  bool has_address6;
};

/* GROUP: the answer to group_create and group_join, and `groups` entries. */
struct ctl_group {
  char name[CTL_GROUP_NAME_LEN];
  char room[CTL_JID_LEN];         /* bare room JID */
  char subnet[CTL_SUBNET_LEN];    /* "" until known */
  int role;                       /* enum ctl_group_role */
  int state;                      /* enum ctl_group_state */
  char error[CTL_REASON_LEN];
  bool has_error;
  char overlay_id[CTL_ID_LEN];
  char tap_name[CTL_IFNAME_LEN];
  struct in_addr address;         /* our overlay address in the group */
  bool has_address;
  struct in6_addr address6;       /* ... and IPv6 one (the ULA of the overlay id) */
  bool has_address6;
  struct ctl_group_member members[CTL_MAX_GROUP_MEMBERS];
  uint32_t n_members;
};

struct ctl_invitation {
  char room[CTL_JID_LEN];
  char from[CTL_JID_LEN];         /* inviter, bare */
  char reason[CTL_REASON_LEN];
};

struct ctl_groups {
  struct ctl_group groups[CTL_MAX_GROUPS];
  uint32_t n_groups;
  struct ctl_invitation invitations[CTL_MAX_INVITATIONS];
  uint32_t n_invitations;
};

/* group_create */
struct ctl_group_create {
  char name[CTL_GROUP_NAME_LEN];
  char subnet[CTL_SUBNET_LEN];
  bool has_subnet;
};

/* group_join: one of name and room. */
struct ctl_group_join {
  char name[CTL_GROUP_NAME_LEN];
  bool has_name;
  char room[CTL_JID_LEN];
  bool has_room;
};

/* group_leave */
struct ctl_group_ref {
  char name[CTL_GROUP_NAME_LEN];
};

/* group_invite, group_remove */
struct ctl_group_member_ref {
  char name[CTL_GROUP_NAME_LEN];
  char jid[CTL_JID_LEN];
};

/* block, unblock */
struct ctl_jid {
  char jid[CTL_JID_LEN];
};

/* blocklist answer */
struct ctl_jid_list {
  char jids[CTL_MAX_BLOCKED][CTL_JID_LEN];
  uint32_t n_jids;
};

/* ---- known nodes: pinned fingerprints (docs/security.md) ----------------- */

/* known: answered with ctl_known. */
struct ctl_known_node {
  char jid[CTL_JID_LEN];          /* bare */
  char node_id[CTL_ID_LEN];
  char fingerprint[CTL_FPR_LEN];  /* pinned */
  bool has_fingerprint;
  char pending[CTL_FPR_LEN];      /* refused, until `trust` */
  bool has_pending;
  char published[CTL_FPR_LEN];    /* what its account published over PEP */
  bool has_published;
  uint64_t first_seen, last_seen; /* seconds since the epoch */
  bool online;
};

struct ctl_known {
  char trust[16];                 /* Controller.Trust */
  struct ctl_known_node nodes[CTL_MAX_KNOWN];
  uint32_t n_nodes;
  uint32_t total;
};

/* trust (fingerprint optional: the pending or published one), untrust. */
struct ctl_trust {
  char jid[CTL_JID_LEN];
  char node_id[CTL_ID_LEN];
  char fingerprint[CTL_FPR_LEN];
  bool has_fingerprint;
};

/* ---- message table ---------------------------------------------------- */

enum ctl_kind { CTL_KIND_REQUEST, CTL_KIND_RESPONSE, CTL_KIND_EVENT };

struct ctl_msg_desc {
  const char *name;
  enum ctl_kind kind;             /* REQUEST or EVENT */
  const struct jb_schema *body;   /* request or event body */
  const struct jb_schema *result; /* response result (requests only) */
};

/* Every message the two daemons exchange (tincan side). */
extern const struct ctl_msg_desc ctl_tincan_messages[];
extern const unsigned ctl_tincan_messages_count;
/* What ipop-controller accepts: requests from ipopctl, events from tincan. */
extern const struct ctl_msg_desc ctl_controller_messages[];
extern const unsigned ctl_controller_messages_count;

const struct ctl_msg_desc *ctl_msg_find(const struct ctl_msg_desc *table,
                                        unsigned count, const char *name);

extern const struct jb_schema ctl_echo_schema, ctl_register_schema,
    ctl_configure_logging_schema, ctl_turn_server_schema,
    ctl_create_overlay_schema, ctl_overlay_ref_schema, ctl_overlay_info_schema,
    ctl_link_ref_schema, ctl_query_candidates_schema, ctl_candidates_schema, ctl_create_link_schema,
    ctl_link_stats_query_schema, ctl_link_stat_schema, ctl_link_stats_schema,
    ctl_address_mapping_schema, ctl_ack_schema, ctl_process_info_schema, ctl_ev_link_state_schema,
    ctl_ev_unknown_dest_schema, ctl_status_schema, ctl_empty_schema,
    ctl_peer_entry_schema, ctl_peers_schema, ctl_controller_stats_schema,
    ctl_group_member_schema, ctl_group_schema, ctl_invitation_schema, ctl_groups_schema,
    ctl_group_create_schema, ctl_group_join_schema, ctl_group_ref_schema,
    ctl_group_member_ref_schema, ctl_jid_schema, ctl_jid_list_schema, ctl_known_node_schema,
    ctl_known_schema, ctl_trust_schema, ctl_route_schema, ctl_set_routes_schema;

extern const char *const ctl_log_level_names[];
extern const char *const ctl_link_state_names[];
extern const char *const ctl_pair_type_names[];
extern const char *const ctl_ice_role_names[];
extern const char *const ctl_turn_transport_names[];
extern const char *const ctl_relay_policy_names[];
extern const char *const ctl_peer_state_names[];
extern const char *const ctl_group_role_names[];
extern const char *const ctl_group_state_names[];

/* Ids on the wire: 1..64 of [A-Za-z0-9_.-].  Returns true if valid. */
bool ctl_id_valid(const char *id);

#endif
