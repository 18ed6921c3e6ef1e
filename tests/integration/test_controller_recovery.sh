#!/usr/bin/env bash
# ipop-controller recovery (issue 5, test 5), GroupVPN with three nodes on
# one segment:
#   1. ipop-tincan on n1 is killed and restarted: the controller notices
#      (its overlay is gone), re-creates the overlay and every link; pings
#      pass again within 30 s.
#   2. ejabberd is restarted: links keep carrying traffic while it is down;
#      the controllers log in again.
#   3. n3's path is cut for 20 s (all packets dropped): its links come back
#      after.
#   4. n3's controller stops (peer offline): the others remove their links
#      to it; started again, it is linked again.
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
netns_init

netns_segment pub
ct_xmpp_start
ct_xmpp_users n1 n2 n3
ct_xmpp_friends lab n1 n2 n3
nodes=(n1 n2 n3)
i=31
for h in "${nodes[@]}"; do
  ct_node "$h" "198.18.0.$i" group '"Group": "lab", "LinkSetupTimeout": 15'
  i=$((i + 1))
done
for h in "${nodes[@]}"; do ct_controller_start "$h"; done
for h in "${nodes[@]}"; do check "$h online" ct_wait_online "$h" 30; done
ct_read_ip4 "${nodes[@]}"
all_ping() { ct_all_ping 1 "${nodes[@]}"; }
check "all pairs ping" wait_until 60 all_ping
[ "$TC_FAILS" -eq 0 ] || { ct_finish || true; exit 1; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

echo "# 1. tincan on n1 killed and restarted"
kill -KILL "${TC_PID[n1]}"
wait "${TC_PID[n1]}" 2>/dev/null || true
mv "$(ct_dir n1)/tincan.log" "$(ct_dir n1)/tincan-before-kill.log"
t0=$(date +%s%N)
ct_tincan_start n1
check "n1 pings n2 within 30 s of the restart" wait_ping n1 "${addr[n2]}" 30
check "n1 pings n3" wait_ping n1 "${addr[n3]}" 10
check "n2 pings n1" wait_ping n2 "${addr[n1]}" 10
echo "# tincan restart -> links back: $(ms "$t0") ms"
check "n1's controller logged the re-creation" grep -q "re-creating it" "$(ct_log n1)"

echo "# 2. ejabberd restarted"
ct_xmpp_stop
offline() { [ "$(ct_status "$1" xmpp)" != online ]; }
check "n1 notices XMPP is gone" wait_until 30 offline n1
check "n1 still pings n2 while XMPP is down" wait_ping n1 "${addr[n2]}" 5
check "n3 still pings n2 while XMPP is down" wait_ping n3 "${addr[n2]}" 5
ct_xmpp_restart
for h in "${nodes[@]}"; do check "$h back online" ct_wait_online "$h" 60; done
check "all pairs ping after the XMPP restart" wait_until 30 all_ping

echo "# 3. n3's path cut for 20 s"
netns_cut n3 pub
sleep 20
netns_restore n3
t0=$(date +%s%N)
check "n1 pings n3 within 60 s of the restore" wait_ping n1 "${addr[n3]}" 60
echo "# path restored -> n1-n3 link back: $(ms "$t0") ms"
check "all pairs ping after the cut" wait_until 60 all_ping

echo "# 4. n3's controller stops, then starts again"
kill -TERM "${CT_PID[n3]}"
check "n3's controller exits" wait_until 10 ct__gone "${CT_PID[n3]}"
mv "$(ct_log n3)" "$(ct_dir n3)/controller-before-stop.log"
one_link() { [ "$(ct_links_up "$1")" = 1 ]; }
t0=$(date +%s%N)
check "n1 removes its link to n3" wait_until 20 one_link n1
check "n2 removes its link to n3" wait_until 20 one_link n2
echo "# peer offline -> link removed: $(ms "$t0") ms"
ct_controller_start n3
check "n3 back online" ct_wait_online n3 30
check "all pairs ping with n3 back" wait_until 60 all_ping
ct_finish
