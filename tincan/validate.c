#include "validate.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "identity.h"

#define WHY(...) do { snprintf(why, n, __VA_ARGS__); } while (0)

int tc_valid_ifname(const char *name)
{
  size_t len = strlen(name);
  if (len == 0 || len >= CTL_IFNAME_LEN || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return IPOP_EFIELD;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '.' || c == '-'))
      return IPOP_EFIELD;
  }
  return 0;
}

int tc_parse_hostport(const char *text, struct sockaddr_storage *ss)
{
  char host[INET6_ADDRSTRLEN + 2];
  const char *colon;
  memset(ss, 0, sizeof *ss);
  if (text[0] == '[') {
    const char *end = strchr(text, ']');
    if (!end || end[1] != ':' || (size_t)(end - text - 1) >= sizeof host)
      return IPOP_EFIELD;
    memcpy(host, text + 1, (size_t)(end - text - 1));
    host[end - text - 1] = '\0';
    colon = end + 1;
  } else {
    colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof host)
      return IPOP_EFIELD;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
  }
  const char *ps = colon + 1;
  if (!*ps || strlen(ps) > 5)
    return IPOP_EFIELD;
  for (const char *p = ps; *p; p++)
    if (*p < '0' || *p > '9')
      return IPOP_EFIELD;
  long port = strtol(ps, NULL, 10);
  if (port < 1 || port > 65535)
    return IPOP_EFIELD;
  struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
  if (text[0] != '[' && inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    return 0;
  }
  if (text[0] == '[' && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    return 0;
  }
  return IPOP_EFIELD;
}

int tc_valid_ice_chars(const char *s)
{
  for (; *s; s++) {
    char c = *s;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '+' || c == '/'))
      return IPOP_EFIELD;
  }
  return 0;
}

int tc_valid_unicast_mac(const uint8_t mac[6])
{
  static const uint8_t zero[6];
  if (mac[0] & 1 || memcmp(mac, zero, 6) == 0)
    return IPOP_EFIELD;
  return 0;
}

int tc_validate_create_overlay(const struct ctl_create_overlay *r, char *why, size_t n)
{
  struct sockaddr_storage ss;
  if (!ctl_id_valid(r->overlay_id)) {
    WHY("overlay_id: must be 1..64 characters of [A-Za-z0-9_.-]");
    return IPOP_EFIELD;
  }
  if (!ctl_id_valid(r->node_id)) {
    WHY("node_id: must be 1..64 characters of [A-Za-z0-9_.-]");
    return IPOP_EFIELD;
  }
  if (tc_valid_ifname(r->tap_name)) {
    WHY("tap_name: must be 1..15 characters of [A-Za-z0-9_.-]");
    return IPOP_EFIELD;
  }
  if (r->has_mac && tc_valid_unicast_mac(r->mac)) {
    WHY("mac: must be a non-zero unicast address");
    return IPOP_EFIELD;
  }
  if (r->has_ip4) {
    uint32_t a = ntohl(r->ip4.s_addr);
    if (a == 0 || (a >> 24) == 127 || (a >> 28) >= 14) {
      WHY("ip4: must be a unicast address outside 0/8 and 127/8");
      return IPOP_EFIELD;
    }
  }
  if (r->has_ip6 && (IN6_IS_ADDR_UNSPECIFIED(&r->ip6) || IN6_IS_ADDR_LOOPBACK(&r->ip6) ||
                     IN6_IS_ADDR_MULTICAST(&r->ip6))) {
    WHY("ip6: must be a unicast address");
    return IPOP_EFIELD;
  }
  for (uint32_t i = 0; i < r->n_stun; i++)
    if (tc_parse_hostport(r->stun[i], &ss)) {
      WHY("stun[%u]: expected a numeric \"ip:port\" or \"[ip6]:port\"", i);
      return IPOP_EFIELD;
    }
  for (uint32_t i = 0; i < r->n_turn; i++)
    if (tc_parse_hostport(r->turn[i].address, &ss)) {
      WHY("turn[%u].address: expected a numeric \"ip:port\" or \"[ip6]:port\"", i);
      return IPOP_EFIELD;
    }
  return 0;
}

int tc_validate_link_ref(const struct ctl_link_ref *r, char *why, size_t n)
{
  if (!ctl_id_valid(r->overlay_id)) {
    WHY("overlay_id: must be 1..64 characters of [A-Za-z0-9_.-]");
    return IPOP_EFIELD;
  }
  if (!ctl_id_valid(r->peer_id)) {
    WHY("peer_id: must be 1..64 characters of [A-Za-z0-9_.-]");
    return IPOP_EFIELD;
  }
  return 0;
}

int tc_validate_create_link(const struct ctl_create_link *r, char *why, size_t n)
{
  uint8_t fpr[TC_FPR_BYTES];
  struct ctl_link_ref ref;
  memcpy(ref.overlay_id, r->overlay_id, sizeof ref.overlay_id);
  memcpy(ref.peer_id, r->peer_id, sizeof ref.peer_id);
  if (tc_validate_link_ref(&ref, why, n))
    return IPOP_EFIELD;
  if (tc_fpr_parse(r->peer_fingerprint, fpr)) {
    WHY("peer_fingerprint: expected \"sha-256 \" and 32 colon-separated hex bytes");
    return IPOP_EFIELD;
  }
  if (tc_valid_ice_chars(r->peer_ufrag)) {
    WHY("peer_ufrag: only [A-Za-z0-9+/] allowed");
    return IPOP_EFIELD;
  }
  if (tc_valid_ice_chars(r->peer_pwd)) {
    WHY("peer_pwd: only [A-Za-z0-9+/] allowed");
    return IPOP_EFIELD;
  }
  if (!r->has_peer_mac && !r->bridge) {
    WHY("peer_mac: required (the peer's TAP MAC, the only source MAC its frames may carry; "
        "or \"bridge\": true for a peer that bridges a LAN)");
    return IPOP_EFIELD;
  }
  if (r->has_peer_mac && tc_valid_unicast_mac(r->peer_mac)) {
    WHY("peer_mac: must be a unicast, non-zero MAC");
    return IPOP_EFIELD;
  }
  for (uint32_t i = 0; i < r->n_peer_candidates; i++) {
    const char *c = r->peer_candidates[i];
    if (strncmp(c, "a=", 2) == 0)
      c += 2;
    if (strncmp(c, "candidate:", 10) != 0) {
      WHY("peer_candidates[%u]: expected an SDP \"candidate:...\" attribute", i);
      return IPOP_EFIELD;
    }
    for (const char *p = c; *p; p++)
      if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
        WHY("peer_candidates[%u]: control or non-ASCII character", i);
        return IPOP_EFIELD;
      }
  }
  return 0;
}
