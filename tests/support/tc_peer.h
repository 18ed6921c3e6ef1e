/* One link's receive side with everything real but the sockets, for the
 * unit tests and the fuzz targets of the post-authentication peer-frame
 * path: a keyed session (epoch 0 from a fixed chaining secret, real
 * identities for rekey messages), a closed path, the link's dataplane and
 * an overlay whose TAP is one end of a socketpair, so that what would reach
 * the kernel can be read back and checked.
 *
 *   tc_peer_feed()       seal plaintext as the peer would, give the datagram
 *                        to the dataplane (the whole receive path)
 *   tc_peer_inner()      plaintext of an already authenticated record
 *   tc_peer_tap_read()   next frame written to the TAP (vnet header first) */
#ifndef IPOP_TESTS_TC_PEER_H
#define IPOP_TESTS_TC_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dataplane.h"
#include "link.h"
#include "session.h"
#include "tincan.h"

struct tc_peer {
  struct tc_daemon d;
  struct tc_overlay ov;
  struct tc_link link;            /* ours: receives */
  struct tc_session peer;         /* the remote end: seals */
  struct tc_identity id_local, id_peer;
  int tap_read_fd;
  uint64_t now;
};

/* mtu: the overlay's.  bridge: the link's flag.  Our MAC 02:00:00:00:00:01,
 * the peer's (bound) 02:00:00:00:00:02.  0 or -1. */
int tc_peer_init(struct tc_peer *t, uint32_t mtu, bool bridge);
void tc_peer_free(struct tc_peer *t);
/* Reset counters, reassembly and the switch (keys stay). */
void tc_peer_reset(struct tc_peer *t, bool bridge);
/* Our session back to fresh epoch-0 keys, KEYED. */
int tc_peer_rekey_reset(struct tc_peer *t);
void tc_peer_feed(struct tc_peer *t, const uint8_t *plain, size_t n);
void tc_peer_inner(struct tc_peer *t, uint8_t *plain, size_t n);
/* One frame from the TAP end: bytes read (vnet header + frame), or 0 if
 * none is waiting. */
size_t tc_peer_tap_read(struct tc_peer *t, uint8_t *buf, size_t cap);

#endif
