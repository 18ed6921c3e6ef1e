/* Boundary checks for control-message fields that the schema alone cannot
 * express.  Each returns 0 or IPOP_EFIELD and writes a sentence naming the
 * field into why. */
#ifndef IPOP_TINCAN_VALIDATE_H
#define IPOP_TINCAN_VALIDATE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "messages.h"

/* Linux interface name: 1..15 of [A-Za-z0-9_.-], not "." or "..". */
int tc_valid_ifname(const char *name);
/* "a.b.c.d:port" or "[v6]:port", numeric only (no DNS on the event loop). */
int tc_parse_hostport(const char *text, struct sockaddr_storage *ss);
/* ICE ufrag/pwd: RFC 8445 ice-char = ALPHA / DIGIT / "+" / "/". */
int tc_valid_ice_chars(const char *s);
/* A MAC usable for a TAP: unicast (I/G bit clear), not all-zero. */
int tc_valid_unicast_mac(const uint8_t mac[6]);

int tc_validate_create_overlay(const struct ctl_create_overlay *r, char *why, size_t n);
int tc_validate_link_ref(const struct ctl_link_ref *r, char *why, size_t n);
/* Syntax of create_link (candidates are parsed later by libnice). */
int tc_validate_create_link(const struct ctl_create_link *r, char *why, size_t n);

#endif
