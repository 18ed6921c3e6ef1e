/* libFuzzer harness for the TURN client of a taken-over relayed path
 * (tincan/turnchan.c): every datagram that can reach its socket.
 *
 * Input: one control byte, then datagrams, each a 2-byte big-endian length
 * and that many bytes.  Control bits: 0 the channel is bound first (so
 * ChannelData on 0x4000 is ours); 1 each STUN-looking datagram gets the
 * pending request's transaction id (so answers reach the challenge and
 * success code); 2 every other datagram comes from a stranger instead of
 * the server.
 *
 * Besides memory errors it checks: data handed up lies inside the
 * datagram, is 1..TC_TURN_PAYLOAD_MAX bytes, and (ChannelData) sits right
 * after the 4-byte header of our bound channel; nothing from a stranger is
 * ever data; the drop counters only grow; the channel stays in range; the
 * error text is terminated. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "turnchan.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  uint8_t ctl = data[0];
  struct ctl_turn_server ts;
  memset(&ts, 0, sizeof ts);
  snprintf(ts.address, sizeof ts.address, "198.18.0.100:3478");
  snprintf(ts.user, sizeof ts.user, "u");
  snprintf(ts.password, sizeof ts.password, "p");
  struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons(3478)};
  struct sockaddr_in stranger = {.sin_family = AF_INET, .sin_port = htons(3478)};
  struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(40000)};
  inet_pton(AF_INET, "198.18.0.100", &server.sin_addr);
  inet_pton(AF_INET, "198.18.0.66", &stranger.sin_addr);
  inet_pton(AF_INET, "198.18.0.20", &peer.sin_addr);
  struct tc_turnchan t;
  /* fd -1: the client's sends fail quietly, as on a dead socket. */
  CHECK(tc_turnchan_start(&t, -1, &ts, (struct sockaddr *)&peer, 1000) == 0);
  if (ctl & 1)
    t.flags |= TC_TURN_BOUND;
  uint64_t now = 1000, dropped = 0;
  size_t off = 1;
  unsigned k = 0;
  uint8_t buf[65536];
  while (off + 2 <= size) {
    size_t n = (size_t)data[off] << 8 | data[off + 1];
    off += 2;
    if (n > size - off)
      n = size - off;
    memcpy(buf, data + off, n);
    off += n;
    if ((ctl & 2) && n >= TC_STUN_HDR && buf[0] < 4)
      memcpy(buf + 8, t.txid, TC_STUN_TXID);
    bool strange = (ctl & 4) && (k++ & 1);
    const struct sockaddr *from = (const struct sockaddr *)(strange ? &stranger : &server);
    const uint8_t *d = NULL;
    size_t len = 0;
    if (tc_turnchan_input(&t, buf, n, from, now, &d, &len)) {
      CHECK(!strange);
      CHECK(d >= buf && d + len <= buf + n);
      CHECK(len >= 1 && len <= TC_TURN_PAYLOAD_MAX);
      if (buf[0] >= 0x40 && buf[0] <= 0x4F) {
        CHECK(t.flags & TC_TURN_BOUND);
        CHECK(d == buf + TC_CHAN_HDR);
        CHECK((uint16_t)(buf[0] << 8 | buf[1]) == t.channel);
      }
    }
    CHECK(tc_turnchan_dropped(&t) >= dropped);
    dropped = tc_turnchan_dropped(&t);
    CHECK(t.channel >= TC_CHAN_MIN && t.channel < TC_CHAN_MIN + TC_TURN_CHANNELS);
    now += 700;
    (void)tc_turnchan_tick(&t, now);
    CHECK(memchr(t.error, '\0', sizeof t.error) != NULL);
  }
  tc_turnchan_stop(&t);
  return 0;
}
