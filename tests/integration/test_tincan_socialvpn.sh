#!/usr/bin/env bash
# ipop-tincan test 7: SocialVPN address mapping.  Two users both use
# 172.31.0.0/24 with the same TAP address 172.31.0.1; each controller maps
# the friend to a free address of its own subnet (a sees b at .2, b sees a
# at .3).  ICMP, TCP and UDP cross with rewritten addresses and correct
# checksums; ARP for a mapped address is answered locally.
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
tc_skip_unless_ready
netns_init

netns_segment pub
netns_host a; netns_attach a pub 198.18.0.11/24
netns_host b; netns_attach b pub 198.18.0.12/24
tc_start a; tc_start b
tc_overlay a alice 172.31.0.1 >/dev/null
tc_overlay b bob 172.31.0.1 >/dev/null
tc_link a alice b bob
check "link up" tc_wait_state a bob up 15

bad_mapping() {
  local out
  out=$(tc_call a set_address_mapping \
    '{"overlay_id":"ov","peer_id":"bob","mapped_ip4":"224.0.0.1","peer_ip4":"172.31.0.1"}' 2>&1) &&
    return 1   # must fail
  grep -q mapped_ip4 <<<"$out"
}
check "bad mapping refused, naming the field" bad_mapping
tc_call a set_address_mapping \
  '{"overlay_id":"ov","peer_id":"bob","mapped_ip4":"172.31.0.2","peer_ip4":"172.31.0.1"}' >/dev/null
tc_call b set_address_mapping \
  '{"overlay_id":"ov","peer_id":"alice","mapped_ip4":"172.31.0.3","peer_ip4":"172.31.0.1"}' >/dev/null

check "alice pings bob at his mapped address" wait_ping a 172.31.0.2 5
check "bob pings alice at her mapped address" wait_ping b 172.31.0.3 5
check "alice's ARP for .2 answered locally with 02:49:ac:1f:00:02" \
  sh -c "ip -n $(netns_ns a) neigh show 172.31.0.2 | grep -q 02:49:ac:1f:00:02"

# TCP (checksum over the pseudo-header) both ways.
netns_spawn b "$NETNS_TMPDIR/iperf-s.log" iperf3 -s -1 -B 172.31.0.1
wait_listen b tcp 5201 5
check "TCP alice -> bob (iperf3 1 s)" \
  sh -c "ip netns exec $(netns_ns a) iperf3 -c 172.31.0.2 -t 1 >$NETNS_TMPDIR/iperf-c.log 2>&1"
check "bob saw the connection from alice's mapped address .3" \
  wait_file "$NETNS_TMPDIR/iperf-s.log" "Accepted connection from 172.31.0.3" 5
# UDP
netns_spawn b "$NETNS_TMPDIR/udp.log" timeout 10 python3 -c '
import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("172.31.0.1", 9999))
d, a = s.recvfrom(100); print("got", d.decode(), "from", a[0], flush=True)'
wait_listen b udp 9999 5
netns_exec a python3 -c '
import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"hello", ("172.31.0.2", 9999))'
check "UDP alice -> bob arrives from .3" wait_file "$NETNS_TMPDIR/udp.log" "got hello from 172.31.0.3" 5
tc_finish
