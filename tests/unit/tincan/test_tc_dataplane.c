/* The dataplane's frame checks: completing a partial checksum the way a NIC
 * does for CHECKSUM_PARTIAL frames from the TAP; the bounds on a peer's
 * virtio-net header (what our own TAP produces for the overlay's MTU: no
 * gso_size of 1 or 65535, no hdr_len of 0, a bounded segment count); and
 * the same through the real receive path (records sealed by the peer,
 * reassembly, the router, the TAP as a socketpair): a hostile super-frame
 * never reaches the TAP and is counted, an honest one does, with the exact
 * header length; frames from a forged source MAC are dropped and counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "frame.h"
#include "tc_peer.h"
#include "vnet.h"

/* Ethernet + IPv4 + TCP (20 bytes, or 32 with the timestamp option) with
 * payload bytes; the TCP checksum field holds the folded pseudo-header
 * sum, as the kernel leaves it.  vh: what the TAP would hand over. */
static size_t tcp4_frame(uint8_t *f, size_t payload, size_t thl, struct virtio_net_hdr *vh)
{
  size_t ip = 14, tcp = ip + 20, n = tcp + thl + payload;
  memset(f, 0, tcp + thl);
  memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
  f[ip] = 0x45;
  f[ip + 2] = (uint8_t)((n - ip) >> 8);
  f[ip + 3] = (uint8_t)(n - ip);
  f[ip + 8] = 64;
  f[ip + 9] = 6;
  memcpy(f + ip + 12, "\x0a\xfe\x00\x02\x0a\xfe\x00\x01", 8);
  uint16_t hc = frame_csum(f + ip, 20);
  f[ip + 10] = (uint8_t)(hc >> 8);
  f[ip + 11] = (uint8_t)hc;
  f[tcp] = 0x13;
  f[tcp + 1] = 0x88;
  f[tcp + 12] = (uint8_t)((thl / 4) << 4);
  for (size_t i = tcp + thl; i < n; i++)
    f[i] = (uint8_t)(i * 13);
  uint8_t ph[12];
  memcpy(ph, f + ip + 12, 8);
  ph[8] = 0;
  ph[9] = 6;
  ph[10] = (uint8_t)((n - tcp) >> 8);
  ph[11] = (uint8_t)(n - tcp);
  uint16_t p = frame_csum_fold(frame_csum_partial(ph, sizeof ph, 0));
  f[tcp + 16] = (uint8_t)(p >> 8);
  f[tcp + 17] = (uint8_t)p;
  memset(vh, 0, sizeof *vh);
  vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  vh->csum_start = (uint16_t)tcp;
  vh->csum_offset = 16;
  return n;
}

/* The same as a TSO super-frame for an overlay MTU: gso_size = MTU - IP and
 * TCP headers, hdr_len = all headers (what the TAP gave us in the tests:
 * "hdr_len 66, gso_size 1228" at MTU 1280 with timestamps). */
static size_t tso4(uint8_t *f, size_t payload, uint32_t mtu, struct virtio_net_hdr *vh)
{
  size_t n = tcp4_frame(f, payload, 32, vh);
  vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
  vh->hdr_len = 14 + 20 + 32;
  vh->gso_size = (uint16_t)(mtu - 20 - 32);
  return n;
}

/* IPv6 + TCP (20) super-frame. */
static size_t tso6(uint8_t *f, size_t payload, uint32_t mtu, struct virtio_net_hdr *vh)
{
  size_t ip = 14, tcp = ip + 40, n = tcp + 20 + payload;
  memset(f, 0, tcp + 20);
  memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x86\xdd", 14);
  f[ip] = 0x60;
  f[ip + 4] = (uint8_t)((n - tcp) >> 8);
  f[ip + 5] = (uint8_t)(n - tcp);
  f[ip + 6] = 6;
  f[ip + 7] = 64;
  f[ip + 8] = 0xfd;
  f[ip + 24] = 0xfd;
  f[ip + 39] = 1;
  f[tcp + 12] = 0x50;
  memset(vh, 0, sizeof *vh);
  vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
  vh->csum_start = (uint16_t)tcp;
  vh->csum_offset = 16;
  vh->hdr_len = (uint16_t)(tcp + 20);
  vh->gso_size = (uint16_t)(mtu - 40 - 20);
  return n;
}

static uint8_t big[70000];

static void csum_complete(void **state)
{
  (void)state;
  uint8_t f[256];
  struct virtio_net_hdr vh;
  struct frame_info fi;
  size_t n = tcp4_frame(f, 100, 20, &vh);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_not_equal(frame_ip4_l4_csum_verify(&fi, f), 0); /* partial */
  assert_int_equal(tc_vnet_csum_complete(&vh, f, n), 0);
  assert_int_equal(frame_ip4_l4_csum_verify(&fi, f), 0);
  /* offsets outside the frame are refused, nothing written */
  vh.csum_start = (uint16_t)n;
  assert_int_equal(tc_vnet_csum_complete(&vh, f, n), IPOP_EINVAL);
  vh.csum_start = (uint16_t)(n - 1);
  vh.csum_offset = 0;
  assert_int_equal(tc_vnet_csum_complete(&vh, f, n), IPOP_EINVAL);
}

static int check(const struct virtio_net_hdr *vh, const uint8_t *f, size_t n, uint32_t mtu)
{
  struct frame_info fi;
  assert_int_equal(frame_parse(&fi, f, n), 0);
  return tc_vnet_check(vh, &fi, f, n, mtu);
}

static void vnet_bounds(void **state)
{
  (void)state;
  struct virtio_net_hdr vh, v;
  const uint32_t mtu = 1280;
  size_t n = tso4(big, 65000, mtu, &vh);
  assert_int_equal(check(&vh, big, n, mtu), 66);        /* what a TAP produces */
  v = vh;
  v.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
  assert_int_equal(check(&v, big, n, mtu), 66);
  v = vh;
  v.hdr_len = (uint16_t)n;                               /* headers and more: a hint */
  assert_int_equal(check(&v, big, n, mtu), 66);
  /* gso_size: 1 (a 60 KB frame would become 60,000 packets), below the
   * floor, above MTU - headers, 65535 */
  const uint16_t bad_gso[] = { 0, 1, TC_GSO_MIN_SIZE - 1, 1229, 1400, 65535 };
  for (size_t i = 0; i < sizeof bad_gso / sizeof bad_gso[0]; i++) {
    v = vh;
    v.gso_size = bad_gso[i];
    assert_int_equal(check(&v, big, n, mtu), IPOP_EINVAL);
  }
  /* the floor itself is fine: at most 65495 / 256 < TC_GSO_MAX_SEGS
   * segments fit in an IP packet */
  v = vh;
  v.gso_size = TC_GSO_MIN_SIZE;
  assert_int_equal(check(&v, big, n, mtu), 66);
  size_t m = tso4(big, 65535 - 20 - 32, mtu, &vh);
  v.csum_start = vh.csum_start;
  assert_int_equal(check(&v, big, m, mtu), 66);
  n = tso4(big, 65000, mtu, &vh);
  /* hdr_len: 0, short of the headers, beyond the frame */
  const uint16_t bad_hdr[] = { 0, 54, 65 };
  for (size_t i = 0; i < sizeof bad_hdr / sizeof bad_hdr[0]; i++) {
    v = vh;
    v.hdr_len = bad_hdr[i];
    assert_int_equal(check(&v, big, n, mtu), IPOP_EINVAL);
  }
  v = vh;
  v.hdr_len = (uint16_t)(n + 1 > 65535 ? 65535 : n + 1);
  assert_int_equal(check(&v, big, n, mtu), IPOP_EINVAL);
  /* flags, types and checksum offsets that do not fit this frame */
  v = vh;
  v.flags = 0;                                           /* GSO without csum */
  assert_int_equal(check(&v, big, n, mtu), IPOP_EINVAL);
  v.flags = 0x80 | VIRTIO_NET_HDR_F_NEEDS_CSUM;          /* unknown flag */
  assert_int_equal(check(&v, big, n, mtu), IPOP_EINVAL);
  v = vh;
  v.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;                 /* not IPv6 */
  assert_int_equal(check(&v, big, n, mtu), IPOP_EINVAL);
  v.gso_type = VIRTIO_NET_HDR_GSO_UDP;                   /* not ours */
  assert_int_equal(check(&v, big, n, mtu), IPOP_EINVAL);
  v = vh;
  v.gso_type = VIRTIO_NET_HDR_GSO_NONE;                  /* csum only: our peers complete it */
  assert_int_equal(check(&v, big, n, mtu), IPOP_EINVAL);
  v = vh;
  v.csum_offset = 6;                                     /* UDP's field, in TCP */
  assert_int_equal(check(&v, big, n, mtu), IPOP_EINVAL);
  v = vh;
  v.csum_start = 14;
  assert_int_equal(check(&v, big, n, mtu), IPOP_EINVAL);
  /* a TCP data offset below 5 words */
  big[34 + 12] = 0x40;
  assert_int_equal(check(&vh, big, n, mtu), IPOP_EINVAL);
  /* an IPv4 fragment */
  n = tso4(big, 65000, mtu, &vh);
  big[14 + 6] = 0x20; /* MF */
  assert_int_equal(check(&vh, big, n, mtu), IPOP_EINVAL);
  /* IPv6: the same bounds with its 40-byte header */
  n = tso6(big, 60000, mtu, &vh);
  assert_int_equal(check(&vh, big, n, mtu), 74);
  v = vh;
  v.gso_size = (uint16_t)(mtu - 40 - 20 + 1);
  assert_int_equal(check(&v, big, n, mtu), IPOP_EINVAL);
  v = vh;
  v.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
  assert_int_equal(check(&v, big, n, mtu), IPOP_EINVAL);
  /* a larger overlay MTU allows larger segments */
  n = tso4(big, 65000, 9000, &vh);
  assert_int_equal(check(&vh, big, n, 9000), 66);
  assert_int_equal(check(&vh, big, n, 1280), IPOP_EINVAL);
}

/* ---- through the receive path ------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Send [vnet | frame] as the peer's sender does: FRAG records. */
static void send_super(struct tc_peer *t, uint32_t id, const struct virtio_net_hdr *vh,
                       const uint8_t *f, size_t n)
{
  static uint8_t content[70000];
  tc_vnet_put(content, vh);
  memcpy(content + TC_VNET_LEN, f, n);
  size_t total = TC_VNET_LEN + n, chunk = TC_PATH_DGRAM_MAX - TC_REC_OVERHEAD - TC_DP_FRAG_HDR;
  for (size_t off = 0; off < total; off += chunk) {
    uint8_t rec[TC_PATH_DGRAM_MAX];
    size_t len = total - off < chunk ? total - off : chunk;
    rec[0] = TC_DP_FRAG;
    put32(rec + 1, id);
    put32(rec + 5, (uint32_t)total);
    put32(rec + 9, (uint32_t)off);
    memcpy(rec + TC_DP_FRAG_HDR, content + off, len);
    tc_peer_feed(t, rec, TC_DP_FRAG_HDR + len);
  }
}

static struct tc_peer *T;

static int peer_setup(void **state)
{
  (void)state;
  T = calloc(1, sizeof *T);
  return T && tc_peer_init(T, 1280, false) == 0 ? 0 : -1;
}

static int peer_teardown(void **state)
{
  (void)state;
  tc_peer_free(T);
  free(T);
  return 0;
}

static void peer_super_frames(void **state)
{
  (void)state;
  static uint8_t out[70000];
  struct virtio_net_hdr vh, v, got;
  size_t n = tso4(big, 60000, 1280, &vh);
  /* honest: reaches the TAP, as sent, with hdr_len the header length */
  vh.hdr_len = 200;
  send_super(T, 1, &vh, big, n);
  size_t r = tc_peer_tap_read(T, out, sizeof out);
  assert_int_equal(r, sizeof got + n);
  memcpy(&got, out, sizeof got);
  assert_int_equal(got.gso_size, 1228);
  assert_int_equal(got.hdr_len, 66);
  assert_memory_equal(out + sizeof got, big, n);
  assert_int_equal(T->link.dp.st.rx_packets, 1);
  /* gso_size 1, hdr_len 0, gso_size 65535: dropped, counted, nothing written */
  uint64_t drops = T->link.dp.st.drops;
  v = vh;
  v.gso_size = 1;
  send_super(T, 2, &v, big, n);
  v = vh;
  v.hdr_len = 0;
  send_super(T, 3, &v, big, n);
  v = vh;
  v.gso_size = 65535;
  send_super(T, 4, &v, big, n);
  assert_int_equal(tc_peer_tap_read(T, out, sizeof out), 0);
  assert_int_equal(T->link.dp.st.drops, drops + 3);
  /* a complete frame (no header) from the peer's MAC passes; one with a
   * forged source MAC does not */
  uint8_t f[200], rec[256];
  n = tcp4_frame(f, 100, 20, &vh);
  assert_int_equal(tc_vnet_csum_complete(&vh, f, n), 0);
  rec[0] = TC_DP_FRAME;
  memcpy(rec + 1, f, n);
  tc_peer_feed(T, rec, 1 + n);
  assert_int_equal(tc_peer_tap_read(T, out, sizeof out), sizeof vh + n);
  rec[1 + 11] = 0x09; /* source 02:00:00:00:00:09 */
  tc_peer_feed(T, rec, 1 + n);
  assert_int_equal(tc_peer_tap_read(T, out, sizeof out), 0);
  assert_int_equal(T->link.spoofed, 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(csum_complete),
    cmocka_unit_test(vnet_bounds),
    cmocka_unit_test_setup_teardown(peer_super_frames, peer_setup, peer_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
