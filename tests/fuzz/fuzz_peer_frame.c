/* libFuzzer harness for the post-authentication peer-frame path: the
 * plaintext of records a peer sealed (tc_dp_inner: FRAME, FRAG reassembly,
 * deliver, PING/PONG, rekey messages, unknown kinds) through the router
 * (binding, virtio-net header checks) to the TAP, which is a socketpair
 * here (tests/support/tc_peer.h).
 *
 * Input: one control byte, then records, each a 2-byte big-endian length
 * and that many plaintext bytes.  Control bits: 0 the link bridges a LAN;
 * 1 the overlay MTU is 9000 (else 1280); 2 records are sealed and fed as
 * datagrams (the whole receive path, slower) instead of given as plaintext.
 *
 * Besides memory errors it checks what reaches the TAP against a model
 * written here, separately from vnet.c and route.c: a frame of 14 bytes to
 * FRAME_MAX_LEN; from the peer's MAC (or, on a bridge link, a unicast MAC
 * that is not ours); and a virtio-net header that is all zero or exactly a
 * TAP's TSO header for this MTU (flags NEEDS_CSUM, TCPv4/TCPv6, checksum at
 * the TCP checksum field, hdr_len = the headers, 256 <= gso_size <= MTU -
 * IP and TCP headers, at most 256 segments). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "tc_peer.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static struct tc_peer *T;
static uint32_t mtu_now;

/* The model of an acceptable header (see the comment at the top). */
static void check_vnet(const struct virtio_net_hdr *vh, const uint8_t *f, size_t n)
{
  static const struct virtio_net_hdr zero;
  if (memcmp(vh, &zero, sizeof zero) == 0)
    return;
  CHECK(vh->flags == VIRTIO_NET_HDR_F_NEEDS_CSUM);
  uint8_t g = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
  CHECK(g == VIRTIO_NET_HDR_GSO_TCPV4 || g == VIRTIO_NET_HDR_GSO_TCPV6);
  size_t eth = 14;
  uint16_t et = (uint16_t)(f[12] << 8 | f[13]);
  if (et == 0x8100 || et == 0x88a8) {
    eth = 18;
    et = (uint16_t)(f[16] << 8 | f[17]);
  }
  size_t l4;
  if (g == VIRTIO_NET_HDR_GSO_TCPV4) {
    CHECK(et == 0x0800 && n >= eth + 20 && f[eth + 9] == 6);
    CHECK((f[eth + 6] & 0x3f) == 0 && f[eth + 7] == 0); /* not a fragment */
    l4 = eth + (size_t)(f[eth] & 15) * 4;
  } else {
    CHECK(et == 0x86dd && n >= eth + 40 && f[eth + 6] == 6);
    l4 = eth + 40;
  }
  CHECK(n >= l4 + 20);
  size_t hdrs = l4 + (size_t)(f[l4 + 12] >> 4) * 4;
  CHECK(hdrs >= l4 + 20 && hdrs <= n);
  CHECK(vh->csum_start == l4 && vh->csum_offset == 16);
  CHECK(vh->hdr_len == hdrs);
  CHECK(vh->gso_size >= 256 && vh->gso_size + (hdrs - eth) <= mtu_now);
  CHECK(n > hdrs && (n - hdrs + vh->gso_size - 1) / vh->gso_size <= 256);
}

/* Frames of this input read from the TAP so far. */
static uint64_t tap_seen;

/* Read what the path wrote to the TAP: exactly the frames it counted
 * (ov.tap_tx), so no read ends on EAGAIN (a system call per record). */
static void drain(bool bridge)
{
  static uint8_t buf[sizeof(struct virtio_net_hdr) + 70000];
  size_t r;
  for (; tap_seen < T->ov.tap_tx; tap_seen++) {
    r = tc_peer_tap_read(T, buf, sizeof buf);
    struct virtio_net_hdr vh;
    CHECK(r >= sizeof vh + 14);
    memcpy(&vh, buf, sizeof vh);
    const uint8_t *f = buf + sizeof vh;
    size_t n = r - sizeof vh;
    CHECK(n <= FRAME_MAX_LEN);
    if (bridge)
      CHECK(!(f[6] & 1) && memcmp(f + 6, T->ov.cfg.mac, 6) != 0);
    else
      CHECK(memcmp(f + 6, T->link.peer_mac, 6) == 0);
    check_vnet(&vh, f, n);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!T) {
    T = calloc(1, sizeof *T);
    if (!T || tc_peer_init(T, 1280, false) != 0)
      abort();
  }
  if (size < 1)
    return 0;
  uint8_t ctl = data[0];
  bool bridge = ctl & 1, sealed = ctl & 4;
  mtu_now = ctl & 2 ? 9000 : 1280;
  T->ov.cfg.mtu = mtu_now;
  tc_peer_reset(T, bridge); /* empties the TAP, ov.tap_tx = 0 */
  tap_seen = 0;
  static uint8_t rec[TC_PATH_DGRAM_MAX];
  size_t i = 1;
  while (i + 2 <= size) {
    size_t n = (size_t)data[i] << 8 | data[i + 1];
    i += 2;
    if (n > size - i)
      n = size - i;
    if (n > sizeof rec - TC_REC_OVERHEAD)
      n = sizeof rec - TC_REC_OVERHEAD;
    memcpy(rec, data + i, n); /* the path works on the record buffer in place */
    i += n;
    T->now += 7;
    if (sealed)
      tc_peer_feed(T, rec, n);
    else
      tc_peer_inner(T, rec, n);
    drain(bridge);
  }
  return 0;
}
