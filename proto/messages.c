#include "messages.h"

#include <string.h>

const char *const ctl_log_level_names[] = { "error", "warn", "info", "debug", "trace", NULL };
const char *const ctl_link_state_names[] = { "new", "connecting", "up", "down", "failed", NULL };
const char *const ctl_pair_type_names[] = { "none", "host", "srflx", "prflx", "relay", NULL };
const char *const ctl_ice_role_names[] = { "auto", "controlling", "controlled", NULL };
const char *const ctl_turn_transport_names[] = { "udp", "tcp", "tls", NULL };
const char *const ctl_relay_policy_names[] = { "auto", "never", "always", NULL };
const char *const ctl_peer_state_names[] = { "unknown", "up", "unreachable", "refused", NULL };
const char *const ctl_group_role_names[] = { "owner", "member", NULL };
const char *const ctl_group_state_names[] = { "creating", "joining", "joined", "left",
                                              "removed",  "error",   NULL };

bool ctl_id_valid(const char *id)
{
  size_t n = strlen(id);
  if (n == 0 || n >= CTL_ID_LEN)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '.' || c == '-'))
      return false;
  }
  return true;
}

#define R JB_REQUIRED

#define T struct ctl_echo
static const struct jb_field echo_f[] = {
  JB_F_STR(T, message, "message", R, 0, NULL),
};
const struct jb_schema ctl_echo_schema = JB_SCHEMA("echo", T, echo_f);
#undef T

#define T struct ctl_register
static const struct jb_field register_f[] = {
  JB_F_STR(T, address, "address", 0, 1, NULL, JB_PRESENCE(T, has_address)),
};
const struct jb_schema ctl_register_schema = JB_SCHEMA("register", T, register_f);
#undef T

#define T struct ctl_configure_logging
static const struct jb_field logging_f[] = {
  JB_F_ENUM(T, level, "level", R, ctl_log_level_names, "info"),
  JB_F_STR(T, file, "file", 0, 0, NULL, JB_PRESENCE(T, has_file)),
};
const struct jb_schema ctl_configure_logging_schema =
    JB_SCHEMA("configure_logging", T, logging_f);
#undef T

#define T struct ctl_turn_server
static const struct jb_field turn_f[] = {
  JB_F_STR(T, address, "address", R, 1, NULL),
  JB_F_STR(T, user, "user", R, 1, NULL),
  JB_F_STR(T, password, "password", R | JB_SECRET, 1, NULL),
  JB_F_ENUM(T, transport, "transport", 0, ctl_turn_transport_names, "udp"),
};
const struct jb_schema ctl_turn_server_schema = JB_SCHEMA("turn server", T, turn_f);
#undef T

#define T struct ctl_create_overlay
static const struct jb_field create_overlay_f[] = {
  JB_F_STR(T, overlay_id, "overlay_id", R, 1, NULL),
  JB_F_STR(T, node_id, "node_id", R, 1, NULL),
  JB_F_STR(T, tap_name, "tap_name", R, 1, NULL),
  JB_F_MAC(T, mac, "mac", 0, JB_PRESENCE(T, has_mac)),
  JB_F_U32(T, mtu, "mtu", 0, CTL_MTU_MIN, CTL_MTU_MAX, 1280),
  JB_F_IP4(T, ip4, "ip4", 0, JB_PRESENCE(T, has_ip4)),
  JB_F_U32(T, ip4_prefix, "ip4_prefix", 0, 1, 32, 24),
  JB_F_IP6(T, ip6, "ip6", 0, JB_PRESENCE(T, has_ip6)),
  JB_F_U32(T, ip6_prefix, "ip6_prefix", 0, 1, 128, 64),
  JB_F_STR_ARR(T, stun, n_stun, "stun", 0, 1),
  JB_F_OBJ_ARR(T, turn, n_turn, "turn", 0, &ctl_turn_server_schema),
};
const struct jb_schema ctl_create_overlay_schema =
    JB_SCHEMA("create_overlay", T, create_overlay_f);
#undef T

#define T struct ctl_overlay_ref
static const struct jb_field overlay_ref_f[] = {
  JB_F_STR(T, overlay_id, "overlay_id", R, 1, NULL),
};
const struct jb_schema ctl_overlay_ref_schema = JB_SCHEMA("overlay reference", T, overlay_ref_f);
#undef T

#define T struct ctl_overlay_info
static const struct jb_field overlay_info_f[] = {
  JB_F_STR(T, overlay_id, "overlay_id", R, 1, NULL),
  JB_F_STR(T, node_id, "node_id", R, 1, NULL),
  JB_F_STR(T, tap_name, "tap_name", R, 1, NULL),
  JB_F_MAC(T, mac, "mac", R),
  JB_F_U32(T, mtu, "mtu", R, CTL_MTU_MIN, CTL_MTU_MAX, 0),
  JB_F_IP4(T, ip4, "ip4", 0, JB_PRESENCE(T, has_ip4)),
  JB_F_U32(T, ip4_prefix, "ip4_prefix", 0, 0, 32, 0),
  JB_F_IP6(T, ip6, "ip6", 0, JB_PRESENCE(T, has_ip6)),
  JB_F_U32(T, ip6_prefix, "ip6_prefix", 0, 0, 128, 0),
  JB_F_STR(T, fingerprint, "fingerprint", R, 1, NULL),
  JB_F_U32(T, n_links, "n_links", 0, 0, UINT32_MAX, 0),
  JB_F_U32(T, mac_entries, "mac_entries", 0, 0, UINT32_MAX, 0),
  JB_F_U64(T, mac_evicted, "mac_evicted", 0, 0, INT64_MAX, 0),
  JB_F_BOOL(T, forwarding, "forwarding", 0, false),
  JB_F_U32(T, routes, "routes", 0, 0, UINT32_MAX, 0),
  JB_F_U32(T, routes_reachable, "routes_reachable", 0, 0, UINT32_MAX, 0),
  JB_F_U64(T, routed_out, "routed_out", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, routed_in, "routed_in", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, routed_in_hops, "routed_in_hops", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, forwarded, "forwarded", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, fwd_hop_limit, "fwd_hop_limit", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, fwd_bad_header, "fwd_bad_header", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, fwd_origin, "fwd_origin", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, fwd_reverse_path, "fwd_reverse_path", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, fwd_no_route, "fwd_no_route", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, fwd_loop, "fwd_loop", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, fwd_refused, "fwd_refused", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, arp_answered, "arp_answered", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, nd_answered, "nd_answered", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, nd_bad, "nd_bad", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, nd_unknown, "nd_unknown", 0, 0, INT64_MAX, 0),
};
const struct jb_schema ctl_overlay_info_schema = JB_SCHEMA("overlay info", T, overlay_info_f);
#undef T

#define T struct ctl_link_ref
static const struct jb_field link_ref_f[] = {
  JB_F_STR(T, overlay_id, "overlay_id", R, 1, NULL),
  JB_F_STR(T, peer_id, "peer_id", R, 1, NULL),
};
const struct jb_schema ctl_link_ref_schema = JB_SCHEMA("link reference", T, link_ref_f);
#undef T

#define T struct ctl_query_candidates
static const struct jb_field query_candidates_f[] = {
  JB_F_STR(T, overlay_id, "overlay_id", R, 1, NULL),
  JB_F_STR(T, peer_id, "peer_id", R, 1, NULL),
  JB_F_ENUM(T, relay, "relay", 0, ctl_relay_policy_names, "auto"),
};
const struct jb_schema ctl_query_candidates_schema =
    JB_SCHEMA("query_candidates", T, query_candidates_f);
#undef T

#define T struct ctl_candidates
static const struct jb_field candidates_f[] = {
  JB_F_STR(T, overlay_id, "overlay_id", R, 1, NULL),
  JB_F_STR(T, peer_id, "peer_id", R, 1, NULL),
  JB_F_STR(T, node_id, "node_id", R, 1, NULL),
  JB_F_STR(T, fingerprint, "fingerprint", R, 1, NULL),
  JB_F_MAC(T, mac, "mac", 0, JB_PRESENCE(T, has_mac)),
  JB_F_STR(T, ufrag, "ufrag", R, 4, NULL),
  JB_F_STR(T, pwd, "pwd", R | JB_SECRET, 22, NULL),
  JB_F_STR_ARR(T, candidates, n_candidates, "candidates", R, 1),
};
const struct jb_schema ctl_candidates_schema = JB_SCHEMA("candidate set", T, candidates_f);
#undef T

#define T struct ctl_create_link
static const struct jb_field create_link_f[] = {
  JB_F_STR(T, overlay_id, "overlay_id", R, 1, NULL),
  JB_F_STR(T, peer_id, "peer_id", R, 1, NULL),
  JB_F_STR(T, peer_fingerprint, "peer_fingerprint", R, 1, NULL),
  JB_F_STR(T, peer_ufrag, "peer_ufrag", R, 4, NULL),
  JB_F_STR(T, peer_pwd, "peer_pwd", R | JB_SECRET, 22, NULL),
  JB_F_STR_ARR(T, peer_candidates, n_peer_candidates, "peer_candidates", R, 1),
  JB_F_ENUM(T, role, "role", 0, ctl_ice_role_names, "auto"),
  JB_F_MAC(T, peer_mac, "peer_mac", 0, JB_PRESENCE(T, has_peer_mac)),
  JB_F_BOOL(T, bridge, "bridge", 0, false),
};
const struct jb_schema ctl_create_link_schema = JB_SCHEMA("create_link", T, create_link_f);
#undef T

#define T struct ctl_link_stats_query
static const struct jb_field stats_query_f[] = {
  JB_F_STR(T, overlay_id, "overlay_id", 0, 1, NULL, JB_PRESENCE(T, has_overlay_id)),
  JB_F_STR(T, peer_id, "peer_id", 0, 1, NULL, JB_PRESENCE(T, has_peer_id)),
};
const struct jb_schema ctl_link_stats_query_schema =
    JB_SCHEMA("query_link_stats", T, stats_query_f);
#undef T

#define T struct ctl_link_stat
static const struct jb_field link_stat_f[] = {
  JB_F_STR(T, overlay_id, "overlay_id", R, 1, NULL),
  JB_F_STR(T, peer_id, "peer_id", R, 1, NULL),
  JB_F_ENUM(T, state, "state", R, ctl_link_state_names, NULL),
  JB_F_ENUM(T, role, "role", 0, ctl_ice_role_names, "auto"),
  JB_F_ENUM(T, pair_type, "pair_type", 0, ctl_pair_type_names, "none"),
  JB_F_STR(T, local_addr, "local_addr", 0, 0, NULL),
  JB_F_STR(T, remote_addr, "remote_addr", 0, 0, NULL),
  JB_F_U32(T, rtt_us, "rtt_us", 0, 0, UINT32_MAX, 0),
  JB_F_U64(T, tx_bytes, "tx_bytes", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, rx_bytes, "rx_bytes", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, tx_packets, "tx_packets", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, rx_packets, "rx_packets", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, drops, "drops", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, up_ms, "up_ms", 0, 0, INT64_MAX, 0),
  JB_F_MAC(T, peer_mac, "peer_mac", 0, JB_PRESENCE(T, has_peer_mac)),
  JB_F_BOOL(T, bridge, "bridge", 0, false),
  JB_F_U64(T, spoofed, "spoofed", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, rekeys, "rekeys", 0, 0, INT64_MAX, 0),
  JB_F_ENUM(T, relay, "relay", 0, ctl_relay_policy_names, "auto"),
  JB_F_U64(T, roams, "roams", 0, 0, INT64_MAX, 0),
  JB_F_U32(T, relay_channel, "relay_channel", 0, 0, UINT32_MAX, 0),
  JB_F_U64(T, relay_dropped, "relay_dropped", 0, 0, INT64_MAX, 0),
  JB_F_STR(T, reason, "reason", 0, 0, NULL),
  JB_F_STR_ARR(T, local_candidates, n_local_candidates, "local_candidates", 0, 1),
  JB_F_STR_ARR(T, remote_candidates, n_remote_candidates, "remote_candidates", 0, 1),
};
const struct jb_schema ctl_link_stat_schema = JB_SCHEMA("link stat", T, link_stat_f);
#undef T

#define T struct ctl_link_stats
static const struct jb_field link_stats_f[] = {
  JB_F_OBJ_ARR(T, links, n_links, "links", R, &ctl_link_stat_schema),
};
const struct jb_schema ctl_link_stats_schema = JB_SCHEMA("link stats", T, link_stats_f);
#undef T

#define T struct ctl_address_mapping
static const struct jb_field mapping_f[] = {
  JB_F_STR(T, overlay_id, "overlay_id", R, 1, NULL),
  JB_F_STR(T, peer_id, "peer_id", R, 1, NULL),
  JB_F_IP4(T, mapped_ip4, "mapped_ip4", R),
  JB_F_IP4(T, peer_ip4, "peer_ip4", R),
  JB_F_IP6(T, mapped_ip6, "mapped_ip6", 0, JB_PRESENCE(T, has_mapped_ip6)),
  JB_F_IP6(T, peer_ip6, "peer_ip6", 0, JB_PRESENCE(T, has_peer_ip6)),
};
const struct jb_schema ctl_address_mapping_schema =
    JB_SCHEMA("set_address_mapping", T, mapping_f);
#undef T

#define T struct ctl_process_info
static const struct jb_field process_f[] = {
  JB_F_U32(T, pid, "pid", R, 1, UINT32_MAX, 0),
  JB_F_U64(T, cpu_ms, "cpu_ms", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, rss_bytes, "rss_bytes", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, vsize_bytes, "vsize_bytes", 0, 0, INT64_MAX, 0),
  JB_F_U32(T, open_fds, "open_fds", 0, 0, UINT32_MAX, 0),
  JB_F_U32(T, max_fds, "max_fds", 0, 0, UINT32_MAX, 0),
  JB_F_U64(T, start_time_s, "start_time_s", 0, 0, INT64_MAX, 0),
};
const struct jb_schema ctl_process_info_schema = JB_SCHEMA("process info", T, process_f);
#undef T

#define T struct ctl_route
static const struct jb_field route_f[] = {
  JB_F_STR(T, node_id, "node_id", R, 1, NULL),
  JB_F_MAC(T, mac, "mac", R),
  JB_F_IP4(T, ip4, "ip4", 0, JB_PRESENCE(T, has_ip4)),
  JB_F_IP6(T, ip6, "ip6", 0, JB_PRESENCE(T, has_ip6)),
  JB_F_STR_ARR(T, via, n_via, "via", 0, 1),
  JB_F_STR_ARR(T, from, n_from, "from", 0, 1),
};
const struct jb_schema ctl_route_schema = JB_SCHEMA("route", T, route_f);
#undef T

#define T struct ctl_set_routes
static const struct jb_field set_routes_f[] = {
  JB_F_STR(T, overlay_id, "overlay_id", R, 1, NULL),
  JB_F_BOOL(T, forwarding, "forwarding", 0, true),
  JB_F_BOOL(T, replace, "replace", 0, true),
  JB_F_OBJ_ARR(T, routes, n_routes, "routes", 0, &ctl_route_schema),
};
const struct jb_schema ctl_set_routes_schema = JB_SCHEMA("set_routes", T, set_routes_f);
#undef T

#define T struct ctl_ack
static const struct jb_field ack_f[] = {
  JB_F_STR(T, message, "message", 0, 0, NULL),
};
const struct jb_schema ctl_ack_schema = JB_SCHEMA("ack", T, ack_f);
#undef T

#define T struct ctl_ev_link_state
static const struct jb_field ev_link_state_f[] = {
  JB_F_STR(T, overlay_id, "overlay_id", R, 1, NULL),
  JB_F_STR(T, peer_id, "peer_id", R, 1, NULL),
  JB_F_ENUM(T, state, "state", R, ctl_link_state_names, NULL),
  JB_F_STR(T, reason, "reason", 0, 0, NULL),
};
const struct jb_schema ctl_ev_link_state_schema = JB_SCHEMA("link_state", T, ev_link_state_f);
#undef T

#define T struct ctl_ev_unknown_dest
static const struct jb_field ev_unknown_f[] = {
  JB_F_STR(T, overlay_id, "overlay_id", R, 1, NULL),
  JB_F_MAC(T, dst_mac, "dst_mac", R),
  JB_F_MAC(T, src_mac, "src_mac", R),
  JB_F_U32(T, ethertype, "ethertype", R, 0, 0xffff, 0),
  JB_F_IP4(T, dst_ip4, "dst_ip4", 0, JB_PRESENCE(T, has_dst_ip4)),
  JB_F_IP6(T, dst_ip6, "dst_ip6", 0, JB_PRESENCE(T, has_dst_ip6)),
  JB_F_U32(T, frame_len, "frame_len", 0, 0, 65535, 0),
  JB_F_U64(T, routed_bytes, "routed_bytes", 0, 0, INT64_MAX, 0,
           JB_PRESENCE(T, has_routed_bytes)),
};
const struct jb_schema ctl_ev_unknown_dest_schema =
    JB_SCHEMA("unknown_destination", T, ev_unknown_f);
#undef T

#define T struct ctl_status
static const struct jb_field status_f[] = {
  JB_F_STR(T, version, "version", R, 1, NULL),
  JB_F_U64(T, uptime_s, "uptime_s", 0, 0, INT64_MAX, 0),
  JB_F_ENUM(T, tincan, "tincan", 0, ctl_peer_state_names, "unknown"),
  JB_F_STR(T, tincan_endpoint, "tincan_endpoint", 0, 0, NULL),
  JB_F_STR(T, mode, "mode", 0, 0, NULL),
  JB_F_STR(T, xmpp, "xmpp", 0, 0, NULL),
  JB_F_STR(T, jid, "jid", 0, 0, NULL),
  JB_F_STR(T, node_id, "node_id", 0, 0, NULL),
  JB_F_STR(T, overlay_id, "overlay_id", 0, 0, NULL),
  JB_F_BOOL(T, overlay_ready, "overlay_ready", 0, false),
  JB_F_IP4(T, ip4, "ip4", 0, JB_PRESENCE(T, has_ip4)),
  JB_F_U32(T, ip4_prefix, "ip4_prefix", 0, 0, 32, 0),
  JB_F_IP6(T, ip6, "ip6", 0, JB_PRESENCE(T, has_ip6)),
  JB_F_U32(T, ip6_prefix, "ip6_prefix", 0, 0, 128, 0),
  JB_F_U32(T, peers, "peers", 0, 0, UINT32_MAX, 0),
  JB_F_U32(T, links_up, "links_up", 0, 0, UINT32_MAX, 0),
  JB_F_STR(T, conflict, "conflict", 0, 0, NULL),
  JB_F_STR(T, fingerprint, "fingerprint", 0, 0, NULL),
  JB_F_STR(T, trust, "trust", 0, 0, NULL),
};
const struct jb_schema ctl_status_schema = JB_SCHEMA("status", T, status_f);
#undef T

#define T struct ctl_peer_entry
static const struct jb_field peer_entry_f[] = {
  JB_F_STR(T, jid, "jid", R, 1, NULL),
  JB_F_STR(T, node_id, "node_id", R, 1, NULL),
  JB_F_BOOL(T, online, "online", 0, false),
  JB_F_BOOL(T, member, "member", 0, false),
  JB_F_STR(T, negotiation, "negotiation", 0, 0, NULL),
  JB_F_ENUM(T, link_state, "link_state", 0, ctl_link_state_names, NULL,
            JB_PRESENCE(T, has_link_state)),
  JB_F_IP4(T, ip4, "ip4", 0, JB_PRESENCE(T, has_ip4)),
  JB_F_IP4(T, mapped_ip4, "mapped_ip4", 0, JB_PRESENCE(T, has_mapped_ip4)),
  JB_F_IP6(T, ip6, "ip6", 0, JB_PRESENCE(T, has_ip6)),
  JB_F_IP6(T, mapped_ip6, "mapped_ip6", 0, JB_PRESENCE(T, has_mapped_ip6)),
  JB_F_ENUM(T, pair_type, "pair_type", 0, ctl_pair_type_names, "none"),
  JB_F_U32(T, rtt_us, "rtt_us", 0, 0, UINT32_MAX, 0),
  JB_F_U64(T, tx_bytes, "tx_bytes", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, rx_bytes, "rx_bytes", 0, 0, INT64_MAX, 0),
};
const struct jb_schema ctl_peer_entry_schema = JB_SCHEMA("peer", T, peer_entry_f);
#undef T

#define T struct ctl_peers
static const struct jb_field peers_f[] = {
  JB_F_OBJ_ARR(T, peers, n_peers, "peers", R, &ctl_peer_entry_schema),
  JB_F_U32(T, total, "total", 0, 0, UINT32_MAX, 0),
};
const struct jb_schema ctl_peers_schema = JB_SCHEMA("peers", T, peers_f);
#undef T

#define C(m) JB_F_U64(T, m, #m, 0, 0, INT64_MAX, 0)
#define T struct ctl_controller_stats
static const struct jb_field cstats_f[] = {
  C(xmpp_reconnects), C(signals_in), C(signals_out), C(signals_dropped), C(signals_bad),
  C(neg_bad), C(neg_ignored), C(neg_stale), C(neg_glare), C(neg_timeouts), C(neg_links_up),
  C(links_created), C(tincan_errors), C(unknown_dest_events), C(ctl_requests_in),
  C(ctl_auth_rejected), C(identity_conflicts), C(signals_unbound), C(fingerprints_refused),
  C(fingerprints_pinned), C(addr_claims_refused), C(xmpp_stanzas_skipped),
};
const struct jb_schema ctl_controller_stats_schema = JB_SCHEMA("stats", T, cstats_f);
#undef T
#undef C

#define T struct ctl_group_member
static const struct jb_field group_member_f[] = {
  JB_F_STR(T, jid, "jid", R, 1, NULL),
  JB_F_STR(T, node_id, "node_id", 0, 1, NULL, JB_PRESENCE(T, has_node_id)),
  JB_F_BOOL(T, online, "online", 0, false),
  JB_F_ENUM(T, link_state, "link_state", 0, ctl_link_state_names, NULL,
            JB_PRESENCE(T, has_link_state)),
  JB_F_IP4(T, address, "address", 0, JB_PRESENCE(T, has_address)),
  JB_F_IP6(T, address6, "address6", 0, JB_PRESENCE(T, has_address6)),
};
const struct jb_schema ctl_group_member_schema = JB_SCHEMA("group member", T, group_member_f);
#undef T

#define T struct ctl_group
static const struct jb_field group_f[] = {
  JB_F_STR(T, name, "name", R, 1, NULL),
  JB_F_STR(T, room, "room", R, 1, NULL),
  JB_F_STR(T, subnet, "subnet", 0, 0, NULL),
  JB_F_ENUM(T, role, "role", R, ctl_group_role_names, NULL),
  JB_F_ENUM(T, state, "state", R, ctl_group_state_names, NULL),
  JB_F_STR(T, error, "error", 0, 0, NULL, JB_PRESENCE(T, has_error)),
  JB_F_STR(T, overlay_id, "overlay_id", 0, 0, NULL),
  JB_F_STR(T, tap_name, "tap_name", 0, 0, NULL),
  JB_F_IP4(T, address, "address", 0, JB_PRESENCE(T, has_address)),
  JB_F_IP6(T, address6, "address6", 0, JB_PRESENCE(T, has_address6)),
  JB_F_OBJ_ARR(T, members, n_members, "members", 0, &ctl_group_member_schema),
};
const struct jb_schema ctl_group_schema = JB_SCHEMA("group", T, group_f);
#undef T

#define T struct ctl_invitation
static const struct jb_field invitation_f[] = {
  JB_F_STR(T, room, "room", R, 1, NULL),
  JB_F_STR(T, from, "from", R, 1, NULL),
  JB_F_STR(T, reason, "reason", 0, 0, NULL),
};
const struct jb_schema ctl_invitation_schema = JB_SCHEMA("invitation", T, invitation_f);
#undef T

#define T struct ctl_groups
static const struct jb_field groups_f[] = {
  JB_F_OBJ_ARR(T, groups, n_groups, "groups", R, &ctl_group_schema),
  JB_F_OBJ_ARR(T, invitations, n_invitations, "invitations", R, &ctl_invitation_schema),
};
const struct jb_schema ctl_groups_schema = JB_SCHEMA("groups", T, groups_f);
#undef T

#define T struct ctl_group_create
static const struct jb_field group_create_f[] = {
  JB_F_STR(T, name, "name", R, 1, NULL),
  JB_F_STR(T, subnet, "subnet", 0, 1, NULL, JB_PRESENCE(T, has_subnet)),
};
const struct jb_schema ctl_group_create_schema = JB_SCHEMA("group_create", T, group_create_f);
#undef T

#define T struct ctl_group_join
static const struct jb_field group_join_f[] = {
  JB_F_STR(T, name, "name", 0, 1, NULL, JB_PRESENCE(T, has_name)),
  JB_F_STR(T, room, "room", 0, 1, NULL, JB_PRESENCE(T, has_room)),
};
const struct jb_schema ctl_group_join_schema = JB_SCHEMA("group_join", T, group_join_f);
#undef T

#define T struct ctl_group_ref
static const struct jb_field group_ref_f[] = {
  JB_F_STR(T, name, "name", R, 1, NULL),
};
const struct jb_schema ctl_group_ref_schema = JB_SCHEMA("group reference", T, group_ref_f);
#undef T

#define T struct ctl_group_member_ref
static const struct jb_field group_member_ref_f[] = {
  JB_F_STR(T, name, "name", R, 1, NULL),
  JB_F_STR(T, jid, "jid", R, 1, NULL),
};
const struct jb_schema ctl_group_member_ref_schema =
    JB_SCHEMA("group member reference", T, group_member_ref_f);
#undef T

#define T struct ctl_jid
static const struct jb_field jid_f[] = {
  JB_F_STR(T, jid, "jid", R, 1, NULL),
};
const struct jb_schema ctl_jid_schema = JB_SCHEMA("jid", T, jid_f);
#undef T

#define T struct ctl_jid_list
static const struct jb_field jid_list_f[] = {
  JB_F_STR_ARR(T, jids, n_jids, "jids", R, 1),
};
const struct jb_schema ctl_jid_list_schema = JB_SCHEMA("jid list", T, jid_list_f);
#undef T

#define T struct ctl_known_node
static const struct jb_field known_node_f[] = {
  JB_F_STR(T, jid, "jid", R, 1, NULL),
  JB_F_STR(T, node_id, "node_id", R, 1, NULL),
  JB_F_STR(T, fingerprint, "fingerprint", 0, 1, NULL, JB_PRESENCE(T, has_fingerprint)),
  JB_F_STR(T, pending, "pending", 0, 1, NULL, JB_PRESENCE(T, has_pending)),
  JB_F_STR(T, published, "published", 0, 1, NULL, JB_PRESENCE(T, has_published)),
  JB_F_U64(T, first_seen, "first_seen", 0, 0, INT64_MAX, 0),
  JB_F_U64(T, last_seen, "last_seen", 0, 0, INT64_MAX, 0),
  JB_F_BOOL(T, online, "online", 0, false),
};
const struct jb_schema ctl_known_node_schema = JB_SCHEMA("known node", T, known_node_f);
#undef T

#define T struct ctl_known
static const struct jb_field known_f[] = {
  JB_F_STR(T, trust, "trust", 0, 0, NULL),
  JB_F_OBJ_ARR(T, nodes, n_nodes, "nodes", R, &ctl_known_node_schema),
  JB_F_U32(T, total, "total", 0, 0, UINT32_MAX, 0),
};
const struct jb_schema ctl_known_schema = JB_SCHEMA("known", T, known_f);
#undef T

#define T struct ctl_trust
static const struct jb_field trust_f[] = {
  JB_F_STR(T, jid, "jid", R, 3, NULL),
  JB_F_STR(T, node_id, "node_id", R, 1, NULL),
  JB_F_STR(T, fingerprint, "fingerprint", 0, 1, NULL, JB_PRESENCE(T, has_fingerprint)),
};
const struct jb_schema ctl_trust_schema = JB_SCHEMA("trust", T, trust_f);
#undef T

/* A body with no fields: jbind rejects every key against an empty table. */
static const struct jb_field empty_f[1];
const struct jb_schema ctl_empty_schema = { "empty body", empty_f, 0, sizeof(struct ctl_empty) };

const struct ctl_msg_desc ctl_controller_messages[] = {
  { "echo", CTL_KIND_REQUEST, &ctl_echo_schema, &ctl_echo_schema },
  { "status", CTL_KIND_REQUEST, &ctl_empty_schema, &ctl_status_schema },
  { "peers", CTL_KIND_REQUEST, &ctl_empty_schema, &ctl_peers_schema },
  { "links", CTL_KIND_REQUEST, &ctl_empty_schema, &ctl_link_stats_schema },
  /* "counters", not "stats": that name is taken by tincan's event below */
  { "counters", CTL_KIND_REQUEST, &ctl_empty_schema, &ctl_controller_stats_schema },
  /* groups over XMPP rooms and blocking (docs/groups.md) */
  { "groups", CTL_KIND_REQUEST, &ctl_empty_schema, &ctl_groups_schema },
  { "group_create", CTL_KIND_REQUEST, &ctl_group_create_schema, &ctl_group_schema },
  { "group_invite", CTL_KIND_REQUEST, &ctl_group_member_ref_schema, &ctl_empty_schema },
  { "group_join", CTL_KIND_REQUEST, &ctl_group_join_schema, &ctl_group_schema },
  { "group_leave", CTL_KIND_REQUEST, &ctl_group_ref_schema, &ctl_empty_schema },
  { "group_remove", CTL_KIND_REQUEST, &ctl_group_member_ref_schema, &ctl_empty_schema },
  { "block", CTL_KIND_REQUEST, &ctl_jid_schema, &ctl_empty_schema },
  { "unblock", CTL_KIND_REQUEST, &ctl_jid_schema, &ctl_empty_schema },
  { "blocklist", CTL_KIND_REQUEST, &ctl_empty_schema, &ctl_jid_list_schema },
  /* pinned fingerprints (docs/security.md) */
  { "known", CTL_KIND_REQUEST, &ctl_empty_schema, &ctl_known_schema },
  { "trust", CTL_KIND_REQUEST, &ctl_trust_schema, &ctl_empty_schema },
  { "untrust", CTL_KIND_REQUEST, &ctl_trust_schema, &ctl_empty_schema },
  /* events the controller receives from ipop-tincan */
  { "link_state", CTL_KIND_EVENT, &ctl_ev_link_state_schema, NULL },
  { "unknown_destination", CTL_KIND_EVENT, &ctl_ev_unknown_dest_schema, NULL },
  { "stats", CTL_KIND_EVENT, &ctl_link_stats_schema, NULL },
};
const unsigned ctl_controller_messages_count =
    sizeof ctl_controller_messages / sizeof ctl_controller_messages[0];

const struct ctl_msg_desc ctl_tincan_messages[] = {
  { "echo", CTL_KIND_REQUEST, &ctl_echo_schema, &ctl_echo_schema },
  { "register", CTL_KIND_REQUEST, &ctl_register_schema, &ctl_ack_schema },
  { "subscribe", CTL_KIND_REQUEST, &ctl_empty_schema, &ctl_ack_schema },
  { "configure_logging", CTL_KIND_REQUEST, &ctl_configure_logging_schema,
    &ctl_configure_logging_schema },
  { "create_overlay", CTL_KIND_REQUEST, &ctl_create_overlay_schema, &ctl_overlay_info_schema },
  { "remove_overlay", CTL_KIND_REQUEST, &ctl_overlay_ref_schema, &ctl_ack_schema },
  { "query_overlay_info", CTL_KIND_REQUEST, &ctl_overlay_ref_schema, &ctl_overlay_info_schema },
  { "query_candidates", CTL_KIND_REQUEST, &ctl_query_candidates_schema, &ctl_candidates_schema },
  { "create_link", CTL_KIND_REQUEST, &ctl_create_link_schema, &ctl_link_stat_schema },
  { "remove_link", CTL_KIND_REQUEST, &ctl_link_ref_schema, &ctl_ack_schema },
  { "query_link_stats", CTL_KIND_REQUEST, &ctl_link_stats_query_schema, &ctl_link_stats_schema },
  { "set_address_mapping", CTL_KIND_REQUEST, &ctl_address_mapping_schema, &ctl_ack_schema },
  { "remove_address_mapping", CTL_KIND_REQUEST, &ctl_link_ref_schema, &ctl_ack_schema },
  { "query_process", CTL_KIND_REQUEST, &ctl_empty_schema, &ctl_process_info_schema },
  { "set_routes", CTL_KIND_REQUEST, &ctl_set_routes_schema, &ctl_ack_schema },
  { "link_state", CTL_KIND_EVENT, &ctl_ev_link_state_schema, NULL },
  { "unknown_destination", CTL_KIND_EVENT, &ctl_ev_unknown_dest_schema, NULL },
  { "stats", CTL_KIND_EVENT, &ctl_link_stats_schema, NULL },
};
const unsigned ctl_tincan_messages_count =
    sizeof ctl_tincan_messages / sizeof ctl_tincan_messages[0];

const struct ctl_msg_desc *ctl_msg_find(const struct ctl_msg_desc *table,
                                        unsigned count, const char *name)
{
  for (unsigned i = 0; i < count; i++)
    if (strcmp(table[i].name, name) == 0)
      return &table[i];
  return NULL;
}
