/* libFuzzer harness for the virtio-net header checks on a peer's frame
 * (tincan/vnet.c, tc_vnet_check), without the records around them, so that
 * the fuzzer reaches well-formed TCP super-frames quickly.
 *
 * Input: the header in its wire form (10 bytes, vnet.h), 2 bytes of MTU
 * (clamped to 576..9000), then the frame.  When the check accepts, the
 * header must be one our own TAP would produce for this frame and MTU, by
 * a model written here: flags NEEDS_CSUM, GSO TCPv4 over unfragmented IPv4
 * or TCPv6 over IPv6, the checksum at the TCP checksum field, the headers
 * fitting in hdr_len <= frame length, 256 <= gso_size <= MTU - IP and TCP
 * headers, at most 256 segments; and the length it returns is exactly the
 * headers'. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "vnet.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < TC_VNET_LEN + 2 + 14)
    return 0;
  struct virtio_net_hdr vh;
  tc_vnet_get(&vh, data);
  uint32_t mtu = (uint32_t)(data[10] << 8 | data[11]);
  mtu = mtu < 576 ? 576 : mtu > 9000 ? 9000 : mtu;
  size_t n = size - TC_VNET_LEN - 2;
  uint8_t *f = malloc(n); /* exactly the frame: ASan sees overreads */
  if (!f)
    return 0;
  memcpy(f, data + TC_VNET_LEN + 2, n);
  struct frame_info fi;
  if (frame_parse(&fi, f, n) == 0) {
    int hdrs = tc_vnet_check(&vh, &fi, f, n, mtu);
    if (hdrs >= 0) {
      CHECK(vh.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM);
      uint8_t g = vh.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
      size_t l4;
      if (g == VIRTIO_NET_HDR_GSO_TCPV4) {
        CHECK(fi.l3 == FRAME_L3_IP4 && fi.ip4.proto == 6 && !fi.ip4.mf && !fi.ip4.frag_off);
        l4 = fi.l3_off + (size_t)(f[fi.l3_off] & 15) * 4;
      } else {
        CHECK(g == VIRTIO_NET_HDR_GSO_TCPV6);
        CHECK(fi.l3 == FRAME_L3_IP6 && f[fi.l3_off + 6] == 6);
        l4 = fi.l3_off + 40;
      }
      CHECK(n >= l4 + 20);
      size_t h = l4 + (size_t)(f[l4 + 12] >> 4) * 4;
      CHECK((size_t)hdrs == h && h >= l4 + 20 && h < n);
      CHECK(vh.csum_start == l4 && vh.csum_offset == 16);
      CHECK(vh.hdr_len >= h && vh.hdr_len <= n);
      CHECK(vh.gso_size >= 256 && vh.gso_size + (h - fi.l3_off) <= mtu);
      CHECK((n - h + vh.gso_size - 1) / vh.gso_size <= 256);
    }
  }
  free(f);
  return 0;
}
