/* DNS SRV answers (RFC 2782) for _xmpp-client._tcp / _xmpps-client._tcp:
 * the one piece of DNS the client reads itself.  Apart from transport.c
 * so that it can be fuzzed (tests/fuzz/fuzz_srv.c). */
#ifndef IPOP_XMPP_SRV_H
#define IPOP_XMPP_SRV_H

#include <stddef.h>
#include <stdint.h>

struct xmpp_srv {
  uint16_t prio, weight, port;
  char target[256];
};

/* The SRV records of the answer section of a DNS answer of len bytes, at
 * most max, by priority, then highest weight first.  Records that are
 * not SRV, too short or whose target does not expand are skipped.
 * Returns how many; -1 when the only record is "." (RFC 2782: the
 * service is decidedly not available). */
int xmpp_srv_parse(const unsigned char *ans, int len, struct xmpp_srv *out,
                   size_t max);

#endif
