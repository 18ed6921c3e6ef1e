/* Dataplane helpers: completing a partial checksum the way a NIC does for
 * CHECKSUM_PARTIAL frames from the TAP, and the checks on a peer's
 * virtio-net header before a super-frame is given to the kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "vnet.h"
#include "error.h"
#include "frame.h"

/* Ethernet + IPv4 + TCP with 100 bytes of payload; the TCP checksum field
 * holds the folded pseudo-header sum, as the kernel leaves it. */
static size_t tcp_frame(uint8_t *f, struct virtio_net_hdr *vh)
{
  size_t ip = 14, tcp = ip + 20, n = tcp + 20 + 100;
  memset(f, 0, n);
  memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
  f[ip] = 0x45;
  f[ip + 2] = (uint8_t)((n - ip) >> 8);
  f[ip + 3] = (uint8_t)(n - ip);
  f[ip + 8] = 64;
  f[ip + 9] = 6;
  memcpy(f + ip + 12, "\x0a\xfe\x00\x01\x0a\xfe\x00\x02", 8);
  uint16_t hc = frame_csum(f + ip, 20);
  f[ip + 10] = (uint8_t)(hc >> 8);
  f[ip + 11] = (uint8_t)hc;
  f[tcp] = 0x13;
  f[tcp + 1] = 0x88;
  f[tcp + 12] = 0x50;
  for (size_t i = tcp + 20; i < n; i++)
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

static void csum_complete(void **state)
{
  (void)state;
  uint8_t f[256];
  struct virtio_net_hdr vh;
  struct frame_info fi;
  size_t n = tcp_frame(f, &vh);
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

static void vnet_check(void **state)
{
  (void)state;
  uint8_t f[256];
  struct virtio_net_hdr vh, v;
  struct frame_info fi;
  size_t n = tcp_frame(f, &vh);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(tc_vnet_check(&vh, &fi, n, 1500), 0);
  v = vh;
  v.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
  v.gso_size = 1300;
  v.hdr_len = 54;
  assert_int_equal(tc_vnet_check(&v, &fi, n, 1500), 0);
  v.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
  assert_int_equal(tc_vnet_check(&v, &fi, n, 1500), 0);
  v.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;                   /* not this frame's */
  assert_int_equal(tc_vnet_check(&v, &fi, n, 1500), IPOP_EINVAL);
  v.gso_type = VIRTIO_NET_HDR_GSO_UDP;                     /* not ours */
  assert_int_equal(tc_vnet_check(&v, &fi, n, 1500), IPOP_EINVAL);
  v.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
  v.gso_size = 0;                                          /* no segment size */
  assert_int_equal(tc_vnet_check(&v, &fi, n, 1500), IPOP_EINVAL);
  v.gso_size = 1300;
  v.flags = 0;                                             /* GSO without csum */
  assert_int_equal(tc_vnet_check(&v, &fi, n, 1500), IPOP_EINVAL);
  v.flags = 0x80 | VIRTIO_NET_HDR_F_NEEDS_CSUM;            /* unknown flag */
  assert_int_equal(tc_vnet_check(&v, &fi, n, 1500), IPOP_EINVAL);
  v = vh;
  v.csum_offset = 0xffff;                                  /* beyond the frame */
  assert_int_equal(tc_vnet_check(&v, &fi, n, 1500), IPOP_EINVAL);
  v = vh;
  v.hdr_len = (uint16_t)(n + 1);
  assert_int_equal(tc_vnet_check(&v, &fi, n, 1500), IPOP_EINVAL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(csum_complete),
    cmocka_unit_test(vnet_check),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
