#!/usr/bin/env bash
# ipop-controller GroupVPN above the link budget (issue 5, test 4): six
# members with LinkBudget 2 form a ring (2 links each); every other pair
# gets an on-demand link when it exchanges traffic (tincan's
# unknown_destination events, mapped to members by the addresses they
# announce in presence); idle on-demand links are trimmed.
#
# The trigger is the first ARP request for a member without a link: tincan
# reports every ARP request from its TAP as unknown_destination with dst_ip4
# = the ARP target, and the kernel's ARP retries reach the member once the
# on-demand link is up.  The same over IPv6, once the ring is back: the
# first Neighbor Solicitation for a member's IPv6 address (from its caps)
# opens the link.
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
netns_init

netns_segment pub
ct_xmpp_start
nodes=(n1 n2 n3 n4 n5 n6)
ct_xmpp_users "${nodes[@]}"
ct_xmpp_friends lab "${nodes[@]}"
i=51
for h in "${nodes[@]}"; do
  ct_node "$h" "198.18.0.$i" group \
    '"Group": "lab", "LinkBudget": 2, "PlanInterval": 2, "OnDemandIdle": 10, "LinkSetupTimeout": 20'
  i=$((i + 1))
done
for h in "${nodes[@]}"; do ct_controller_start "$h"; done
for h in "${nodes[@]}"; do check "$h online" ct_wait_online "$h" 40; done
declare -A addr
for h in "${nodes[@]}"; do
  addr[$h]=$(ct_status "$h" ip4)
done
ring() { local h; for h in "${nodes[@]}"; do [ "$(ct_links_up "$h")" = 2 ] || return 1; done; }
check "every node has exactly 2 links (the ring)" wait_until 90 ring
for h in "${nodes[@]}"; do printf '%s:%s ' "$h" "$(ct_links_up "$h")"; done | sed 's/^/# links up: /'; echo
[ "$TC_FAILS" -eq 0 ] || { ct_finish || true; exit 1; }

t0=$(date +%s%N)
for a in "${nodes[@]}"; do
  for b in "${nodes[@]}"; do
    [ "$a" = "$b" ] && continue
    check "$a pings $b" wait_ping "$a" "${addr[$b]}" 30
  done
done
echo "# all 30 pairs reached (ring + on-demand): $(( ($(date +%s%N) - t0) / 1000000 )) ms"
for h in "${nodes[@]}"; do printf '%s:%s ' "$h" "$(ct_links_up "$h")"; done | sed 's/^/# links up: /'; echo
check "n1 opened on-demand links" grep -q "opening an on-demand link" "$(ct_log n1)"
check "idle on-demand links are trimmed back to the ring" wait_until 120 ring

declare -A addr6
for h in "${nodes[@]}"; do addr6[$h]=$(ct_status "$h" ip6); done
od0=$(grep -c "opening an on-demand link" "$(ct_log n1)")
for b in n2 n3 n4 n5 n6; do
  check "n1 pings6 $b (${addr6[$b]})" wait_ping n1 "${addr6[$b]}" 30
done
check "n1 opened on-demand links for IPv6 traffic" \
  test "$(grep -c "opening an on-demand link" "$(ct_log n1)")" -gt "$od0"
ct_finish
