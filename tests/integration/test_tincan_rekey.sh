#!/usr/bin/env bash
# ipop-tincan: link keys rotate (issue 12, finding 6).  Two tincans with
# Tincan.RekeyInterval 1 s: during 6 s of pings every 20 ms (and a TCP
# transfer), both ends count at least 4 rotations, in step, and no ping is
# lost and no record dropped across the switches.  Throughput and stalls
# under rotation are measured by bench/rekey.sh, not here.
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
tc_skip_unless_ready
netns_init

netns_segment pub
netns_host a; netns_attach a pub 198.18.0.11/24
netns_host b; netns_attach b pub 198.18.0.12/24
tc_start a '"RekeyInterval": 1'
tc_start b '"RekeyInterval": 1'
tc_overlay a node-a 10.254.0.1 >/dev/null
tc_overlay b node-b 10.254.0.2 >/dev/null
tc_link a node-a b node-b
check "link up" tc_wait_state a node-b up 15
check "a pings b" wait_ping a 10.254.0.2 5

r0=$(tc_stat a node-b rekeys)
da=$(tc_stat a node-b drops); db=$(tc_stat b node-a drops)
netns_spawn b "$(tc_dir b)/iperf3-server.log" iperf3 -s -p 5201 -1
wait_listen b tcp 5201 5 || true
netns_spawn a "$(tc_dir a)/iperf3.log" iperf3 -c 10.254.0.2 -p 5201 -t 5 -b 200M
out=$(netns_exec a ping -n -c 300 -i 0.02 -W 1 10.254.0.2 || true)
loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' <<<"$out")
ra=$(tc_stat a node-b rekeys); rb=$(tc_stat b node-a rekeys)
echo "# rotations in 6 s: a $r0 -> $ra, b $rb; ping loss $loss%"
check "at least 4 rotations during the pings" test $((ra - r0)) -ge 4
check "both ends in step (within one)" test $((ra - rb)) -le 1 -a $((rb - ra)) -le 1
check "no ping lost across the switches" test "$loss" = 0
check "no record dropped on a" test "$(tc_stat a node-b drops)" = "$da"
check "no record dropped on b" test "$(tc_stat b node-a drops)" = "$db"
check "TCP moved data across the switches" \
  wait_file "$(tc_dir a)/iperf3.log" 'sender' 10
check "link still up" test "$(tc_stat a node-b state)" = up
tc_finish
