#!/usr/bin/env bash
# ipop-tincan test 7: SocialVPN address mapping.  Two users both use
# 172.31.0.0/24 with the same TAP address 172.31.0.1; each controller maps
# the friend to a free address of its own subnet (a sees b at .2, b sees a
# at .3).  ICMP, TCP and UDP cross with rewritten addresses and correct
# checksums; ARP for a mapped address is answered locally.  The same over
# IPv6: both use fd00:a::1/64, a sees b at fd00:a::2, b sees a at fd00:a::3
# (Neighbor Discovery answered locally); a source b's host is not given is
# dropped at a and counted as spoofed.
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
tc_skip_unless_ready
netns_init

netns_segment pub
netns_host a; netns_attach a pub 198.18.0.11/24
netns_host b; netns_attach b pub 198.18.0.12/24
tc_start a; tc_start b
TC_OVERLAY_EXTRA=',"ip6":"fd00:a::1","ip6_prefix":64' tc_overlay a alice 172.31.0.1 >/dev/null
TC_OVERLAY_EXTRA=',"ip6":"fd00:a::1","ip6_prefix":64' tc_overlay b bob 172.31.0.1 >/dev/null
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
# bad_mapping6 FIELD JSON-MEMBERS: refused, naming FIELD.
bad_mapping6() {
  local out
  out=$(tc_call a set_address_mapping \
    '{"overlay_id":"ov","peer_id":"bob","mapped_ip4":"172.31.0.2","peer_ip4":"172.31.0.1",'"$2"'}' 2>&1) &&
    return 1
  grep -q "$1" <<<"$out"
}
check "IPv6 mapping without peer_ip6 refused" bad_mapping6 peer_ip6 '"mapped_ip6":"fd00:a::2"'
check "IPv6 mapping to a link-local address refused" \
  bad_mapping6 mapped_ip6 '"mapped_ip6":"fe80::2","peer_ip6":"fd00:a::1"'
check "IPv6 mapping outside the overlay's subnet refused" \
  bad_mapping6 mapped_ip6 '"mapped_ip6":"fd00:b::2","peer_ip6":"fd00:a::1"'
check "IPv6 mapping onto the TAP's own address refused" \
  bad_mapping6 mapped_ip6 '"mapped_ip6":"fd00:a::1","peer_ip6":"fd00:a::1"'
check "IPv6 mapping to a multicast peer refused" \
  bad_mapping6 peer_ip6 '"mapped_ip6":"fd00:a::2","peer_ip6":"ff02::1"'
check "IPv6 mapping with a malformed address refused" \
  bad_mapping6 mapped_ip6 '"mapped_ip6":"fd00::a::2","peer_ip6":"fd00:a::1"'
tc_call a set_address_mapping \
  '{"overlay_id":"ov","peer_id":"bob","mapped_ip4":"172.31.0.2","peer_ip4":"172.31.0.1",
    "mapped_ip6":"fd00:a::2","peer_ip6":"fd00:a::1"}' >/dev/null
tc_call b set_address_mapping \
  '{"overlay_id":"ov","peer_id":"alice","mapped_ip4":"172.31.0.3","peer_ip4":"172.31.0.1",
    "mapped_ip6":"fd00:a::3","peer_ip6":"fd00:a::1"}' >/dev/null

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

# IPv6
check "alice pings bob at fd00:a::2" wait_until 10 netns_exec a ping -6 -c1 -W1 -q fd00:a::2
check "bob pings alice at fd00:a::3" wait_until 10 netns_exec b ping -6 -c1 -W1 -q fd00:a::3
check "alice's ND for fd00:a::2 answered locally with 02:49:ac:1f:00:02" \
  sh -c "ip -n $(netns_ns a) -6 neigh show fd00:a::2 | grep -q 02:49:ac:1f:00:02"
netns_spawn b "$NETNS_TMPDIR/udp6.log" timeout 10 python3 -c '
import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("fd00:a::1", 9998))
d, a = s.recvfrom(100); print("got", d.decode(), "from", a[0], flush=True)'
wait_listen b udp 9998 5
netns_exec a python3 -c '
import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.sendto(b"hello6", ("fd00:a::2", 9998))'
check "UDP over IPv6 alice -> bob arrives from fd00:a::3" \
  wait_file "$NETNS_TMPDIR/udp6.log" "got hello6 from fd00:a::3" 5
netns_spawn b "$NETNS_TMPDIR/iperf6-s.log" iperf3 -s -1 -B fd00:a::1 -p 5202
wait_listen b tcp 5202 5
check "TCP over IPv6 alice -> bob (iperf3 1 s)" \
  sh -c "ip netns exec $(netns_ns a) iperf3 -c fd00:a::2 -p 5202 -t 1 >$NETNS_TMPDIR/iperf6-c.log 2>&1"

# Hostile bob: his host sends from an address that is not his (another
# address he put on his own TAP).  alice drops it and counts it.
ip -n "$(netns_ns b)" addr add fd00:a::99/64 dev ipop0 nodad
sp0=$(tc_stat a bob spoofed)
netns_exec b ping -6 -c3 -i 0.2 -W1 -q -I fd00:a::99 fd00:a::3 >/dev/null 2>&1 || true
spoof_counted() { [ "$(tc_stat a bob spoofed)" -ge $((sp0 + 3)) ]; }
check "a v6 source bob was not given is dropped and counted (spoofed $sp0 -> 3 more)" \
  wait_until 5 spoof_counted
check "alice and bob still ping over IPv6" netns_exec a ping -6 -c1 -W2 -q fd00:a::2
tc_finish
